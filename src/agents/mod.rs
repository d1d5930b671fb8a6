//! The programs of the suite: one file each, registered here once, each of one kind (an
//! OCF resource agent, a fence agent, an alert agent) with its own runtime.

pub mod alert_nova;
pub mod fence_nova;
pub mod ganesha_grace;
pub mod ganesha_mon;
pub mod ganesha_nfsd;
pub mod nova_compute;
pub mod nova_compute_wait;
pub mod nova_evacuate;
pub mod presets;
pub mod systemd_service;

use crate::alert::AlertAgent;
use crate::fence::FenceAgent;
use crate::ocf::{metadata, Agent};

/// What a program is to Pacemaker: where it is installed, how it is called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// resource.d/<provider>/, `AGENT ACTION` with OCF_RESKEY_* (src/ocf).
    Ocf,
    /// /usr/sbin, options on stdin (src/fence).
    Fence,
    /// /usr/share/pacemaker/alerts, CRM_alert_* (src/alert).
    Alert,
}

impl Kind {
    /// The word `ocfbox list` shows (and `make install` reads).
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Ocf => "ocf",
            Kind::Fence => "fence",
            Kind::Alert => "alert",
        }
    }
}

/// One program of the binary, by kind.
#[derive(Clone, Copy)]
pub enum Program {
    Ocf(&'static dyn Agent),
    Fence(&'static dyn FenceAgent),
    Alert(&'static dyn AlertAgent),
}

impl Program {
    pub fn name(&self) -> &str {
        match self {
            Program::Ocf(a) => a.name(),
            Program::Fence(f) => f.name(),
            Program::Alert(a) => a.name(),
        }
    }

    pub fn kind(&self) -> Kind {
        match self {
            Program::Ocf(_) => Kind::Ocf,
            Program::Fence(_) => Kind::Fence,
            Program::Alert(_) => Kind::Alert,
        }
    }

    pub fn shortdesc(&self) -> String {
        match self {
            Program::Ocf(a) => metadata::shortdesc(&a.metadata()).to_string(),
            Program::Fence(f) => f.shortdesc().to_string(),
            Program::Alert(a) => a.shortdesc().to_string(),
        }
    }

    /// Run it with the arguments after its name; the exit code its kind's caller expects.
    pub fn run(&self, args: &[String]) -> i32 {
        match self {
            Program::Ocf(a) => crate::ocf::agent::run_action(*a, args.first().map(String::as_str)),
            Program::Fence(f) => crate::fence::run(*f, args, std::io::stdin()),
            Program::Alert(a) => crate::alert::run(*a),
        }
    }
}

/// Every OCF agent, in the order `ocfbox list` shows them.
pub fn all() -> Vec<&'static dyn Agent> {
    let mut agents: Vec<&'static dyn Agent> = vec![
        &ganesha_mon::GaneshaMon,
        &ganesha_grace::GaneshaGrace,
        &ganesha_nfsd::GaneshaNfsd,
        &systemd_service::SystemdService,
        &nova_evacuate::NovaEvacuate,
        &nova_compute::NovaCompute,
        &nova_compute_wait::NovaComputeWait,
    ];
    agents.extend(presets::PRESETS.iter().map(|p| p as &'static dyn Agent));
    agents
}

/// Every program: the OCF agents, then the fence agents, then the alert agents.
pub fn programs() -> Vec<Program> {
    let fence: [&'static dyn FenceAgent; 1] = [&fence_nova::FenceNova];
    let alert: [&'static dyn AlertAgent; 1] = [&alert_nova::AlertNova];
    all()
        .into_iter()
        .map(Program::Ocf)
        .chain(fence.into_iter().map(Program::Fence))
        .chain(alert.into_iter().map(Program::Alert))
        .collect()
}

/// The program called `name` (exact match: OCF type names are case sensitive).
pub fn find(name: &str) -> Option<Program> {
    programs().into_iter().find(|p| p.name() == name)
}

#[cfg(test)]
mod tests;
