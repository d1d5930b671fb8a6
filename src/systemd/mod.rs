//! The systemd1 D-Bus client: hand-written zbus proxies ([`proxies`]) behind a sync facade
//! ([`Systemd`], here), one `block_on` per operation: unit status in `unit`, jobs and the
//! waits on them in `job`. The facade reports what systemd said; [`outcome`] is the one
//! place that turns those answers into OCF codes and reasons.
//!
//! Which manager: the system manager on the system bus by default; with
//! `OCFBOX_SYSTEMD_MANAGER=user` the user manager on the session bus
//! (DBUS_SESSION_BUS_ADDRESS), whose runtime drop-ins live under
//! `$XDG_RUNTIME_DIR/systemd/user`. Tests use the latter against a real `systemd --user`.

pub mod dropin;
mod job;
pub mod names;
pub mod outcome;
pub mod proxies;
pub mod resource;
mod unit;

use std::cell::RefCell;
use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use zbus::Connection;

use crate::dbus::{self, Bus, DbusError};
use crate::ocf::{Backoff, OcfEnv, OcfError, OcfResult};
pub use job::{JobEnd, JobKind, JobReport};
pub use names::{InvalidUnitName, UnitName};
use proxies::ManagerProxy;
use unit::read_status;
pub use unit::{ActiveState, Explain, ServiceFacts, UnitStatus};

/// The environment variable that selects the manager.
pub const MANAGER_ENV: &str = "OCFBOX_SYSTEMD_MANAGER";

/// How long a bus that cannot be connected to at all is retried.
const CONNECT_RETRY: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManagerKind {
    System,
    User,
}

/// What went wrong talking to systemd (not what it means for the resource: see [`outcome`]).
#[derive(Debug, thiserror::Error)]
pub enum SystemdError {
    #[error(transparent)]
    Bus(#[from] DbusError),
    #[error("systemd {call} of {unit} failed: {}", dbus::error_message(.source))]
    Call {
        call: &'static str,
        unit: String,
        source: zbus::Error,
    },
    #[error("no unit name to look up")]
    NoUnit,
}

impl SystemdError {
    /// The D-Bus error name systemd answered with, if it answered with one.
    pub fn error_name(&self) -> Option<String> {
        match self {
            SystemdError::Call { source, .. } => dbus::error_name(source),
            SystemdError::Bus(_) | SystemdError::NoUnit => None,
        }
    }

    /// The bus or systemd went away (disconnect, NoReply during a re-exec): worth retrying.
    pub fn is_transient(&self) -> bool {
        match self {
            SystemdError::Call { source, .. } => dbus::is_transient(source),
            SystemdError::Bus(DbusError::Connect { .. }) => true,
            SystemdError::Bus(_) | SystemdError::NoUnit => false,
        }
    }
}

pub(crate) fn call_err(
    call: &'static str,
    unit: &UnitName,
) -> impl FnOnce(zbus::Error) -> SystemdError {
    let unit = unit.to_string();
    move |source| SystemdError::Call { call, unit, source }
}

/// A connection to the manager. With [`Systemd::keep_connection`] it serves every operation
/// of the invocation (each still one `block_on`; between them zruntime's helper thread
/// keeps it alive); else each operation opens and closes its own, inside its `block_on`,
/// so a one-call action (a monitor) never starts that thread.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub(crate) conn: Connection,
    pub(crate) mgr: ManagerProxy<'static>,
}

/// The sync facade: every method is one bounded `block_on`.
#[derive(Debug)]
pub struct Systemd {
    kind: ManagerKind,
    runtime_unit_dir: PathBuf,
    session: RefCell<Option<Session>>,
    keep: bool,
}

impl Systemd {
    /// The manager the environment selects (see the module documentation).
    pub fn from_env(env: &OcfEnv) -> OcfResult<Self> {
        let kind = match env.var(MANAGER_ENV).map(str::trim) {
            None | Some("system") => ManagerKind::System,
            Some("user") => ManagerKind::User,
            Some(other) => {
                return Err(OcfError::Args(format!(
                    "{MANAGER_ENV} must be 'system' or 'user', not '{}'",
                    crate::ocf::params::printable(other)
                )))
            }
        };
        let runtime_unit_dir = match kind {
            ManagerKind::System => PathBuf::from("/run/systemd/system"),
            ManagerKind::User => match env.var("XDG_RUNTIME_DIR") {
                Some(dir) if dir.starts_with('/') => PathBuf::from(dir).join("systemd/user"),
                _ => {
                    return Err(OcfError::Args(format!(
                        "{MANAGER_ENV}=user needs XDG_RUNTIME_DIR (an absolute path) for the runtime drop-ins"
                    )))
                }
            },
        };
        Ok(Systemd {
            kind,
            runtime_unit_dir,
            session: RefCell::new(None),
            keep: false,
        })
    }

    /// Use one connection for all operations (worth it for actions that make several).
    pub fn keep_connection(mut self) -> Self {
        self.keep = true;
        self
    }

    /// One operation: a bounded `block_on` that leaves no connection behind unless asked to.
    pub(crate) fn call<T>(
        &self,
        limit: Duration,
        what: &str,
        op: impl Future<Output = Result<T, SystemdError>>,
    ) -> Result<T, SystemdError> {
        // zbus's futures make this one ~26 KiB: on the heap it is written once, where on
        // the stack it would be moved (copied) into fresh pages several times.
        let op = Box::pin(op);
        dbus::block_on(limit, what, async {
            let result = op.await;
            if !self.keep {
                self.forget_session();
            }
            result
        })?
    }

    pub fn kind(&self) -> ManagerKind {
        self.kind
    }

    /// Where runtime drop-ins go: /run/systemd/system, or $XDG_RUNTIME_DIR/systemd/user.
    pub fn runtime_unit_dir(&self) -> &std::path::Path {
        &self.runtime_unit_dir
    }

    fn bus(&self) -> Bus {
        match self.kind {
            ManagerKind::System => Bus::System,
            ManagerKind::User => Bus::Session,
        }
    }

    /// The open connection, or a new one. (Runs inside a `block_on`.)
    pub(crate) async fn session(&self, method_timeout: Duration) -> Result<Session, SystemdError> {
        if let Some(s) = self.session.borrow().as_ref() {
            return Ok(s.clone());
        }
        let conn = dbus::connect(self.bus(), method_timeout).await?;
        let mgr = ManagerProxy::new(&conn)
            .await
            .map_err(|source| SystemdError::Call {
                call: "Manager proxy",
                unit: "the manager".into(),
                source,
            })?;
        let s = Session { conn, mgr };
        *self.session.borrow_mut() = Some(s.clone());
        Ok(s)
    }

    /// After a transient failure the connection may be dead: the next call makes a new one.
    pub(crate) fn forget_session(&self) {
        self.session.borrow_mut().take();
    }

    /// The status of the first of `candidates` that exists (LoadUnit, not GetUnit, which
    /// fails for units not loaded yet), else of the first candidate. A disconnect or NoReply
    /// (systemd re-executing) is retried on a new connection while `limit` lasts.
    pub fn inspect(
        &self,
        candidates: &[UnitName],
        explain: Explain,
        limit: Duration,
    ) -> Result<UnitStatus, SystemdError> {
        let started = Instant::now();
        let until = started + limit;
        let what = "reading the unit's state from systemd";
        self.call(limit, what, async move {
            let mut backoff =
                Backoff::doubling(Duration::from_millis(50), Duration::from_millis(500));
            loop {
                let attempt = async {
                    let s = self.session(remaining(until)).await?;
                    let mut first = None;
                    for unit in candidates {
                        let status = read_status(&s, unit, explain).await?;
                        if status.exists() {
                            return Ok(status);
                        }
                        first.get_or_insert(status);
                    }
                    first.ok_or(SystemdError::NoUnit)
                };
                match attempt.await {
                    // No bus at all is only worth a short wait (dbus-daemon restarting):
                    // on a node without it, the answer will not change.
                    Err(e @ SystemdError::Bus(DbusError::Connect { .. }))
                        if started.elapsed() >= CONNECT_RETRY =>
                    {
                        return Err(e)
                    }
                    Err(e) if e.is_transient() && remaining(until) > backoff.pause() => {
                        log::info!("systemd did not answer ({e}); trying again");
                        self.forget_session();
                        dbus::sleep(backoff.advance()).await;
                    }
                    other => return other,
                }
            }
        })
    }

    /// daemon-reload, so changed drop-ins take effect. Returns when systemd finished it.
    pub fn daemon_reload(&self, limit: Duration) -> Result<(), SystemdError> {
        self.call(limit, "systemd daemon-reload", async move {
            let s = self.session(limit).await?;
            s.mgr.reload().await.map_err(|source| SystemdError::Call {
                call: "Reload",
                unit: "the manager".into(),
                source,
            })
        })
    }
}

pub(crate) fn remaining(until: Instant) -> Duration {
    until.saturating_duration_since(Instant::now())
}
