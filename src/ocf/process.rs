//! Running a helper program (crm_node, attrd_updater, a health-check command) without a
//! shell, with a time limit, in its own process group so a timeout ends it and whatever it
//! started. The caller decides what the answer means; this module only reports it.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use super::code::OcfCode;

/// Output beyond this is dropped: a chatty child must not exhaust the agent's memory.
const OUTPUT_CAP: usize = 1 << 20;

#[derive(Debug)]
pub struct ProcessOutput {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl ProcessOutput {
    pub fn success(&self) -> bool {
        self.status.success()
    }

    /// A short description of how the program ended, for reasons and logs.
    pub fn describe_status(&self) -> String {
        use std::os::unix::process::ExitStatusExt;
        match (self.status.code(), self.status.signal()) {
            (Some(c), _) => format!("exit status {c}"),
            (None, Some(s)) => format!("signal {s}"),
            _ => "unknown status".to_string(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error("{program} is not installed or not executable: {source}")]
    NotFound {
        program: String,
        source: std::io::Error,
    },
    #[error("cannot run {program}: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    #[error("{program} did not finish within {} ms and was killed", .after.as_millis())]
    TimedOut { program: String, after: Duration },
    #[error("empty command line")]
    Empty,
}

impl ProcessError {
    pub fn ocf_code(&self) -> OcfCode {
        match self {
            ProcessError::NotFound { .. } => OcfCode::ErrInstalled,
            ProcessError::Empty => OcfCode::ErrConfigured,
            ProcessError::Spawn { .. } | ProcessError::TimedOut { .. } => OcfCode::ErrGeneric,
        }
    }
}

/// Instance parameters that hold secrets: never passed on to a child's environment.
pub const SECRET_PARAMS: &[&str] = &["password", "passwd", "application_credential_secret"];

/// What to run: argv (no shell), extra environment, variables to remove.
pub struct Invocation<'a> {
    pub argv: &'a [String],
    pub env: &'a [(String, String)],
    pub env_remove: &'a [&'a str],
}

impl<'a> Invocation<'a> {
    pub fn new(argv: &'a [String]) -> Self {
        Invocation {
            argv,
            env: &[],
            env_remove: &[],
        }
    }
}

pub fn run(argv: &[String], timeout: Duration) -> Result<ProcessOutput, ProcessError> {
    run_invocation(&Invocation::new(argv), timeout)
}

pub fn run_invocation(
    inv: &Invocation<'_>,
    timeout: Duration,
) -> Result<ProcessOutput, ProcessError> {
    let (program, args) = inv.argv.split_first().ok_or(ProcessError::Empty)?;
    let mut command = Command::new(program);
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    // pacemaker-execd hands an agent its secrets as OCF_RESKEY_*; no child inherits them
    for key in SECRET_PARAMS {
        command.env_remove(format!("OCF_RESKEY_{key}"));
    }
    for key in inv.env_remove {
        command.env_remove(key);
    }
    for (k, v) in inv.env {
        command.env(k, v);
    }
    let started = Instant::now();
    let mut child = command.spawn().map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound
            || source.kind() == std::io::ErrorKind::PermissionDenied
        {
            ProcessError::NotFound {
                program: program.clone(),
                source,
            }
        } else {
            ProcessError::Spawn {
                program: program.clone(),
                source,
            }
        }
    })?;
    let pid = child.id() as i32;
    let stdout = child.stdout.take().map(spawn_reader);
    let stderr = child.stderr.take().map(spawn_reader);

    let (done_tx, done_rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = done_tx.send(child.wait());
    });
    let status = match done_rx.recv_timeout(timeout) {
        Ok(Ok(status)) => status,
        Ok(Err(source)) => {
            return Err(ProcessError::Spawn {
                program: program.clone(),
                source,
            })
        }
        Err(_) => {
            kill_group(pid);
            // Reap it so no zombie outlives the action.
            let _ = done_rx.recv_timeout(Duration::from_secs(1));
            return Err(ProcessError::TimedOut {
                program: program.clone(),
                after: timeout,
            });
        }
    };
    // The group may still hold the pipes open (a daemonised grandchild): end it too.
    kill_group(pid);
    let collect = |rx: Option<mpsc::Receiver<Vec<u8>>>| {
        rx.and_then(|rx| rx.recv_timeout(Duration::from_millis(500)).ok())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    };
    Ok(ProcessOutput {
        status,
        stdout: collect(stdout),
        stderr: collect(stderr),
        elapsed: started.elapsed(),
    })
}

fn spawn_reader<R: Read + Send + 'static>(mut pipe: R) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut kept = Vec::new();
        let mut chunk = [0u8; 8192];
        loop {
            match pipe.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let room = OUTPUT_CAP.saturating_sub(kept.len());
                    kept.extend_from_slice(&chunk[..n.min(room)]);
                }
            }
        }
        let _ = tx.send(kept);
    });
    rx
}

fn kill_group(pgid: i32) {
    use nix::sys::signal::{killpg, Signal};
    use nix::unistd::Pid;
    // ESRCH (already gone) is the normal case after a clean exit.
    let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn captures_output_and_status() {
        let out = run(
            &argv(&["sh", "-c", "echo out; echo err >&2; exit 3"]),
            Duration::from_secs(5),
        )
        .expect("sh runs");
        assert_eq!(out.stdout, "out\n");
        assert_eq!(out.stderr, "err\n");
        assert_eq!(out.status.code(), Some(3));
    }

    #[test]
    fn timeout_kills_the_whole_group() {
        let dir = std::env::temp_dir().join(format!("ocfbox-proc-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pidfile = dir.join("grandchild.pid");
        let script = format!("sleep 30 & echo $! > {}; wait", pidfile.display());
        let err = run(&argv(&["sh", "-c", &script]), Duration::from_millis(300)).unwrap_err();
        assert!(matches!(err, ProcessError::TimedOut { .. }));
        let pid: i32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        // The grandchild got SIGKILL with its group; give the kernel a moment to reap it.
        let mut alive = true;
        for _ in 0..50 {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            alive = !stat.is_empty() && !stat.contains(") Z ");
            if !alive {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        std::fs::remove_dir_all(&dir).ok();
        assert!(!alive, "grandchild {pid} survived the timeout");
    }

    #[test]
    fn missing_program_is_not_installed() {
        let err = run(
            &argv(&["/nonexistent/ocfbox-helper"]),
            Duration::from_secs(1),
        )
        .unwrap_err();
        assert_eq!(err.ocf_code(), OcfCode::ErrInstalled);
    }

    #[test]
    fn environment_can_be_scrubbed() {
        let a = argv(&["sh", "-c", "echo ${SECRET_X:-unset}"]);
        std::env::set_var("SECRET_X", "leak");
        let inv = Invocation {
            argv: &a,
            env: &[],
            env_remove: &["SECRET_X"],
        };
        let out = run_invocation(&inv, Duration::from_secs(5)).unwrap();
        assert_eq!(out.stdout.trim(), "unset");
    }
}
