//! Jobs: queue a start/stop/reload and wait for its own JobRemoved signal; wait for a unit
//! to settle on its PropertiesChanged signals. Both are methods of the facade.

use std::time::{Duration, Instant};

use zbus::{MatchRule, MessageStream, OwnedObjectPath};

use super::unit::{read_status, unit_job};
use super::{
    call_err, outcome, remaining, Explain, Session, Systemd, SystemdError, UnitName, UnitStatus,
};
use crate::dbus::{join2, next, DbusError};

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

impl Systemd {
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
