//! An HTTP(S) check: one GET, an expected status (a list such as `200,300` or a class such
//! as `2xx`), optionally a literal substring the body must contain. Redirects are not
//! followed (the status is the service's own answer) and no proxy from the environment is
//! used (the check is about this node's service). TLS: the system's trust store, or
//! `ca_file`, or no verification at all with `insecure` (logged as a warning).
//!
//! A URL may carry credentials (`https://user:secret@host/`): they are sent as Basic auth
//! (ureq does not do that by itself) but never appear in a log line or a reason.

use std::path::PathBuf;
use std::time::Duration;

use super::{one_line, HealthConfigError, HealthFailure};
use crate::http::{self, Client, HttpError, TlsOptions, Url};
use crate::ocf::Deadline;

/// The body is read up to this much for the substring match.
const BODY_LIMIT: u64 = 256 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
enum StatusRule {
    Code(u16),
    Class(u16),
}

#[derive(Debug, Clone)]
pub struct HttpCheck {
    url: Url,
    expect: Vec<StatusRule>,
    expect_text: String,
    body: Option<String>,
    tls: TlsOptions,
}

impl HttpCheck {
    pub fn new(
        url: &str,
        expect: &str,
        body: Option<&str>,
        ca_file: Option<&str>,
        insecure: bool,
    ) -> Result<Self, HealthConfigError> {
        let url = Url::parse("monitor_url", url).map_err(|e| HealthConfigError(e.to_string()))?;
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
        Ok(HttpCheck {
            url,
            expect,
            expect_text,
            body: body.map(str::to_string),
            tls: TlsOptions {
                ca_file: ca_file.map(PathBuf::from),
                insecure,
            },
        })
    }

    pub fn describe(&self) -> String {
        format!("GET {}", self.url.shown())
    }

    pub fn check_local_prerequisites(&self) -> Result<(), HealthFailure> {
        if let Some(ca) = &self.tls.ca_file {
            http::load_ca(ca).map_err(failure)?;
        }
        Ok(())
    }

    pub fn run(&self, timeout: Duration) -> Result<String, HealthFailure> {
        let client = Client::new(&self.tls, "health-check").map_err(failure)?;
        let shown = self.describe();
        let mut resp = client
            .request_url(http::Method::GET, &self.url)
            .send(&Deadline::within(timeout))
            .map_err(failure)?;
        let status = resp.status();
        let expected = self.expect.iter().any(|r| match r {
            StatusRule::Code(c) => *c == status,
            StatusRule::Class(c) => status / 100 == *c,
        });
        if !expected {
            // What the service said helps, but reading it must not hide the status.
            let body = resp
                .bytes(4096)
                .ok()
                .and_then(|raw| String::from_utf8(raw).ok())
                .unwrap_or_default();
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
            let text = resp.text(BODY_LIMIT).map_err(failure)?;
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
}

fn failure(e: HttpError) -> HealthFailure {
    HealthFailure(e.to_string())
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
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
}
