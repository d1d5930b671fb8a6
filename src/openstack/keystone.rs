//! Keystone v3: the token request bodies (password, application credential), version
//! discovery of an unversioned auth_url, and the service catalog with endpoint selection by
//! service type, interface and region.

use serde::Deserialize;
use serde_json::{json, Value};

use super::config::{AppCredentialRef, AuthConfig, AuthMethod, DomainRef, Interface, NameOrId};
use super::error::{OpenStackError, Result};

fn domain_json(d: &DomainRef) -> Value {
    match d {
        DomainRef::Name(n) => json!({ "name": n }),
        DomainRef::Id(i) => json!({ "id": i }),
    }
}

fn named_json(who: &NameOrId) -> Value {
    match who {
        NameOrId::Id(id) => json!({ "id": id }),
        NameOrId::Name { name, domain } => json!({ "name": name, "domain": domain_json(domain) }),
    }
}

/// The body of `POST /v3/auth/tokens`. It holds the secret: it goes to the request and is
/// dropped, never formatted.
pub(crate) fn token_request(cfg: &AuthConfig) -> Value {
    match &cfg.method {
        AuthMethod::Password { user, password } => {
            let mut u = named_json(user);
            u["password"] = Value::String(password.expose().to_string());
            let mut auth = json!({
                "identity": { "methods": ["password"], "password": { "user": u } }
            });
            if let Some(project) = &cfg.project {
                auth["scope"] = json!({ "project": named_json(project) });
            }
            json!({ "auth": auth })
        }
        AuthMethod::ApplicationCredential { credential, secret } => {
            let mut c = match credential {
                AppCredentialRef::Id(id) => json!({ "id": id }),
                AppCredentialRef::Name { name, user } => {
                    json!({ "name": name, "user": named_json(user) })
                }
            };
            c["secret"] = Value::String(secret.expose().to_string());
            json!({ "auth": { "identity": {
                "methods": ["application_credential"],
                "application_credential": c
            } } })
        }
    }
}

/// Whether the auth_url already names the v3 API (`…/v3` or `…/v3/`).
pub(crate) fn is_versioned(auth_url: &str) -> bool {
    let path = auth_url.trim_end_matches('/');
    path.rsplit('/').next().is_some_and(|last| last == "v3")
}

/// The v3 URL from a version discovery document: `{"versions": {"values": [...]}}` (300)
/// or a single `{"version": {...}}`.
pub(crate) fn v3_from_discovery(doc: &Value) -> Option<String> {
    let values: Vec<&Value> = match (doc.get("versions"), doc.get("version")) {
        (Some(v), _) => v
            .get("values")
            .and_then(Value::as_array)
            .or_else(|| v.as_array())
            .map(|a| a.iter().collect())
            .unwrap_or_default(),
        (None, Some(v)) => vec![v],
        _ => Vec::new(),
    };
    values
        .into_iter()
        .filter(|v| {
            v.get("id")
                .and_then(Value::as_str)
                .is_some_and(|id| id.starts_with("v3"))
                && !v
                    .get("status")
                    .and_then(Value::as_str)
                    .is_some_and(|s| s.eq_ignore_ascii_case("deprecated"))
        })
        .find_map(|v| {
            v.get("links")?
                .as_array()?
                .iter()
                .find(|l| l.get("rel").and_then(Value::as_str) == Some("self"))?
                .get("href")?
                .as_str()
                .map(|h| h.trim_end_matches('/').to_string())
        })
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct TokenResponse {
    pub token: TokenBody,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct TokenBody {
    #[serde(default)]
    pub catalog: Vec<CatalogEntry>,
    #[serde(default)]
    pub issued_at: Option<String>,
    #[serde(default)]
    pub expires_at: Option<String>,
}

impl TokenBody {
    /// How long the token lives, from Keystone's own two timestamps: independent of any
    /// skew between this node's clock and Keystone's.
    pub fn lifetime(&self) -> Option<std::time::Duration> {
        let issued = epoch_seconds(self.issued_at.as_deref()?)?;
        let expires = epoch_seconds(self.expires_at.as_deref()?)?;
        (expires > issued).then(|| std::time::Duration::from_secs((expires - issued) as u64))
    }
}

/// Seconds since the epoch of Keystone's `YYYY-MM-DDTHH:MM:SS[.ffffff]Z` (UTC).
pub(crate) fn epoch_seconds(t: &str) -> Option<i64> {
    let b = t.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| t.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    // Days from 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hh * 3600 + mm * 60 + ss)
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct CatalogEntry {
    #[serde(rename = "type")]
    pub service_type: String,
    #[serde(default)]
    pub endpoints: Vec<Endpoint>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Endpoint {
    pub interface: String,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub region_id: Option<String>,
    pub url: String,
}

/// The endpoint of `service_type` at `interface` (in `region` when given; the first
/// listed otherwise). Missing is a configuration error naming what was looked for and
/// what the catalog offers.
pub(crate) fn select_endpoint(
    catalog: &[CatalogEntry],
    service_type: &str,
    interface: Interface,
    region: Option<&str>,
) -> Result<String> {
    let entries: Vec<&CatalogEntry> = catalog
        .iter()
        .filter(|e| e.service_type == service_type)
        .collect();
    let in_region = |ep: &Endpoint| match region {
        None => true,
        Some(r) => ep.region_id.as_deref() == Some(r) || ep.region.as_deref() == Some(r),
    };
    if let Some(ep) = entries
        .iter()
        .flat_map(|e| e.endpoints.iter())
        .find(|ep| ep.interface == interface.as_str() && in_region(ep))
    {
        return Ok(ep.url.trim_end_matches('/').to_string());
    }
    let offered: Vec<String> = entries
        .iter()
        .flat_map(|e| e.endpoints.iter())
        .map(|ep| {
            format!(
                "{}@{}",
                ep.interface,
                ep.region_id
                    .as_deref()
                    .or(ep.region.as_deref())
                    .unwrap_or("-")
            )
        })
        .collect();
    Err(OpenStackError::NoEndpoint(format!(
        "the service catalog has no {service_type} endpoint for interface '{}'{} (it offers: {})",
        interface.as_str(),
        region
            .map(|r| format!(" in region '{r}'"))
            .unwrap_or_default(),
        if offered.is_empty() {
            "none".to_string()
        } else {
            offered.join(", ")
        }
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openstack::config::{AuthConfig, TlsConfig};
    use crate::openstack::secret::Secret;

    fn cfg(method: AuthMethod, project: Option<NameOrId>) -> AuthConfig {
        AuthConfig {
            auth_url: "http://k/v3".into(),
            method,
            project,
            region: None,
            interface: Interface::Internal,
            tls: TlsConfig::default(),
        }
    }

    #[test]
    fn password_by_name_and_id() {
        let by_name = cfg(
            AuthMethod::Password {
                user: NameOrId::Name {
                    name: "admin".into(),
                    domain: DomainRef::Name("Default".into()),
                },
                password: Secret::new("pw"),
            },
            Some(NameOrId::Name {
                name: "admin".into(),
                domain: DomainRef::Id("default".into()),
            }),
        );
        let v = token_request(&by_name);
        assert_eq!(
            v["auth"]["identity"]["password"]["user"],
            json!({"name": "admin", "domain": {"name": "Default"}, "password": "pw"})
        );
        assert_eq!(
            v["auth"]["scope"]["project"],
            json!({"name": "admin", "domain": {"id": "default"}})
        );
        let by_id = cfg(
            AuthMethod::Password {
                user: NameOrId::Id("u1".into()),
                password: Secret::new("pw"),
            },
            Some(NameOrId::Id("p1".into())),
        );
        let v = token_request(&by_id);
        assert_eq!(
            v["auth"]["identity"]["password"]["user"],
            json!({"id": "u1", "password": "pw"})
        );
        assert_eq!(v["auth"]["scope"]["project"], json!({"id": "p1"}));
    }

    #[test]
    fn application_credential_has_no_scope() {
        let c = cfg(
            AuthMethod::ApplicationCredential {
                credential: AppCredentialRef::Id("ac".into()),
                secret: Secret::new("s"),
            },
            None,
        );
        let v = token_request(&c);
        assert_eq!(
            v["auth"]["identity"]["methods"],
            json!(["application_credential"])
        );
        assert!(v["auth"].get("scope").is_none());
    }

    #[test]
    fn discovery() {
        assert!(is_versioned("http://k:5000/v3/"));
        assert!(!is_versioned("http://k:5000/identity"));
        let doc = json!({"versions": {"values": [
            {"id": "v2.0", "status": "deprecated", "links": [{"rel": "self", "href": "http://k/v2.0/"}]},
            {"id": "v3.14", "status": "stable", "links": [{"rel": "self", "href": "http://k/v3/"}]}
        ]}});
        assert_eq!(v3_from_discovery(&doc).as_deref(), Some("http://k/v3"));
        assert_eq!(v3_from_discovery(&json!({})), None);
    }

    #[test]
    fn token_lifetime() {
        assert_eq!(epoch_seconds("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            epoch_seconds("2000-03-01T00:00:01.000000Z"),
            Some(951_868_801)
        );
        assert_eq!(epoch_seconds("garbage"), None);
        let t = TokenBody {
            catalog: Vec::new(),
            issued_at: Some("2026-12-31T23:30:00.000000Z".into()),
            expires_at: Some("2027-01-01T00:30:00.000000Z".into()),
        };
        assert_eq!(t.lifetime(), Some(std::time::Duration::from_secs(3600)));
    }

    #[test]
    fn catalog_by_interface_and_region() {
        let cat: Vec<CatalogEntry> = serde_json::from_value(json!([
            {"type": "compute", "endpoints": [
                {"interface": "public", "region": "R1", "region_id": "R1", "url": "http://pub1/"},
                {"interface": "internal", "region_id": "R1", "url": "http://int1"},
                {"interface": "internal", "region_id": "R2", "url": "http://int2"}
            ]},
            {"type": "image", "endpoints": []}
        ]))
        .unwrap();
        let pick = |i, r| select_endpoint(&cat, "compute", i, r);
        assert_eq!(pick(Interface::Public, None).unwrap(), "http://pub1");
        assert_eq!(
            pick(Interface::Internal, Some("R2")).unwrap(),
            "http://int2"
        );
        let e = pick(Interface::Admin, Some("R1")).unwrap_err();
        assert!(e.to_string().contains("public@R1"), "{e}");
        assert_eq!(e.ocf_code(), crate::ocf::OcfCode::ErrConfigured);
    }
}
