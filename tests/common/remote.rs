//! pacemaker_remote nodes for tests, joined to a `Cluster` through `ocf:pacemaker:remote`,
//! and a power switch that fences them.
//!
//! A remote node is a sandbox process (tests/sandbox/pcmk-remote.sh) with its own PID,
//! mount, network, UTS and IPC namespaces (libqb's sockets are per network namespace, so
//! the node's CLI tools reach its own pacemaker-remoted, which proxies them to the
//! cluster), running Debian's `pacemaker-remoted` unpacked by tools/install-deps.sh (the
//! package conflicts with pacemaker: never installed). Its network: a veth pair with a
//! fixed MAC, to node1 (single-node cluster, 10.78.K.2/24) or into the cluster's switch
//! (10.77.0.(100+K)/24). It has its own `SystemdSandbox`, whose bus the agents get in
//! their environment; the node's "disk" (`RemoteOptions::units`) is installed at every
//! boot, its runtime (running units) is lost at every power-off.
//!
//! ```ignore
//! let c = Cluster::start(ClusterOptions { ocf_provider_dirs: .., ..Default::default() });
//! let r = RemoteNode::start(&c, RemoteOptions::new("compute-0"));
//! let fence = PowerFence::start(&c, &[&r]);        // stonith-enabled=true, device "power"
//! let t0 = r.crash();                               // or let Pacemaker fence it
//! let ev = fence.wait(r.name(), "reboot", t0, Duration::from_secs(30));
//! eprintln!("fenced at +{} ms", ms_after(t0, ev.done));
//! let took = r.rejoin(&c, Duration::from_secs(60))?;
//! ```

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::ns::{tail, NsProcess, NsSpec};
use super::pacemaker::config::daemon_env;
use super::pacemaker::{check, exec_with, run_ok, Cluster};
use super::systemd::SystemdSandbox;
use super::{poll, require_root, sandbox_script, TempDir};

/// Where tools/install-deps.sh unpacks pacemaker-remote (per version of pacemaker).
const REMOTE_CACHE: &str = "/var/cache/ocfbox-tests/pacemaker-remote";

#[derive(Clone, Debug)]
pub struct RemoteOptions {
    /// Node name = id of the `ocf:pacemaker:remote` connection resource = host name.
    pub name: String,
    /// Added to pacemaker-remoted's clean environment (agents inherit it), after the
    /// systemd sandbox's `agent_env()`.
    pub env: Vec<(String, String)>,
    /// As `ClusterOptions::ocf_provider_dirs`.
    pub ocf_provider_dirs: Vec<(String, PathBuf)>,
    /// The connection resource's reconnect_interval (how soon Pacemaker tries again
    /// after the connection failed).
    pub reconnect_interval: Duration,
    /// Interval of the connection resource's monitor.
    pub monitor_interval: Duration,
    /// `(unit name, content)` written to the node's systemd sandbox at every boot.
    pub units: Vec<(String, String)>,
    /// How long `start` / `rejoin` wait for the node to be online.
    pub online_timeout: Duration,
}

impl RemoteOptions {
    pub fn new(name: &str) -> RemoteOptions {
        RemoteOptions {
            name: name.to_string(),
            env: Vec::new(),
            ocf_provider_dirs: Vec::new(),
            reconnect_interval: Duration::from_secs(2),
            monitor_interval: Duration::from_secs(5),
            units: Vec::new(),
            online_timeout: Duration::from_secs(60),
        }
    }
}

/// What is powered on: the node's namespace and its systemd.
struct Power {
    ns: Option<NsProcess>,
    sd: Option<SystemdSandbox>,
    generation: u32,
    killed_at: Option<Instant>,
}

impl Power {
    /// Power off: SIGKILL the node (pacemaker-remoted and every agent), then its systemd
    /// (every unit). Returns when both namespaces are empty.
    fn off(&mut self) -> Option<Instant> {
        let (at, sd) = self.off_deferred();
        drop(sd);
        at
    }

    /// `off`, but the systemd sandbox (already SIGKILLed) is handed back to be reaped
    /// later: its cgroup takes a moment to go, and the power switch answers first.
    fn off_deferred(&mut self) -> (Option<Instant>, Option<SystemdSandbox>) {
        let Some(mut ns) = self.ns.take() else {
            return (None, self.sd.take());
        };
        ns.signal_kill();
        let at = Instant::now();
        self.killed_at = Some(at);
        if let Some(sd) = self.sd.as_mut() {
            sd.signal_kill();
        }
        ns.reap();
        (Some(at), self.sd.take())
    }
}

enum Link {
    /// veth to node1 of a single-node cluster: (node1's host PID)
    Node(u32),
    /// veth into the cluster's switch: (switch host PID)
    Switch(u32),
}

pub struct RemoteNode {
    name: String,
    k: u32,
    link: Link,
    opts: RemoteOptions,
    remoted: PathBuf,
    authkey: PathBuf,
    power: Arc<Mutex<Power>>,
    dir: TempDir,
}

impl RemoteNode {
    /// Boots the node, adds its connection resource to the CIB and waits until it is
    /// online; panics with diagnostics otherwise.
    pub fn start(cluster: &Cluster, opts: RemoteOptions) -> RemoteNode {
        Self::try_start(cluster, opts).unwrap_or_else(|e| panic!("{e}"))
    }

    pub fn try_start(cluster: &Cluster, opts: RemoteOptions) -> Result<RemoteNode, String> {
        require_root();
        let remoted = remoted_path()?;
        assert!(
            !opts.name.is_empty()
                && opts
                    .name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-'),
            "bad remote node name {:?}",
            opts.name
        );
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let k = SEQ.fetch_add(1, Ordering::Relaxed) % 99 + 1;
        let link = match cluster.switch_pid() {
            Some(sw) => Link::Switch(sw),
            None => Link::Node(
                cluster
                    .node(0)
                    .host_pid()
                    .ok_or("node1 is not running: nowhere to connect a remote node")?,
            ),
        };
        let dir = TempDir::new("pcmk-remote");
        let node = RemoteNode {
            name: opts.name.clone(),
            k,
            link,
            remoted,
            authkey: cluster.authkey_path(),
            power: Arc::new(Mutex::new(Power {
                ns: None,
                sd: None,
                generation: 0,
                killed_at: None,
            })),
            opts,
            dir,
        };
        node.boot()?;
        let o = &node.opts;
        let id = &node.name;
        cluster.cibadmin_create(
            "resources",
            &format!(
                r#"<primitive id="{id}" class="ocf" provider="pacemaker" type="remote">
                  <instance_attributes id="{id}-ia">
                    <nvpair id="{id}-server" name="server" value="{addr}"/>
                    <nvpair id="{id}-reconnect" name="reconnect_interval" value="{ri}ms"/>
                  </instance_attributes>
                  <operations>
                    <op id="{id}-monitor" name="monitor" interval="{mi}ms" timeout="20s"/>
                  </operations>
                </primitive>"#,
                addr = node.addr(),
                ri = o.reconnect_interval.as_millis(),
                mi = o.monitor_interval.as_millis(),
            ),
        )?;
        node.wait_online(cluster, node.opts.online_timeout)?;
        Ok(node)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The node's address, as the connection resource's `server`.
    pub fn addr(&self) -> String {
        match self.link {
            Link::Node(_) => format!("10.78.{}.2", self.k),
            Link::Switch(_) => format!("10.77.0.{}", 100 + self.k),
        }
    }

    /// The node's directory (remoted's log, agents' logs).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// pacemaker-remoted's log (PCMK_logfile).
    pub fn log_path(&self) -> PathBuf {
        self.dir.join("pacemaker.log")
    }

    fn lock(&self) -> MutexGuard<'_, Power> {
        self.power.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Host PID of the node's namespace init; None while powered off.
    pub fn host_pid(&self) -> Option<u32> {
        self.lock().ns.as_ref().map(NsProcess::init_pid)
    }

    pub fn is_running(&self) -> bool {
        self.lock().ns.as_mut().is_some_and(NsProcess::is_running)
    }

    /// When the node was last powered off (by `crash` or the power switch).
    pub fn killed_at(&self) -> Option<Instant> {
        self.lock().killed_at
    }

    /// How many times the node booted.
    pub fn generation(&self) -> u32 {
        self.lock().generation
    }

    /// Runs `f` with the node's systemd sandbox (panics while the node is off).
    pub fn systemd<R>(&self, f: impl FnOnce(&SystemdSandbox) -> R) -> R {
        let p = self.lock();
        let sd =
            p.sd.as_ref()
                .unwrap_or_else(|| panic!("{} is powered off", self.name));
        f(sd)
    }

    /// A command run inside the node (PID, mount, network, UTS, IPC namespaces) with the
    /// node's systemd in its environment. Panics while the node is off.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let p = self.lock();
        let ns =
            p.ns.as_ref()
                .unwrap_or_else(|| panic!("{} is powered off", self.name));
        let mut cmd = Command::new("nsenter");
        cmd.arg("-t")
            .arg(ns.init_pid().to_string())
            .args(["-p", "-m", "-n", "-u", "-i", "--"])
            .arg(program)
            .env("HOME", self.dir.join("home"));
        if let Some(sd) = p.sd.as_ref() {
            cmd.envs(sd.agent_env());
        }
        cmd
    }

    pub fn exec<S: AsRef<OsStr>>(&self, argv: &[S]) -> Output {
        exec_with(argv, |program| self.command(program))
    }

    pub fn exec_ok<S: AsRef<OsStr>>(&self, argv: &[S]) -> Result<String, String> {
        check(argv, self.exec(argv)).map_err(|e| format!("{}: {e}", self.name))
    }

    /// Power off without asking anyone (a crash): returns the moment of the kill, the
    /// zero of a timeline (`ms_after`).
    pub fn crash(&self) -> Instant {
        self.lock().off().unwrap_or_else(Instant::now)
    }

    /// Powers the node on again (fresh runtime, same disk) and waits until Pacemaker has
    /// it online again; returns how long that took from the power-on.
    pub fn rejoin(&self, cluster: &Cluster, timeout: Duration) -> Result<Duration, String> {
        self.lock().off();
        let t = Instant::now();
        self.boot()?;
        self.wait_online(cluster, timeout)?;
        Ok(t.elapsed())
    }

    /// Online = the connection resource is started, crm_mon lists the node online, and
    /// the node's own tools reach the cluster through its pacemaker-remoted.
    pub fn wait_online(&self, cluster: &Cluster, timeout: Duration) -> Result<(), String> {
        let mut last = String::new();
        let ok = poll(timeout, Duration::from_millis(100), || {
            let xml = match cluster.crm_mon_xml() {
                Ok(x) => x,
                Err(e) => {
                    last = e;
                    return None;
                }
            };
            match remote_online(&xml, &self.name) {
                Ok(true) => {}
                Ok(false) => {
                    last = "not online in crm_mon".into();
                    return None;
                }
                Err(e) => {
                    last = e;
                    return None;
                }
            }
            match self.exec_ok(&["cibadmin", "-Q", "--scope", "nodes"]) {
                Ok(_) => Some(()),
                Err(e) => {
                    last = e;
                    None
                }
            }
        });
        ok.ok_or_else(|| {
            format!(
                "remote node {} not online after {timeout:?}: {last}\n{}\n{}{}",
                self.name,
                cluster.diagnostics(),
                tail(&self.dir.join("script.log"), 10),
                tail(&self.log_path(), 40)
            )
        })
    }

    fn boot(&self) -> Result<(), String> {
        let mut p = self.lock();
        if p.ns.is_some() {
            return Ok(());
        }
        let sd = SystemdSandbox::start();
        for (name, content) in &self.opts.units {
            let path = sd.unit_dir().join(name);
            fs::write(&path, content)
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        }
        if !self.opts.units.is_empty() {
            sd.daemon_reload();
        }
        let mut extra = vec![(
            "PCMK_authkey_location".to_string(),
            self.authkey.display().to_string(),
        )];
        extra.extend(sd.agent_env());
        extra.extend(self.opts.env.iter().cloned());
        let env_file = daemon_env(&self.log_path(), &extra);
        let w = |name: &str, content: &[u8]| {
            let path = self.dir.join(name);
            fs::write(&path, content).map_err(|e| format!("cannot write {}: {e}", path.display()))
        };
        w("remoted.env", &env_file)?;
        let mut providers = String::new();
        for (provider, dir) in &self.opts.ocf_provider_dirs {
            let dir = dir
                .canonicalize()
                .map_err(|e| format!("provider dir {}: {e}", dir.display()))?;
            providers.push_str(&format!("{provider}\t{}\n", dir.display()));
        }
        w("providers", providers.as_bytes())?;

        let (addr, via) = match self.link {
            Link::Node(_) => (
                format!("10.78.{}.2/24", self.k),
                Some(format!("10.78.{}.1", self.k)),
            ),
            Link::Switch(_) => (format!("10.77.0.{}/24", 100 + self.k), None),
        };
        let mut args = vec![
            self.dir.path().into(),
            self.name.clone().into(),
            addr.into(),
            self.remoted.clone().into_os_string(),
        ];
        if let Some(v) = &via {
            args.push(v.into());
        }
        let ns = NsProcess::spawn(NsSpec {
            label: format!("pacemaker_remote {}", self.name),
            unshare_flags: &[
                "--mount",
                "--mount-proc",
                "--net",
                "--uts",
                "--ipc",
                "--propagation",
                "private",
            ],
            script: sandbox_script("pcmk-remote.sh"),
            args,
            log: self.dir.join("script.log"),
            cgroup_procs: None,
            netns_of: None,
        })?;
        p.generation += 1;
        // a new name per boot: the kernel removes the old pair asynchronously after a kill.
        // A fixed MAC: the cluster's neighbour cache stays right across reboots.
        let port = format!("rm{}g{}", self.k, p.generation);
        let mac = format!("02:7e:00:00:{:02x}:02", self.k);
        let remote_pid = ns.init_pid().to_string();
        match self.link {
            Link::Node(node_pid) => {
                let netns = format!("--net=/proc/{node_pid}/ns/net");
                let in_node = |args: &[&str]| {
                    run_ok(Command::new("nsenter").arg(&netns).arg("--").args(args))
                };
                in_node(&[
                    "ip",
                    "link",
                    "add",
                    &port,
                    "type",
                    "veth",
                    "peer",
                    "name",
                    "eth0",
                    "address",
                    &mac,
                    "netns",
                    &remote_pid,
                ])?;
                let gw = format!("10.78.{}.1/24", self.k);
                in_node(&["ip", "addr", "add", &gw, "dev", &port])?;
                in_node(&["ip", "link", "set", &port, "up"])?;
            }
            Link::Switch(sw) => {
                run_ok(Command::new("ip").args([
                    "link",
                    "add",
                    &port,
                    "netns",
                    &sw.to_string(),
                    "type",
                    "veth",
                    "peer",
                    "name",
                    "eth0",
                    "address",
                    &mac,
                    "netns",
                    &remote_pid,
                ]))?;
                run_ok(
                    Command::new("nsenter")
                        .arg(format!("--net=/proc/{sw}/ns/net"))
                        .args(["--", "ip", "link", "set", &port, "master", "br0", "up"]),
                )?;
            }
        }
        p.ns = Some(ns);
        p.sd = Some(sd);
        Ok(())
    }
}

impl Drop for RemoteNode {
    fn drop(&mut self) {
        self.lock().off();
    }
}

/// pacemaker-remoted unpacked for the installed pacemaker's version, or a failure saying
/// how to get it.
fn remoted_path() -> Result<PathBuf, String> {
    let out = Command::new("dpkg-query")
        .args(["-W", "-f=${Version}", "pacemaker"])
        .output()
        .map_err(|e| format!("cannot run dpkg-query: {e}"))?;
    let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() || version.is_empty() {
        return Err("pacemaker is not installed: run tools/install-deps.sh as root".into());
    }
    let path = Path::new(REMOTE_CACHE)
        .join(&version)
        .join("usr/sbin/pacemaker-remoted");
    if !path.is_file() {
        return Err(format!(
            "missing {}: run tools/install-deps.sh as root (it unpacks Debian's \
             pacemaker-remote {version} there; never apt-get install it, it removes pacemaker)",
            path.display()
        ));
    }
    Ok(path)
}

/// Is remote node `name` online with its connection resource started (not pending)?
pub fn remote_online(xml: &str, name: &str) -> Result<bool, String> {
    let doc = roxmltree::Document::parse(xml).map_err(|e| format!("bad crm_mon XML: {e}"))?;
    let node_online = doc.descendants().any(|n| {
        n.has_tag_name("node")
            && n.parent().is_some_and(|p| p.has_tag_name("nodes"))
            && n.attribute("name") == Some(name)
            && n.attribute("online") == Some("true")
    });
    let conn_started = doc.descendants().any(|n| {
        n.has_tag_name("resource")
            && n.attribute("id") == Some(name)
            && n.attribute("role") == Some("Started")
            && n.attribute("active") == Some("true")
            && n.attribute("pending").is_none()
    });
    Ok(node_online && conn_started)
}

/// Milliseconds from `t0` (a fault) to `t`; 0 if `t` came first.
pub fn ms_after(t0: Instant, t: Instant) -> u128 {
    t.saturating_duration_since(t0).as_millis()
}

/// One request the power switch served.
#[derive(Clone, Debug)]
pub struct FenceEvent {
    pub node: String,
    /// off, reboot, on, status
    pub action: String,
    /// When the test process saw the request.
    pub requested: Instant,
    /// When it answered (after the kill, for off/reboot).
    pub done: Instant,
    /// The exit code given to the agent.
    pub rc: i32,
}

/// The harness's power switch: stonith device `power` (agent fence_ocfbox_power, every
/// cluster node has it in /usr/sbin) for the given remote nodes. off/reboot power the node
/// off (SIGKILL of its namespace init and its systemd); on answers 0 without powering on
/// (a test brings a node back with `RemoteNode::rejoin`), also for a node it does not switch;
/// status says on/off.
pub struct PowerFence {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    events: Arc<Mutex<Vec<FenceEvent>>>,
    _dir: TempDir,
}

impl PowerFence {
    /// Adds the device to the CIB and sets stonith-enabled=true.
    pub fn start(cluster: &Cluster, remotes: &[&RemoteNode]) -> PowerFence {
        let dir = TempDir::new("power-fence");
        let names: Vec<String> = remotes.iter().map(|r| r.name.clone()).collect();
        let targets: Vec<(String, Arc<Mutex<Power>>)> = remotes
            .iter()
            .map(|r| (r.name.clone(), Arc::clone(&r.power)))
            .collect();
        let stop = Arc::new(AtomicBool::new(false));
        let events = Arc::new(Mutex::new(Vec::new()));
        let thread = {
            let (stop, events, req_dir) = (
                Arc::clone(&stop),
                Arc::clone(&events),
                dir.path().to_path_buf(),
            );
            thread::Builder::new()
                .name("power-fence".into())
                .spawn(move || serve(&req_dir, &targets, &stop, &events))
                .expect("cannot start the power switch thread")
        };
        let fence = PowerFence {
            stop,
            thread: Some(thread),
            events,
            _dir: dir,
        };
        cluster
            .cibadmin_create(
                "resources",
                &format!(
                    r#"<primitive id="power" class="stonith" type="fence_ocfbox_power">
                      <instance_attributes id="power-ia">
                        <nvpair id="power-hosts" name="pcmk_host_list" value="{}"/>
                        <nvpair id="power-dir" name="request_dir" value="{}"/>
                      </instance_attributes>
                      <operations>
                        <op id="power-start" name="start" interval="0" timeout="120s"/>
                        <op id="power-monitor" name="monitor" interval="60s" timeout="120s"/>
                      </operations>
                    </primitive>"#,
                    names.join(" "),
                    fence._dir.path().display()
                ),
            )
            .unwrap_or_else(|e| panic!("{e}"));
        cluster
            .exec_ok(&[
                "crm_attribute",
                "--type",
                "crm_config",
                "--name",
                "stonith-enabled",
                "--update",
                "true",
            ])
            .unwrap_or_else(|e| panic!("{e}"));
        fence
    }

    /// Every request served so far, in order.
    pub fn events(&self) -> Vec<FenceEvent> {
        self.events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Waits for an `action` (off/reboot: either) on `node` requested after `since`.
    pub fn wait(&self, node: &str, action: &str, since: Instant, timeout: Duration) -> FenceEvent {
        let kills = ["off", "reboot"];
        poll(timeout, Duration::from_millis(10), || {
            self.events().into_iter().find(|e| {
                e.node == node
                    && e.requested >= since
                    && (e.action == action
                        || (kills.contains(&action) && kills.contains(&e.action.as_str())))
            })
        })
        .unwrap_or_else(|| {
            panic!(
                "{node} was not fenced ({action}) within {timeout:?}: {:?}",
                self.events()
            )
        })
    }
}

impl Drop for PowerFence {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(
    dir: &Path,
    targets: &[(String, Arc<Mutex<Power>>)],
    stop: &AtomicBool,
    events: &Mutex<Vec<FenceEvent>>,
) {
    while !stop.load(Ordering::Relaxed) {
        let mut reqs: Vec<PathBuf> = fs::read_dir(dir)
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "req"))
                    .collect()
            })
            .unwrap_or_default();
        reqs.sort();
        for req in reqs {
            let mut reap_later = None;
            let requested = Instant::now();
            let text = fs::read_to_string(&req).unwrap_or_default();
            let mut lines = text.lines();
            let action = lines.next().unwrap_or("").to_string();
            let node = lines.next().unwrap_or("").to_string();
            let target = targets.iter().find(|(n, _)| *n == node);
            let rc = match (target, action.as_str()) {
                // A node it does not switch (a controller) is always on: unfencing it
                // (provides=unfencing on another device makes every node need it) is a no-op.
                (None, "on") => 0,
                (None, _) => 1,
                (Some((_, p)), "off" | "reboot") => {
                    reap_later = p.lock().unwrap_or_else(|e| e.into_inner()).off_deferred().1;
                    0
                }
                (Some(_), "on") => 0,
                (Some((_, p)), "status") => {
                    if p.lock().unwrap_or_else(|e| e.into_inner()).ns.is_some() {
                        0
                    } else {
                        2
                    }
                }
                _ => 1,
            };
            let _ = fs::write(req.with_extension("done"), rc.to_string());
            let _ = fs::remove_file(&req);
            events
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(FenceEvent {
                    node,
                    action,
                    requested,
                    done: Instant::now(),
                    rc,
                });
            drop(reap_later);
        }
        thread::sleep(Duration::from_millis(5));
    }
}
