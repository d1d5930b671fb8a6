//! NFS-Ganesha, as the agents see it: is the local ganesha.nfsd alive ([`pid`]), and its
//! `org.ganesha.nfsd.admin` interface on D-Bus ([`admin`]), the one place that maps
//! ganesha's answers to outcomes.

pub mod admin;
pub mod pid;

pub use admin::{GaneshaError, GraceState};
pub use pid::{Liveness, NotRunning};
