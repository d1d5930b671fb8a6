//! ocfbox: OCF resource agents for Pacemaker in one multi-call binary.
//!
//! `ocf` is the runtime every resource agent leans on (`fence` and `alert` those of the two
//! other kinds of program); `agents` holds one file per program; the peer
//! clients (`pacemaker`, and those the agents add) each keep the one place that maps their
//! peer's answers to OCF codes.

pub mod agents;
pub mod alert;
pub mod cli;
pub mod dbus;
pub mod fence;
pub mod ganesha;
pub mod health;
pub mod http;
pub mod instance_ha;
pub mod manpage;
pub mod ocf;
pub mod openstack;
pub mod pacemaker;
pub mod systemd;
