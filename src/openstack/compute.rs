//! Nova (compute API v2.1): services, servers, flavors, migrations and the server actions
//! the HA agents need. Every request names the microversion it was written for, capped by
//! the server's maximum (read once per session from the endpoint's version document).

use std::collections::BTreeMap;

use super::error::{OpenStackError, Result};
use super::microversion::Microversion;
use super::session::Session;
use crate::ocf::Deadline;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceState {
    Up,
    Down,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceStatus {
    Enabled,
    Disabled,
}

/// A row of os-services.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// The uuid from 2.53 on, else the integer id as text.
    pub id: String,
    pub host: String,
    pub binary: String,
    pub zone: Option<String>,
    pub state: ServiceState,
    pub status: ServiceStatus,
    /// Always false below 2.11 (the field does not exist there).
    pub forced_down: bool,
    pub disabled_reason: Option<String>,
    pub updated_at: Option<String>,
}

/// The flavor as a server reports it. Servers are read at 2.46 or below, where this is the
/// flavor's id: an evacuation policy then follows the flavor's *current* extra specs (as
/// fence_evacuate does), not the snapshot 2.47+ embeds.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FlavorRef {
    pub id: Option<String>,
    pub original_name: Option<String>,
    pub extra_specs: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    pub id: String,
    pub name: String,
    /// OS-EXT-SRV-ATTR:host.
    pub host: Option<String>,
    pub status: String,
    /// OS-EXT-STS:vm_state.
    pub vm_state: Option<String>,
    /// OS-EXT-STS:task_state.
    pub task_state: Option<String>,
    pub flavor: FlavorRef,
    /// None when booted from a volume.
    pub image_id: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub locked: bool,
    pub tenant_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flavor {
    pub id: String,
    pub name: String,
    pub is_public: bool,
    pub extra_specs: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    /// The integer id as text.
    pub id: String,
    /// From 2.59.
    pub uuid: Option<String>,
    pub instance_uuid: String,
    pub source_compute: Option<String>,
    pub dest_compute: Option<String>,
    pub status: String,
    /// From 2.23 (`evacuation`, `live-migration`, …).
    pub migration_type: Option<String>,
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
}

/// os-migrations query filters; unset ones are not sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MigrationFilter {
    /// Source *or* destination compute (Nova's `host` filter).
    pub host: Option<String>,
    pub source_compute: Option<String>,
    pub instance_uuid: Option<String>,
    /// e.g. `evacuation`.
    pub migration_type: Option<String>,
    pub status: Option<String>,
    /// ISO 8601; sent only from 2.59.
    pub changes_since: Option<String>,
}

/// What an evacuation asks for. Never `force` (it bypasses the scheduler's checks) and
/// never at 2.95 or later (the instance would be left stopped).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EvacuateRequest {
    /// Only when a caller really wants one host; otherwise the scheduler picks.
    pub target_host: Option<String>,
    /// Only below 2.14 (Nova detects shared storage itself from there on); false when
    /// the agent's `no_shared_storage` is set.
    pub on_shared_storage: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetState {
    Error,
    Active,
}

impl ResetState {
    pub fn as_str(self) -> &'static str {
        match self {
            ResetState::Error => "error",
            ResetState::Active => "active",
        }
    }
}

/// The Nova API of one session.
#[derive(Clone, Copy)]
#[allow(dead_code)]
pub struct Compute<'s> {
    pub(crate) session: &'s Session,
}

fn not_yet<T>() -> Result<T> {
    Err(OpenStackError::Unsupported(
        "the OpenStack client is not implemented yet".into(),
    ))
}

impl<'s> Compute<'s> {
    /// The highest microversion this Nova serves (from its version document, read once).
    pub fn max_microversion(&self, _dl: &Deadline) -> Result<Microversion> {
        not_yet()
    }

    /// os-services, filtered by binary and host when given.
    pub fn services(
        &self,
        _binary: Option<&str>,
        _host: Option<&str>,
        _dl: &Deadline,
    ) -> Result<Vec<Service>> {
        not_yet()
    }

    /// Force the service down and disable it with `reason`: one PUT from 2.53, else
    /// force-down then disable-log-reason. Never disable first: on Train the disable RPCs
    /// the (dead) compute and hangs.
    pub fn force_down_and_disable(
        &self,
        _svc: &Service,
        _reason: &str,
        _dl: &Deadline,
    ) -> Result<()> {
        not_yet()
    }

    /// Disable (or change the reason of a disabled service).
    pub fn disable(&self, _svc: &Service, _reason: &str, _dl: &Deadline) -> Result<()> {
        not_yet()
    }

    pub fn enable(&self, _svc: &Service, _dl: &Deadline) -> Result<()> {
        not_yet()
    }

    /// Clear forced_down. From Xena Nova answers 400 while evacuations from this host are
    /// `done` but not yet `completed` (nova-compute must restart there first).
    pub fn force_up(&self, _svc: &Service, _dl: &Deadline) -> Result<()> {
        not_yet()
    }

    /// Every server on `host`, all tenants, every page.
    pub fn servers_on_host(&self, _host: &str, _dl: &Deadline) -> Result<Vec<Server>> {
        not_yet()
    }

    pub fn server(&self, _id: &str, _dl: &Deadline) -> Result<Server> {
        not_yet()
    }

    /// Every flavor (public and private) with its extra specs: inline from 2.61, else one
    /// listing plus os-extra_specs fetched by a bounded pool.
    pub fn flavors(&self, _dl: &Deadline) -> Result<Vec<Flavor>> {
        not_yet()
    }

    /// os-migrations matching `filter`, every page (2.59+), newest first.
    pub fn migrations(&self, _filter: &MigrationFilter, _dl: &Deadline) -> Result<Vec<Migration>> {
        not_yet()
    }

    /// Ask Nova to rebuild the server elsewhere (200 = accepted; the migration record
    /// tells how it goes).
    pub fn evacuate(&self, _server_id: &str, _req: &EvacuateRequest, _dl: &Deadline) -> Result<()> {
        not_yet()
    }

    /// Lock, with the reason from 2.73.
    pub fn lock(&self, _server_id: &str, _reason: &str, _dl: &Deadline) -> Result<()> {
        not_yet()
    }

    pub fn unlock(&self, _server_id: &str, _dl: &Deadline) -> Result<()> {
        not_yet()
    }

    pub fn reset_state(&self, _server_id: &str, _state: ResetState, _dl: &Deadline) -> Result<()> {
        not_yet()
    }
}
