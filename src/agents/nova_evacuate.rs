//! NovaEvacuate: rebuilds the instances of fenced compute nodes elsewhere. A primitive on
//! the controllers, a drop-in for ocf:openstack:NovaEvacuate (same parameters, actions,
//! timeouts and `evacuate` attribute protocol), talking to Keystone and Nova directly.
//!
//! start records a state file, stop removes it, monitor without it is 7; the monitor does
//! the work, in rounds until nothing it started is still moving (or the budget ends):
//!   1. read `evacuate` on every node and the os-services list;
//!   2. requests = `yes`, abandoned or own in-flight marks, and hosts whose Nova marker
//!      (disabled_reason, see instance_ha::marker) says an evacuation is open — the
//!      attribute may have been purged or this resource may have failed over;
//!   3. the throttle (too many hosts failed at once, or no scheduler): evacuate nothing;
//!   4. per host, only once Nova agrees it is fenced (forced down or down, and disabled):
//!      refresh our in-flight mark, write the Nova marker, honour evacuate_delay, select
//!      the instances, and decide each one from its record, its task_state and its newest
//!      evacuation migration (never a second evacuation while one is in progress);
//!   5. evacuate every instance that is due, all hosts together, `concurrency` at a time;
//!   6. a host whose selected instances are all done (or accepted, complete_when=accepted)
//!      gets the marker `done` and the attribute `no`.
//!
//! Failures back off exponentially (recorded per instance in the state directory) and make
//! the monitor OCF_DEGRADED with a reason naming the hosts; so do the throttle and an
//! unreachable Nova. Nothing here fails the resource: a restart would not help Nova.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::instance_ha::attribute::{self, Request, Value};
use crate::instance_ha::hosts::match_host;
use crate::instance_ha::marker::Marker;
use crate::instance_ha::now_epoch;
use crate::instance_ha::records::{backoff_s, HostRecord, InstanceRecord, Outcome, Store};
use crate::instance_ha::recovery::{self, Method, Target};
use crate::instance_ha::select::{self, Candidate, Tagging};
use crate::instance_ha::throttle::{self, ComputeState, Verdict};
use crate::ocf::params::printable;
use crate::ocf::state::StateFile;
use crate::ocf::{Backoff, Context, Deadline, OcfAgent, OcfCode, OcfError, OcfResult, ParamSpec};
use crate::openstack::AGENT_CREDENTIAL_SPECS;
use crate::openstack::{
    parallel, AuthConfig, Compute, CredentialParams, ErrorKind, EvacuateRequest, Migration,
    MigrationFilter, OpenStackError, ResetState, Server, Service, ServiceState, ServiceStatus,
    Session,
};
use crate::pacemaker::attrd;

pub struct NovaEvacuate;

crate::ocf_actions! {
    /// The old agent's actions (no `status`).
    pub enum Action {
        Start = "start",
        Stop = "stop",
        Monitor = "monitor",
        ValidateAll = "validate-all",
    }
}

/// Its own parameters; the credential ones are `AGENT_CREDENTIAL_SPECS`.
const OWN_SPECS: &[ParamSpec] = &[
    ParamSpec::string("domain"),
    ParamSpec::boolean("no_shared_storage").default("false"),
    ParamSpec::boolean("verbose").default("false"),
    ParamSpec::integer("evacuate_delay").default("0"),
    ParamSpec::integer("concurrency").default("16"),
    ParamSpec::string("recovery_method").default("auto"),
    ParamSpec::string("reserved_hosts"),
    ParamSpec::integer("max_failed_share").default("50"),
    ParamSpec::string("complete_when").default("done"),
    ParamSpec::boolean("instance_opt_in").default("false"),
];

fn specs() -> Vec<ParamSpec> {
    AGENT_CREDENTIAL_SPECS
        .iter()
        .chain(OWN_SPECS)
        .cloned()
        .collect()
}

/// No single round of Nova requests may take longer than this: a hung API must not
/// swallow the whole 600 s monitor.
const ROUND_CAP: Duration = Duration::from_secs(60);
/// Kept back at the end of the monitor to save the records and the attributes.
const FINISH_RESERVE: Duration = Duration::from_secs(5);
/// An accepted evacuation whose migration record never shows up has failed.
const NO_MIGRATION_AFTER_S: u64 = 120;

impl OcfAgent for NovaEvacuate {
    type Action = Action;

    fn name(&self) -> &str {
        "NovaEvacuate"
    }

    fn metadata(&self) -> Cow<'static, str> {
        Cow::Borrowed(include_str!("../../ocf-metadata/NovaEvacuate.xml"))
    }

    fn params(&self) -> Cow<'static, [ParamSpec]> {
        Cow::Owned(specs())
    }

    fn run(&self, action: Action, ctx: &Context<'_>) -> OcfResult<OcfCode> {
        let state = StateFile::for_resource(ctx);
        let store = Store::new(state.path().with_extension("d"));
        match action {
            Action::Start => {
                Config::read(ctx)?;
                state.mark_started()?;
                Ok(OcfCode::Success)
            }
            Action::Stop => {
                // A cleanup error never fails a stop (that would fence the controller).
                if let Err(e) = store.clear() {
                    log::warn!("stop: {e}");
                }
                if let Err(e) = state.remove() {
                    log::warn!("stop: {e}");
                }
                Ok(OcfCode::Success)
            }
            Action::Monitor => {
                state.require_started()?;
                let cfg = Config::read(ctx)?;
                monitor(ctx, &cfg, &store)
            }
            Action::ValidateAll => Config::read(ctx).map(|_| OcfCode::Success),
        }
    }
}

/// The parameters, read and checked (no network: start and validate-all stay local).
struct Config {
    auth: AuthConfig,
    domain: Option<String>,
    verbose: bool,
    on_shared_storage: bool,
    evacuate_delay: u64,
    concurrency: usize,
    method: Method,
    reserved: Vec<String>,
    max_failed_share: u32,
    complete_on_accept: bool,
    opt_in: bool,
}

impl Config {
    fn read(ctx: &Context<'_>) -> OcfResult<Config> {
        let specs = specs();
        let p = ctx.params(&specs);
        let creds = CredentialParams::from_ocf(&p, &specs)?;
        if let Some(t) = creds.endpoint_type.as_deref() {
            if crate::openstack::Interface::parse(t).is_none() {
                return Err(OcfError::configured(format!(
                    "endpoint_type must be publicURL, internalURL or adminURL, got '{}'",
                    printable(t)
                )));
            }
        }
        let auth = AuthConfig::from_params(&creds).map_err(OcfError::from)?;
        let method_word = p.required_string("recovery_method")?;
        let method = Method::parse(&method_word).ok_or_else(|| {
            OcfError::configured(format!(
                "recovery_method must be auto, reserved_host, auto_priority or rh_priority, got '{}'",
                printable(&method_word)
            ))
        })?;
        let reserved: Vec<String> = p
            .string("reserved_hosts")?
            .unwrap_or_default()
            .split([',', ' ', '\t'])
            .filter(|h| !h.is_empty())
            .map(str::to_string)
            .collect();
        if let Some(bad) = reserved.iter().find(|h| !plain_host(h)) {
            return Err(OcfError::configured(format!(
                "reserved_hosts: '{}' is not a host name",
                printable(bad)
            )));
        }
        if method == Method::ReservedHost && reserved.is_empty() {
            return Err(OcfError::configured(
                "recovery_method=reserved_host needs reserved_hosts",
            ));
        }
        let complete_on_accept = match p.required_string("complete_when")?.as_str() {
            "done" => false,
            "accepted" => true,
            other => {
                return Err(OcfError::configured(format!(
                    "complete_when must be done or accepted, got '{}'",
                    printable(other)
                )))
            }
        };
        Ok(Config {
            auth,
            domain: p.string("domain")?,
            verbose: p.boolean("verbose")?,
            on_shared_storage: !p.boolean("no_shared_storage")?,
            evacuate_delay: p.integer_in("evacuate_delay", 0..=86_400)?.unwrap_or(0) as u64,
            concurrency: p.integer_in("concurrency", 1..=256)?.unwrap_or(16) as usize,
            method,
            reserved,
            max_failed_share: p.integer_in("max_failed_share", 1..=100)?.unwrap_or(50) as u32,
            complete_on_accept,
            opt_in: p.boolean("instance_opt_in")?,
        })
    }
}

fn plain_host(h: &str) -> bool {
    h.len() <= 255
        && h.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
}

/// The evacuator's name in the in-flight mark: `uname -n`, as the old agent wrote it.
fn uname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

fn monitor(ctx: &Context<'_>, cfg: &Config, store: &Store) -> OcfResult<OcfCode> {
    let connect_dl = Deadline::within(ctx.deadline.budget(ROUND_CAP));
    let session = match Session::connect(&cfg.auth, &connect_dl) {
        Ok(s) => s,
        Err(e) => return degraded(format!("cannot reach OpenStack: {e}")),
    };
    let mut m = Monitor {
        ctx,
        cfg,
        store,
        nova: session.compute(),
        session: &session,
        me: uname(),
        tagging: None,
        images: BTreeMap::new(),
        marked: BTreeMap::new(),
    };
    let mut pause = Backoff::growing(Duration::from_millis(250), Duration::from_millis(500), 3, 2);
    loop {
        let outcome = match m.round() {
            Ok(o) => o,
            Err(e) => return degraded(e),
        };
        let left = ctx.deadline.remaining();
        if !outcome.moving || left <= FINISH_RESERVE + pause.pause() {
            return match outcome.trouble.is_empty() {
                true => Ok(OcfCode::Success),
                false => degraded(summary(&outcome.trouble)),
            };
        }
        std::thread::sleep(pause.advance());
    }
}

/// The first few problems, then a count: the reason must stay readable in crm_mon (the
/// log has every one).
fn summary(trouble: &[String]) -> String {
    const SHOWN: usize = 4;
    if trouble.len() > SHOWN {
        for t in &trouble[SHOWN..] {
            log::warn!("{t}");
        }
        format!(
            "{}; and {} more",
            trouble[..SHOWN].join("; "),
            trouble.len() - SHOWN
        )
    } else {
        trouble.join("; ")
    }
}

/// OCF_DEGRADED with the reason on the exit-reason line (crm_mon shows it).
fn degraded(reason: String) -> OcfResult<OcfCode> {
    crate::ocf::log::exit_reason(&reason, log::Level::Warn);
    Ok(OcfCode::Degraded)
}

/// What a round found: whether anything it follows is still moving (worth another round
/// within this monitor), and what is wrong (the DEGRADED reason).
struct RoundOutcome {
    moving: bool,
    trouble: Vec<String>,
}

/// One evacuation request to send.
struct Job {
    host: String,
    id: String,
    target: Target,
    reset_first: bool,
}

enum JobResult {
    Accepted {
        reset: bool,
    },
    /// A rebuild is already running (409 and task_state rebuilding): follow it.
    AlreadyRunning {
        reset: bool,
    },
    Failed {
        reset: bool,
        error: String,
    },
}

/// A host the round works on.
struct Work {
    host: String,
    key: String,
    epoch: u64,
    service: Service,
}

struct Monitor<'a> {
    ctx: &'a Context<'a>,
    cfg: &'a Config,
    store: &'a Store,
    session: &'a Session,
    nova: Compute<'a>,
    me: String,
    /// Flavor tags, read once per monitor when first needed.
    tagging: Option<Tagging>,
    /// image id → tagged evacuable, read once per monitor.
    images: BTreeMap<String, bool>,
    /// attribute key → epoch we last wrote our in-flight mark there.
    marked: BTreeMap<String, u64>,
}

impl Monitor<'_> {
    fn round(&mut self) -> Result<RoundOutcome, String> {
        let dl = Deadline::within(
            self.ctx
                .deadline
                .budget(ROUND_CAP)
                .saturating_sub(FINISH_RESERVE / 2),
        );
        let now = now_epoch();
        let attrs = attrd::query_all(attribute::NAME, &dl)
            .map_err(|e| format!("cannot read the evacuate attributes: {e}"))?;
        let services = self
            .nova
            .services(None, None, &dl)
            .map_err(|e| format!("cannot list Nova's services: {e}"))?;
        let computes: Vec<&Service> = services
            .iter()
            .filter(|s| s.binary == "nova-compute")
            .collect();
        let schedulers_up = services
            .iter()
            .filter(|s| s.binary == "nova-scheduler" && s.state == ServiceState::Up)
            .count();
        let hosts: Vec<&str> = computes.iter().map(|s| s.host.as_str()).collect();

        // 2. requests: host → (attribute key, attribute value)
        let mut requests: BTreeMap<String, (String, Value)> = BTreeMap::new();
        let mut busy = BTreeSet::new();
        let mut cancelled = BTreeSet::new();
        let mut unknown = BTreeSet::new();
        for (node, raw) in &attrs {
            let value = Value::parse(Some(raw));
            let request = attribute::classify(&value, &self.me, now);
            if request == Request::Nothing && value != Value::No {
                continue;
            }
            let host = match match_host(node, &hosts, self.cfg.domain.as_deref()) {
                Ok(h) => h.to_string(),
                Err(e) => {
                    if request == Request::Evacuate {
                        unknown.insert(self.note_unknown(node, &e.to_string(), now));
                    }
                    continue;
                }
            };
            match request {
                Request::Evacuate => {
                    requests.insert(host, (node.clone(), value));
                }
                Request::Busy { by, age_s } => {
                    log::debug!("{host}: {by} has been evacuating it for {age_s} s; leaving it");
                    busy.insert(host);
                }
                Request::Nothing => {
                    cancelled.insert(host);
                }
            }
        }
        for svc in &computes {
            let marker = svc.disabled_reason.as_deref().and_then(Marker::parse);
            match marker {
                Some(m) if m.is_open() => {
                    if cancelled.contains(&svc.host) {
                        // `no` was written after our marker (an operator, or a crash of ours
                        // between the two writes): the attribute has the last word.
                        let done = Marker::Done(m.epoch()).to_string();
                        if let Err(e) = self.nova.disable(svc, &done, &dl) {
                            log::warn!("{}: cannot close the marker in Nova: {e}", svc.host);
                        }
                    } else if !busy.contains(&svc.host) && !requests.contains_key(&svc.host) {
                        let rec = self.store.load(&svc.host);
                        if rec.is_none() {
                            log::info!(
                                "{}: resuming the evacuation recorded in Nova ({m}) without an evacuate attribute",
                                svc.host
                            );
                        }
                        let key = rec.and_then(|r| r.node).unwrap_or_else(|| svc.host.clone());
                        requests.insert(svc.host.clone(), (key, Value::Empty));
                    }
                }
                _ => {}
            }
        }
        // Records of hosts nobody asks for any more are old news.
        for rec in self.store.all() {
            if !requests.contains_key(&rec.host)
                && !busy.contains(&rec.host)
                && !unknown.contains(&rec.host)
            {
                if let Err(e) = self.store.remove(&rec.host) {
                    log::warn!("{e}");
                }
            }
        }
        if requests.is_empty() {
            return Ok(RoundOutcome {
                moving: false,
                trouble: Vec::new(),
            });
        }

        // 3. the throttle
        let view: Vec<ComputeState<'_>> = computes
            .iter()
            .map(|s| ComputeState {
                host: &s.host,
                down: s.state == ServiceState::Down || s.forced_down,
                marked: requests.contains_key(&s.host),
            })
            .collect();
        if let Verdict::Hold(why) = throttle::judge(&view, schedulers_up, self.cfg.max_failed_share)
        {
            return Ok(RoundOutcome {
                moving: false,
                trouble: vec![why],
            });
        }

        // 4. the Nova gate; marks, markers and the hosts' contents are fetched below in one
        // parallel wave (every request on the critical path costs a round trip)
        let mut tasks: Vec<Task> = Vec::new();
        let mut works = Vec::new();
        let mut trouble = Vec::new();
        let mut moving = false;
        for (host, (key, value)) in &requests {
            let Some(svc) = computes.iter().find(|s| &s.host == host) else {
                continue;
            };
            let marker = svc.disabled_reason.as_deref().and_then(Marker::parse);
            let mut rec = self.store.load(host).unwrap_or_else(|| {
                HostRecord::new(
                    host,
                    Some(key),
                    marker.filter(|m| m.is_open()).map_or(now, |m| m.epoch()),
                )
            });
            let fenced = (svc.forced_down || svc.state == ServiceState::Down)
                && svc.status == ServiceStatus::Disabled;
            if !fenced {
                let why = format!(
                    "Nova does not see {host} fenced yet (nova-compute {}, {}{}); the request stays",
                    if svc.state == ServiceState::Up { "up" } else { "down" },
                    if svc.status == ServiceStatus::Enabled { "enabled" } else { "disabled" },
                    if svc.forced_down { ", forced down" } else { "" }
                );
                self.note(&mut rec, &why);
                continue;
            }
            if self.store.load(host).as_ref() != Some(&rec) {
                if let Err(e) = self.store.save(&rec) {
                    // without its records a host would be retried without back-off:
                    // evacuate nothing there and say why
                    trouble.push(format!("{host}: not evacuated: {e}"));
                    continue;
                }
            }
            if self.mark_due(key, value, now) {
                tasks.push(Task::Mark(key.clone()));
            }
            let epoch = marker
                .filter(|m| m.is_open())
                .map_or(rec.requested, |m| m.epoch());
            let mut service = (*svc).clone();
            if marker.is_none_or(|m| !m.is_open()) {
                let running = Marker::Running(epoch).to_string();
                tasks.push(Task::Marker(service.clone(), running.clone()));
                // what Nova holds once the wave has run (a failure is reported there)
                service.disabled_reason = Some(running);
            }
            let ready_at = rec.requested + self.cfg.evacuate_delay;
            if now < ready_at {
                self.note(
                    &mut rec,
                    &format!(
                        "{host}: waiting evacuate_delay ({} s left) before evacuating",
                        ready_at - now
                    ),
                );
                moving |= Duration::from_secs(ready_at - now) + FINISH_RESERVE
                    < self.ctx.deadline.remaining();
                continue;
            }
            tasks.push(Task::Servers(host.clone()));
            tasks.push(Task::Migrations(host.clone()));
            works.push(Work {
                host: host.clone(),
                key: key.clone(),
                epoch,
                service,
            });
        }
        if works.is_empty() && tasks.is_empty() {
            return Ok(RoundOutcome { moving, trouble });
        }
        if !works.is_empty() && self.tagging.is_none() {
            tasks.push(Task::Flavors);
        }

        // 4b. one wave: in-flight marks, Nova markers, each host's servers and migrations,
        // the flavors
        let nova = self.nova;
        let me = self.me.clone();
        // a handful per host: all at once, the concurrency bound is for the evacuations
        let wave = tasks.len();
        let outs = parallel(tasks, wave, |t| run_task(nova, &me, t, now, &dl));
        let mut servers_of: BTreeMap<String, Vec<Server>> = BTreeMap::new();
        let mut migrations_of: BTreeMap<String, Vec<Migration>> = BTreeMap::new();
        for out in outs {
            match out {
                TaskOut::Mark(key, Ok(())) => {
                    self.marked.insert(key, now);
                }
                TaskOut::Mark(key, Err(e)) => {
                    log::warn!("{key}: cannot write the in-flight mark: {e}")
                }
                TaskOut::Marker(host, Err(e)) => {
                    trouble.push(format!("{host}: cannot record the evacuation in Nova: {e}"))
                }
                TaskOut::Marker(_, Ok(())) => {}
                TaskOut::Servers(host, Ok(v)) => {
                    servers_of.insert(host, v);
                }
                TaskOut::Migrations(host, Ok(v)) => {
                    migrations_of.insert(host, v);
                }
                TaskOut::Servers(host, Err(e)) | TaskOut::Migrations(host, Err(e)) => {
                    trouble.push(format!("{host}: cannot read its instances from Nova: {e}"))
                }
                TaskOut::Flavors(Ok(flavors)) => {
                    let mut t = Tagging::default();
                    for f in flavors {
                        t.add_flavor(&f.id, &f.name, &f.extra_specs);
                    }
                    self.tagging = Some(t);
                }
                TaskOut::Flavors(Err(e)) => trouble.push(format!("cannot read the flavors: {e}")),
            }
        }
        let scans: Vec<Option<(Vec<Server>, Vec<Migration>)>> = works
            .iter()
            .map(|w| Some((servers_of.remove(&w.host)?, migrations_of.remove(&w.host)?)))
            .collect();
        if self.tagging.is_some() {
            let all = scans
                .iter()
                .flatten()
                .flat_map(|(servers, _)| servers.iter());
            if let Err(e) = self.learn_images(all, &dl) {
                // no host is selected from half a view of the images
                return Ok(RoundOutcome {
                    moving: false,
                    trouble: vec![format!("cannot read the images in use: {e}")],
                });
            }
        }
        let reserved = self.usable_reserved(&computes, &requests);
        let mut jobs = Vec::new();
        let mut per_host = Vec::new();
        for (work, scan) in works.into_iter().zip(scans) {
            let Some((servers, migrations)) = scan else {
                continue;
            };
            let selected = match self.select(&servers) {
                Ok(s) => s,
                Err(e) => {
                    trouble.push(format!("{}: nothing selected: {e}", work.host));
                    continue;
                }
            };
            let Some(mut rec) = self.store.load(&work.host) else {
                continue;
            };
            let newest = newest_per_instance(&migrations);
            for s in &selected {
                rec.instances.entry(s.id.clone()).or_default();
            }
            let on_host: BTreeMap<&str, &Server> =
                selected.iter().map(|s| (s.id.as_str(), *s)).collect();
            // Unrecorded evacuations still running (records lost): the host is not done.
            let foreign_active = newest
                .iter()
                .filter(|(id, m)| {
                    !rec.instances.contains_key(**id) && phase(&m.status) == Phase::Active
                })
                .count();
            for (id, r) in rec.instances.iter_mut() {
                let step = decide(
                    on_host.get(id.as_str()).copied(),
                    newest.get(id.as_str()).copied(),
                    r,
                    now,
                );
                match step {
                    Step::Evacuate { reset_first } => {
                        match next_destination(self.cfg.method, &reserved, r) {
                            Some(target) => jobs.push(Job {
                                host: work.host.clone(),
                                id: id.clone(),
                                target,
                                reset_first,
                            }),
                            None => {
                                let why = if self.cfg.method.uses_reserved() {
                                    "no reserved capacity left"
                                } else {
                                    "no destination left to try"
                                };
                                r.fail(now, why);
                                r.tried.clear();
                            }
                        }
                    }
                    Step::Failed(why) => {
                        after_failure(r, self.cfg.method, &reserved, now, &why);
                        log::warn!("{}: evacuation of {id} failed: {why}", work.host);
                        // straight on to the next destination, in this monitor
                        moving |= r.next_try <= now;
                    }
                    Step::Stuck(why) => {
                        r.fail(now, &why);
                        r.tried.clear();
                    }
                    Step::InFlight | Step::Wait | Step::Done => {}
                }
            }
            if let Err(e) = self.store.save(&rec) {
                log::warn!("{e}");
            }
            per_host.push((work, foreign_active));
        }

        // 5. evacuate, every host at once, `concurrency` at a time
        if !jobs.is_empty() {
            self.enable_reserved(&jobs, &computes, &dl);
            let cfg = self.cfg;
            let sent: Vec<(String, String, String, JobResult)> =
                parallel(jobs, cfg.concurrency, |job| {
                    let result = evacuate_one(nova, &job, cfg.on_shared_storage, &dl);
                    (job.host, job.id, job.target.key().to_string(), result)
                });
            let mut by_host: BTreeMap<String, Vec<(String, String, JobResult)>> = BTreeMap::new();
            for (host, id, target, result) in sent {
                by_host.entry(host).or_default().push((id, target, result));
            }
            for (host, results) in by_host {
                let Some(mut rec) = self.store.load(&host) else {
                    continue;
                };
                for (id, target, result) in results {
                    let r = rec.instances.entry(id.clone()).or_default();
                    r.target = Some(target.clone());
                    match result {
                        JobResult::Accepted { reset } | JobResult::AlreadyRunning { reset } => {
                            r.reset |= reset;
                            r.outcome = Outcome::Accepted;
                            r.attempts += 1;
                            r.accepted_at = now_epoch();
                            if self.cfg.verbose {
                                log::info!(
                                    "{host}: evacuation of {id} accepted ({})",
                                    Target::from_key(&target)
                                );
                            }
                        }
                        JobResult::Failed { reset, error } => {
                            r.reset |= reset;
                            after_failure(r, self.cfg.method, &reserved, now_epoch(), &error);
                            log::warn!("{host}: evacuation of {id} failed: {error}");
                        }
                    }
                }
                if let Err(e) = self.store.save(&rec) {
                    log::warn!("{e}");
                }
            }
            moving = true;
        }

        // 6. progress per host; the finished ones are closed together at the end
        let mut finished = Vec::new();
        for (work, foreign_active) in per_host {
            let Some(rec) = self.store.load(&work.host) else {
                continue;
            };
            let count = |o: Outcome| rec.instances.values().filter(|r| r.outcome == o).count();
            let (done, accepted, failed) = (
                count(Outcome::Done),
                count(Outcome::Accepted),
                count(Outcome::Failed),
            );
            let total = rec.instances.len();
            let complete = if self.cfg.complete_on_accept {
                done + accepted == total
            } else {
                done == total && foreign_active == 0
            };
            if complete {
                finished.push((work, rec.instances.len()));
                continue;
            }
            if accepted > 0 || foreign_active > 0 {
                moving = true;
            }
            let marker = if failed > 0 {
                Marker::Failed {
                    since: work.epoch,
                    instances: failed as u32,
                }
            } else {
                Marker::Running(work.epoch)
            };
            let text = marker.to_string();
            if work.service.disabled_reason.as_deref() != Some(text.as_str()) {
                if let Err(e) = self.nova.disable(&work.service, &text, &dl) {
                    log::warn!("{}: cannot update the marker in Nova: {e}", work.host);
                }
            }
            if failed > 0 {
                let last = rec
                    .instances
                    .values()
                    .filter(|r| r.outcome == Outcome::Failed)
                    .max_by_key(|r| r.next_try)
                    .map(|r| r.error.clone())
                    .unwrap_or_default();
                let next = rec
                    .instances
                    .values()
                    .filter(|r| r.outcome == Outcome::Failed)
                    .map(|r| r.next_try.saturating_sub(now_epoch()))
                    .min()
                    .unwrap_or(0);
                trouble.push(format!(
                    "{}: {failed} of {total} instance(s) failed to evacuate, {done} done, {accepted} in progress; next retry in {next} s (last error: {last})",
                    work.host
                ));
            }
        }
        let nova = self.nova;
        let closed = parallel(finished, self.cfg.concurrency, |(work, n)| {
            let r = finish(nova, &work, &dl);
            (work, n, r)
        });
        for (work, n, r) in closed {
            match r {
                Ok(()) => {
                    self.marked.remove(&work.key);
                    log::info!("{}: evacuation complete ({n} instance(s))", work.host);
                    if let Err(e) = self.store.remove(&work.host) {
                        log::warn!("{e}");
                    }
                }
                Err(e) => trouble.push(format!("{}: evacuated, but {e}", work.host)),
            }
        }
        Ok(RoundOutcome { moving, trouble })
    }

    /// Log `why` once per host (kept in the record), not at every monitor.
    fn note(&self, rec: &mut HostRecord, why: &str) {
        if rec.note != why {
            log::info!("{why}");
            rec.note = why.to_string();
        }
        if let Err(e) = self.store.save(rec) {
            log::warn!("{e}");
        }
    }

    /// A node Nova does not know: logged once (kept in a record under the node's name);
    /// the attribute stays, as the old agent left it.
    fn note_unknown(&self, node: &str, why: &str, now: u64) -> String {
        let key = format!("unknown-node.{node}");
        let mut rec = self
            .store
            .load(&key)
            .unwrap_or_else(|| HostRecord::new(&key, Some(node), now));
        self.note(&mut rec, &format!("{why}; the request stays"));
        key
    }

    /// Is our `<uname>@<epoch>` on the host's attribute due (again)? Rewritten well before
    /// it could look abandoned to another reader.
    fn mark_due(&self, key: &str, value: &Value, now: u64) -> bool {
        let last = match value {
            Value::InFlight { by, since } if *by == self.me => *since,
            _ => 0,
        }
        .max(self.marked.get(key).copied().unwrap_or(0));
        now.saturating_sub(last) >= attribute::REFRESH_AFTER_S
    }

    /// The servers of `servers` to evacuate.
    fn select<'s>(&self, servers: &'s [Server]) -> Result<Vec<&'s Server>, String> {
        // Without the flavors (their listing failed this round, reported) nothing is
        // decided: an empty selection would close the host.
        let tagging = self
            .tagging
            .as_ref()
            .ok_or("the flavors could not be read")?;
        Ok(servers
            .iter()
            .filter(|s| {
                let c = Candidate {
                    flavor_id: s.flavor.id.as_deref(),
                    flavor_name: s.flavor.original_name.as_deref(),
                    image_id: s.image_id.as_deref(),
                    metadata: Some(&s.metadata),
                };
                select::evacuable(&c, tagging, self.cfg.opt_in)
            })
            .collect())
    }

    /// Learn the tags of every image the failed hosts' servers use, in one request, before
    /// any host is selected from: "nothing tagged" must mean the same for every host.
    fn learn_images<'s>(
        &mut self,
        servers: impl Iterator<Item = &'s Server>,
        dl: &Deadline,
    ) -> Result<(), OpenStackError> {
        let wanted: Vec<String> = servers
            .filter_map(|s| s.image_id.clone())
            .filter(|id| !self.images.contains_key(id))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if wanted.is_empty() {
            return Ok(());
        }
        let found = self.session.image().images(&wanted, dl)?;
        for id in &wanted {
            self.images.insert(id.clone(), false);
        }
        if let Some(tagging) = self.tagging.as_mut() {
            for img in found {
                tagging.add_image(&img.id, &img.tags, &img.properties);
                let tagged = tagging.image_ids.contains(&img.id);
                self.images.insert(img.id, tagged);
            }
        }
        Ok(())
    }

    /// Reserved hosts that can take instances now: known to Nova, up, not themselves failed.
    fn usable_reserved(
        &self,
        computes: &[&Service],
        requests: &BTreeMap<String, (String, Value)>,
    ) -> Vec<String> {
        if !self.cfg.method.uses_reserved() {
            return Vec::new();
        }
        self.cfg
            .reserved
            .iter()
            .filter(|h| {
                computes.iter().any(|s| {
                    &s.host == *h
                        && s.state == ServiceState::Up
                        && !s.forced_down
                        && !requests.contains_key(&s.host)
                })
            })
            .cloned()
            .collect()
    }

    /// Enable the reserved hosts this round sends instances to (only those: one at a time).
    fn enable_reserved(&self, jobs: &[Job], computes: &[&Service], dl: &Deadline) {
        let targets: BTreeSet<&str> = jobs.iter().filter_map(|j| j.target.host()).collect();
        for host in targets {
            if let Some(svc) = computes
                .iter()
                .find(|s| s.host == host && s.status == ServiceStatus::Disabled)
            {
                match self.nova.enable(svc, dl) {
                    Ok(()) => {
                        log::info!("reserved host {host} enabled to take evacuated instances")
                    }
                    Err(e) => log::warn!("cannot enable reserved host {host}: {e}"),
                }
            }
        }
    }
}

/// Every selected instance of a host is evacuated: the marker says done, then the attribute
/// `no` (in that order: a crash between them leaves our own mark, which the next monitor
/// resumes and finishes at once).
fn finish(nova: Compute<'_>, work: &Work, dl: &Deadline) -> Result<(), String> {
    let done = Marker::Done(work.epoch).to_string();
    nova.disable(&work.service, &done, dl)
        .map_err(|e| format!("cannot record it in Nova: {e}"))?;
    attrd::update_private(attribute::NAME, attribute::DONE, &work.key, dl)
        .map_err(|e| format!("cannot set its evacuate attribute to no: {e}"))
}

/// One request of a round's parallel wave.
enum Task {
    /// Our in-flight mark on this attribute key.
    Mark(String),
    /// A disabled_reason for this service.
    Marker(Service, String),
    Servers(String),
    Migrations(String),
    Flavors,
}

enum TaskOut {
    Mark(String, Result<(), attrd::AttrdError>),
    Marker(String, Result<(), OpenStackError>),
    Servers(String, Result<Vec<Server>, OpenStackError>),
    Migrations(String, Result<Vec<Migration>, OpenStackError>),
    Flavors(Result<Vec<crate::openstack::Flavor>, OpenStackError>),
}

fn run_task(nova: Compute<'_>, me: &str, task: Task, now: u64, dl: &Deadline) -> TaskOut {
    match task {
        Task::Mark(key) => {
            let r =
                attrd::update_private(attribute::NAME, &attribute::in_flight(me, now), &key, dl);
            TaskOut::Mark(key, r)
        }
        Task::Marker(svc, reason) => {
            TaskOut::Marker(svc.host.clone(), nova.disable(&svc, &reason, dl))
        }
        Task::Servers(host) => {
            let r = nova.servers_on_host(&host, dl);
            TaskOut::Servers(host, r)
        }
        Task::Migrations(host) => {
            let filter = MigrationFilter {
                source_compute: Some(host.clone()),
                migration_type: Some("evacuation".to_string()),
                ..Default::default()
            };
            TaskOut::Migrations(host, nova.migrations(&filter, dl))
        }
        Task::Flavors => TaskOut::Flavors(nova.flavors(dl)),
    }
}

/// Where an evacuation stands, from its migration record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Active,
    Done,
    Failed,
}

fn phase(status: &str) -> Phase {
    match status.to_ascii_lowercase().as_str() {
        "done" | "completed" | "finished" | "confirmed" => Phase::Done,
        "failed" | "error" | "cancelled" => Phase::Failed,
        // accepted, pre-migrating, migrating, running, post-migrating, queued, preparing, …
        _ => Phase::Active,
    }
}

/// The newest evacuation migration of each instance (by creation time, then id).
fn newest_per_instance(migrations: &[Migration]) -> BTreeMap<&str, &Migration> {
    let mut out: BTreeMap<&str, &Migration> = BTreeMap::new();
    let order = |m: &Migration| {
        (
            m.created_at.clone().unwrap_or_default(),
            m.id.parse::<u64>().unwrap_or(0),
        )
    };
    for m in migrations {
        match out.get(m.instance_uuid.as_str()) {
            Some(old) if order(old) >= order(m) => {}
            _ => {
                out.insert(&m.instance_uuid, m);
            }
        }
    }
    out
}

const REBUILDING: &[&str] = &[
    "rebuilding",
    "rebuild_block_device_mapping",
    "rebuild_spawning",
];

fn rebuilding(s: &Server) -> bool {
    s.task_state
        .as_deref()
        .is_some_and(|t| REBUILDING.contains(&t))
}

/// Why Nova would refuse to evacuate `s` (vm_state and task_state preconditions).
fn refusal(s: &Server) -> Option<String> {
    if let Some(t) = s.task_state.as_deref().filter(|t| !t.is_empty()) {
        return Some(format!("task_state {t}"));
    }
    match s.vm_state.as_deref() {
        None | Some("active") | Some("stopped") | Some("error") => None,
        Some(other) => Some(format!("vm_state {other}")),
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Step {
    Evacuate {
        reset_first: bool,
    },
    /// An evacuation runs: follow it.
    InFlight,
    /// Failed, backing off.
    Wait,
    Done,
    /// The last attempt failed (its migration ended in error, or never appeared).
    Failed(String),
    /// Nova refuses it even after a reset.
    Stuck(String),
}

/// The next step for one selected instance: `server` as it is on the failed host (None:
/// no longer there), `latest` its newest evacuation migration, `r` its record (updated).
fn decide(
    server: Option<&Server>,
    latest: Option<&Migration>,
    r: &mut InstanceRecord,
    now: u64,
) -> Step {
    let ph = latest.map(|m| phase(&m.status));
    // Never a second evacuation while one is in progress, whoever started it.
    if ph == Some(Phase::Active) || server.is_some_and(rebuilding) {
        if !matches!(r.outcome, Outcome::Accepted | Outcome::Done) {
            r.outcome = Outcome::Accepted;
            r.accepted_at = now;
        }
        return Step::InFlight;
    }
    match r.outcome {
        Outcome::Done => return Step::Done,
        Outcome::Accepted => match ph {
            Some(Phase::Done) => {
                r.outcome = Outcome::Done;
                r.failures = 0;
                return Step::Done;
            }
            Some(Phase::Failed) => {
                let m = latest
                    .map(|m| format!("migration {} ended {}", m.id, m.status))
                    .unwrap_or_default();
                return Step::Failed(m);
            }
            _ if server.is_none() => {
                r.outcome = Outcome::Done;
                return Step::Done;
            }
            _ if now.saturating_sub(r.accepted_at) > NO_MIGRATION_AFTER_S => {
                return Step::Failed(
                    "Nova accepted the evacuation but no migration record appeared".to_string(),
                );
            }
            _ => return Step::InFlight,
        },
        Outcome::Failed if r.waiting(now) => return Step::Wait,
        Outcome::Pending | Outcome::Failed => {}
    }
    let Some(s) = server else {
        // Gone from the host (moved or deleted by someone else): not ours any more.
        r.outcome = Outcome::Done;
        return Step::Done;
    };
    match refusal(s) {
        None => Step::Evacuate { reset_first: false },
        Some(_) if !r.reset => Step::Evacuate { reset_first: true },
        Some(why) => Step::Stuck(format!(
            "Nova refuses to evacuate it ({why}) even after a reset to error"
        )),
    }
}

/// The destination of the next attempt.
fn next_destination(method: Method, reserved: &[String], r: &InstanceRecord) -> Option<Target> {
    let tried: Vec<Target> = r.tried.iter().map(|k| Target::from_key(k)).collect();
    recovery::next_target(method, reserved, &tried)
}

/// A failed attempt: straight on to the next destination of the recovery method when there
/// is one, else back off and start the method's sequence again later.
fn after_failure(
    r: &mut InstanceRecord,
    method: Method,
    reserved: &[String],
    now: u64,
    error: &str,
) {
    r.fail(now, error);
    if next_destination(method, reserved, r).is_some() {
        r.next_try = now;
        r.failures = r.failures.saturating_sub(1);
    } else {
        r.tried.clear();
        r.next_try = now + backoff_s(r.failures);
    }
}

/// Send one evacuation. A 409 means a task is running on the server: a rebuild (someone
/// evacuates it already: follow that one) or a stuck task (reset to error, once, and retry).
fn evacuate_one(nova: Compute<'_>, job: &Job, on_shared_storage: bool, dl: &Deadline) -> JobResult {
    let mut reset = false;
    if job.reset_first {
        if let Err(e) = nova.reset_state(&job.id, ResetState::Error, dl) {
            return JobResult::Failed {
                reset,
                error: format!("reset to error failed: {e}"),
            };
        }
        reset = true;
    }
    let req = EvacuateRequest {
        target_host: job.target.host().map(str::to_string),
        on_shared_storage,
    };
    loop {
        match nova.evacuate(&job.id, &req, dl) {
            Ok(()) => return JobResult::Accepted { reset },
            Err(e) if e.kind() == ErrorKind::Conflict => match nova.server(&job.id, dl) {
                Ok(s) if rebuilding(&s) => return JobResult::AlreadyRunning { reset },
                // the other evacuation got further than that already: rebuilt elsewhere
                Ok(s) if s.host.as_deref() != Some(job.host.as_str()) => {
                    return JobResult::AlreadyRunning { reset }
                }
                Ok(s) if !reset && refusal(&s).is_some() => {
                    if let Err(e) = nova.reset_state(&job.id, ResetState::Error, dl) {
                        return JobResult::Failed {
                            reset,
                            error: format!("reset to error failed: {e}"),
                        };
                    }
                    reset = true;
                }
                _ => {
                    return JobResult::Failed {
                        reset,
                        error: e.to_string(),
                    }
                }
            },
            Err(e) => {
                return JobResult::Failed {
                    reset,
                    error: e.to_string(),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(task: Option<&str>, vm: &str) -> Server {
        Server {
            id: "s1".into(),
            name: "s1".into(),
            host: Some("cmp1".into()),
            status: "ACTIVE".into(),
            vm_state: Some(vm.into()),
            task_state: task.map(str::to_string),
            flavor: Default::default(),
            image_id: None,
            metadata: BTreeMap::new(),
            locked: false,
            tenant_id: None,
        }
    }

    fn migration(status: &str, created: &str, id: &str) -> Migration {
        Migration {
            id: id.into(),
            uuid: None,
            instance_uuid: "s1".into(),
            source_compute: Some("cmp1".into()),
            dest_compute: None,
            status: status.into(),
            migration_type: Some("evacuation".into()),
            created_at: Some(created.into()),
            updated_at: None,
        }
    }

    #[test]
    fn never_twice_while_one_runs() {
        let s = server(Some("rebuilding"), "active");
        let mut r = InstanceRecord::default();
        assert_eq!(decide(Some(&s), None, &mut r, 10), Step::InFlight);
        assert_eq!(r.outcome, Outcome::Accepted);
        let s = server(None, "active");
        let m = migration("pre-migrating", "2026", "1");
        let mut r = InstanceRecord::default();
        assert_eq!(decide(Some(&s), Some(&m), &mut r, 10), Step::InFlight);
    }

    #[test]
    fn accepted_then_done_or_failed_with_backoff() {
        let s = server(None, "active");
        let mut r = InstanceRecord {
            outcome: Outcome::Accepted,
            accepted_at: 5,
            ..Default::default()
        };
        assert_eq!(
            decide(Some(&s), Some(&migration("done", "a", "1")), &mut r, 10),
            Step::Done
        );
        let mut r = InstanceRecord {
            outcome: Outcome::Accepted,
            accepted_at: 5,
            target: Some(Target::Auto.key().to_string()),
            ..Default::default()
        };
        assert_eq!(
            decide(Some(&s), Some(&migration("error", "a", "1")), &mut r, 10),
            Step::Failed("migration 1 ended error".into())
        );
        after_failure(&mut r, Method::Auto, &[], 10, "migration 1 ended error");
        assert_eq!(r.outcome, Outcome::Failed);
        assert!(r.tried.is_empty(), "auto again after the back-off");
        assert_eq!(r.next_try, 10 + backoff_s(1));
        assert_eq!(decide(Some(&s), None, &mut r, 11), Step::Wait);
        assert_eq!(
            decide(Some(&s), None, &mut r, 10 + backoff_s(1)),
            Step::Evacuate { reset_first: false }
        );
    }

    #[test]
    fn stuck_is_reset_once_then_reported() {
        let s = server(Some("powering-off"), "active");
        let mut r = InstanceRecord::default();
        assert_eq!(
            decide(Some(&s), None, &mut r, 1),
            Step::Evacuate { reset_first: true }
        );
        r.reset = true;
        assert!(matches!(decide(Some(&s), None, &mut r, 1), Step::Stuck(_)));
        let paused = server(None, "paused");
        let mut r = InstanceRecord::default();
        assert_eq!(
            decide(Some(&paused), None, &mut r, 1),
            Step::Evacuate { reset_first: true }
        );
    }

    #[test]
    fn gone_from_the_host_is_done_and_old_migrations_do_not_count() {
        let mut r = InstanceRecord::default();
        assert_eq!(decide(None, None, &mut r, 1), Step::Done);
        // records lost; the instance is on the host with an old, finished evacuation
        let s = server(None, "active");
        let mut r = InstanceRecord::default();
        assert_eq!(
            decide(Some(&s), Some(&migration("done", "2020", "1")), &mut r, 1),
            Step::Evacuate { reset_first: false }
        );
    }

    #[test]
    fn long_reasons_are_cut_to_four_problems() {
        let t: Vec<String> = (0..6).map(|i| format!("cmp{i}: failing")).collect();
        assert_eq!(
            summary(&t),
            "cmp0: failing; cmp1: failing; cmp2: failing; cmp3: failing; and 2 more"
        );
        assert_eq!(summary(&t[..1]), "cmp0: failing");
    }

    #[test]
    fn newest_migration_wins() {
        let ms = vec![
            migration("error", "2026-01-01T00:00:00", "7"),
            migration("running", "2026-01-01T00:01:00", "8"),
        ];
        assert_eq!(newest_per_instance(&ms)["s1"].id, "8");
    }

    #[test]
    fn reserved_hosts_in_turn_then_backoff() {
        let reserved = vec!["spare1".to_string(), "spare2".to_string()];
        let mut r = InstanceRecord::default();
        assert_eq!(
            next_destination(Method::ReservedHost, &reserved, &r),
            Some(Target::Host("spare1".into()))
        );
        r.target = Some("spare1".into());
        after_failure(&mut r, Method::ReservedHost, &reserved, 100, "no capacity");
        assert_eq!(r.next_try, 100);
        assert_eq!(
            next_destination(Method::ReservedHost, &reserved, &r),
            Some(Target::Host("spare2".into()))
        );
        r.target = Some("spare2".into());
        after_failure(&mut r, Method::ReservedHost, &reserved, 100, "no capacity");
        assert!(r.next_try > 100 && r.tried.is_empty());
    }
}
