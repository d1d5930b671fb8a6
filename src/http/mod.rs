//! The one HTTP(S) client of ocfbox (health checks, OpenStack). A [`Client`] is a ureq agent
//! set up once: roots from `ca_file` or the platform's verifier, or no verification with
//! `insecure`; no redirects (an answer is the peer's own); no proxy from the environment (the
//! peers are the cluster's); statuses are answers, not errors. It is cheap to clone and
//! `Send + Sync`: threads that share it share its connection pool.
//!
//! Every request's time comes from the operation's [`Deadline`] (optionally capped), so no
//! wait outlives CRM_meta_timeout. Errors name the request (method and redacted URL) and
//! never carry credentials.

mod url;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ureq::tls::{PemItem, RootCerts, TlsConfig};

pub use ureq::http::{HeaderMap, Method};
pub use url::{basic_authorization, redact_url, Url};

use crate::ocf::{Deadline, OcfCode, OcfError};

/// Idle connections kept per host, at least the widest worker pool that shares a client.
pub const IDLE_PER_HOST: usize = 32;

/// A JSON body is read up to this much (OpenStack listings are paginated well below it).
pub const JSON_LIMIT: u64 = 16 * 1024 * 1024;

/// How the peer's certificate is checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// PEM file of the roots to trust instead of the platform's.
    pub ca_file: Option<PathBuf>,
    /// No verification at all (the caller logs the warning once, where it is configured).
    pub insecure: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// A URL, header or body that cannot work as configured (OCF_ERR_CONFIGURED).
    #[error("{0}")]
    Config(String),
    /// The ca_file cannot be used on this node (OCF_ERR_INSTALLED).
    #[error("{0}")]
    CaFile(String),
    /// The operation's time ran out before the answer was complete.
    #[error("{what} failed: no answer in time ({detail})")]
    Timeout { what: String, detail: String },
    /// The peer could not be reached, or TLS or the exchange failed.
    #[error("{what} failed: {detail}")]
    Transport { what: String, detail: String },
    #[error("{what} answered HTTP {status} but its body could not be read: {detail}")]
    Body {
        what: String,
        status: u16,
        detail: String,
    },
    #[error("{what} answered HTTP {status} with a body that is not the expected JSON: {detail}")]
    Json {
        what: String,
        status: u16,
        detail: String,
    },
}

impl HttpError {
    pub fn ocf_code(&self) -> OcfCode {
        match self {
            HttpError::Config(_) => OcfCode::ErrConfigured,
            HttpError::CaFile(_) => OcfCode::ErrInstalled,
            HttpError::Timeout { .. }
            | HttpError::Transport { .. }
            | HttpError::Body { .. }
            | HttpError::Json { .. } => OcfCode::ErrGeneric,
        }
    }

    pub fn is_timeout(&self) -> bool {
        matches!(self, HttpError::Timeout { .. })
    }
}

impl From<HttpError> for OcfError {
    fn from(e: HttpError) -> Self {
        match e.ocf_code() {
            OcfCode::ErrConfigured => OcfError::Configured(e.to_string()),
            OcfCode::ErrInstalled => OcfError::NotInstalled(e.to_string()),
            _ => OcfError::Generic(e.to_string()),
        }
    }
}

/// Load the roots of a PEM file; an unreadable or empty file is an error naming it.
pub fn load_ca(ca: &Path) -> Result<RootCerts, HttpError> {
    let pem = std::fs::read(ca)
        .map_err(|e| HttpError::CaFile(format!("cannot read ca_file {}: {e}", ca.display())))?;
    let certs: Vec<_> = ureq::tls::parse_pem(&pem)
        .filter_map(|item| match item {
            Ok(PemItem::Certificate(c)) => Some(c),
            _ => None,
        })
        .collect();
    if certs.is_empty() {
        return Err(HttpError::CaFile(format!(
            "ca_file {} holds no PEM certificate",
            ca.display()
        )));
    }
    Ok(RootCerts::new_with_certs(&certs))
}

/// The agent, shared by clones: one connection pool.
#[derive(Clone)]
pub struct Client {
    agent: ureq::Agent,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("http::Client")
    }
}

impl Client {
    /// `purpose` ends the user agent (`ocfbox/<version> <purpose>`), so a peer's log tells
    /// which part of ocfbox asked.
    pub fn new(tls: &TlsOptions, purpose: &str) -> Result<Client, HttpError> {
        let roots = match &tls.ca_file {
            Some(ca) => load_ca(ca)?,
            None => RootCerts::PlatformVerifier,
        };
        let tls = TlsConfig::builder()
            .root_certs(roots)
            .disable_verification(tls.insecure)
            .build();
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            // ureq keeps 3 idle connections per host by default: with more workers in
            // flight, every further request would pay a new TCP and TLS handshake.
            .max_idle_connections_per_host(IDLE_PER_HOST)
            .max_idle_connections(2 * IDLE_PER_HOST)
            .proxy(None)
            .user_agent(format!("ocfbox/{} {purpose}", env!("CARGO_PKG_VERSION")))
            .tls_config(tls)
            .build()
            .into();
        Ok(Client { agent })
    }

    pub fn request(&self, method: Method, url: &str) -> Request {
        Request {
            client: self.clone(),
            method,
            url: Url::parse("URL", url),
            headers: Vec::new(),
            body: Ok(None),
            cap: None,
        }
    }

    /// A request to an already parsed URL (its credentials become Basic auth).
    pub fn request_url(&self, method: Method, url: &Url) -> Request {
        Request {
            url: Ok(url.clone()),
            ..self.request(method, "")
        }
    }

    pub fn get(&self, url: &str) -> Request {
        self.request(Method::GET, url)
    }

    pub fn post(&self, url: &str) -> Request {
        self.request(Method::POST, url)
    }

    pub fn put(&self, url: &str) -> Request {
        self.request(Method::PUT, url)
    }

    pub fn delete(&self, url: &str) -> Request {
        self.request(Method::DELETE, url)
    }
}

/// One request being put together; nothing is sent before [`Request::send`]. Header values
/// (tokens) never appear in its Debug form or in an error.
pub struct Request {
    client: Client,
    method: Method,
    url: Result<Url, HttpError>,
    headers: Vec<(String, String)>,
    body: Result<Option<Vec<u8>>, HttpError>,
    cap: Option<Duration>,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Request({})", self.what())
    }
}

impl Request {
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn basic_auth(self, user: &str, password: &str) -> Self {
        let value = basic_authorization(user, password);
        self.header("Authorization", &value)
    }

    /// A JSON body (and its content type).
    pub fn json(mut self, body: &impl serde::Serialize) -> Self {
        self.body = serde_json::to_vec(body).map(Some).map_err(|e| {
            HttpError::Config(format!("{}: body cannot be encoded: {e}", self.what()))
        });
        self.header("Content-Type", "application/json")
    }

    /// At most this long, even when the deadline leaves more.
    pub fn timeout(mut self, cap: Duration) -> Self {
        self.cap = Some(cap);
        self
    }

    /// `METHOD <redacted URL>`, for logs and reasons.
    pub fn what(&self) -> String {
        match &self.url {
            Ok(u) => format!("{} {}", self.method, u.shown()),
            Err(_) => format!("{} <invalid URL>", self.method),
        }
    }

    /// Send it and wait for the status and headers (the body is read from the
    /// [`Response`]), within what is left of `deadline` (and the cap).
    pub fn send(self, deadline: &Deadline) -> Result<Response, HttpError> {
        let what = self.what();
        let url = self.url?;
        let body = self.body?;
        let budget = match self.cap {
            Some(cap) => deadline.budget(cap),
            None => deadline.remaining(),
        };
        if budget.is_zero() {
            return Err(HttpError::Timeout {
                what,
                detail: "the operation's time budget is spent".into(),
            });
        }
        let mut builder = ureq::http::Request::builder()
            .method(self.method)
            .uri(url.request());
        if let Some(auth) = url.authorization() {
            builder = builder.header("Authorization", auth);
        }
        for (name, value) in &self.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let agent = &self.client.agent;
        let bad = |e: ureq::http::Error| {
            // The http crate's message names no value, but scrub all the same.
            HttpError::Config(format!("{what}: {}", url.scrub(&e.to_string())))
        };
        log::debug!("{what}");
        let result = match body {
            None => {
                let req = builder.body(()).map_err(bad)?;
                let req = agent
                    .configure_request(req)
                    .timeout_global(Some(budget))
                    .build();
                agent.run(req)
            }
            Some(bytes) => {
                let req = builder.body(bytes).map_err(bad)?;
                let req = agent
                    .configure_request(req)
                    .timeout_global(Some(budget))
                    .build();
                agent.run(req)
            }
        };
        match result {
            Ok(inner) => Ok(Response {
                status: inner.status().as_u16(),
                what,
                url,
                inner,
            }),
            Err(e) => Err(transport_error(what, &url, &e)),
        }
    }
}

fn transport_error(what: String, url: &Url, e: &ureq::Error) -> HttpError {
    match e {
        ureq::Error::Timeout(t) => HttpError::Timeout {
            what,
            detail: t.to_string(),
        },
        ureq::Error::Io(io) => HttpError::Transport {
            what,
            detail: match io.kind() {
                std::io::ErrorKind::ConnectionRefused => "connection refused".into(),
                _ => url.scrub(&io.to_string()),
            },
        },
        other => HttpError::Transport {
            what,
            detail: url.scrub(&other.to_string()),
        },
    }
}

/// An answer: status and headers at once, the body when asked for (up to a limit).
pub struct Response {
    status: u16,
    what: String,
    url: Url,
    inner: ureq::http::Response<ureq::Body>,
}

impl std::fmt::Debug for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Response({} -> {})", self.what, self.status)
    }
}

impl Response {
    pub fn status(&self) -> u16 {
        self.status
    }

    /// A header's value, if present and text (e.g. `X-Subject-Token`).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.inner.headers().get(name).and_then(|v| v.to_str().ok())
    }

    pub fn headers(&self) -> &HeaderMap {
        self.inner.headers()
    }

    /// The request it answers, as `METHOD <redacted URL>`.
    pub fn what(&self) -> &str {
        &self.what
    }

    /// Up to `limit` bytes of the body.
    pub fn bytes(&mut self, limit: u64) -> Result<Vec<u8>, HttpError> {
        let mut raw = Vec::new();
        self.inner
            .body_mut()
            .as_reader()
            .take(limit)
            .read_to_end(&mut raw)
            .map_err(|e| HttpError::Body {
                what: self.what.clone(),
                status: self.status,
                detail: self.url.scrub(&e.to_string()),
            })?;
        Ok(raw)
    }

    /// Up to `limit` bytes of the body as text (invalid UTF-8 replaced).
    pub fn text(&mut self, limit: u64) -> Result<String, HttpError> {
        self.bytes(limit)
            .map(|raw| String::from_utf8_lossy(&raw).into_owned())
    }

    /// The body as JSON (up to [`JSON_LIMIT`]).
    pub fn json<T: serde::de::DeserializeOwned>(&mut self) -> Result<T, HttpError> {
        let raw = self.bytes(JSON_LIMIT)?;
        serde_json::from_slice(&raw).map_err(|e| HttpError::Json {
            what: self.what.clone(),
            status: self.status,
            detail: e.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::TcpListener;

    /// A server answering each of `answers` on one connection after another (keep-alive),
    /// returning the requests it read.
    fn serve(answers: Vec<&'static str>) -> (String, std::thread::JoinHandle<Vec<String>>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://127.0.0.1:{}", l.local_addr().unwrap().port());
        let h = std::thread::spawn(move || {
            let mut seen = Vec::new();
            let (mut s, _) = l.accept().unwrap();
            for answer in answers {
                seen.push(read_request(&mut s));
                let _ = write!(
                    s,
                    "HTTP/1.1 201 Created\r\nX-Subject-Token: tok\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{answer}",
                    answer.len()
                );
            }
            seen
        });
        (url, h)
    }

    /// One whole request: the head, then as many body bytes as it announces.
    fn read_request(s: &mut std::net::TcpStream) -> String {
        let mut raw = Vec::new();
        let mut byte = [0u8; 1];
        while !raw.ends_with(b"\r\n\r\n") && s.read(&mut byte).unwrap_or(0) == 1 {
            raw.push(byte[0]);
        }
        let head = String::from_utf8_lossy(&raw).to_ascii_lowercase();
        let len = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .and_then(|v| v.trim().parse::<usize>().ok())
            .unwrap_or(0);
        let mut body = vec![0u8; len];
        let _ = s.read_exact(&mut body);
        raw.extend(body);
        String::from_utf8_lossy(&raw).into_owned()
    }

    #[test]
    fn json_round_trip_headers_and_one_pool() {
        let (url, h) = serve(vec!["{\"a\": 1}", "{\"b\": [2]}"]);
        let client = Client::new(&TlsOptions::default(), "test").unwrap();
        let dl = Deadline::within(Duration::from_secs(5));
        let mut r = client
            .post(&format!("{url}/v3/auth/tokens"))
            .header("X-Auth-Token", "secret-token")
            .json(&serde_json::json!({"auth": {"x": true}}))
            .send(&dl)
            .unwrap();
        assert_eq!(r.status(), 201);
        assert_eq!(r.header("x-subject-token"), Some("tok"));
        let v: serde_json::Value = r.json().unwrap();
        assert_eq!(v["a"], 1);
        drop(r);
        // A clone in another thread reuses the connection (the server accepts only one).
        let c2 = client.clone();
        let url2 = url.clone();
        let v: serde_json::Value = std::thread::spawn(move || {
            c2.get(&format!("{url2}/x"))
                .send(&Deadline::within(Duration::from_secs(5)))
                .and_then(|mut r| r.json())
        })
        .join()
        .unwrap()
        .unwrap();
        assert_eq!(v["b"][0], 2);
        let seen = h.join().unwrap();
        assert!(
            seen[0].starts_with("POST /v3/auth/tokens HTTP/1.1"),
            "{seen:?}"
        );
        assert!(
            seen[0].contains("content-type: application/json"),
            "{seen:?}"
        );
        assert!(seen[0].contains("{\"auth\":{\"x\":true}}"), "{seen:?}");
        assert!(seen[0].contains("x-auth-token: secret-token"), "{seen:?}");
        assert!(seen[0].contains("user-agent: ocfbox/"), "{seen:?}");
        assert!(seen[1].starts_with("GET /x HTTP/1.1"), "{seen:?}");
    }

    #[test]
    fn spent_deadline_sends_nothing_and_errors_are_typed() {
        let client = Client::new(&TlsOptions::default(), "test").unwrap();
        let spent = Deadline::within(Duration::ZERO);
        let e = client.get("http://127.0.0.1:9/").send(&spent).unwrap_err();
        assert!(e.is_timeout() && e.ocf_code() == OcfCode::ErrGeneric, "{e}");
        let e = client
            .get("nope")
            .send(&Deadline::within(Duration::from_secs(1)))
            .unwrap_err();
        assert_eq!(e.ocf_code(), OcfCode::ErrConfigured);
        let e = Client::new(
            &TlsOptions {
                ca_file: Some("/nonexistent/ca.pem".into()),
                insecure: false,
            },
            "test",
        )
        .unwrap_err();
        assert_eq!(e.ocf_code(), OcfCode::ErrInstalled);
        assert_eq!(OcfError::from(e).code(), OcfCode::ErrInstalled);
    }
}
