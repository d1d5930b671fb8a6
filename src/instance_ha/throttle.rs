//! Blast-radius control: when many hypervisors look dead at once, the likelier story is a
//! partition or an outage of the control plane, and a mass rebuild would make it worse.

/// One nova-compute service as the throttle sees it.
#[derive(Debug, Clone)]
pub struct ComputeState<'a> {
    pub host: &'a str,
    /// Nova reports it down, or it is forced down.
    pub down: bool,
    /// An evacuation is requested for it.
    pub marked: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Go,
    /// Evacuate nothing; the reason names the hosts and counts.
    Hold(String),
}

/// Hold when more than `max_share` per cent of the compute hosts are down or marked, or
/// when no nova-scheduler is up (an evacuation could not be placed anyway).
pub fn judge(computes: &[ComputeState<'_>], schedulers_up: usize, max_share: u32) -> Verdict {
    let failed: Vec<&str> = computes
        .iter()
        .filter(|c| c.down || c.marked)
        .map(|c| c.host)
        .collect();
    let total = computes.len();
    if max_share < 100 && total > 0 && failed.len() * 100 > max_share as usize * total {
        return Verdict::Hold(format!(
            "{} of {total} nova-compute hosts are down or marked for evacuation (more than {max_share}%: {}); evacuating nothing until an operator checks for a partition or outage",
            failed.len(),
            list(&failed)
        ));
    }
    if schedulers_up == 0 {
        return Verdict::Hold(
            "no nova-scheduler is up; evacuating nothing until one is".to_string(),
        );
    }
    Verdict::Go
}

/// At most 8 names, then a count: the reason must stay readable in crm_mon.
pub fn list(names: &[&str]) -> String {
    let mut out = names.iter().take(8).copied().collect::<Vec<_>>().join(", ");
    if names.len() > 8 {
        out.push_str(&format!(" and {} more", names.len() - 8));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(n: usize, bad: usize) -> Vec<(String, bool)> {
        (0..n).map(|i| (format!("cmp{i}"), i < bad)).collect()
    }

    fn view(h: &[(String, bool)]) -> Vec<ComputeState<'_>> {
        h.iter()
            .map(|(n, bad)| ComputeState {
                host: n,
                down: *bad,
                marked: false,
            })
            .collect()
    }

    #[test]
    fn share_boundary_and_schedulers() {
        let h = hosts(4, 2);
        assert_eq!(judge(&view(&h), 1, 50), Verdict::Go);
        let h = hosts(4, 3);
        let Verdict::Hold(why) = judge(&view(&h), 1, 50) else {
            panic!("3 of 4 must hold")
        };
        assert!(why.starts_with("3 of 4 nova-compute hosts"), "{why}");
        assert!(why.contains("cmp0, cmp1, cmp2"), "{why}");
        assert_eq!(judge(&view(&h), 1, 100), Verdict::Go);
        assert!(
            matches!(judge(&view(&hosts(4, 1)), 0, 50), Verdict::Hold(w) if w.contains("nova-scheduler"))
        );
    }

    #[test]
    fn marked_counts_like_down() {
        let h = hosts(2, 0);
        let v: Vec<ComputeState<'_>> = h
            .iter()
            .map(|(n, _)| ComputeState {
                host: n,
                down: false,
                marked: true,
            })
            .collect();
        assert!(matches!(judge(&v, 1, 50), Verdict::Hold(_)));
    }

    #[test]
    fn long_lists_are_cut() {
        let names: Vec<String> = (0..10).map(|i| format!("h{i}")).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        assert!(list(&refs).ends_with("h7 and 2 more"));
    }
}
