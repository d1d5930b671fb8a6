//! The agents of the suite: one file each, registered here once.

pub mod ganesha_grace;
pub mod ganesha_mon;
pub mod ganesha_nfsd;
pub mod nova_evacuate;
pub mod presets;
pub mod systemd_service;

use crate::ocf::Agent;

/// Every agent the binary knows, in the order `ocfbox list` shows them.
pub fn all() -> Vec<&'static dyn Agent> {
    let mut agents: Vec<&'static dyn Agent> = vec![
        &ganesha_mon::GaneshaMon,
        &ganesha_grace::GaneshaGrace,
        &ganesha_nfsd::GaneshaNfsd,
        &systemd_service::SystemdService,
        &nova_evacuate::NovaEvacuate,
    ];
    agents.extend(presets::PRESETS.iter().map(|p| p as &'static dyn Agent));
    agents
}

/// The agent called `name` (exact match: OCF type names are case sensitive).
pub fn find(name: &str) -> Option<&'static dyn Agent> {
    all().into_iter().find(|a| a.name() == name)
}

#[cfg(test)]
mod tests;
