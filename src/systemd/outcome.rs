//! The one place that decides what systemd's answers mean for a cluster resource, like
//! Pacemaker's lib/services/systemd.c, with the gaps it has closed:
//! - LoadState: `not-found` means not installed here (start: OCF_ERR_INSTALLED; stop: already
//!   stopped; monitor/probe: not running); `masked`, `bad-setting`, `error` cannot start here
//!   (OCF_ERR_INSTALLED, node-local, so Pacemaker may try another node).
//! - ActiveState: `active`/`reloading`/`refreshing` run; `activating`/`deactivating` are
//!   transitions to wait out; everything else (`inactive`, `failed`, `maintenance`) is stopped.
//! - JobRemoved: `done` is not proof (a Type=simple start is done at exec, a start whose
//!   Condition*= failed is done with the unit inactive), so the unit is re-read; any other
//!   result (timeout, failed, dependency, canceled, skipped, ...) is OCF_ERR_GENERIC with the
//!   result and the unit's state in the reason.
//! - Method errors: NoSuchUnit/LoadFailed/InvalidName → not installed (stop: success);
//!   UnitMasked → not installed; AccessDenied → OCF_ERR_PERM; JobTypeNotApplicable on a
//!   reload → unimplemented; a lost bus or NoReply → generic (the facade already retried
//!   where that is safe); no bus at all → the caller decides ([`unreachable`]).

use std::path::Path;

use super::{ActiveState, JobEnd, JobKind, JobReport, SystemdError, UnitName, UnitStatus};
use crate::dbus::DbusError;
use crate::ocf::{Deadline, OcfError, OcfResult};

const MISSING_UNIT_ERRORS: &[&str] = &[
    "org.freedesktop.systemd1.NoSuchUnit",
    "org.freedesktop.systemd1.LoadFailed",
    "org.freedesktop.systemd1.InvalidName",
];

/// What an ActiveState means for the resource. Exhaustive: a state systemd adds must be
/// placed here (unknown names count as stopped, as Pacemaker reads them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Running,
    Transitioning,
    Stopped,
}

fn phase(state: &ActiveState) -> Phase {
    match state {
        ActiveState::Active | ActiveState::Reloading | ActiveState::Refreshing => Phase::Running,
        ActiveState::Activating | ActiveState::Deactivating => Phase::Transitioning,
        ActiveState::Inactive
        | ActiveState::Failed
        | ActiveState::Maintenance
        | ActiveState::Other(_) => Phase::Stopped,
    }
}

pub fn is_running(status: &UnitStatus) -> bool {
    phase(&status.active_state) == Phase::Running
}

pub fn is_transitioning(status: &UnitStatus) -> bool {
    phase(&status.active_state) == Phase::Transitioning
}

/// What a monitor reports for a unit state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Monitor {
    Running,
    /// OCF_NOT_RUNNING, with the reason.
    Stopped(String),
    /// Still activating/deactivating: wait within the budget, then OCF_ERR_GENERIC.
    Transitioning(String),
}

pub fn monitor(status: &UnitStatus) -> Monitor {
    let unit = &status.unit;
    if !status.exists() {
        return Monitor::Stopped(format!("unit {unit} is not installed on this node"));
    }
    if is_running(status) {
        Monitor::Running
    } else if is_transitioning(status) {
        Monitor::Transitioning(format!("unit {unit} is {}", status.describe()))
    } else {
        Monitor::Stopped(format!("unit {unit} is {}", status.describe()))
    }
}

/// A start may go ahead: the unit exists here and can be loaded and started.
pub fn check_startable(status: &UnitStatus) -> OcfResult<()> {
    let unit = &status.unit;
    let detail = status
        .detail
        .as_deref()
        .map(|d| format!(": {d}"))
        .unwrap_or_default();
    match status.load_state.as_str() {
        "not-found" => Err(OcfError::NotInstalled(format!(
            "unit {unit} is not installed on this node (systemd: LoadState not-found)"
        ))),
        "masked" => Err(OcfError::NotInstalled(format!(
            "unit {unit} is masked on this node; unmask it to let the cluster start it"
        ))),
        "bad-setting" | "error" => Err(OcfError::NotInstalled(format!(
            "systemd cannot load unit {unit} on this node (LoadState {}){detail}",
            status.load_state
        ))),
        _ => Ok(()),
    }
}

fn job_failed(report: &JobReport, result: &str) -> OcfError {
    let unit = &report.after.unit;
    OcfError::Generic(format!(
        "systemd {} job of {unit} ended with result '{result}'; unit is {}",
        report.kind.name(),
        report.after.describe()
    ))
}

fn job_pending(report: &JobReport, deadline: &Deadline) -> OcfError {
    deadline.timeout_error(format!(
        "systemd {} job of {} (unit {})",
        report.kind.name(),
        report.after.unit,
        report.after.describe()
    ))
}

/// The start job's end, judged by the unit's state after it.
pub fn start_result(report: &JobReport, deadline: &Deadline) -> OcfResult<()> {
    debug_assert_eq!(report.kind, JobKind::Start);
    let unit = &report.after.unit;
    match &report.end {
        JobEnd::Removed(r) if r == "done" => {}
        JobEnd::Vanished => {}
        JobEnd::Removed(r) => return Err(job_failed(report, r)),
        JobEnd::StillRunning => return Err(job_pending(report, deadline)),
    }
    if is_running(&report.after) {
        Ok(())
    } else if report.after.active_state == ActiveState::Activating {
        // A start job is only removed once the unit is up; seen after a vanished job.
        Err(job_pending(report, deadline))
    } else {
        Err(OcfError::Generic(format!(
            "systemd finished the start job of {unit}, but the unit is {}",
            report.after.describe()
        )))
    }
}

/// The stop job's end: whatever the job says, what counts is that nothing runs any more.
pub fn stop_result(report: &JobReport, deadline: &Deadline) -> OcfResult<()> {
    debug_assert_eq!(report.kind, JobKind::Stop);
    let stopped =
        !report.after.exists() || (!is_running(&report.after) && !is_transitioning(&report.after));
    match &report.end {
        _ if stopped => Ok(()),
        JobEnd::StillRunning => Err(job_pending(report, deadline)),
        JobEnd::Removed(r) if r != "done" => Err(job_failed(report, r)),
        _ => Err(OcfError::Generic(format!(
            "systemd finished the stop job of {}, but the unit is still {}",
            report.after.unit,
            report.after.describe()
        ))),
    }
}

pub fn reload_result(report: &JobReport, deadline: &Deadline) -> OcfResult<()> {
    match &report.end {
        JobEnd::Removed(r) if r == "done" => Ok(()),
        JobEnd::Vanished if is_running(&report.after) => Ok(()),
        JobEnd::StillRunning => Err(job_pending(report, deadline)),
        JobEnd::Removed(r) => Err(job_failed(report, r)),
        JobEnd::Vanished => Err(job_failed(report, "unknown")),
    }
}

/// systemd cannot be reached at all on this node (no bus socket, nobody listening): where
/// the question is "can it run here" (start, validate-all, a probe) that is
/// OCF_ERR_INSTALLED; a stop or a recurring monitor cannot conclude anything from it.
pub fn unreachable(err: &SystemdError) -> bool {
    matches!(err, SystemdError::Bus(DbusError::Connect { .. }))
}

/// systemd unreachable where the question is "can it run here" (start, validate-all, a
/// probe): OCF_ERR_INSTALLED; any other failure as [`error`].
pub fn where_it_can_run(err: SystemdError, deadline: &Deadline) -> OcfError {
    if unreachable(&err) {
        OcfError::NotInstalled(format!("systemd is not reachable on this node: {err}"))
    } else {
        error(err, deadline)
    }
}

/// The runtime drop-in could not be written: a permission problem is OCF_ERR_PERM.
pub fn dropin_write_error(path: &Path, err: std::io::Error) -> OcfError {
    let what = format!("cannot write the drop-in {}: {err}", path.display());
    if err.kind() == std::io::ErrorKind::PermissionDenied {
        OcfError::Perm(what)
    } else {
        OcfError::Generic(what)
    }
}

/// A reload job that could not be queued: a unit without ExecReload= cannot reload
/// (OCF_ERR_UNIMPLEMENTED for it, not a failure of the service).
pub fn reload_error(err: SystemdError, unit: &UnitName, deadline: &Deadline) -> OcfError {
    match err.error_name().as_deref() {
        Some("org.freedesktop.systemd1.JobTypeNotApplicable") => {
            OcfError::Unimplemented(format!("unit {unit} cannot reload (it has no ExecReload=)"))
        }
        _ => error(err, deadline),
    }
}

/// systemd said the unit does not exist (a stop treats that as stopped).
pub fn means_unit_missing(err: &SystemdError) -> bool {
    err.error_name()
        .is_some_and(|n| MISSING_UNIT_ERRORS.contains(&n.as_str()))
}

/// A failed conversation with systemd, as an OCF error.
pub fn error(err: SystemdError, deadline: &Deadline) -> OcfError {
    let name = err.error_name();
    match name.as_deref() {
        Some(n) if MISSING_UNIT_ERRORS.contains(&n) => {
            return OcfError::NotInstalled(err.to_string())
        }
        Some("org.freedesktop.systemd1.UnitMasked") => {
            return OcfError::NotInstalled(err.to_string())
        }
        Some(
            "org.freedesktop.DBus.Error.AccessDenied"
            | "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired",
        ) => return OcfError::Perm(err.to_string()),
        _ => {}
    }
    match err {
        SystemdError::Bus(DbusError::TimedOut { what, .. }) => deadline.timeout_error(what),
        other if other.is_transient() => {
            OcfError::Generic(format!("systemd is not reachable: {other}"))
        }
        other => OcfError::Generic(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ocf::OcfCode;
    use std::time::Duration;

    fn status(load: &str, active: &str, sub: &str) -> UnitStatus {
        UnitStatus {
            unit: UnitName::parse("demo").unwrap(),
            load_state: load.into(),
            active_state: ActiveState::parse(active),
            sub_state: sub.into(),
            need_daemon_reload: false,
            detail: None,
        }
    }

    fn report(kind: JobKind, end: JobEnd, after: UnitStatus) -> JobReport {
        JobReport { kind, end, after }
    }

    fn dl() -> Deadline {
        Deadline::from_op_timeout(Duration::from_secs(20))
    }

    #[test]
    fn active_states_map_like_pacemaker_with_transitions_pending() {
        assert_eq!(
            monitor(&status("loaded", "active", "running")),
            Monitor::Running
        );
        assert_eq!(
            monitor(&status("loaded", "reloading", "reload")),
            Monitor::Running
        );
        for s in ["inactive", "failed", "maintenance"] {
            assert!(
                matches!(monitor(&status("loaded", s, "dead")), Monitor::Stopped(_)),
                "{s}"
            );
        }
        for s in ["activating", "deactivating"] {
            assert!(
                matches!(
                    monitor(&status("loaded", s, "start")),
                    Monitor::Transitioning(_)
                ),
                "{s}"
            );
        }
        assert!(
            matches!(monitor(&status("not-found", "inactive", "dead")), Monitor::Stopped(r) if r.contains("not installed"))
        );
    }

    #[test]
    fn load_states_that_cannot_start_are_not_installed() {
        assert!(check_startable(&status("loaded", "inactive", "dead")).is_ok());
        for l in ["not-found", "masked", "bad-setting", "error"] {
            let e = check_startable(&status(l, "inactive", "dead")).unwrap_err();
            assert_eq!(e.code(), OcfCode::ErrInstalled, "{l}");
        }
    }

    #[test]
    fn done_is_not_proof_of_running() {
        let ok = report(
            JobKind::Start,
            JobEnd::Removed("done".into()),
            status("loaded", "active", "running"),
        );
        assert!(start_result(&ok, &dl()).is_ok());
        let mut cond = status("loaded", "inactive", "dead");
        cond.detail = Some("a start condition (Condition*=) was not met".into());
        let e = start_result(
            &report(JobKind::Start, JobEnd::Removed("done".into()), cond),
            &dl(),
        )
        .unwrap_err();
        assert_eq!(e.code(), OcfCode::ErrGeneric);
        assert!(e.to_string().contains("condition"), "{e}");
    }

    #[test]
    fn other_job_results_are_errors_naming_the_result() {
        for r in [
            "failed",
            "timeout",
            "dependency",
            "canceled",
            "skipped",
            "invalid",
        ] {
            let e = start_result(
                &report(
                    JobKind::Start,
                    JobEnd::Removed(r.into()),
                    status("loaded", "failed", "failed"),
                ),
                &dl(),
            )
            .unwrap_err();
            assert_eq!(e.code(), OcfCode::ErrGeneric);
            assert!(e.to_string().contains(&format!("'{r}'")), "{e}");
        }
        let e = start_result(
            &report(
                JobKind::Start,
                JobEnd::StillRunning,
                status("loaded", "activating", "start-pre"),
            ),
            &dl(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("did not complete"), "{e}");
    }

    #[test]
    fn stop_counts_the_state_not_the_job() {
        assert!(stop_result(
            &report(
                JobKind::Stop,
                JobEnd::Removed("done".into()),
                status("loaded", "failed", "failed")
            ),
            &dl()
        )
        .is_ok());
        assert!(stop_result(
            &report(
                JobKind::Stop,
                JobEnd::Removed("done".into()),
                status("not-found", "inactive", "dead")
            ),
            &dl()
        )
        .is_ok());
        assert!(stop_result(
            &report(
                JobKind::Stop,
                JobEnd::Removed("canceled".into()),
                status("loaded", "active", "running")
            ),
            &dl()
        )
        .is_err());
        assert!(stop_result(
            &report(
                JobKind::Stop,
                JobEnd::StillRunning,
                status("loaded", "deactivating", "stop-sigterm")
            ),
            &dl()
        )
        .is_err());
    }
}
