//! Pacemaker's command-line tools, wrapped: structured output in, typed answers out.

pub mod attrd;

use std::time::Duration;

use crate::ocf::process;
use crate::ocf::{Context, OcfError, OcfResult};

/// The cluster's name for this node: Pacemaker's own word (CRM_meta_on_node), else
/// `crm_node -n`. Never the host name, which differs from it in FQDN clusters.
pub fn local_node_name(ctx: &Context<'_>) -> OcfResult<String> {
    local_node_name_if_connected(ctx)?.ok_or_else(|| {
        OcfError::Generic(
            "cannot learn this node's cluster name: the controller is not running here \
             (crm_node -n: not connected)"
                .to_string(),
        )
    })
}

/// crm_node's exit status when the controller refuses the connection (CRM_EX_NOT_CONNECTED).
const RC_NOT_CONNECTED: i32 = 102;

/// [`local_node_name`], with None when the controller is not running on this node (no
/// cluster stack here: what hangs on it, transient attributes, is gone with it).
pub fn local_node_name_if_connected(ctx: &Context<'_>) -> OcfResult<Option<String>> {
    if let Some(node) = ctx.env.on_node() {
        return Ok(Some(node.to_string()));
    }
    let argv = ["crm_node".to_string(), "-n".to_string()];
    let out = process::run(&argv, ctx.deadline.budget(Duration::from_secs(10)))
        .map_err(|e| OcfError::Generic(format!("cannot learn this node's cluster name: {e}")))?;
    if out.status.code() == Some(RC_NOT_CONNECTED) {
        return Ok(None);
    }
    let name = out.stdout.trim();
    if !out.success() || name.is_empty() {
        return Err(OcfError::Generic(format!(
            "crm_node -n failed ({}): {}",
            out.describe_status(),
            out.stderr.trim()
        )));
    }
    Ok(Some(name.to_string()))
}
