//! One sandbox process: `unshare --pid --fork --kill-child ...` running a script from
//! tests/sandbox/ as PID 1 of fresh namespaces.
//!
//! Ending it: SIGKILL to the namespace's init makes the kernel kill every process in the
//! PID namespace; unshare (our child) exits once init is reaped, i.e. once the namespace
//! is empty, so `wait()` on it is the proof that nothing is left. If the test process
//! itself dies, `setpriv --pdeathsig KILL` kills unshare, and `--kill-child` passes that
//! on to the namespace's init.

use std::ffi::OsString;
use std::fs::OpenOptions;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use super::proc::{self, ProcId};

type SpawnRequest = (Command, mpsc::Sender<io::Result<Child>>);

/// Spawns `cmd` from one long-lived thread. PR_SET_PDEATHSIG fires when the *thread* that
/// forked the child exits, and cargo runs each test on its own thread: spawning from the
/// test thread would tie the sandbox to that thread instead of to the test process.
pub fn spawn_guarded(cmd: Command) -> io::Result<Child> {
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<SpawnRequest>>> = OnceLock::new();
    let sender = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnRequest>();
        thread::Builder::new()
            .name("sandbox-spawner".into())
            .spawn(move || {
                for (mut cmd, reply) in rx {
                    let _ = reply.send(cmd.spawn());
                }
            })
            .expect("cannot start the sandbox spawner thread");
        Mutex::new(tx)
    });
    let (reply_tx, reply_rx) = mpsc::channel();
    sender
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .send((cmd, reply_tx))
        .map_err(|_| io::Error::other("sandbox spawner thread is gone"))?;
    reply_rx
        .recv()
        .map_err(|_| io::Error::other("sandbox spawner thread is gone"))?
}

/// How to start one sandbox process.
pub struct NsSpec<'a> {
    /// For messages: "systemd", "pacemaker node1", ...
    pub label: String,
    /// Flags for unshare(1); `--fork --pid --kill-child` are always added.
    pub unshare_flags: &'a [&'a str],
    pub script: PathBuf,
    pub args: Vec<OsString>,
    /// stdout+stderr of the script (appended, so restarts keep earlier output).
    pub log: PathBuf,
    /// Join this cgroup (its cgroup.procs file) before unsharing, so that a
    /// `--cgroup` namespace is rooted there.
    pub cgroup_procs: Option<PathBuf>,
    /// Run in the network namespace of this host PID instead of a new one.
    pub netns_of: Option<u32>,
}

pub struct NsProcess {
    label: String,
    child: Option<Child>,
    init: ProcId,
    log: PathBuf,
}

impl NsProcess {
    pub fn spawn(spec: NsSpec) -> Result<NsProcess, String> {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&spec.log)
            .map_err(|e| format!("cannot open {}: {e}", spec.log.display()))?;
        let log2 = log
            .try_clone()
            .map_err(|e| format!("cannot dup log fd: {e}"))?;
        let mut cmd = Command::new("setpriv");
        cmd.args(["--pdeathsig", "KILL", "--"]);
        if let Some(procs) = &spec.cgroup_procs {
            // `echo` is a builtin and `exec` keeps the PID: unshare is the process that joined
            cmd.args(["sh", "-c", "echo $$ >\"$0\" && exec \"$@\""]);
            cmd.arg(procs);
        }
        if let Some(pid) = spec.netns_of {
            cmd.arg("nsenter")
                .arg(format!("--net=/proc/{pid}/ns/net"))
                .arg("--");
        }
        cmd.args(["unshare", "--fork", "--pid", "--kill-child"])
            .args(spec.unshare_flags)
            .arg("--")
            .arg("bash")
            .arg(&spec.script)
            .args(&spec.args)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2);
        let mut child = spawn_guarded(cmd)
            .map_err(|e| format!("{}: cannot run setpriv/unshare: {e}", spec.label))?;

        // The namespace's init is unshare's only child (setpriv, sh and nsenter exec, they
        // never fork).
        let deadline = Instant::now() + Duration::from_secs(10);
        let init = loop {
            if let Some(init) = proc::children(child.id()).into_iter().find_map(ProcId::of) {
                break init;
            }
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!(
                    "{}: sandbox exited at once ({status})\n{}",
                    spec.label,
                    tail(&spec.log, 30)
                ));
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{}: unshare never forked", spec.label));
            }
            thread::sleep(Duration::from_millis(5));
        };
        Ok(NsProcess {
            label: spec.label,
            child: Some(child),
            init,
            log: spec.log,
        })
    }

    /// Host PID of the namespace's init (PID 1 inside): the target for `nsenter -t`.
    pub fn init_pid(&self) -> u32 {
        self.init.pid
    }

    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// `nsenter` into this sandbox's PID, mount, network and UTS namespaces; the command
    /// and everything it starts belong to the sandbox and end with it.
    pub fn nsenter(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new("nsenter");
        cmd.arg("-t")
            .arg(self.init.pid.to_string())
            .args(["-p", "-m", "-n", "-u", "--"])
            .arg(program);
        cmd
    }

    /// First half of `kill`: SIGKILL the namespace's init (the kernel then kills the rest).
    pub fn signal_kill(&mut self) {
        let Some(child) = self.child.as_mut() else {
            return;
        };
        // While unshare has not exited, it has not reaped init either, so init's PID cannot
        // have been reused: killing it by PID is safe.
        if matches!(child.try_wait(), Ok(None)) && self.init.is_alive() {
            proc::kill(self.init.pid, "KILL");
        }
    }

    /// Second half: wait until the namespace is empty. Bounded; falls back to killing
    /// unshare, whose death kills init through --kill-child.
    pub fn reap(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if !wait_timeout(&mut child, Duration::from_secs(10)) {
            eprintln!(
                "{}: namespace init {} did not die; killing unshare",
                self.label, self.init.pid
            );
            let _ = child.kill();
            let _ = child.wait();
            let deadline = Instant::now() + Duration::from_secs(10);
            while self.init.is_alive() && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(10));
            }
        }
    }

    pub fn kill(&mut self) {
        self.signal_kill();
        self.reap();
    }
}

impl Drop for NsProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

fn wait_timeout(child: &mut Child, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => return true,
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(5)),
            Ok(None) => return false,
            Err(_) => return child.wait().is_ok(),
        }
    }
}

/// The last `lines` lines of a text file, for diagnostics ("" if unreadable).
pub fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    let start = all.len().saturating_sub(lines);
    format!(
        "--- {} (last {} lines) ---\n{}\n",
        path.display(),
        all.len() - start,
        all[start..].join("\n")
    )
}
