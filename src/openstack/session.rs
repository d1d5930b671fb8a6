//! One authenticated session for an action: the token (from X-Subject-Token, reused for
//! every request, renewed shortly before it ends and re-obtained once on a 401), the
//! catalog's endpoints, Nova's version range, and one HTTP connection pool shared by every
//! thread of the action.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{OnceLock, RwLock};
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::compute::Compute;
use super::config::{AuthConfig, AuthMethod, Interface};
use super::error::{OpenStackError, Result};
use super::image::Image;
use super::keystone::{self, TokenResponse};
use super::microversion::Microversion;
use super::secret::Secret;
use crate::http::{self, HttpError, Method};
use crate::ocf::params::printable;
use crate::ocf::Deadline;

/// An early token renewal is optional: it may not take the action's whole budget.
const RENEW_CAP: Duration = Duration::from_secs(5);

/// The peer's own error message is quoted up to this many characters.
const DETAIL_LIMIT: usize = 300;

struct Token {
    value: Secret,
    /// Bumped at every re-authentication, so that of many workers hitting the same 401
    /// only the first obtains a new token.
    generation: u64,
    obtained: Instant,
    lifetime: Option<Duration>,
}

impl Token {
    fn new(value: Secret, generation: u64, body: &TokenResponse) -> Token {
        Token {
            value,
            generation,
            obtained: Instant::now(),
            lifetime: body.token.lifetime(),
        }
    }

    /// Close enough to its end (the last tenth, at most a minute) to renew it before use
    /// rather than have every worker's next request refused.
    fn ending(&self) -> bool {
        self.lifetime.is_some_and(|l| {
            let margin = (l / 10).min(Duration::from_secs(60));
            self.obtained.elapsed() + margin >= l
        })
    }
}

/// `Send + Sync`: share it (by reference) with the workers of [`super::parallel`].
pub struct Session {
    cfg: AuthConfig,
    http: http::Client,
    identity_url: String,
    token: RwLock<Token>,
    compute_url: Result<String, String>,
    image_url: Result<String, String>,
    nova_versions: OnceLock<(Microversion, Microversion)>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Session({})", http::redact_url(&self.identity_url))
    }
}

/// `insecure` is worth one warning per process, not one per request or session.
static INSECURE_WARNED: AtomicBool = AtomicBool::new(false);

impl Session {
    /// Authenticate (discovering the v3 URL of an unversioned auth_url) and pick the
    /// compute and image endpoints from the catalog.
    pub fn connect(cfg: &AuthConfig, deadline: &Deadline) -> Result<Session> {
        if cfg.tls.insecure && !INSECURE_WARNED.swap(true, Ordering::Relaxed) {
            log::warn!(
                "insecure is set: the TLS certificates of Keystone, Nova and Glance are not \
                 verified"
            );
        }
        let http = http::Client::new(
            &http::TlsOptions {
                ca_file: cfg.tls.ca_file.clone(),
                insecure: cfg.tls.insecure,
            },
            "openstack",
        )
        .map_err(|e| OpenStackError::from_http(e, &[]))?;
        let identity_url = if keystone::is_versioned(&cfg.auth_url) {
            cfg.auth_url.trim_end_matches('/').to_string()
        } else {
            discover_v3(&http, &cfg.auth_url, deadline)?
        };
        let (token, body) = authenticate(&http, cfg, &identity_url, None, deadline)?;
        let pick = |service: &str| {
            keystone::select_endpoint(
                &body.token.catalog,
                service,
                cfg.interface,
                cfg.region.as_deref(),
            )
            .map_err(|e| e.to_string())
        };
        let session = Session {
            compute_url: pick("compute"),
            image_url: pick("image"),
            cfg: cfg.clone(),
            http,
            identity_url,
            token: RwLock::new(Token::new(token, 0, &body)),
            nova_versions: OnceLock::new(),
        };
        log::debug!(
            "authenticated at {} (compute {}, interface {})",
            http::redact_url(&session.identity_url),
            session
                .compute_url
                .as_deref()
                .map(http::redact_url)
                .unwrap_or_else(|_| "-".into()),
            session.cfg.interface.as_str()
        );
        Ok(session)
    }

    pub fn compute(&self) -> Compute<'_> {
        Compute { session: self }
    }

    pub fn image(&self) -> Image<'_> {
        Image { session: self }
    }

    /// The configuration this session was made from.
    pub fn config(&self) -> &AuthConfig {
        &self.cfg
    }

    /// The interface the endpoints were picked for.
    pub fn interface(&self) -> Interface {
        self.cfg.interface
    }

    pub(crate) fn compute_url(&self) -> Result<&str> {
        self.compute_url
            .as_deref()
            .map_err(|e| OpenStackError::NoEndpoint(e.clone()))
    }

    pub(crate) fn image_url(&self) -> Result<&str> {
        self.image_url
            .as_deref()
            .map_err(|e| OpenStackError::NoEndpoint(e.clone()))
    }

    /// Nova's (min, max) microversion, read once from the compute endpoint's version
    /// document.
    pub(crate) fn nova_versions(&self, dl: &Deadline) -> Result<(Microversion, Microversion)> {
        if let Some(v) = self.nova_versions.get() {
            return Ok(*v);
        }
        let url = version_document_url(self.compute_url()?);
        let mut resp = self.send(Method::GET, &url, None, None, dl)?;
        let doc: Value = json_of(&mut resp)?;
        let v = parse_nova_versions(&doc).ok_or_else(|| OpenStackError::Malformed {
            request: resp.what().to_string(),
            detail: "no compute API v2.1 version in the version document".into(),
        })?;
        log::debug!("Nova serves microversions {} to {}", v.0, v.1);
        Ok(*self.nova_versions.get_or_init(|| v))
    }

    /// The secrets of this session, to be removed from any text quoted from a peer.
    fn secrets(&self) -> Vec<String> {
        let mut v = Vec::new();
        match &self.cfg.method {
            AuthMethod::Password { password, .. } => v.push(password.expose().to_string()),
            AuthMethod::ApplicationCredential { secret, .. } => v.push(secret.expose().to_string()),
        }
        if let Ok(t) = self.token.read() {
            v.push(t.value.expose().to_string());
        }
        v
    }

    /// Send one request with the session's token (and, for Nova, the microversion it was
    /// written for). A 401 gets one new token and one retry; any other status ≥ 400 is
    /// the error naming the request and carrying the peer's message.
    pub(crate) fn send(
        &self,
        method: Method,
        url: &str,
        microversion: Option<Microversion>,
        body: Option<&Value>,
        dl: &Deadline,
    ) -> Result<http::Response> {
        let mut retried = false;
        loop {
            let (token, generation) = self.current_token(dl);
            let mut req = self
                .http
                .request(method.clone(), url)
                .header("X-Auth-Token", token.expose())
                .header("Accept", "application/json");
            if let Some(mv) = microversion {
                req = req
                    .header("OpenStack-API-Version", &mv.header())
                    .header("X-OpenStack-Nova-API-Version", &mv.to_string());
            }
            if let Some(b) = body {
                req = req.json(b);
            }
            let resp = req
                .send(dl)
                .map_err(|e| OpenStackError::from_http(e, &self.secrets()))?;
            if resp.status() == 401 && !retried {
                retried = true;
                drain(resp);
                log::debug!(
                    "token refused by {}: authenticating again",
                    http::redact_url(url)
                );
                self.reauthenticate(generation, None, dl)?;
                continue;
            }
            if resp.status() >= 400 {
                return Err(status_error(resp, &self.secrets()));
            }
            return Ok(resp);
        }
    }

    /// The token to send (renewed first when it is about to end; should that fail, the
    /// old one is still tried) and its generation.
    fn current_token(&self, dl: &Deadline) -> (Secret, u64) {
        let read = || {
            let t = self.token.read().unwrap_or_else(|p| p.into_inner());
            (t.value.clone(), t.generation, t.ending())
        };
        let (value, generation, ending) = read();
        if !ending {
            return (value, generation);
        }
        if let Err(e) = self.reauthenticate(generation, Some(RENEW_CAP), dl) {
            // Not again for this token: the 401 path takes over when it really ends.
            log::debug!("renewing the token before it ends failed: {e}");
            let mut t = self.token.write().unwrap_or_else(|p| p.into_inner());
            if t.generation == generation {
                t.lifetime = None;
            }
        }
        let (value, generation, _) = read();
        (value, generation)
    }

    fn reauthenticate(
        &self,
        seen_generation: u64,
        cap: Option<Duration>,
        dl: &Deadline,
    ) -> Result<()> {
        let mut t = self.token.write().unwrap_or_else(|p| p.into_inner());
        if t.generation != seen_generation {
            return Ok(());
        }
        let (token, body) = authenticate(&self.http, &self.cfg, &self.identity_url, cap, dl)?;
        *t = Token::new(token, seen_generation + 1, &body);
        Ok(())
    }

    /// GET and decode a JSON answer.
    pub(crate) fn get_json<T: DeserializeOwned>(
        &self,
        url: &str,
        microversion: Option<Microversion>,
        dl: &Deadline,
    ) -> Result<T> {
        let mut resp = self.send(Method::GET, url, microversion, None, dl)?;
        json_of(&mut resp)
    }

    /// Send a JSON body, expecting no answer worth reading (read and dropped so the
    /// connection goes back to the pool; a body may hold an adminPass nobody should see).
    pub(crate) fn send_action(
        &self,
        method: Method,
        url: &str,
        microversion: Option<Microversion>,
        body: &Value,
        dl: &Deadline,
    ) -> Result<u16> {
        let resp = self.send(method, url, microversion, Some(body), dl)?;
        let status = resp.status();
        drain(resp);
        Ok(status)
    }
}

/// Read and drop a body (bounded), returning the connection to the pool.
fn drain(mut resp: http::Response) {
    let _ = resp.bytes(64 * 1024);
}

pub(crate) fn json_of<T: DeserializeOwned>(resp: &mut http::Response) -> Result<T> {
    resp.json::<T>()
        .map_err(|e| OpenStackError::from_http(e, &[]))
}

/// `GET {auth_url}`: Keystone's version list, from which the v3 URL.
fn discover_v3(http: &http::Client, auth_url: &str, dl: &Deadline) -> Result<String> {
    let mut resp = http
        .get(auth_url)
        .header("Accept", "application/json")
        .send(dl)
        .map_err(|e| OpenStackError::from_http(e, &[]))?;
    let what = resp.what().to_string();
    if !(200..400).contains(&resp.status()) {
        return Err(status_error(resp, &[]));
    }
    let doc: Value = json_of(&mut resp)?;
    keystone::v3_from_discovery(&doc).ok_or_else(|| {
        OpenStackError::config(format!(
            "auth_url {}: the version document offers no Identity API v3 ({what})",
            http::redact_url(auth_url)
        ))
    })
}

/// `POST {v3}/auth/tokens`: the token (X-Subject-Token) and the catalog.
fn authenticate(
    http: &http::Client,
    cfg: &AuthConfig,
    identity_url: &str,
    cap: Option<Duration>,
    dl: &Deadline,
) -> Result<(Secret, TokenResponse)> {
    let secret = match &cfg.method {
        AuthMethod::Password { password, .. } => password.expose().to_string(),
        AuthMethod::ApplicationCredential { secret, .. } => secret.expose().to_string(),
    };
    let body = keystone::token_request(cfg);
    let url = format!("{identity_url}/auth/tokens");
    let mut req = http
        .post(&url)
        .header("Accept", "application/json")
        .json(&body);
    if let Some(cap) = cap {
        req = req.timeout(cap);
    }
    let mut resp = req
        .send(dl)
        .map_err(|e| OpenStackError::from_http(e, std::slice::from_ref(&secret)))?;
    drop(body);
    if resp.status() >= 400 {
        return Err(status_error(resp, &[secret]));
    }
    let token = resp
        .header("X-Subject-Token")
        .filter(|t| !t.is_empty())
        .map(Secret::new)
        .ok_or_else(|| OpenStackError::Malformed {
            request: resp.what().to_string(),
            detail: "no X-Subject-Token header in Keystone's answer".into(),
        })?;
    let parsed: TokenResponse = json_of(&mut resp)?;
    Ok((token, parsed))
}

/// The URL of the compute API's version document: the endpoint cut after its `v2.1`
/// segment (a catalog URL may end in `/v2.1/<project_id>`).
pub(crate) fn version_document_url(compute_url: &str) -> String {
    let base = compute_url.trim_end_matches('/');
    let (head, path) = match base.split_once("://") {
        Some((scheme, rest)) => match rest.find('/') {
            Some(i) => (format!("{scheme}://{}", &rest[..i]), &rest[i..]),
            None => return format!("{base}/"),
        },
        None => return format!("{base}/"),
    };
    let mut kept = String::new();
    for seg in path.split('/').filter(|s| !s.is_empty()) {
        kept.push('/');
        kept.push_str(seg);
        if seg == "v2.1" || seg == "v2" {
            return format!("{head}{kept}/");
        }
    }
    format!("{base}/")
}

/// `{"version": {"version": "2.95", "min_version": "2.1"}}`, or a list of versions of which
/// v2.1. An empty version (a v2.0 API) means no microversions: 2.1 only.
pub(crate) fn parse_nova_versions(doc: &Value) -> Option<(Microversion, Microversion)> {
    let v = match doc.get("version") {
        Some(v) => v,
        None => doc
            .get("versions")?
            .as_array()?
            .iter()
            .find(|v| v.get("id").and_then(Value::as_str) == Some("v2.1"))?,
    };
    let parse = |key: &str| -> Option<Microversion> {
        match v.get(key).and_then(Value::as_str) {
            Some("") => Some(Microversion::BASE),
            Some(s) => s.parse().ok(),
            None => None,
        }
    };
    let max = parse("version")?;
    let min = parse("min_version").unwrap_or(Microversion::BASE);
    Some((min.min(max), max))
}

/// The peer's own message from an error body: Nova's `{"conflictingRequest": {"message":
/// …}}`, Keystone's `{"error": {"message": …}}`, or the first line of a text body.
fn peer_message(raw: &str) -> String {
    let from_json = serde_json::from_str::<Value>(raw).ok().and_then(|v| {
        let obj = v.as_object()?;
        obj.values()
            .find_map(|inner| inner.get("message").and_then(Value::as_str))
            .or_else(|| obj.get("message").and_then(Value::as_str))
            .map(str::to_string)
    });
    let text = from_json.unwrap_or_else(|| {
        raw.lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with('<'))
            .unwrap_or("")
            .to_string()
    });
    let mut t = printable(&text);
    if t.chars().count() > DETAIL_LIMIT {
        t = t.chars().take(DETAIL_LIMIT).collect::<String>() + "…";
    }
    t
}

fn scrub(text: &str, secrets: &[String]) -> String {
    secrets
        .iter()
        .filter(|s| s.len() >= 4)
        .fold(text.to_string(), |t, s| t.replace(s.as_str(), "<redacted>"))
}

fn status_error(mut resp: http::Response, secrets: &[String]) -> OpenStackError {
    let status = resp.status();
    let request = resp.what().to_string();
    let raw = resp.text(16 * 1024).unwrap_or_default();
    OpenStackError::Status {
        request,
        status,
        detail: scrub(&peer_message(&raw), secrets),
    }
}

impl OpenStackError {
    pub(crate) fn from_http(e: HttpError, secrets: &[String]) -> OpenStackError {
        let s = |t: &str| scrub(t, secrets);
        match e {
            HttpError::Config(m) => OpenStackError::Config(s(&m)),
            HttpError::CaFile(m) => OpenStackError::CaFile(s(&m)),
            HttpError::Timeout { what, detail } => OpenStackError::Timeout {
                request: what,
                detail: s(&detail),
            },
            HttpError::Transport { what, detail } => {
                let lower = detail.to_ascii_lowercase();
                if ["certificate", "tls", "rustls", "handshake"]
                    .iter()
                    .any(|w| lower.contains(w))
                {
                    OpenStackError::Tls {
                        request: what,
                        detail: s(&detail),
                    }
                } else {
                    OpenStackError::Connect {
                        request: what,
                        detail: s(&detail),
                    }
                }
            }
            HttpError::Body { what, detail, .. } => OpenStackError::Connect {
                request: what,
                detail: format!("the answer broke off: {}", s(&detail)),
            },
            HttpError::Json { what, detail, .. } => OpenStackError::Malformed {
                request: what,
                detail: s(&detail),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn version_document() {
        assert_eq!(
            version_document_url("http://h/compute/v2.1/abc123"),
            "http://h/compute/v2.1/"
        );
        assert_eq!(
            version_document_url("http://h:8774/v2.1"),
            "http://h:8774/v2.1/"
        );
        assert_eq!(version_document_url("http://h:8774"), "http://h:8774/");
        let doc = json!({"version": {"id": "v2.1", "version": "2.95", "min_version": "2.1"}});
        assert_eq!(
            parse_nova_versions(&doc),
            Some((Microversion::new(2, 1), Microversion::new(2, 95)))
        );
        let list = json!({"versions": [
            {"id": "v2.0", "version": "", "min_version": ""},
            {"id": "v2.1", "version": "2.53", "min_version": "2.1"}
        ]});
        assert_eq!(
            parse_nova_versions(&list).map(|v| v.1),
            Some(Microversion::new(2, 53))
        );
    }

    #[test]
    fn peer_messages() {
        assert_eq!(
            peer_message(r#"{"conflictingRequest": {"message": "Cannot evacuate", "code": 409}}"#),
            "Cannot evacuate"
        );
        assert_eq!(
            peer_message(r#"{"error": {"code": 401, "message": "requires authentication"}}"#),
            "requires authentication"
        );
        assert_eq!(
            peer_message("<html>\n503 Service Unavailable\n"),
            "503 Service Unavailable"
        );
        assert_eq!(scrub("x hunter2 y", &["hunter2".into()]), "x <redacted> y");
    }
}
