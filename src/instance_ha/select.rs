//! Which instances of a failed host to evacuate. As fence_evacuate: a server whose flavor
//! has the extra spec `evacuable=true`, or whose image has the tag `evacuable`; when nothing
//! is tagged at all, every server. Fixed: private flavors count, every image the host's
//! servers use is looked at (not the first page of Glance), a boot-from-volume server is
//! judged by its flavor alone; and, as masakari, servers can opt in with the metadata
//! `HA_Enabled=True` instead.

use std::collections::{BTreeMap, BTreeSet};

pub const TAG: &str = "evacuable";
pub const OPT_IN_KEY: &str = "HA_Enabled";

/// `true` in the loose spelling both agents accept (" True ", "TRUE").
pub fn is_true(v: &str) -> bool {
    v.trim().eq_ignore_ascii_case("true")
}

/// What is tagged in the cloud (flavors: all of them, public and private; images: those the
/// host's servers boot from).
#[derive(Debug, Default, Clone)]
pub struct Tagging {
    pub flavor_ids: BTreeSet<String>,
    /// Flavor names, for servers whose embedded flavor (microversion ≥ 2.47) has no id.
    pub flavor_names: BTreeSet<String>,
    pub image_ids: BTreeSet<String>,
}

impl Tagging {
    pub fn add_flavor(&mut self, id: &str, name: &str, extra_specs: &BTreeMap<String, String>) {
        if extra_specs.get(TAG).is_some_and(|v| is_true(v)) {
            self.flavor_ids.insert(id.to_string());
            self.flavor_names.insert(name.to_string());
        }
    }

    /// An image counts when tagged `evacuable`, or with the property `evacuable=true` (the
    /// metadata key fence_evacuate read through the old images API).
    pub fn add_image(&mut self, id: &str, tags: &[String], properties: &BTreeMap<String, String>) {
        if tags.iter().any(|t| t.trim() == TAG) || properties.get(TAG).is_some_and(|v| is_true(v)) {
            self.image_ids.insert(id.to_string());
        }
    }

    pub fn anything_tagged(&self) -> bool {
        !self.flavor_ids.is_empty() || !self.image_ids.is_empty()
    }
}

/// The facts about one server the choice depends on.
#[derive(Debug, Clone, Default)]
pub struct Candidate<'a> {
    pub flavor_id: Option<&'a str>,
    pub flavor_name: Option<&'a str>,
    /// None for boot-from-volume.
    pub image_id: Option<&'a str>,
    pub metadata: Option<&'a BTreeMap<String, String>>,
}

impl Candidate<'_> {
    fn flavor_tagged(&self, t: &Tagging) -> bool {
        match (self.flavor_id, self.flavor_name) {
            (Some(id), _) => t.flavor_ids.contains(id),
            (None, Some(name)) => t.flavor_names.contains(name),
            (None, None) => false,
        }
    }

    fn image_tagged(&self, t: &Tagging) -> bool {
        self.image_id.is_some_and(|id| t.image_ids.contains(id))
    }

    fn opted_in(&self) -> bool {
        self.metadata
            .and_then(|m| m.get(OPT_IN_KEY))
            .is_some_and(|v| is_true(v))
    }
}

/// Should this server be evacuated?
pub fn evacuable(c: &Candidate<'_>, tagging: &Tagging, opt_in_only: bool) -> bool {
    let tagged = c.flavor_tagged(tagging) || c.image_tagged(tagging);
    if opt_in_only {
        return tagged || c.opted_in();
    }
    !tagging.anything_tagged() || tagged
}

#[cfg(test)]
mod tests {
    use super::*;

    fn specs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn nothing_tagged_means_everything() {
        let t = Tagging::default();
        assert!(evacuable(&Candidate::default(), &t, false));
        assert!(!evacuable(&Candidate::default(), &t, true));
    }

    #[test]
    fn flavor_or_image_and_boot_from_volume() {
        let mut t = Tagging::default();
        t.add_flavor("f-tag", "m1.ha", &specs(&[("evacuable", " True ")]));
        t.add_flavor("f-no", "m1.small", &specs(&[("evacuable", "false")]));
        t.add_image("i-tag", &["evacuable".to_string()], &BTreeMap::new());
        t.add_image("i-prop", &[], &specs(&[("evacuable", "true")]));
        t.add_image("i-no", &["other".to_string()], &BTreeMap::new());
        let c = |f: Option<&'static str>, i: Option<&'static str>| Candidate {
            flavor_id: f,
            image_id: i,
            ..Default::default()
        };
        assert!(evacuable(&c(Some("f-tag"), Some("i-no")), &t, false));
        assert!(evacuable(&c(Some("f-no"), Some("i-tag")), &t, false));
        assert!(evacuable(&c(Some("f-no"), Some("i-prop")), &t, false));
        assert!(!evacuable(&c(Some("f-no"), Some("i-no")), &t, false));
        // boot from volume: the flavor decides
        assert!(evacuable(&c(Some("f-tag"), None), &t, false));
        assert!(!evacuable(&c(Some("f-no"), None), &t, false));
        // embedded flavor without id (≥ 2.47): by name
        let by_name = Candidate {
            flavor_name: Some("m1.ha"),
            ..Default::default()
        };
        assert!(evacuable(&by_name, &t, false));
    }

    #[test]
    fn opt_in_by_metadata() {
        let t = Tagging::default();
        let yes = specs(&[("HA_Enabled", "True")]);
        let no = specs(&[("HA_Enabled", "False")]);
        let c = |m| Candidate {
            metadata: Some(m),
            ..Default::default()
        };
        assert!(evacuable(&c(&yes), &t, true));
        assert!(!evacuable(&c(&no), &t, true));
    }
}
