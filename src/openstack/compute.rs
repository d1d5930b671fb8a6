//! Nova (compute API v2.1): services, servers, flavors, migrations and the server actions
//! the HA agents need. Every request names the microversion it was written for, capped by
//! the server's maximum (read once per session from the endpoint's version document).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{OpenStackError, Result};
use super::microversion::Microversion;
use super::parallel::parallel;
use super::session::Session;
use crate::http::Method;
use crate::ocf::Deadline;

/// Extra specs fetched at once when the API cannot inline them (below 2.61).
const EXTRA_SPECS_CONCURRENCY: usize = 8;
/// A listing that keeps answering "there is more" beyond this many pages is broken.
const MAX_PAGES: usize = 10_000;

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
pub struct Compute<'s> {
    pub(crate) session: &'s Session,
}

/// Everything but RFC 3986's unreserved characters is percent-encoded (uuids stay as
/// they are).
const ENCODE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A query string from the set values, percent-encoded.
pub(crate) fn query(pairs: &[(&str, Option<&str>)]) -> String {
    let parts: Vec<String> = pairs
        .iter()
        .filter_map(|(k, v)| {
            v.map(|v| format!("{k}={}", percent_encoding::utf8_percent_encode(v, ENCODE)))
        })
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

pub(crate) fn path_segment(v: &str) -> String {
    percent_encoding::utf8_percent_encode(v, ENCODE).to_string()
}

/// Whether a listing's `*_links` has a `next`.
fn has_next(links: &Option<Vec<Link>>) -> bool {
    links
        .as_ref()
        .is_some_and(|l| l.iter().any(|l| l.rel.as_deref() == Some("next")))
}

#[derive(Deserialize)]
struct Link {
    rel: Option<String>,
}

fn id_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn string_map(v: Option<&Value>) -> BTreeMap<String, String> {
    v.and_then(Value::as_object)
        .map(|o| {
            o.iter()
                .map(|(k, v)| {
                    let t = match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    (k.clone(), t)
                })
                .collect()
        })
        .unwrap_or_default()
}

fn str_field(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}

fn malformed(request: impl Into<String>, detail: impl Into<String>) -> OpenStackError {
    OpenStackError::Malformed {
        request: request.into(),
        detail: detail.into(),
    }
}

impl Service {
    fn from_json(v: &Value) -> Option<Service> {
        Some(Service {
            id: id_text(v.get("id")?),
            host: str_field(v, "host")?,
            binary: str_field(v, "binary")?,
            zone: str_field(v, "zone"),
            state: match v.get("state")?.as_str()? {
                "up" => ServiceState::Up,
                _ => ServiceState::Down,
            },
            status: match v.get("status")?.as_str()? {
                "enabled" => ServiceStatus::Enabled,
                _ => ServiceStatus::Disabled,
            },
            forced_down: v
                .get("forced_down")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            disabled_reason: str_field(v, "disabled_reason"),
            updated_at: str_field(v, "updated_at"),
        })
    }
}

impl Server {
    fn from_json(v: &Value) -> Option<Server> {
        let flavor = v.get("flavor").cloned().unwrap_or(Value::Null);
        let image_id = match v.get("image") {
            Some(Value::Object(o)) => o.get("id").and_then(Value::as_str).map(str::to_string),
            _ => None,
        };
        Some(Server {
            id: str_field(v, "id")?,
            name: str_field(v, "name").unwrap_or_default(),
            host: str_field(v, "OS-EXT-SRV-ATTR:host"),
            status: str_field(v, "status").unwrap_or_default(),
            vm_state: str_field(v, "OS-EXT-STS:vm_state"),
            task_state: str_field(v, "OS-EXT-STS:task_state"),
            flavor: FlavorRef {
                id: flavor.get("id").map(id_text),
                original_name: str_field(&flavor, "original_name"),
                extra_specs: flavor.get("extra_specs").map(|e| string_map(Some(e))),
            },
            image_id: image_id.filter(|i| !i.is_empty()),
            metadata: string_map(v.get("metadata")),
            locked: v.get("locked").and_then(Value::as_bool).unwrap_or(false),
            tenant_id: str_field(v, "tenant_id"),
        })
    }
}

impl Migration {
    fn from_json(v: &Value) -> Option<Migration> {
        Some(Migration {
            id: id_text(v.get("id")?),
            uuid: str_field(v, "uuid"),
            instance_uuid: str_field(v, "instance_uuid")?,
            source_compute: str_field(v, "source_compute"),
            dest_compute: str_field(v, "dest_compute"),
            status: str_field(v, "status")?,
            migration_type: str_field(v, "migration_type"),
            created_at: str_field(v, "created_at"),
            updated_at: str_field(v, "updated_at"),
        })
    }
}

impl<'s> Compute<'s> {
    /// The highest microversion this Nova serves (from its version document, read once).
    pub fn max_microversion(&self, dl: &Deadline) -> Result<Microversion> {
        Ok(self.session.nova_versions(dl)?.1)
    }

    /// The version to send for a request written for `wanted`: within what this Nova
    /// serves.
    fn version(&self, wanted: Microversion, dl: &Deadline) -> Result<Microversion> {
        let (min, max) = self.session.nova_versions(dl)?;
        Ok(wanted.min(max).max(min))
    }

    fn url(&self, path: &str) -> Result<String> {
        Ok(format!("{}{path}", self.session.compute_url()?))
    }

    /// One listing, every page: `key` is the array, `{key}_links` says whether more
    /// follows; the next page is asked for with the last item's `marker_key` as marker.
    fn list_all(
        &self,
        path: &str,
        params: &[(&str, Option<&str>)],
        key: &str,
        marker_key: &str,
        mv: Microversion,
        dl: &Deadline,
    ) -> Result<Vec<Value>> {
        #[derive(Deserialize)]
        struct Page {
            #[serde(flatten)]
            rest: serde_json::Map<String, Value>,
        }
        let mut all = Vec::new();
        let mut marker: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut p: Vec<(&str, Option<&str>)> = params.to_vec();
            p.push(("marker", marker.as_deref()));
            let url = self.url(&format!("{path}{}", query(&p)))?;
            let mut page: Page = self.session.get_json(&url, Some(mv), dl)?;
            let items = match page.rest.remove(key) {
                Some(Value::Array(a)) => a,
                _ => {
                    return Err(malformed(
                        format!("GET {}", crate::http::redact_url(&url)),
                        format!("no '{key}' list in the answer"),
                    ))
                }
            };
            let links: Option<Vec<Link>> = page
                .rest
                .remove(&format!("{key}_links"))
                .and_then(|l| serde_json::from_value(l).ok());
            let last = items.last().and_then(|i| i.get(marker_key)).map(id_text);
            let n = items.len();
            all.extend(items);
            match (has_next(&links), last) {
                (true, Some(last)) if n > 0 && marker.as_deref() != Some(last.as_str()) => {
                    marker = Some(last)
                }
                _ => return Ok(all),
            }
        }
        Err(malformed(
            format!("GET {path}"),
            format!("more than {MAX_PAGES} pages"),
        ))
    }

    /// os-services, filtered by binary and host when given.
    pub fn services(
        &self,
        binary: Option<&str>,
        host: Option<&str>,
        dl: &Deadline,
    ) -> Result<Vec<Service>> {
        let mv = self.version(Microversion::SERVICE_UUID, dl)?;
        let url = self.url(&format!(
            "/os-services{}",
            query(&[("binary", binary), ("host", host)])
        ))?;
        #[derive(Deserialize)]
        struct List {
            services: Vec<Value>,
        }
        let list: List = self.session.get_json(&url, Some(mv), dl)?;
        list.services
            .iter()
            .map(|v| {
                Service::from_json(v).ok_or_else(|| {
                    malformed(
                        "GET /os-services",
                        "a service lacks id/host/binary/state/status",
                    )
                })
            })
            .collect()
    }

    /// `PUT /os-services/{uuid}` (2.53+).
    fn update_service(
        &self,
        svc: &Service,
        body: Value,
        mv: Microversion,
        dl: &Deadline,
    ) -> Result<()> {
        let url = self.url(&format!("/os-services/{}", path_segment(&svc.id)))?;
        self.session
            .send_action(Method::PUT, &url, Some(mv), &body, dl)?;
        Ok(())
    }

    /// The legacy `PUT /os-services/{action}` with host and binary in the body.
    fn legacy_service(
        &self,
        action: &str,
        svc: &Service,
        extra: Value,
        mv: Microversion,
        dl: &Deadline,
    ) -> Result<()> {
        let mut body = json!({ "host": svc.host, "binary": svc.binary });
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        let url = self.url(&format!("/os-services/{action}"))?;
        self.session
            .send_action(Method::PUT, &url, Some(mv), &body, dl)?;
        Ok(())
    }

    fn need_force_down(&self, dl: &Deadline) -> Result<Microversion> {
        let mv = self.version(Microversion::SERVICE_UUID, dl)?;
        if mv < Microversion::FORCE_DOWN {
            return Err(OpenStackError::Unsupported(format!(
                "this Nova serves microversions up to {mv}: forcing a service down needs 2.11"
            )));
        }
        Ok(mv)
    }

    /// Force the service down and disable it with `reason`: one PUT from 2.53, else
    /// force-down then disable-log-reason. Never disable first: on Train the disable RPCs
    /// the (dead) compute and hangs.
    pub fn force_down_and_disable(&self, svc: &Service, reason: &str, dl: &Deadline) -> Result<()> {
        let mv = self.need_force_down(dl)?;
        if mv >= Microversion::SERVICE_UUID {
            return self.update_service(
                svc,
                json!({ "status": "disabled", "disabled_reason": reason, "forced_down": true }),
                mv,
                dl,
            );
        }
        self.legacy_service("force-down", svc, json!({ "forced_down": true }), mv, dl)?;
        self.legacy_service(
            "disable-log-reason",
            svc,
            json!({ "disabled_reason": reason }),
            mv,
            dl,
        )
    }

    /// Disable (or change the reason of a disabled service).
    pub fn disable(&self, svc: &Service, reason: &str, dl: &Deadline) -> Result<()> {
        let mv = self.version(Microversion::SERVICE_UUID, dl)?;
        if mv >= Microversion::SERVICE_UUID {
            self.update_service(
                svc,
                json!({ "status": "disabled", "disabled_reason": reason }),
                mv,
                dl,
            )
        } else {
            self.legacy_service(
                "disable-log-reason",
                svc,
                json!({ "disabled_reason": reason }),
                mv,
                dl,
            )
        }
    }

    pub fn enable(&self, svc: &Service, dl: &Deadline) -> Result<()> {
        let mv = self.version(Microversion::SERVICE_UUID, dl)?;
        if mv >= Microversion::SERVICE_UUID {
            self.update_service(svc, json!({ "status": "enabled" }), mv, dl)
        } else {
            self.legacy_service("enable", svc, json!({}), mv, dl)
        }
    }

    /// Clear forced_down. From Xena Nova answers 400 while evacuations from this host are
    /// `done` but not yet `completed` (nova-compute must restart there first).
    pub fn force_up(&self, svc: &Service, dl: &Deadline) -> Result<()> {
        let mv = self.need_force_down(dl)?;
        if mv >= Microversion::SERVICE_UUID {
            self.update_service(svc, json!({ "forced_down": false }), mv, dl)
        } else {
            self.legacy_service("force-down", svc, json!({ "forced_down": false }), mv, dl)
        }
    }

    /// Every server on `host`, all tenants, every page. Read at 2.46 or below so that
    /// each server's flavor is the flavor's id (see [`FlavorRef`]).
    pub fn servers_on_host(&self, host: &str, dl: &Deadline) -> Result<Vec<Server>> {
        let mv = self.version(Microversion::FLAVOR_ID_IN_SERVER, dl)?;
        let items = self.list_all(
            "/servers/detail",
            &[("all_tenants", Some("1")), ("host", Some(host))],
            "servers",
            "id",
            mv,
            dl,
        )?;
        items
            .iter()
            .map(|v| {
                Server::from_json(v)
                    .ok_or_else(|| malformed("GET /servers/detail", "a server has no id"))
            })
            .collect()
    }

    pub fn server(&self, id: &str, dl: &Deadline) -> Result<Server> {
        let mv = self.version(Microversion::FLAVOR_ID_IN_SERVER, dl)?;
        let url = self.url(&format!("/servers/{}", path_segment(id)))?;
        #[derive(Deserialize)]
        struct One {
            server: Value,
        }
        let one: One = self.session.get_json(&url, Some(mv), dl)?;
        Server::from_json(&one.server)
            .ok_or_else(|| malformed("GET /servers/{id}", "the server has no id"))
    }

    /// Every flavor (public and private) with its extra specs: inline from 2.61, else one
    /// listing plus os-extra_specs fetched by a bounded pool (not one after the other).
    pub fn flavors(&self, dl: &Deadline) -> Result<Vec<Flavor>> {
        let mv = self.version(Microversion::FLAVOR_EXTRA_SPECS, dl)?;
        let items = self.list_all(
            "/flavors/detail",
            &[("is_public", Some("None"))],
            "flavors",
            "id",
            mv,
            dl,
        )?;
        let mut flavors: Vec<Flavor> = items
            .iter()
            .map(|v| {
                let id = v.get("id").map(id_text);
                id.map(|id| Flavor {
                    id,
                    name: str_field(v, "name").unwrap_or_default(),
                    is_public: v
                        .get("os-flavor-access:is_public")
                        .and_then(Value::as_bool)
                        .unwrap_or(true),
                    extra_specs: string_map(v.get("extra_specs")),
                })
                .ok_or_else(|| malformed("GET /flavors/detail", "a flavor has no id"))
            })
            .collect::<Result<_>>()?;
        if mv < Microversion::FLAVOR_EXTRA_SPECS {
            let ids: Vec<String> = flavors.iter().map(|f| f.id.clone()).collect();
            let specs = parallel(ids, EXTRA_SPECS_CONCURRENCY, |id| {
                #[derive(Deserialize)]
                struct Specs {
                    extra_specs: Value,
                }
                let url = self.url(&format!("/flavors/{}/os-extra_specs", path_segment(&id)))?;
                let s: Specs = self.session.get_json(&url, Some(mv), dl)?;
                Ok(string_map(Some(&s.extra_specs)))
            });
            for (f, s) in flavors.iter_mut().zip(specs) {
                f.extra_specs = s?;
            }
        }
        Ok(flavors)
    }

    /// os-migrations matching `filter`, every page (2.59+; all at once below).
    pub fn migrations(&self, filter: &MigrationFilter, dl: &Deadline) -> Result<Vec<Migration>> {
        let mv = self.version(Microversion::MIGRATIONS_PAGED, dl)?;
        let paged = mv >= Microversion::MIGRATIONS_PAGED;
        let params = [
            ("host", filter.host.as_deref()),
            ("source_compute", filter.source_compute.as_deref()),
            ("instance_uuid", filter.instance_uuid.as_deref()),
            ("migration_type", filter.migration_type.as_deref()),
            ("status", filter.status.as_deref()),
            (
                "changes-since",
                filter.changes_since.as_deref().filter(|_| paged),
            ),
        ];
        let items = if paged {
            self.list_all("/os-migrations", &params, "migrations", "uuid", mv, dl)?
        } else {
            #[derive(Deserialize)]
            struct List {
                migrations: Vec<Value>,
            }
            let url = self.url(&format!("/os-migrations{}", query(&params)))?;
            let l: List = self.session.get_json(&url, Some(mv), dl)?;
            l.migrations
        };
        items
            .iter()
            .map(|v| {
                Migration::from_json(v).ok_or_else(|| {
                    malformed(
                        "GET /os-migrations",
                        "a migration lacks id/instance_uuid/status",
                    )
                })
            })
            .collect()
    }

    fn action(&self, server_id: &str, body: Value, mv: Microversion, dl: &Deadline) -> Result<()> {
        let url = self.url(&format!("/servers/{}/action", path_segment(server_id)))?;
        self.session
            .send_action(Method::POST, &url, Some(mv), &body, dl)?;
        Ok(())
    }

    /// Ask Nova to rebuild the server elsewhere (200 = accepted; the migration record
    /// tells how it goes). Sent at 2.94 at most: from 2.95 the instance would stay stopped.
    pub fn evacuate(&self, server_id: &str, req: &EvacuateRequest, dl: &Deadline) -> Result<()> {
        let mv = self.version(Microversion::EVACUATE_MAX, dl)?;
        self.action(server_id, evacuate_body(req, mv), mv, dl)
    }

    /// Lock, with the reason from 2.73.
    pub fn lock(&self, server_id: &str, reason: &str, dl: &Deadline) -> Result<()> {
        let mv = self.version(Microversion::LOCK_REASON, dl)?;
        let body = if mv >= Microversion::LOCK_REASON {
            json!({ "lock": { "locked_reason": reason } })
        } else {
            json!({ "lock": null })
        };
        self.action(server_id, body, mv, dl)
    }

    pub fn unlock(&self, server_id: &str, dl: &Deadline) -> Result<()> {
        let mv = self.version(Microversion::BASE, dl)?;
        self.action(server_id, json!({ "unlock": null }), mv, dl)
    }

    pub fn reset_state(&self, server_id: &str, state: ResetState, dl: &Deadline) -> Result<()> {
        let mv = self.version(Microversion::BASE, dl)?;
        self.action(
            server_id,
            json!({ "os-resetState": { "state": state.as_str() } }),
            mv,
            dl,
        )
    }
}

/// The evacuate body for microversion `mv`: `onSharedStorage` only below 2.14 (required
/// there), a host only when asked for, never `force`, never an adminPass.
pub(crate) fn evacuate_body(req: &EvacuateRequest, mv: Microversion) -> Value {
    let mut inner = serde_json::Map::new();
    if mv < Microversion::EVACUATE_AUTO_SHARED {
        inner.insert("onSharedStorage".into(), Value::Bool(req.on_shared_storage));
    }
    if let Some(h) = &req.target_host {
        inner.insert("host".into(), Value::String(h.clone()));
    }
    json!({ "evacuate": inner })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evacuate_bodies_by_version() {
        let shared = EvacuateRequest {
            target_host: None,
            on_shared_storage: true,
        };
        assert_eq!(
            evacuate_body(&shared, Microversion::new(2, 11)),
            json!({"evacuate": {"onSharedStorage": true}})
        );
        assert_eq!(
            evacuate_body(&shared, Microversion::new(2, 14)),
            json!({"evacuate": {}})
        );
        let to = EvacuateRequest {
            target_host: Some("cmp2".into()),
            on_shared_storage: false,
        };
        assert_eq!(
            evacuate_body(&to, Microversion::new(2, 53)),
            json!({"evacuate": {"host": "cmp2"}})
        );
        assert_eq!(
            evacuate_body(&to, Microversion::new(2, 1)),
            json!({"evacuate": {"onSharedStorage": false, "host": "cmp2"}})
        );
    }

    #[test]
    fn queries() {
        assert_eq!(query(&[("a", Some("x y")), ("b", None)]), "?a=x%20y");
        assert_eq!(query(&[("b", None)]), "");
    }

    #[test]
    fn server_shapes() {
        let old = json!({"id": "s1", "name": "n", "status": "ACTIVE",
            "OS-EXT-SRV-ATTR:host": "cmp1", "OS-EXT-STS:vm_state": "active",
            "OS-EXT-STS:task_state": null, "flavor": {"id": "f1", "links": []},
            "image": "", "metadata": {"k": "v"}});
        let s = Server::from_json(&old).unwrap();
        assert_eq!(s.flavor.id.as_deref(), Some("f1"));
        assert_eq!(s.image_id, None);
        assert_eq!(s.task_state, None);
        assert!(!s.locked);
        let new = json!({"id": "s2", "flavor": {"original_name": "m1", "extra_specs": {"evacuable": "true"}},
            "image": {"id": "i1"}, "locked": true});
        let s = Server::from_json(&new).unwrap();
        assert_eq!(s.flavor.id, None);
        assert_eq!(s.flavor.extra_specs.unwrap()["evacuable"], "true");
        assert_eq!(s.image_id.as_deref(), Some("i1"));
    }

    #[test]
    fn service_ids() {
        let v = json!({"id": 7, "host": "h", "binary": "nova-compute", "state": "down",
            "status": "disabled", "disabled_reason": "x"});
        let s = Service::from_json(&v).unwrap();
        assert_eq!(s.id, "7");
        assert!(!s.forced_down);
        assert_eq!(s.state, ServiceState::Down);
    }
}
