//! Matching a Pacemaker node name (the `evacuate` attribute's key) to a Nova service host.
//! Clusters often use short names while Nova uses FQDNs, or the reverse; a Nova with both
//! kinds at once is matched host by host (fence_compute fails every host then).

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MatchError {
    #[error("Nova has no nova-compute service for host '{0}'")]
    NotFound(String),
    #[error("host '{node}' matches several nova-compute services: {candidates}")]
    Ambiguous { node: String, candidates: String },
}

fn short(name: &str) -> &str {
    name.split('.').next().unwrap_or(name)
}

/// The Nova service host for `node` among `hosts`: the exact name; else, with `domain`,
/// `node` with that domain added or removed; else the one host whose short name is
/// `node`'s short name.
pub fn match_host<'a>(
    node: &str,
    hosts: &[&'a str],
    domain: Option<&str>,
) -> Result<&'a str, MatchError> {
    if let Some(h) = hosts.iter().find(|h| **h == node) {
        return Ok(h);
    }
    // Host names are case-insensitive (TripleO lowercases pcmk_host_list).
    let same = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
    if let Some(h) = hosts.iter().find(|h| same(h, node)) {
        return Ok(h);
    }
    if let Some(domain) = domain
        .map(|d| d.trim_matches('.'))
        .filter(|d| !d.is_empty())
    {
        let wanted = match node.strip_suffix(&format!(".{domain}")) {
            Some(s) => s.to_string(),
            None => format!("{}.{domain}", short(node)),
        };
        if let Some(h) = hosts.iter().find(|h| same(h, &wanted)) {
            return Ok(h);
        }
    }
    let found: Vec<&'a str> = hosts
        .iter()
        .copied()
        .filter(|h| same(short(h), short(node)))
        .collect();
    match found.as_slice() {
        [] => Err(MatchError::NotFound(node.to_string())),
        [one] => Ok(one),
        many => Err(MatchError::Ambiguous {
            node: node.to_string(),
            candidates: many.join(", "),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_short_fqdn_and_mixed() {
        let hosts = ["cmp1.example.com", "cmp2", "cmp3.other.org", "CMP4"];
        assert_eq!(match_host("cmp2", &hosts, None), Ok("cmp2"));
        assert_eq!(match_host("cmp1", &hosts, None), Ok("cmp1.example.com"));
        assert_eq!(
            match_host("cmp1", &hosts, Some("example.com")),
            Ok("cmp1.example.com")
        );
        assert_eq!(
            match_host("cmp2.example.com", &hosts, Some("example.com")),
            Ok("cmp2")
        );
        assert_eq!(
            match_host("cmp3", &hosts, Some("example.com")),
            Ok("cmp3.other.org")
        );
        assert_eq!(match_host("cmp4", &hosts, None), Ok("CMP4"));
        assert_eq!(
            match_host("cmp9", &hosts, None),
            Err(MatchError::NotFound("cmp9".into()))
        );
    }

    #[test]
    fn two_domains_with_one_short_name_are_ambiguous_unless_domain_says() {
        let hosts = ["cmp1.a.org", "cmp1.b.org"];
        assert!(matches!(
            match_host("cmp1", &hosts, None),
            Err(MatchError::Ambiguous { .. })
        ));
        assert_eq!(match_host("cmp1", &hosts, Some("b.org")), Ok("cmp1.b.org"));
        assert_eq!(match_host("cmp1.a.org", &hosts, None), Ok("cmp1.a.org"));
    }
}
