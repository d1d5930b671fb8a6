//! One program of the binary run once in a world of its own (tests/sandbox/case.sh as PID 1
//! of fresh PID, mount, network, UTS and IPC namespaces; / an overlay whose upper layer is
//! tmpfs), and what came of it: exit status, time, output, processes left behind, files
//! written outside the scratch mounts. The hardening tests and the fuzz suite both use it.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::{ns, ocfbox_bin, require_root, TempDir};

/// Where a standard stream of the program goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sink {
    /// Captured (what Pacemaker would read).
    File,
    /// /dev/full: every write fails with ENOSPC.
    Full,
    /// Not open at all.
    Closed,
    /// A pipe whose reader has exited: every write fails with EPIPE.
    Gone,
}

impl Sink {
    fn word(self) -> &'static str {
        match self {
            Sink::File => "file",
            Sink::Full => "full",
            Sink::Closed => "closed",
            Sink::Gone => "gone",
        }
    }
}

/// How Pacemaker's tools, the system bus and 127.0.0.1:8080 behave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    /// Real tools, nothing to talk to (no cluster, no bus socket, nothing listening).
    None,
    Hang,
    HangUp,
    Garbage,
}

impl Peer {
    fn word(self) -> &'static str {
        match self {
            Peer::None => "none",
            Peer::Hang => "hang",
            Peer::HangUp => "hangup",
            Peer::Garbage => "garbage",
        }
    }
}

/// Files made in /tmp before the program runs.
pub const FIXTURES: &[&str] = &["fifo-tmp", "big-tmp", "dir-tmp"];

#[derive(Debug, Clone)]
pub struct Case {
    /// The program (its symlink's name, as Pacemaker calls it).
    pub program: String,
    pub args: Vec<OsString>,
    /// The whole environment (nothing else is inherited).
    pub env: Vec<(OsString, OsString)>,
    pub stdin: Vec<u8>,
    pub stdout: Sink,
    pub stderr: Sink,
    pub peer: Peer,
    pub fixtures: Vec<&'static str>,
    /// A shell command run (by sh, as root, inside the case) before the program.
    pub setup: String,
    /// Killed (with its process group) after this.
    pub limit: Duration,
    pub mem_bytes: u64,
}

impl Case {
    pub fn new(program: &str, args: &[&str]) -> Case {
        Case {
            program: program.to_string(),
            args: args.iter().map(OsString::from).collect(),
            env: vec![("PATH".into(), "/usr/sbin:/usr/bin:/sbin:/bin".into())],
            stdin: Vec::new(),
            stdout: Sink::File,
            stderr: Sink::File,
            peer: Peer::None,
            fixtures: Vec::new(),
            setup: String::new(),
            limit: Duration::from_secs(30),
            mem_bytes: 1 << 30,
        }
    }

    pub fn env(mut self, k: impl AsRef<OsStr>, v: impl AsRef<OsStr>) -> Case {
        self.env
            .push((k.as_ref().to_owned(), v.as_ref().to_owned()));
        self
    }

    pub fn stderr(mut self, s: Sink) -> Case {
        self.stderr = s;
        self
    }

    pub fn peer(mut self, p: Peer) -> Case {
        self.peer = p;
        self
    }

    pub fn fixture(mut self, f: &'static str) -> Case {
        self.fixtures.push(f);
        self
    }

    pub fn setup(mut self, sh: &str) -> Case {
        self.setup = sh.to_string();
        self
    }

    pub fn limit(mut self, d: Duration) -> Case {
        self.limit = d;
        self
    }

    /// A shell command line that reproduces the case by hand (for reports).
    pub fn reproducer(&self) -> String {
        let q = |s: &OsStr| {
            let mut out = String::from("$'");
            for b in s.as_bytes() {
                match b {
                    b'\'' | b'\\' => out.push_str(&format!("\\{}", *b as char)),
                    0x20..=0x7e => out.push(*b as char),
                    _ => out.push_str(&format!("\\x{b:02x}")),
                }
            }
            out.push('\'');
            out
        };
        let mut line = String::from("env -i");
        for (k, v) in &self.env {
            let mut kv = k.clone();
            kv.push("=");
            kv.push(v);
            line.push(' ');
            line.push_str(&q(&kv));
        }
        line.push_str(&format!(" ocfbox {}", self.program));
        for a in &self.args {
            line.push(' ');
            line.push_str(&q(a));
        }
        format!(
            "{line}  # stdout={} stderr={} peer={} fixtures={:?} setup={:?} stdin={}B limit={}ms",
            self.stdout.word(),
            self.stderr.word(),
            self.peer.word(),
            self.fixtures,
            self.setup,
            self.stdin.len(),
            self.limit.as_millis()
        )
    }

    /// Run it (root: namespaces and mounts). Err only when the sandbox itself failed.
    pub fn run(&self) -> Result<Outcome, String> {
        require_root();
        let dir = TempDir::new("case");
        let mut argv = Vec::new();
        let mut path_seen = false;
        for (k, v) in &self.env {
            let mut kv = k.clone();
            if k == "PATH" && self.peer != Peer::None {
                // The stand-ins come first.
                let mut p = OsString::from("/tmp/peer-bin:");
                p.push(v);
                kv.push("=");
                kv.push(p);
                path_seen = true;
            } else {
                kv.push("=");
                kv.push(v);
            }
            argv.extend_from_slice(kv.as_bytes());
            argv.push(0);
        }
        if !path_seen && self.peer != Peer::None {
            argv.extend_from_slice(b"PATH=/tmp/peer-bin:/usr/sbin:/usr/bin:/sbin:/bin\0");
        }
        argv.extend_from_slice(format!("/tmp/ocfbox-bin/{}\0", self.program).as_bytes());
        for a in &self.args {
            argv.extend_from_slice(a.as_bytes());
            argv.push(0);
        }
        let w = |name: &str, data: &[u8]| {
            std::fs::write(dir.join(name), data).map_err(|e| format!("write {name}: {e}"))
        };
        w("argv", &argv)?;
        w("stdin", &self.stdin)?;
        w("setup", self.setup.as_bytes())?;
        w(
            "spec",
            format!(
                "stdout={}\nstderr={}\npeer={}\nlimit_ms={}\nmem_bytes={}\nfixtures={}\nocfbox={}\n",
                self.stdout.word(),
                self.stderr.word(),
                self.peer.word(),
                self.limit.as_millis(),
                self.mem_bytes,
                self.fixtures.join(" "),
                case_bin().display()
            )
            .as_bytes(),
        )?;
        let mut cmd = Command::new(case_init());
        cmd.arg(dir.path())
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        // SAFETY: unshare and prctl are async-signal-safe. The process that execs
        // case-init is in the new namespaces (but for PID: its first child is PID 1), and
        // dies with the test process (PDEATHSIG; spawned from the long-lived spawner thread).
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                let flags = libc::CLONE_NEWNS
                    | libc::CLONE_NEWPID
                    | libc::CLONE_NEWNET
                    | libc::CLONE_NEWUTS
                    | libc::CLONE_NEWIPC;
                if libc::unshare(flags) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = ns::spawn_guarded(cmd).map_err(|e| format!("cannot start case-init: {e}"))?;
        let out = child
            .wait_with_output()
            .map_err(|e| format!("wait for the case: {e}"))?;
        let read = |name: &str| std::fs::read(dir.join(name)).unwrap_or_default();
        let result = String::from_utf8_lossy(&read("result")).into_owned();
        let field = |key: &str| -> Option<i64> {
            result
                .split_whitespace()
                .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
                .and_then(|v| v.parse().ok())
        };
        let (Some(rc), Some(us)) = (field("rc"), field("elapsed_us")) else {
            return Err(format!(
                "the case sandbox failed ({}): {}{}",
                out.status,
                String::from_utf8_lossy(&out.stderr),
                String::from_utf8_lossy(&read("error"))
            ));
        };
        let lines = |name: &str| -> Vec<String> {
            String::from_utf8_lossy(&read(name))
                .lines()
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect()
        };
        Ok(Outcome {
            killed: field("killed") == Some(1),
            maxrss_kb: field("maxrss_kb").unwrap_or(0) as u64,
            rc: rc as i32,
            elapsed: Duration::from_micros(us.max(0) as u64),
            stdout: read("stdout"),
            stderr: read("stderr"),
            leftovers: lines("leftovers"),
            written: lines("written"),
        })
    }
}

#[derive(Debug, Clone)]
pub struct Outcome {
    /// The program's exit code, 128+N for signal N.
    pub rc: i32,
    /// Killed (with its process group) at the case's limit.
    pub killed: bool,
    /// Peak resident memory of the program (KiB).
    pub maxrss_kb: u64,
    pub elapsed: Duration,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// "PID comm" of every process alive after the program ended.
    pub leftovers: Vec<String>,
    /// Paths written (or removed: overlay whiteouts) outside /tmp, /run, /dev.
    pub written: Vec<String>,
}

impl Outcome {
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    /// What pacemaker-execd records as the exit reason: the text after the last
    /// `ocf-exit-reason:` anywhere on stderr, to the end of its line.
    pub fn execd_reason(&self) -> Option<String> {
        let text = self.stderr_text();
        let at = text.rfind("ocf-exit-reason:")?;
        let rest = &text[at + "ocf-exit-reason:".len()..];
        Some(rest.lines().next().unwrap_or("").to_string())
    }

    /// How many times the prefix appears on stderr.
    pub fn reason_prefixes(&self) -> usize {
        self.stderr_text().matches("ocf-exit-reason:").count()
    }

    pub fn describe(&self) -> String {
        format!(
            "rc={} killed={} elapsed={}ms maxrss={}KiB stdout={}B leftovers={:?} written={:?}\nstderr: {}",
            self.rc,
            self.killed,
            self.elapsed.as_millis(),
            self.maxrss_kb,
            self.stdout.len(),
            self.leftovers,
            self.written,
            self.stderr_text().chars().take(2000).collect::<String>()
        )
    }
}

/// The binary the cases run: this test run's build, or OCFBOX_CASE_BIN (to show a test
/// failing on an older build). Not under /tmp: the cases get a /tmp of their own.
pub fn case_bin() -> std::path::PathBuf {
    std::env::var_os("OCFBOX_CASE_BIN")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(ocfbox_bin)
}

/// The case-init example next to this test binary (`cargo test` builds examples).
fn case_init() -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let path = exe
        .parent()
        .and_then(|deps| deps.parent())
        .map(|d| d.join("examples/case-init"))
        .unwrap_or_default();
    if !path.is_file() {
        panic!(
            "missing {}: build it with `cargo build --examples` (`cargo test` and `make test` do)",
            path.display()
        );
    }
    path
}

/// The program names the binary holds and their kinds, as `ocfbox list` shows them.
pub fn programs() -> Vec<(String, String)> {
    let out = Command::new(case_bin())
        .arg("list")
        .output()
        .expect("run ocfbox list");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            Some((w.next()?.to_string(), w.next()?.to_string()))
        })
        .collect()
}
