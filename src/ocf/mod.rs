//! The OCF runtime every agent leans on.

pub mod action;
pub mod agent;
pub mod code;
pub mod deadline;
pub mod env;
pub mod error;
pub mod file;
pub mod log;
pub mod metadata;
pub mod notify;
pub mod panic;
pub mod params;
pub mod process;
pub mod state;

pub use action::Actions;
pub use agent::{Agent, Context, OcfAgent};
pub use code::OcfCode;
pub use deadline::{Backoff, Deadline};
pub use env::OcfEnv;
pub use error::{OcfError, OcfResult};
pub use params::{ParamSpec, ParamType, Params};
pub use state::StateFile;
