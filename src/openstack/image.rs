//! Glance v2: the tags and properties of exactly the images given (a host's servers' images),
//! never a first-page listing (the old agent saw only Glance's first 25 images).

use std::collections::BTreeMap;

use super::error::{OpenStackError, Result};
use super::session::Session;
use crate::ocf::Deadline;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageInfo {
    pub id: String,
    pub name: Option<String>,
    pub tags: Vec<String>,
    /// Custom properties (top-level keys that are not Glance's own), values as text.
    pub properties: BTreeMap<String, String>,
}

#[derive(Clone, Copy)]
pub struct Image<'s> {
    pub(crate) session: &'s Session,
}

impl<'s> Image<'s> {
    /// The images with these ids that Glance knows (a deleted one is simply absent).
    pub fn images(&self, _ids: &[String], _dl: &Deadline) -> Result<Vec<ImageInfo>> {
        let _ = self.session;
        Err(OpenStackError::Unsupported(
            "the OpenStack client is not implemented yet".into(),
        ))
    }
}
