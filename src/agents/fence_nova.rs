//! fence_nova: the Nova side of fencing a compute node, a native drop-in for fence-agents'
//! fence_compute (same options, aliases, meta-data format and exit codes) under a name
//! that cannot collide with it. Put it in the node's fencing topology level next to the
//! power device: [power, fence_nova].
//!
//!   off (and reboot: fabric fencing has no reboot) — the host's nova-compute service is
//!       forced down and disabled with the durable marker `ocfbox evacuation requested
//!       <epoch>` (instance_ha::fencing), then the private attribute `evacuate=yes` is set;
//!       also when the service was already down and disabled (fence_compute skipped the
//!       attribute then and the host was never evacuated). An open request already in Nova
//!       is kept. Evacuating is NovaEvacuate's job: nothing here rebuilds instances, so the
//!       fencing operation is held for one Keystone and three Nova requests.
//!   on (unfencing, when the node rejoins) — waits within `power_timeout` until the host's
//!       evacuation is over (instance_ha::readmit), then clears forced_down and enables the
//!       service if the reason is ours. Never succeeds without Nova's answer. When Nova's
//!       force-up guard (Xena+) refuses, it says so and leaves forced_down to NovaCompute's
//!       start, which clears it once nova-compute has run there.
//!   status — 0 on, 2 off (forced down, or down and disabled), 1 unknown or unreachable.
//!   list / list-status — every nova-compute host (long and short form); monitor — one
//!   Keystone authentication; validate-all — the options, without the network.

use std::borrow::Cow;
use std::time::Duration;

use crate::fence::{
    common_params, metadata_xml, ActionSpec, Content, FenceAction, FenceAgent, FenceCode,
    FenceError, FenceOptions, FenceParam,
};
use crate::instance_ha::attribute;
use crate::instance_ha::fencing::{self, FencingError, Marked};
use crate::instance_ha::hosts::MatchError;
use crate::instance_ha::now_epoch;
use crate::instance_ha::readmit::{self, DisabledBy};
use crate::ocf::params::printable;
use crate::ocf::{process, Backoff, Deadline};
use crate::openstack::{
    AuthConfig, Compute, CredentialParams, ErrorKind, Interface, MigrationFilter, Secret,
    ServiceState, ServiceStatus, Session,
};
use crate::pacemaker::attrd;

pub struct FenceNova;

/// The whole action's budget when power_timeout is not set: under Pacemaker's default
/// stonith-timeout (60 s), which kills the agent (fence-agents disable their own timeouts
/// under pacemaker-fenced, so the option is ours to read).
const DEFAULT_BUDGET_S: &str = "50";
/// A password script gets this long.
const SCRIPT_CAP: Duration = Duration::from_secs(10);

fn own_params() -> Vec<FenceParam> {
    vec![
        FenceParam::string("auth_url", "auth-url", "Keystone Admin Auth URL")
            .short('k')
            .placeholder("url"),
        FenceParam::string("username", "username", "Login name")
            .short('l')
            .placeholder("name")
            .deprecated(&["login"]),
        FenceParam::string("password", "password", "Login password or passphrase")
            .short('p')
            .placeholder("password")
            .deprecated(&["passwd"])
            .secret(),
        FenceParam::string(
            "password_script",
            "password-script",
            "Script to run to retrieve password",
        )
        .short('S')
        .placeholder("script")
        .deprecated(&["passwd_script"]),
        FenceParam::string(
            "password_file",
            "password-file",
            "File whose first line is the password (not readable by group or others)",
        )
        .placeholder("path"),
        FenceParam::string(
            "tenant_name",
            "tenant-name",
            "Keystone Admin Tenant or v3 Project",
        )
        .short('t')
        .placeholder("name"),
        FenceParam::string("project_name", "project-name", "Keystone v3 Project (= tenant_name)")
            .placeholder("name"),
        FenceParam::string("user_domain", "user-domain", "Keystone v3 User Domain")
            .short('u')
            .placeholder("name")
            .default("Default")
            .deprecated(&["user-domain"]),
        FenceParam::string("project_domain", "project-domain", "Keystone v3 Project Domain")
            .short('P')
            .placeholder("name")
            .default("Default")
            .deprecated(&["project-domain"]),
        FenceParam::string("endpoint_type", "endpoint-type", "Nova Endpoint type")
            .short('e')
            .placeholder("endpoint")
            .default("internalURL"),
        FenceParam::string("region_name", "region-name", "Region Name").placeholder("region"),
        FenceParam::flag("insecure", "insecure", "Allow Insecure TLS Requests"),
        FenceParam::string("ca_file", "ca-file", "CA bundle to verify Keystone and Nova")
            .placeholder("path"),
        FenceParam::string(
            "os_cloud",
            "os-cloud",
            "Entry of clouds.yaml holding the credentials",
        )
        .placeholder("cloud"),
        FenceParam::string(
            "application_credential_id",
            "application-credential-id",
            "Keystone application credential id",
        )
        .placeholder("id"),
        FenceParam::string(
            "application_credential_secret",
            "application-credential-secret",
            "Keystone application credential secret",
        )
        .placeholder("secret")
        .secret(),
        FenceParam::string("domain", "domain", "DNS domain in which hosts live")
            .short('d')
            .placeholder("string")
            .deprecated(&["compute-domain"]),
        FenceParam::string(
            "record_only",
            "record-only",
            "Only record the target as needing evacuation (always so; 2 or disabled: do nothing)",
        )
        .default("False"),
        FenceParam::flag(
            "instance_filtering",
            "instance-filtering",
            "Allow instances to be evacuated (accepted; NovaEvacuate selects them)",
        )
        .default("True"),
        FenceParam::flag(
            "no_shared_storage",
            "no-shared-storage",
            "Disable functionality for dealing with shared storage (accepted; NovaEvacuate's)",
        )
        .default("False"),
        FenceParam::string(
            "power_timeout",
            "power-timeout",
            "Seconds the whole action may take (on: the wait for evacuations); keep it under pcmk_on_timeout",
        )
        .placeholder("seconds")
        .content(Content::Second)
        .default(DEFAULT_BUDGET_S),
    ]
}

const ACTIONS: &[ActionSpec] = &[
    ActionSpec {
        name: "on",
        automatic: true,
    },
    ActionSpec {
        name: "off",
        automatic: false,
    },
    ActionSpec {
        name: "status",
        automatic: false,
    },
    ActionSpec {
        name: "list",
        automatic: false,
    },
    ActionSpec {
        name: "list-status",
        automatic: false,
    },
    ActionSpec {
        name: "monitor",
        automatic: false,
    },
    ActionSpec {
        name: "metadata",
        automatic: false,
    },
    ActionSpec {
        name: "validate-all",
        automatic: false,
    },
];

impl FenceAgent for FenceNova {
    fn name(&self) -> &str {
        "fence_nova"
    }

    fn shortdesc(&self) -> &str {
        "Fence agent telling OpenStack Nova that a compute node is fenced (native fence_compute)"
    }

    fn metadata(&self) -> Cow<'static, str> {
        Cow::Owned(metadata_xml(
            self.name(),
            self.shortdesc(),
            "Used to tell Nova that compute nodes are down and to request the evacuation of \
             their instances (forced down, disabled with a durable reason, evacuate=yes), and \
             to let a rejoining node take instances again once its evacuations are over. \
             Compatible with fence_compute's options; NovaEvacuate does the evacuation.",
            "https://docs.openstack.org/nova/latest/admin/evacuate.html",
            &self.params(),
            ACTIONS,
        ))
    }

    fn params(&self) -> Vec<FenceParam> {
        let mut all = own_params();
        all.extend(common_params().into_iter().map(|p| {
            if p.name == "action" {
                p.default("off")
            } else {
                p
            }
        }));
        all
    }

    fn run(&self, action: FenceAction, opts: &FenceOptions) -> Result<FenceCode, FenceError> {
        let cfg = Config::read(opts)?;
        match action {
            FenceAction::ValidateAll => Ok(FenceCode::Success),
            FenceAction::Monitor => {
                connect(&cfg)?;
                Ok(FenceCode::Success)
            }
            FenceAction::List | FenceAction::ListStatus => {
                list(&cfg, opts, action == FenceAction::ListStatus)
            }
            FenceAction::Status => status(&cfg, target(opts)?),
            FenceAction::Off | FenceAction::Reboot => off(&cfg, opts, target(opts)?),
            FenceAction::On => on(&cfg, target(opts)?),
            // Answered by the runtime.
            FenceAction::Metadata => Ok(FenceCode::Success),
        }
    }
}

fn target(opts: &FenceOptions) -> Result<&str, FenceError> {
    opts.target()
        .ok_or_else(|| FenceError::Config("no target: set plug (or port / -n)".into()))
}

/// The options, read and checked (no network).
struct Config {
    auth: AuthConfig,
    domain: Option<String>,
    /// record_only=2/disabled: fence_compute's "do nothing" switch.
    disabled: bool,
    budget: Duration,
}

impl Config {
    fn read(o: &FenceOptions) -> Result<Config, FenceError> {
        let s = |k: &str| o.get(k).filter(|v| !v.is_empty()).map(str::to_string);
        let mut password = s("password").map(Secret::new);
        if password.is_none() {
            if let Some(script) = s("password_script") {
                password = Some(password_from_script(&script)?);
            }
        }
        let endpoint_type = s("endpoint_type");
        if let Some(t) = endpoint_type.as_deref() {
            if Interface::parse(t).is_none() {
                return Err(FenceError::Config(format!(
                    "endpoint_type must be publicURL, internalURL or adminURL, got '{}'",
                    printable(t)
                )));
            }
        }
        let creds = CredentialParams {
            auth_url: s("auth_url"),
            username: s("username"),
            password,
            password_file: s("password_file"),
            project_name: s("tenant_name").or(s("project_name")),
            user_domain: s("user_domain"),
            project_domain: s("project_domain"),
            region_name: s("region_name"),
            endpoint_type,
            insecure: o.get("insecure").map(|_| o.flag("insecure")),
            ca_file: s("ca_file"),
            os_cloud: s("os_cloud"),
            application_credential_id: s("application_credential_id"),
            application_credential_secret: s("application_credential_secret").map(Secret::new),
            ..Default::default()
        };
        let auth =
            AuthConfig::from_params(&creds).map_err(|e| FenceError::Config(e.to_string()))?;
        let budget_s = o.get("power_timeout").unwrap_or(DEFAULT_BUDGET_S);
        let budget_s: f64 = budget_s
            .trim()
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite() && *v > 0.0)
            .ok_or_else(|| {
                FenceError::Config(format!(
                    "power_timeout must be a positive number of seconds, got '{}'",
                    printable(budget_s)
                ))
            })?;
        let record_only = o
            .get("record_only")
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        Ok(Config {
            auth,
            domain: s("domain"),
            disabled: matches!(record_only.as_str(), "2" | "disabled"),
            budget: Duration::from_secs_f64(budget_s),
        })
    }

    fn deadline(&self) -> Deadline {
        Deadline::within(self.budget)
    }
}

/// fence-agents run password_script through the shell and take its first line.
fn password_from_script(script: &str) -> Result<Secret, FenceError> {
    let argv = vec!["/bin/sh".to_string(), "-c".to_string(), script.to_string()];
    let out = process::run(&argv, SCRIPT_CAP)
        .map_err(|e| FenceError::Config(format!("password_script: {e}")))?;
    if !out.success() {
        // Its output may hold the secret: the status only.
        return Err(FenceError::Config(format!(
            "password_script failed ({})",
            out.describe_status()
        )));
    }
    let line = out
        .stdout
        .lines()
        .next()
        .unwrap_or("")
        .trim_end()
        .to_string();
    if line.is_empty() {
        return Err(FenceError::Config(
            "password_script printed no password".into(),
        ));
    }
    Ok(Secret::new(line))
}

fn failed(e: impl std::fmt::Display) -> FenceError {
    FenceError::Failed(e.to_string())
}

fn connect(cfg: &Config) -> Result<Session, FenceError> {
    Session::connect(&cfg.auth, &cfg.deadline()).map_err(failed)
}

fn off(cfg: &Config, opts: &FenceOptions, node: &str) -> Result<FenceCode, FenceError> {
    if cfg.disabled {
        log::info!(
            "record_only={}: nothing done for {node}",
            opts.get("record_only").unwrap_or("")
        );
        return Ok(FenceCode::Success);
    }
    if let Some(d) = opts.get("delay").and_then(|d| d.trim().parse::<u64>().ok()) {
        std::thread::sleep(Duration::from_secs(d));
    }
    let dl = cfg.deadline();
    let session = Session::connect(&cfg.auth, &dl).map_err(failed)?;
    let compute = session.compute();
    let svc = match fencing::service_of(&compute, node, cfg.domain.as_deref(), &dl) {
        Ok(s) => s,
        // Nova cannot have instances on a host it does not know: nothing to evacuate.
        Err(FencingError::Host(MatchError::NotFound(_))) => {
            log::error!("Nova has no nova-compute service for '{node}': nothing to evacuate");
            return Ok(FenceCode::Success);
        }
        Err(e) => return Err(failed(e)),
    };
    match fencing::mark_in_nova(&compute, &svc, now_epoch(), &dl).map_err(failed)? {
        Marked::Requested(m) => log::info!("{}: forced down and disabled ('{m}')", svc.host),
        Marked::AlreadyRequested(m) => {
            log::info!("{}: evacuation already requested in Nova ('{m}')", svc.host)
        }
    }
    // The marker in Nova is the durable request; the attribute is the fast path.
    match fencing::request_attribute(node, &dl) {
        Ok(()) => log::info!("{node}: evacuate=yes"),
        Err(e) => log::warn!("{e}: NovaEvacuate still finds the request in Nova's marker"),
    }
    Ok(FenceCode::Success)
}

/// The pause between two looks at the evacuation (fence_compute polled every 2 s).
const ON_POLL: Duration = Duration::from_secs(2);

fn on(cfg: &Config, node: &str) -> Result<FenceCode, FenceError> {
    let dl = cfg.deadline();
    let session = Session::connect(&cfg.auth, &dl).map_err(failed)?;
    let compute = session.compute();
    let mut pause = Backoff::doubling(Duration::from_millis(250), ON_POLL);
    let mut attr_warned = false;
    let svc = loop {
        let svc =
            fencing::service_of(&compute, node, cfg.domain.as_deref(), &dl).map_err(failed)?;
        let attr = match attrd::query(attribute::NAME, node, &dl) {
            Ok(v) => v,
            Err(e) => {
                if !attr_warned {
                    log::warn!("{e}: judging by Nova alone");
                    attr_warned = true;
                }
                None
            }
        };
        let migrations: Vec<(String, String)> = compute
            .migrations(
                &MigrationFilter {
                    source_compute: Some(svc.host.clone()),
                    migration_type: Some("evacuation".into()),
                    ..Default::default()
                },
                &dl,
            )
            .map_err(failed)?
            .into_iter()
            .map(|m| (m.instance_uuid, m.status))
            .collect();
        let blockers = readmit::blockers(
            &[(node.to_string(), attr)],
            svc.disabled_reason.as_deref(),
            &migrations,
        );
        if blockers.is_empty() {
            break svc;
        }
        let why = readmit::describe(&blockers);
        let wait = pause.advance();
        if dl.remaining() <= wait {
            return Err(FenceError::Failed(format!(
                "{}: not unfenced, its evacuation is not over within power_timeout ({} s): {why}",
                svc.host,
                cfg.budget.as_secs()
            )));
        }
        log::debug!("{}: waiting: {why}", svc.host);
        std::thread::sleep(wait);
    };
    readmit_service(&compute, &svc, &dl)
}

/// Clear forced_down, then enable unless an operator disabled it.
fn readmit_service(
    compute: &Compute<'_>,
    svc: &crate::openstack::Service,
    dl: &Deadline,
) -> Result<FenceCode, FenceError> {
    if svc.forced_down {
        match compute.force_up(svc, dl) {
            Ok(()) => log::info!("{}: forced_down cleared", svc.host),
            Err(e) if e.kind() == ErrorKind::BadRequest => {
                log::warn!(
                    "{}: Nova refuses to clear forced_down ({e}): its evacuations are done but \
                     not yet completed by nova-compute there; NovaCompute's start clears it \
                     and enables the service once nova-compute runs",
                    svc.host
                );
                return Ok(FenceCode::Success);
            }
            Err(e) => return Err(failed(e)),
        }
    }
    // Ours, or fence_compute's (forced down, no reason); never an operator's.
    let ours = !matches!(
        readmit::disabled_by(svc.disabled_reason.as_deref(), svc.forced_down),
        DisabledBy::Operator(_)
    );
    if svc.status == ServiceStatus::Disabled {
        if ours {
            compute.enable(svc, dl).map_err(failed)?;
            log::info!("{}: enabled", svc.host);
        } else {
            log::info!(
                "{}: left disabled, the reason is not ours ('{}')",
                svc.host,
                svc.disabled_reason.as_deref().unwrap_or("")
            );
        }
    }
    Ok(FenceCode::Success)
}

fn status(cfg: &Config, node: &str) -> Result<FenceCode, FenceError> {
    let dl = cfg.deadline();
    let session = Session::connect(&cfg.auth, &dl).map_err(failed)?;
    let svc = fencing::service_of(&session.compute(), node, cfg.domain.as_deref(), &dl)
        .map_err(failed)?;
    Ok(if is_off(&svc) {
        FenceCode::Off
    } else {
        FenceCode::Success
    })
}

/// Fenced as far as Nova goes: forced down, or down and disabled.
fn is_off(svc: &crate::openstack::Service) -> bool {
    svc.forced_down || (svc.state == ServiceState::Down && svc.status == ServiceStatus::Disabled)
}

fn list(cfg: &Config, opts: &FenceOptions, with_status: bool) -> Result<FenceCode, FenceError> {
    let dl = cfg.deadline();
    let session = Session::connect(&cfg.auth, &dl).map_err(failed)?;
    let services = session
        .compute()
        .services(Some(fencing::BINARY), None, &dl)
        .map_err(failed)?;
    let sep = opts.get("separator").unwrap_or(",");
    let mut out = String::new();
    for svc in &services {
        let state = if is_off(svc) { "OFF" } else { "ON" };
        let short = svc.host.split('.').next().unwrap_or(&svc.host);
        let mut names = vec![svc.host.as_str()];
        if short != svc.host {
            names.push(short);
        }
        for n in names {
            if with_status {
                out.push_str(&format!("{n}{sep}{sep}{state}\n"));
            } else {
                out.push_str(&format!("{n}{sep}\n"));
            }
        }
    }
    if crate::ocf::agent::write_stdout(&out) {
        Ok(FenceCode::Success)
    } else {
        Err(FenceError::Failed("cannot write the list".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(text: &str) -> FenceOptions {
        FenceOptions::parse_with(text.as_bytes(), &FenceNova.params()).unwrap()
    }

    #[test]
    fn every_fence_compute_name_reaches_its_option() {
        let o = opts(
            "login=u\npasswd=p\npasswd_script=s\nport=cmp1\ntenant-name=t\nuser-domain=ud\n\
             project-domain=pd\nauth-url=http://k\nendpoint-type=publicURL\nregion-name=r\n\
             compute-domain=example.com\nrecord-only=1\ninsecure=true\nnodename=cmp1\n",
        );
        for (k, v) in [
            ("username", "u"),
            ("password", "p"),
            ("password_script", "s"),
            ("plug", "cmp1"),
            ("tenant_name", "t"),
            ("user_domain", "ud"),
            ("project_domain", "pd"),
            ("auth_url", "http://k"),
            ("endpoint_type", "publicURL"),
            ("region_name", "r"),
            ("domain", "example.com"),
            ("record_only", "1"),
            ("insecure", "1"),
        ] {
            assert_eq!(o.get(k), Some(v), "{k}");
        }
        assert!(o.unknown().is_empty(), "{:?}", o.unknown());
        let o = opts("frobnicate=1\n");
        assert_eq!(o.unknown(), ["frobnicate"]);
    }

    #[test]
    fn command_line_as_fence_compute_takes_it() {
        let args: Vec<String> = [
            "-o",
            "status",
            "-n",
            "cmp1",
            "-k",
            "http://k",
            "-l",
            "admin",
            "-p",
            "pw",
            "-t",
            "adm",
            "--insecure",
            "-v",
            "--region-name=r1",
            "-d",
            "example.com",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let o = FenceOptions::from_args(&args, &FenceNova.params()).unwrap();
        assert_eq!(o.action().unwrap(), FenceAction::Status);
        assert_eq!(o.target(), Some("cmp1"));
        assert_eq!(o.get("password"), Some("pw"));
        assert!(o.flag("insecure") && o.flag("verbose"));
        assert_eq!(o.get("region_name"), Some("r1"));
        assert_eq!(o.secrets_in_argv(), ["password"]);
        assert!(!format!("{o:?}").contains("pw\""));
        assert!(FenceOptions::from_args(&["--nope=1".to_string()], &FenceNova.params()).is_err());
    }

    #[test]
    fn metadata_lists_old_and_new_names_and_automatic_on() {
        let xml = FenceNova.metadata();
        for needle in [
            "<resource-agent name=\"fence_nova\"",
            "<parameter name=\"login\" unique=\"0\" required=\"0\" deprecated=\"1\">",
            "<parameter name=\"username\" unique=\"0\" required=\"0\" obsoletes=\"login\">",
            "<getopt mixed=\"-p, --password=[password]\" />",
            "<parameter name=\"port\" unique=\"0\" required=\"1\" deprecated=\"1\">",
            "<parameter name=\"password_file\"",
            "<parameter name=\"os_cloud\"",
            "<content type=\"string\" default=\"off\" />",
            "<action name=\"on\" automatic=\"1\"/>",
            "<action name=\"validate-all\"/>",
        ] {
            assert!(xml.contains(needle), "{needle} missing in\n{xml}");
        }
    }

    #[test]
    fn configuration_is_checked_without_the_network() {
        let base = "auth_url=http://127.0.0.1:9/identity\nusername=a\npassword=p\ntenant_name=t\n";
        assert!(Config::read(&opts(base)).is_ok());
        let e = Config::read(&opts(&format!("{base}endpoint_type=sideURL\n")))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("endpoint_type"), "{e}");
        assert!(Config::read(&opts(&format!("{base}power_timeout=soon\n"))).is_err());
        assert!(Config::read(&opts("username=a\npassword=p\n")).is_err());
        assert!(
            Config::read(&opts(&format!("{base}record_only=Disabled\n")))
                .map(|c| c.disabled)
                .unwrap_or(false)
        );
    }
}
