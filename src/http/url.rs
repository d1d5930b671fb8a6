//! A URL as configured, which may carry credentials (`https://user:secret@host/`): what is
//! requested (without them), the Basic authorization they become (ureq does not do that by
//! itself), and the form shown in logs and reasons (credentials and query replaced by `***`).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use percent_encoding::percent_decode_str;

use super::HttpError;

#[derive(Clone)]
pub struct Url {
    /// As configured (credentials included): only ever compared against, to scrub texts.
    raw: String,
    /// The URL requested: without the credentials, which go into `authorization`.
    request: String,
    authorization: Option<String>,
    shown: String,
}

/// Never the credentials, even in a debug log.
impl std::fmt::Debug for Url {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Url({})", self.shown)
    }
}

impl Url {
    /// An absolute http:// or https:// URL with a host. `what` names the parameter in the
    /// error (e.g. `monitor_url`).
    pub fn parse(what: &str, url: &str) -> Result<Url, HttpError> {
        let raw = url.trim();
        let shown = redact_url(raw);
        let uri: ureq::http::Uri = raw.parse().map_err(|_| {
            HttpError::Config(format!("{what} '{}' is not a valid URL", printable(&shown)))
        })?;
        match uri.scheme_str() {
            Some("http") | Some("https") => {}
            _ => {
                return Err(HttpError::Config(format!(
                    "{what} '{}' must start with http:// or https://",
                    printable(&shown)
                )))
            }
        }
        if uri.host().is_none_or(str::is_empty) {
            return Err(HttpError::Config(format!(
                "{what} '{}' has no host",
                printable(&shown)
            )));
        }
        let (request, authorization) = split_credentials(raw);
        Ok(Url {
            raw: raw.to_string(),
            request,
            authorization,
            shown,
        })
    }

    /// Safe for logs and reasons.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    pub(super) fn request(&self) -> &str {
        &self.request
    }

    pub(super) fn authorization(&self) -> Option<&str> {
        self.authorization.as_deref()
    }

    /// Remove the URL's credentials from a text (an error message may quote the URL).
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.replace(&self.raw, &self.shown);
        if let Some(info) = userinfo(&self.raw) {
            out = out.replace(info, "***");
        }
        out
    }
}

/// The value of an `Authorization: Basic` header.
pub fn basic_authorization(user: &str, password: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{user}:{password}")))
}

fn printable(s: &str) -> String {
    crate::ocf::params::printable(s)
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
    let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
    (
        bare,
        Some(basic_authorization(&decode(user), &decode(password))),
    )
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth_encoding() {
        assert_eq!(
            basic_authorization("martin", "secret"),
            "Basic bWFydGluOnNlY3JldA=="
        );
        assert_eq!(STANDARD.encode(b"a"), "YQ==");
        assert_eq!(STANDARD.encode(b"ab"), "YWI=");
        assert_eq!(STANDARD.encode(b"abc"), "YWJj");
        let (bare, auth) = split_credentials("http://us%40r:p%3Aw@h:1/x");
        assert_eq!(bare, "http://h:1/x");
        assert_eq!(
            auth.as_deref(),
            Some(basic_authorization("us@r", "p:w").as_str())
        );
        assert_eq!(split_credentials("http://h/x@y").1, None);
    }

    #[test]
    fn redaction() {
        assert_eq!(redact_url("https://a:b@h:1/p?t=x"), "https://***@h:1/p?***");
        assert_eq!(redact_url("http://h/p"), "http://h/p");
        let u = Url::parse("url", "http://u:s3cret@h/").unwrap();
        assert_eq!(
            u.scrub("GET http://u:s3cret@h/ and u:s3cret"),
            "GET http://***@h/ and ***"
        );
        assert!(!format!("{u:?}").contains("s3cret"));
    }

    #[test]
    fn only_absolute_http_urls() {
        assert!(Url::parse("u", "ftp://x/").is_err());
        assert!(Url::parse("u", "not a url").is_err());
        let e = Url::parse("monitor_url", "ftp://a:s3cret@x/").unwrap_err();
        assert!(
            e.to_string().starts_with("monitor_url 'ftp://***@x/'"),
            "{e}"
        );
    }
}
