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

use std::cell::RefCell;
use std::future::{poll_fn, Future};
use std::path::PathBuf;
use std::pin::{pin, Pin};
use std::task::Poll;
use std::time::{Duration, Instant};

use futures_core::Stream;
use zbus::proxy::CacheProperties;
use zbus::{Connection, MatchRule, MessageStream, OwnedObjectPath};

use crate::dbus::{self, Bus, DbusError};
use crate::ocf::{Backoff, OcfEnv, OcfError, OcfResult};
pub use names::{InvalidUnitName, UnitName};
use proxies::{ManagerProxy, ServiceProxy, UnitProxy};

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

    /// The bus socket does not exist.
    pub fn socket_missing(&self) -> bool {
        matches!(self, SystemdError::Bus(e) if e.socket_missing())
    }

    /// The bus answered that no one owns systemd's name.
    pub fn no_owner(&self) -> bool {
        match self {
            SystemdError::Call { source, .. } => matches!(
                dbus::error_name(source).as_deref(),
                Some("org.freedesktop.DBus.Error.ServiceUnknown")
                    | Some("org.freedesktop.DBus.Error.NameHasNoOwner")
            ),
            _ => false,
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

/// How much to find out about a unit that is not running (each costs round trips, so
/// only the paths that report a failure ask).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Explain {
    /// Load errors only (they decide what a start may do).
    No,
    /// Also the service's Result and exit status.
    IfNotRunning,
    /// Also whether a start condition failed: only meaningful right after a start job.
    AfterStart,
}

/// A connection to the manager. With [`Systemd::keep_connection`] it serves every operation
/// of the invocation (each still one `block_on`; between them zruntime's helper thread
/// keeps it alive); else each operation opens and closes its own, inside its `block_on`,
/// so a one-call action (a monitor) never starts that thread.
#[derive(Debug, Clone)]
struct Session {
    conn: Connection,
    mgr: ManagerProxy<'static>,
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
    fn call<T>(
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
    async fn session(&self, method_timeout: Duration) -> Result<Session, SystemdError> {
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

    /// Is there a manager that may be back on the bus in a moment (one re-executing drops
    /// its name for a while)? The system manager is PID 1; a user manager is a `systemd
    /// --user` of this user.
    fn manager_alive(&self) -> bool {
        let comm = |pid: &str| std::fs::read_to_string(format!("/proc/{pid}/comm")).ok();
        match self.kind {
            ManagerKind::System => comm("1").is_some_and(|c| c.trim_end() == "systemd"),
            ManagerKind::User => {
                let me = nix::unistd::geteuid();
                let Ok(dir) = std::fs::read_dir("/proc") else {
                    return true;
                };
                dir.flatten().any(|e| {
                    use std::os::unix::fs::MetadataExt;
                    let name = e.file_name();
                    let Some(pid) = name
                        .to_str()
                        .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
                    else {
                        return false;
                    };
                    comm(pid).is_some_and(|c| c.trim_end() == "systemd")
                        && e.metadata().is_ok_and(|m| m.uid() == me.as_raw())
                        && crate::ocf::file::read_head(
                            std::path::Path::new(&format!("/proc/{pid}/cmdline")),
                            4096,
                        )
                        .is_ok_and(|c| c.split(|b| *b == 0).any(|a| a == b"--user"))
                })
            }
        }
    }

    /// After a transient failure the connection may be dead: the next call makes a new one.
    fn forget_session(&self) {
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
                    // on a node without it, the answer will not change. Without even its
                    // socket, nothing is worth waiting for.
                    Err(e @ SystemdError::Bus(DbusError::Connect { .. }))
                        if started.elapsed() >= CONNECT_RETRY || e.socket_missing() =>
                    {
                        return Err(e)
                    }
                    // No one owns systemd's name: worth a wait only while a manager that
                    // re-executes (and so comes back) is there.
                    Err(e) if e.no_owner() && !self.manager_alive() => return Err(e),
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
        let what = format!("systemd {} job of {unit}", kind.name());
        let explain = match kind {
            JobKind::Start => Explain::AfterStart,
            JobKind::Reload => Explain::IfNotRunning,
            JobKind::Stop => Explain::No,
        };
        self.call(limit, &what, async move {
            let s = self.session(limit).await?;
            let mut removed = job_removed_stream(&s, unit).await?;
            // Subscribe and the job request go out together: systemd handles one
            // connection's calls in order, so the subscription is in place first.
            let queue = async {
                match kind {
                    JobKind::Start => s.mgr.start_unit(unit.as_str(), "replace").await,
                    JobKind::Stop => s.mgr.stop_unit(unit.as_str(), "replace").await,
                    JobKind::Reload => s.mgr.reload_unit(unit.as_str(), "replace").await,
                }
            };
            let (subscribed, queued) = join2(s.mgr.subscribe(), queue).await;
            subscribed.map_err(call_err("Subscribe", unit))?;
            let job = queued.map_err(call_err(
                match kind {
                    JobKind::Start => "StartUnit",
                    JobKind::Stop => "StopUnit",
                    JobKind::Reload => "ReloadUnit",
                },
                unit,
            ))?;
            log::debug!("{} job {} queued for {unit}", kind.name(), job.as_str());
            let end = match wait_for_job(&mut removed, &job, wait_until).await {
                Some(end) => end,
                // The stream ended: the connection broke. The job outlives us; find out on a
                // new connection whether it is still there.
                None => {
                    self.forget_session();
                    let s = self.session(remaining(wait_until)).await?;
                    match unit_job(&s, unit).await? {
                        Some(path) if path == job => {
                            let mut removed = job_removed_stream(&s, unit).await?;
                            s.mgr
                                .subscribe()
                                .await
                                .map_err(call_err("Subscribe", unit))?;
                            // Checked again now that the match is in, so no signal is lost.
                            match unit_job(&s, unit).await? {
                                Some(p) if p == job => wait_for_job(&mut removed, &job, wait_until)
                                    .await
                                    .unwrap_or(JobEnd::Vanished),
                                _ => JobEnd::Vanished,
                            }
                        }
                        _ => JobEnd::Vanished,
                    }
                }
            };
            let s = self.session(limit).await?;
            let after = read_status(&s, unit, explain).await?;
            Ok(JobReport { kind, end, after })
        })
    }

    /// Wait while the unit is activating/deactivating, woken by its PropertiesChanged
    /// signals and re-reading at least every second, until it settles or `limit` passes;
    /// returns the last status read.
    pub fn wait_settled(
        &self,
        unit: &UnitName,
        limit: Duration,
    ) -> Result<UnitStatus, SystemdError> {
        let until =
            Instant::now() + limit.saturating_sub((limit / 10).min(Duration::from_millis(300)));
        self.call(limit, "waiting for the unit to settle", async move {
            let s = self.session(limit).await?;
            let path = s
                .mgr
                .load_unit(unit.as_str())
                .await
                .map_err(call_err("LoadUnit", unit))?;
            let props = zbus::fdo::PropertiesProxy::builder(&s.conn)
                .destination("org.freedesktop.systemd1")
                .path(path)
                .build()
                .await
                .map_err(call_err("Properties proxy", unit))?;
            let mut changes = props
                .receive_properties_changed()
                .await
                .map_err(call_err("AddMatch(PropertiesChanged)", unit))?;
            s.mgr
                .subscribe()
                .await
                .map_err(call_err("Subscribe", unit))?;
            loop {
                let status = read_status(&s, unit, Explain::IfNotRunning).await?;
                if !outcome::is_transitioning(&status) || remaining(until).is_zero() {
                    return Ok(status);
                }
                let nap = remaining(until).min(Duration::from_secs(1));
                let rt = zruntime::SharedRuntime::current().map_err(DbusError::Runtime)?;
                // Either a change signal or the nap ends the wait; both lead to a re-read.
                let _ = rt.timeout(nap, next(&mut changes)).await;
            }
        })
    }
}

fn remaining(until: Instant) -> Duration {
    until.saturating_duration_since(Instant::now())
}

async fn next<S: Stream + Unpin>(s: &mut S) -> Option<S::Item> {
    poll_fn(|cx| Pin::new(&mut *s).poll_next(cx)).await
}

/// Run two futures on this task at once, so that their D-Bus calls are in flight together
/// (sent in order: `a` first). One round trip instead of two.
async fn join2<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
    let (mut a, mut b) = (pin!(a), pin!(b));
    let (mut ra, mut rb) = (None, None);
    poll_fn(|cx| {
        if ra.is_none() {
            if let Poll::Ready(v) = a.as_mut().poll(cx) {
                ra = Some(v);
            }
        }
        if rb.is_none() {
            if let Poll::Ready(v) = b.as_mut().poll(cx) {
                rb = Some(v);
            }
        }
        match (ra.take(), rb.take()) {
            (Some(x), Some(y)) => Poll::Ready((x, y)),
            (x, y) => {
                ra = x;
                rb = y;
                Poll::Pending
            }
        }
    })
    .await
}

/// The manager's JobRemoved signals, from the moment the bus confirmed the match rule.
/// One AddMatch on the well-known name (the bus daemon routes by its current owner), where
/// a generated proxy stream would first also track the name's owner (two more round trips).
async fn job_removed_stream(s: &Session, unit: &UnitName) -> Result<MessageStream, SystemdError> {
    let rule = MatchRule::builder()
        .msg_type(zbus::message::Type::Signal)
        .sender("org.freedesktop.systemd1")
        .path("/org/freedesktop/systemd1")
        .interface("org.freedesktop.systemd1.Manager")
        .member("JobRemoved")
        .build()
        .map_err(call_err("match rule", unit))?;
    MessageStream::for_match_rule(rule, &s.conn, None)
        .await
        .map_err(call_err("AddMatch(JobRemoved)", unit))
}

/// Wait for the JobRemoved of `job` until `until`. None when the signal stream ended.
async fn wait_for_job(
    removed: &mut MessageStream,
    job: &OwnedObjectPath,
    until: Instant,
) -> Option<JobEnd> {
    let rt = zruntime::SharedRuntime::current().ok()?;
    loop {
        match rt.timeout_at(until, next(removed)).await {
            Err(_) => return Some(JobEnd::StillRunning),
            Ok(None) => return None,
            Ok(Some(Ok(msg))) => {
                // JobRemoved(u id, o job, s unit, s result)
                match msg
                    .body()
                    .deserialize::<(u32, OwnedObjectPath, String, String)>()
                {
                    Ok((_, path, _, result)) if path == *job => {
                        return Some(JobEnd::Removed(result))
                    }
                    // Another client's job, or a signal we cannot read: not ours.
                    _ => continue,
                }
            }
            Ok(Some(Err(_))) => continue,
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
async fn unit_job(s: &Session, unit: &UnitName) -> Result<Option<OwnedObjectPath>, SystemdError> {
    let path = s
        .mgr
        .load_unit(unit.as_str())
        .await
        .map_err(call_err("LoadUnit", unit))?;
    let proxy = unit_proxy(&s.conn, path, unit).await?;
    let (id, job) = proxy.job().await.map_err(call_err("Get(Job)", unit))?;
    Ok((id != 0).then_some(job))
}

/// The object path systemd gives a unit: `/org/freedesktop/systemd1/unit/` plus the name
/// with every byte that is not an ASCII letter (or a digit after the first byte) written
/// as `_xx` (sd-bus's bus_label_escape).
fn unit_object_path(unit: &UnitName) -> String {
    let mut p = String::from("/org/freedesktop/systemd1/unit/");
    for (i, b) in unit.as_str().bytes().enumerate() {
        if b.is_ascii_alphabetic() || (i > 0 && b.is_ascii_digit()) {
            p.push(b as char);
        } else {
            p.push_str(&format!("_{b:02x}"));
        }
    }
    p
}

/// LoadUnit and the state properties in one round trip: the Gets go to the path systemd
/// will answer LoadUnit with, right behind it (systemd handles them in order, so the unit
/// is loaded by then). Should the paths ever differ, the properties are read again.
async fn read_status(
    s: &Session,
    unit: &UnitName,
    explain: Explain,
) -> Result<UnitStatus, SystemdError> {
    let guess = OwnedObjectPath::try_from(unit_object_path(unit))
        .map_err(|e| call_err("object path", unit)(e))?;
    let proxy = unit_proxy(&s.conn, guess.clone(), unit).await?;
    let (loaded, ((load_state, active_state), (sub_state, need_reload))) = join2(
        s.mgr.load_unit(unit.as_str()),
        join2(
            join2(proxy.load_state(), proxy.active_state()),
            join2(proxy.sub_state(), proxy.need_daemon_reload()),
        ),
    )
    .await;
    let path = loaded.map_err(call_err("LoadUnit", unit))?;
    let (proxy, load_state, active_state, sub_state, need_reload) = if path == guess {
        (proxy, load_state, active_state, sub_state, need_reload)
    } else {
        let proxy = unit_proxy(&s.conn, path.clone(), unit).await?;
        let (a, b) = join2(
            join2(proxy.load_state(), proxy.active_state()),
            join2(proxy.sub_state(), proxy.need_daemon_reload()),
        )
        .await;
        (proxy, a.0, a.1, b.0, b.1)
    };
    let mut status = UnitStatus {
        unit: unit.clone(),
        load_state: load_state.map_err(call_err("Get(LoadState)", unit))?,
        active_state: active_state.map_err(call_err("Get(ActiveState)", unit))?,
        sub_state: sub_state.map_err(call_err("Get(SubState)", unit))?,
        need_daemon_reload: need_reload.map_err(call_err("Get(NeedDaemonReload)", unit))?,
        detail: None,
    };
    let broken = matches!(status.load_state.as_str(), "bad-setting" | "error");
    if broken || (explain != Explain::No && !outcome::is_running(&status)) {
        // Best effort: the reason is nicer with it, the verdict does not depend on it.
        status.detail = why_not_running(&s.conn, &proxy, path, &status, explain).await;
    }
    Ok(status)
}

async fn why_not_running(
    conn: &Connection,
    unit: &UnitProxy<'_>,
    path: OwnedObjectPath,
    status: &UnitStatus,
    explain: Explain,
) -> Option<String> {
    if status.load_state != "loaded" {
        if !status.exists() {
            return None;
        }
        let (name, message) = unit.load_error().await.ok()?;
        let text = if message.is_empty() { name } else { message };
        return (!text.is_empty()).then_some(text);
    }
    let mut parts = Vec::new();
    // ConditionResult is also false for a unit never started: only a start that just
    // ended makes it the reason.
    if explain == Explain::AfterStart && unit.condition_result().await == Ok(false) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_object_paths_are_escaped_like_sd_bus() {
        let p = |u: &str| unit_object_path(&UnitName::parse(u).unwrap());
        assert_eq!(p("web"), "/org/freedesktop/systemd1/unit/web_2eservice");
        assert_eq!(
            p("getty@tty1.service"),
            "/org/freedesktop/systemd1/unit/getty_40tty1_2eservice"
        );
        assert_eq!(
            p("1st-unit.socket"),
            "/org/freedesktop/systemd1/unit/_31st_2dunit_2esocket"
        );
        assert_eq!(
            p("a_b\\x2d.service"),
            "/org/freedesktop/systemd1/unit/a_5fb_5cx2d_2eservice"
        );
    }

    #[test]
    fn join2_runs_both_and_keeps_their_outputs() {
        let r = dbus::block_on(Duration::from_secs(1), "join", async {
            join2(async { 1 }, async {
                dbus::sleep(Duration::from_millis(5)).await;
                "b"
            })
            .await
        });
        assert_eq!(r.ok(), Some((1, "b")));
    }
}
