//! Glance v2: the tags and properties of exactly the images given (a host's servers' images),
//! never a first-page listing (the old agent saw only Glance's first 25 images).

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use serde_json::Value;

use super::compute::query;
use super::error::{ErrorKind, Result};
use super::parallel::parallel;
use super::session::Session;
use crate::http::Method;
use crate::ocf::Deadline;

/// Ids asked for in one `id=in:` listing (keeps URLs short).
const IDS_PER_REQUEST: usize = 40;
/// Images fetched at once when Glance cannot filter by a list of ids.
const FALLBACK_CONCURRENCY: usize = 8;

/// Glance's own image attributes; every other top-level key is a custom property.
const CORE: &[&str] = &[
    "id",
    "name",
    "status",
    "visibility",
    "protected",
    "checksum",
    "os_hash_algo",
    "os_hash_value",
    "owner",
    "size",
    "virtual_size",
    "min_ram",
    "min_disk",
    "created_at",
    "updated_at",
    "tags",
    "self",
    "file",
    "schema",
    "disk_format",
    "container_format",
    "direct_url",
    "locations",
    "os_hidden",
    "stores",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageInfo {
    pub id: String,
    pub name: Option<String>,
    pub tags: Vec<String>,
    /// Custom properties (top-level keys that are not Glance's own), values as text.
    pub properties: BTreeMap<String, String>,
}

impl ImageInfo {
    fn from_json(v: &Value) -> Option<ImageInfo> {
        let o = v.as_object()?;
        Some(ImageInfo {
            id: o.get("id")?.as_str()?.to_string(),
            name: o.get("name").and_then(Value::as_str).map(str::to_string),
            tags: o
                .get("tags")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
            properties: o
                .iter()
                .filter(|(k, _)| !CORE.contains(&k.as_str()))
                .map(|(k, v)| {
                    let t = match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    (k.clone(), t)
                })
                .collect(),
        })
    }
}

#[derive(Clone, Copy)]
pub struct Image<'s> {
    pub(crate) session: &'s Session,
}

#[derive(Deserialize)]
struct Listing {
    images: Vec<Value>,
    next: Option<String>,
}

impl<'s> Image<'s> {
    fn base(&self) -> Result<String> {
        let url = self.session.image_url()?.trim_end_matches('/');
        Ok(if url.ends_with("/v2") {
            url.to_string()
        } else {
            format!("{url}/v2")
        })
    }

    /// The images with these ids that Glance knows (a deleted one is simply absent),
    /// in id order. Asked for with `id=in:` listings; a Glance that refuses the filter
    /// (400) is asked image by image, a few at a time.
    pub fn images(&self, ids: &[String], dl: &Deadline) -> Result<Vec<ImageInfo>> {
        let wanted: BTreeSet<&String> = ids.iter().filter(|i| !i.is_empty()).collect();
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        let base = self.base()?;
        let wanted: Vec<&String> = wanted.into_iter().collect();
        let mut found: BTreeMap<String, ImageInfo> = BTreeMap::new();
        for chunk in wanted.chunks(IDS_PER_REQUEST) {
            let list = format!(
                "in:{}",
                chunk
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            );
            match self.listing(&base, &list, chunk.len(), dl) {
                Ok(images) => {
                    for i in images {
                        if chunk.iter().any(|w| **w == i.id) {
                            found.insert(i.id.clone(), i);
                        }
                    }
                }
                Err(e) if e.kind() == ErrorKind::BadRequest => {
                    return self.one_by_one(&base, &wanted, dl);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(found.into_values().collect())
    }

    fn listing(&self, base: &str, ids: &str, n: usize, dl: &Deadline) -> Result<Vec<ImageInfo>> {
        let limit = n.to_string();
        let mut out = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let url = format!(
                "{base}/images{}",
                query(&[
                    ("id", Some(ids)),
                    ("limit", Some(&limit)),
                    ("marker", marker.as_deref())
                ])
            );
            let page: Listing = self.session.get_json(&url, None, dl)?;
            let last = page
                .images
                .last()
                .and_then(|v| v.get("id"))
                .and_then(Value::as_str)
                .map(str::to_string);
            out.extend(page.images.iter().filter_map(ImageInfo::from_json));
            match (page.next, last) {
                (Some(_), Some(last)) if marker.as_deref() != Some(last.as_str()) => {
                    marker = Some(last)
                }
                _ => return Ok(out),
            }
        }
    }

    fn one_by_one(&self, base: &str, ids: &[&String], dl: &Deadline) -> Result<Vec<ImageInfo>> {
        let got = parallel(ids.to_vec(), FALLBACK_CONCURRENCY, |id| {
            let url = format!("{base}/images/{}", super::compute::path_segment(id));
            match self.session.send(Method::GET, &url, None, None, dl) {
                Ok(mut resp) => {
                    let v: Value = super::session::json_of(&mut resp)?;
                    Ok(ImageInfo::from_json(&v))
                }
                Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e),
            }
        });
        let mut out = Vec::new();
        for g in got {
            if let Some(i) = g? {
                out.push(i);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tags_and_properties() {
        let v = json!({"id": "i1", "name": "cirros", "tags": ["evacuable"], "size": 5,
            "evacuable": "true", "hw_disk_bus": "virtio", "visibility": "public"});
        let i = ImageInfo::from_json(&v).unwrap();
        assert_eq!(i.tags, vec!["evacuable"]);
        assert_eq!(i.properties.len(), 2);
        assert_eq!(i.properties["evacuable"], "true");
    }
}
