//! The agents of the suite: one file each, registered here once.

use crate::ocf::Agent;

/// Every agent the binary knows, in the order `ocfbox list` shows them.
pub fn all() -> Vec<&'static dyn Agent> {
    let agents: Vec<&'static dyn Agent> = Vec::new();
    agents
}

/// The agent called `name` (exact match: OCF type names are case sensitive).
pub fn find(name: &str) -> Option<&'static dyn Agent> {
    all().into_iter().find(|a| a.name() == name)
}

#[cfg(test)]
mod tests;
