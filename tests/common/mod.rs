//! Test harness shared by the integration tests (`crate::common` of tests/tests.rs): real peers (a systemd
//! user manager, Pacemaker/Corosync clusters) in namespaces, the one simulated peer (`nova`:
//! Keystone + Nova + Glance, tests/nova-sim), plus small helpers.
//!
//! Every sandbox is hermetic (own mount, PID and network namespaces), parallel-safe,
//! and ends every process it started, by PID, when it is dropped (also on panic).
//! A test that lacks root or a package fails with a message saying what to install.

pub mod execd;
pub mod ganesha;
pub mod nova;
pub mod ns;
pub mod pacemaker;
pub mod proc;
pub mod remote;
pub mod systemd;

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Once;
use std::thread;
use std::time::{Duration, Instant};

/// Directory of the bash scripts that run inside the namespaces.
pub fn sandbox_script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/sandbox")
        .join(name)
}

/// The ocfbox binary cargo built for this test run.
pub fn ocfbox_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_ocfbox"))
}

/// Fails the test unless it runs as root: namespaces and mounts need it.
pub fn require_root() {
    if proc::euid() != Some(0) {
        panic!("sandbox needs root: run `make test` as root (this test must not be skipped)");
    }
}

/// Path of a command (PATH plus the sbin dirs), or a failure naming the package.
pub fn require_cmd(name: &str, package: &str) -> PathBuf {
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"])
        .filter(|d| !d.is_empty())
        .map(|d| Path::new(d).join(name))
        .find(|p| {
            p.metadata()
                .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                .unwrap_or(false)
        })
        .unwrap_or_else(|| {
            panic!("missing {name}: apt-get install {package} (`make test` installs it)")
        });
    found
}

/// A file the test needs from a package (e.g. /lib/systemd/systemd).
pub fn require_file(path: &str, package: &str) {
    if !Path::new(path).exists() {
        panic!("missing {path}: apt-get install {package} (`make test` installs it)");
    }
}

/// A command's stdout then stderr, for assertion messages and searches.
pub fn output_text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Polls `f` every `every` until it returns Some, or gives up after `timeout`.
pub fn poll<T>(timeout: Duration, every: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(every);
    }
}

/// A directory under /tmp that is removed on Drop. Its name carries the owning test
/// process's PID and start time, so that directories left by a killed test run are
/// recognised and removed by the next run (`sweep_stale`).
/// Set OCFBOX_KEEP_SANDBOX=1 to keep them (as /tmp/kept-ocfbox-*) for a post-mortem.
pub struct TempDir {
    path: PathBuf,
}

const TMP_PREFIX: &str = "ocfbox-";

impl TempDir {
    /// `label`: a short [a-z0-9-] word that says what the directory is for.
    pub fn new(label: &str) -> TempDir {
        static SWEEP: Once = Once::new();
        SWEEP.call_once(|| sweep_stale(Path::new("/tmp"), |p| fs::remove_dir_all(p)));
        static SEQ: AtomicU32 = AtomicU32::new(0);
        assert!(
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
            "bad TempDir label {label:?}"
        );
        let me = proc::ProcId::of(std::process::id()).expect("cannot read /proc/self/stat");
        let seq = SEQ.fetch_add(1, Ordering::Relaxed);
        let path = PathBuf::from(format!(
            "/tmp/{TMP_PREFIX}{label}.{}.{}.{seq}",
            me.pid, me.start
        ));
        fs::create_dir(&path).unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
        // 0755: pacemaker's daemons (user hacluster) must reach their log file in here
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|e| panic!("cannot chmod {}: {e}", path.display()));
        TempDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn join(&self, name: impl AsRef<Path>) -> PathBuf {
        self.path.join(name)
    }

    /// The unique name of this directory (also used for the sandbox's cgroup).
    pub fn name(&self) -> &str {
        self.path
            .file_name()
            .and_then(|n| n.to_str())
            .expect("TempDir names are ASCII")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::env::var_os("OCFBOX_KEEP_SANDBOX").is_some() {
            // renamed, or the next test process would sweep it as stale
            let kept = self.path.with_file_name(format!("kept-{}", self.name()));
            match fs::rename(&self.path, &kept) {
                Ok(()) => eprintln!("OCFBOX_KEEP_SANDBOX: kept {}", kept.display()),
                Err(e) => eprintln!("cannot rename {}: {e}", self.path.display()),
            }
            return;
        }
        if let Err(e) = fs::remove_dir_all(&self.path) {
            eprintln!("cannot remove {}: {e}", self.path.display());
        }
    }
}

/// True if `name` was made by `TempDir::new` in a process that no longer runs.
pub fn is_stale_name(name: &str) -> bool {
    let Some(rest) = name.strip_prefix(TMP_PREFIX) else {
        return false;
    };
    let fields: Vec<&str> = rest.rsplitn(4, '.').collect();
    let [_seq, start, pid, _label] = fields[..] else {
        return false;
    };
    let (Ok(pid), Ok(start)) = (pid.parse::<u32>(), start.parse::<u64>()) else {
        return false;
    };
    // alive with the same start time = the owner still runs (PID reuse gives another start)
    !matches!(proc::ProcId::of(pid), Some(p) if p.start == start)
}

/// Removes the leftovers of test processes that were killed before their Drop ran.
pub fn sweep_stale(dir: &Path, remove: impl Fn(&Path) -> std::io::Result<()>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if name.to_str().is_some_and(is_stale_name) {
            let _ = remove(&entry.path());
        }
    }
}

/// Builds an OCF provider directory: one symlink per `(agent name, target)`.
/// Mount it with `ClusterOptions::ocf_provider_dirs` as `/usr/lib/ocf/resource.d/<provider>`.
pub fn provider_dir(dir: &Path, links: &[(&str, &Path)]) -> PathBuf {
    fs::create_dir_all(dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    fs::set_permissions(dir, fs::Permissions::from_mode(0o755))
        .unwrap_or_else(|e| panic!("cannot chmod {}: {e}", dir.display()));
    for (name, target) in links {
        assert!(
            is_agent_name(name),
            "bad agent name {name:?} for a provider dir"
        );
        symlink(target, dir.join(name))
            .unwrap_or_else(|e| panic!("cannot link {name} -> {}: {e}", target.display()));
    }
    dir.to_path_buf()
}

/// The agents `ocfbox list` prints (first whitespace-separated field of each line); never
/// empty, so a test iterating over them cannot pass vacuously.
pub fn agent_names() -> Vec<String> {
    let agents: Vec<String> = programs()
        .into_iter()
        .filter(|(_, kind)| kind == "ocf")
        .map(|(name, _)| name)
        .collect();
    assert!(!agents.is_empty(), "`ocfbox list` printed no OCF agents");
    agents
}

/// Every program `ocfbox list` shows, with its kind (`ocf`, `fence`, `alert`).
pub fn programs() -> Vec<(String, String)> {
    let bin = ocfbox_bin();
    let out = Command::new(&bin)
        .arg("list")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {} list: {e}", bin.display()));
    assert!(
        out.status.success(),
        "`ocfbox list` failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let mut words = l.split_whitespace();
            let name = words.next().unwrap_or_default().to_string();
            let kind = words.next().unwrap_or_default().to_string();
            (name, kind)
        })
        .collect()
}

/// The provider directory for ocfbox: `<tmp>/ocfbox/<agent> -> ocfbox` for every agent
/// that `ocfbox list` prints.
/// An executable (mode 0755) at `to`, copied by a child process (`install`) so that this
/// process never has it open for writing: all tests share one multi-threaded process, and a
/// child another test thread is forking inherits, for a moment, every open descriptor;
/// executing a file someone holds open for writing fails with ETXTBSY ("Text file busy").
pub fn install_executable(from: &Path, to: &Path) {
    let out = Command::new("install")
        .args(["-m", "0755"])
        .arg(from)
        .arg(to)
        .output()
        .unwrap_or_else(|e| panic!("cannot run install: {e}"));
    assert!(
        out.status.success(),
        "install {} {}: {}",
        from.display(),
        to.display(),
        output_text(&out)
    );
}

/// A script at `to` (written aside, then [`install_executable`]).
pub fn write_executable(to: &Path, text: &str) {
    let aside = to.with_extension("source");
    fs::write(&aside, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", aside.display()));
    install_executable(&aside, to);
}

pub fn ocfbox_provider_dir(tmp: &Path) -> PathBuf {
    let bin = ocfbox_bin();
    let agents = agent_names();
    let links: Vec<(&str, &Path)> = agents.iter().map(|a| (a.as_str(), bin.as_path())).collect();
    provider_dir(&tmp.join("ocfbox"), &links)
}

fn is_agent_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}
