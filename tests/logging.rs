//! Logging with ocf_log's semantics, seen from outside as Pacemaker sees it: the failure
//! reason is one `ocf-exit-reason:` line on stderr, log lines go where HA_LOGFILE says and
//! name the agent and the resource instance, debug lines only with HA_debug.

use crate::common;

use std::os::unix::fs::symlink;

use common::execd::{self, AgentEnv, Run};
use common::{ocfbox_bin, TempDir};

/// ganesha_mon needs no peer to refuse a malformed parameter, which makes it a good
/// subject: the refusal (validate-all; a monitor warns and goes on) is a failure with a reason.
fn run_agent(dir: &TempDir, env: &[(&str, String)]) -> Run {
    let link = dir.join("ganesha_mon");
    if !link.exists() {
        symlink(ocfbox_bin(), &link).expect("symlink");
    }
    // Only what each test sets: the log sinks are what is under test.
    let env = AgentEnv::bare().vars(env.iter().map(|(k, v)| (*k, v.as_str())));
    execd::run(&link, "validate-all", &env)
}

fn reason_lines(out: &Run) -> Vec<String> {
    out.stderr
        .lines()
        .filter(|l| l.starts_with("ocf-exit-reason:"))
        .map(str::to_string)
        .collect()
}

#[test]
fn a_failure_gives_one_reason_on_stderr_and_an_error_line_in_the_log_file() {
    let dir = TempDir::new("logging-file");
    let logfile = dir.join("agents.log");
    let out = run_agent(
        &dir,
        &[
            ("OCF_RESOURCE_INSTANCE", "nfs-mon:1".into()),
            ("OCF_RESKEY_grace_delay", "soon".into()),
            ("HA_LOGFACILITY", "none".into()),
            ("HA_LOGFILE", logfile.display().to_string()),
        ],
    );
    assert_eq!(out.code, 6, "a malformed parameter is OCF_ERR_CONFIGURED");
    let reasons = reason_lines(&out);
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert!(reasons[0].contains("grace_delay"), "{reasons:?}");
    let log = std::fs::read_to_string(&logfile).expect("the agent wrote HA_LOGFILE");
    let line = log
        .lines()
        .find(|l| l.contains("ERROR:") && l.contains("grace_delay"))
        .unwrap_or_else(|| panic!("no error line in {log:?}"));
    assert!(
        line.contains("ganesha_mon(nfs-mon:1)["),
        "tag missing: {line}"
    );
    // With a log file as the sink, stderr carries the reason and nothing else.
    let stderr = &out.stderr;
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn without_log_sinks_stderr_is_the_log_and_the_reason_is_not_doubled() {
    let dir = TempDir::new("logging-stderr");
    let out = run_agent(
        &dir,
        &[
            ("OCF_RESOURCE_INSTANCE", "nfs-mon".into()),
            ("OCF_RESKEY_grace_delay", "soon".into()),
        ],
    );
    assert_eq!(out.code, 6);
    let stderr = &out.stderr;
    let mentions = stderr.lines().filter(|l| l.contains("grace_delay")).count();
    assert_eq!(
        mentions, 1,
        "the reason once, not also as a log line: {stderr}"
    );
}

#[test]
fn debug_lines_only_with_ha_debug_and_misspelt_parameters_are_warned_about() {
    let dir = TempDir::new("logging-debug");
    let logfile = dir.join("agents.log");
    let base = vec![
        ("OCF_RESOURCE_INSTANCE", "nfs-mon".to_string()),
        ("OCF_RESKEY_grace_dealy", "3".into()),
        ("OCF_RESKEY_grace_delay", "x".into()),
        ("HA_LOGFILE", logfile.display().to_string()),
    ];
    run_agent(&dir, &base);
    let quiet = std::fs::read_to_string(&logfile).expect("log written");
    assert!(!quiet.contains("DEBUG:"), "debug without HA_debug: {quiet}");
    assert!(
        quiet.contains("WARNING:") && quiet.contains("grace_dealy"),
        "a misspelt parameter must be named: {quiet}"
    );

    std::fs::remove_file(&logfile).expect("reset log");
    let mut loud = base.clone();
    loud.push(("HA_debug", "1".into()));
    run_agent(&dir, &loud);
    let debug = std::fs::read_to_string(&logfile).expect("log written");
    assert!(
        debug.contains("DEBUG:"),
        "HA_debug=1 must enable debug lines: {debug}"
    );
}
