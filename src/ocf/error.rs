//! The error every action returns: each variant knows the OCF code it maps to, and its
//! message becomes the `ocf-exit-reason:` line.

use super::code::OcfCode;

#[derive(Debug, thiserror::Error)]
pub enum OcfError {
    /// A parameter is inherently wrong (OCF_ERR_CONFIGURED): Pacemaker stops trying anywhere.
    #[error("{0}")]
    Configured(String),
    /// A parameter is invalid in this node's context (OCF_ERR_ARGS).
    #[error("{0}")]
    Args(String),
    /// Required software or unit is missing on this node (OCF_ERR_INSTALLED).
    #[error("{0}")]
    NotInstalled(String),
    /// Insufficient privilege (OCF_ERR_PERM).
    #[error("{0}")]
    Perm(String),
    /// The action is not supported by this agent (OCF_ERR_UNIMPLEMENTED).
    #[error("{0}")]
    Unimplemented(String),
    /// The resource is cleanly stopped (OCF_NOT_RUNNING); only meaningful for monitor.
    #[error("{0}")]
    NotRunning(String),
    /// Anything else that went wrong (OCF_ERR_GENERIC).
    #[error("{0}")]
    Generic(String),
    /// A wait ran out of the operation's time budget: returning now, with a reason, beats
    /// being SIGKILLed by pacemaker-execd a moment later.
    #[error("{what} did not complete within the operation's time budget ({budget_ms} ms of CRM_meta_timeout)")]
    Timeout { what: String, budget_ms: u128 },
}

impl OcfError {
    pub fn code(&self) -> OcfCode {
        match self {
            OcfError::Configured(_) => OcfCode::ErrConfigured,
            OcfError::Args(_) => OcfCode::ErrArgs,
            OcfError::NotInstalled(_) => OcfCode::ErrInstalled,
            OcfError::Perm(_) => OcfCode::ErrPerm,
            OcfError::Unimplemented(_) => OcfCode::ErrUnimplemented,
            OcfError::NotRunning(_) => OcfCode::NotRunning,
            OcfError::Generic(_) | OcfError::Timeout { .. } => OcfCode::ErrGeneric,
        }
    }

    pub fn configured(msg: impl Into<String>) -> Self {
        OcfError::Configured(msg.into())
    }

    pub fn generic(msg: impl Into<String>) -> Self {
        OcfError::Generic(msg.into())
    }
}

pub type OcfResult<T> = Result<T, OcfError>;
