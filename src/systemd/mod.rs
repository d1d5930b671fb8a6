//! The systemd1 D-Bus client: hand-written zbus proxies ([`proxies`]) behind a sync facade
//! ([`Systemd`]), one `block_on` per operation. The facade reports what systemd said;
//! [`outcome`] is the one place that turns those answers into OCF codes and reasons.
//!
//! Which manager: the system manager on the system bus by default; with
//! `OCFBOX_SYSTEMD_MANAGER=user` the user manager on the session bus
//! (DBUS_SESSION_BUS_ADDRESS), whose runtime drop-ins live under
//! `$XDG_RUNTIME_DIR/systemd/user`. Tests use the latter against a real `systemd --user`.

pub mod dropin;
pub mod names;
pub mod outcome;
pub mod proxies;

use std::future::poll_fn;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::{Duration, Instant};

use futures_core::Stream;
use zbus::proxy::CacheProperties;
use zbus::{Connection, OwnedObjectPath};

use crate::dbus::{self, Bus, DbusError};
use crate::ocf::{OcfEnv, OcfError, OcfResult};
pub use names::{InvalidUnitName, UnitName};
use proxies::{ManagerProxy, ServiceProxy, UnitProxy};

/// The environment variable that selects the manager.
pub const MANAGER_ENV: &str = "OCFBOX_SYSTEMD_MANAGER";

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

fn call_err(call: &'static str, unit: &UnitName) -> impl FnOnce(zbus::Error) -> SystemdError {
    let unit = unit.to_string();
    move |source| SystemdError::Call { call, unit, source }
}

/// A unit as systemd sees it right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitStatus {
    pub unit: UnitName,
    /// loaded, not-found, masked, bad-setting, error, ...
    pub load_state: String,
    /// active, reloading, inactive, failed, activating, deactivating, maintenance, ...
    pub active_state: String,
    pub sub_state: String,
    pub need_daemon_reload: bool,
    /// Why it is not running, read only when it is not: the load error, the service's
    /// Result and exit status, a failed start condition.
    pub detail: Option<String>,
}

impl UnitStatus {
    pub fn exists(&self) -> bool {
        self.load_state != "not-found"
    }

    /// `active (running)`, `failed (result exit-code, main process status 3)`,
    /// `inactive (dead)`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.sub_state != self.active_state && !self.sub_state.is_empty() {
            parts.push(self.sub_state.as_str());
        }
        if let Some(d) = &self.detail {
            parts.push(d);
        }
        if parts.is_empty() {
            self.active_state.clone()
        } else {
            format!("{} ({})", self.active_state, parts.join("; "))
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    Start,
    Stop,
    Reload,
}

impl JobKind {
    pub fn name(self) -> &'static str {
        match self {
            JobKind::Start => "start",
            JobKind::Stop => "stop",
            JobKind::Reload => "reload",
        }
    }
}

/// How a job ended, from its JobRemoved signal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobEnd {
    /// The `result` argument of JobRemoved: done, canceled, timeout, failed, dependency,
    /// skipped, ...
    Removed(String),
    /// The job was gone when the agent got back on the bus after a disconnect: only the
    /// unit's state can tell how it went.
    Vanished,
    /// The operation's budget ran out before the job finished (it is still queued/running).
    StillRunning,
}

#[derive(Debug, Clone)]
pub struct JobReport {
    pub kind: JobKind,
    pub end: JobEnd,
    /// The unit re-read after the job: `done` does not prove a start left the unit running.
    pub after: UnitStatus,
}

/// The sync facade: every method is one bounded `block_on` on a fresh connection.
#[derive(Debug, Clone)]
pub struct Systemd {
    kind: ManagerKind,
    runtime_unit_dir: PathBuf,
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
        })
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

    /// The status of the first of `candidates` that exists (LoadUnit, not GetUnit, which
    /// fails for units not loaded yet), else of the first candidate. A disconnect or NoReply
    /// (systemd re-executing) is retried on a new connection while `limit` lasts.
    pub fn inspect(
        &self,
        candidates: &[UnitName],
        limit: Duration,
    ) -> Result<UnitStatus, SystemdError> {
        let until = Instant::now() + limit;
        let bus = self.bus();
        let what = "reading the unit's state from systemd";
        dbus::block_on(limit, what, async move {
            let mut pause = Duration::from_millis(50);
            loop {
                let attempt = async {
                    let (conn, mgr) = open(bus, remaining(until)).await?;
                    let mut first = None;
                    for unit in candidates {
                        let status = read_status(&conn, &mgr, unit).await?;
                        if status.exists() {
                            return Ok(status);
                        }
                        first.get_or_insert(status);
                    }
                    first.ok_or(SystemdError::NoUnit)
                };
                match attempt.await {
                    Err(e) if e.is_transient() && remaining(until) > pause => {
                        log::info!("systemd did not answer ({e}); trying again");
                        dbus::sleep(pause).await;
                        pause = (pause * 2).min(Duration::from_millis(500));
                    }
                    other => return other,
                }
            }
        })?
    }

    /// daemon-reload, so changed drop-ins take effect. Returns when systemd finished it.
    pub fn daemon_reload(&self, limit: Duration) -> Result<(), SystemdError> {
        let bus = self.bus();
        dbus::block_on(limit, "systemd daemon-reload", async move {
            let (_conn, mgr) = open(bus, limit).await?;
            mgr.reload().await.map_err(|source| SystemdError::Call {
                call: "Reload",
                unit: "the manager".into(),
                source,
            })
        })?
    }

    /// Queue a start/stop/reload job (mode `replace`) and wait for its own JobRemoved signal,
    /// then re-read the unit. The match rule and Subscribe() go in BEFORE the job is queued,
    /// so a job that ends before the method reply is not missed: its signal waits in the
    /// stream, and the loop matches signals by job path.
    pub fn run_job(
        &self,
        kind: JobKind,
        unit: &UnitName,
        limit: Duration,
    ) -> Result<JobReport, SystemdError> {
        let started = Instant::now();
        // Keep a little time after the wait to read the unit for the reason.
        let read_reserve = (limit / 10).min(Duration::from_millis(500));
        let wait_until = started + limit.saturating_sub(read_reserve);
        let bus = self.bus();
        let what = format!("systemd {} job of {unit}", kind.name());
        dbus::block_on(limit, &what, async move {
            let (conn, mgr) = open(bus, limit).await?;
            let mut removed = mgr
                .receive_job_removed()
                .await
                .map_err(call_err("AddMatch(JobRemoved)", unit))?;
            mgr.subscribe().await.map_err(call_err("Subscribe", unit))?;
            let queue = match kind {
                JobKind::Start => mgr.start_unit(unit.as_str(), "replace").await,
                JobKind::Stop => mgr.stop_unit(unit.as_str(), "replace").await,
                JobKind::Reload => mgr.reload_unit(unit.as_str(), "replace").await,
            };
            let job = queue.map_err(call_err(
                match kind {
                    JobKind::Start => "StartUnit",
                    JobKind::Stop => "StopUnit",
                    JobKind::Reload => "ReloadUnit",
                },
                unit,
            ))?;
            log::debug!("{} job {} queued for {unit}", kind.name(), job.as_str());
            let end = wait_for_job(&mut removed, &job, wait_until).await;
            let (conn, mgr, end) = match end {
                Some(end) => (conn, mgr, end),
                // The stream ended: the connection broke. The job outlives us; find out on a
                // new connection whether it is still there.
                None => {
                    let (conn, mgr) = open(bus, remaining(wait_until)).await?;
                    let end = match unit_job(&conn, &mgr, unit).await? {
                        Some(path) if path == job => {
                            let mut removed = mgr
                                .receive_job_removed()
                                .await
                                .map_err(call_err("AddMatch(JobRemoved)", unit))?;
                            mgr.subscribe().await.map_err(call_err("Subscribe", unit))?;
                            // Checked again now that the match is in, so no signal is lost.
                            match unit_job(&conn, &mgr, unit).await? {
                                Some(p) if p == job => wait_for_job(&mut removed, &job, wait_until)
                                    .await
                                    .unwrap_or(JobEnd::Vanished),
                                _ => JobEnd::Vanished,
                            }
                        }
                        _ => JobEnd::Vanished,
                    };
                    (conn, mgr, end)
                }
            };
            let after = read_status_after(&conn, &mgr, unit, Some(kind)).await?;
            Ok(JobReport { kind, end, after })
        })?
    }

    /// Wait while the unit is activating/deactivating (or reloading with a job queued),
    /// woken by its PropertiesChanged signals and re-reading at least every second, until
    /// it settles or `limit` passes; returns the last status read.
    pub fn wait_settled(
        &self,
        unit: &UnitName,
        limit: Duration,
    ) -> Result<UnitStatus, SystemdError> {
        let until =
            Instant::now() + limit.saturating_sub((limit / 10).min(Duration::from_millis(300)));
        let bus = self.bus();
        dbus::block_on(limit, "waiting for the unit to settle", async move {
            let (conn, mgr) = open(bus, limit).await?;
            let path = mgr
                .load_unit(unit.as_str())
                .await
                .map_err(call_err("LoadUnit", unit))?;
            let props = zbus::fdo::PropertiesProxy::builder(&conn)
                .destination("org.freedesktop.systemd1")
                .path(path)
                .build()
                .await
                .map_err(call_err("Properties proxy", unit))?;
            let mut changes = props
                .receive_properties_changed()
                .await
                .map_err(call_err("AddMatch(PropertiesChanged)", unit))?;
            mgr.subscribe().await.map_err(call_err("Subscribe", unit))?;
            loop {
                let status = read_status(&conn, &mgr, unit).await?;
                if !outcome::is_transitioning(&status) || remaining(until).is_zero() {
                    return Ok(status);
                }
                let nap = remaining(until).min(Duration::from_secs(1));
                let rt = zruntime::SharedRuntime::current().map_err(DbusError::Runtime)?;
                // Either a change signal or the nap ends the wait; both lead to a re-read.
                let _ = rt.timeout(nap, next(&mut changes)).await;
            }
        })?
    }
}

fn remaining(until: Instant) -> Duration {
    until.saturating_duration_since(Instant::now())
}

async fn next<S: Stream + Unpin>(s: &mut S) -> Option<S::Item> {
    poll_fn(|cx| Pin::new(&mut *s).poll_next(cx)).await
}

async fn open(
    bus: Bus,
    method_timeout: Duration,
) -> Result<(Connection, ManagerProxy<'static>), SystemdError> {
    let conn = dbus::connect(bus, method_timeout).await?;
    let mgr = ManagerProxy::new(&conn)
        .await
        .map_err(|source| SystemdError::Call {
            call: "Manager proxy",
            unit: "the manager".into(),
            source,
        })?;
    Ok((conn, mgr))
}

/// Wait for the JobRemoved of `job` until `until`. None when the signal stream ended.
async fn wait_for_job<S>(removed: &mut S, job: &OwnedObjectPath, until: Instant) -> Option<JobEnd>
where
    S: Stream<Item = proxies::JobRemoved> + Unpin,
{
    let rt = zruntime::SharedRuntime::current().ok()?;
    loop {
        match rt.timeout_at(until, next(removed)).await {
            Err(_) => return Some(JobEnd::StillRunning),
            Ok(None) => return None,
            Ok(Some(signal)) => match signal.args() {
                Ok(args) if args.job == *job => return Some(JobEnd::Removed(args.result)),
                // Another client's job, or a signal we cannot read: not ours.
                _ => continue,
            },
        }
    }
}

async fn unit_proxy<'c>(
    conn: &'c Connection,
    path: OwnedObjectPath,
    unit: &UnitName,
) -> Result<UnitProxy<'c>, SystemdError> {
    UnitProxy::builder(conn)
        .path(path)
        .cache_properties(CacheProperties::No)
        .build()
        .await
        .map_err(call_err("Unit proxy", unit))
}

/// The unit's pending job path, if it has one.
async fn unit_job(
    conn: &Connection,
    mgr: &ManagerProxy<'_>,
    unit: &UnitName,
) -> Result<Option<OwnedObjectPath>, SystemdError> {
    let path = mgr
        .load_unit(unit.as_str())
        .await
        .map_err(call_err("LoadUnit", unit))?;
    let proxy = unit_proxy(conn, path, unit).await?;
    let (id, job) = proxy.job().await.map_err(call_err("Get(Job)", unit))?;
    Ok((id != 0).then_some(job))
}

async fn read_status(
    conn: &Connection,
    mgr: &ManagerProxy<'_>,
    unit: &UnitName,
) -> Result<UnitStatus, SystemdError> {
    read_status_after(conn, mgr, unit, None).await
}

/// The unit's state; `after_job` names the job that just ended (a start job's outcome can
/// be explained by its start conditions, which are only meaningful right after it).
async fn read_status_after(
    conn: &Connection,
    mgr: &ManagerProxy<'_>,
    unit: &UnitName,
    after_job: Option<JobKind>,
) -> Result<UnitStatus, SystemdError> {
    let path = mgr
        .load_unit(unit.as_str())
        .await
        .map_err(call_err("LoadUnit", unit))?;
    let proxy = unit_proxy(conn, path.clone(), unit).await?;
    let load_state = proxy
        .load_state()
        .await
        .map_err(call_err("Get(LoadState)", unit))?;
    let active_state = proxy
        .active_state()
        .await
        .map_err(call_err("Get(ActiveState)", unit))?;
    let sub_state = proxy
        .sub_state()
        .await
        .map_err(call_err("Get(SubState)", unit))?;
    let need_daemon_reload = proxy
        .need_daemon_reload()
        .await
        .map_err(call_err("Get(NeedDaemonReload)", unit))?;
    let mut status = UnitStatus {
        unit: unit.clone(),
        load_state,
        active_state,
        sub_state,
        need_daemon_reload,
        detail: None,
    };
    if !outcome::is_running(&status) {
        // Best effort: the reason is nicer with it, the verdict does not depend on it.
        status.detail = why_not_running(conn, &proxy, path, &status, after_job).await;
    }
    Ok(status)
}

async fn why_not_running(
    conn: &Connection,
    unit: &UnitProxy<'_>,
    path: OwnedObjectPath,
    status: &UnitStatus,
    after_job: Option<JobKind>,
) -> Option<String> {
    if status.load_state != "loaded" {
        let (name, message) = unit.load_error().await.ok()?;
        let text = if message.is_empty() { name } else { message };
        return (!text.is_empty()).then_some(text);
    }
    let mut parts = Vec::new();
    // ConditionResult is also false for a unit never started: only a start that just
    // ended makes it the reason.
    if after_job == Some(JobKind::Start) && unit.condition_result().await == Ok(false) {
        parts.push("a start condition (Condition*=) was not met".to_string());
    }
    if status.unit.is_service() {
        if let Ok(service) = ServiceProxy::builder(conn)
            .path(path)
            .cache_properties(CacheProperties::No)
            .build()
            .await
        {
            if let Ok(result) = service.result().await {
                if result != "success" {
                    parts.push(format!("result {result}"));
                    if let Ok(code) = service.exec_main_status().await {
                        if code != 0 {
                            parts.push(format!("main process status {code}"));
                        }
                    }
                }
            }
        }
    }
    (!parts.is_empty()).then(|| parts.join(", "))
}
