//! The alert recorder: a shell alert agent that appends one line per node, resource and
//! attribute event to a log, and the reader of that log. It is the oracle for Pacemaker's
//! own alert delivery (and for ocfbox's alert agents).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::Cluster;

impl Cluster {
    /// Writes an alert agent to `dir` and adds it to the CIB: every node, resource and
    /// attribute event appends a line to `<dir>/alerts.log` (the returned path), read with
    /// [`alert_events`].
    pub fn install_alert_recorder(&self, dir: &Path) -> PathBuf {
        let set_mode = |p: &Path, mode: u32| {
            fs::set_permissions(p, fs::Permissions::from_mode(mode))
                .unwrap_or_else(|e| panic!("cannot chmod {}: {e}", p.display()))
        };
        let log = dir.join("alerts.log");
        fs::write(&log, "").unwrap_or_else(|e| panic!("cannot write {}: {e}", log.display()));
        // alert agents run as hacluster
        set_mode(&log, 0o666);
        let script = dir.join("record-alert.sh");
        crate::common::write_executable(
            &script,
            &format!(
                "#!/bin/sh\necho \"$CRM_alert_timestamp $CRM_alert_kind $CRM_alert_node \
                 $CRM_alert_attribute_name$CRM_alert_rsc v=$CRM_alert_attribute_value$CRM_alert_task \
                 rc=$CRM_alert_rc\" >> {}\n",
                log.display()
            ),
        );
        self.cibadmin_create(
            "configuration",
            &format!(
                r#"<alerts><alert id="recorder" path="{}">
                 <select><select_nodes/><select_resources/><select_attributes/></select>
                 <meta_attributes id="recorder-meta">
                   <nvpair id="recorder-ts" name="timestamp-format" value="%s.%06N"/>
                 </meta_attributes></alert></alerts>"#,
                script.display()
            ),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        log
    }
}

/// One line of `Cluster::install_alert_recorder`'s log:
/// `<epoch.usec> <kind> <node> <name|rsc> v=<value|task> rc=<rc>`.
#[derive(Clone, Debug)]
pub struct AlertEvent {
    /// Pacemaker's timestamp (seconds since the epoch, microseconds).
    pub t: f64,
    /// "node", "resource" or "attribute".
    pub kind: String,
    pub node: String,
    /// The attribute's name, or the resource's id.
    pub name: String,
    /// The attribute's value ("" = deleted), or the resource's task (start, stop, ...).
    pub value: String,
    pub rc: String,
}

/// Every event in the recorder's log, in timestamp order.
pub fn alert_events(log: &Path) -> Vec<AlertEvent> {
    parse_alert_log(&fs::read_to_string(log).unwrap_or_default())
}

/// The recorder's lines as events, in timestamp order; lines of another shape are skipped.
fn parse_alert_log(text: &str) -> Vec<AlertEvent> {
    let mut ev: Vec<AlertEvent> = text
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            if f.len() < 6 {
                return None;
            }
            Some(AlertEvent {
                t: f[0].parse().ok()?,
                kind: f[1].to_string(),
                node: f[2].to_string(),
                name: f[3].to_string(),
                value: f[4].strip_prefix("v=")?.to_string(),
                rc: f[5].strip_prefix("rc=")?.to_string(),
            })
        })
        .collect();
    ev.sort_by(|a, b| a.t.total_cmp(&b.t));
    ev
}

/// Polls the recorder's log until an event matches `pred`; panics with the log, naming
/// `what`, after `timeout`.
pub fn wait_alert(
    log: &Path,
    timeout: Duration,
    what: &str,
    pred: impl Fn(&AlertEvent) -> bool,
) -> AlertEvent {
    crate::common::poll(timeout, Duration::from_millis(50), || {
        alert_events(log).into_iter().find(|e| pred(e))
    })
    .unwrap_or_else(|| {
        panic!(
            "no alert for {what}:\n{}",
            fs::read_to_string(log).unwrap_or_default()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_lines_become_events_in_time_order() {
        let log = "1700000002.000002 resource node1 web v=start rc=0\n\
                   garbage\n\
                   1700000001.500000 attribute node2 grace-active v= rc=\n";
        let ev = parse_alert_log(log);
        assert_eq!(ev.len(), 2);
        assert_eq!(
            (ev[0].kind.as_str(), ev[0].name.as_str()),
            ("attribute", "grace-active")
        );
        assert_eq!(ev[0].value, "");
        assert_eq!(
            (ev[1].node.as_str(), ev[1].value.as_str(), ev[1].rc.as_str()),
            ("node1", "start", "0")
        );
    }
}
