//! The `org.ganesha.nfsd.admin` interface of ganesha.nfsd on the D-Bus system bus (which
//! honours DBUS_SYSTEM_BUS_ADDRESS, so tests and sandboxes point it at a private bus).
//!
//! This is the one place that maps ganesha's answers to outcomes:
//! - `grace(s) -> (b status, s message)`: a transport success can still carry
//!   `status == false`, so the boolean is checked;
//! - failures come back as D-Bus errors named after the interface (`org.ganesha.nfsd.admin`),
//!   `ServiceUnknown` when no ganesha owns the name, `AccessDenied` for a non-root caller.
//!
//! Each call opens its own connection: one call per agent run, and a fresh connection per
//! retry survives a bus or ganesha restart in between.

use std::time::Duration;

use crate::dbus::{self, Bus, DbusError};

pub const BUS_NAME: &str = "org.ganesha.nfsd";
pub const ADMIN_PATH: &str = "/org/ganesha/nfsd/admin";
pub const ADMIN_IFACE: &str = "org.ganesha.nfsd.admin";

/// ganesha's recovery events (`sal_data.h`), the number before the ':' of a grace argument.
pub const EVENT_JUST_GRACE: u32 = 0;
pub const EVENT_TAKE_IP: u32 = 5;

/// What `get_grace` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GraceState {
    pub in_grace: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum GaneshaError {
    #[error("cannot reach the D-Bus system bus: {0}")]
    NoBus(String),
    #[error("ganesha.nfsd is not on the D-Bus system bus (nobody owns {BUS_NAME})")]
    NotOnBus,
    #[error("the D-Bus system bus denied the call to {BUS_NAME} ({0}); only root may call it")]
    AccessDenied(String),
    #[error("ganesha.nfsd refused {method}: {message}")]
    Refused { method: String, message: String },
    #[error("ganesha.nfsd did not start grace: {0}")]
    GraceNotStarted(String),
    #[error("ganesha.nfsd did not answer {method} within {} ms", .after.as_millis())]
    TimedOut { method: String, after: Duration },
    #[error("D-Bus call {method} to ganesha.nfsd failed: {detail}")]
    Transport { method: String, detail: String },
    #[error("unexpected answer from ganesha.nfsd to {method}: {detail}")]
    Unexpected { method: String, detail: String },
}

impl GaneshaError {
    /// Worth another attempt while time is left: ganesha may be starting or restarting, the
    /// bus may be busy. A refusal by the bus policy or a reply we cannot read will not change.
    pub fn is_retryable(&self) -> bool {
        !matches!(
            self,
            GaneshaError::AccessDenied(_) | GaneshaError::Unexpected { .. }
        )
    }
}

fn map_call_error(method: &str, err: &zbus::Error) -> GaneshaError {
    let name = dbus::error_name(err).unwrap_or_default();
    match name.as_str() {
        "org.freedesktop.DBus.Error.ServiceUnknown"
        | "org.freedesktop.DBus.Error.NameHasNoOwner" => GaneshaError::NotOnBus,
        "org.freedesktop.DBus.Error.AccessDenied" => {
            GaneshaError::AccessDenied(dbus::error_message(err))
        }
        "org.freedesktop.DBus.Error.NoReply" | "org.freedesktop.DBus.Error.Timeout" => {
            GaneshaError::Transport {
                method: method.to_string(),
                detail: dbus::error_message(err),
            }
        }
        n if n == ADMIN_IFACE => GaneshaError::Refused {
            method: method.to_string(),
            message: match err {
                zbus::Error::MethodError(_, Some(msg), _) => msg.clone(),
                _ => String::new(),
            },
        },
        _ => GaneshaError::Transport {
            method: method.to_string(),
            detail: dbus::error_message(err),
        },
    }
}

fn map_dbus_error(method: &str, err: DbusError) -> GaneshaError {
    match err {
        DbusError::TimedOut { after, .. } => GaneshaError::TimedOut {
            method: method.to_string(),
            after,
        },
        DbusError::Connect { source, .. } => GaneshaError::NoBus(source.to_string()),
        DbusError::Runtime(e) => GaneshaError::Transport {
            method: method.to_string(),
            detail: e.to_string(),
        },
    }
}

/// One admin method call within `limit`, connect included; the reply's body is handed to
/// `read` inside the runtime (the message borrows from it).
fn call<B, R>(
    method: &str,
    body: &B,
    limit: Duration,
    read: impl FnOnce(&zbus::message::Body) -> zbus::Result<R>,
) -> Result<R, GaneshaError>
where
    B: serde::Serialize + zbus::zvariant::DynamicType,
{
    let fut = async {
        let conn = dbus::connect(Bus::System, limit)
            .await
            .map_err(|e| map_dbus_error(method, e))?;
        let reply = conn
            .call_method(Some(BUS_NAME), ADMIN_PATH, Some(ADMIN_IFACE), method, body)
            .await
            .map_err(|e| map_call_error(method, &e))?;
        read(&reply.body()).map_err(|e| GaneshaError::Unexpected {
            method: method.to_string(),
            detail: e.to_string(),
        })
    };
    dbus::block_on(limit, method, fut).map_err(|e| map_dbus_error(method, e))?
}

/// Ask ganesha to enter grace with `arg` (`"[event:]key"`, see [`grace_arg`]); Ok carries
/// ganesha's message ("Started grace period").
pub fn grace(arg: &str, limit: Duration) -> Result<String, GaneshaError> {
    let (status, message) = call("grace", &(arg,), limit, |b| {
        b.deserialize::<(bool, String)>()
    })?;
    if status {
        Ok(message)
    } else {
        Err(GaneshaError::GraceNotStarted(message))
    }
}

/// Whether ganesha is in grace now. Also the cheapest proof that its admin interface answers.
pub fn get_grace(limit: Duration) -> Result<GraceState, GaneshaError> {
    let (in_grace, status, message) = call("get_grace", &(), limit, |b| {
        b.deserialize::<(bool, bool, String)>()
    })?;
    if status {
        Ok(GraceState { in_grace })
    } else {
        Err(GaneshaError::Refused {
            method: "get_grace".to_string(),
            message,
        })
    }
}

/// The grace argument for taking over a failed peer: `5:<ip>` (TAKE_IP: ganesha loads the
/// reclaim records kept under that address) when its address is known, else the bare key
/// (ganesha reads a string without ':' as TAKE_IP of that key, which is what glusterfs sent:
/// its recovery directories are named after nodes).
pub fn grace_arg(ip: Option<&str>, node: &str) -> String {
    match ip {
        Some(ip) => format!("{EVENT_TAKE_IP}:{ip}"),
        None => node.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grace_argument_forms() {
        assert_eq!(grace_arg(Some("10.0.0.2"), "node2"), "5:10.0.0.2");
        assert_eq!(grace_arg(None, "node2"), "node2");
    }

    #[test]
    fn no_bus_is_retryable_access_denied_is_not() {
        assert!(GaneshaError::NoBus("x".into()).is_retryable());
        assert!(GaneshaError::NotOnBus.is_retryable());
        assert!(!GaneshaError::AccessDenied("x".into()).is_retryable());
    }
}
