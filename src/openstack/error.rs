//! The one error of the OpenStack client. Each variant names the request that failed
//! (method and URL without query or credentials) and why; [`OpenStackError::ocf_code`] is
//! the single place that maps it to an OCF exit code. No variant ever holds a secret: the
//! texts are built from statuses, URLs and the peer's own error message, scrubbed.

use crate::ocf::{OcfCode, OcfError};

/// What kind of failure, for callers that react to one (409 while a rebuild runs, the 400
/// of Nova's force-up guard, 404 of a vanished server).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Our configuration is wrong or incomplete (parameters, clouds.yaml, password_file).
    Config,
    /// The ca_file is missing or unusable on this node.
    CaFile,
    /// 401: wrong credentials, or a token Keystone no longer accepts.
    Auth,
    /// 403: the credentials lack the admin role.
    Forbidden,
    NotFound,
    Conflict,
    BadRequest,
    /// 406: the microversion is outside what this Nova serves.
    NotAcceptable,
    /// 5xx.
    Server,
    /// Any other unexpected status.
    Status,
    /// The deadline passed before an answer came.
    Timeout,
    /// No TCP connection, or it broke mid-answer.
    Connect,
    Tls,
    /// The answer was not what the API defines (bad JSON, missing fields or header).
    Malformed,
    /// The catalog has no endpoint for the service at the configured interface/region.
    NoEndpoint,
    /// This cloud's API cannot do what was asked (e.g. force-down below 2.11).
    Unsupported,
}

#[derive(Debug, thiserror::Error)]
pub enum OpenStackError {
    #[error("{0}")]
    Config(String),
    /// The peer answered with an error status. `detail` is its own message, if any.
    #[error("{request} failed: HTTP {status}{}", detail_suffix(.detail))]
    Status {
        request: String,
        status: u16,
        detail: String,
    },
    /// The operation's deadline passed first.
    #[error("{request} failed: no answer within the operation's time budget ({detail})")]
    Timeout { request: String, detail: String },
    /// The ca_file cannot be used on this node.
    #[error("{0}")]
    CaFile(String),
    #[error("{request} failed: cannot connect: {detail}")]
    Connect { request: String, detail: String },
    #[error("{request} failed: TLS: {detail}")]
    Tls { request: String, detail: String },
    #[error("{request}: malformed answer: {detail}")]
    Malformed { request: String, detail: String },
    #[error("{0}")]
    NoEndpoint(String),
    #[error("{0}")]
    Unsupported(String),
}

fn detail_suffix(detail: &str) -> String {
    if detail.is_empty() {
        String::new()
    } else {
        format!(": {detail}")
    }
}

impl OpenStackError {
    pub fn config(msg: impl Into<String>) -> Self {
        OpenStackError::Config(msg.into())
    }

    pub fn kind(&self) -> ErrorKind {
        match self {
            OpenStackError::Config(_) => ErrorKind::Config,
            OpenStackError::Status { status, .. } => match status {
                400 => ErrorKind::BadRequest,
                401 => ErrorKind::Auth,
                403 => ErrorKind::Forbidden,
                404 => ErrorKind::NotFound,
                406 => ErrorKind::NotAcceptable,
                409 => ErrorKind::Conflict,
                500..=599 => ErrorKind::Server,
                _ => ErrorKind::Status,
            },
            OpenStackError::Timeout { .. } => ErrorKind::Timeout,
            OpenStackError::CaFile(_) => ErrorKind::CaFile,
            OpenStackError::Connect { .. } => ErrorKind::Connect,
            OpenStackError::Tls { .. } => ErrorKind::Tls,
            OpenStackError::Malformed { .. } => ErrorKind::Malformed,
            OpenStackError::NoEndpoint(_) => ErrorKind::NoEndpoint,
            OpenStackError::Unsupported(_) => ErrorKind::Unsupported,
        }
    }

    /// The HTTP status, when the peer answered with one.
    pub fn status(&self) -> Option<u16> {
        match self {
            OpenStackError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The one mapping to OCF codes. Configuration that can never work is
    /// OCF_ERR_CONFIGURED (Pacemaker stops trying anywhere); missing privileges
    /// OCF_ERR_PERM; everything the cloud may answer differently next time (including a
    /// 401: Keystone may be mid-restart, the password mid-rotation) is OCF_ERR_GENERIC.
    /// An agent's validate-all may treat [`ErrorKind::Auth`] as configuration itself.
    pub fn ocf_code(&self) -> OcfCode {
        match self.kind() {
            ErrorKind::Config | ErrorKind::NoEndpoint => OcfCode::ErrConfigured,
            ErrorKind::Forbidden => OcfCode::ErrPerm,
            // Another node may have the file.
            ErrorKind::CaFile => OcfCode::ErrInstalled,
            _ => OcfCode::ErrGeneric,
        }
    }
}

impl From<OpenStackError> for OcfError {
    fn from(e: OpenStackError) -> Self {
        let msg = e.to_string();
        match e.ocf_code() {
            OcfCode::ErrConfigured => OcfError::Configured(msg),
            OcfCode::ErrPerm => OcfError::Perm(msg),
            OcfCode::ErrInstalled => OcfError::NotInstalled(msg),
            _ => OcfError::Generic(msg),
        }
    }
}

pub type Result<T, E = OpenStackError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        let s = |status| OpenStackError::Status {
            request: "GET https://nova/os-services".into(),
            status,
            detail: String::new(),
        };
        assert_eq!(s(409).kind(), ErrorKind::Conflict);
        assert_eq!(s(503).kind(), ErrorKind::Server);
        assert_eq!(s(401).ocf_code(), OcfCode::ErrGeneric);
        assert_eq!(s(403).ocf_code(), OcfCode::ErrPerm);
        assert_eq!(
            OpenStackError::config("x").ocf_code(),
            OcfCode::ErrConfigured
        );
        assert_eq!(
            s(500).to_string(),
            "GET https://nova/os-services failed: HTTP 500"
        );
        let e: OcfError = s(403).into();
        assert_eq!(e.code(), OcfCode::ErrPerm);
    }
}
