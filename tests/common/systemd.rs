//! A real systemd manager for tests: `systemd --user` (Debian 12, systemd 252) in private
//! PID, mount, cgroup, UTS and (by default) network namespaces, with its API on a private
//! D-Bus bus whose socket is under the sandbox's /tmp directory.
//!
//! An agent under test runs outside the sandbox and reaches the manager by that socket
//! path: give it `agent_env()`. Unit files go to `unit_dir()`, runtime drop-ins to
//! `unit_dir()/<unit>.d/`.
//!
//! ```ignore
//! let sd = SystemdSandbox::start();
//! sd.install_unit("web.service", "[Service]\nExecStart=/bin/sleep 600\n");
//! let out = Command::new(ocfbox_bin()).envs(sd.agent_env()) ... ;
//! assert_eq!(sd.active_state("web.service"), "active");
//! ```

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::thread;
use std::time::{Duration, Instant};

use super::ns::{tail, NsProcess, NsSpec};
use super::{poll, proc, require_cmd, require_file, require_root, sandbox_script, TempDir};

#[derive(Clone, Debug, Default)]
pub struct SystemdOptions {
    /// Share the network namespace of this host PID (e.g. `cluster.node(0).host_pid()`)
    /// instead of getting a private one, so that agents run by that cluster node can
    /// reach the services' ports. Default: a private namespace with only `lo`.
    pub netns_of: Option<u32>,
    /// systemd's --log-level (default "info"); the log is `log_path()`.
    pub log_level: Option<String>,
}

pub struct SystemdSandbox {
    // field order = drop order: processes first, then the cgroup, then the files
    ns: NsProcess,
    // held for its Drop only
    _cgroup: CgroupDir,
    dir: TempDir,
}

/// Base PATH for commands run in or for the sandbox.
const PATH: &str = "/usr/sbin:/usr/bin:/sbin:/bin";

impl SystemdSandbox {
    pub fn start() -> SystemdSandbox {
        Self::start_with(SystemdOptions::default())
    }

    pub fn start_with(opts: SystemdOptions) -> SystemdSandbox {
        require_root();
        for (cmd, pkg) in [
            ("unshare", "util-linux"),
            ("nsenter", "util-linux"),
            ("setpriv", "util-linux"),
            ("systemctl", "systemd"),
            ("busctl", "systemd"),
            ("dbus-daemon", "dbus"),
            ("ip", "iproute2"),
            ("script", "bsdutils"),
        ] {
            require_cmd(cmd, pkg);
        }
        require_file("/lib/systemd/systemd", "systemd");

        let dir = TempDir::new("systemd");
        let cgroup = CgroupDir::create(dir.name());
        let private_net = opts.netns_of.is_none();
        let mut flags = vec![
            "--cgroup",
            "--mount",
            "--mount-proc",
            "--uts",
            "--propagation",
            "private",
        ];
        if private_net {
            flags.push("--net");
        }
        let ns = NsProcess::spawn(NsSpec {
            label: "systemd sandbox".into(),
            unshare_flags: &flags,
            script: sandbox_script("systemd.sh"),
            args: vec![
                dir.path().into(),
                OsString::from(if private_net { "1" } else { "0" }),
                OsString::from(opts.log_level.as_deref().unwrap_or("info")),
            ],
            log: dir.join("sandbox.log"),
            cgroup_procs: Some(cgroup.path.join("cgroup.procs")),
            netns_of: opts.netns_of,
        })
        .unwrap_or_else(|e| panic!("cannot start the systemd sandbox: {e}"));
        let mut sb = SystemdSandbox {
            ns,
            _cgroup: cgroup,
            dir,
        };
        if let Err(e) = sb.wait_ready(Duration::from_secs(30)) {
            panic!("systemd sandbox did not come up: {e}\n{}", sb.diagnostics());
        }
        sb
    }

    /// Ready = the manager owns org.freedesktop.systemd1 on the bus (asked with
    /// GetNameOwner, which never triggers bus activation).
    fn wait_ready(&mut self, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        loop {
            let out = Command::new("busctl")
                .arg(format!("--address={}", self.bus_address()))
                .args([
                    "call",
                    "org.freedesktop.DBus",
                    "/org/freedesktop/DBus",
                    "org.freedesktop.DBus",
                    "GetNameOwner",
                    "s",
                    "org.freedesktop.systemd1",
                ])
                .output()
                .map_err(|e| format!("cannot run busctl: {e}"))?;
            if out.status.success() {
                return Ok(());
            }
            if !self.ns.is_running() {
                return Err("the sandbox exited".into());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "org.freedesktop.systemd1 not on the bus after {timeout:?}: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                ));
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// The sandbox's directory (logs, HOME of the manager, runtime dir).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// XDG_RUNTIME_DIR of the manager.
    pub fn runtime_dir(&self) -> PathBuf {
        self.dir.join("xdg")
    }

    /// Where unit files go (`<runtime_dir>/systemd/user/`); drop-ins in `<unit>.d/` below.
    pub fn unit_dir(&self) -> PathBuf {
        self.runtime_dir().join("systemd/user")
    }

    /// D-Bus address of the private bus (a unix socket path under /tmp).
    pub fn bus_address(&self) -> String {
        format!("unix:path={}", self.runtime_dir().join("bus").display())
    }

    /// The manager's log and the units' stdout/stderr (their default output is the
    /// sandbox's console, which is this file).
    pub fn log_path(&self) -> PathBuf {
        self.dir.join("systemd.log")
    }

    /// Host PID of the sandbox's init: `nsenter -t` target, or `SystemdOptions::netns_of`
    /// of another sandbox that should share this network namespace.
    pub fn host_pid(&self) -> u32 {
        self.ns.init_pid()
    }

    /// What an ocfbox agent needs in its environment to drive THIS manager.
    pub fn agent_env(&self) -> Vec<(String, String)> {
        let bus = self.bus_address();
        vec![
            ("DBUS_SYSTEM_BUS_ADDRESS".into(), bus.clone()),
            ("DBUS_SESSION_BUS_ADDRESS".into(), bus),
            (
                "XDG_RUNTIME_DIR".into(),
                self.runtime_dir().display().to_string(),
            ),
            ("OCFBOX_SYSTEMD_MANAGER".into(), "user".into()),
        ]
    }

    /// A command run inside the sandbox (its PID, mount, network and UTS namespaces),
    /// with `agent_env()`; for agents whose health checks must reach the services' ports.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = self.ns.nsenter(program);
        cmd.envs(self.agent_env());
        cmd
    }

    /// `systemctl --user ARGS` against this manager. It runs inside the sandbox: systemctl
    /// says "offline" where /run/systemd/system does not exist, as on the host.
    pub fn systemctl(&self, args: &[&str]) -> Output {
        let mut cmd = self.ns.nsenter("systemctl");
        cmd.env_clear()
            .env("PATH", PATH)
            .env("LANG", "C.UTF-8")
            .env("HOME", self.dir.join("home"))
            .env("SYSTEMD_PAGER", "cat")
            .env("SYSTEMD_COLORS", "0")
            .envs(self.agent_env())
            .args(["--user", "--no-pager"])
            .args(args);
        cmd.output().expect("cannot run nsenter systemctl")
    }

    /// `systemctl --user ARGS` that must succeed; returns stdout.
    pub fn systemctl_ok(&self, args: &[&str]) -> String {
        let out = self.systemctl(args);
        assert!(
            out.status.success(),
            "systemctl --user {} failed ({}):\n{}{}\n{}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            tail(&self.log_path(), 20)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Writes a unit file and runs daemon-reload.
    pub fn install_unit(&self, name: &str, content: &str) {
        assert!(
            !name.is_empty() && !name.contains('/') && name.contains('.'),
            "bad unit name {name:?}"
        );
        let path = self.unit_dir().join(name);
        fs::write(&path, content)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        self.daemon_reload();
    }

    /// Writes `<unit_dir>/<unit>.d/<name>` (a drop-in) and runs daemon-reload.
    pub fn install_dropin(&self, unit: &str, name: &str, content: &str) {
        assert!(!unit.contains('/') && !name.contains('/'));
        let dir = self.unit_dir().join(format!("{unit}.d"));
        fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        fs::write(dir.join(name), content)
            .unwrap_or_else(|e| panic!("cannot write drop-in {name}: {e}"));
        self.daemon_reload();
    }

    pub fn daemon_reload(&self) {
        self.systemctl_ok(&["daemon-reload"]);
    }

    /// One property of a unit (`systemctl show -p NAME --value`).
    pub fn property(&self, unit: &str, name: &str) -> String {
        let prop = format!("--property={name}");
        self.systemctl_ok(&["show", &prop, "--value", "--", unit])
            .trim()
            .to_string()
    }

    /// ActiveState of a unit: active, inactive, failed, activating, ...
    pub fn active_state(&self, unit: &str) -> String {
        self.property(unit, "ActiveState")
    }

    /// Polls until the unit's ActiveState is `state` (bounded).
    pub fn wait_for_state(&self, unit: &str, state: &str, timeout: Duration) -> Result<(), String> {
        let mut last = String::new();
        poll(timeout, Duration::from_millis(20), || {
            last = self.active_state(unit);
            (last == state).then_some(())
        })
        .ok_or_else(|| {
            format!(
                "{unit}: ActiveState {last:?}, not {state:?} after {timeout:?}\n{}",
                self.diagnostics()
            )
        })
    }

    /// HOST PID of a unit's main process (systemd reports the sandbox-local PID; this
    /// translates it), so that a test can kill it. None when the unit has no main process.
    pub fn main_pid(&self, unit: &str) -> Option<u32> {
        let ns_pid: u32 = self.property(unit, "MainPID").parse().ok()?;
        if ns_pid == 0 {
            return None;
        }
        proc::ns_to_host(self.ns.init_pid(), ns_pid)
    }

    /// Every process in the sandbox (host PIDs and names).
    pub fn processes(&self) -> Vec<(proc::ProcId, String)> {
        proc::ns_processes(self.ns.init_pid())
    }

    /// SIGKILL the sandbox's init (every unit dies with it) without waiting: the first
    /// half of a power-off (`remote::RemoteNode`); Drop reaps it.
    pub fn signal_kill(&mut self) {
        self.ns.signal_kill();
    }

    pub fn diagnostics(&self) -> String {
        let status = self.systemctl(&["list-units", "--all", "--no-legend"]);
        format!(
            "--- systemctl --user list-units --all ---\n{}{}\n{}{}",
            String::from_utf8_lossy(&status.stdout),
            String::from_utf8_lossy(&status.stderr),
            tail(self.ns.log_path(), 20),
            tail(&self.log_path(), 40)
        )
    }
}

/// This sandbox's cgroup2 directory, next to the test process's own cgroup. The
/// sandbox's cgroup namespace is rooted here; it is removed (depth first) on Drop.
struct CgroupDir {
    path: PathBuf,
}

impl CgroupDir {
    fn create(name: &str) -> CgroupDir {
        let parent = own_cgroup2_dir();
        // leftovers of killed test runs (their names carry the dead owner's PID)
        super::sweep_stale(&parent, remove_cgroup_tree);
        let path = parent.join(name);
        fs::create_dir(&path)
            .unwrap_or_else(|e| panic!("cannot create cgroup {}: {e}", path.display()));
        CgroupDir { path }
    }
}

impl Drop for CgroupDir {
    fn drop(&mut self) {
        // The namespace is empty by now, but the kernel may take a moment to notice.
        let ok = poll(Duration::from_secs(5), Duration::from_millis(10), || {
            remove_cgroup_tree(&self.path).ok()
        });
        if ok.is_none() {
            eprintln!("cannot remove cgroup {}", self.path.display());
        }
    }
}

/// rmdir of every directory below `path`, deepest first (cgroupfs files go with them).
fn remove_cgroup_tree(path: &Path) -> std::io::Result<()> {
    if !path.exists() {
        return Ok(());
    }
    if let Ok(entries) = fs::read_dir(path) {
        for e in entries.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                remove_cgroup_tree(&e.path())?;
            }
        }
    }
    fs::remove_dir(path)
}

/// The cgroup2 directory of this process: the cgroup2 mount point (from mountinfo)
/// plus the `0::` path of /proc/self/cgroup.
fn own_cgroup2_dir() -> PathBuf {
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").expect("cannot read mountinfo");
    let mount = mountinfo
        .lines()
        .find_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            (right.split_whitespace().next()? == "cgroup2")
                .then(|| left.split_whitespace().nth(4).map(PathBuf::from))?
        })
        .expect("the systemd sandbox needs a cgroup2 hierarchy and none is mounted");
    let cgroup = fs::read_to_string("/proc/self/cgroup").expect("cannot read /proc/self/cgroup");
    let own = cgroup
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .expect("no cgroup2 entry in /proc/self/cgroup");
    mount.join(own.trim_start_matches('/'))
}
