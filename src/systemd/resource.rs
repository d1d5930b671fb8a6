//! One systemd unit run as a cluster resource: the start/stop/state engine of
//! SystemdService, shared by every agent that drives a unit (SystemdService and its
//! presets, NovaCompute). The agent keeps what is its own (health checks, Nova); this
//! keeps the systemd side identical everywhere: the runtime drop-in whose job timeouts
//! come from the operation's timeout, daemon-reload only when something changed, jobs
//! waited for to completion, and a stop that is never failed by its cleanup.

use std::time::Duration;

use super::dropin::{self, DropIn};
use super::outcome::{self, Monitor};
use super::{Explain, JobKind, Systemd, UnitName, UnitStatus};
use crate::ocf::{Context, OcfError, OcfResult};

/// One systemd conversation that is not a job wait (state read, daemon-reload) gets this much.
pub const SYSTEMD_CALL: Duration = Duration::from_secs(15);

/// The first installed of `units` (candidates in order), as systemd reports it. A
/// systemd that cannot be reached means "not here" (OCF 5) where that is the answer.
pub fn inspect(ctx: &Context<'_>, sd: &Systemd, units: &[UnitName]) -> OcfResult<UnitStatus> {
    let status = sd
        .inspect(units, Explain::No, ctx.deadline.budget(SYSTEMD_CALL))
        .map_err(|e| outcome::where_it_can_run(e, &ctx.deadline))?;
    if units.len() > 1 && status.exists() {
        log::debug!(
            "using unit {} (candidates {})",
            status.unit,
            units_text(units)
        );
    }
    Ok(status)
}

/// The unit this node would start: installed (one of the candidates), loadable, not masked.
pub fn startable_unit(
    ctx: &Context<'_>,
    sd: &Systemd,
    units: &[UnitName],
) -> OcfResult<UnitStatus> {
    let status = inspect(ctx, sd, units)?;
    if !status.exists() && units.len() > 1 {
        return Err(OcfError::NotInstalled(format!(
            "none of the units {} is installed on this node",
            units_text(units)
        )));
    }
    outcome::check_startable(&status)?;
    Ok(status)
}

/// Start `status.unit` (from [`startable_unit`]): runtime drop-in, daemon-reload when it
/// changed, StartUnit waited for, and the unit really running afterwards.
pub fn start(ctx: &Context<'_>, sd: &Systemd, status: &UnitStatus) -> OcfResult<()> {
    let unit = &status.unit;
    let dropin = drop_in_for(ctx, sd, unit);
    let changed = dropin
        .write_if_changed()
        .map_err(|e| outcome::dropin_write_error(&dropin.path, e))?;
    if changed || status.need_daemon_reload {
        log::debug!(
            "drop-in {} changed; reloading systemd",
            dropin.path.display()
        );
        sd.daemon_reload(ctx.deadline.budget(SYSTEMD_CALL))
            .map_err(|e| outcome::error(e, &ctx.deadline))?;
    }
    let report = sd
        .run_job(JobKind::Start, unit, ctx.deadline.remaining())
        .map_err(|e| outcome::error(e, &ctx.deadline))?;
    outcome::start_result(&report, &ctx.deadline)?;
    log::info!("systemd started {unit}");
    Ok(())
}

/// Stop whichever of `units` is installed and wait for the job; a unit systemd does not
/// know is stopped. The drop-in goes afterwards (its removal never fails the stop).
pub fn stop(ctx: &Context<'_>, sd: &Systemd, units: &[UnitName]) -> OcfResult<()> {
    let status = match sd.inspect(units, Explain::No, ctx.deadline.budget(SYSTEMD_CALL)) {
        Ok(status) => status,
        // systemd does not know the unit: nothing of it can be running.
        Err(e) if outcome::means_unit_missing(&e) => {
            log::info!("{e}; treating it as stopped");
            cleanup(ctx, sd, units);
            return Ok(());
        }
        Err(e) => return Err(outcome::error(e, &ctx.deadline)),
    };
    if !status.exists() {
        log::info!("unit {} is not installed; it is stopped", units_text(units));
        cleanup(ctx, sd, units);
        return Ok(());
    }
    let unit = status.unit.clone();

    if outcome::is_running(&status) || outcome::is_transitioning(&status) {
        // systemd's SIGKILL escalation (TimeoutStopSec) must land inside THIS op's budget;
        // the start op wrote the value from its own timeout. Only a difference costs a reload.
        let dropin = drop_in_for(ctx, sd, &unit);
        match dropin.write_if_changed() {
            Ok(changed) if changed || status.need_daemon_reload => {
                if let Err(e) = sd.daemon_reload(ctx.deadline.budget(SYSTEMD_CALL)) {
                    log::warn!("daemon-reload before stop failed: {e}");
                }
            }
            Ok(_) => {}
            Err(e) => log::warn!(
                "cannot update the drop-in {} before stop: {e}",
                dropin.path.display()
            ),
        }
    }

    let report = match sd.run_job(JobKind::Stop, &unit, ctx.deadline.remaining()) {
        Ok(report) => report,
        Err(e) if outcome::means_unit_missing(&e) => {
            cleanup(ctx, sd, std::slice::from_ref(&unit));
            return Ok(());
        }
        Err(e) => return Err(outcome::error(e, &ctx.deadline)),
    };
    outcome::stop_result(&report, &ctx.deadline)?;
    log::info!("systemd stopped {unit} ({})", report.after.describe());
    cleanup(ctx, sd, std::slice::from_ref(&unit));
    Ok(())
}

/// The monitor's systemd half: running → the status; stopped → OCF 7 saying why; in a
/// transition → waited out within the budget, leaving `keep` for what the agent checks
/// next. A probe where systemd cannot be reached says "not here", never 1.
pub fn running(
    ctx: &Context<'_>,
    sd: &Systemd,
    units: &[UnitName],
    keep: Duration,
) -> OcfResult<UnitStatus> {
    let mut status = match sd.inspect(
        units,
        Explain::IfNotRunning,
        ctx.deadline.budget(SYSTEMD_CALL),
    ) {
        Ok(status) => status,
        Err(e) if ctx.is_probe() => return Err(outcome::where_it_can_run(e, &ctx.deadline)),
        Err(e) => return Err(outcome::error(e, &ctx.deadline)),
    };
    if let Monitor::Transitioning(why) = outcome::monitor(&status) {
        log::info!("{why}; waiting for it to settle");
        status = sd
            .wait_settled(&status.unit, ctx.deadline.remaining().saturating_sub(keep))
            .map_err(|e| outcome::error(e, &ctx.deadline))?;
    }
    match outcome::monitor(&status) {
        Monitor::Running => Ok(status),
        Monitor::Stopped(why) => Err(OcfError::NotRunning(why)),
        Monitor::Transitioning(why) => Err(OcfError::Generic(format!(
            "{why} and did not settle within the monitor's time budget"
        ))),
    }
}

/// The drop-in for this operation: systemd's job timeouts come from its CRM_meta_timeout.
fn drop_in_for(ctx: &Context<'_>, sd: &Systemd, unit: &UnitName) -> DropIn {
    DropIn::new(
        sd.runtime_unit_dir(),
        unit,
        dropin::systemd_timeout_for(ctx.env.op_timeout()),
    )
}

/// Remove the drop-ins of `units` and reload systemd if one was there. Never fails: the
/// unit is already stopped, and a failed stop would get the node fenced.
fn cleanup(ctx: &Context<'_>, sd: &Systemd, units: &[UnitName]) {
    let mut removed = false;
    for unit in units {
        match dropin::remove(sd.runtime_unit_dir(), unit) {
            Ok(r) => removed |= r,
            Err(e) => log::warn!(
                "cannot remove the drop-in {}: {e}",
                dropin::path_for(sd.runtime_unit_dir(), unit).display()
            ),
        }
    }
    if removed {
        if let Err(e) = sd.daemon_reload(ctx.deadline.budget(SYSTEMD_CALL)) {
            log::warn!("daemon-reload after removing the drop-in failed: {e}");
        }
    }
}

pub fn units_text(units: &[UnitName]) -> String {
    units
        .iter()
        .map(UnitName::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}
