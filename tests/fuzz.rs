//! The project's own fuzz suite: every program of the binary (whatever `ocfbox list` names:
//! a new one is picked up without being told), every action advertised and some that are
//! not, in hostile worlds: parameters from the meta-data and misspelt ones, hostile strings,
//! invalid UTF-8, huge values, garbage CRM_meta_* values and notify lists, broken log
//! targets, stdout/stderr closed or full, peers that are absent, hang, hang up or answer
//! garbage. Each case runs in its own namespaces on tmpfs (tests/common/case.rs).
//!
//! Properties, for every case:
//! - the exit code is in the kind's set (OCF: 0-9, 190, 191; fence: 0-2; alert: 0-1),
//!   never a signal;
//! - it ends by the operation's deadline plus a small margin;
//! - memory stays bounded (an address-space limit turns runaway growth into an abort);
//! - at most one exit reason on stderr, at the start of a line: only the agent's own;
//! - nothing written outside the scratch mounts, but where a parameter points;
//! - no process left behind.
//!
//! `make test` runs a fixed-seed sample (`fuzz::sample`); `make fuzz SEED=… CASES=…
//! [JOBS=…]` a campaign (`fuzz::campaign`, ignored otherwise), which writes a reproducer of
//! every finding under OCFBOX_FUZZ_OUT (default /tmp/ocfbox-fuzz-findings).

use crate::common;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::case::{self, Case, Outcome, Peer, Sink};

/// splitmix64: small, fast, and the same everywhere (a case is its seed).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// What the fuzz knows of a program: from `ocfbox list` and its meta-data.
#[derive(Debug, Clone)]
struct Program {
    name: String,
    kind: String,
    params: Vec<(String, String)>,
    actions: Vec<String>,
}

fn programs() -> Vec<Program> {
    let bin = case::case_bin();
    case::programs()
        .into_iter()
        .map(|(name, kind)| {
            let args: &[&str] = match kind.as_str() {
                "fence" => &["-o", "metadata"],
                "alert" => &[],
                _ => &["meta-data"],
            };
            let xml = if args.is_empty() {
                String::new()
            } else {
                let out = Command::new(&bin)
                    .arg(&name)
                    .args(args)
                    .output()
                    .expect("run meta-data");
                String::from_utf8_lossy(&out.stdout).into_owned()
            };
            let (mut params, mut actions) = (Vec::new(), Vec::new());
            if let Ok(doc) = roxmltree::Document::parse(&xml) {
                for n in doc.descendants() {
                    if n.has_tag_name("parameter") {
                        let ty = n
                            .children()
                            .find(|c| c.has_tag_name("content"))
                            .and_then(|c| c.attribute("type"))
                            .unwrap_or("string");
                        if let Some(p) = n.attribute("name") {
                            params.push((p.to_string(), ty.to_string()));
                        }
                    }
                    if n.has_tag_name("action") {
                        if let Some(a) = n.attribute("name") {
                            actions.push(a.to_string());
                        }
                    }
                }
            }
            Program {
                name,
                kind,
                params,
                actions,
            }
        })
        .collect()
}

const HOSTILE: &[&str] = &[
    "",
    " ",
    "ocf-exit-reason:forged",
    "x\nocf-exit-reason:forged",
    "\n\n",
    "../../etc/passwd",
    "/",
    "/dev/zero",
    "/dev/full",
    "/tmp/fifo",
    "/tmp/big",
    "/tmp/dir",
    "/tmp/dir/x",
    "/proc/self/mem",
    "/nonexistent/x",
    "-1",
    "0",
    "1",
    "18446744073709551616",
    "99999999999",
    "1e9",
    "yes",
    "garbage",
    "$(touch /pwned)",
    "`touch /pwned`",
    "; touch /pwned",
    "%s%n%x%p",
    "\\x00",
    "--help",
    "-o",
    "=",
    "a=b",
    "ü\u{202e}\u{0}",
    "unix:path=/run/dbus/system_bus_socket",
    "unix:path=/tmp/fifo",
    "tcp:host=127.0.0.1,port=8080",
    "http://127.0.0.1:8080/",
    "https://127.0.0.1:8080/v3",
    "http://[::1",
    "node1",
    "web.service",
    "../x.service",
    "@.service",
];

fn hostile(r: &mut Rng) -> OsString {
    match r.below(10) {
        0 => {
            // invalid UTF-8 (never NUL: the environment cannot hold it)
            let n = 1 + r.below(40) as usize;
            OsString::from_vec((0..n).map(|_| 1 + (r.next() % 255) as u8).collect())
        }
        1 if r.chance(30) => {
            // huge: past any sane limit, below the kernel's 128 KiB per string
            let unit = r.pick(HOSTILE).replace('\u{0}', "");
            let unit = if unit.is_empty() {
                "A".to_string()
            } else {
                unit
            };
            let n = 100_000 / unit.len().max(1);
            OsString::from(unit.repeat(n.max(1)))
        }
        _ => OsString::from(r.pick(HOSTILE).replace('\u{0}', "")),
    }
}

fn value_for(r: &mut Rng, ty: &str) -> OsString {
    if r.chance(45) {
        return hostile(r);
    }
    match ty {
        "integer" => OsString::from(format!("{}", r.below(200_000) as i64 - 10)),
        "boolean" => OsString::from(*r.pick(&["yes", "no", "true", "false", "1", "0", "maybe"])),
        _ => OsString::from(*r.pick(&["", "x", "node1", "/tmp/x", "web", "ganesha", "60"])),
    }
}

fn misspelt(r: &mut Rng, name: &str) -> String {
    let mut b: Vec<u8> = name.bytes().collect();
    match r.below(4) {
        0 if !b.is_empty() => {
            let i = r.below(b.len() as u64) as usize;
            b[i] = b'a' + r.below(26) as u8;
        }
        1 => b.extend_from_slice(b"_x"),
        2 => b.make_ascii_uppercase(),
        _ => {
            b.pop();
        }
    }
    String::from_utf8_lossy(&b).into_owned()
}

/// The deadline a case must keep, and the environment value that says it.
struct Timing {
    timeout_ms: u64,
    meta: Option<OsString>,
}

fn timing(r: &mut Rng) -> Timing {
    // Hanging peers wait the whole budget: budgets are mostly small to keep cases cheap
    // (a budget below the runtime's reserve is a case of its own: no time for anything).
    let ms = match r.below(100) {
        0..=87 => 1 + r.below(120),
        88..=96 => 120 + r.below(480),
        _ => 600 + r.below(1900),
    };
    Timing {
        timeout_ms: ms,
        meta: Some(OsString::from(ms.to_string())),
    }
}

const NOTIFY_KEYS: &[&str] = &[
    "type",
    "operation",
    "start_uname",
    "stop_uname",
    "active_uname",
    "inactive_uname",
    "master_uname",
    "slave_uname",
    "promote_uname",
    "demote_uname",
    "start_resource",
    "stop_resource",
    "active_resource",
    "inactive_resource",
    "available_uname",
    "all_uname",
];

/// One case, all of it drawn from `seed`.
fn generate(progs: &[Program], seed: u64) -> (Case, u64) {
    let mut r = Rng(seed);
    let p = r.pick(progs).clone();
    let common_actions = [
        "start",
        "stop",
        "monitor",
        "status",
        "notify",
        "reload",
        "promote",
        "demote",
        "migrate_to",
        "migrate_from",
        "validate-all",
        "meta-data",
        "usage",
        "methods",
        "off",
        "on",
        "reboot",
        "list",
    ];
    let mut args: Vec<OsString> = Vec::new();
    let mut env: Vec<(OsString, OsString)> =
        vec![("PATH".into(), "/usr/sbin:/usr/bin:/sbin:/bin".into())];
    let mut stdin = Vec::new();
    let peer = *r.pick(&[
        Peer::None,
        Peer::None,
        Peer::Hang,
        Peer::HangUp,
        Peer::Garbage,
    ]);
    let mut t = timing(&mut r);
    // A garbage budget means the agent's default, 20 s: rare, and never with a hanging peer.
    if r.below(10_000) < 5 && peer != Peer::Hang {
        t.meta = Some(if r.chance(50) {
            hostile(&mut r)
        } else {
            OsString::from("0")
        });
        t.timeout_ms = 20_000;
    }
    match p.kind.as_str() {
        "fence" => {
            let mut lines = Vec::new();
            let fence_actions: Vec<String> = if p.actions.is_empty() {
                common_actions.iter().map(|s| s.to_string()).collect()
            } else {
                p.actions.clone()
            };
            if r.chance(85) {
                lines.push(format!("action={}", r.pick(&fence_actions)).into_bytes());
            }
            for (name, ty) in &p.params {
                if r.chance(40) {
                    let mut l = name.clone().into_bytes();
                    l.push(b'=');
                    l.extend(value_for(&mut r, ty).into_vec());
                    lines.push(l);
                }
            }
            for _ in 0..r.below(3) {
                lines.push(hostile(&mut r).into_vec());
            }
            for l in lines {
                stdin.extend(l.into_iter().filter(|b| *b != b'\n'));
                stdin.push(b'\n');
            }
            if r.chance(10) {
                args.push(hostile(&mut r));
            }
            if let Some(v) = &t.meta {
                stdin.extend_from_slice(b"timeout=");
                stdin.extend(v.clone().into_vec());
                stdin.push(b'\n');
            }
        }
        "alert" => {
            for k in [
                "kind",
                "node",
                "rsc",
                "task",
                "desc",
                "rc",
                "status",
                "target_rc",
                "recipient",
                "timestamp",
                "interval",
                "attribute_name",
                "attribute_value",
                "nodeid",
                "version",
            ] {
                if r.chance(50) {
                    env.push((format!("CRM_alert_{k}").into(), hostile(&mut r)));
                }
            }
            if r.chance(10) {
                args.push(hostile(&mut r));
            }
        }
        _ => {
            let action: OsString = match r.below(100) {
                0..=74 if !p.actions.is_empty() => r.pick(&p.actions).clone().into(),
                0..=87 => (*r.pick(&common_actions)).into(),
                88..=97 => hostile(&mut r),
                _ => OsString::new(),
            };
            if !action.is_empty() || r.chance(50) {
                args.push(action);
            }
            if r.chance(3) {
                args.push(hostile(&mut r));
            }
            for (name, ty) in &p.params {
                if r.chance(50) {
                    env.push((format!("OCF_RESKEY_{name}").into(), value_for(&mut r, ty)));
                }
                if r.chance(5) {
                    env.push((
                        format!("OCF_RESKEY_{}", misspelt(&mut r, name)).into(),
                        value_for(&mut r, ty),
                    ));
                }
            }
            if r.chance(10) {
                let mut k = b"OCF_RESKEY_".to_vec();
                k.extend(
                    hostile(&mut r)
                        .into_vec()
                        .into_iter()
                        .filter(|b| *b != b'='),
                );
                env.push((OsString::from_vec(k), hostile(&mut r)));
            }
            if let Some(v) = &t.meta {
                env.push(("OCF_RESKEY_CRM_meta_timeout".into(), v.clone()));
            }
            let metas: &[(&str, u64)] = &[
                ("interval", 40),
                ("on_node", 50),
                ("on_node_uuid", 10),
                ("clone", 20),
                ("clone_max", 10),
                ("notify", 10),
                ("globally_unique", 10),
                ("op_target_rc", 5),
            ];
            for (m, pct) in metas {
                if r.chance(*pct) {
                    let v = match *m {
                        "interval" if r.chance(60) => {
                            OsString::from(*r.pick(&["0", "10000", "30000"]))
                        }
                        "on_node" if r.chance(50) => OsString::from(*r.pick(&["node1", "node2"])),
                        _ => hostile(&mut r),
                    };
                    env.push((format!("OCF_RESKEY_CRM_meta_{m}").into(), v));
                }
            }
            if r.chance(30) {
                for k in NOTIFY_KEYS {
                    if r.chance(40) {
                        let v = if r.chance(50) {
                            OsString::from(*r.pick(&[
                                "pre",
                                "post",
                                "start",
                                "stop",
                                "node1 node2",
                                "nfs-grace:0 nfs-grace:1",
                                " ",
                            ]))
                        } else {
                            hostile(&mut r)
                        };
                        env.push((format!("OCF_RESKEY_CRM_meta_notify_{k}").into(), v));
                    }
                }
            }
            for (k, pct) in [
                ("OCF_RESOURCE_INSTANCE", 70),
                ("OCF_RESOURCE_TYPE", 20),
                ("OCF_CHECK_LEVEL", 20),
                ("OCF_ROOT", 30),
                ("OCF_RA_VERSION_MAJOR", 20),
                ("HA_RSCTMP", 40),
                ("OCFBOX_SYSTEMD_MANAGER", 10),
                ("XDG_RUNTIME_DIR", 10),
                ("DBUS_SESSION_BUS_ADDRESS", 5),
            ] {
                if r.chance(pct) {
                    let v = match k {
                        "OCF_RESOURCE_INSTANCE" if r.chance(60) => OsString::from("nfs-mon:1"),
                        "OCF_CHECK_LEVEL" if r.chance(50) => {
                            OsString::from(*r.pick(&["0", "10", "20"]))
                        }
                        "OCF_ROOT" if r.chance(70) => OsString::from("/usr/lib/ocf"),
                        "HA_RSCTMP" if r.chance(60) => OsString::from("/run/resource-agents"),
                        "OCFBOX_SYSTEMD_MANAGER" if r.chance(50) => {
                            OsString::from(*r.pick(&["system", "user"]))
                        }
                        "XDG_RUNTIME_DIR" if r.chance(50) => OsString::from("/run/user/0"),
                        _ => hostile(&mut r),
                    };
                    env.push((k.into(), v));
                }
            }
        }
    }
    // Every kind: the log targets, the bus.
    let log_target = |r: &mut Rng| -> OsString {
        OsString::from(*r.pick(&[
            "/tmp/agents.log",
            "/tmp/fifo",
            "/dev/full",
            "/tmp/dir",
            "/nonexistent/x.log",
            "/dev/stderr",
            "/dev/null",
            "/proc/self/mem",
        ]))
    };
    if r.chance(60) {
        env.push((
            "HA_LOGFACILITY".into(),
            OsString::from(*r.pick(&["none", "daemon", "local7", "garbage", ""])),
        ));
    }
    if r.chance(50) {
        let v = if r.chance(80) {
            log_target(&mut r)
        } else {
            hostile(&mut r)
        };
        env.push(("HA_LOGFILE".into(), v));
    }
    if r.chance(30) {
        let v = if r.chance(80) {
            log_target(&mut r)
        } else {
            hostile(&mut r)
        };
        env.push(("HA_DEBUGLOG".into(), v));
    }
    if r.chance(40) {
        env.push((
            "HA_debug".into(),
            OsString::from(*r.pick(&["1", "0", "yes", "x"])),
        ));
    }
    if r.chance(15) {
        env.push(("HA_LOGTAG".into(), hostile(&mut r)));
    }
    if r.chance(70) {
        env.push(("OCF_EXIT_REASON_PREFIX".into(), "ocf-exit-reason:".into()));
    }
    if r.chance(60) {
        let v = match r.below(4) {
            0 => OsString::from("unix:path=/run/nobus"),
            1 => hostile(&mut r),
            _ => OsString::from("unix:path=/run/dbus/system_bus_socket"),
        };
        env.push(("DBUS_SYSTEM_BUS_ADDRESS".into(), v));
    }
    let sink = |r: &mut Rng| match r.below(20) {
        0 => Sink::Full,
        1 => Sink::Closed,
        2 => Sink::Gone,
        _ => Sink::File,
    };
    // The kernel takes no environment string over 128 KiB (E2BIG): a huge name with a huge
    // value is cut, as no caller could pass it either.
    for (k, v) in env.iter_mut() {
        let room = (120usize << 10).saturating_sub(k.len());
        if v.len() > room {
            let mut b = std::mem::take(v).into_vec();
            b.truncate(room);
            *v = OsString::from_vec(b);
        }
        if k.len() > 64 << 10 {
            let mut b = std::mem::take(k).into_vec();
            b.truncate(64 << 10);
            *k = OsString::from_vec(b);
        }
    }
    let mut c = Case::new(&p.name, &[]);
    c.args = args;
    c.env = env;
    c.stdin = stdin;
    c.stdout = sink(&mut r);
    c.stderr = sink(&mut r);
    c.peer = peer;
    c.fixtures = case::FIXTURES
        .iter()
        .copied()
        .filter(|_| r.chance(60))
        .collect();
    // Killed well past the margin, so that lateness is measured, not cut short.
    c.limit = Duration::from_millis(t.timeout_ms + MARGIN_MS + 5_000);
    (c, t.timeout_ms)
}

/// What "a small margin" past the deadline is: process start-up and exit on a busy
/// machine, and the reaping of a killed helper.
const MARGIN_MS: u64 = 1_500;

/// The properties; a description of every one the outcome breaks.
fn violations(p_kind: &str, case: &Case, timeout_ms: u64, out: &Outcome) -> Vec<String> {
    let mut v = Vec::new();
    let codes_ok = match p_kind {
        "fence" => (0..=2).contains(&out.rc),
        "alert" => (0..=1).contains(&out.rc),
        _ => (0..=9).contains(&out.rc) || out.rc == 190 || out.rc == 191,
    };
    if out.killed {
        v.push(format!(
            "still running {} ms past its deadline",
            out.elapsed.as_millis() as u64 - timeout_ms
        ));
    } else if out.rc >= 128 {
        v.push(format!("ended by signal {}", out.rc - 128));
    } else if !codes_ok {
        v.push(format!("exit code {} is not in the {p_kind} set", out.rc));
    }
    if out.elapsed > Duration::from_millis(timeout_ms + MARGIN_MS) && !out.killed {
        v.push(format!(
            "took {} ms for a {timeout_ms} ms deadline",
            out.elapsed.as_millis()
        ));
    }
    if out.maxrss_kb > 256 << 10 {
        v.push(format!("used {} MiB", out.maxrss_kb >> 10));
    }
    if case.stderr == Sink::File {
        let text = out.stderr_text();
        let n = out.reason_prefixes();
        let at_line_start = text
            .lines()
            .filter(|l| l.starts_with("ocf-exit-reason:"))
            .count();
        if n > 1 || n != at_line_start {
            v.push(format!("{n} exit-reason prefixes on stderr ({at_line_start} of them the agent's own lines)"));
        }
    }
    if !out.leftovers.is_empty() {
        v.push(format!("left processes behind: {:?}", out.leftovers));
    }
    // Writes where a value of the environment points are the configuration's doing
    // (nfs_dir=/x/nfs may leave /x/nfs.backup; HA_LOGFILE=../x.log is relative to the
    // working directory, /tmp), anything else is not.
    let pointed: Vec<std::path::PathBuf> = case
        .env
        .iter()
        .filter_map(|(_, v)| lexical(&v.to_string_lossy()))
        .collect();
    let stray: Vec<&String> = out
        .written
        .iter()
        .filter(|w| {
            !pointed
                .iter()
                .any(|p| points_at(p, std::path::Path::new(w)))
        })
        .collect();
    if !stray.is_empty() {
        v.push(format!("wrote outside the scratch area: {stray:?}"));
    }
    v
}

/// `value` as the absolute path it names from /tmp (the cases' working directory), `..`
/// resolved without touching the file system.
fn lexical(value: &str) -> Option<std::path::PathBuf> {
    use std::path::Component;
    if value.is_empty() || value.contains('\0') || value.contains('=') {
        return None;
    }
    let joined = std::path::Path::new("/tmp").join(value);
    let mut out = std::path::PathBuf::from("/");
    for c in joined.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(n) => out.push(n),
            _ => {}
        }
    }
    Some(out)
}

/// Does a write of `w` follow from a value naming `p`: `p` itself, under it, a sibling
/// named after it (`p.backup`), or a directory on the way to it.
fn points_at(p: &std::path::Path, w: &std::path::Path) -> bool {
    if p.parent().is_none() {
        // "/" itself: a file right in it (HA_RSCTMP=/), not the whole tree.
        return w.components().count() == 2;
    }
    let (ps, ws) = (p.to_string_lossy(), w.to_string_lossy());
    w.starts_with(p) || p.starts_with(w) || ws.starts_with(&format!("{ps}."))
}

struct Tally {
    run: AtomicU64,
    findings: Mutex<Vec<String>>,
}

/// Run cases `first..first+count` of `seed` on `jobs` threads; the findings.
fn campaign_run(
    seed: u64,
    count: u64,
    jobs: usize,
    out_dir: Option<&std::path::Path>,
) -> (u64, Vec<String>, Duration) {
    let progs = programs();
    assert!(!progs.is_empty(), "ocfbox list names no program");
    let kinds: BTreeMap<String, String> = progs
        .iter()
        .map(|p| (p.name.clone(), p.kind.clone()))
        .collect();
    let next = AtomicU64::new(0);
    let tally = Tally {
        run: AtomicU64::new(0),
        findings: Mutex::new(Vec::new()),
    };
    let began = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..jobs.max(1) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    break;
                }
                let case_seed = seed ^ i.wrapping_mul(0x2545_f491_4f6c_dd1d);
                let (c, timeout_ms) = generate(&progs, case_seed);
                let kind = kinds.get(&c.program).cloned().unwrap_or_default();
                let found = match c.run() {
                    Ok(out) => {
                        let v = violations(&kind, &c, timeout_ms, &out);
                        (!v.is_empty()).then(|| format!("{}\n{}", v.join("; "), out.describe()))
                    }
                    Err(e) => Some(format!("the sandbox failed: {e}")),
                };
                let n = tally.run.fetch_add(1, Ordering::Relaxed) + 1;
                if let Some(f) = found {
                    let report = format!(
                        "case {i} of seed {seed} (case seed {case_seed:#x}):\n{f}\nreproduce: {}\n",
                        c.reproducer()
                    );
                    let short: String = report.chars().take(3000).collect();
                    eprintln!("FUZZ FINDING {short}");
                    if let Some(dir) = out_dir {
                        let _ = std::fs::create_dir_all(dir);
                        let _ =
                            std::fs::write(dir.join(format!("seed{seed}-case{i}.txt")), &report);
                    }
                    tally
                        .findings
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(report);
                }
                if n.is_multiple_of(1000) {
                    eprintln!(
                        "fuzz: {n}/{count} cases, {} findings, {} s",
                        tally.findings.lock().map(|f| f.len()).unwrap_or(0),
                        began.elapsed().as_secs()
                    );
                }
            });
        }
    });
    let findings = tally
        .findings
        .into_inner()
        .unwrap_or_else(|e| e.into_inner());
    (tally.run.load(Ordering::Relaxed), findings, began.elapsed())
}

/// The fixed-seed sample of `make test` (every program appears: the draw is uniform over
/// them, and the sample is large enough; well under a minute on two cores), and the long
/// campaign of `make fuzz SEED=… CASES=… [JOBS=…]`, which sets the OCFBOX_FUZZ_* variables and
/// gets its reproducers written to OCFBOX_FUZZ_OUT.
#[test]
fn sample() {
    let var = |k: &str, d: u64| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let seed = var("OCFBOX_FUZZ_SEED", 12);
    let cases = var("OCFBOX_FUZZ_CASES", 400);
    let jobs = var("OCFBOX_FUZZ_JOBS", 2) as usize;
    let out = std::env::var_os("OCFBOX_FUZZ_OUT").map(std::path::PathBuf::from);
    let (run, findings, took) = campaign_run(seed, cases, jobs, out.as_deref());
    eprintln!(
        "FUZZ seed={seed} cases={run} jobs={jobs} time={} ms findings={}{}",
        took.as_millis(),
        findings.len(),
        out.as_ref()
            .map(|o| format!(" (reproducers in {})", o.display()))
            .unwrap_or_default()
    );
    assert!(
        findings.is_empty(),
        "{} findings:\n{}",
        findings.len(),
        findings.join("\n")
    );
}

/// Every program `ocfbox list` names is drawn, with no list kept here.
#[test]
fn every_program_in_the_binary_is_fuzzed() {
    let progs = programs();
    let mut seen = std::collections::BTreeSet::new();
    for i in 0..2000u64 {
        let (c, _) = generate(&progs, 12 ^ i.wrapping_mul(0x2545_f491_4f6c_dd1d));
        seen.insert(c.program);
    }
    let all: std::collections::BTreeSet<String> = progs.into_iter().map(|p| p.name).collect();
    assert_eq!(seen, all);
}
