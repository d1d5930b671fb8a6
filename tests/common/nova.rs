//! The Keystone + Nova + Glance simulator (tests/nova-sim/novasim.py) as a test peer.
//!
//! ```ignore
//! let sim = NovaSim::start(SimConfig::new().hosts(&["compute-0", "compute-1"]).servers_on("compute-0", 3));
//! let admin = sim.admin();                   // auth_url, user, password, project, domains
//! sim.kill_compute("compute-0");             // heartbeat stopped long ago: state "down"
//! // ... run the code under test against admin.auth_url ...
//! assert_eq!(sim.migrations().len(), 3);
//! assert!(sim.requests().iter().any(|r| r.had_secret)); // a password went, never logged
//! ```
//!
//! One simulator process per `NovaSim`, on a free loopback port (control calls through a
//! Unix socket), ended by PID on Drop (also on panic); it also exits by itself when the test
//! process is gone. See tests/nova-sim/README.md for the state format and control API.

use super::TempDir;
use serde_json::{json, Value};
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// The interpreter the simulator runs on: Debian's, not a pyenv shim earlier on PATH.
pub const PYTHON: &str = "/usr/bin/python3";

pub const ADMIN_USER: &str = "admin";
pub const ADMIN_PASSWORD: &str = "sim-admin-pw-3f9c";
pub const ADMIN_USER_ID: &str = "u-admin";
pub const ADMIN_PROJECT: &str = "admin";
pub const ADMIN_PROJECT_ID: &str = "p-admin";
pub const MEMBER_USER: &str = "demo";
pub const MEMBER_PASSWORD: &str = "sim-demo-pw-81ab";
pub const MEMBER_PROJECT: &str = "demo";
pub const MEMBER_PROJECT_ID: &str = "p-demo";
pub const APP_CRED_ID: &str = "ac-ha";
pub const APP_CRED_NAME: &str = "instance-ha";
pub const APP_CRED_SECRET: &str = "sim-appcred-secret-77d2";
/// A domain other than Default, with its own admin user and project (ids differ from names).
pub const OTHER_DOMAIN: &str = "Ops";
pub const OTHER_DOMAIN_ID: &str = "d-ops";

/// Credentials for the simulated Keystone, as an agent's parameters would carry them.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub auth_url: String,
    pub username: String,
    pub user_id: String,
    pub password: String,
    pub project_name: String,
    pub project_id: String,
    pub user_domain: String,
    pub project_domain: String,
}

/// How a simulator starts: its limits and its initial state (built with the methods below).
#[derive(Debug, Clone)]
pub struct SimConfig {
    pub max_microversion: String,
    pub page_cap: usize,
    pub latency_ms: u64,
    pub rebuild_time: Duration,
    pub token_ttl: Duration,
    pub service_down_time: Duration,
    pub xena_guard: bool,
    pub tls: bool,
    /// Run the simulator in the network namespace of this host PID (e.g. a Pacemaker
    /// node's `host_pid()`), so programs inside that node reach it on 127.0.0.1. The
    /// control calls still work (Unix socket); `api()` does not (other namespace).
    pub netns_of: Option<u32>,
    /// Listen on this address instead of 127.0.0.1 (e.g. `Cluster::service_endpoint()`,
    /// reachable from remote nodes too); the catalog then names it.
    pub bind: Option<String>,
    pub state: Value,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig::new()
    }
}

impl SimConfig {
    /// Max microversion 2.95, page cap 1000, no latency, 0.3 s rebuilds, no TLS; two
    /// regions (RegionOne, RegionTwo), admin + member users, an application credential,
    /// one nova-scheduler and one nova-conductor on `controller-0`, flavor "1"
    /// (m1.small, public) and no compute hosts yet.
    pub fn new() -> SimConfig {
        SimConfig {
            max_microversion: "2.95".into(),
            page_cap: 1000,
            latency_ms: 0,
            rebuild_time: Duration::from_millis(300),
            token_ttl: Duration::from_secs(3600),
            service_down_time: Duration::from_secs(60),
            xena_guard: true,
            tls: false,
            netns_of: None,
            bind: None,
            state: json!({
                "regions": ["RegionOne", "RegionTwo"],
                "domains": [
                    {"id": "default", "name": "Default"},
                    {"id": OTHER_DOMAIN_ID, "name": OTHER_DOMAIN}
                ],
                "projects": [
                    {"id": ADMIN_PROJECT_ID, "name": ADMIN_PROJECT, "domain_id": "default"},
                    {"id": MEMBER_PROJECT_ID, "name": MEMBER_PROJECT, "domain_id": "default"},
                    {"id": "p-ops-admin", "name": "admin", "domain_id": OTHER_DOMAIN_ID}
                ],
                "users": [
                    {"id": ADMIN_USER_ID, "name": ADMIN_USER, "domain_id": "default",
                     "password": ADMIN_PASSWORD,
                     "roles": {ADMIN_PROJECT_ID: ["admin", "member", "reader"]}},
                    {"id": "u-demo", "name": MEMBER_USER, "domain_id": "default",
                     "password": MEMBER_PASSWORD, "roles": {MEMBER_PROJECT_ID: ["member", "reader"]}},
                    {"id": "u-ops-admin", "name": ADMIN_USER, "domain_id": OTHER_DOMAIN_ID,
                     "password": ADMIN_PASSWORD, "roles": {"p-ops-admin": ["admin"]}}
                ],
                "application_credentials": [
                    {"id": APP_CRED_ID, "name": APP_CRED_NAME, "user_id": ADMIN_USER_ID,
                     "project_id": ADMIN_PROJECT_ID, "secret": APP_CRED_SECRET}
                ],
                "services": [
                    {"host": "controller-0", "binary": "nova-scheduler"},
                    {"host": "controller-0", "binary": "nova-conductor"}
                ],
                "flavors": [{"id": "1", "name": "m1.small", "vcpus": 1, "ram": 512, "disk": 1}],
                "images": [],
                "servers": [],
                "migrations": []
            }),
        }
    }

    pub fn max_microversion(mut self, v: &str) -> Self {
        self.max_microversion = v.into();
        self
    }

    pub fn page_cap(mut self, n: usize) -> Self {
        self.page_cap = n;
        self
    }

    pub fn latency_ms(mut self, ms: u64) -> Self {
        self.latency_ms = ms;
        self
    }

    pub fn rebuild_time(mut self, d: Duration) -> Self {
        self.rebuild_time = d;
        self
    }

    pub fn token_ttl(mut self, d: Duration) -> Self {
        self.token_ttl = d;
        self
    }

    pub fn service_down_time(mut self, d: Duration) -> Self {
        self.service_down_time = d;
        self
    }

    pub fn xena_guard(mut self, on: bool) -> Self {
        self.xena_guard = on;
        self
    }

    pub fn tls(mut self, on: bool) -> Self {
        self.tls = on;
        self
    }

    pub fn bind(mut self, addr: &str) -> Self {
        self.bind = Some(addr.to_string());
        self
    }

    pub fn netns_of(mut self, pid: u32) -> Self {
        self.netns_of = Some(pid);
        self
    }

    fn list(&mut self, key: &str) -> &mut Vec<Value> {
        self.state[key]
            .as_array_mut()
            .unwrap_or_else(|| panic!("sim state {key} is not a list"))
    }

    /// Up, enabled nova-compute services on these hosts.
    pub fn hosts(mut self, hosts: &[&str]) -> Self {
        for h in hosts {
            self.list("services")
                .push(json!({"host": h, "binary": "nova-compute"}));
        }
        self
    }

    /// Any service record (fields as in README.md: host, binary, status, disabled_reason,
    /// forced_down, alive, dead_since).
    pub fn service(mut self, svc: Value) -> Self {
        self.list("services").push(svc);
        self
    }

    /// `n` active servers on `host` (admin project, flavor "1", no image), named
    /// `<host>-vm-<i>`, ids `<host>-<i>` padded into a UUID-like string.
    pub fn servers_on(mut self, host: &str, n: usize) -> Self {
        for i in 0..n {
            let s = json!({"id": server_id(host, i), "name": format!("{host}-vm-{i}"),
                           "host": host, "tenant_id": ADMIN_PROJECT_ID, "user_id": ADMIN_USER_ID,
                           "flavor_id": "1", "image_id": null});
            self.list("servers").push(s);
        }
        self
    }

    /// Any server record (id, name, host, tenant_id, vm_state, task_state, flavor_id,
    /// image_id (null = boot from volume), metadata, locked, evacuate_outcome
    /// "done"|"failed"|"error").
    pub fn server(mut self, srv: Value) -> Self {
        self.list("servers").push(srv);
        self
    }

    /// A flavor; `extra_specs` e.g. `json!({"evacuable": "true"})`.
    pub fn flavor(mut self, id: &str, name: &str, public: bool, extra_specs: Value) -> Self {
        self.list("flavors").push(json!({"id": id, "name": name, "is_public": public,
                                         "extra_specs": extra_specs,
                                         "access": if public { json!([]) } else { json!([ADMIN_PROJECT_ID]) }}));
        self
    }

    /// A Glance image with tags and custom properties.
    pub fn image(mut self, id: &str, tags: &[&str], properties: Value) -> Self {
        self.list("images").push(
            json!({"id": id, "name": format!("img-{id}"), "tags": tags, "properties": properties}),
        );
        self
    }

    /// A migration record (source_compute, dest_compute, status, migration_type, instance_uuid).
    pub fn migration(mut self, m: Value) -> Self {
        self.list("migrations").push(m);
        self
    }

    /// Direct access to the state JSON, for anything the builders do not cover.
    pub fn with_state(mut self, f: impl FnOnce(&mut Value)) -> Self {
        f(&mut self.state);
        self
    }
}

/// The id `SimConfig::servers_on` gives server `i` of `host` (stable, UUID-shaped).
pub fn server_id(host: &str, i: usize) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in host.bytes() {
        h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
    }
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        (h >> 32) as u32,
        (h >> 16) as u16,
        (h & 0xfff) as u16,
        (i >> 48) & 0xfff,
        i & 0xffff_ffff_ffff
    )
}

/// One request the simulator answered (control calls are not logged).
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub query: String,
    /// "identity", "compute" or "image"
    pub service: String,
    /// The catalog endpoint the client went through (None = unprefixed URL such as auth_url).
    pub region: Option<String>,
    pub interface: Option<String>,
    /// The compute microversion the request asked for (header value), if any.
    pub microversion: Option<String>,
    /// Seconds since the epoch.
    pub time: f64,
    pub status: Option<u16>,
    /// The body carried a password/secret/adminPass (the value itself is never stored).
    pub had_secret: bool,
    pub had_token: bool,
    /// The injected fault that answered it, if any.
    pub fault: Option<String>,
}

/// What an injected fault does to the matching requests.
#[derive(Debug, Clone)]
pub enum FaultKind {
    /// Answer with this status and Nova's error body.
    Status(u16),
    /// Answer with this status and this (JSON) body.
    StatusBody(u16, Value),
    /// Hold the request this long, then close the connection without an answer.
    Hang(Duration),
    /// Close the connection without an answer.
    Drop,
    /// 200 with a truncated JSON body.
    Malformed,
    /// 401 as Keystone middleware sends it (e.g. a token revoked mid-run).
    Unauthorized,
}

/// A fault for requests whose path matches the regex `path` (and `method`, if given).
#[derive(Debug, Clone)]
pub struct Fault {
    pub method: Option<String>,
    pub path: String,
    pub kind: FaultKind,
    /// How many matching requests it hits (None = all).
    pub count: Option<u32>,
    /// Matching requests to let through before it starts hitting.
    pub skip: u32,
}

impl Fault {
    pub fn new(method: Option<&str>, path: &str, kind: FaultKind) -> Fault {
        Fault {
            method: method.map(str::to_string),
            path: path.into(),
            kind,
            count: None,
            skip: 0,
        }
    }

    pub fn times(mut self, n: u32) -> Fault {
        self.count = Some(n);
        self
    }

    pub fn after(mut self, n: u32) -> Fault {
        self.skip = n;
        self
    }

    fn to_json(&self) -> Value {
        let mut v = json!({"path": self.path, "skip": self.skip, "count": self.count});
        if let Some(m) = &self.method {
            v["method"] = json!(m);
        }
        match &self.kind {
            FaultKind::Status(s) => {
                v["kind"] = json!("status");
                v["status"] = json!(s);
            }
            FaultKind::StatusBody(s, b) => {
                v["kind"] = json!("status");
                v["status"] = json!(s);
                v["body"] = b.clone();
            }
            FaultKind::Hang(d) => {
                v["kind"] = json!("hang");
                v["seconds"] = json!(d.as_secs_f64());
            }
            FaultKind::Drop => v["kind"] = json!("drop"),
            FaultKind::Malformed => v["kind"] = json!("malformed"),
            FaultKind::Unauthorized => v["kind"] = json!("unauthorized"),
        }
        v
    }
}

/// A running simulator. Dropping it ends the process (by PID) and removes its directory.
pub struct NovaSim {
    child: Child,
    api_port: u16,
    control: PathBuf,
    tls: bool,
    host: String,
    ca_file: Option<PathBuf>,
    dir: TempDir,
}

impl NovaSim {
    /// Starts a simulator; panics with a clear message if python3 or openssl (TLS) is
    /// missing or the simulator does not come up.
    pub fn start(cfg: SimConfig) -> NovaSim {
        if !Path::new(PYTHON).exists() {
            panic!("missing {PYTHON}: apt-get install python3 (`make test` installs it)");
        }
        let dir = TempDir::new("nova-sim");
        let state = dir.join("state.json");
        // 0600: it holds the simulated users' passwords and secrets
        fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&state)
            .and_then(|mut f| {
                f.write_all(&serde_json::to_vec_pretty(&cfg.state).expect("state is JSON"))
            })
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", state.display()));
        let port_file = dir.join("ports");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/nova-sim/novasim.py");
        let control = dir.join("control.sock");
        let mut cmd = match cfg.netns_of {
            Some(pid) => {
                let mut c = Command::new("nsenter");
                c.arg(format!("--net=/proc/{pid}/ns/net"))
                    .arg("--")
                    .arg(PYTHON);
                c
            }
            None => Command::new(PYTHON),
        };
        cmd.arg(&script)
            .arg("--control-socket")
            .arg(&control)
            .arg("--state")
            .arg(&state)
            .arg("--port-file")
            .arg(&port_file)
            .args(["--max-microversion", &cfg.max_microversion])
            .args(["--page-cap", &cfg.page_cap.to_string()])
            .args(["--latency-ms", &cfg.latency_ms.to_string()])
            .args([
                "--rebuild-time",
                &cfg.rebuild_time.as_secs_f64().to_string(),
            ])
            .args(["--token-ttl", &cfg.token_ttl.as_secs_f64().to_string()])
            .args([
                "--service-down-time",
                &cfg.service_down_time.as_secs_f64().to_string(),
            ])
            .args(["--parent-pid", &std::process::id().to_string()]);
        let host = cfg.bind.clone().unwrap_or_else(|| "127.0.0.1".into());
        cmd.args(["--bind", &host]);
        if !cfg.xena_guard {
            cmd.arg("--no-xena-guard");
        }
        let mut ca_file = None;
        if cfg.tls {
            let (ca, _ca_key) = generate_ca(dir.path(), "nova-sim-ca");
            let (cert, key) = generate_leaf(dir.path(), &ca, "127.0.0.1");
            cmd.arg("--tls-cert").arg(&cert).arg("--tls-key").arg(&key);
            ca_file = Some(ca);
        }
        let stderr = fs::File::create(dir.join("stderr"))
            .unwrap_or_else(|e| panic!("cannot create the simulator's stderr file: {e}"));
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .env_remove("PYTHONPATH")
            .env("PYTHONDONTWRITEBYTECODE", "1");
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {PYTHON} {}: {e}", script.display()));
        let deadline = Instant::now() + Duration::from_secs(15);
        let port = loop {
            if let Some(p) = fs::read_to_string(&port_file)
                .ok()
                .and_then(|t| t.trim().parse::<u16>().ok())
            {
                break p;
            }
            if let Ok(Some(status)) = child.try_wait() {
                let err = fs::read_to_string(dir.join("stderr")).unwrap_or_default();
                panic!("nova simulator exited at start ({status}):\n{err}");
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                let err = fs::read_to_string(dir.join("stderr")).unwrap_or_default();
                panic!("nova simulator did not come up within 15 s:\n{err}");
            }
            thread::sleep(Duration::from_millis(20));
        };
        NovaSim {
            child,
            api_port: port,
            control,
            tls: cfg.tls,
            host,
            ca_file,
            dir,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn port(&self) -> u16 {
        self.api_port
    }

    /// `http(s)://<bind address, default 127.0.0.1>:<port>`
    pub fn base_url(&self) -> String {
        format!(
            "{}://{}:{}",
            if self.tls { "https" } else { "http" },
            self.host,
            self.api_port
        )
    }

    /// Unversioned Keystone URL (GET answers 300 with the version list).
    pub fn auth_url(&self) -> String {
        format!("{}/identity", self.base_url())
    }

    /// Versioned Keystone URL (`.../identity/v3`).
    pub fn auth_url_v3(&self) -> String {
        format!("{}/identity/v3", self.base_url())
    }

    /// The compute endpoint the catalog lists for `region` and `interface`.
    pub fn compute_url(&self, region: &str, interface: &str) -> String {
        format!("{}/{region}/{interface}/compute/v2.1", self.base_url())
    }

    /// The CA that signed the TLS certificate (TLS simulators only).
    pub fn ca_file(&self) -> Option<&Path> {
        self.ca_file.as_deref()
    }

    /// A directory owned by this simulator (removed on Drop), for a test's own files.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The admin user (role admin on project admin, domain Default).
    pub fn admin(&self) -> Credentials {
        Credentials {
            auth_url: self.auth_url(),
            username: ADMIN_USER.into(),
            user_id: ADMIN_USER_ID.into(),
            password: ADMIN_PASSWORD.into(),
            project_name: ADMIN_PROJECT.into(),
            project_id: ADMIN_PROJECT_ID.into(),
            user_domain: "Default".into(),
            project_domain: "Default".into(),
        }
    }

    /// A member without the admin role (Nova's admin APIs answer it 403).
    pub fn member(&self) -> Credentials {
        Credentials {
            auth_url: self.auth_url(),
            username: MEMBER_USER.into(),
            user_id: "u-demo".into(),
            password: MEMBER_PASSWORD.into(),
            project_name: MEMBER_PROJECT.into(),
            project_id: MEMBER_PROJECT_ID.into(),
            user_domain: "Default".into(),
            project_domain: "Default".into(),
        }
    }

    /// A raw control call (`/_sim/<path>`); panics unless the answer is 2xx.
    /// The control API's Unix socket (reachable from any network namespace), e.g. for a
    /// fake nova-compute (tests/nova-sim/fake-nova-compute.py) that reports its start.
    pub fn control_socket(&self) -> &Path {
        &self.control
    }

    pub fn control(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let (status, v) = self.control_raw(method, path, body);
        if !(200..300).contains(&status) {
            panic!("sim control {method} /_sim/{path} answered {status}: {v}");
        }
        v
    }

    fn control_raw(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let data = body.map(|b| b.to_string()).unwrap_or_default();
        let mut s = UnixStream::connect(&self.control)
            .unwrap_or_else(|e| panic!("cannot reach the nova simulator's control socket: {e}"));
        let _ = s.set_read_timeout(Some(Duration::from_secs(20)));
        let req = format!(
            "{method} /_sim/{path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{data}",
            data.len()
        );
        s.write_all(req.as_bytes())
            .unwrap_or_else(|e| panic!("sim control write: {e}"));
        let mut resp = Vec::new();
        s.read_to_end(&mut resp)
            .unwrap_or_else(|e| panic!("sim control read: {e}"));
        let text = String::from_utf8_lossy(&resp);
        let status = text
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let body = text.split_once("\r\n\r\n").map(|x| x.1).unwrap_or("");
        let v = serde_json::from_str(body).unwrap_or(Value::Null);
        (status, v)
    }

    /// The whole state (services carry their computed `state` up/down); time-driven
    /// changes (evacuations) are brought up to date first.
    pub fn state(&self) -> Value {
        self.control("GET", "state", None)
    }

    /// Replaces the state (same format as the start-up file).
    pub fn set_state(&self, state: &Value) {
        self.control("PUT", "state", Some(state));
    }

    /// Patches the config (max_microversion, page_cap, rebuild_time, latency_ms,
    /// token_ttl, service_down_time, xena_guard, glance_page_default).
    pub fn set_config(&self, patch: Value) {
        self.control("PATCH", "config", Some(&patch));
    }

    /// Back to the start-up state; faults, tokens and the request log are cleared.
    pub fn reset(&self) {
        self.control("POST", "reset", None);
    }

    /// The service record of `binary` on `host`, with its computed `state`.
    pub fn service(&self, host: &str, binary: &str) -> Value {
        self.state()["services"]
            .as_array()
            .and_then(|l| {
                l.iter()
                    .find(|s| s["host"] == host && s["binary"] == binary)
                    .cloned()
            })
            .unwrap_or_else(|| panic!("sim has no {binary} on {host}"))
    }

    /// Changes fields of a service record (status, disabled_reason, forced_down, alive,
    /// dead_since). `alive: true` after false counts as a nova-compute restart.
    pub fn set_service(&self, host: &str, binary: &str, patch: Value) -> Value {
        self.control("PATCH", &format!("services/{host}/{binary}"), Some(&patch))
    }

    /// nova-compute on `host` stopped reporting long ago: Nova sees it down.
    pub fn kill_compute(&self, host: &str) {
        self.set_service(host, "nova-compute", json!({"alive": false}));
    }

    /// nova-compute on `host` (re)started: it reports again, and its `done` evacuation
    /// records become `completed` (what lets Xena+ clear forced_down).
    pub fn restart_compute(&self, host: &str) {
        self.control("POST", &format!("compute-restart/{host}"), None);
    }

    /// Changes fields of a server record.
    pub fn set_server(&self, id: &str, patch: Value) -> Value {
        self.control("PATCH", &format!("servers/{id}"), Some(&patch))
    }

    pub fn servers(&self) -> Vec<Value> {
        list(&self.state(), "servers")
    }

    pub fn server(&self, id: &str) -> Value {
        self.servers()
            .into_iter()
            .find(|s| s["id"] == id)
            .unwrap_or_else(|| panic!("sim has no server {id}"))
    }

    /// Servers whose host is `host` now.
    pub fn servers_on(&self, host: &str) -> Vec<Value> {
        self.servers()
            .into_iter()
            .filter(|s| s["host"] == host)
            .collect()
    }

    pub fn migrations(&self) -> Vec<Value> {
        list(&self.state(), "migrations")
    }

    /// Waits until no evacuation is accepted/pre-migrating/running (bounded by `timeout`).
    pub fn wait_evacuations_settled(&self, timeout: Duration) -> Vec<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let m = self.migrations();
            if m.iter().all(|m| {
                !["accepted", "pre-migrating", "running"]
                    .contains(&m["status"].as_str().unwrap_or(""))
            }) {
                return m;
            }
            if Instant::now() > deadline {
                panic!("evacuations still running after {timeout:?}: {m:?}");
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Adds a fault; returns its id.
    pub fn fault(&self, f: Fault) -> u64 {
        self.control("POST", "faults", Some(&f.to_json()))["id"]
            .as_u64()
            .unwrap_or(0)
    }

    pub fn clear_faults(&self) {
        self.control("DELETE", "faults", None);
    }

    /// Latency added to every (non-control) request from now on.
    pub fn set_latency(&self, ms: u64) {
        self.control("PUT", "latency", Some(&json!({ "ms": ms })));
    }

    /// Every token issued so far expires now (the next use answers 401).
    pub fn expire_tokens(&self) {
        self.control("POST", "tokens/expire", None);
    }

    /// The request log, oldest first.
    pub fn requests(&self) -> Vec<Request> {
        list(&self.control("GET", "requests", None), "requests")
            .iter()
            .map(|r| Request {
                method: str_of(r, "method").unwrap_or_default(),
                path: str_of(r, "path").unwrap_or_default(),
                query: str_of(r, "query").unwrap_or_default(),
                service: str_of(r, "service").unwrap_or_default(),
                region: str_of(r, "region"),
                interface: str_of(r, "interface"),
                microversion: str_of(r, "microversion"),
                time: r["time"].as_f64().unwrap_or(0.0),
                status: r["status"].as_u64().map(|s| s as u16),
                had_secret: r["had_secret"].as_bool().unwrap_or(false),
                had_token: r["had_token"].as_bool().unwrap_or(false),
                fault: str_of(r, "fault"),
            })
            .collect()
    }

    pub fn clear_requests(&self) {
        self.control("DELETE", "requests", None);
    }

    /// The simulator's stderr so far (for assertion messages).
    pub fn stderr(&self) -> String {
        fs::read_to_string(self.dir.join("stderr")).unwrap_or_default()
    }
}

impl Drop for NovaSim {
    fn drop(&mut self) {
        // Child::kill signals the PID it spawned (SIGKILL), never a name
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn list(v: &Value, key: &str) -> Vec<Value> {
    v[key].as_array().cloned().unwrap_or_default()
}

fn str_of(v: &Value, key: &str) -> Option<String> {
    v[key].as_str().map(str::to_string)
}

fn openssl(args: &[&str], dir: &Path) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run openssl ({e}): apt-get install openssl (`make test` installs it)")
        });
    if !out.status.success() {
        panic!(
            "openssl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// A new CA (P-256) in `dir`: returns (`<name>.pem`, `<name>.key`).
pub fn generate_ca(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let cert = dir.join(format!("{name}.pem"));
    let key = dir.join(format!("{name}.key"));
    openssl(
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            &format!("/CN={name}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
            "-keyout",
            path_str(&key),
            "-out",
            path_str(&cert),
        ],
        dir,
    );
    (cert, key)
}

/// A server certificate for 127.0.0.1 and localhost signed by `ca` (key next to it).
pub fn generate_leaf(dir: &Path, ca: &Path, cn: &str) -> (PathBuf, PathBuf) {
    let ca_key = ca.with_extension("key");
    let key = dir.join("server.key");
    let csr = dir.join("server.csr");
    let cert = dir.join("server.pem");
    let ext = dir.join("server.ext");
    fs::write(
        &ext,
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n\
         extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .unwrap_or_else(|e| panic!("cannot write {}: {e}", ext.display()));
    openssl(
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-subj",
            &format!("/CN={cn}"),
            "-keyout",
            path_str(&key),
            "-out",
            path_str(&csr),
        ],
        dir,
    );
    openssl(
        &[
            "x509",
            "-req",
            "-in",
            path_str(&csr),
            "-CA",
            path_str(ca),
            "-CAkey",
            path_str(&ca_key),
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            path_str(&ext),
            "-out",
            path_str(&cert),
        ],
        dir,
    );
    (cert, key)
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("test paths are UTF-8")
}

/// An answer from the simulator's API (raw: status, headers, body).
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub text: String,
    pub body: Value,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A bare HTTP client for the simulator's semantics tests (not the client under test):
/// one token, the RegionOne/internal endpoints, the microversion given per call.
pub struct Api {
    agent: ureq::Agent,
    pub token: String,
    pub compute: String,
    pub image: String,
    pub identity: String,
}

impl NovaSim {
    fn agent(&self) -> ureq::Agent {
        let mut b = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(Duration::from_secs(20)));
        if let Some(ca) = &self.ca_file {
            let pem = fs::read(ca).unwrap_or_else(|e| panic!("cannot read {}: {e}", ca.display()));
            let cert = ureq::tls::Certificate::from_pem(&pem)
                .unwrap_or_else(|e| panic!("bad CA PEM {}: {e}", ca.display()));
            b = b.tls_config(
                ureq::tls::TlsConfig::builder()
                    .root_certs(ureq::tls::RootCerts::new_with_certs(&[cert]))
                    .build(),
            );
        }
        b.build().into()
    }

    /// An API client with no token yet.
    pub fn anonymous(&self) -> Api {
        Api {
            agent: self.agent(),
            token: String::new(),
            compute: self.compute_url("RegionOne", "internal"),
            image: format!("{}/RegionOne/internal/image", self.base_url()),
            identity: self.auth_url_v3(),
        }
    }

    /// An API client holding a project-scoped token for `creds` (password, by names).
    pub fn api(&self, creds: &Credentials) -> Api {
        let mut api = self.anonymous();
        let r = api.call(
            "POST",
            &format!("{}/auth/tokens", api.identity),
            None,
            Some(&password_auth(creds)),
        );
        assert_eq!(r.status, 201, "sim refused {}: {}", creds.username, r.text);
        api.token = r.header("X-Subject-Token").unwrap_or_default().to_string();
        api
    }
}

/// The Keystone v3 password-auth body for `creds` (user and project by name + domain name).
pub fn password_auth(creds: &Credentials) -> Value {
    json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
              "name": creds.username, "domain": {"name": creds.user_domain},
              "password": creds.password}}},
           "scope": {"project": {"name": creds.project_name,
                                 "domain": {"name": creds.project_domain}}}}})
}

impl Api {
    /// Any request; `mv` sets `OpenStack-API-Version: compute <mv>`.
    pub fn call(&self, method: &str, url: &str, mv: Option<&str>, body: Option<&Value>) -> Resp {
        let v = mv.map(|v| format!("compute {v}"));
        let headers: Vec<(&str, &str)> = v
            .as_deref()
            .map(|v| vec![("OpenStack-API-Version", v)])
            .unwrap_or_default();
        self.call_with(method, url, &headers, body)
    }

    /// Any request with these extra headers (e.g. only the legacy microversion header).
    pub fn call_with(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Resp {
        let mut b = ureq::http::Request::builder().method(method).uri(url);
        if !self.token.is_empty() {
            b = b.header("X-Auth-Token", &self.token);
        }
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let data = body.map(|b| b.to_string()).unwrap_or_default();
        if body.is_some() {
            b = b.header("Content-Type", "application/json");
        }
        let req = b
            .body(data)
            .unwrap_or_else(|e| panic!("bad request {method} {url}: {e}"));
        let mut resp = self
            .agent
            .run(req)
            .unwrap_or_else(|e| panic!("{method} {url} failed: {e}"));
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp {
            status,
            headers,
            text,
            body,
        }
    }

    /// A request that may fail at the transport level (faults that drop or hang).
    pub fn try_call(&self, method: &str, url: &str, timeout: Duration) -> Result<u16, String> {
        let req = ureq::http::Request::builder()
            .method(method)
            .uri(url)
            .header("X-Auth-Token", &self.token)
            .body(String::new())
            .map_err(|e| e.to_string())?;
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(timeout))
            .build()
            .into();
        let mut r = agent.run(req).map_err(|e| e.to_string())?;
        let status = r.status().as_u16();
        r.body_mut().read_to_string().map_err(|e| e.to_string())?;
        Ok(status)
    }

    /// A compute request, `path` relative to the v2.1 endpoint (e.g. "/os-services").
    pub fn nova(&self, method: &str, path: &str, mv: &str, body: Option<&Value>) -> Resp {
        self.call(method, &format!("{}{path}", self.compute), Some(mv), body)
    }

    /// A Glance request, `path` relative to the image endpoint (e.g. "/v2/images").
    pub fn glance(&self, method: &str, path: &str) -> Resp {
        self.call(method, &format!("{}{path}", self.image), None, None)
    }
}
