//! An HTTP(S) check: one GET, an expected status (a list such as `200,300` or a class such
//! as `2xx`), optionally a literal substring the body must contain. Redirects are not
//! followed (the status is the service's own answer) and no proxy from the environment is
//! used (the check is about this node's service). TLS: the system's trust store, or
//! `ca_file`, or no verification at all with `insecure` (logged as a warning).
//!
//! A URL may carry credentials (`https://user:secret@host/`): they are sent as Basic auth
//! (ureq does not do that by itself) but never appear in a log line or a reason.

use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;

use ureq::tls::{PemItem, RootCerts, TlsConfig};

use super::{one_line, HealthConfigError, HealthFailure};

/// The body is read up to this much for the substring match.
const BODY_LIMIT: u64 = 256 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
enum StatusRule {
    Code(u16),
    Class(u16),
}

#[derive(Debug, Clone)]
pub struct HttpCheck {
    /// As configured (credentials included): only ever compared against, to scrub texts.
    url: String,
    /// The URL requested: without the credentials, which go into `authorization`.
    request_url: String,
    authorization: Option<String>,
    shown: String,
    expect: Vec<StatusRule>,
    expect_text: String,
    body: Option<String>,
    ca_file: Option<PathBuf>,
    insecure: bool,
}

impl HttpCheck {
    pub fn new(
        url: &str,
        expect: &str,
        body: Option<&str>,
        ca_file: Option<&str>,
        insecure: bool,
    ) -> Result<Self, HealthConfigError> {
        let shown = redact_url(url);
        let uri: ureq::http::Uri = url.trim().parse().map_err(|_| {
            HealthConfigError(format!(
                "monitor_url '{}' is not a valid URL",
                printable(&shown)
            ))
        })?;
        match uri.scheme_str() {
            Some("http") | Some("https") => {}
            _ => {
                return Err(HealthConfigError(format!(
                    "monitor_url '{}' must start with http:// or https://",
                    printable(&shown)
                )))
            }
        }
        if uri.host().is_none_or(str::is_empty) {
            return Err(HealthConfigError(format!(
                "monitor_url '{}' has no host",
                printable(&shown)
            )));
        }
        let expect = parse_status_rules(expect)?;
        if let Some(ca) = ca_file {
            if !ca.starts_with('/') {
                return Err(HealthConfigError(format!(
                    "ca_file '{}' must be an absolute path",
                    printable(ca)
                )));
            }
        }
        let expect_text = expect
            .iter()
            .map(|r| match r {
                StatusRule::Code(c) => c.to_string(),
                StatusRule::Class(c) => format!("{c}xx"),
            })
            .collect::<Vec<_>>()
            .join(",");
        let (request_url, authorization) = split_credentials(url.trim());
        Ok(HttpCheck {
            url: url.trim().to_string(),
            request_url,
            authorization,
            shown,
            expect,
            expect_text,
            body: body.map(str::to_string),
            ca_file: ca_file.map(PathBuf::from),
            insecure,
        })
    }

    pub fn describe(&self) -> String {
        format!("GET {}", self.shown)
    }

    pub fn check_local_prerequisites(&self) -> Result<(), HealthFailure> {
        if let Some(ca) = &self.ca_file {
            self.load_ca(ca)?;
        }
        Ok(())
    }

    fn load_ca(&self, ca: &PathBuf) -> Result<RootCerts, HealthFailure> {
        let pem = std::fs::read(ca)
            .map_err(|e| HealthFailure(format!("cannot read ca_file {}: {e}", ca.display())))?;
        let certs: Vec<_> = ureq::tls::parse_pem(&pem)
            .filter_map(|item| match item {
                Ok(PemItem::Certificate(c)) => Some(c),
                _ => None,
            })
            .collect();
        if certs.is_empty() {
            return Err(HealthFailure(format!(
                "ca_file {} holds no PEM certificate",
                ca.display()
            )));
        }
        Ok(RootCerts::new_with_certs(&certs))
    }

    fn agent(&self, timeout: Duration) -> Result<ureq::Agent, HealthFailure> {
        let roots = match &self.ca_file {
            Some(ca) => self.load_ca(ca)?,
            None => RootCerts::PlatformVerifier,
        };
        let tls = TlsConfig::builder()
            .root_certs(roots)
            .disable_verification(self.insecure)
            .build();
        Ok(ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .max_redirects(0)
            .proxy(None)
            .user_agent(concat!(
                "ocfbox/",
                env!("CARGO_PKG_VERSION"),
                " health-check"
            ))
            .tls_config(tls)
            .build()
            .into())
    }

    pub fn run(&self, timeout: Duration) -> Result<String, HealthFailure> {
        let agent = self.agent(timeout)?;
        let shown = self.describe();
        let mut req = agent.get(&self.request_url);
        if let Some(auth) = &self.authorization {
            req = req.header("Authorization", auth);
        }
        let mut resp = req.call().map_err(|e| {
            HealthFailure(format!(
                "{shown} failed: {}",
                self.scrub(&describe_error(&e))
            ))
        })?;
        let status = resp.status().as_u16();
        let expected = self.expect.iter().any(|r| match r {
            StatusRule::Code(c) => *c == status,
            StatusRule::Class(c) => status / 100 == *c,
        });
        if !expected {
            let mut body = String::new();
            let _ = resp
                .body_mut()
                .as_reader()
                .take(4096)
                .read_to_string(&mut body);
            let said = one_line(&body, 120);
            let said = if said.is_empty() {
                String::new()
            } else {
                format!(": {said}")
            };
            return Err(HealthFailure(format!(
                "{shown} answered HTTP {status}, expected {}{said}",
                self.expect_text
            )));
        }
        if let Some(needle) = &self.body {
            let mut raw = Vec::new();
            resp.body_mut()
                .as_reader()
                .take(BODY_LIMIT)
                .read_to_end(&mut raw)
                .map_err(|e| {
                    HealthFailure(format!(
                        "{shown} answered HTTP {status} but its body could not be read: {}",
                        self.scrub(&e.to_string())
                    ))
                })?;
            let text = String::from_utf8_lossy(&raw);
            if !text.contains(needle.as_str()) {
                return Err(HealthFailure(format!(
                    "{shown} answered HTTP {status} without '{}' in the first {} KiB of its body",
                    printable(needle),
                    BODY_LIMIT / 1024
                )));
            }
        }
        Ok(format!("{shown} answered HTTP {status}"))
    }

    /// Remove the URL's credentials from a text (an error message may quote the URL).
    fn scrub(&self, text: &str) -> String {
        let mut out = text.replace(&self.url, &self.shown);
        if let Some(userinfo) = userinfo(&self.url) {
            out = out.replace(userinfo, "***");
        }
        out
    }
}

fn printable(s: &str) -> String {
    crate::ocf::params::printable(s)
}

fn parse_status_rules(text: &str) -> Result<Vec<StatusRule>, HealthConfigError> {
    let bad = || {
        HealthConfigError(format!(
            "monitor_url_status '{}' must be a list of HTTP status codes or classes, e.g. 200 or 200,300 or 2xx",
            printable(text)
        ))
    };
    let mut rules = Vec::new();
    for item in text
        .split([',', ' '])
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let lower = item.to_ascii_lowercase();
        let rule = if let Some(class) = lower.strip_suffix("xx") {
            match class.parse::<u16>() {
                Ok(c @ 1..=5) if class.len() == 1 => StatusRule::Class(c),
                _ => return Err(bad()),
            }
        } else {
            match item.parse::<u16>() {
                Ok(c @ 100..=599) => StatusRule::Code(c),
                _ => return Err(bad()),
            }
        };
        rules.push(rule);
    }
    if rules.is_empty() {
        return Err(bad());
    }
    Ok(rules)
}

/// The `user:password` part of a URL's authority, if any.
fn userinfo(url: &str) -> Option<&str> {
    let after_scheme = url.split_once("://").map(|(_, r)| r)?;
    let authority = after_scheme.split(['/', '?', '#']).next()?;
    authority.rfind('@').map(|i| &authority[..i])
}

/// The URL without its `user:password@`, and the Basic authorization header for them.
fn split_credentials(url: &str) -> (String, Option<String>) {
    let Some(info) = userinfo(url) else {
        return (url.to_string(), None);
    };
    let bare = url.replacen(&format!("{info}@"), "", 1);
    let (user, password) = info.split_once(':').unwrap_or((info, ""));
    let pair = format!("{}:{}", percent_decode(user), percent_decode(password));
    (bare, Some(format!("Basic {}", base64(pair.as_bytes()))))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> shift & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The URL for logs and reasons: credentials and the query string (tokens live there)
/// replaced by `***`.
pub fn redact_url(url: &str) -> String {
    let mut out = url.trim().to_string();
    if let Some(info) = userinfo(&out).map(str::to_string) {
        out = out.replacen(&format!("{info}@"), "***@", 1);
    }
    if let Some(q) = out.find('?') {
        out.truncate(q);
        out.push_str("?***");
    }
    out
}

fn describe_error(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Timeout(t) => format!("no answer in time ({t})"),
        ureq::Error::Io(io) => match io.kind() {
            std::io::ErrorKind::ConnectionRefused => "connection refused".into(),
            _ => io.to_string(),
        },
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::TcpListener;

    /// A one-shot HTTP server answering `status` with `body` (or never, when `hang`).
    fn serve_once(
        status: u16,
        body: &'static str,
        hang: bool,
    ) -> (String, std::thread::JoinHandle<String>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://127.0.0.1:{}/", l.local_addr().unwrap().port());
        let h = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut buf = [0u8; 4096];
            let n = s.read(&mut buf).unwrap_or(0);
            let req = String::from_utf8_lossy(&buf[..n]).into_owned();
            if hang {
                std::thread::sleep(Duration::from_secs(2));
                return req;
            }
            let _ = write!(
                s,
                "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            req
        });
        (url, h)
    }

    #[test]
    fn expected_status_and_body_pass() {
        let (url, h) = serve_once(300, "{\"versions\": []}", false);
        let c = HttpCheck::new(&url, "200,300", Some("versions"), None, false).unwrap();
        let r = c.run(Duration::from_secs(5));
        assert!(r.is_ok(), "{r:?}");
        assert!(h.join().unwrap().starts_with("GET / HTTP/1.1"));
    }

    #[test]
    fn wrong_status_missing_body_and_hang_fail_with_what_was_seen() {
        let (url, _h) = serve_once(500, "database is down", false);
        let c = HttpCheck::new(&url, "200", None, None, false).unwrap();
        let e = c.run(Duration::from_secs(5)).unwrap_err();
        assert!(
            e.0.contains("HTTP 500") && e.0.contains("database is down"),
            "{e}"
        );

        let (url, _h) = serve_once(200, "hello", false);
        let c = HttpCheck::new(&url, "2xx", Some("versions"), None, false).unwrap();
        let e = c.run(Duration::from_secs(5)).unwrap_err();
        assert!(e.0.contains("without 'versions'"), "{e}");

        let (url, _h) = serve_once(200, "", true);
        let c = HttpCheck::new(&url, "200", None, None, false).unwrap();
        let e = c.run(Duration::from_millis(300)).unwrap_err();
        assert!(e.0.contains("no answer in time"), "{e}");
    }

    #[test]
    fn credentials_are_sent_but_never_shown() {
        let (url, h) = serve_once(200, "ok", false);
        let with_creds = url.replace("http://", "http://admin:s3cret@");
        let c = HttpCheck::new(&with_creds, "200", None, None, false).unwrap();
        let ok = c.run(Duration::from_secs(5)).unwrap();
        assert!(
            !ok.contains("s3cret") && !c.describe().contains("s3cret"),
            "{ok}"
        );
        let req = h.join().unwrap();
        assert!(req.contains("Basic YWRtaW46czNjcmV0"), "{req}");
        assert!(!req.contains("s3cret"));
        // Refused connection: the error text must not leak them either.
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        let c = HttpCheck::new(
            &format!("http://u:s3cret@127.0.0.1:{port}/?token=abc"),
            "200",
            None,
            None,
            false,
        )
        .unwrap();
        let e = c.run(Duration::from_secs(2)).unwrap_err();
        assert!(!e.0.contains("s3cret") && !e.0.contains("abc"), "{e}");
    }

    #[test]
    fn configuration_is_checked() {
        assert!(HttpCheck::new("ftp://x/", "200", None, None, false).is_err());
        assert!(HttpCheck::new("not a url", "200", None, None, false).is_err());
        assert!(HttpCheck::new("http://x/", "20", None, None, false).is_err());
        assert!(HttpCheck::new("http://x/", "6xx", None, None, false).is_err());
        assert!(HttpCheck::new("http://x/", "", None, None, false).is_err());
        assert!(HttpCheck::new("http://x/", "200", None, Some("rel/ca.pem"), false).is_err());
        let c = HttpCheck::new(
            "http://x/",
            "200,3xx",
            None,
            Some("/nonexistent/ca.pem"),
            false,
        )
        .unwrap();
        assert_eq!(c.expect_text, "200,3xx");
        assert!(c.check_local_prerequisites().is_err());
    }

    #[test]
    fn basic_auth_encoding() {
        assert_eq!(base64(b"martin:secret"), "bWFydGluOnNlY3JldA==");
        assert_eq!(base64(b"a"), "YQ==");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b"abc"), "YWJj");
        let (bare, auth) = split_credentials("http://us%40r:p%3Aw@h:1/x");
        assert_eq!(bare, "http://h:1/x");
        assert_eq!(
            auth.as_deref(),
            Some(format!("Basic {}", base64(b"us@r:p:w")).as_str())
        );
        assert_eq!(split_credentials("http://h/x@y").1, None);
    }

    #[test]
    fn redaction() {
        assert_eq!(redact_url("https://a:b@h:1/p?t=x"), "https://***@h:1/p?***");
        assert_eq!(redact_url("http://h/p"), "http://h/p");
    }
}
