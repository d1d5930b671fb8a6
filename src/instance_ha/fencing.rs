//! What fencing a compute host means to Nova, done the same way by the fence agent's `off`
//! and by the alert agent on a fencing event: the nova-compute service forced down and
//! disabled with the durable marker `ocfbox evacuation requested <epoch>`, then the private
//! attribute `evacuate=yes` on the node. Idempotent: an open request already in Nova keeps
//! its epoch (a second fencing of the same failure, or every controller's alert, changes
//! nothing), and a host already down and disabled is still marked (fence_compute skipped it
//! and the host was never evacuated).

use super::hosts::{match_host, MatchError};
use super::marker::Marker;
use crate::ocf::Deadline;
use crate::openstack::{Compute, OpenStackError, Service};
use crate::pacemaker::attrd;

pub const BINARY: &str = "nova-compute";

#[derive(Debug, thiserror::Error)]
pub enum FencingError {
    #[error(transparent)]
    Nova(#[from] OpenStackError),
    #[error(transparent)]
    Host(#[from] MatchError),
}

/// The nova-compute service of the Pacemaker node `node` (fixed up against Nova's host
/// list: exact, then with/without `domain`, then the short name; per host, so a Nova with
/// both short and FQDN hosts works).
pub fn service_of(
    compute: &Compute<'_>,
    node: &str,
    domain: Option<&str>,
    dl: &Deadline,
) -> Result<Service, FencingError> {
    let services = compute.services(Some(BINARY), None, dl)?;
    let hosts: Vec<&str> = services.iter().map(|s| s.host.as_str()).collect();
    let host = match_host(node, &hosts, domain)?.to_string();
    services
        .into_iter()
        .find(|s| s.host == host)
        .ok_or(FencingError::Host(MatchError::NotFound(node.to_string())))
}

/// What [`mark_in_nova`] found and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Marked {
    /// We wrote the request now.
    Requested(Marker),
    /// An open request was there already (forced down, disabled, our marker): left as is.
    AlreadyRequested(Marker),
}

impl Marked {
    pub fn marker(&self) -> Marker {
        match self {
            Marked::Requested(m) | Marked::AlreadyRequested(m) => *m,
        }
    }
}

/// The reason written: our marker, and an operator's own earlier reason kept after it
/// (the parser reads the first words only).
fn reason(marker: Marker, old: Option<&str>) -> String {
    match old.map(str::trim).filter(|o| !o.is_empty()) {
        Some(o) if Marker::parse(o).is_none() => format!("{marker} (was: {o})"),
        _ => marker.to_string(),
    }
}

/// Force the service down and disable it with the request marker, unless an open request
/// is already recorded.
pub fn mark_in_nova(
    compute: &Compute<'_>,
    svc: &Service,
    now: u64,
    dl: &Deadline,
) -> Result<Marked, OpenStackError> {
    let existing = svc.disabled_reason.as_deref().and_then(Marker::parse);
    let disabled = svc.status == crate::openstack::ServiceStatus::Disabled;
    if let Some(m) = existing.filter(|m| m.is_open()) {
        if svc.forced_down && disabled {
            return Ok(Marked::AlreadyRequested(m));
        }
        // Open marker but someone forced it up or enabled it: force it down again, keeping
        // the request's epoch.
        compute.force_down_and_disable(svc, &reason(m, None), dl)?;
        return Ok(Marked::AlreadyRequested(m));
    }
    let m = Marker::Requested(now);
    compute.force_down_and_disable(svc, &reason(m, svc.disabled_reason.as_deref()), dl)?;
    Ok(Marked::Requested(m))
}

/// `evacuate=yes` on `node` (private, as fence_compute writes it).
pub fn request_attribute(node: &str, dl: &Deadline) -> Result<(), attrd::AttrdError> {
    attrd::update_private(
        super::attribute::NAME,
        super::attribute::REQUESTED,
        node,
        dl,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_operators_reason_is_kept_after_the_marker() {
        let m = Marker::Requested(7);
        assert_eq!(reason(m, None), "ocfbox evacuation requested 7");
        assert_eq!(
            reason(m, Some("disk swap")),
            "ocfbox evacuation requested 7 (was: disk swap)"
        );
        assert_eq!(
            Marker::parse(&reason(m, Some("disk swap"))),
            Some(Marker::Requested(7))
        );
        assert_eq!(
            reason(m, Some("ocfbox evacuation done 3")),
            "ocfbox evacuation requested 7"
        );
    }
}
