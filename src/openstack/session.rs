//! One authenticated session for an action: the token (from X-Subject-Token, reused for
//! every request and re-obtained once on a 401), the catalog's endpoints, Nova's version
//! range, and one HTTP connection pool shared by every thread of the action.

use super::compute::Compute;
use super::config::AuthConfig;
use super::error::{OpenStackError, Result};
use super::image::Image;
use crate::ocf::Deadline;

/// `Send + Sync`: share it (by reference) with the workers of [`super::parallel`].
pub struct Session {
    cfg: AuthConfig,
}

impl Session {
    /// Authenticate (discovering the v3 URL of an unversioned auth_url) and pick the
    /// compute and image endpoints from the catalog.
    pub fn connect(cfg: &AuthConfig, _deadline: &Deadline) -> Result<Session> {
        let _ = Session { cfg: cfg.clone() }.cfg;
        Err(OpenStackError::Unsupported(
            "the OpenStack client is not implemented yet".into(),
        ))
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
}
