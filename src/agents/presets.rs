//! Presets of the SystemdService engine: one row per service, and the agent each row is. A
//! preset is an agent of its own (`ocf:ocfbox:openstack-nova-api`) with candidate unit names
//! tried in order, so one CIB works on RHEL-family (`openstack-nova-api.service`) and
//! Debian-family (`nova-api.service`) hosts, and the service's own health check. The `unit` parameter
//! overrides the candidates; any of monitor_url/monitor_tcp/monitor_cmd replaces the
//! preset's health check.
//!
//! Names: OpenStack services take their RDO unit names (`openstack-<project>-<service>`),
//! which are valid OCF type names and say what they run; libvirtd keeps its daemon's name.

use std::borrow::Cow;

use super::systemd_service::{run, Action, METADATA, SPECS};
use crate::ocf::metadata::xml_escape;
use crate::ocf::{Context, OcfAgent, OcfCode, OcfResult, ParamSpec};

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

#[derive(Debug)]
pub struct Preset {
    /// The OCF type name (the symlink's name).
    pub name: &'static str,
    /// What it runs, for the meta-data.
    pub title: &'static str,
    /// Candidate units, tried in order; the first one installed on the host wins.
    pub units: &'static [&'static str],
    pub check: PresetCheck,
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

pub static PRESETS: &[Preset] = &[
    Preset {
        name: "openstack-nova-api",
        title: "the OpenStack Compute API (nova-api)",
        units: &["openstack-nova-api.service", "nova-api.service"],
        check: api("http://localhost:8774/"),
    },
    Preset {
        name: "openstack-nova-scheduler",
        title: "the OpenStack Compute scheduler (nova-scheduler)",
        units: &["openstack-nova-scheduler.service", "nova-scheduler.service"],
        check: PresetCheck::UnitOnly,
    },
    Preset {
        name: "openstack-nova-conductor",
        title: "the OpenStack Compute conductor (nova-conductor)",
        units: &["openstack-nova-conductor.service", "nova-conductor.service"],
        check: PresetCheck::UnitOnly,
    },
    Preset {
        name: "openstack-nova-novncproxy",
        title: "the OpenStack Compute noVNC console proxy (nova-novncproxy)",
        units: &[
            "openstack-nova-novncproxy.service",
            "nova-novncproxy.service",
        ],
        check: PresetCheck::Tcp("localhost:6080"),
    },
    Preset {
        name: "openstack-keystone",
        title: "the OpenStack Identity API (keystone)",
        // Keystone runs inside Apache on most current distributions.
        units: &[
            "openstack-keystone.service",
            "keystone.service",
            "httpd.service",
            "apache2.service",
        ],
        check: api("http://localhost:5000/"),
    },
    Preset {
        name: "openstack-glance-api",
        title: "the OpenStack Image API (glance-api)",
        units: &["openstack-glance-api.service", "glance-api.service"],
        check: api("http://localhost:9292/"),
    },
    Preset {
        name: "openstack-cinder-api",
        title: "the OpenStack Block Storage API (cinder-api)",
        units: &["openstack-cinder-api.service", "cinder-api.service"],
        check: api("http://localhost:8776/"),
    },
    Preset {
        name: "openstack-cinder-scheduler",
        title: "the OpenStack Block Storage scheduler (cinder-scheduler)",
        units: &[
            "openstack-cinder-scheduler.service",
            "cinder-scheduler.service",
        ],
        check: PresetCheck::UnitOnly,
    },
    Preset {
        name: "openstack-cinder-volume",
        title: "the OpenStack Block Storage volume service (cinder-volume)",
        units: &["openstack-cinder-volume.service", "cinder-volume.service"],
        check: PresetCheck::UnitOnly,
    },
    Preset {
        name: "openstack-neutron-server",
        title: "the OpenStack Networking API (neutron-server)",
        // RDO calls it neutron-server too; Debian's uwsgi flavour is neutron-api.
        units: &[
            "neutron-server.service",
            "openstack-neutron-server.service",
            "neutron-api.service",
        ],
        check: api("http://localhost:9696/"),
    },
    Preset {
        name: "openstack-heat-api",
        title: "the OpenStack Orchestration API (heat-api)",
        units: &["openstack-heat-api.service", "heat-api.service"],
        check: api("http://localhost:8004/"),
    },
    Preset {
        name: "libvirtd",
        title: "the libvirt daemon (libvirtd)",
        units: &["libvirtd.service"],
        // Answers only if libvirtd serves its QEMU driver, not merely when it exists.
        check: PresetCheck::Command("virsh --connect qemu:///system uri"),
    },
    Preset {
        name: "nfs-ganesha",
        title: "the NFS-Ganesha server (ganesha.nfsd)",
        units: &["nfs-ganesha.service"],
        // Alive is not enough: a failover needs its admin interface to put it into grace.
        check: PresetCheck::GaneshaAdmin,
    },
];

// ---------------------------------------------------------------------------------------
// A preset is an agent: SystemdService's engine, actions and parameters (with `unit`
// optional) and its own description. Everything else is shared text.

impl OcfAgent for Preset {
    type Action = Action;

    fn name(&self) -> &str {
        self.name
    }

    fn metadata(&self) -> Cow<'static, str> {
        Cow::Owned(preset_metadata(self))
    }

    fn params(&self) -> Cow<'static, [ParamSpec]> {
        Cow::Owned(preset_specs())
    }

    fn run(&self, action: Action, ctx: &Context<'_>) -> OcfResult<OcfCode> {
        run(action, ctx, Some(self))
    }
}

pub(crate) fn preset_specs() -> Vec<ParamSpec> {
    SPECS
        .iter()
        .map(|s| {
            let mut s = s.clone();
            if s.name == "unit" {
                s.required = false;
            }
            s
        })
        .collect()
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
    let head = format!(
        "<resource-agent name=\"{name}\" version=\"0.1\">\n<version>1.1</version>\n\
<longdesc lang=\"en\">\n\
Runs {title} as a cluster resource: the SystemdService agent with this service's defaults.\n\n\
Unit: the first of {units} that is installed on the node (the unit parameter overrides).\n\
Health check: {check}. Setting monitor_url, monitor_tcp or monitor_cmd replaces it;\n\
monitor_url_status, monitor_url_body, ca_file and insecure adjust it.\n\n\
systemd starts, stops and reloads the unit over D-Bus, waiting for each job's completion\n\
signal; the agent checks the service itself. See SystemdService for the drop-in it writes,\n\
the check depths (OCF_CHECK_LEVEL, check_level) and the start grace.\n\
</longdesc>\n\
<shortdesc lang=\"en\">{short} ({what})</shortdesc>\n",
        name = xml_escape(preset.name),
        title = xml_escape(preset.title),
        units = xml_escape(&units),
        check = xml_escape(&describe_preset_check(&preset.check)),
        short = xml_escape(preset.title),
        what = match preset.check {
            PresetCheck::UnitOnly => "systemd unit",
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
    format!(
        "{}{}{}{}{}",
        &METADATA[..head_start],
        head,
        &METADATA[params_start..unit_start],
        unit_param,
        &METADATA[unit_end..]
    )
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
    fn preset_metadata_is_systemd_service_with_its_own_head_and_optional_unit() {
        for p in PRESETS {
            let xml = preset_metadata(p);
            assert!(xml.starts_with("<?xml"), "{}", p.name);
            assert!(xml.contains("<!DOCTYPE resource-agent SYSTEM \"ra-api-1.dtd\">"));
            assert!(xml.contains(&format!("<resource-agent name=\"{}\"", p.name)));
            assert!(xml.contains("<parameter name=\"unit\" required=\"0\">"));
            assert!(!xml.contains("SystemdService\" version"));
            assert_eq!(xml.matches("<parameter name=").count(), SPECS.len());
            assert_eq!(
                xml.matches("<longdesc").count(),
                METADATA.matches("<longdesc").count()
            );
            assert!(xml.contains("<action name=\"reload\""));
            assert!(xml.contains(p.units[0]));
        }
    }
}
