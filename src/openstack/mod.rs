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
    Interface, NameOrId, Scope, TlsConfig, AGENT_CREDENTIAL_SPECS, CREDENTIAL_PARAMS,
};
pub use error::{ErrorKind, OpenStackError};
pub use image::{Image, ImageInfo};
pub use microversion::Microversion;
pub use parallel::parallel;
pub use secret::Secret;
pub use session::Session;
