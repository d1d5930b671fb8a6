//! The rules of OpenStack instance HA that more than one agent needs (NovaEvacuate now; the
//! native fence_compute, the alert agent and NovaCompute later): the `evacuate` attribute
//! protocol, the durable markers in Nova's disabled_reason, host-name matching, which
//! instances to evacuate and where, the mass-failure throttle, and the per-instance
//! records kept on disk. Pure decisions here; the agents do the talking — except
//! [`fencing`], the one Nova + attrd sequence both fencing paths (fence agent, alert) run.

pub mod attribute;
pub mod fencing;
pub mod hosts;
pub mod marker;
pub mod novaconf;
pub mod readmit;
pub mod records;
pub mod recovery;
pub mod select;
pub mod throttle;

/// Seconds since the Unix epoch: the clock of the attribute's `<uname>@<epoch>` marks and
/// of the markers in Nova, which other nodes read.
pub fn now_epoch() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
