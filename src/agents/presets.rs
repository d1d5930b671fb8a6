//! Presets of the SystemdService engine: one row per service, data only. A preset is an
//! agent of its own (`ocf:ocfbox:openstack-nova-api`) with candidate unit names tried in
//! order, so one CIB works on RHEL-family (`openstack-nova-api.service`) and Debian-family
//! (`nova-api.service`) hosts, and the service's own health check. The `unit` parameter
//! overrides the candidates; any of monitor_url/monitor_tcp/monitor_cmd replaces the
//! preset's health check.
//!
//! Names: OpenStack services take their RDO unit names (`openstack-<project>-<service>`),
//! which are valid OCF type names and say what they run; libvirtd keeps its daemon's name.
//!
//! openstack-resource-agents' names (`ocf:openstack:nova-api`, …) are presets too, the same
//! rows under the old name, with the old agent's parameters and action timeouts ([`Osr`]):
//! a cluster changes only the provider. What each old parameter became is in
//! [`OSR_PARAMS`] (and the agent's meta-data).

use std::borrow::Cow;

use super::systemd_service::{run, Action, METADATA, SPECS};
use crate::health::{ConnCheck, HealthCheck};
use crate::ocf::metadata::xml_escape;
use crate::ocf::{Context, OcfAgent, OcfCode, OcfError, OcfResult, ParamSpec, Params};
use crate::systemd::ServiceFacts;

/// The health check a preset uses when the operator configures none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PresetCheck {
    /// The unit's state is all there is to check (RPC workers without an endpoint).
    UnitOnly,
    /// GET `url`; healthy when the status is in `status` and the body contains `body`.
    Http {
        url: &'static str,
        status: &'static str,
        body: &'static str,
    },
    Tcp(&'static str),
    Command(&'static str),
    /// ganesha.nfsd's admin interface answers get_grace on the D-Bus system bus.
    GaneshaAdmin,
}

/// A remote port the service's processes must hold an ESTABLISHED connection to (a
/// worker's message bus or database), set by a parameter of this name; 0 turns it off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnParam {
    pub param: &'static str,
    pub what: &'static str,
    pub default: &'static str,
}

pub const AMQP: ConnParam = ConnParam {
    param: "amqp_server_port",
    what: "AMQP",
    default: "5672",
};
pub const DATABASE: ConnParam = ConnParam {
    param: "database_server_port",
    what: "database",
    default: "3306",
};
/// neutron-agent-l3's name for the port it checked.
const NEUTRON_SERVER_PORT: ConnParam = ConnParam {
    param: "neutron_server_port",
    what: "neutron_server_port",
    default: "5672",
};

#[derive(Debug, Clone, Copy)]
pub struct Preset {
    /// The OCF type name (the symlink's name).
    pub name: &'static str,
    /// What it runs, for the meta-data.
    pub title: &'static str,
    /// Candidate units, tried in order; the first one installed on the host wins.
    pub units: &'static [&'static str],
    pub check: PresetCheck,
    /// Connections the service must hold (checked with the health check).
    pub conns: &'static [ConnParam],
    /// Set for openstack-resource-agents' names.
    pub osr: Option<Osr>,
}

/// What an openstack-resource-agents agent had that the preset under its name keeps.
#[derive(Debug, Clone, Copy)]
pub struct Osr {
    /// The old `binary` default (the daemon the unit runs).
    pub binary: &'static str,
    /// Its parameters beyond [`OSR_COMMON`] and the connection ports, all in [`OSR_PARAMS`].
    pub extra: &'static [&'static str],
    /// monitor timeout and interval (s) as the old meta-data advised.
    pub monitor: (u32, u32),
    /// start/stop/status timeout (s).
    pub op_timeout: u32,
    /// The connection ports under the old agent's parameter names, when they differ.
    pub conns: Option<&'static [ConnParam]>,
}

/// An OpenStack API's version document: `/` answers 200 or 300 (Multiple Choices,
/// keystone/glance/cinder/heat) with a JSON body listing "versions".
const fn api(url: &'static str) -> PresetCheck {
    PresetCheck::Http {
        url,
        status: "200,300",
        body: "versions",
    }
}

const fn preset(
    name: &'static str,
    title: &'static str,
    units: &'static [&'static str],
    check: PresetCheck,
) -> Preset {
    Preset {
        name,
        title,
        units,
        check,
        conns: &[],
        osr: None,
    }
}

const fn worker(
    name: &'static str,
    title: &'static str,
    units: &'static [&'static str],
    conns: &'static [ConnParam],
) -> Preset {
    Preset {
        name,
        title,
        units,
        check: PresetCheck::UnitOnly,
        conns,
        osr: None,
    }
}

/// The preset `base` under openstack-resource-agents' name.
const fn osr(name: &'static str, base: Preset, osr: Osr) -> Preset {
    Preset {
        name,
        osr: Some(osr),
        ..base
    }
}

const fn old(binary: &'static str, extra: &'static [&'static str], monitor: (u32, u32)) -> Osr {
    Osr {
        binary,
        extra,
        monitor,
        // 10 s for the agents with a 5 s monitor, 20 s for the others.
        op_timeout: if monitor.0 <= 10 && monitor.1 == 5 {
            10
        } else {
            20
        },
        conns: None,
    }
}

const API_CREDS: &[&str] = &[
    "url",
    "keystone_get_token_url",
    "os_username",
    "os_password",
    "os_tenant_name",
];
const CLI_CREDS: &[&str] = &[
    "client_binary",
    "os_username",
    "os_password",
    "os_tenant_name",
    "os_auth_url",
];

const NOVA_API: Preset = preset(
    "openstack-nova-api",
    "the OpenStack Compute API (nova-api)",
    &["openstack-nova-api.service", "nova-api.service"],
    api("http://localhost:8774/"),
);
const NOVA_SCHEDULER: Preset = worker(
    "openstack-nova-scheduler",
    "the OpenStack Compute scheduler (nova-scheduler)",
    &["openstack-nova-scheduler.service", "nova-scheduler.service"],
    &[AMQP, DATABASE],
);
const NOVA_CONDUCTOR: Preset = worker(
    "openstack-nova-conductor",
    "the OpenStack Compute conductor (nova-conductor)",
    &["openstack-nova-conductor.service", "nova-conductor.service"],
    &[AMQP],
);
const NOVA_NOVNCPROXY: Preset = preset(
    "openstack-nova-novncproxy",
    "the OpenStack Compute noVNC console proxy (nova-novncproxy)",
    &[
        "openstack-nova-novncproxy.service",
        "nova-novncproxy.service",
    ],
    PresetCheck::Tcp("localhost:6080"),
);
const NOVA_CERT: Preset = worker(
    "openstack-nova-cert",
    "the OpenStack Compute certificate service (nova-cert, removed in Pike)",
    &["openstack-nova-cert.service", "nova-cert.service"],
    &[AMQP, DATABASE],
);
const NOVA_CONSOLEAUTH: Preset = worker(
    "openstack-nova-consoleauth",
    "the OpenStack Compute console authorisation service (nova-consoleauth, removed in Train)",
    &[
        "openstack-nova-consoleauth.service",
        "nova-consoleauth.service",
    ],
    &[AMQP, DATABASE],
);
const NOVA_NETWORK: Preset = worker(
    "openstack-nova-network",
    "the OpenStack Compute legacy network service (nova-network, removed in Rocky)",
    &["openstack-nova-network.service", "nova-network.service"],
    &[AMQP, DATABASE],
);
const KEYSTONE: Preset = preset(
    "openstack-keystone",
    "the OpenStack Identity API (keystone)",
    // Keystone runs inside Apache on most current distributions.
    &[
        "openstack-keystone.service",
        "keystone.service",
        "httpd.service",
        "apache2.service",
    ],
    api("http://localhost:5000/"),
);
const GLANCE_API: Preset = preset(
    "openstack-glance-api",
    "the OpenStack Image API (glance-api)",
    &["openstack-glance-api.service", "glance-api.service"],
    api("http://localhost:9292/"),
);
const GLANCE_REGISTRY: Preset = preset(
    "openstack-glance-registry",
    "the OpenStack Image registry (glance-registry, removed in Ussuri)",
    &[
        "openstack-glance-registry.service",
        "glance-registry.service",
    ],
    PresetCheck::Tcp("localhost:9191"),
);
const CINDER_API: Preset = preset(
    "openstack-cinder-api",
    "the OpenStack Block Storage API (cinder-api)",
    &["openstack-cinder-api.service", "cinder-api.service"],
    api("http://localhost:8776/"),
);
const CINDER_SCHEDULER: Preset = worker(
    "openstack-cinder-scheduler",
    "the OpenStack Block Storage scheduler (cinder-scheduler)",
    &[
        "openstack-cinder-scheduler.service",
        "cinder-scheduler.service",
    ],
    &[AMQP],
);
const CINDER_VOLUME: Preset = worker(
    "openstack-cinder-volume",
    "the OpenStack Block Storage volume service (cinder-volume)",
    &["openstack-cinder-volume.service", "cinder-volume.service"],
    &[AMQP],
);
const NEUTRON_SERVER: Preset = preset(
    "openstack-neutron-server",
    "the OpenStack Networking API (neutron-server)",
    // RDO calls it neutron-server too; Debian's uwsgi flavour is neutron-api.
    &[
        "neutron-server.service",
        "openstack-neutron-server.service",
        "neutron-api.service",
    ],
    api("http://localhost:9696/"),
);
const NEUTRON_DHCP: Preset = worker(
    "openstack-neutron-dhcp-agent",
    "the OpenStack Networking DHCP agent (neutron-dhcp-agent)",
    &["neutron-dhcp-agent.service"],
    &[AMQP],
);
const NEUTRON_L3: Preset = worker(
    "openstack-neutron-l3-agent",
    "the OpenStack Networking L3 agent (neutron-l3-agent)",
    &["neutron-l3-agent.service"],
    &[AMQP],
);
const NEUTRON_METADATA: Preset = worker(
    "openstack-neutron-metadata-agent",
    "the OpenStack Networking metadata agent (neutron-metadata-agent)",
    &["neutron-metadata-agent.service"],
    &[AMQP],
);
const HEAT_API: Preset = preset(
    "openstack-heat-api",
    "the OpenStack Orchestration API (heat-api)",
    &["openstack-heat-api.service", "heat-api.service"],
    api("http://localhost:8004/"),
);
const HEAT_ENGINE: Preset = worker(
    "openstack-heat-engine",
    "the OpenStack Orchestration engine (heat-engine)",
    &["openstack-heat-engine.service", "heat-engine.service"],
    &[AMQP],
);
const MANILA_API: Preset = preset(
    "openstack-manila-api",
    "the OpenStack Shared File Systems API (manila-api)",
    &["openstack-manila-api.service", "manila-api.service"],
    api("http://localhost:8786/"),
);
const CEILOMETER_CENTRAL: Preset = worker(
    "openstack-ceilometer-central",
    "the OpenStack Telemetry central agent (ceilometer-agent-central)",
    &[
        "openstack-ceilometer-central.service",
        "ceilometer-agent-central.service",
    ],
    &[AMQP],
);

pub static PRESETS: &[Preset] = &[
    NOVA_API,
    NOVA_SCHEDULER,
    NOVA_CONDUCTOR,
    NOVA_NOVNCPROXY,
    NOVA_CERT,
    NOVA_CONSOLEAUTH,
    NOVA_NETWORK,
    KEYSTONE,
    GLANCE_API,
    GLANCE_REGISTRY,
    CINDER_API,
    CINDER_SCHEDULER,
    CINDER_VOLUME,
    NEUTRON_SERVER,
    NEUTRON_DHCP,
    NEUTRON_L3,
    NEUTRON_METADATA,
    HEAT_API,
    HEAT_ENGINE,
    MANILA_API,
    CEILOMETER_CENTRAL,
    preset(
        "libvirtd",
        "the libvirt daemon (libvirtd)",
        &["libvirtd.service"],
        // Answers only if libvirtd serves its QEMU driver, not merely when it exists.
        PresetCheck::Command("virsh --connect qemu:///system uri"),
    ),
    preset(
        "nfs-ganesha",
        "the NFS-Ganesha server (ganesha.nfsd)",
        &["nfs-ganesha.service"],
        // Alive is not enough: a failover needs its admin interface to put it into grace.
        PresetCheck::GaneshaAdmin,
    ),
    // openstack-resource-agents' names (anchors-osr-services.md), same rows.
    osr("nova-api", NOVA_API, old("nova-api", API_CREDS, (10, 5))),
    osr(
        "nova-scheduler",
        NOVA_SCHEDULER,
        old("nova-scheduler", &["zeromq"], (30, 20)),
    ),
    osr(
        "nova-conductor",
        NOVA_CONDUCTOR,
        old("nova-conductor", &["zeromq"], (30, 20)),
    ),
    osr(
        "nova-cert",
        NOVA_CERT,
        old("nova-cert", &["zeromq"], (5, 10)),
    ),
    osr(
        "nova-consoleauth",
        NOVA_CONSOLEAUTH,
        old("nova-consoleauth", &["zeromq"], (5, 10)),
    ),
    osr(
        "nova-network",
        NOVA_NETWORK,
        old("nova-network", &["zeromq"], (30, 20)),
    ),
    osr(
        "nova-novnc",
        NOVA_NOVNCPROXY,
        old("nova-novncproxy", &["console_port", "web"], (5, 10)),
    ),
    osr(
        "nova-novncproxy",
        NOVA_NOVNCPROXY,
        old("nova-novncproxy", &["console_port", "web"], (5, 10)),
    ),
    osr(
        "keystone",
        KEYSTONE,
        old("keystone-all", CLI_CREDS, (30, 20)),
    ),
    osr(
        "glance-api",
        GLANCE_API,
        old("glance-api", CLI_CREDS, (30, 20)),
    ),
    osr(
        "glance-registry",
        GLANCE_REGISTRY,
        old("glance-registry", API_CREDS, (30, 20)),
    ),
    osr(
        "cinder-api",
        CINDER_API,
        old("cinder-api", API_CREDS, (10, 5)),
    ),
    osr(
        "cinder-schedule",
        CINDER_SCHEDULER,
        old("cinder-scheduler", &[], (30, 20)),
    ),
    osr(
        "cinder-scheduler",
        CINDER_SCHEDULER,
        old("cinder-scheduler", &[], (30, 20)),
    ),
    osr(
        "cinder-volume",
        CINDER_VOLUME,
        old("cinder-volume", &["multibackend"], (5, 10)),
    ),
    osr(
        "neutron-server",
        NEUTRON_SERVER,
        old(
            "neutron-server",
            &[
                "plugin_config",
                "url",
                "keystone_get_token_url",
                "os_username",
                "os_password",
                "os_tenant_name",
            ],
            (10, 5),
        ),
    ),
    osr(
        "neutron-agent-dhcp",
        NEUTRON_DHCP,
        old("neutron-dhcp-agent", &["plugin_config"], (30, 20)),
    ),
    osr(
        "neutron-agent-l3",
        NEUTRON_L3,
        Osr {
            conns: Some(&[NEUTRON_SERVER_PORT]),
            ..old("neutron-l3-agent", &["plugin_config"], (30, 20))
        },
    ),
    osr(
        "neutron-metadata-agent",
        NEUTRON_METADATA,
        old("neutron-metadata-agent", &["agent_config"], (5, 10)),
    ),
    osr("heat-api", HEAT_API, old("heat-api", &[], (10, 5))),
    osr(
        "heat-engine",
        HEAT_ENGINE,
        old("heat-engine", &["zeromq"], (30, 20)),
    ),
    osr(
        "manila-api",
        MANILA_API,
        old("manila-api", API_CREDS, (10, 5)),
    ),
    osr(
        "ceilometer-agent-central",
        CEILOMETER_CENTRAL,
        old("ceilometer-agent-central", &[], (30, 20)),
    ),
];

/// One old parameter: how it is declared, and what it became (for the meta-data).
pub struct OsrParam {
    pub spec: ParamSpec,
    pub short: &'static str,
    pub became: &'static str,
}

const fn p(spec: ParamSpec, short: &'static str, became: &'static str) -> OsrParam {
    OsrParam {
        spec,
        short,
        became,
    }
}

/// Every openstack-resource-agents agent had these.
pub const OSR_COMMON: &[&str] = &["binary", "config", "user", "pid", "additional_parameters"];

/// What each old parameter became. The connection ports are [`ConnParam`]s.
pub static OSR_PARAMS: &[OsrParam] = &[
    p(ParamSpec::string("binary"), "The daemon the old agent started",
      "The unit runs the daemon now. Accepted: a value that differs from the program of the unit's ExecStart= is a warning at start and validate-all."),
    p(ParamSpec::string("config"), "The service's configuration file",
      "The unit's ExecStart= names it now. Accepted: a path that the unit's command line does not contain is a warning at start and validate-all."),
    p(ParamSpec::string("user"), "The user the daemon ran as",
      "The unit's User= decides now. Accepted: a different user is a warning at start and validate-all."),
    p(ParamSpec::string("pid"), "The old agent's PID file",
      "Not used: systemd tracks the service's main process (MainPID). Accepted and ignored."),
    p(ParamSpec::string("additional_parameters"), "Extra daemon arguments",
      "The unit's ExecStart= holds the arguments now. Accepted: an argument the unit's command line lacks is a warning at start and validate-all."),
    p(ParamSpec::string("url"), "The API URL the monitor requested",
      "The health check: GET this URL; any 2xx or 3xx answer, or 401 (the API asking for a token), means the API is up. Unset: the preset's version-document check. monitor_url overrides both."),
    p(ParamSpec::string("keystone_get_token_url"), "Keystone v2.0 token URL",
      "Not used: the old authenticated check took a Keystone v2.0 token, an API removed in Queens. Setting it with the os_* credentials is a warning; the check is the unauthenticated url one. Use monitor_cmd for a check that must authenticate."),
    p(ParamSpec::string("os_username"), "User for the authenticated check",
      "Not used (see keystone_get_token_url); never logged."),
    p(ParamSpec::string("os_password"), "Password for the authenticated check",
      "Not used (see keystone_get_token_url); never logged nor passed on."),
    p(ParamSpec::string("os_tenant_name"), "Tenant for the authenticated check",
      "Not used (see keystone_get_token_url)."),
    p(ParamSpec::string("os_auth_url"), "Keystone URL for the client check",
      "Not used: the old check ran the service's CLI with these credentials; the preset checks the API's version document instead. A warning when credentials are set."),
    p(ParamSpec::string("client_binary"), "The CLI the old check ran",
      "Not used (see os_auth_url)."),
    p(ParamSpec::boolean("zeromq").default("false"), "The service used ZeroMQ, not AMQP",
      "true drops the AMQP connection check (as the old agent did)."),
    p(ParamSpec::integer("console_port").default("6080"), "The noVNC proxy's port",
      "The health check: a TCP connect to localhost on this port (monitor_tcp overrides)."),
    p(ParamSpec::string("web"), "The noVNC web files",
      "The unit's configuration decides now. Accepted and ignored."),
    p(ParamSpec::string("plugin_config"), "The Neutron plugin configuration file",
      "Like config: a path the unit's command line does not contain is a warning."),
    p(ParamSpec::string("agent_config"), "The Neutron agent configuration file",
      "Like config: a path the unit's command line does not contain is a warning."),
    p(ParamSpec::boolean("multibackend").default("false"), "cinder-volume with several backends",
      "Not needed: systemd tracks the service whatever its backends. Accepted and ignored."),
];

impl Preset {
    /// The connection ports, under the parameter names this agent reads.
    pub fn conn_params(&self) -> &'static [ConnParam] {
        match self.osr {
            Some(Osr { conns: Some(c), .. }) => c,
            _ => self.conns,
        }
    }

    /// The parameters this preset reads beyond SystemdService's.
    pub fn extra_specs(&self) -> Vec<ParamSpec> {
        let mut out: Vec<ParamSpec> = self
            .conn_params()
            .iter()
            .map(|c| ParamSpec::integer(c.param).default(c.default))
            .collect();
        if let Some(osr) = &self.osr {
            for name in OSR_COMMON.iter().chain(osr.extra) {
                if let Some(p) = OSR_PARAMS.iter().find(|p| p.spec.name == *name) {
                    out.push(p.spec.clone());
                }
            }
        }
        out
    }

    /// Health checks from the old parameters (url, console_port) and the connection ports;
    /// `operator_chose` tells whether monitor_url/monitor_tcp/monitor_cmd are set (then
    /// url and console_port give way). Credentials are refused here, with a warning.
    pub fn legacy_checks(
        &self,
        p: &Params<'_>,
        operator_chose: bool,
        http: &dyn Fn(&str) -> Result<HealthCheck, OcfError>,
    ) -> OcfResult<(Vec<HealthCheck>, bool)> {
        let mut checks = Vec::new();
        let mut replaces_preset_check = false;
        if let Some(osr) = &self.osr {
            let has = |n: &str| osr.extra.contains(&n);
            if has("url") && !operator_chose {
                if let Some(url) = p.string("url")? {
                    checks.push(http(&url)?);
                    replaces_preset_check = true;
                }
            }
            if has("console_port") && !operator_chose && p.string("console_port")?.is_some() {
                let port = p.integer_in("console_port", 1..=65535)?.unwrap_or(6080);
                let tcp = crate::health::TcpCheck::parse(&format!("localhost:{port}"))
                    .map_err(|e| OcfError::Configured(e.0))?;
                checks.push(HealthCheck::Tcp(tcp));
                replaces_preset_check = true;
            }
            let creds: Vec<&str> = [
                "keystone_get_token_url",
                "os_username",
                "os_password",
                "os_tenant_name",
                "os_auth_url",
            ]
            .into_iter()
            .filter(|n| has(n))
            .filter(|n| p.string(n).ok().flatten().is_some_and(|v| !v.is_empty()))
            .collect();
            if !creds.is_empty() {
                log::warn!(
                    "{} set, but ocfbox does not authenticate its health check: the old agent's \
                     check took a Keystone v2.0 token (removed in Queens) or ran a CLI with them; \
                     this one checks {} without credentials (use monitor_cmd for an authenticated check)",
                    creds.join(", "),
                    if has("url") { "url" } else { "the API's version document" }
                );
            }
        }
        let zeromq = self
            .osr
            .as_ref()
            .is_some_and(|o| o.extra.contains(&"zeromq"))
            && p.boolean("zeromq")?;
        let mut ports = Vec::new();
        for c in self.conn_params() {
            if zeromq && c.param == AMQP.param {
                continue;
            }
            let port = p.integer_in(c.param, 0..=65535)?.unwrap_or(0);
            if port != 0 {
                ports.push((c.what.to_string(), port as u16));
            }
        }
        if !ports.is_empty() {
            checks.push(HealthCheck::Connected(ConnCheck::new(ports)));
        }
        Ok((checks, replaces_preset_check))
    }

    /// The old agent's binary/config/user/additional_parameters against what the unit
    /// runs: warnings only (the unit decides now).
    pub fn compare_with_unit(&self, p: &Params<'_>, unit: &str, facts: &ServiceFacts) {
        if self.osr.is_none() {
            return;
        }
        let set = |n: &str| p.string(n).ok().flatten().filter(|v| !v.trim().is_empty());
        let words: Vec<&str> = facts
            .exec_start
            .iter()
            .flat_map(|(path, argv)| {
                std::iter::once(path.as_str()).chain(argv.iter().map(String::as_str))
            })
            .collect();
        let joined = words.join(" ");
        if let Some(binary) = set("binary") {
            let base = |s: &str| s.rsplit('/').next().unwrap_or(s).to_string();
            let runs: Vec<String> = facts
                .exec_start
                .iter()
                .map(|(path, _)| base(path))
                .collect();
            if !runs.is_empty()
                && !runs.contains(&base(&binary))
                && !joined.contains(binary.as_str())
            {
                log::warn!(
                    "binary '{binary}' is not what {unit} runs ({}): the unit decides",
                    runs.join(", ")
                );
            }
        }
        for name in ["config", "plugin_config", "agent_config"] {
            if let Some(path) = set(name) {
                if !words.iter().any(|w| w.ends_with(path.as_str())) && !facts.exec_start.is_empty()
                {
                    log::warn!(
                        "{name} '{path}' is not on {unit}'s command line: the unit reads its own configuration"
                    );
                }
            }
        }
        if let Some(user) = set("user") {
            let unit_user = if facts.user.is_empty() {
                "root"
            } else {
                facts.user.as_str()
            };
            if user != unit_user {
                log::warn!(
                    "user '{user}' differs from {unit}'s User= ({unit_user}): the unit decides"
                );
            }
        }
        if let Some(args) = set("additional_parameters") {
            let missing: Vec<&str> = args
                .split_whitespace()
                .filter(|a| !words.contains(a))
                .collect();
            if !missing.is_empty() {
                log::warn!(
                    "additional_parameters {} not on {unit}'s command line: add them to the unit (a drop-in) if they matter",
                    missing.join(" ")
                );
            }
        }
        if set("pid").is_some() {
            log::info!("pid is not used: systemd tracks {unit}'s main process");
        }
    }
}

/// The url check: an API that answers at all (2xx, 3xx, or 401 asking for a token) is up.
pub const URL_STATUS: &str = "2xx,3xx,401";

// ---------------------------------------------------------------------------------------
// A preset is an agent: SystemdService's engine, actions and parameters (with `unit`
// optional, plus its own) and its own description. Everything else is shared text.

impl OcfAgent for Preset {
    type Action = Action;

    fn name(&self) -> &str {
        self.name
    }

    fn metadata(&self) -> Cow<'static, str> {
        Cow::Owned(preset_metadata(self))
    }

    fn params(&self) -> Cow<'static, [ParamSpec]> {
        Cow::Owned(preset_specs(self))
    }

    fn run(&self, action: Action, ctx: &Context<'_>) -> OcfResult<OcfCode> {
        run(action, ctx, Some(self))
    }
}

pub(crate) fn preset_specs(preset: &Preset) -> Vec<ParamSpec> {
    let mut specs: Vec<ParamSpec> = SPECS
        .iter()
        .map(|s| {
            let mut s = s.clone();
            if s.name == "unit" {
                s.required = false;
            }
            s
        })
        .collect();
    specs.extend(preset.extra_specs());
    specs
}

fn describe_preset_check(check: &PresetCheck) -> String {
    match check {
        PresetCheck::UnitOnly => {
            "none: the unit state is checked (the service has no endpoint to ask)".into()
        }
        PresetCheck::Http { url, status, body } => {
            format!("GET {url}, expecting HTTP status {status} and \"{body}\" in the body (the API's version document)")
        }
        PresetCheck::Tcp(t) => format!("a TCP connect to {t}"),
        PresetCheck::Command(c) => format!("the command `{c}`"),
        PresetCheck::GaneshaAdmin => {
            "org.ganesha.nfsd.admin.get_grace answering on the D-Bus system bus".into()
        }
    }
}

/// SystemdService.xml with the preset's name, descriptions and an optional `unit`.
pub(crate) fn preset_metadata(preset: &Preset) -> String {
    let head_start = METADATA.find("<resource-agent ").unwrap_or(0);
    let params_start = METADATA.find("<parameters>").unwrap_or(METADATA.len());
    let unit_start = METADATA
        .find("<parameter name=\"unit\"")
        .unwrap_or(params_start);
    let unit_end = METADATA[unit_start..]
        .find("</parameter>")
        .map(|i| unit_start + i + "</parameter>".len())
        .unwrap_or(unit_start);
    let units = preset.units.join(", ");
    let origin = match &preset.osr {
        Some(osr) => format!(
            "\n\nThe name, parameters and advised timeouts of openstack-resource-agents' {name}\n\
agent (ocf:openstack:{name}, which ran {binary} itself): a cluster changes the provider\n\
only. Its parameters are accepted and say here what they became.",
            name = preset.name,
            binary = osr.binary
        ),
        None => String::new(),
    };
    let conns: Vec<String> = preset
        .conn_params()
        .iter()
        .map(|c| format!("{} ({})", c.what, c.param))
        .collect();
    let conn_text = if conns.is_empty() {
        String::new()
    } else {
        format!(
            "\nThe service's processes must also hold an ESTABLISHED TCP connection to the {} port\n\
(read from /proc; 0 turns a port's check off): a worker that lost its message bus is down.",
            conns.join(" and ")
        )
    };
    let head = format!(
        "<resource-agent name=\"{name}\" version=\"0.1\">\n<version>1.1</version>\n\
<longdesc lang=\"en\">\n\
Runs {title} as a cluster resource: the SystemdService agent with this service's defaults.\n\n\
Unit: the first of {units} that is installed on the node (the unit parameter overrides).\n\
Health check: {check}. Setting monitor_url, monitor_tcp or monitor_cmd replaces it;\n\
monitor_url_status, monitor_url_body, ca_file and insecure adjust it.{conn_text}{origin}\n\n\
systemd starts, stops and reloads the unit over D-Bus, waiting for each job's completion\n\
signal; the agent checks the service itself. See SystemdService for the drop-in it writes,\n\
the check depths (OCF_CHECK_LEVEL, check_level) and the start grace.\n\
</longdesc>\n\
<shortdesc lang=\"en\">{short} ({what})</shortdesc>\n",
        name = xml_escape(preset.name),
        title = xml_escape(preset.title),
        units = xml_escape(&units),
        check = xml_escape(&describe_preset_check(&preset.check)),
        conn_text = xml_escape(&conn_text),
        origin = xml_escape(&origin),
        short = xml_escape(preset.title),
        what = match (preset.check, preset.conn_params().is_empty()) {
            (PresetCheck::UnitOnly, true) => "systemd unit",
            (PresetCheck::UnitOnly, false) => "systemd unit + connection check",
            _ => "systemd unit + health check",
        },
    );
    let unit_param = format!(
        "<parameter name=\"unit\" required=\"0\">\n<longdesc lang=\"en\">\n\
The systemd unit to run instead of the first installed of {units}.\n\
</longdesc>\n<shortdesc lang=\"en\">systemd unit name (default: detected)</shortdesc>\n\
<content type=\"string\"/>\n</parameter>",
        units = xml_escape(&units)
    );
    let params_end = METADATA.find("</parameters>").unwrap_or(METADATA.len());
    let actions_start = METADATA.find("<actions>").unwrap_or(METADATA.len());
    let actions_end = METADATA
        .find("</actions>")
        .map(|i| i + "</actions>".len())
        .unwrap_or(METADATA.len());
    let actions = match &preset.osr {
        // The old agent's advice, so a migrated CIB's operations draw no crmsh warnings.
        Some(osr) => format!(
            "<actions>\n<action name=\"start\" timeout=\"{t}s\"/>\n\
<action name=\"stop\" timeout=\"{t}s\"/>\n\
<action name=\"monitor\" timeout=\"{mt}s\" interval=\"{mi}s\" depth=\"10\"/>\n\
<action name=\"reload\" timeout=\"{t}s\"/>\n\
<action name=\"reload-agent\" timeout=\"10s\"/>\n\
<action name=\"validate-all\" timeout=\"5s\"/>\n\
<action name=\"meta-data\" timeout=\"5s\"/>\n</actions>",
            t = osr.op_timeout,
            mt = osr.monitor.0,
            mi = osr.monitor.1
        ),
        None => METADATA[actions_start..actions_end].to_string(),
    };
    format!(
        "{}{}{}{}{}{}{}{}",
        &METADATA[..head_start],
        head,
        &METADATA[params_start..unit_start],
        unit_param,
        &METADATA[unit_end..params_end],
        extra_params_xml(preset),
        &METADATA[params_end..actions_start],
        actions + &METADATA[actions_end..]
    )
}

/// The meta-data of the parameters a preset adds: its connection ports, and for an
/// openstack-resource-agents name the old agent's parameters with what they became.
fn extra_params_xml(preset: &Preset) -> String {
    let mut out = String::new();
    let mut push = |name: &str, ty: &str, default: Option<&str>, short: &str, long: &str| {
        let default = default
            .map(|d| format!(" default=\"{}\"", xml_escape(d)))
            .unwrap_or_default();
        out.push_str(&format!(
            "<parameter name=\"{name}\" reloadable=\"1\">\n<longdesc lang=\"en\">\n{}\n</longdesc>\n\
<shortdesc lang=\"en\">{}</shortdesc>\n<content type=\"{ty}\"{default}/>\n</parameter>\n",
            xml_escape(long),
            xml_escape(short)
        ));
    };
    for c in preset.conn_params() {
        push(
            c.param,
            "integer",
            Some(c.default),
            &format!("{} port the service must be connected to", c.what),
            &format!(
                "The service's main process or one of its children must hold an ESTABLISHED TCP \
                 connection to this remote port ({} ; 0: not checked). The same parameter as \
                 openstack-resource-agents', read from /proc instead of netstat.",
                c.what
            ),
        );
    }
    for spec in preset.extra_specs() {
        if let Some(p) = OSR_PARAMS.iter().find(|p| p.spec.name == spec.name) {
            push(
                spec.name,
                spec.ty.xml_name(),
                spec.default,
                p.short,
                &format!("openstack-resource-agents' {}. {}", spec.name, p.became),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::{CommandCheck, HttpCheck, TcpCheck};
    use crate::systemd::UnitName;

    #[test]
    fn every_preset_is_well_formed() {
        for p in PRESETS {
            assert!(
                p.name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
                "{}",
                p.name
            );
            assert!(!p.units.is_empty(), "{}", p.name);
            for u in p.units {
                let parsed = UnitName::parse(u).unwrap_or_else(|e| panic!("{}: {e}", p.name));
                assert_eq!(parsed.as_str(), *u, "candidates carry their type suffix");
            }
            match p.check {
                PresetCheck::UnitOnly | PresetCheck::GaneshaAdmin => {}
                PresetCheck::Http { url, status, body } => {
                    HttpCheck::new(url, status, Some(body), None, false).unwrap();
                }
                PresetCheck::Tcp(t) => {
                    TcpCheck::parse(t).unwrap();
                }
                PresetCheck::Command(c) => {
                    CommandCheck::parse(c).unwrap();
                }
            }
        }
    }

    #[test]
    fn the_issue_list_is_covered() {
        for service in [
            "nova-api",
            "nova-scheduler",
            "nova-conductor",
            "nova-novncproxy",
            "keystone",
            "glance-api",
            "cinder-api",
            "cinder-scheduler",
            "cinder-volume",
            "neutron-server",
            "heat-api",
            "libvirtd",
        ] {
            assert!(
                PRESETS.iter().any(|p| p.name.ends_with(service)),
                "no preset for {service}"
            );
        }
    }

    #[test]
    fn every_openstack_resource_agents_name_is_offered_with_its_parameters() {
        // anchors-osr-services.md: agent, its extra parameters, monitor timeout/interval.
        for (name, params, monitor) in [
            (
                "nova-api",
                "url keystone_get_token_url os_username os_password os_tenant_name",
                (10, 5),
            ),
            (
                "nova-scheduler",
                "database_server_port amqp_server_port zeromq",
                (30, 20),
            ),
            (
                "nova-cert",
                "database_server_port amqp_server_port zeromq",
                (5, 10),
            ),
            (
                "nova-consoleauth",
                "database_server_port amqp_server_port zeromq",
                (5, 10),
            ),
            (
                "nova-network",
                "database_server_port amqp_server_port zeromq",
                (30, 20),
            ),
            ("nova-novnc", "console_port web", (5, 10)),
            (
                "keystone",
                "client_binary os_username os_password os_tenant_name os_auth_url",
                (30, 20),
            ),
            (
                "glance-api",
                "os_username os_password os_tenant_name os_auth_url client_binary",
                (30, 20),
            ),
            (
                "glance-registry",
                "url keystone_get_token_url os_username os_password os_tenant_name",
                (30, 20),
            ),
            (
                "cinder-api",
                "url keystone_get_token_url os_username os_password os_tenant_name",
                (10, 5),
            ),
            ("cinder-schedule", "amqp_server_port", (30, 20)),
            ("cinder-volume", "amqp_server_port multibackend", (5, 10)),
            (
                "neutron-server",
                "plugin_config url keystone_get_token_url os_username os_password os_tenant_name",
                (10, 5),
            ),
            (
                "neutron-agent-dhcp",
                "plugin_config amqp_server_port",
                (30, 20),
            ),
            (
                "neutron-agent-l3",
                "plugin_config neutron_server_port",
                (30, 20),
            ),
            (
                "neutron-metadata-agent",
                "agent_config amqp_server_port",
                (5, 10),
            ),
            ("heat-engine", "amqp_server_port zeromq", (30, 20)),
            (
                "manila-api",
                "url keystone_get_token_url os_username os_password os_tenant_name",
                (10, 5),
            ),
            ("ceilometer-agent-central", "amqp_server_port", (30, 20)),
        ] {
            let p = PRESETS
                .iter()
                .find(|p| p.name == name)
                .unwrap_or_else(|| panic!("no agent {name}"));
            let osr = p
                .osr
                .unwrap_or_else(|| panic!("{name} is not marked as the old agent's"));
            assert_eq!(osr.monitor, monitor, "{name}");
            let specs = p.extra_specs();
            for param in params.split(' ').chain(OSR_COMMON.iter().copied()) {
                assert!(
                    specs.iter().any(|s| s.name == param),
                    "{name} lacks {param}"
                );
            }
        }
        for p in OSR_PARAMS {
            assert!(
                !p.became.is_empty() && !p.short.is_empty(),
                "{}",
                p.spec.name
            );
        }
    }

    #[test]
    fn preset_metadata_is_systemd_service_with_its_own_head_and_optional_unit() {
        for p in PRESETS {
            let xml = preset_metadata(p);
            assert!(xml.starts_with("<?xml"), "{}", p.name);
            assert!(xml.contains("<!DOCTYPE resource-agent SYSTEM \"ra-api-1.dtd\">"));
            assert!(xml.contains(&format!("<resource-agent name=\"{}\"", p.name)));
            assert!(xml.contains("<parameter name=\"unit\" required=\"0\">"));
            assert!(!xml.contains("SystemdService\" version"));
            let extra = p.extra_specs().len();
            assert_eq!(xml.matches("<parameter name=").count(), SPECS.len() + extra);
            assert_eq!(
                xml.matches("<longdesc").count(),
                METADATA.matches("<longdesc").count() + extra
            );
            assert!(xml.contains("<action name=\"reload\""));
            assert!(xml.contains("<action name=\"reload-agent\""));
            // Every parameter but unit is reloadable: changing it restarts nothing.
            assert_eq!(
                xml.matches("reloadable=\"1\"").count(),
                SPECS.len() - 1 + extra,
                "{}",
                p.name
            );
            assert!(xml.contains(p.units[0]));
        }
    }
}
