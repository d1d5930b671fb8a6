//! A panic must never reach Pacemaker as exit 101 or a signal: it is an agent failure (1)
//! with a reason it can show. Nothing in the hook may panic again (a panic inside the hook
//! aborts, SIGABRT): it only writes with errors ignored, and exits.

/// Install the hook for this process (main calls it first).
pub fn install_hook() {
    std::panic::set_hook(Box::new(|info| {
        let what = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_string());
        let place = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        super::log::exit_reason(
            &format!("internal error in ocfbox: {what}{place}"),
            log::Level::Error,
        );
        std::process::exit(super::OcfCode::ErrGeneric.as_i32());
    }));
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    /// Set in the child process this test runs of itself: there the hook is installed and
    /// the test panics (the hook exits the process), so no command of the shipped binary
    /// exists to panic on purpose, and no test is left ignored.
    const CHILD: &str = "OCFBOX_PANIC_TEST_CHILD";
    const ME: &str = "ocf::panic::tests::a_panic_leaves_as_generic_error_with_one_reason";

    #[test]
    fn a_panic_leaves_as_generic_error_with_one_reason() {
        if std::env::var_os(CHILD).is_some() {
            super::install_hook();
            panic!("on purpose, for the test");
        }
        let exe = std::env::current_exe().expect("test binary path");
        for (prefix, expected) in [(None, "ocf-exit-reason:"), (Some("why:"), "why:")] {
            let mut cmd = Command::new(&exe);
            cmd.env(CHILD, "1")
                .args([ME, "--exact", "--nocapture", "--test-threads=1"]);
            match prefix {
                Some(p) => cmd.env("OCF_EXIT_REASON_PREFIX", p),
                None => cmd.env_remove("OCF_EXIT_REASON_PREFIX"),
            };
            // The hook's own write must not be lost to a closed or full stderr either.
            let out = cmd.output().expect("run the test binary");
            assert_eq!(out.status.code(), Some(1), "{out:?}");
            let stderr = String::from_utf8_lossy(&out.stderr);
            let reasons: Vec<&str> = stderr.lines().filter(|l| l.starts_with(expected)).collect();
            assert_eq!(reasons.len(), 1, "{stderr}");
            assert!(
                reasons[0].contains("internal error in ocfbox: on purpose"),
                "{stderr}"
            );

            let full = std::fs::OpenOptions::new().write(true).open("/dev/full");
            let full = full.expect("/dev/full");
            let status = Command::new(&exe)
                .env(CHILD, "1")
                .args([ME, "--exact", "--test-threads=1"])
                .stdout(std::process::Stdio::null())
                .stderr(full)
                .status()
                .expect("run the test binary");
            assert_eq!(
                status.code(),
                Some(1),
                "a full stderr must not turn a panic into an abort"
            );
        }
    }
}
