//! The OpenStack peer: Keystone v3 (auth and catalog), Nova (compute) and Glance (image),
//! one small module per concern, blocking HTTP from `crate::http`, behind one typed error
//! ([`OpenStackError`]) that says which request failed and maps to an OCF code in one place.
//!
//! ```text
//! let cfg = AuthConfig::from_params(&CredentialParams::from_ocf(&params, SPECS)?)?;
//! let session = Session::connect(&cfg, &deadline)?;          // one token for the action
//! let nova = session.compute();
//! let svc = nova.services(Some("nova-compute"), Some("cmp1"), &deadline)?;
//! nova.force_down_and_disable(&svc[0], "ocfbox evacuation requested 1700000000", &deadline)?;
//! let servers = nova.servers_on_host("cmp1", &deadline)?;    // all tenants, all pages
//! let results = parallel(servers, 8, |s| nova.evacuate(&s.id, &EvacuateRequest::default(), &deadline));
//! ```

pub mod compute;
pub mod config;
pub mod error;
pub mod image;
pub mod keystone;
pub mod microversion;
pub mod parallel;
pub mod secret;
pub mod session;

pub use compute::{
    Compute, EvacuateRequest, Flavor, FlavorRef, Migration, MigrationFilter, ResetState, Server,
    Service, ServiceState, ServiceStatus,
};
pub use config::{
    AppCredentialRef, AuthConfig, AuthMethod, ConfigSources, CredentialParams, DomainRef,
    Interface, NameOrId, Scope, TlsConfig, CREDENTIAL_PARAMS,
};
pub use error::{ErrorKind, OpenStackError};
pub use image::{Image, ImageInfo};
pub use microversion::Microversion;
pub use parallel::parallel;
pub use secret::Secret;
pub use session::Session;

/// A URL fit for a message: no userinfo, no query (neither belongs in a log line).
pub(crate) fn redact_url(url: &str) -> String {
    let no_query = url.split(['?', '#']).next().unwrap_or("");
    match no_query.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = match rest.find('/') {
                Some(i) => rest.split_at(i),
                None => (rest, ""),
            };
            let host = authority.rsplit('@').next().unwrap_or(authority);
            format!("{scheme}://{host}{path}")
        }
        None => no_query.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_credentials_and_query() {
        assert_eq!(
            redact_url("https://u:pw@keystone:5000/v3/auth?nocatalog"),
            "https://keystone:5000/v3/auth"
        );
        assert_eq!(redact_url("http://h"), "http://h");
    }
}
