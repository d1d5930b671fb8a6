//! nova-compute-wait: the wait-only half of NovaCompute, for clusters that run
//! nova-compute as a `systemd:` resource ordered after this clone. Accepts every parameter
//! of ocf:openstack:nova-compute-wait (the deprecated credentials too: here they let the
//! wait ask Nova), never writes a unit drop-in, never loops forever.
//!
//! start: NovaCompute's wait (attribute, Nova marker, evacuation migrations; within the
//! start timeout, logged once per change) → evacuation_delay → the state file.
//! monitor: the state file (7 without it). stop: removes it. notify: nothing to do.

use std::borrow::Cow;

use super::nova_compute::{self, Compat, Nova};
use crate::ocf::{Context, OcfAgent, OcfCode, OcfResult, ParamSpec, StateFile};

pub struct NovaComputeWait;

crate::ocf_actions! {
    /// The old agent's actions, notify included (a no-op, as it was).
    pub enum Action {
        Start = "start",
        Stop = "stop",
        Monitor = "monitor" | "status",
        ValidateAll = "validate-all",
        Notify = "notify",
    }
}

fn specs() -> Vec<ParamSpec> {
    crate::openstack::AGENT_CREDENTIAL_SPECS
        .iter()
        .chain(nova_compute::HOST_SPECS)
        .cloned()
        .collect()
}

impl OcfAgent for NovaComputeWait {
    type Action = Action;

    fn name(&self) -> &str {
        "nova-compute-wait"
    }

    fn metadata(&self) -> Cow<'static, str> {
        Cow::Borrowed(include_str!("../../ocf-metadata/nova-compute-wait.xml"))
    }

    fn params(&self) -> Cow<'static, [ParamSpec]> {
        Cow::Owned(specs())
    }

    fn run(&self, action: Action, ctx: &Context<'_>) -> OcfResult<OcfCode> {
        let state = StateFile::for_resource(ctx);
        match action {
            Action::Monitor => state.require_started().map(|_| OcfCode::Success),
            Action::Stop => {
                // a cleanup error never fails a stop (the node would be fenced for it)
                if let Err(e) = state.remove() {
                    log::warn!("stop: {e}");
                }
                Ok(OcfCode::Success)
            }
            Action::Notify => Ok(OcfCode::Success),
            Action::ValidateAll => {
                let specs = specs();
                let cfg = Compat::read(&ctx.params(&specs))?;
                cfg.target(ctx)?;
                Ok(OcfCode::Success)
            }
            Action::Start => {
                if state.require_started().is_ok() {
                    return Ok(OcfCode::Success);
                }
                let specs = specs();
                let cfg = Compat::read(&ctx.params(&specs))?;
                let target = cfg.target(ctx)?;
                let mut nova = Nova::new(&cfg.auth);
                nova_compute::wait_until_over(ctx, &mut nova, &target, nova_compute::reserve(ctx))?;
                nova_compute::pause_for_delay(ctx, cfg.evacuation_delay)?;
                state.mark_started()?;
                Ok(OcfCode::Success)
            }
        }
    }
}
