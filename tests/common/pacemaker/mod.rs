//! Real Pacemaker 2.1 + Corosync 3 clusters for tests, N nodes on one machine: their life
//! cycle here, their configuration files in `config`, crm_mon/attrd answers read by the
//! pure functions of `status`, and the alert recorder in `alerts`.
//!
//! Each node is a sandbox process (tests/sandbox/pcmk-node.sh) with its own PID, mount,
//! network and UTS namespaces: hostname = node name, private /run and /dev/shm, per-node
//! /var/lib/pacemaker, /var/lib/corosync, /var/log/pacemaker. One node talks over `lo`
//! (127.0.0.1); N > 1 nodes sit on a private L2 segment 10.77.0.0/24 (veth pairs into a
//! bridge in a "switch" namespace held by another sandbox process; nothing is added to
//! the host's network namespace; a single node may instead join an existing one,
//! `ClusterOptions::netns_of`). pacemakerd gets a clean environment plus
//! `ClusterOptions::env`, and agents inherit it.
//!
//! ```ignore
//! let tmp = TempDir::new("my-test");
//! let sd = SystemdSandbox::start();
//! let c = Cluster::start(ClusterOptions {
//!     env: sd.agent_env(),              // agents drive the sandbox's systemd
//!     netns_of: Some(sd.host_pid()),    // and reach its services' ports
//!     ocf_provider_dirs: vec![("ocfbox".into(), ocfbox_provider_dir(tmp.path()))],
//!     ..Default::default()
//! });
//! c.cibadmin_create("resources", r#"<primitive id="w" class="ocf" provider="ocfbox" type="SystemdService">..."#)?;
//! c.wait_for_resource("w", c.node(0).name(), "Started", Duration::from_secs(30))?;
//! ```

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

mod alerts;
pub(crate) mod config;
mod status;

use config::{cib_seed, corosync_conf, write_node_files};

pub use alerts::{alert_events, wait_alert};
pub use status::{attributes, cluster_ready, resource_has_role};

use super::ns::{tail, NsProcess, NsSpec};
use super::{proc, require_cmd, require_file, require_root, sandbox_script, TempDir};

#[derive(Clone, Debug)]
pub struct ClusterOptions {
    /// Number of nodes, named node1..nodeN.
    pub nodes: usize,
    /// Added to pacemakerd's clean environment (PATH, LANG, PCMK_logfile,
    /// PCMK_logfacility); a variable given here replaces the default of the same name.
    pub env: Vec<(String, String)>,
    /// `(provider, host_dir)`: host_dir appears as /usr/lib/ocf/resource.d/<provider>/
    /// inside every node (see `provider_dir` / `ocfbox_provider_dir`).
    pub ocf_provider_dirs: Vec<(String, PathBuf)>,
    /// Extra cluster properties for the seeded CIB (`crm_config`), e.g.
    /// ("no-quorum-policy", "ignore"); they replace the defaults of the same name.
    pub properties: Vec<(String, String)>,
    /// Corosync totem token timeout in ms (None: corosync's default, 3000 ms + per-node
    /// coefficient). Lower means faster detection of a killed node, but risks false
    /// alarms on a loaded machine.
    pub token_ms: Option<u32>,
    /// How long `start` waits for every node to be online (default 90 s).
    pub start_timeout: Duration,
    /// Single node only: run the node in the network namespace of this host PID (e.g.
    /// `SystemdSandbox::host_pid()`) instead of a new one, so that agents reach the ports
    /// of services running there. Corosync uses 127.0.0.1 of that namespace.
    pub netns_of: Option<u32>,
    /// `(name, host_path)`: extra fence agents that appear as /usr/sbin/<name> in every
    /// node (where pacemaker-fenced looks). The harness's power switch
    /// `fence_ocfbox_power` (see `remote::PowerFence`) is always there.
    pub fence_agents: Vec<(String, PathBuf)>,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions {
            nodes: 1,
            env: Vec::new(),
            ocf_provider_dirs: Vec::new(),
            properties: Vec::new(),
            token_ms: None,
            start_timeout: Duration::from_secs(90),
            netns_of: None,
            fence_agents: Vec::new(),
        }
    }
}

pub struct Node {
    index: usize,
    name: String,
    dir: PathBuf,
    addr: Option<String>,
    ns: Option<NsProcess>,
    netns_of: Option<u32>,
    /// Incarnation counter: the switch-side veth of each incarnation gets a new name,
    /// because the kernel removes the old one asynchronously after a kill.
    generation: u32,
}

impl Node {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The node's directory in the sandbox (configs, logs, bind-mount sources).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// 127.0.0.1 for a single node, 10.77.0.<i+1> otherwise.
    pub fn addr(&self) -> &str {
        self.addr.as_deref().unwrap_or("127.0.0.1")
    }

    /// Host PID of the node's namespace init (None after `kill_node`): target for
    /// `nsenter -t`, or `SystemdOptions::netns_of` to put a systemd sandbox in its network.
    pub fn host_pid(&self) -> Option<u32> {
        self.ns.as_ref().map(NsProcess::init_pid)
    }

    pub fn is_running(&mut self) -> bool {
        self.ns.as_mut().is_some_and(NsProcess::is_running)
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.join("pacemaker.log")
    }

    pub fn corosync_log_path(&self) -> PathBuf {
        self.dir.join("corosync.log")
    }

    /// A command run inside this node (its PID, mount, network and UTS namespaces), with
    /// HOME in the node's directory (crmsh keeps caches there). Panics if the node is down.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let ns = self
            .ns
            .as_ref()
            .unwrap_or_else(|| panic!("{} is not running (killed?)", self.name));
        let mut cmd = ns.nsenter(program);
        cmd.env("HOME", self.dir.join("home"));
        cmd
    }

    /// Runs `argv` inside the node and returns its output.
    pub fn exec<S: AsRef<OsStr>>(&self, argv: &[S]) -> Output {
        exec_with(argv, |program| self.command(program))
    }

    /// Runs `argv` inside the node; Ok(stdout) if it exits 0, else Err with everything.
    pub fn exec_ok<S: AsRef<OsStr>>(&self, argv: &[S]) -> Result<String, String> {
        check(argv, self.exec(argv))
    }

    /// Like exec_ok, with `input` on stdin.
    pub fn exec_stdin<S: AsRef<OsStr>>(&self, argv: &[S], input: &str) -> Result<String, String> {
        let (program, args) = argv.split_first().expect("exec needs a program");
        let mut child = self
            .command(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot run nsenter");
        // write, then always wait: an early return would leave a zombie
        let written = child
            .stdin
            .take()
            .map(|mut stdin| stdin.write_all(input.as_bytes()));
        let out = child.wait_with_output().expect("cannot wait for nsenter");
        if let Some(Err(e)) = written {
            return Err(format!("cannot write stdin: {e}"));
        }
        check(argv, out)
    }

    /// Every process of the node (host PIDs and names): corosync, pacemakerd, its
    /// daemons, agents and whatever they started.
    pub fn processes(&self) -> Vec<(proc::ProcId, String)> {
        self.host_pid().map(proc::ns_processes).unwrap_or_default()
    }
}

/// Ok(stdout) of a command that exited 0, else Err with its argv, status and output.
/// Runs `argv` through the `Command` `command` makes for its program (a node's nsenter),
/// stdin closed, and returns its output.
pub(crate) fn exec_with<S: AsRef<OsStr>>(
    argv: &[S],
    command: impl FnOnce(&S) -> Command,
) -> Output {
    let (program, args) = argv.split_first().expect("exec needs a program");
    command(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("cannot run nsenter")
}

pub(crate) fn check<S: AsRef<OsStr>>(argv: &[S], out: Output) -> Result<String, String> {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() {
        Ok(stdout)
    } else {
        let cmd: Vec<_> = argv.iter().map(|a| a.as_ref().to_string_lossy()).collect();
        Err(format!(
            "`{}` failed ({}):\n{stdout}{}",
            cmd.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

pub struct Cluster {
    // field order = drop order: node processes, the switch, then the files
    nodes: Vec<Node>,
    switch: Option<NsProcess>,
    dir: TempDir,
}

impl Cluster {
    /// Starts the cluster and waits until every node is online with a DC elected and
    /// quorum; panics with logs if it does not get there within `start_timeout`.
    pub fn start(opts: ClusterOptions) -> Cluster {
        Self::try_start(opts).unwrap_or_else(|e| panic!("{e}"))
    }

    pub fn try_start(opts: ClusterOptions) -> Result<Cluster, String> {
        require_root();
        for (cmd, pkg) in [
            ("unshare", "util-linux"),
            ("nsenter", "util-linux"),
            ("setpriv", "util-linux"),
            ("ip", "iproute2"),
            ("corosync", "corosync"),
            ("corosync-cfgtool", "corosync"),
            ("pacemakerd", "pacemaker"),
            ("crm_mon", "pacemaker-cli-utils"),
            ("cibadmin", "pacemaker-cli-utils"),
            ("attrd_updater", "pacemaker-cli-utils"),
        ] {
            require_cmd(cmd, pkg);
        }
        require_file("/usr/lib/ocf/resource.d", "resource-agents");
        assert!(opts.nodes >= 1, "a cluster needs at least one node");
        assert!(
            opts.nodes <= 16,
            "more than 16 nodes is not what this harness is for"
        );
        for (provider, dir) in &opts.ocf_provider_dirs {
            assert!(
                !provider.is_empty() && !provider.contains(['/', '\t', '\n']),
                "bad provider name {provider:?}"
            );
            assert!(
                dir.is_dir(),
                "provider dir {} does not exist",
                dir.display()
            );
        }

        assert!(
            opts.netns_of.is_none() || opts.nodes == 1,
            "netns_of is for single-node clusters (N nodes need their own network)"
        );
        let dir = TempDir::new("pacemaker");
        let multi = opts.nodes > 1;
        let mut nodes: Vec<Node> = (0..opts.nodes)
            .map(|i| Node {
                index: i,
                name: format!("node{}", i + 1),
                dir: dir.join(format!("node{}", i + 1)),
                addr: multi.then(|| format!("10.77.0.{}", i + 1)),
                ns: None,
                netns_of: opts.netns_of,
                generation: 0,
            })
            .collect();
        let corosync_conf = corosync_conf(&nodes, opts.token_ms);
        let cib = cib_seed(&opts.properties);
        let authkey = write_authkey(dir.path())?;
        let mut opts = opts;
        if !opts.env.iter().any(|(k, _)| k == "PCMK_authkey_location") {
            opts.env.push((
                "PCMK_authkey_location".into(),
                authkey.display().to_string(),
            ));
        }
        for node in &nodes {
            write_node_files(node, &corosync_conf, &cib, &opts)?;
        }

        let switch = if multi {
            Some(spawn_switch(dir.path())?)
        } else {
            None
        };
        for node in &mut nodes {
            spawn_node(node, switch.as_ref())?;
        }
        let mut cluster = Cluster { nodes, switch, dir };
        let timeout = opts.start_timeout;
        cluster
            .wait_for_online(timeout)
            .map_err(|e| format!("cluster did not come up: {e}"))?;
        Ok(cluster)
    }

    pub fn node(&self, i: usize) -> &Node {
        &self.nodes[i]
    }

    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// The cluster's directory (one subdirectory per node).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The Pacemaker authkey every node uses (PCMK_authkey_location): what a
    /// pacemaker_remote node needs to be let in.
    pub fn authkey_path(&self) -> PathBuf {
        self.dir.join("authkey")
    }

    /// Host PID of the switch namespace (bridge br0), None for a single node.
    pub fn switch_pid(&self) -> Option<u32> {
        self.switch.as_ref().map(NsProcess::init_pid)
    }

    /// A service address reachable from every node and every remote node
    /// (`remote::RemoteNode`): 10.78.0.1 on node1's loopback for a single node, 10.77.0.254
    /// on the switch's bridge otherwise. Returns (host PID whose network namespace holds
    /// it, address): start a service there, e.g. `SimConfig::netns_of(pid).bind(addr)`.
    pub fn service_endpoint(&self) -> Result<(u32, String), String> {
        let (pid, addr, dev) = match self.switch_pid() {
            Some(sw) => (sw, "10.77.0.254", "br0"),
            None => (
                self.nodes[0]
                    .host_pid()
                    .ok_or("node1 is not running: no service address")?,
                "10.78.0.1",
                "lo",
            ),
        };
        let prefix = if dev == "lo" { "32" } else { "24" };
        run_ok(
            Command::new("nsenter")
                .arg(format!("--net=/proc/{pid}/ns/net"))
                .args(["--", "ip", "addr", "replace"])
                .arg(format!("{addr}/{prefix}"))
                .args(["dev", dev]),
        )?;
        Ok((pid, addr.to_string()))
    }

    pub fn log_path(&self, i: usize) -> PathBuf {
        self.nodes[i].log_path()
    }

    /// The first node still running: where cluster-wide queries go.
    fn live_node(&self) -> Result<&Node, String> {
        self.nodes
            .iter()
            .find(|n| n.ns.is_some())
            .ok_or_else(|| "no node of the cluster is running".to_string())
    }

    /// For `make demo` (OCFBOX_DEMO set): `crm_mon -1 -r` from a live node under a caption,
    /// so the narration shows what Pacemaker shows an operator. Nothing in a test run.
    pub fn demo_show(&self, caption: &str) {
        if std::env::var_os("OCFBOX_DEMO").is_none() {
            return;
        }
        let text = self.exec_ok(&["crm_mon", "-1", "-r"]).unwrap_or_else(|e| e);
        eprintln!("\n--- crm_mon: {caption}\n{text}");
    }

    /// For `make demo KEEP=1` (OCFBOX_DEMO_KEEP set): keep the cluster up at the end of the
    /// act, saying how to look inside each node, until the operator removes the keep file.
    /// Then the act returns and its processes are ended as always.
    pub fn demo_keep(&self, act: &str) {
        if std::env::var_os("OCFBOX_DEMO_KEEP").is_none() {
            return;
        }
        let keep = std::path::PathBuf::from(format!("/run/ocfbox-demo-{act}.keep"));
        if std::fs::write(&keep, "remove this file to end the demo act\n").is_err() {
            eprintln!("cannot write {}: not kept", keep.display());
            return;
        }
        eprintln!("\n--- KEEP: the cluster of this act stays up. Enter a node with:");
        for n in self.nodes.iter() {
            if let Some(ns) = n.ns.as_ref() {
                let pid = ns.init_pid();
                eprintln!("  {}: nsenter -t {pid} -p -m -n -u -- crm_mon -1   (or crm configure show, bash)", n.name);
            }
        }
        eprintln!("--- end it with: rm {}", keep.display());
        while keep.exists() {
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// Runs `argv` on the first live node; Ok(stdout) if it exits 0.
    pub fn exec_ok<S: AsRef<OsStr>>(&self, argv: &[S]) -> Result<String, String> {
        self.live_node()?.exec_ok(argv)
    }

    /// `cibadmin --create -o SECTION --xml-text XML` (section: resources, constraints, ...).
    pub fn cibadmin_create(&self, section: &str, xml: &str) -> Result<(), String> {
        self.live_node()?
            .exec_ok(&["cibadmin", "--create", "-o", section, "--xml-text", xml])
            .map(drop)
    }

    /// Feeds crmsh's `crm configure` with `text` (one command per line), e.g.
    /// "primitive d ocf:heartbeat:Dummy op monitor interval=5s".
    pub fn crm_configure(&self, text: &str) -> Result<(), String> {
        require_cmd("crm", "crmsh");
        let mut input = text.to_string();
        if !input.ends_with('\n') {
            input.push('\n');
        }
        input.push_str("commit\n");
        self.live_node()?
            .exec_stdin(&["crm", "configure"], &input)
            .map(drop)
    }

    /// `crm_mon -1 --output-as=xml` from the first live node.
    pub fn crm_mon_xml(&self) -> Result<String, String> {
        self.live_node()?
            .exec_ok(&["crm_mon", "-1", "--output-as=xml"])
    }

    /// Polls crm_mon until resource `id` (a primitive, or an instance of a clone:
    /// `id` or `id:N`) has `role` on `node` ("Started", "Promoted", "Unpromoted"; or
    /// "Stopped" = not active there). On timeout: Err with crm_mon's text and log tails.
    pub fn wait_for_resource(
        &self,
        id: &str,
        node: &str,
        role: &str,
        timeout: Duration,
    ) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        let mut last_err = String::new();
        loop {
            match self.crm_mon_xml() {
                Ok(xml) => match resource_has_role(&xml, id, node, role) {
                    Ok(true) => return Ok(()),
                    Ok(false) => last_err.clear(),
                    Err(e) => last_err = e,
                },
                Err(e) => last_err = e,
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "resource {id} is not {role} on {node} after {timeout:?}{}\n{}",
                    if last_err.is_empty() {
                        String::new()
                    } else {
                        format!(" (last error: {last_err})")
                    },
                    self.diagnostics()
                ));
            }
            thread::sleep(Duration::from_millis(200));
        }
    }

    /// Polls until every running node is online, a DC is elected and the partition has
    /// quorum, as seen from each running node.
    pub fn wait_for_online(&mut self, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        loop {
            let mut dead = None;
            for n in &mut self.nodes {
                if n.ns.is_some() && !n.is_running() {
                    dead = Some(n.name.clone());
                }
            }
            if let Some(name) = dead {
                return Err(format!("{name} exited\n{}", self.diagnostics()));
            }
            let want: Vec<&str> = self
                .nodes
                .iter()
                .filter(|n| n.ns.is_some())
                .map(|n| n.name.as_str())
                .collect();
            // every node's own view must agree: right after a kill, the survivors still
            // list the dead incarnation of a restarted node as online
            let views = self.nodes.iter().filter(|n| n.ns.is_some()).map(|n| {
                n.exec_ok(&["crm_mon", "-1", "--output-as=xml"])
                    .and_then(|xml| cluster_ready(&xml, &want))
                    .map_err(|e| format!("{}'s view: {e}", n.name))
            });
            let last = match views.into_iter().find_map(Result::err) {
                None => return Ok(()),
                Some(e) => e,
            };
            if Instant::now() >= deadline {
                return Err(format!(
                    "not all of {want:?} online after {timeout:?}: {last}\n{}",
                    self.diagnostics()
                ));
            }
            thread::sleep(Duration::from_millis(200));
        }
    }

    /// `attrd_updater -n NAME -U VALUE` on node i (a transient node attribute of node i).
    pub fn attrd_update(&self, i: usize, name: &str, value: &str) -> Result<(), String> {
        self.nodes[i]
            .exec_ok(&["attrd_updater", "-n", name, "-U", value])
            .map(drop)
    }

    /// Value of node i's attribute NAME as node i's attrd knows it; None if unset.
    pub fn attrd_query(&self, i: usize, name: &str) -> Option<String> {
        let out = self.nodes[i]
            .exec_ok(&["attrd_updater", "-Q", "-n", name, "--output-as=xml"])
            .ok()?;
        let node = self.nodes[i].name.as_str();
        attributes(&out)
            .into_iter()
            .find(|(host, _)| host == node)
            .map(|(_, v)| v)
    }

    /// NAME on every node, as node i's attrd knows it: (host, value) pairs.
    pub fn attrd_query_all(&self, i: usize, name: &str) -> Vec<(String, String)> {
        self.nodes[i]
            .exec_ok(&["attrd_updater", "-Q", "-A", "-n", name, "--output-as=xml"])
            .map(|xml| attributes(&xml))
            .unwrap_or_default()
    }

    /// SIGKILLs node i's namespace: corosync, pacemaker and every agent die at once, the
    /// network interface disappears (a crash, not a clean leave). Returns once they are gone.
    pub fn kill_node(&mut self, i: usize) {
        if let Some(mut ns) = self.nodes[i].ns.take() {
            ns.kill();
        }
    }

    /// Starts node i again after `kill_node` (keeping its CIB and logs) and waits until
    /// every running node is online.
    pub fn restart_node(&mut self, i: usize, timeout: Duration) -> Result<(), String> {
        self.kill_node(i);
        let switch = self.switch.as_ref();
        spawn_node(&mut self.nodes[i], switch)?;
        self.wait_for_online(timeout)
    }

    /// crm_mon's text, cluster status per node and the tails of every node's logs.
    pub fn diagnostics(&self) -> String {
        let mut s = String::new();
        match self
            .live_node()
            .and_then(|n| n.exec_ok(&["crm_mon", "-1", "-r", "-f", "-A"]))
        {
            Ok(text) => {
                let _ = writeln!(s, "--- crm_mon -1 -r -f -A ---\n{text}");
            }
            Err(e) => {
                let _ = writeln!(s, "--- crm_mon ---\n{e}");
            }
        }
        for node in &self.nodes {
            let _ = writeln!(
                s,
                "=== {} ({}) ===",
                node.name,
                if node.ns.is_some() { "running" } else { "down" }
            );
            s.push_str(&tail(&node.dir.join("script.log"), 10));
            s.push_str(&tail(&node.log_path(), 40));
            s.push_str(&tail(&node.corosync_log_path(), 10));
        }
        s
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // SIGKILL every namespace first, then wait for each: they die in parallel
        for node in &mut self.nodes {
            if let Some(ns) = node.ns.as_mut() {
                ns.signal_kill();
            }
        }
        if let Some(sw) = self.switch.as_mut() {
            sw.signal_kill();
        }
        for node in &mut self.nodes {
            if let Some(mut ns) = node.ns.take() {
                ns.reap();
            }
        }
        if let Some(mut sw) = self.switch.take() {
            sw.reap();
        }
    }
}

const NODE_FLAGS: &[&str] = &[
    "--mount",
    "--mount-proc",
    "--net",
    "--uts",
    "--propagation",
    "private",
];

/// For a node that joins an existing network namespace (`ClusterOptions::netns_of`).
const NODE_FLAGS_SHARED_NET: &[&str] = &[
    "--mount",
    "--mount-proc",
    "--uts",
    "--propagation",
    "private",
];

fn spawn_node(node: &mut Node, switch: Option<&NsProcess>) -> Result<(), String> {
    let mut args = vec![node.dir.clone().into_os_string(), node.name.clone().into()];
    if let Some(addr) = &node.addr {
        args.push(addr.into());
    }
    let ns = NsProcess::spawn(NsSpec {
        label: format!("pacemaker {}", node.name),
        unshare_flags: if node.netns_of.is_some() {
            NODE_FLAGS_SHARED_NET
        } else {
            NODE_FLAGS
        },
        script: sandbox_script("pcmk-node.sh"),
        args,
        log: node.dir.join("script.log"),
        cgroup_procs: None,
        netns_of: node.netns_of,
    })?;
    node.generation += 1;
    if let Some(sw) = switch {
        // the node's end is created directly in its namespace as eth0; the script waits
        // for it and configures the address
        let port = format!("n{}g{}", node.index + 1, node.generation);
        run_ok(Command::new("ip").args([
            "link",
            "add",
            &port,
            "netns",
            &sw.init_pid().to_string(),
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            &ns.init_pid().to_string(),
        ]))?;
        run_ok(
            sw.nsenter("ip")
                .args(["link", "set", &port, "master", "br0", "up"]),
        )?;
    }
    node.ns = Some(ns);
    Ok(())
}

/// The "switch": a network namespace with bridge br0, held by a sandbox process.
fn spawn_switch(dir: &Path) -> Result<NsProcess, String> {
    let sw = NsProcess::spawn(NsSpec {
        label: "pacemaker switch".into(),
        unshare_flags: &["--net", "--mount", "--mount-proc"],
        script: sandbox_script("pcmk-switch.sh"),
        args: vec![],
        log: dir.join("switch.log"),
        cgroup_procs: None,
        netns_of: None,
    })?;
    let ready = super::poll(Duration::from_secs(10), Duration::from_millis(10), || {
        sw.nsenter("ip")
            .args(["link", "show", "br0"])
            .output()
            .ok()
            .filter(|o| o.status.success())
    });
    match ready {
        Some(_) => Ok(sw),
        None => Err(format!(
            "the switch's bridge never appeared\n{}",
            tail(&dir.join("switch.log"), 10)
        )),
    }
}

/// 4 KiB from the kernel's random source, readable by the cluster daemons (hacluster) only.
fn write_authkey(dir: &Path) -> Result<PathBuf, String> {
    let path = dir.join("authkey");
    let mut key = vec![0u8; 4096];
    use std::fs;
    use std::os::unix::fs::PermissionsExt;
    fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut key))
        .map_err(|e| format!("cannot read /dev/urandom: {e}"))?;
    fs::write(&path, &key).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    fs::set_permissions(&path, fs::Permissions::from_mode(0o640))
        .map_err(|e| format!("cannot chmod {}: {e}", path.display()))?;
    run_ok(Command::new("chown").arg("hacluster:haclient").arg(&path))?;
    Ok(path)
}

pub(crate) fn run_ok(cmd: &mut Command) -> Result<(), String> {
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}
