//! A real ganesha.nfsd (NFSv4 only) owning org.ganesha.nfsd on a private D-Bus system bus,
//! in its own PID, mount and network namespaces (tests/sandbox/ganesha.sh is PID 1).
//!
//! The bus socket lives in the sandbox directory, so the host side reaches it through
//! `bus_address()`; anything that must see ganesha's PID (ganesha_mon reads its pid file)
//! runs inside with `command()`. Dropping the sandbox SIGKILLs its init by PID: the kernel
//! ends every process in the namespace.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use super::ns::{self, NsProcess, NsSpec};
use super::{poll, require_cmd, require_file, require_root, sandbox_script, TempDir};

/// Inside the sandbox /run is private, so ganesha writes its pid file where a stock
/// install does (the agents' default search finds it).
pub const PIDFILE: &str = "/run/ganesha/ganesha.pid";

pub struct GaneshaOptions {
    pub grace_period: u32,
    pub lease_lifetime: u32,
}

impl Default for GaneshaOptions {
    fn default() -> Self {
        GaneshaOptions {
            grace_period: 10,
            lease_lifetime: 5,
        }
    }
}

pub struct GaneshaSandbox {
    // Field order = drop order: the namespace goes before its directory.
    process: NsProcess,
    dir: TempDir,
}

/// Fails the test (never skips it) when root or a package is missing.
pub fn require_ganesha() {
    require_root();
    require_cmd("ganesha.nfsd", "nfs-ganesha");
    require_file(
        "/usr/lib/x86_64-linux-gnu/ganesha/libfsalvfs.so",
        "nfs-ganesha-vfs",
    );
    require_cmd("dbus-daemon", "dbus");
    require_cmd("dbus-send", "dbus");
    require_cmd("unshare", "util-linux");
    require_cmd("nsenter", "util-linux");
    require_cmd("ip", "iproute2");
}

impl GaneshaSandbox {
    pub fn start(opts: GaneshaOptions) -> GaneshaSandbox {
        require_ganesha();
        let dir = TempDir::new("ganesha");
        let spec = NsSpec {
            label: "ganesha".to_string(),
            unshare_flags: &[
                "--mount-proc",
                "--mount",
                "--net",
                "--propagation",
                "private",
            ],
            script: sandbox_script("ganesha.sh"),
            args: vec![
                "init".into(),
                dir.path().as_os_str().to_owned(),
                opts.grace_period.to_string().into(),
                opts.lease_lifetime.to_string().into(),
            ],
            log: dir.join("sandbox.log"),
            cgroup_procs: None,
            netns_of: None,
        };
        let process = NsProcess::spawn(spec).unwrap_or_else(|e| panic!("ganesha sandbox: {e}"));
        let mut sandbox = GaneshaSandbox { process, dir };
        let ready = sandbox.dir.join("ready");
        let up = poll(Duration::from_secs(30), Duration::from_millis(20), || {
            if ready.exists() {
                return Some(true);
            }
            if !sandbox.process.is_running() {
                return Some(false);
            }
            None
        });
        if up != Some(true) {
            let log = ns::tail(&sandbox.dir.join("sandbox.log"), 40);
            let glog = ns::tail(&sandbox.dir.join("ganesha.log"), 20);
            sandbox.process.kill();
            panic!("ganesha sandbox did not come up\n{log}{glog}");
        }
        sandbox
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `unix:path=...` of the private system bus (DBUS_SYSTEM_BUS_ADDRESS for clients).
    pub fn bus_address(&self) -> String {
        format!(
            "unix:path={}",
            self.dir.join("dbus/system_bus_socket").display()
        )
    }

    /// RecoveryRoot of the fs recovery backend.
    pub fn recovery_root(&self) -> PathBuf {
        self.dir.join("recov")
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.join("ganesha.log")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// A command run inside the sandbox's namespaces, with the private bus in its environment.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut cmd = self.process.nsenter(program);
        cmd.env("DBUS_SYSTEM_BUS_ADDRESS", self.bus_address());
        cmd
    }

    /// The sandbox script's subcommand (`ganesha`, `kill-ganesha`) run inside.
    pub fn script(&self, sub: &str) -> Output {
        let out = self
            .command("bash")
            .arg(sandbox_script("ganesha.sh"))
            .arg(sub)
            .arg(self.dir.path())
            .env("GANESHA_PIDFILE", PIDFILE)
            .output()
            .unwrap_or_else(|e| panic!("cannot run ganesha.sh {sub}: {e}"));
        assert!(
            out.status.success(),
            "ganesha.sh {sub} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// SIGKILL ganesha.nfsd (a crash); the pid file stays behind, as after a real crash.
    pub fn kill_ganesha(&self) {
        self.script("kill-ganesha");
    }

    /// Start ganesha.nfsd again (same config, same bus) and wait until it answers.
    pub fn restart_ganesha(&self) {
        self.script("ganesha");
    }

    /// Seed a reclaim record for `key`, so that `grace "5:<key>"` lasts the whole
    /// Grace_Period instead of ending as soon as nobody is left to reclaim (~1 s).
    pub fn seed_reclaim(&self, key: &str, client: &str) {
        seed_reclaim(&self.recovery_root(), key, client);
    }

    /// get_grace through dbus-send: the test's own, independent view of ganesha's state.
    pub fn in_grace(&self) -> Option<bool> {
        get_grace_with_dbus_send(&self.bus_address())
    }
}

/// `RecoveryRoot/<key>/v4recov/<client>-(<len>:<id>)`, the fs backend's record format.
pub fn seed_reclaim(recovery_root: &Path, key: &str, client: &str) {
    let id = "ocfbox";
    let dir = recovery_root
        .join(key)
        .join("v4recov")
        .join(format!("{client}-({}:{id})", id.len()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot seed {}: {e}", dir.display()));
}

/// `get_grace` via dbus-send on the bus at `address`: Some(in_grace) or None when it did
/// not answer.
pub fn get_grace_with_dbus_send(address: &str) -> Option<bool> {
    let out = Command::new("dbus-send")
        .args([
            "--system",
            "--print-reply",
            "--reply-timeout=5000",
            "--dest=org.ganesha.nfsd",
            "/org/ganesha/nfsd/admin",
            "org.ganesha.nfsd.admin.get_grace",
        ])
        .env("DBUS_SYSTEM_BUS_ADDRESS", address)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    // The reply is three lines: boolean isgrace, boolean status, string message.
    let text = String::from_utf8_lossy(&out.stdout);
    let first = text.lines().find(|l| l.trim().starts_with("boolean"))?;
    Some(first.trim() == "boolean true")
}

/// A ganesha.nfsd with its own private system bus inside one node of a Pacemaker
/// [`Cluster`](super::pacemaker::Cluster): it lives in the node's PID namespace and dies
/// with the node. The node's /run is private, so the bus also answers at the stock
/// /run/dbus/system_bus_socket there (give pacemakerd `NODE_BUS_ENV`) and ganesha writes
/// its pid file where a stock install does.
pub struct NodeGanesha {
    dir: PathBuf,
    /// RecoveryRoot as the node sees it, when not `<dir>/recov`.
    recovery_root: Option<String>,
}

/// pacemakerd's (and so every agent's) bus: the same path on every node, each node's own
/// private /run behind it.
pub const NODE_BUS_ENV: (&str, &str) = (
    "DBUS_SYSTEM_BUS_ADDRESS",
    "unix:path=/run/dbus/system_bus_socket",
);

impl NodeGanesha {
    /// Starts the bus and ganesha in `node` (files in `<node dir>/ganesha`).
    pub fn start(node: &super::pacemaker::Node, grace_period: u32) -> NodeGanesha {
        Self::start_with_recovery_root(node, grace_period, None)
    }

    /// The same with ganesha's RecoveryRoot at `recovery_root` (a path inside the node).
    pub fn start_with_recovery_root(
        node: &super::pacemaker::Node,
        grace_period: u32,
        recovery_root: Option<&str>,
    ) -> NodeGanesha {
        require_ganesha();
        let g = NodeGanesha {
            dir: node.dir().join("ganesha"),
            recovery_root: recovery_root.map(str::to_string),
        };
        std::fs::create_dir_all(&g.dir).expect("ganesha dir");
        g.script(node, "bus", grace_period);
        let sock = g.dir.join("dbus/system_bus_socket");
        node.exec_ok(&[
            "sh",
            "-c",
            "mkdir -p /run/dbus && ln -sf \"$0\" /run/dbus/system_bus_socket",
            sock.to_str().expect("utf-8 path"),
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        g.script(node, "ganesha", grace_period);
        g
    }

    fn script(&self, node: &super::pacemaker::Node, sub: &str, grace_period: u32) {
        let out = node
            .command("bash")
            .arg(sandbox_script("ganesha.sh"))
            .arg(sub)
            .arg(&self.dir)
            .env("GANESHA_PIDFILE", PIDFILE)
            .env("GANESHA_GRACE_PERIOD", grace_period.to_string())
            .env(
                "GANESHA_RECOVERY_ROOT",
                self.recovery_root
                    .clone()
                    .unwrap_or_else(|| self.dir.join("recov").display().to_string()),
            )
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run ganesha.sh {sub}: {e}"));
        assert!(
            out.status.success(),
            "ganesha.sh {sub} in {} failed ({}): {}",
            node.name(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The bus as the host reaches it.
    pub fn bus_address(&self) -> String {
        format!(
            "unix:path={}",
            self.dir.join("dbus/system_bus_socket").display()
        )
    }

    pub fn kill(&self, node: &super::pacemaker::Node) {
        self.script(node, "kill-ganesha", 0);
    }

    /// Start it again with its first configuration (the config file is kept).
    pub fn restart(&self, node: &super::pacemaker::Node) {
        self.script(node, "ganesha", 0);
    }

    pub fn seed_reclaim(&self, key: &str, client: &str) {
        seed_reclaim(&self.dir.join("recov"), key, client);
    }

    pub fn in_grace(&self) -> Option<bool> {
        get_grace_with_dbus_send(&self.bus_address())
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("ganesha.log")).unwrap_or_default()
    }
}
