//! NovaCompute: runs nova-compute (through systemd) on a compute node, a clone instance on
//! every compute (usually a pacemaker_remote node), and lets a recovered hypervisor back
//! in only when that is safe.
//!
//! start: the Nova host name (parameter > nova.conf [DEFAULT] host, last file wins > short
//! node name + domain > cluster node name) → wait, within the start timeout, until this
//! host's evacuation is over: its `evacuate` attribute neither `yes` nor in flight, no open
//! ocfbox marker on its service, and no evacuation migration from it still going on (the
//! attribute alone is not trusted: a remote node's attributes are wiped at rejoin), logged
//! once per change → `evacuation_delay` → systemd starts nova-compute (runtime drop-in,
//! job waited for: the SystemdService engine) → unfence in the safe order: clear
//! forced_down, retrying while Nova answers 400 (from Xena it refuses until nova-compute
//! has marked its evacuations completed, which it does at start-up), then, once Nova
//! reports the service up, enable it if the disable was ours or the fencing's (never an
//! operator's) → delete the `evacuate` attribute when it says `no`.
//! monitor: the unit is active (7 when stopped, and on a probe where nova-compute is not
//! installed); at OCF_CHECK_LEVEL ≥ 10 also Nova's view (up, not forced down).
//! stop: systemd stops nova-compute, job waited for; never forces the service down (that
//! is fencing's job) and never needs Nova.

use std::borrow::Cow;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::instance_ha::attribute::{self, Value};
use crate::instance_ha::hosts::match_host;
use crate::instance_ha::novaconf;
use crate::instance_ha::readmit::{self, Blocker, DisabledBy};
use crate::ocf::action::Basic as Action;
use crate::ocf::params::printable;
use crate::ocf::{
    Backoff, Context, Deadline, OcfAgent, OcfCode, OcfError, OcfResult, ParamSpec, Params,
};
use crate::openstack::AGENT_CREDENTIAL_SPECS;
use crate::openstack::{
    AuthConfig, CredentialParams, ErrorKind, MigrationFilter, OpenStackError, Service,
    ServiceState, ServiceStatus, Session,
};
use crate::pacemaker::{self, attrd};
use crate::systemd::{outcome, resource, Systemd, UnitName};

pub struct NovaCompute;

/// Where the Nova host name comes from (nova-compute-wait shares them).
pub(crate) const HOST_SPECS: &[ParamSpec] = &[
    ParamSpec::string("host"),
    ParamSpec::string("domain"),
    ParamSpec::string("nova_conf").default(DEFAULT_NOVA_CONF),
    ParamSpec::string("nova_conf_dir").default(DEFAULT_NOVA_CONF_DIR),
    ParamSpec::integer("evacuation_delay").default("0"),
    // accepted for compatibility; Nova detects shared storage itself from 2.14
    ParamSpec::boolean("no_shared_storage").default("false"),
];

const OWN_SPECS: &[ParamSpec] = &[ParamSpec::string("unit")];

const DEFAULT_NOVA_CONF: &str = "/etc/nova/nova.conf";
const DEFAULT_NOVA_CONF_DIR: &str = "/etc/nova/nova.conf.d";
/// The unit names distributions give nova-compute (RDO, then Debian/Ubuntu).
const DEFAULT_UNITS: &[&str] = &["openstack-nova-compute.service", "nova-compute.service"];

/// Kept back from the start's wait for systemd's start job and the unfencing.
const START_RESERVE_CAP: Duration = Duration::from_secs(30);
/// No single Nova or attrd conversation inside the wait takes longer than this.
const ROUND_CAP: Duration = Duration::from_secs(20);

pub(crate) fn specs() -> Vec<ParamSpec> {
    AGENT_CREDENTIAL_SPECS
        .iter()
        .chain(HOST_SPECS)
        .chain(OWN_SPECS)
        .cloned()
        .collect()
}

impl OcfAgent for NovaCompute {
    type Action = Action;

    fn name(&self) -> &str {
        "NovaCompute"
    }

    fn metadata(&self) -> Cow<'static, str> {
        Cow::Borrowed(include_str!("../../ocf-metadata/NovaCompute.xml"))
    }

    fn params(&self) -> Cow<'static, [ParamSpec]> {
        Cow::Owned(specs())
    }

    fn run(&self, action: Action, ctx: &Context<'_>) -> OcfResult<OcfCode> {
        let specs = specs();
        let p = ctx.params(&specs);
        let units = units(&p)?;
        let sd = Systemd::from_env(ctx.env)?;
        match action {
            // stop never needs the rest of the configuration, nor Nova
            Action::Stop => {
                resource::stop(ctx, &sd.keep_connection(), &units)?;
                Ok(OcfCode::Success)
            }
            Action::Monitor => {
                // a broken configuration must not hide a running nova-compute
                let status = resource::running(ctx, &sd, &units, Duration::ZERO)?;
                if ctx.env.check_level() >= 10 {
                    let cfg = Compat::read(&p)?;
                    nova_view(ctx, &cfg, &status.unit)?;
                }
                Ok(OcfCode::Success)
            }
            Action::ValidateAll => {
                let cfg = Compat::read(&p)?;
                cfg.target(ctx)?;
                resource::startable_unit(ctx, &sd, &units)?;
                Ok(OcfCode::Success)
            }
            Action::Start => {
                let cfg = Compat::read(&p)?;
                let target = cfg.target(ctx)?;
                let sd = sd.keep_connection();
                let status = resource::startable_unit(ctx, &sd, &units)?;
                let mut nova = Nova::new(&cfg.auth);
                let seen = if outcome::is_running(&status) {
                    log::info!("{} already runs; unfencing only", status.unit);
                    Seen::default()
                } else {
                    let seen = wait_until_over(ctx, &mut nova, &target, reserve(ctx))?;
                    pause_for_delay(ctx, cfg.evacuation_delay)?;
                    resource::start(ctx, &sd, &status)?;
                    seen
                };
                unfence(ctx, &mut nova, &target, &seen)?;
                clear_attribute(ctx, &target);
                Ok(OcfCode::Success)
            }
        }
    }
}

fn units(p: &Params<'_>) -> OcfResult<Vec<UnitName>> {
    let parse = |raw: &str| {
        UnitName::parse(raw).map_err(|e| OcfError::Configured(format!("parameter 'unit': {e}")))
    };
    match p.string("unit")? {
        Some(u) => Ok(vec![parse(&u)?]),
        None => DEFAULT_UNITS.iter().map(|u| parse(u)).collect(),
    }
}

// ---------------------------------------------------------------------------------------
// Configuration shared with nova-compute-wait

/// The parameters both agents read: credentials and where the host name comes from.
pub(crate) struct Compat {
    pub auth: AuthConfig,
    host: Option<String>,
    domain: Option<String>,
    nova_conf: PathBuf,
    nova_conf_dir: PathBuf,
    pub evacuation_delay: Duration,
}

impl Compat {
    pub fn read(p: &Params<'_>) -> OcfResult<Compat> {
        let creds = CredentialParams::from_ocf(p, AGENT_CREDENTIAL_SPECS)?;
        // endpoint_type is checked there too
        let auth = AuthConfig::from_params(&creds).map_err(OcfError::from)?;
        let host = p.string("host")?.filter(|h| !h.is_empty());
        if let Some(h) = &host {
            if !novaconf::plain_host(h) {
                return Err(OcfError::configured(format!(
                    "parameter 'host': '{}' is not a host name",
                    printable(h)
                )));
            }
        }
        Ok(Compat {
            auth,
            host,
            domain: p
                .string("domain")?
                .map(|d| d.trim_matches('.').to_string())
                .filter(|d| !d.is_empty()),
            nova_conf: PathBuf::from(
                p.string("nova_conf")?
                    .unwrap_or_else(|| DEFAULT_NOVA_CONF.into()),
            ),
            nova_conf_dir: PathBuf::from(
                p.string("nova_conf_dir")?
                    .unwrap_or_else(|| DEFAULT_NOVA_CONF_DIR.into()),
            ),
            evacuation_delay: Duration::from_secs(
                p.integer_in("evacuation_delay", 0..=86_400)?.unwrap_or(0) as u64,
            ),
        })
    }

    /// This host as Nova and the cluster know it.
    pub fn target(&self, ctx: &Context<'_>) -> OcfResult<Target> {
        let node = pacemaker::local_node_name(ctx)?;
        let (nova_host, from) = if let Some(h) = &self.host {
            (h.clone(), "the host parameter".to_string())
        } else {
            let files = novaconf::files(&self.nova_conf, &self.nova_conf_dir);
            match novaconf::host(&files).map_err(|e| OcfError::Configured(e.to_string()))? {
                Some((h, path)) => (h, format!("{}", path.display())),
                None => match &self.domain {
                    Some(d) => (
                        format!("{}.{d}", node.split('.').next().unwrap_or(&node)),
                        "the node name and domain".to_string(),
                    ),
                    None => (node.clone(), "the cluster node name".to_string()),
                },
            }
        };
        log::debug!("Nova host name {nova_host} (from {from}); cluster node {node}");
        Ok(Target {
            nova_host,
            node,
            domain: self.domain.clone(),
        })
    }
}

/// This compute host: its Nova service host name and its cluster node name (the
/// `evacuate` attribute may be keyed by either: fence_compute uses the name it fenced).
pub(crate) struct Target {
    pub nova_host: String,
    pub node: String,
    domain: Option<String>,
}

impl Target {
    fn attribute_keys(&self) -> Vec<&str> {
        let mut keys = vec![self.nova_host.as_str()];
        if self.node != self.nova_host {
            keys.push(self.node.as_str());
        }
        keys
    }
}

pub(crate) fn reserve(ctx: &Context<'_>) -> Duration {
    (ctx.env.op_timeout() / 4).min(START_RESERVE_CAP)
}

// ---------------------------------------------------------------------------------------
// Nova, connected lazily and again after a failure

pub(crate) struct Nova<'a> {
    auth: &'a AuthConfig,
    session: Option<Session>,
}

impl<'a> Nova<'a> {
    pub fn new(auth: &'a AuthConfig) -> Nova<'a> {
        Nova {
            auth,
            session: None,
        }
    }

    fn session(&mut self, dl: &Deadline) -> Result<&Session, OpenStackError> {
        if self.session.is_none() {
            self.session = Some(Session::connect(self.auth, dl)?);
        }
        self.session
            .as_ref()
            .ok_or_else(|| OpenStackError::Unsupported("no session".into()))
    }

    /// This host's nova-compute service (None: Nova does not know the host yet).
    fn service(&mut self, t: &Target, dl: &Deadline) -> Result<Option<Service>, OpenStackError> {
        let result = self.session(dl).and_then(|s| {
            let all = s.compute().services(Some("nova-compute"), None, dl)?;
            let hosts: Vec<&str> = all.iter().map(|s| s.host.as_str()).collect();
            let found = match_host(&t.nova_host, &hosts, t.domain.as_deref())
                .ok()
                .map(str::to_string);
            Ok(found.and_then(|h| all.into_iter().find(|s| s.host == h)))
        });
        if result.is_err() {
            self.session = None;
        }
        result
    }

    /// (instance, status) of every evacuation migration whose source is `host`.
    fn evacuations(
        &mut self,
        host: &str,
        dl: &Deadline,
    ) -> Result<Vec<(String, String)>, OpenStackError> {
        let result = self.session(dl).and_then(|s| {
            let filter = MigrationFilter {
                source_compute: Some(host.to_string()),
                migration_type: Some("evacuation".into()),
                ..Default::default()
            };
            let list = s.compute().migrations(&filter, dl)?;
            Ok(list
                .into_iter()
                .filter(|m| m.source_compute.as_deref() == Some(host))
                .filter(|m| m.migration_type.as_deref().unwrap_or("evacuation") == "evacuation")
                .map(|m| (m.instance_uuid, m.status))
                .collect())
        });
        if result.is_err() {
            self.session = None;
        }
        result
    }
}

// ---------------------------------------------------------------------------------------
// start: the wait

/// What the wait saw of the host on the way: the unfencing decides with it.
#[derive(Default)]
pub(crate) struct Seen {
    /// The service was forced down (fenced) while we waited.
    forced_down: bool,
    /// The `evacuate` attribute had a value (the host was fenced).
    attribute_set: bool,
}

/// Poll until nothing blocks the host, within the deadline minus `reserve`. Logs what it
/// waits for once per change; an attribute deleted mid-wait simply stops blocking.
pub(crate) fn wait_until_over(
    ctx: &Context<'_>,
    nova: &mut Nova<'_>,
    t: &Target,
    reserve: Duration,
) -> OcfResult<Seen> {
    let started = Instant::now();
    let mut seen = Seen::default();
    let mut last = String::new();
    let mut pause = Backoff::growing(Duration::from_millis(250), Duration::from_secs(2), 3, 2);
    loop {
        let round = Deadline::within(ctx.deadline.budget(ROUND_CAP));
        let mut blockers = Vec::new();
        let mut attrs = Vec::new();
        for key in t.attribute_keys() {
            match attrd::query(attribute::NAME, key, &round) {
                Ok(v) => {
                    if !matches!(Value::parse(v.as_deref()), Value::Empty) {
                        seen.attribute_set = true;
                    }
                    attrs.push((key.to_string(), v));
                }
                Err(e) => blockers.push(format!("cannot read the evacuate attribute: {e}")),
            }
        }
        let mut reason = None;
        match nova.service(t, &round) {
            Ok(Some(svc)) => {
                seen.forced_down |= svc.forced_down;
                reason = svc.disabled_reason;
            }
            Ok(None) => {}
            Err(e) => blockers.push(format!("cannot ask Nova: {e}")),
        }
        let migrations = match nova.evacuations(&t.nova_host, &round) {
            Ok(m) => m,
            Err(e) => {
                blockers.push(format!("cannot list evacuations in Nova: {e}"));
                Vec::new()
            }
        };
        let found: Vec<Blocker> = readmit::blockers(&attrs, reason.as_deref(), &migrations);
        if blockers.is_empty() && found.is_empty() {
            if !last.is_empty() {
                log::info!(
                    "evacuation of {} is over after {} ms of waiting",
                    t.nova_host,
                    started.elapsed().as_millis()
                );
            } else {
                log::debug!("no evacuation of {} to wait for", t.nova_host);
            }
            return Ok(seen);
        }
        let mut all = vec![readmit::describe(&found)];
        all.retain(|s| !s.is_empty());
        all.extend(blockers);
        let now = all.join("; ");
        if now != last {
            log::info!(
                "{}: waiting before starting nova-compute: {now}",
                t.nova_host
            );
            last = now;
        } else {
            log::debug!("{}: still waiting: {last}", t.nova_host);
        }
        let left = ctx.deadline.remaining().saturating_sub(reserve);
        if left <= pause.pause() {
            return Err(OcfError::Generic(format!(
                "{}: evacuation not over after {} ms (the start's time budget): {last}",
                t.nova_host,
                started.elapsed().as_millis()
            )));
        }
        std::thread::sleep(pause.advance().min(left));
    }
}

/// The old agents' fixed pause after the evacuation, kept for compatibility (default 0:
/// completion is checked now).
pub(crate) fn pause_for_delay(ctx: &Context<'_>, delay: Duration) -> OcfResult<()> {
    if delay.is_zero() {
        return Ok(());
    }
    if ctx.deadline.remaining() <= delay + reserve(ctx) {
        return Err(OcfError::Generic(format!(
            "evacuation_delay ({} s) does not fit in what is left of the start's time budget",
            delay.as_secs()
        )));
    }
    log::info!("evacuation_delay: pausing {} s", delay.as_secs());
    std::thread::sleep(delay);
    Ok(())
}

// ---------------------------------------------------------------------------------------
// start: unfencing, in the only order that works from Xena on

fn unfence(ctx: &Context<'_>, nova: &mut Nova<'_>, t: &Target, seen: &Seen) -> OcfResult<()> {
    let host = &t.nova_host;
    let mut pause = Backoff::growing(Duration::from_millis(250), Duration::from_secs(2), 3, 2);
    let mut said = String::new();
    let mut say = |what: String| {
        if what != said {
            log::info!("{host}: {what}");
            said = what;
        }
    };
    let mut forced_down = seen.forced_down;
    loop {
        let round = Deadline::within(ctx.deadline.budget(ROUND_CAP));
        let trouble: Option<String> = match nova.service(t, &round) {
            Ok(None) => {
                log::info!(
                    "{host}: Nova has no nova-compute service for this host (yet): nothing to unfence"
                );
                return Ok(());
            }
            Ok(Some(svc)) if svc.forced_down => {
                forced_down = true;
                let force_up = nova
                    .session(&round)
                    .and_then(|s| s.compute().force_up(&svc, &round));
                match force_up {
                    Ok(()) => {
                        log::info!("{host}: cleared forced_down");
                        None
                    }
                    Err(e) if e.kind() == ErrorKind::BadRequest => {
                        say(format!(
                            "Nova refuses to clear forced_down until nova-compute has completed its evacuations; retrying ({e})"
                        ));
                        None
                    }
                    Err(e) => Some(format!("cannot clear forced_down: {e}")),
                }
            }
            Ok(Some(svc)) if svc.state != ServiceState::Up => {
                say("waiting for Nova to report nova-compute up".into());
                None
            }
            Ok(Some(svc)) => {
                if svc.status == ServiceStatus::Disabled {
                    let fenced = forced_down || seen.attribute_set;
                    match readmit::disabled_by(svc.disabled_reason.as_deref(), fenced) {
                        DisabledBy::Operator(r) => log::warn!(
                            "{host}: left disabled: disabled by an operator ({}), not by fencing",
                            if r.is_empty() {
                                "no reason".to_string()
                            } else {
                                format!("reason '{}'", printable(&r))
                            }
                        ),
                        by => {
                            let s = nova.session(&round).map_err(|e| e.to_string());
                            s.and_then(|s| {
                                s.compute().enable(&svc, &round).map_err(|e| e.to_string())
                            })
                            .map_err(|e| {
                                OcfError::Generic(format!(
                                    "{host}: cannot enable nova-compute: {e}"
                                ))
                            })?;
                            log::info!("{host}: enabled nova-compute ({})", describe_by(&by));
                        }
                    }
                }
                return Ok(());
            }
            Err(e) => Some(format!("cannot ask Nova: {e}")),
        };
        if let Some(e) = trouble {
            say(e);
        }
        let left = ctx.deadline.remaining();
        if left <= pause.pause() {
            return Err(OcfError::Generic(format!(
                "{host}: nova-compute runs, but unfencing did not finish within the start's time budget: {said}"
            )));
        }
        std::thread::sleep(pause.advance().min(left));
    }
}

fn describe_by(by: &DisabledBy) -> String {
    match by {
        DisabledBy::Ocfbox(m) => format!("was disabled '{m}'"),
        DisabledBy::FenceCompute => "was disabled by fence_compute".into(),
        DisabledBy::Operator(r) => format!("was disabled '{r}'"),
    }
}

/// The protocol's last step (the old NovaCompute's `attrd_updater -D`): a `no` left for
/// this host is deleted. Never fails the start.
pub(crate) fn clear_attribute(ctx: &Context<'_>, t: &Target) {
    let dl = Deadline::within(ctx.deadline.budget(Duration::from_secs(10)));
    for key in t.attribute_keys() {
        match attrd::query(attribute::NAME, key, &dl) {
            Ok(Some(v)) if Value::parse(Some(&v)) == Value::No => {
                if let Err(e) = attrd::delete(attribute::NAME, Some(key), &dl) {
                    log::warn!("cannot delete evacuate={v} for {key}: {e}");
                } else {
                    log::info!("deleted evacuate={v} for {key}");
                }
            }
            Ok(_) => {}
            Err(e) => log::warn!("cannot read the evacuate attribute for {key}: {e}"),
        }
    }
}

// ---------------------------------------------------------------------------------------
// monitor at depth 10

fn nova_view(ctx: &Context<'_>, cfg: &Compat, unit: &UnitName) -> OcfResult<()> {
    let t = cfg.target(ctx)?;
    let mut nova = Nova::new(&cfg.auth);
    let dl = Deadline::within(ctx.deadline.budget(ROUND_CAP));
    match nova.service(&t, &dl) {
        // Nova being unreachable is no reason to restart nova-compute everywhere
        Err(e) => {
            log::warn!("{unit} is active; Nova cannot be asked about it: {e}");
            Ok(())
        }
        Ok(None) => Err(OcfError::Generic(format!(
            "{unit} is active but Nova has no nova-compute service for {}",
            t.nova_host
        ))),
        Ok(Some(svc)) if svc.forced_down => Err(OcfError::Generic(format!(
            "{unit} is active but Nova has {} forced down",
            t.nova_host
        ))),
        Ok(Some(svc)) if svc.state != ServiceState::Up => Err(OcfError::Generic(format!(
            "{unit} is active but Nova reports nova-compute on {} down",
            t.nova_host
        ))),
        Ok(Some(_)) => Ok(()),
    }
}
