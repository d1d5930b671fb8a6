//! alert_nova: a Pacemaker alert agent (named like Pacemaker's own alert_*.sh samples,
//! installed beside them) that links cluster events to Nova, for clusters that fence
//! compute nodes with power fencing only (no fence_nova in the topology).
//!
//! Pacemaker runs it on every full node, as hacluster, after each event (never before: a
//! fencing that fails sends no success), with its instance attributes as plain variables
//! (the credential options of fence_nova / NovaEvacuate). It reacts to three things:
//!   - a successful fencing (`off`/`reboot`, not unfencing) of a node Nova knows as a
//!     compute host: the same effect as fence_nova's off (instance_ha::fencing);
//!   - the nova-compute resource failed there for good (its start failed, or a failed
//!     monitor reached migration-threshold): the service is disabled with the reason
//!     `ocfbox nova-compute failed <epoch>` so the scheduler stops placing instances there;
//!   - the nova-compute resource runs there again: enabled, only if that reason is still ours.
//!
//! Once across nodes: the node ranked first (the DC, else the first online member by name,
//! the event's target excluded) acts at once; the others wait `backup_delay` per rank and
//! then act only if Nova shows it is still undone, so the work is done also when the
//! first node was the one fenced or the DC changed meanwhile. Every call draws from
//! `budget` (under the alert's 30 s timeout); a run that cannot finish leaves a note in
//! `state_dir` that the next run completes.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::alert::{AlertAgent, AlertError, AlertEvent, AlertKind};
use crate::instance_ha::fencing::{self, FencingError, Marked};
use crate::instance_ha::hosts::MatchError;
use crate::instance_ha::marker::Marker;
use crate::instance_ha::now_epoch;
use crate::ocf::params::{parse_bool, printable};
use crate::ocf::{process, Deadline, OcfEnv};
use crate::openstack::{AuthConfig, CredentialParams, Interface, Secret, ServiceStatus, Session};
use crate::pacemaker;

pub struct AlertNova;

const NAME: &str = "alert_nova";
/// Kept back from the budget for the note of an unfinished run.
const RESERVE: Duration = Duration::from_secs(2);
/// A marker this much older than the fencing still belongs to it (fence_nova in the same
/// topology level wrote it before the fencing completed).
const SAME_FENCING_S: u64 = 60;
/// No Pacemaker tool call may take longer.
const TOOL_CAP: Duration = Duration::from_secs(5);

impl AlertAgent for AlertNova {
    fn name(&self) -> &str {
        NAME
    }

    fn shortdesc(&self) -> &str {
        "Alert agent: fenced compute nodes and failed nova-compute resources, told to Nova"
    }

    fn handle(&self, event: &AlertEvent) -> Result<(), AlertError> {
        let env = OcfEnv::from_process();
        crate::ocf::log::init(crate::ocf::log::LogConfig::from_env(&env, NAME, false));
        let cfg = Config::read(&env)?;
        let dl = Deadline::within(cfg.budget);
        let work = classify(event, &cfg);
        let mut problems = Vec::new();
        // Unfinished work of earlier runs first, while the budget is fresh.
        for note in cfg.notes.pending() {
            if note == work {
                continue;
            }
            match perform(&cfg, &note, &dl) {
                Ok(done) => {
                    log::info!(
                        "{}: {done} (left unfinished by an earlier run)",
                        note.node()
                    );
                    cfg.notes.remove(&note);
                }
                Err(e) => problems.push(format!("{}: still unfinished: {e}", note.node())),
            }
        }
        if let Work::Ignore(why) = &work {
            log::debug!("ignored: {why}");
            return finish(problems);
        }
        let node = work.node().to_string();
        // Write-ahead: if this run is killed at the alert timeout, the note remains.
        cfg.notes.add(&work);
        let rank = rank(&cfg, &node);
        if rank > 0 {
            let wait = (cfg.backup_delay * rank as u32).min(
                dl.remaining()
                    .saturating_sub(RESERVE + Duration::from_secs(5)),
            );
            log::debug!(
                "{node}: backup number {rank}, looking again in {} ms",
                wait.as_millis()
            );
            std::thread::sleep(wait);
        }
        match perform(&cfg, &work, &dl) {
            Ok(done) => {
                log::info!("{node}: {done}");
                cfg.notes.remove(&work);
            }
            Err(e) => problems.push(format!(
                "{node}: {e} (noted in {}: the next alert run completes it)",
                cfg.notes.dir.display()
            )),
        }
        finish(problems)
    }
}

fn finish(problems: Vec<String>) -> Result<(), AlertError> {
    if problems.is_empty() {
        return Ok(());
    }
    for p in &problems {
        log::error!("{p}");
    }
    Err(AlertError(problems.join("; ")))
}

/// The alert's instance attributes.
struct Config {
    auth: Result<AuthConfig, String>,
    domain: Option<String>,
    /// When set, only these nodes are compute nodes (no Nova lookup for the others).
    nodes: Option<Vec<String>>,
    /// Resource ids that are nova-compute.
    compute_resources: Vec<String>,
    budget: Duration,
    backup_delay: Duration,
    notes: Notes,
}

impl Config {
    fn read(env: &OcfEnv) -> Result<Config, AlertError> {
        let s = |k: &str| env.var(k).map(str::to_string);
        let list = |k: &str| {
            s(k).map(|v| {
                v.split([',', ' '])
                    .filter(|x| !x.is_empty())
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
        };
        let secs = |k: &str, default: f64| -> Result<Duration, AlertError> {
            match s(k) {
                None => Ok(Duration::from_secs_f64(default)),
                Some(v) => v
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite() && *x >= 0.0)
                    .map(Duration::from_secs_f64)
                    .ok_or_else(|| {
                        AlertError(format!("{k} must be seconds, got '{}'", printable(&v)))
                    }),
            }
        };
        let insecure = match s("insecure") {
            None => None,
            Some(v) => Some(parse_bool(&v).ok_or_else(|| {
                AlertError(format!(
                    "insecure must be a boolean, got '{}'",
                    printable(&v)
                ))
            })?),
        };
        if let Some(t) = s("endpoint_type") {
            if Interface::parse(&t).is_none() {
                return Err(AlertError(format!(
                    "endpoint_type must be publicURL, internalURL or adminURL, got '{}'",
                    printable(&t)
                )));
            }
        }
        let creds = CredentialParams {
            auth_url: s("auth_url"),
            username: s("username"),
            password: s("password").map(Secret::new),
            password_file: s("password_file"),
            project_name: s("tenant_name").or(s("project_name")),
            user_domain: s("user_domain"),
            project_domain: s("project_domain"),
            region_name: s("region_name"),
            endpoint_type: s("endpoint_type"),
            insecure,
            ca_file: s("ca_file"),
            os_cloud: s("os_cloud"),
            application_credential_id: s("application_credential_id"),
            application_credential_secret: s("application_credential_secret").map(Secret::new),
            ..Default::default()
        };
        Ok(Config {
            // A credentials problem is reported by the run that needs Nova, not by every
            // attribute alert.
            auth: AuthConfig::from_params(&creds).map_err(|e| e.to_string()),
            domain: s("domain"),
            nodes: list("nodes"),
            compute_resources: list("compute_resources")
                .unwrap_or_else(|| vec!["nova-compute".into(), "nova_compute".into()]),
            budget: secs("budget", 25.0)?,
            backup_delay: secs("backup_delay", 5.0)?,
            notes: Notes {
                dir: PathBuf::from(
                    s("state_dir").unwrap_or_else(|| "/var/lib/pacemaker/ocfbox/alert_nova".into()),
                ),
            },
        })
    }

    fn is_compute_resource(&self, rsc: &str) -> bool {
        // A clone instance is `id:N`.
        let id = rsc.split(':').next().unwrap_or(rsc);
        self.compute_resources.iter().any(|r| r == id)
    }
}

/// What an event asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Work {
    /// Fenced at `epoch` (the event's timestamp).
    Fenced {
        node: String,
        epoch: u64,
    },
    ComputeFailed {
        node: String,
        epoch: u64,
    },
    ComputeRunning {
        node: String,
    },
    Ignore(String),
}

impl Work {
    fn node(&self) -> &str {
        match self {
            Work::Fenced { node, .. }
            | Work::ComputeFailed { node, .. }
            | Work::ComputeRunning { node } => node,
            Work::Ignore(_) => "",
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Work::Fenced { .. } => "fenced",
            Work::ComputeFailed { .. } => "compute-failed",
            Work::ComputeRunning { .. } => "compute-running",
            Work::Ignore(_) => "ignore",
        }
    }
}

fn classify(e: &AlertEvent, cfg: &Config) -> Work {
    let Some(node) = e.node().map(str::to_string) else {
        return Work::Ignore("no CRM_alert_node".into());
    };
    if let Some(nodes) = &cfg.nodes {
        if !nodes.iter().any(|n| n.eq_ignore_ascii_case(&node)) {
            return Work::Ignore(format!("{node} is not a compute node (nodes)"));
        }
    }
    let epoch = e
        .var("timestamp_epoch")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(now_epoch);
    match e.kind {
        AlertKind::Fencing => {
            if e.rc() != Some(0) {
                return Work::Ignore(format!("fencing of {node} did not succeed"));
            }
            // The task is st_notify_fence; the action only shows in the description,
            // "Operation <action> of <target> by ...". Unfencing (on) is not a failure.
            let op = e
                .var("desc")
                .and_then(|d| d.strip_prefix("Operation "))
                .and_then(|d| d.split_whitespace().next())
                .unwrap_or("off");
            if !matches!(op, "off" | "reboot" | "poweroff") {
                return Work::Ignore(format!("fencing action '{op}' of {node}"));
            }
            Work::Fenced { node, epoch }
        }
        AlertKind::Resource => {
            let rsc = e.var("rsc").unwrap_or("");
            if !cfg.is_compute_resource(rsc) {
                return Work::Ignore(format!("resource {rsc} is not nova-compute"));
            }
            let status: i32 = e.var("status").and_then(|s| s.parse().ok()).unwrap_or(0);
            let rc = e.rc().unwrap_or(0);
            let task = e.var("task").unwrap_or("");
            // 1 = cancelled: the recurring monitor ending, not a result.
            if status == 1 {
                return Work::Ignore("cancelled operation".into());
            }
            let ok = status == 0 && rc == 0;
            match (task, ok) {
                ("start", true) | ("monitor", true) => Work::ComputeRunning { node },
                ("start", false) => Work::ComputeFailed { node, epoch },
                ("monitor", false) if monitor_failed_for_good(rsc, &node) => {
                    Work::ComputeFailed { node, epoch }
                }
                _ => Work::Ignore(format!("{rsc} {task} on {node}: nothing for Nova")),
            }
        }
        AlertKind::Node | AlertKind::Attribute => Work::Ignore("node/attribute event".into()),
    }
}

/// A failed monitor is for good when the fail count reached migration-threshold (then
/// Pacemaker does not restart it on that node). The count may land just after the alert.
fn monitor_failed_for_good(rsc: &str, node: &str) -> bool {
    let id = rsc.split(':').next().unwrap_or(rsc);
    let tool = |args: &[&str]| -> Option<String> {
        let argv: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let out = process::run(&argv, TOOL_CAP).ok()?;
        out.success().then(|| out.stdout.trim().to_string())
    };
    let threshold = match tool(&[
        "crm_resource",
        "-r",
        id,
        "--meta",
        "-g",
        "migration-threshold",
    ]) {
        Some(t) if !t.is_empty() && !t.eq_ignore_ascii_case("INFINITY") => match t.parse::<u64>() {
            Ok(n) if n > 0 => n,
            _ => return false,
        },
        _ => return false,
    };
    for _ in 0..10 {
        let count = tool(&["crm_failcount", "-G", "-q", "-r", id, "-N", node])
            .map(|c| {
                if c.eq_ignore_ascii_case("INFINITY") {
                    u64::MAX
                } else {
                    c.parse().unwrap_or(0)
                }
            })
            .unwrap_or(0);
        if count >= threshold {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    false
}

/// 0: act now; n: the n-th backup. The DC first, then online members by name; the event's
/// own target never counts (it may be a full node that was just fenced).
fn rank(cfg: &Config, target: &str) -> usize {
    let Ok(local) = pacemaker::node_name(TOOL_CAP) else {
        return 1;
    };
    let Ok(m) = pacemaker::membership(TOOL_CAP.min(cfg.budget / 4)) else {
        return 1;
    };
    rank_in(&local, &m, target)
}

fn rank_in(local: &str, m: &pacemaker::Membership, target: &str) -> usize {
    let mut order: Vec<&str> = m
        .online_members
        .iter()
        .map(String::as_str)
        .filter(|n| *n != target)
        .collect();
    order.sort_unstable();
    if let Some(dc) = m.dc.as_deref().filter(|d| *d != target) {
        if let Some(i) = order.iter().position(|n| *n == dc) {
            let dc = order.remove(i);
            order.insert(0, dc);
        }
    }
    order
        .iter()
        .position(|n| *n == local)
        .unwrap_or(order.len())
}

/// Do (or find done) one piece of work; the text says which.
fn perform(cfg: &Config, work: &Work, dl: &Deadline) -> Result<String, String> {
    let auth = cfg.auth.as_ref().map_err(|e| e.clone())?;
    let session = Session::connect(auth, dl).map_err(|e| e.to_string())?;
    let compute = session.compute();
    let svc = match fencing::service_of(&compute, work.node(), cfg.domain.as_deref(), dl) {
        Ok(s) => s,
        Err(FencingError::Host(MatchError::NotFound(_))) => {
            return Ok("not a compute host in Nova: ignored".into())
        }
        Err(e) => return Err(e.to_string()),
    };
    let marker = svc.disabled_reason.as_deref().and_then(Marker::parse);
    match work {
        Work::Fenced { node, epoch } => {
            let this_fencing = marker.is_some_and(|m| {
                !matches!(m, Marker::ComputeFailed(_))
                    && m.epoch() + SAME_FENCING_S >= *epoch
                    && (m.is_open() || svc.status == ServiceStatus::Disabled)
            });
            if this_fencing && svc.forced_down {
                return Ok(format!(
                    "already recorded in Nova ('{}')",
                    svc.disabled_reason.as_deref().unwrap_or("")
                ));
            }
            let marked = fencing::mark_in_nova(&compute, &svc, now_epoch(), dl)
                .map_err(|e| e.to_string())?;
            if let Marked::AlreadyRequested(m) = marked {
                return Ok(format!("already recorded in Nova ('{m}')"));
            }
            let attr = match fencing::request_attribute(node, dl) {
                Ok(()) => "evacuate=yes".to_string(),
                Err(e) => format!("attribute not set ({e}); NovaEvacuate reads the marker"),
            };
            Ok(format!(
                "fenced: forced down and disabled ('{}'), {attr}",
                marked.marker()
            ))
        }
        Work::ComputeFailed { epoch, .. } => {
            if svc.status == ServiceStatus::Disabled {
                return Ok(format!(
                    "nova-compute failed; the service is already disabled ('{}')",
                    svc.disabled_reason.as_deref().unwrap_or("")
                ));
            }
            let m = Marker::ComputeFailed(*epoch);
            compute
                .disable(&svc, &m.to_string(), dl)
                .map_err(|e| e.to_string())?;
            Ok(format!("nova-compute failed for good: disabled ('{m}')"))
        }
        Work::ComputeRunning { .. } => match marker {
            Some(Marker::ComputeFailed(_)) if svc.status == ServiceStatus::Disabled => {
                compute.enable(&svc, dl).map_err(|e| e.to_string())?;
                Ok("nova-compute runs again: enabled".into())
            }
            _ => Ok("nova-compute runs; nothing of ours to undo".into()),
        },
        Work::Ignore(why) => Ok(why.clone()),
    }
}

/// Unfinished work, one file per (kind, node) in the state directory (hacluster's).
struct Notes {
    dir: PathBuf,
}

impl Notes {
    fn path(&self, w: &Work) -> PathBuf {
        let safe = crate::instance_ha::records::file_safe(w.node());
        self.dir.join(format!("{}@{safe}", w.kind()))
    }

    fn add(&self, w: &Work) {
        let epoch = match w {
            Work::Fenced { epoch, .. } | Work::ComputeFailed { epoch, .. } => *epoch,
            _ => now_epoch(),
        };
        let text = format!("kind={}\nnode={}\nepoch={epoch}\n", w.kind(), w.node());
        if let Err(e) = write_private(&self.dir, &self.path(w), &text) {
            log::warn!("cannot keep a note in {}: {e}", self.dir.display());
        }
    }

    fn remove(&self, w: &Work) {
        let p = self.path(w);
        if let Err(e) = std::fs::remove_file(&p) {
            if e.kind() != std::io::ErrorKind::NotFound {
                log::warn!("cannot remove {}: {e}", p.display());
            }
        }
    }

    fn pending(&self) -> Vec<Work> {
        let Ok(rd) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for entry in rd.flatten() {
            let Ok(text) = std::fs::read_to_string(entry.path()) else {
                continue;
            };
            let get = |k: &str| {
                text.lines()
                    .find_map(|l| l.strip_prefix(&format!("{k}=")))
                    .map(str::to_string)
            };
            let (Some(kind), Some(node)) = (get("kind"), get("node")) else {
                continue;
            };
            let epoch = get("epoch").and_then(|e| e.parse().ok()).unwrap_or(0);
            out.push(match kind.as_str() {
                "fenced" => Work::Fenced { node, epoch },
                "compute-failed" => Work::ComputeFailed { node, epoch },
                "compute-running" => Work::ComputeRunning { node },
                _ => continue,
            });
        }
        out
    }
}

/// Create `dir` (0700) and write `path` (0600) atomically.
fn write_private(dir: &Path, path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> Config {
        Config {
            auth: Err("none".into()),
            domain: None,
            nodes: None,
            compute_resources: vec!["nova-compute".into()],
            budget: Duration::from_secs(25),
            backup_delay: Duration::from_secs(5),
            notes: Notes {
                dir: PathBuf::from("/nonexistent"),
            },
        }
    }

    fn ev(pairs: &[(&str, &str)]) -> AlertEvent {
        AlertEvent::from_vars(
            pairs
                .iter()
                .map(|(k, v)| (format!("CRM_alert_{k}"), v.to_string())),
        )
        .unwrap()
    }

    #[test]
    fn fencing_events() {
        let c = cfg();
        let fenced = ev(&[
            ("kind", "fencing"),
            ("node", "compute-1"),
            ("rc", "0"),
            ("task", "st_notify_fence"),
            ("timestamp_epoch", "100"),
            ("desc", "Operation reboot of compute-1 by ctl-0 for pacemaker-controld.57@ctl-0: OK (ref=x)"),
        ]);
        assert_eq!(
            classify(&fenced, &c),
            Work::Fenced {
                node: "compute-1".into(),
                epoch: 100
            }
        );
        let failed = ev(&[("kind", "fencing"), ("node", "compute-1"), ("rc", "-61")]);
        assert!(matches!(classify(&failed, &c), Work::Ignore(_)));
        let unfence = ev(&[
            ("kind", "fencing"),
            ("node", "compute-1"),
            ("rc", "0"),
            ("desc", "Operation on of compute-1 by ctl-0 for x: OK"),
        ]);
        assert!(matches!(classify(&unfence, &c), Work::Ignore(_)));
        let mut only = cfg();
        only.nodes = Some(vec!["compute-2".into()]);
        assert!(matches!(classify(&fenced, &only), Work::Ignore(_)));
    }

    #[test]
    fn nova_compute_resource_events() {
        let c = cfg();
        let r = |task: &str, rc: &str, status: &str, rsc: &str| {
            classify(
                &ev(&[
                    ("kind", "resource"),
                    ("node", "compute-1"),
                    ("rsc", rsc),
                    ("task", task),
                    ("rc", rc),
                    ("status", status),
                    ("timestamp_epoch", "7"),
                ]),
                &c,
            )
        };
        assert_eq!(
            r("start", "1", "0", "nova-compute"),
            Work::ComputeFailed {
                node: "compute-1".into(),
                epoch: 7
            }
        );
        assert_eq!(
            r("start", "0", "2", "nova-compute:1"),
            Work::ComputeFailed {
                node: "compute-1".into(),
                epoch: 7
            }
        );
        assert_eq!(
            r("start", "0", "0", "nova-compute"),
            Work::ComputeRunning {
                node: "compute-1".into()
            }
        );
        assert!(matches!(
            r("monitor", "7", "1", "nova-compute"),
            Work::Ignore(_)
        ));
        assert!(matches!(
            r("stop", "0", "0", "nova-compute"),
            Work::Ignore(_)
        ));
        assert!(matches!(r("start", "1", "0", "httpd"), Work::Ignore(_)));
    }

    #[test]
    fn the_dc_first_then_by_name_never_the_target() {
        let m = pacemaker::Membership {
            dc: Some("ctl-2".into()),
            online_members: vec!["ctl-1".into(), "ctl-2".into(), "ctl-0".into()],
        };
        assert_eq!(rank_in("ctl-2", &m, "compute-1"), 0);
        assert_eq!(rank_in("ctl-0", &m, "compute-1"), 1);
        assert_eq!(rank_in("ctl-1", &m, "compute-1"), 2);
        // The DC itself was fenced: the next in line acts at once.
        assert_eq!(rank_in("ctl-0", &m, "ctl-2"), 0);
        let no_dc = pacemaker::Membership { dc: None, ..m };
        assert_eq!(rank_in("ctl-0", &no_dc, "compute-1"), 0);
        assert_eq!(rank_in("ctl-9", &no_dc, "compute-1"), 3);
    }
}
