//! SystemdService: the hybrid agent. systemd starts, stops and reloads the unit (over
//! D-Bus, each job waited for through its own JobRemoved signal); the agent checks the
//! service itself (HTTP, TCP or a command), so a hung API whose process lives is a failure.
//! The presets ([`super::presets`]) are this same engine with their own defaults.
//!
//! start: validate → the unit exists here → runtime drop-in (+ daemon-reload when it
//! changed) → StartUnit, wait for the job → the unit really runs → wait, within the budget,
//! for the health check to pass. stop: StopUnit, wait → the unit is down → remove the
//! drop-in (cleanup never fails a stop). monitor: unit state (waiting out a transition
//! within the budget), then at depth ≥ 10 one health check.

use std::borrow::Cow;
use std::time::{Duration, Instant};

use super::presets::{preset_specs, Preset, PresetCheck, URL_STATUS};
use crate::health::{self, CommandCheck, GaneshaCheck, HealthCheck, HttpCheck, TcpCheck};
use crate::ocf::{Backoff, Context, OcfAgent, OcfCode, OcfError, OcfResult, ParamSpec, Params};
use crate::systemd::outcome;
use crate::systemd::resource::{self, SYSTEMD_CALL};
use crate::systemd::{Explain, JobKind, Systemd, UnitName};

pub(crate) const METADATA: &str = include_str!("../../ocf-metadata/SystemdService.xml");

pub(crate) const SPECS: &[ParamSpec] = &[
    ParamSpec::string("unit").required(),
    ParamSpec::string("monitor_url"),
    ParamSpec::string("monitor_url_status"),
    ParamSpec::string("monitor_url_body"),
    ParamSpec::string("ca_file"),
    ParamSpec::boolean("insecure").default("false"),
    ParamSpec::string("monitor_tcp"),
    ParamSpec::string("monitor_cmd"),
    ParamSpec::integer("check_timeout").default("10"),
    ParamSpec::integer("check_level").default("10"),
    ParamSpec::integer("start_grace"),
];

/// OCF_CHECK_LEVEL from which the health check runs.
const HEALTH_DEPTH: u32 = 10;

/// `ocf:ocfbox:SystemdService`.
pub struct SystemdService;

crate::ocf_actions! {
    /// SystemdService's and every preset's actions.
    pub enum Action {
        Start = "start",
        Stop = "stop",
        Monitor = "monitor",
        Reload = "reload",
        ReloadAgent = "reload-agent",
        ValidateAll = "validate-all",
    }
}

impl OcfAgent for SystemdService {
    type Action = Action;

    fn name(&self) -> &str {
        "SystemdService"
    }

    fn metadata(&self) -> Cow<'static, str> {
        Cow::Borrowed(METADATA)
    }

    fn params(&self) -> Cow<'static, [ParamSpec]> {
        Cow::Borrowed(SPECS)
    }

    fn run(&self, action: Action, ctx: &Context<'_>) -> OcfResult<OcfCode> {
        run(action, ctx, None)
    }
}

pub(crate) fn run(
    action: Action,
    ctx: &Context<'_>,
    preset: Option<&Preset>,
) -> OcfResult<OcfCode> {
    // Parameters first: hostile input is refused before anything is touched.
    let cfg = Config::read(ctx, preset)?;
    let sd = Systemd::from_env(ctx.env)?;
    // A monitor is usually one question to systemd; the other actions ask several.
    let sd = match action {
        Action::Monitor => sd,
        _ => sd.keep_connection(),
    };
    match action {
        Action::Start => start(ctx, &sd, &cfg, preset),
        Action::Stop => stop(ctx, &sd, &cfg),
        Action::Monitor => monitor(ctx, &sd, &cfg),
        Action::Reload => reload(ctx, &sd, &cfg),
        // Every parameter but `unit` is read afresh by each operation and the drop-in
        // depends on the operation's timeout only: a changed reloadable parameter needs
        // nothing but the check above that it is valid (OCF 1.1 reload-agent).
        Action::ReloadAgent => {
            log::info!("parameters reloaded: the next operations use them");
            Ok(OcfCode::Success)
        }
        Action::ValidateAll => validate(ctx, &sd, &cfg, preset),
    }
}

/// The parameters, read and checked.
struct Config {
    /// Candidate units in order (one unless a preset without `unit`).
    units: Vec<UnitName>,
    checks: Vec<HealthCheck>,
    check_timeout: Duration,
    /// Depth of a start or recurring monitor without OCF_CHECK_LEVEL.
    check_level: u32,
    start_grace: Option<Duration>,
}

impl Config {
    fn read(ctx: &Context<'_>, preset: Option<&Preset>) -> OcfResult<Config> {
        let specs = match preset {
            None => Cow::Borrowed(SPECS),
            Some(preset) => Cow::Owned(preset_specs(preset)),
        };
        let p = ctx.params(&specs);
        let unit_param = p.string("unit")?;
        let units = match (unit_param, preset) {
            (Some(u), _) => vec![parse_unit(&u)?],
            (None, Some(preset)) => preset
                .units
                .iter()
                .map(|u| parse_unit(u))
                .collect::<OcfResult<_>>()?,
            (None, None) => vec![parse_unit(&p.required_string("unit")?)?],
        };

        let checks = health_checks(&p, preset)?;

        let check_timeout = p.integer_in("check_timeout", 1..=3600)?.unwrap_or(10);
        let check_level = p.integer_in("check_level", 0..=100)?.unwrap_or(10);
        let start_grace = p.integer_in("start_grace", 0..=86_400)?;
        Ok(Config {
            units,
            checks,
            check_timeout: Duration::from_secs(check_timeout as u64),
            check_level: check_level as u32,
            start_grace: start_grace.map(|s| Duration::from_secs(s as u64)),
        })
    }

    /// How deep this operation checks: OCF_CHECK_LEVEL when Pacemaker passes it; else a
    /// probe looks at the unit only and everything else uses `check_level`.
    fn depth(&self, ctx: &Context<'_>) -> u32 {
        match ctx.env.check_level_given() {
            Some(level) => level,
            None if ctx.is_probe() => 0,
            None => self.check_level,
        }
    }

    fn health_checked(&self, ctx: &Context<'_>) -> bool {
        !self.checks.is_empty() && self.depth(ctx) >= HEALTH_DEPTH
    }

    /// The unit's main PID when a check looks at the service's processes.
    fn main_pid(&self, ctx: &Context<'_>, sd: &Systemd, unit: &UnitName) -> OcfResult<Option<u32>> {
        if !self.checks.iter().any(HealthCheck::needs_main_pid) {
            return Ok(None);
        }
        let facts = sd
            .service_facts(unit, ctx.deadline.budget(SYSTEMD_CALL))
            .map_err(|e| outcome::error(e, &ctx.deadline))?;
        Ok(Some(facts.main_pid))
    }
}

/// The operator's health checks, else the preset's own. monitor_url_status,
/// monitor_url_body, ca_file and insecure shape whichever HTTP check there is, and are a
/// configuration error where there is none (a typo'd setup must not pass as checked).
fn health_checks(p: &Params<'_>, preset: Option<&Preset>) -> OcfResult<Vec<HealthCheck>> {
    let cfg_err = |e: health::HealthConfigError| OcfError::Configured(e.0);
    let url = p.string("monitor_url")?;
    let status = p.string("monitor_url_status")?;
    let body = p.string("monitor_url_body")?;
    let ca_file = p.string("ca_file")?;
    let insecure = p.boolean("insecure")?;
    let tcp = p.string("monitor_tcp")?;
    let cmd = p.string("monitor_cmd")?;
    let http = |url: &str, default_status: &str, default_body: Option<&str>| {
        HttpCheck::new(
            url,
            status.as_deref().unwrap_or(default_status),
            body.as_deref().or(default_body),
            ca_file.as_deref(),
            insecure,
        )
        .map(HealthCheck::Http)
        .map_err(cfg_err)
    };

    let mut checks = Vec::new();
    if let Some(url) = &url {
        checks.push(http(url, "200", None)?);
    }
    let mut legacy = Vec::new();
    let mut legacy_replaces = false;
    if let Some(preset) = preset {
        let operator_chose = url.is_some() || tcp.is_some() || cmd.is_some();
        (legacy, legacy_replaces) =
            preset.legacy_checks(p, operator_chose, &|u| http(u, URL_STATUS, None))?;
    }
    if let Some(tcp) = &tcp {
        checks.push(HealthCheck::Tcp(TcpCheck::parse(tcp).map_err(cfg_err)?));
    }
    if let Some(cmd) = &cmd {
        checks.push(HealthCheck::Command(
            CommandCheck::parse(cmd).map_err(cfg_err)?,
        ));
    }
    // A preset's own check applies only when the operator chose none (the old agents'
    // url and console_port are such a choice).
    if let (true, false, Some(preset)) = (checks.is_empty(), legacy_replaces, preset) {
        match preset.check {
            PresetCheck::UnitOnly => {}
            PresetCheck::Http { url, status, body } => checks.push(http(url, status, Some(body))?),
            PresetCheck::Tcp(t) => {
                checks.push(HealthCheck::Tcp(TcpCheck::parse(t).map_err(cfg_err)?))
            }
            PresetCheck::Command(c) => checks.push(HealthCheck::Command(
                CommandCheck::parse(c).map_err(cfg_err)?,
            )),
            PresetCheck::GaneshaAdmin => checks.push(HealthCheck::Ganesha(GaneshaCheck)),
        }
    }
    checks.extend(legacy);
    let has_http = checks.iter().any(|c| matches!(c, HealthCheck::Http(_)));
    if !has_http {
        let http_only = [
            ("monitor_url_status", status.is_some()),
            ("monitor_url_body", body.is_some()),
            ("ca_file", ca_file.is_some()),
            ("insecure", insecure),
        ];
        if let Some((name, _)) = http_only.iter().find(|(_, set)| *set) {
            return Err(OcfError::Configured(format!(
                "parameter '{name}' applies to an HTTP health check, and there is none: set monitor_url"
            )));
        }
    }
    if insecure {
        log::warn!("insecure is set: the health check does not verify TLS certificates");
    }
    Ok(checks)
}

fn parse_unit(raw: &str) -> OcfResult<UnitName> {
    UnitName::parse(raw).map_err(|e| OcfError::Configured(format!("parameter 'unit': {e}")))
}

// ---------------------------------------------------------------------------------------
// Actions

fn start(
    ctx: &Context<'_>,
    sd: &Systemd,
    cfg: &Config,
    preset: Option<&Preset>,
) -> OcfResult<OcfCode> {
    let status = resource::startable_unit(ctx, sd, &cfg.units)?;
    compare_with_unit(ctx, sd, preset, &status.unit);
    resource::start(ctx, sd, &status)?;
    if cfg.health_checked(ctx) {
        wait_until_healthy(ctx, sd, cfg, &status.unit)?;
    }
    Ok(OcfCode::Success)
}

fn stop(ctx: &Context<'_>, sd: &Systemd, cfg: &Config) -> OcfResult<OcfCode> {
    resource::stop(ctx, sd, &cfg.units)?;
    Ok(OcfCode::Success)
}

fn monitor(ctx: &Context<'_>, sd: &Systemd, cfg: &Config) -> OcfResult<OcfCode> {
    let health = cfg.health_checked(ctx);
    // Leave room for the health check after a wait for a transition to settle.
    let keep = if health {
        cfg.check_timeout.min(ctx.deadline.remaining() / 2)
    } else {
        Duration::ZERO
    };
    let status = resource::running(ctx, sd, &cfg.units, keep)?;
    if health {
        let pid = cfg.main_pid(ctx, sd, &status.unit)?;
        let timeout = ctx.deadline.budget(cfg.check_timeout);
        health::run_all(&cfg.checks, timeout, pid).map_err(|f| {
            OcfError::Generic(format!(
                "unit {} is active but its health check failed: {f}",
                status.unit
            ))
        })?;
    }
    Ok(OcfCode::Success)
}

fn reload(ctx: &Context<'_>, sd: &Systemd, cfg: &Config) -> OcfResult<OcfCode> {
    let status = resource::inspect(ctx, sd, &cfg.units)?;
    if !outcome::is_running(&status) {
        log::info!(
            "unit {} is {}: nothing to reload (its configuration applies at the next start)",
            status.unit,
            status.describe()
        );
        return Ok(OcfCode::Success);
    }
    let report = sd
        .run_job(JobKind::Reload, &status.unit, ctx.deadline.remaining())
        .map_err(|e| outcome::reload_error(e, &status.unit, &ctx.deadline))?;
    outcome::reload_result(&report, &ctx.deadline)?;
    Ok(OcfCode::Success)
}

fn validate(
    ctx: &Context<'_>,
    sd: &Systemd,
    cfg: &Config,
    preset: Option<&Preset>,
) -> OcfResult<OcfCode> {
    for check in &cfg.checks {
        check
            .check_local_prerequisites()
            .map_err(|f| OcfError::NotInstalled(f.0))?;
    }
    let status = resource::startable_unit(ctx, sd, &cfg.units)?;
    compare_with_unit(ctx, sd, preset, &status.unit);
    Ok(OcfCode::Success)
}

/// An old agent's binary/config/user against the unit: warnings, never a failure.
fn compare_with_unit(ctx: &Context<'_>, sd: &Systemd, preset: Option<&Preset>, unit: &UnitName) {
    let Some(preset) = preset.filter(|p| p.osr.is_some()) else {
        return;
    };
    match sd.service_facts(unit, ctx.deadline.budget(SYSTEMD_CALL)) {
        Ok(facts) => {
            let specs = preset_specs(preset);
            preset.compare_with_unit(&ctx.params(&specs), unit.as_str(), &facts)
        }
        Err(e) => log::debug!("cannot read {unit}'s command line to compare: {e}"),
    }
}

/// After systemd reports the unit started: retry the health check (short pauses, growing
/// to 2 s) until it passes, start_grace passes, or the op's budget ends. A unit that stops
/// meanwhile ends the wait at once.
fn wait_until_healthy(
    ctx: &Context<'_>,
    sd: &Systemd,
    cfg: &Config,
    unit: &UnitName,
) -> OcfResult<()> {
    let started = Instant::now();
    let grace_end = cfg.start_grace.map(|g| started + g);
    let give_up = match grace_end {
        Some(g) => g.min(ctx.deadline.instant()),
        None => ctx.deadline.instant(),
    };
    let mut backoff = Backoff::growing(Duration::from_millis(200), Duration::from_secs(2), 3, 2);
    let mut attempts = 0u32;
    loop {
        attempts += 1;
        let left = give_up.saturating_duration_since(Instant::now());
        let pid = cfg.main_pid(ctx, sd, unit)?;
        let failure = match health::run_all(
            &cfg.checks,
            cfg.check_timeout.min(left).max(Duration::from_millis(100)),
            pid,
        ) {
            Ok(answers) => {
                log::info!("{unit} is healthy: {}", answers.join("; "));
                return Ok(());
            }
            Err(f) => f,
        };
        if attempts == 1 {
            log::info!("{unit} is not healthy yet: {failure}; waiting");
        } else {
            log::debug!("{unit} is not healthy yet: {failure}");
        }
        let waited = started.elapsed().as_millis();
        if Instant::now() + backoff.pause() >= give_up {
            let limit = if grace_end.is_some_and(|g| g <= ctx.deadline.instant()) {
                "start_grace"
            } else {
                "the start operation's time budget"
            };
            return Err(OcfError::Generic(format!(
                "unit {unit} is active but its health check did not pass within {waited} ms ({limit}): {failure}"
            )));
        }
        // The service itself may be gone (crashed after a Type=simple start): say so now
        // rather than wait out the whole budget for an answer that cannot come.
        let status = sd
            .inspect(
                std::slice::from_ref(unit),
                Explain::IfNotRunning,
                ctx.deadline.budget(SYSTEMD_CALL),
            )
            .map_err(|e| outcome::error(e, &ctx.deadline))?;
        if !outcome::is_running(&status) {
            return Err(OcfError::Generic(format!(
                "unit {unit} went {} while waiting for its health check ({failure})",
                status.describe()
            )));
        }
        std::thread::sleep(
            backoff
                .advance()
                .min(give_up.saturating_duration_since(Instant::now())),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agents::presets::PRESETS;
    use crate::ocf::OcfEnv;

    fn ctx_run(
        agent: &dyn crate::ocf::Agent,
        action: &str,
        pairs: &[(&str, &str)],
    ) -> OcfResult<OcfCode> {
        let env = OcfEnv::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let ctx = Context::new(agent.name(), action, &env);
        agent.run_named(&ctx)
    }

    #[test]
    fn hostile_unit_names_are_configuration_errors_before_anything_happens() {
        // The manager setting points at a place that does not exist: reaching systemd or
        // the file system would fail differently from OCF_ERR_CONFIGURED.
        for bad in [
            "../x",
            "a b",
            "a\nb",
            "$(reboot)",
            "x/../../etc",
            "getty@.service",
        ] {
            for action in ["start", "stop", "monitor", "validate-all"] {
                let r = ctx_run(
                    &SystemdService,
                    action,
                    &[
                        ("OCF_RESKEY_unit", bad),
                        ("OCFBOX_SYSTEMD_MANAGER", "user"),
                        ("XDG_RUNTIME_DIR", "/nonexistent/ocfbox"),
                    ],
                );
                let e = r.expect_err(bad);
                assert_eq!(e.code(), OcfCode::ErrConfigured, "{bad} {action}: {e}");
                assert!(e.to_string().contains("invalid unit name"), "{e}");
            }
        }
    }

    #[test]
    fn missing_unit_and_bad_health_parameters_are_configuration_errors() {
        let e = ctx_run(&SystemdService, "monitor", &[]).unwrap_err();
        assert_eq!(e.code(), OcfCode::ErrConfigured);
        for (k, v) in [
            ("OCF_RESKEY_monitor_url", "ftp://x/"),
            ("OCF_RESKEY_monitor_tcp", "nohost"),
            ("OCF_RESKEY_monitor_cmd", "check 'unbalanced"),
            ("OCF_RESKEY_monitor_url_status", "abc"),
            ("OCF_RESKEY_check_timeout", "0"),
            ("OCF_RESKEY_check_level", "x"),
            ("OCF_RESKEY_insecure", "perhaps"),
            ("OCF_RESKEY_monitor_url_body", "versions"),
            ("OCF_RESKEY_ca_file", "/etc/ssl/ca.pem"),
        ] {
            let mut pairs = vec![("OCF_RESKEY_unit", "demo"), (k, v)];
            if k == "OCF_RESKEY_monitor_url_status" {
                pairs.push(("OCF_RESKEY_monitor_url", "http://localhost/"));
            }
            let e = ctx_run(&SystemdService, "monitor", &pairs).unwrap_err();
            assert_eq!(e.code(), OcfCode::ErrConfigured, "{k}={v}: {e}");
        }
        let e = ctx_run(
            &SystemdService,
            "monitor",
            &[
                ("OCF_RESKEY_unit", "demo"),
                ("OCFBOX_SYSTEMD_MANAGER", "both"),
            ],
        )
        .unwrap_err();
        assert_eq!(e.code(), OcfCode::ErrArgs);
    }

    #[test]
    fn depth_follows_ocf_check_level_then_the_parameter_probes_stay_shallow() {
        let cfg = |pairs: &[(&str, &str)], action: &str| {
            let env = OcfEnv::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())));
            let ctx = Context::new("SystemdService", action, &env);
            let c = Config::read(&ctx, None).unwrap();
            c.depth(&ctx)
        };
        let base = [
            ("OCF_RESKEY_unit", "demo"),
            ("OCF_RESKEY_CRM_meta_interval", "10000"),
        ];
        assert_eq!(cfg(&base, "monitor"), 10);
        assert_eq!(cfg(&[("OCF_RESKEY_unit", "demo")], "monitor"), 0, "probe");
        assert_eq!(cfg(&[("OCF_RESKEY_unit", "demo")], "start"), 10);
        let mut explicit = base.to_vec();
        explicit.push(("OCF_CHECK_LEVEL", "0"));
        assert_eq!(cfg(&explicit, "monitor"), 0);
        let mut param = base.to_vec();
        param.push(("OCF_RESKEY_check_level", "0"));
        assert_eq!(cfg(&param, "monitor"), 0);
    }

    #[test]
    fn presets_use_candidates_and_their_check_unless_overridden() {
        let nova = PRESETS
            .iter()
            .find(|p| p.name == "openstack-nova-api")
            .unwrap();
        let env = OcfEnv::from_pairs([("OCF_RESKEY_CRM_meta_interval", "10000")]);
        let ctx = Context::new(nova.name, "monitor", &env);
        let c = Config::read(&ctx, Some(nova)).unwrap();
        assert_eq!(c.units.len(), 2);
        assert_eq!(c.checks.len(), 1);
        assert!(c.checks[0].describe().contains("8774"));

        let env = OcfEnv::from_pairs([
            ("OCF_RESKEY_unit", "my-nova"),
            ("OCF_RESKEY_monitor_tcp", "[::1]:8774"),
        ]);
        let ctx = Context::new(nova.name, "monitor", &env);
        let c = Config::read(&ctx, Some(nova)).unwrap();
        assert_eq!(c.units, vec![UnitName::parse("my-nova").unwrap()]);
        assert_eq!(c.checks.len(), 1);
        assert!(c.checks[0].describe().starts_with("TCP"));
    }

    #[test]
    fn openstack_resource_agents_names_take_their_old_parameters() {
        let find = |n: &str| PRESETS.iter().find(|p| p.name == n).unwrap();
        let read = |p: &Preset, pairs: &[(&str, &str)]| {
            let mut all = vec![("OCF_RESKEY_CRM_meta_interval", "10000")];
            all.extend_from_slice(pairs);
            let env = OcfEnv::from_pairs(all.iter().map(|(k, v)| (k.to_string(), v.to_string())));
            let ctx = Context::new(p.name, "monitor", &env);
            Config::read(&ctx, Some(p)).map(|c| {
                c.checks
                    .iter()
                    .map(HealthCheck::describe)
                    .collect::<Vec<_>>()
            })
        };
        let nova = find("nova-api");
        // url is the health check; the credentials are accepted (a warning), not used
        let checks = read(
            nova,
            &[
                ("OCF_RESKEY_url", "http://192.0.2.10:8774/v2/"),
                ("OCF_RESKEY_os_password", "s3cret"),
                (
                    "OCF_RESKEY_keystone_get_token_url",
                    "http://k:5000/v2.0/tokens",
                ),
                ("OCF_RESKEY_binary", "/usr/bin/nova-api"),
                ("OCF_RESKEY_config", "/etc/nova/nova.conf"),
                ("OCF_RESKEY_user", "nova"),
                ("OCF_RESKEY_pid", "/var/run/nova-api.pid"),
                ("OCF_RESKEY_additional_parameters", "--debug"),
            ],
        )
        .unwrap();
        assert_eq!(checks.len(), 1, "{checks:?}");
        assert!(checks[0].contains("192.0.2.10:8774/v2/"), "{checks:?}");
        assert!(read(nova, &[]).unwrap()[0].contains("localhost:8774"));
        // the workers: AMQP (and the database for the scheduler), zeromq drops AMQP
        let sched = find("nova-scheduler");
        let c = read(sched, &[]).unwrap();
        assert!(
            c[0].contains("AMQP port 5672") && c[0].contains("database port 3306"),
            "{c:?}"
        );
        let c = read(sched, &[("OCF_RESKEY_zeromq", "true")]).unwrap();
        assert!(!c[0].contains("AMQP") && c[0].contains("3306"), "{c:?}");
        let c = read(
            find("openstack-nova-scheduler"),
            &[
                ("OCF_RESKEY_amqp_server_port", "5671"),
                ("OCF_RESKEY_database_server_port", "0"),
            ],
        )
        .unwrap();
        assert_eq!(
            c,
            vec!["an ESTABLISHED connection to AMQP port 5671".to_string()]
        );
        let e = read(sched, &[("OCF_RESKEY_amqp_server_port", "amqp")]).unwrap_err();
        assert_eq!(e.code(), OcfCode::ErrConfigured);
        let c = read(find("nova-novnc"), &[("OCF_RESKEY_console_port", "6081")]).unwrap();
        assert_eq!(
            c,
            vec!["TCP connect to localhost:6081".to_string()],
            "{c:?}"
        );
        // no old parameter on our own names
        let e = read(find("openstack-nova-api"), &[]).unwrap();
        assert_eq!(e.len(), 1);
    }
}
