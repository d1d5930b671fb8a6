//! ganesha_mon: watches the local ganesha.nfsd and expresses its health as two transient
//! node attributes, `ganesha-active` and `grace-active` (names are parameters). A clone;
//! replaces glusterfs' ganesha_mon (same parameters).
//!
//! The cluster's reaction lives in constraints on those attributes (as ganesha-ha.sh lays
//! them out): the grace clone runs only where grace-active=1, each virtual IP only where
//! ganesha-active=1, and the VIPs start after the grace clone. So when ganesha dies:
//!   1. delete grace-active: the grace instance here stops, and the survivors' ganesha_grace
//!      get the post-stop notification and put their ganesha.nfsd into grace;
//!   2. wait until every live survivor (grace-active 1 there) has set
//!      `ganesha-grace-for-<this node>` (ganesha_grace does, once its ganesha is in grace),
//!      at most grace_delay;
//!   3. delete ganesha-active: this node's VIP moves to a survivor, already in grace.
//!
//! Waiting for the acknowledgements, not for time, is what keeps grace before the VIP when
//! several nodes fail together: their attribute changes and grace stops then pile into
//! transitions where nothing orders a survivor's notify before a VIP's start; grace_delay
//! is only the fallback bound (warned about when it is what ends the wait).
//!
//! The order is the whole point (glusterfs once swapped it by mistake, and the VIP stopped
//! failing over). When the operation's budget cannot hold the wait, step 3 is left to the
//! next monitor: the time of step 1 is kept in the state file, so the delay is honoured
//! across invocations without ever overrunning CRM_meta_timeout.
//! A stop removes the attributes the same way, so a planned stop fails over as cleanly.
//! When ganesha comes back, grace-active is set before ganesha-active: the grace instance
//! starts again (its pre-start notification reaches the others) before the VIP fails back.
//!
//! Monitor returns 0 while the resource is started, ganesha dead or alive: as in glusterfs,
//! the clone never fails; node health is carried by the attributes alone (a failing monitor
//! would only make Pacemaker restart this observer, and a failed start would keep it, and so
//! the attributes, off the node after ganesha came back). A node where it was never started
//! reports 7 (glusterfs claimed "running" everywhere): start writes a state file under
//! HA_RSCTMP, stop removes it.

use std::borrow::Cow;
use std::path::PathBuf;
use std::time::Duration;

use crate::agents::ganesha_grace::grace_ack_attr;
use crate::ganesha::{admin, pid, Liveness};
use crate::ocf::action::Basic as Action;
use crate::ocf::state::{boottime_ms, StateFile};
use crate::ocf::{Backoff, Context, OcfAgent, OcfCode, OcfError, OcfResult, ParamSpec};
use crate::pacemaker::{self, attrd};

pub struct GaneshaMon;

const SPECS: &[ParamSpec] = &[
    ParamSpec::string("ganesha_active").default("ganesha-active"),
    ParamSpec::string("grace_active").default("grace-active"),
    ParamSpec::string("grace_delay").default("5"),
    ParamSpec::string("pid_file"),
];

/// State file key: CLOCK_BOOTTIME ms when grace-active was deleted while ganesha-active
/// still had to follow.
const PENDING: &str = "grace_deleted_ms";

/// Time kept back, after a wait, for the attrd call that ends it.
const CALL_RESERVE: Duration = Duration::from_millis(1500);

impl OcfAgent for GaneshaMon {
    type Action = Action;

    fn name(&self) -> &str {
        "ganesha_mon"
    }

    fn metadata(&self) -> Cow<'static, str> {
        Cow::Borrowed(include_str!("../../ocf-metadata/ganesha_mon.xml"))
    }

    fn params(&self) -> Cow<'static, [ParamSpec]> {
        Cow::Borrowed(SPECS)
    }

    fn run(&self, action: Action, ctx: &Context<'_>) -> OcfResult<OcfCode> {
        let cfg = Config::read(ctx)?;
        let state = StateFile::for_resource(ctx);
        match action {
            Action::Start => start(ctx, &cfg, &state),
            Action::Stop => stop(ctx, &cfg, &state),
            Action::Monitor => monitor(ctx, &cfg, &state),
            Action::ValidateAll => Ok(OcfCode::Success),
        }
    }
}

struct Config {
    ganesha_active: String,
    grace_active: String,
    grace_delay: Duration,
    pid_file: Option<PathBuf>,
}

impl Config {
    fn read(ctx: &Context<'_>) -> OcfResult<Config> {
        let p = ctx.params(SPECS);
        let ganesha_active =
            attrd::name_param("ganesha_active", &p.required_string("ganesha_active")?)?;
        let grace_active = attrd::name_param("grace_active", &p.required_string("grace_active")?)?;
        if ganesha_active == grace_active {
            return Err(OcfError::configured(
                "parameters 'ganesha_active' and 'grace_active' must name different attributes",
            ));
        }
        let grace_delay = grace_delay(ctx, &p.required_string("grace_delay")?)?;
        let pid_file = match p.string("pid_file")? {
            Some(f) if !f.starts_with('/') || f.chars().any(char::is_control) => {
                return Err(OcfError::configured(format!(
                    "parameter 'pid_file' must be an absolute path, got '{}'",
                    crate::ocf::params::printable(&f)
                )))
            }
            Some(f) => Some(PathBuf::from(f)),
            None => None,
        };
        Ok(Config {
            ganesha_active,
            grace_active,
            grace_delay,
            pid_file,
        })
    }
}

/// grace_delay as glusterfs' agent read it: handed to sleep(1), so `5`, `5s`, `1m` all
/// work. Above an hour it is capped. A value sleep would refuse is a configuration error
/// for start and validate-all only: glusterfs' agent ran on with it (its sleep failed), so
/// a monitor or a stop, where a refusal would cost the node its service or get it fenced,
/// warns and uses the default instead.
fn grace_delay(ctx: &Context<'_>, raw: &str) -> OcfResult<Duration> {
    const MAX: Duration = Duration::from_secs(3600);
    const DEFAULT: Duration = Duration::from_secs(5);
    match crate::ocf::params::parse_sleep_duration(raw) {
        Ok(d) if d > MAX => {
            log::warn!("grace_delay '{raw}' is more than an hour; using 3600 s");
            Ok(MAX)
        }
        Ok(d) => Ok(d),
        Err(why) if matches!(ctx.action, "start" | "validate-all") => Err(OcfError::configured(
            format!("parameter 'grace_delay' must be a duration as sleep(1) takes it (5, 5s, 1m): {why}"),
        )),
        Err(why) => {
            log::warn!(
                "parameter 'grace_delay' is not a duration ({why}); using {} s",
                DEFAULT.as_secs()
            );
            Ok(DEFAULT)
        }
    }
}

/// Is ganesha.nfsd alive here: its pid file names a live ganesha.nfsd, and at
/// OCF_CHECK_LEVEL 10 or more its admin interface also answers on D-Bus.
fn health(ctx: &Context<'_>, cfg: &Config) -> Result<u32, String> {
    let pid = match pid::liveness(cfg.pid_file.as_deref()) {
        Liveness::Running { pid, .. } => pid,
        Liveness::Stopped(why) => return Err(why.to_string()),
    };
    if ctx.env.check_level() >= 10 {
        let limit = ctx.deadline.budget(Duration::from_secs(5));
        if let Err(e) = admin::get_grace(limit) {
            return Err(format!("ganesha.nfsd (pid {pid}) runs but: {e}"));
        }
    }
    Ok(pid)
}

fn start(ctx: &Context<'_>, cfg: &Config, state: &StateFile) -> OcfResult<OcfCode> {
    state.mark_started()?;
    observe_or_log(ctx, cfg, state);
    Ok(OcfCode::Success)
}

fn monitor(ctx: &Context<'_>, cfg: &Config, state: &StateFile) -> OcfResult<OcfCode> {
    state.require_started()?;
    observe_or_log(ctx, cfg, state);
    Ok(OcfCode::Success)
}

/// attrd or the node name unreachable for a moment must not fail this observer: a failed
/// monitor makes Pacemaker restart it, and its stop would retreat a healthy node's VIP; a
/// failed start would keep it off the node. The next monitor tries again.
fn observe_or_log(ctx: &Context<'_>, cfg: &Config, state: &StateFile) {
    if let Err(e) = observe(ctx, cfg, state) {
        log::error!("could not bring the node attributes in line: {e}; the next monitor retries");
    }
}

/// One look at ganesha, and the attributes brought in line with it.
fn observe(ctx: &Context<'_>, cfg: &Config, state: &StateFile) -> OcfResult<()> {
    let node = pacemaker::local_node_name(ctx)?;
    match health(ctx, cfg) {
        Ok(pid) => {
            if pending_since(state)?.is_some() {
                log::info!(
                    "ganesha.nfsd is back (pid {pid}); keeping {} unset no longer",
                    cfg.ganesha_active
                );
                set_pending(state, None)?;
            }
            // grace-active first: mirror image of the retreat (see the module comment).
            ensure_set(ctx, &cfg.grace_active, &node)?;
            ensure_set(ctx, &cfg.ganesha_active, &node)?;
            Ok(())
        }
        Err(why) => {
            log::info!("ganesha.nfsd is not running: {why}");
            retreat(ctx, cfg, state, &node, Finish::WhenBudgetAllows)
        }
    }
}

/// Write `name`=1 unless attrd already holds it (an update of an equal value would still
/// cost attrd and the CIB a round).
fn ensure_set(ctx: &Context<'_>, name: &str, node: &str) -> OcfResult<()> {
    if attrd::query(name, node, &ctx.deadline)?.as_deref() != Some("1") {
        attrd::update(name, "1", None, &ctx.deadline)?;
        log::info!("{name} set to 1 on {node}");
    }
    Ok(())
}

#[derive(PartialEq, Eq)]
enum Finish {
    /// monitor: never overrun; what does not fit is left to the next monitor.
    WhenBudgetAllows,
    /// stop: the attributes must be gone when it returns.
    Now,
}

fn pending_since(state: &StateFile) -> OcfResult<Option<u64>> {
    Ok(state
        .read()?
        .and_then(|v| v.get(PENDING).and_then(|s| s.parse::<u64>().ok())))
}

fn set_pending(state: &StateFile, since: Option<u64>) -> OcfResult<()> {
    // stop calls this after removing nothing yet; the file may be absent (never started).
    let mut values = state.read()?.unwrap_or_default();
    match since {
        Some(ms) => values.insert(PENDING.to_string(), ms.to_string()),
        None => values.remove(PENDING),
    };
    if values.is_empty() {
        return Ok(());
    }
    state.write(&values)
}

/// grace-active goes; once every live survivor has acknowledged its grace for this node
/// (at most grace_delay later), ganesha-active goes.
fn retreat(
    ctx: &Context<'_>,
    cfg: &Config,
    state: &StateFile,
    node: &str,
    finish: Finish,
) -> OcfResult<()> {
    let grace = attrd::query(&cfg.grace_active, node, &ctx.deadline)?;
    let ganesha = attrd::query(&cfg.ganesha_active, node, &ctx.deadline)?;
    // A node name no attribute can carry: no acknowledgement, grace_delay alone protects.
    let ack = Some(grace_ack_attr(node)).filter(|a| attrd::valid_name(a));
    let mut since = pending_since(state)?;
    if grace.is_some() {
        // Acknowledgements of an earlier failure must not count for this one. attrd orders
        // these deletions before grace-active's, and so before any survivor's new one.
        if let Some(ack) = &ack {
            clear_acks(ctx, ack)?;
        }
        attrd::delete(&cfg.grace_active, None, &ctx.deadline)?;
        log::warn!(
            "{} deleted on {node}: the other nodes enter grace",
            cfg.grace_active
        );
        let now = boottime_ms();
        // Recorded right after the delete: a kill in between only makes the wait longer.
        if ganesha.is_some() {
            set_pending(state, Some(now))?;
        }
        since = Some(now);
    }
    if ganesha.is_none() {
        if since.is_some() {
            set_pending(state, None)?;
        }
        return Ok(());
    }
    // ganesha-active is still set. With no record of when grace-active went (deleted by
    // someone else, or by a run killed before it could write it), the full delay counts
    // from now.
    let since = match since {
        Some(s) => s,
        None => {
            let now = boottime_ms();
            set_pending(state, Some(now))?;
            now
        }
    };
    let delay_ms = cfg.grace_delay.as_millis() as u64;
    loop {
        // Survivors are asked afresh each round: one whose own ganesha dies meanwhile (a
        // double failure) loses its grace-active and is waited for no longer.
        let waiting = match &ack {
            Some(ack) => unacknowledged(ctx, cfg, node, ack).unwrap_or_else(|e| {
                // Not knowing is waiting: grace_delay still bounds it.
                log::warn!("cannot read the grace acknowledgements: {e}");
                vec!["(unknown)".to_string()]
            }),
            None => vec!["(node name unusable in an attribute)".to_string()],
        };
        if waiting.is_empty() {
            log::info!("every live survivor acknowledged grace for {node}");
            break;
        }
        let left = Duration::from_millis((since + delay_ms).saturating_sub(boottime_ms()));
        if left.is_zero() {
            let text = format!(
                "grace_delay ({} ms) passed without an acknowledgement of grace for {node} from {}: \
                 their ganesha may not be in grace for it",
                delay_ms,
                waiting.join(", ")
            );
            // A planned stop holds the grace instances' stop and notify back until it ends:
            // no acknowledgement can come, and the delay is what protects.
            if finish == Finish::Now {
                log::info!("{text}");
            } else {
                log::warn!("{text}");
            }
            break;
        }
        let affordable = ctx.deadline.remaining().saturating_sub(CALL_RESERVE);
        if affordable < ACK_POLL {
            if finish == Finish::WhenBudgetAllows {
                log::info!(
                    "{} stays (waiting for grace acknowledgements from {}, at most {} ms more); the next monitor goes on",
                    cfg.ganesha_active,
                    waiting.join(", "),
                    left.as_millis()
                );
                return Ok(());
            }
            log::warn!(
                "the stop's budget cannot hold the remaining {} ms of grace_delay",
                left.as_millis()
            );
            break;
        }
        std::thread::sleep(ACK_POLL.min(left).min(affordable));
    }
    attrd::delete(&cfg.ganesha_active, None, &ctx.deadline)?;
    log::warn!(
        "{} deleted on {node}: its address may move",
        cfg.ganesha_active
    );
    set_pending(state, None)
}

/// Pause between two looks for the survivors' acknowledgements.
const ACK_POLL: Duration = Duration::from_millis(250);

/// Delete `ack` wherever attrd holds a value for it.
fn clear_acks(ctx: &Context<'_>, ack: &str) -> OcfResult<()> {
    for (host, value) in attrd::query_all(ack, &ctx.deadline)? {
        if !value.is_empty() {
            attrd::delete(ack, Some(&host), &ctx.deadline)?;
        }
    }
    Ok(())
}

/// The live survivors (grace-active 1, this node aside) that have not yet set `ack`.
fn unacknowledged(
    ctx: &Context<'_>,
    cfg: &Config,
    node: &str,
    ack: &str,
) -> OcfResult<Vec<String>> {
    let acked: Vec<String> = attrd::query_all(ack, &ctx.deadline)?
        .into_iter()
        .filter(|(_, v)| v == "1")
        .map(|(h, _)| h)
        .collect();
    Ok(attrd::query_all(&cfg.grace_active, &ctx.deadline)?
        .into_iter()
        .filter(|(h, v)| v == "1" && h != node && !acked.contains(h))
        .map(|(h, _)| h)
        .collect())
}

/// How long a stop waits for an attrd that does not accept connections: long enough for
/// pacemakerd to respawn a crashed one, no longer (waiting cannot help after that).
const ATTRD_RESPAWN: Duration = Duration::from_secs(3);

/// A stop that fails escalates to fencing: a passing attrd hiccup is retried (the retreat
/// is idempotent, it queries first) as long as the budget allows.
///
/// Two answers come at once, deliberately:
/// - never started here (no state file): nothing to undo, 0 without asking anyone;
/// - run by hand (no CRM_meta_on_node) where no controller runs (crm_node cannot connect):
///   0, there is no cluster here to undo anything in;
/// - attrd not running on this node (after a respawn's worth of retries): 0, with an error
///   logged. The attributes are transient and attrd's alone: no one on this node can change
///   them while it is gone, and they leave with it (or with the node); a failed stop would
///   only fence a node whose one fault is its attribute manager, taking every other
///   resource down with it. Any other failure (attrd answering with an error, hanging)
///   is retried within the budget and then fails the stop, as before.
fn stop(ctx: &Context<'_>, cfg: &Config, state: &StateFile) -> OcfResult<OcfCode> {
    match state.read() {
        Ok(None) => {
            log::info!("not started on this node: nothing to undo");
            return Ok(OcfCode::Success);
        }
        Ok(Some(_)) => {}
        // Unreadable: act as if started (undoing twice is harmless).
        Err(e) => log::warn!("{e}; removing the attributes all the same"),
    }
    let began = std::time::Instant::now();
    let mut backoff = Backoff::doubling(Duration::from_millis(200), Duration::from_secs(2));
    loop {
        let attempt = pacemaker::local_node_name_if_connected(ctx).and_then(|node| {
            let Some(node) = node else {
                // Only a run by hand lacks CRM_meta_on_node; without a controller there is
                // no cluster here to undo anything in.
                log::warn!("stop: the controller is not running on this node: nothing to undo");
                return Ok(Ok(()));
            };
            match attrd::query(&cfg.grace_active, &node, &ctx.deadline) {
                Err(e @ attrd::AttrdError::Unreachable { .. }) => return Ok(Err(e)),
                Err(e) => return Err(e.into()),
                Ok(_) => {}
            }
            retreat(ctx, cfg, state, &node, Finish::Now).map(Ok)
        });
        let room = ctx.deadline.remaining() > backoff.pause() + CALL_RESERVE * 2;
        match attempt {
            Ok(Ok(())) => break,
            Ok(Err(e)) if room && began.elapsed() + backoff.pause() < ATTRD_RESPAWN => {
                log::warn!("stop: {e}; retrying in {} ms", backoff.pause().as_millis());
                std::thread::sleep(backoff.advance());
            }
            Ok(Err(e)) => {
                log::error!(
                    "stop: {e}; the attributes go with attrd or the node: stopped without them"
                );
                break;
            }
            Err(e) if room => {
                log::warn!("stop: {e}; retrying in {} ms", backoff.pause().as_millis());
                std::thread::sleep(backoff.advance());
            }
            Err(e) => return Err(e),
        }
    }
    // A leftover state file is only a claim to be started; a cleanup error never fails a stop.
    if let Err(e) = state.remove() {
        log::warn!("{e}");
    }
    Ok(OcfCode::Success)
}
