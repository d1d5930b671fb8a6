//! ganesha_grace: puts the local ganesha.nfsd into NFS grace when a peer fails, before that
//! peer's virtual IP reaches a survivor. A clone with notify=true; replaces glusterfs'
//! ganesha_grace (same parameter, same constraints around it).
//!
//! It runs (monitor 0) while its node's `grace-active` attribute, kept by ganesha_mon, is 1,
//! and reports 7 once it is gone: Pacemaker stops the instance there (the location rule
//! `grace-active ne 1` does it at once), and the survivors receive the post-stop
//! notification, whose stop list names the failed node(s). For every such node except
//! itself, notify calls `org.ganesha.nfsd.admin.grace` on the local ganesha with that node's
//! key: `5:<ip>` (take over the reclaim records kept under the address the node served) when
//! `node_vips` maps the node to its VIP, else the node name (what glusterfs sent, matching
//! ganesha-ha.sh's recovery directories named after nodes). Several stopped nodes get one
//! call each (glusterfs passed them as one broken argument). ganesha's boolean answer is
//! checked; failures are retried within the notify budget; notify always returns 0, with
//! what happened logged. On fail-back (pre-start, a node rejoining) the running servers
//! enter grace as glusterfs' did; this agent says so with ganesha's JUST_GRACE event (`0:`)
//! where glusterfs sent an empty key that ganesha happened to read the same way.
//!
//! The key must match the recovery layout, or the failed node's clients cannot reclaim:
//! where this node sees ganesha's RecoveryRoot (`recovery_root`), the key whose directory
//! exists there is used (a node_vips entry that the layout does not have falls back to the
//! node name), and when neither exists that is said as an error in the log and in the node
//! attribute `ganesha-grace-warning` (crm_mon -A shows it).
//!
//! A node where it was never started reports 7 (state file under HA_RSCTMP).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::ganesha::admin;
use crate::ocf::notify::{Notification, NotifyType};
use crate::ocf::StateFile;
use crate::ocf::{Backoff, Context, OcfAgent, OcfCode, OcfError, OcfResult, ParamSpec};
use crate::pacemaker::{self, attrd};

pub struct GaneshaGrace;

const SPECS: &[ParamSpec] = &[
    ParamSpec::string("grace_active").default("grace-active"),
    ParamSpec::string("node_vips"),
    ParamSpec::string("recovery_root").default("/var/lib/nfs/ganesha"),
];

/// Node attribute where a grace key without reclaim records is reported (crm_mon -A).
const WARNING_ATTR: &str = "ganesha-grace-warning";

/// The acknowledgement a survivor writes on itself (value 1) once its ganesha.nfsd is in
/// grace for failed node `node`: ganesha_mon on that node waits for every live survivor's
/// before it lets the node's VIP move. It deletes them when it next retreats, so a value
/// left from an earlier failure never counts.
pub fn grace_ack_attr(node: &str) -> String {
    format!("ganesha-grace-for-{node}")
}

/// One grace call may take this long before it counts as failed and is retried.
const CALL_CAP: Duration = Duration::from_secs(5);
const FIRST_PAUSE: Duration = Duration::from_millis(100);
const MAX_PAUSE: Duration = Duration::from_secs(1);

crate::ocf_actions! {
    pub enum Action {
        Start = "start",
        Stop = "stop",
        Monitor = "monitor" | "status",
        Notify = "notify",
        ValidateAll = "validate-all",
    }
}

impl OcfAgent for GaneshaGrace {
    type Action = Action;

    fn name(&self) -> &str {
        "ganesha_grace"
    }

    fn metadata(&self) -> Cow<'static, str> {
        Cow::Borrowed(include_str!("../../ocf-metadata/ganesha_grace.xml"))
    }

    fn params(&self) -> Cow<'static, [ParamSpec]> {
        Cow::Borrowed(SPECS)
    }

    fn run(&self, action: Action, ctx: &Context<'_>) -> OcfResult<OcfCode> {
        // Every action but notify reads (and so validates) the parameters first.
        let configured = || Ok::<_, OcfError>((Config::read(ctx)?, StateFile::for_resource(ctx)));
        match action {
            Action::Notify => {
                // Never fails: a notify error is only logged by Pacemaker anyway, and the
                // reason is better said here.
                notify(ctx);
                Ok(OcfCode::Success)
            }
            Action::Start => {
                let (cfg, state) = configured()?;
                start(ctx, &cfg, &state)
            }
            Action::Stop => {
                let (_, state) = configured()?;
                state.remove()?;
                Ok(OcfCode::Success)
            }
            Action::Monitor => {
                let (cfg, state) = configured()?;
                monitor(ctx, &cfg, &state)
            }
            Action::ValidateAll => configured().map(|_| OcfCode::Success),
        }
    }
}

struct Config {
    grace_active: String,
    node_vips: BTreeMap<String, IpAddr>,
    recovery_root: PathBuf,
}

impl Config {
    fn read(ctx: &Context<'_>) -> OcfResult<Config> {
        let p = ctx.params(SPECS);
        let grace_active = attrd::name_param("grace_active", &p.required_string("grace_active")?)?;
        let node_vips = parse_node_vips(p.string("node_vips")?.as_deref().unwrap_or(""))
            .map_err(|e| OcfError::configured(format!("parameter 'node_vips': {e}")))?;
        let root = p.required_string("recovery_root")?;
        if !root.starts_with('/') || root.chars().any(char::is_control) {
            return Err(OcfError::configured(format!(
                "parameter 'recovery_root' must be an absolute path, got '{}'",
                crate::ocf::params::printable(&root)
            )));
        }
        Ok(Config {
            grace_active,
            node_vips,
            recovery_root: PathBuf::from(root),
        })
    }
}

/// `node1=10.0.0.1 node2=10.0.0.2` (spaces or commas between pairs).
fn parse_node_vips(value: &str) -> Result<BTreeMap<String, IpAddr>, String> {
    let mut map = BTreeMap::new();
    for pair in value
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|s| !s.is_empty())
    {
        let (node, ip) = pair
            .split_once('=')
            .ok_or_else(|| format!("'{}' is not NODE=IP", crate::ocf::params::printable(pair)))?;
        if node.is_empty() {
            return Err(format!(
                "'{}' names no node",
                crate::ocf::params::printable(pair)
            ));
        }
        // Strip a CIDR suffix: people copy IPaddr2's ip/cidr_netmask habits.
        let ip_text = ip.split('/').next().unwrap_or(ip);
        let ip: IpAddr = ip_text.parse().map_err(|_| {
            format!(
                "'{}' is not an IP address",
                crate::ocf::params::printable(ip)
            )
        })?;
        if map.insert(node.to_string(), ip).is_some() {
            return Err(format!(
                "node '{}' is listed twice",
                crate::ocf::params::printable(node)
            ));
        }
    }
    Ok(map)
}

fn grace_is_active(ctx: &Context<'_>, cfg: &Config, node: &str) -> OcfResult<bool> {
    Ok(attrd::query(&cfg.grace_active, node, &ctx.deadline)?.as_deref() == Some("1"))
}

/// Waits (within the budget, no fixed sleep) until ganesha_mon has set grace-active here:
/// attrd updates are asynchronous, so a start scheduled right after ganesha_mon's may see
/// the old value for a moment.
fn start(ctx: &Context<'_>, cfg: &Config, state: &StateFile) -> OcfResult<OcfCode> {
    let node = pacemaker::local_node_name(ctx)?;
    let mut backoff = Backoff::doubling(FIRST_PAUSE, MAX_PAUSE);
    loop {
        // attrd unreachable for a moment is one more reason to wait, not to fail at once.
        let why = match grace_is_active(ctx, cfg, &node) {
            Ok(true) => break,
            Ok(false) => format!(
                "{} is not 1 on {node}: ganesha_mon has not seen a live ganesha.nfsd here",
                cfg.grace_active
            ),
            Err(e) => e.to_string(),
        };
        if ctx.deadline.remaining() <= backoff.pause() + Duration::from_millis(500) {
            return Err(OcfError::generic(why));
        }
        std::thread::sleep(backoff.advance());
    }
    state.mark_started()?;
    Ok(OcfCode::Success)
}

fn monitor(ctx: &Context<'_>, cfg: &Config, state: &StateFile) -> OcfResult<OcfCode> {
    state.require_started()?;
    let node = pacemaker::local_node_name(ctx)?;
    if grace_is_active(ctx, cfg, &node)? {
        Ok(OcfCode::Success)
    } else {
        Err(OcfError::NotRunning(format!(
            "{} is not 1 on {node}: ganesha.nfsd is not running here",
            cfg.grace_active
        )))
    }
}

/// One grace request: what it is for (for the log) and ganesha's argument.
struct Request {
    what: String,
    arg: String,
    /// Why ganesha will find no reclaim records with this key, when it will not.
    missing: Option<String>,
    /// The failed node this grace is for (acknowledged once entered).
    failed: Option<String>,
}

/// The grace requests a notification calls for; empty when it calls for none.
fn requests(
    n: &Notification,
    me: Option<&str>,
    vips: &BTreeMap<String, IpAddr>,
    root: &Path,
) -> Vec<Request> {
    let relevant = matches!(
        (n.kind, n.operation.as_str()),
        (NotifyType::Post, "stop") | (NotifyType::Pre, "start")
    );
    if !relevant {
        return Vec::new();
    }
    let stopped: Vec<String> = Notification::unames(&n.stop)
        .into_iter()
        .filter(|u| Some(u.as_str()) != me)
        .collect();
    if stopped.is_empty() {
        if n.kind == NotifyType::Pre {
            let starting = Notification::unames(&n.start).join(" ");
            return vec![Request {
                what: format!(
                    "the start of {}",
                    if starting.is_empty() {
                        "a peer"
                    } else {
                        &starting
                    }
                ),
                arg: format!("{}:", admin::EVENT_JUST_GRACE),
                missing: None,
                failed: None,
            }];
        }
        return Vec::new();
    }
    stopped
        .into_iter()
        .map(|node| {
            let ip = vips.get(&node).map(IpAddr::to_string);
            let (arg, missing) = grace_key(root, &node, ip.as_deref());
            Request {
                arg,
                what: format!("failed node {node}"),
                missing,
                failed: Some(node),
            }
        })
        .collect()
}

/// The grace argument for failed `node` (its VIP `ip` if node_vips has it) that matches
/// the recovery layout under `root`: the key whose RecoveryRoot/<key> exists; a node_vips
/// entry the layout lacks gives way to the node name (ganesha-ha.sh's symlinks). When the
/// root is not visible here, node_vips decides. The second value is a warning when the
/// layout has neither (ganesha will find no reclaim records).
fn grace_key(root: &Path, node: &str, ip: Option<&str>) -> (String, Option<String>) {
    let wanted = admin::grace_arg(ip, node);
    if !root.is_dir() {
        return (wanted, None);
    }
    let has = |key: &str| root.join(key).is_dir();
    match ip {
        Some(ip) if has(ip) => (wanted, None),
        Some(ip) if has(node) => {
            log::warn!(
                "node_vips maps {node} to {ip}, but {} has no directory {ip}, only {node}: \
                 using the key {node} (the layout's)",
                root.display()
            );
            (admin::grace_arg(None, node), None)
        }
        _ if ip.is_none() && has(node) => (wanted, None),
        _ => {
            let key = ip.unwrap_or(node);
            let warning = format!(
                "no reclaim records for {node}: {} has no directory {key}{}",
                root.display(),
                if ip.is_some() {
                    format!(" nor {node}")
                } else {
                    " (set node_vips if the records are kept under addresses)".to_string()
                }
            );
            (wanted, Some(warning))
        }
    }
}

fn notify(ctx: &Context<'_>) {
    let Some(n) = ctx.env.notification() else {
        log::warn!("notify without Pacemaker's notification variables: nothing to do");
        return;
    };
    // A broken node_vips must not cost the failover its grace: fall back to node names.
    let (vips, root) = match Config::read(ctx) {
        Ok(cfg) => (cfg.node_vips, cfg.recovery_root),
        Err(e) => {
            log::error!("{e}; using node names as grace keys");
            (BTreeMap::new(), PathBuf::from("/var/lib/nfs/ganesha"))
        }
    };
    let me = match pacemaker::local_node_name(ctx) {
        Ok(me) => Some(me),
        Err(e) => {
            log::warn!("{e}; no node is skipped as this one");
            None
        }
    };
    let todo = requests(&n, me.as_deref(), &vips, &root);
    if todo.is_empty() {
        log::debug!("{:?}-{} notification: no grace needed", n.kind, n.operation);
        return;
    }
    // Each request gets a fair share of what is left, so one that keeps failing cannot
    // starve the others.
    let count = todo.len();
    let missing: Vec<&str> = todo.iter().filter_map(|r| r.missing.as_deref()).collect();
    if !missing.is_empty() {
        let text = missing.join("; ");
        log::error!("{text}: its clients cannot reclaim their locks");
        if let Err(e) = attrd::update(WARNING_ATTR, &text, None, &ctx.deadline) {
            log::warn!("cannot set {WARNING_ATTR}: {e}");
        }
    }
    for (i, req) in todo.iter().enumerate() {
        let share = ctx.deadline.remaining() / (count - i) as u32;
        if !enter_grace(req, Instant::now() + share) {
            continue;
        }
        // Only now may the failed node's ganesha_mon let its VIP go (it waits for this).
        if let Some(node) = &req.failed {
            let ack = grace_ack_attr(node);
            match attrd::update(&ack, "1", None, &ctx.deadline) {
                Ok(()) => log::info!("{ack} set: grace for {node} acknowledged"),
                Err(e) => log::warn!(
                    "cannot acknowledge grace for {node} ({e}): its address moves after grace_delay"
                ),
            }
        }
    }
}

/// Ask ganesha until it says yes or `until` passes. Returns whether grace was entered.
fn enter_grace(req: &Request, until: Instant) -> bool {
    let mut backoff = Backoff::doubling(FIRST_PAUSE, MAX_PAUSE);
    let mut attempt = 0u32;
    let started = Instant::now();
    loop {
        attempt += 1;
        let limit = until
            .saturating_duration_since(Instant::now())
            .min(CALL_CAP);
        if limit.is_zero() {
            log::error!(
                "ganesha.nfsd not put into grace for {} (grace \"{}\"): no time left in the notify budget",
                req.what,
                req.arg
            );
            return false;
        }
        match admin::grace(&req.arg, limit) {
            Ok(message) => {
                log::info!(
                    "ganesha.nfsd entered grace for {} (grace \"{}\": {message}; attempt {attempt}, {} ms)",
                    req.what,
                    req.arg,
                    started.elapsed().as_millis()
                );
                return true;
            }
            // The local ganesha is dead (its pid file names no live ganesha.nfsd): no retry
            // can bring grace, and Pacemaker holds the whole transition for this notify.
            Err(e) if e.is_retryable() && local_ganesha_gone().is_some() => {
                log::error!(
                    "ganesha.nfsd not put into grace for {} (grace \"{}\"): {e}; {} (no retry)",
                    req.what,
                    req.arg,
                    local_ganesha_gone().unwrap_or_default()
                );
                return false;
            }
            Err(e)
                if e.is_retryable()
                    && until.saturating_duration_since(Instant::now()) > backoff.pause() =>
            {
                log::warn!(
                    "grace \"{}\" for {}, attempt {attempt}: {e}; retrying in {} ms",
                    req.arg,
                    req.what,
                    backoff.pause().as_millis()
                );
                std::thread::sleep(backoff.advance());
            }
            Err(e) => {
                log::error!(
                    "ganesha.nfsd not put into grace for {} (grace \"{}\"): {e} (after {attempt} attempts, {} ms)",
                    req.what,
                    req.arg,
                    started.elapsed().as_millis()
                );
                return false;
            }
        }
    }
}

/// Why the local ganesha.nfsd is known to be gone: a pid file that names no live ganesha
/// (a crash leaves it behind). None when it runs, or when no pid file is found (it may be
/// kept where we do not look: then retrying is the safe side).
fn local_ganesha_gone() -> Option<String> {
    use crate::ganesha::{pid, Liveness, NotRunning};
    match pid::liveness(None) {
        Liveness::Running { .. }
        | Liveness::Stopped(NotRunning::NoPidFile { .. } | NotRunning::Unreadable { .. }) => None,
        Liveness::Stopped(why) => Some(format!("the local ganesha.nfsd is gone: {why}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ocf::OcfEnv;

    fn notification(pairs: &[(&str, &str)]) -> Notification {
        let env = OcfEnv::from_pairs(
            pairs
                .iter()
                .map(|(k, v)| (format!("OCF_RESKEY_CRM_meta_notify_{k}"), v.to_string())),
        );
        Notification::from_env(&env).expect("a notification")
    }

    #[test]
    fn node_vips_parse_and_reject() {
        let m = parse_node_vips("node1=10.0.0.1, node2=10.0.0.2/24 n3=fe80::1").unwrap();
        assert_eq!(m.len(), 3);
        assert_eq!(m["node2"].to_string(), "10.0.0.2");
        assert!(parse_node_vips("").unwrap().is_empty());
        assert!(parse_node_vips("node1").is_err());
        assert!(parse_node_vips("=1.2.3.4").is_err());
        assert!(parse_node_vips("n=not-an-ip").is_err());
        assert!(parse_node_vips("n=1.1.1.1 n=2.2.2.2").is_err());
    }

    #[test]
    fn post_stop_asks_once_per_other_stopped_node() {
        let n = notification(&[
            ("type", "post"),
            ("operation", "stop"),
            ("stop_resource", "g:1 g:2 g:0"),
            ("stop_uname", "node2 node3 node1"),
        ]);
        let vips = parse_node_vips("node2=10.77.0.102").unwrap();
        let r = requests(&n, Some("node1"), &vips, Path::new("/nonexistent"));
        let args: Vec<&str> = r.iter().map(|r| r.arg.as_str()).collect();
        assert_eq!(args, vec!["5:10.77.0.102", "node3"]);
    }

    #[test]
    fn the_key_follows_the_recovery_layout_it_can_see() {
        let dir = std::env::temp_dir().join(format!("ocfbox-grace-key-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("node2")).unwrap();
        std::fs::create_dir_all(dir.join("10.0.0.3")).unwrap();
        // ganesha-ha.sh's layout (node names) wins over a node_vips entry it lacks
        assert_eq!(
            grace_key(&dir, "node2", Some("10.0.0.2")),
            ("node2".into(), None)
        );
        assert_eq!(grace_key(&dir, "node2", None), ("node2".into(), None));
        assert_eq!(
            grace_key(&dir, "node3", Some("10.0.0.3")),
            ("5:10.0.0.3".into(), None)
        );
        let (arg, warning) = grace_key(&dir, "node4", None);
        assert_eq!(arg, "node4");
        assert!(warning.unwrap().contains("no directory node4"));
        let (arg, warning) = grace_key(&dir, "node5", Some("10.0.0.5"));
        assert_eq!(arg, "5:10.0.0.5");
        assert!(warning.is_some());
        // an invisible root: node_vips decides, nothing to warn about
        assert_eq!(
            grace_key(&dir.join("nope"), "node2", Some("10.0.0.2")),
            ("5:10.0.0.2".into(), None)
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn empty_lists_and_other_operations_ask_nothing() {
        let n = notification(&[
            ("type", "post"),
            ("operation", "stop"),
            ("stop_resource", " "),
            ("stop_uname", " "),
        ]);
        assert!(requests(
            &n,
            Some("node1"),
            &BTreeMap::new(),
            Path::new("/nonexistent")
        )
        .is_empty());
        let n = notification(&[
            ("type", "post"),
            ("operation", "start"),
            ("stop_uname", "node2"),
            ("stop_resource", "g:1"),
        ]);
        assert!(requests(
            &n,
            Some("node1"),
            &BTreeMap::new(),
            Path::new("/nonexistent")
        )
        .is_empty());
        let n = notification(&[
            ("type", "post"),
            ("operation", "stop"),
            ("stop_uname", "node1"),
            ("stop_resource", "g:0"),
        ]);
        assert!(requests(
            &n,
            Some("node1"),
            &BTreeMap::new(),
            Path::new("/nonexistent")
        )
        .is_empty());
    }

    #[test]
    fn pre_start_without_stops_is_one_plain_grace() {
        let n = notification(&[
            ("type", "pre"),
            ("operation", "start"),
            ("stop_uname", " "),
            ("stop_resource", " "),
            ("start_uname", "node2"),
            ("start_resource", "g:1"),
        ]);
        let r = requests(
            &n,
            Some("node1"),
            &BTreeMap::new(),
            Path::new("/nonexistent"),
        );
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].arg, "0:");
        assert!(r[0].what.contains("node2"));
    }
}
