//! Reading /proc: host-visible PIDs of processes that live in a sandbox's PID namespace.
//!
//! A sandbox runs under `unshare --pid`, so every PID printed inside it (by a script,
//! `systemctl show -p MainPID`, ...) is namespace-local. The host side finds the real
//! PIDs here, from the namespace's init process downwards.

use std::fs;
use std::path::Path;
use std::process::Command;

/// A process identity that survives PID reuse: the PID plus its start time (clock ticks
/// since boot, field 22 of /proc/PID/stat).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcId {
    pub pid: u32,
    pub start: u64,
}

impl ProcId {
    pub fn of(pid: u32) -> Option<ProcId> {
        stat(pid).map(|s| ProcId {
            pid,
            start: s.start,
        })
    }

    /// Still running (a zombie counts as gone: it has ended, only its entry remains).
    pub fn is_alive(&self) -> bool {
        matches!(stat(self.pid), Some(s) if s.start == self.start && s.state != 'Z')
    }
}

pub struct Stat {
    pub state: char,
    pub ppid: u32,
    pub start: u64,
}

/// Parses /proc/PID/stat. The command name (field 2) may contain spaces and ')', so the
/// fixed fields are taken from after the last ')'.
pub fn stat(pid: u32) -> Option<Stat> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state): state=0, ppid=1, starttime (field 22) = 19
    Some(Stat {
        state: fields.first()?.chars().next()?,
        ppid: fields.get(1)?.parse().ok()?,
        start: fields.get(19)?.parse().ok()?,
    })
}

pub fn all_pids() -> Vec<u32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect()
}

/// Direct children of `pid` (this kernel has no /proc/PID/task/TID/children, so scan).
pub fn children(pid: u32) -> Vec<u32> {
    all_pids()
        .into_iter()
        .filter(|&p| matches!(stat(p), Some(s) if s.ppid == pid))
        .collect()
}

pub fn comm(pid: u32) -> Option<String> {
    fs::read_to_string(format!("/proc/{pid}/comm"))
        .ok()
        .map(|s| s.trim_end().to_string())
}

/// The PID namespace `pid` lives in, as the kernel names it (`pid:[4026532...]`).
pub fn pid_ns(pid: u32) -> Option<String> {
    fs::read_link(format!("/proc/{pid}/ns/pid"))
        .ok()
        .map(|p| p.to_string_lossy().into_owned())
}

/// Every process in the PID namespace whose init has host PID `init` (including init).
pub fn ns_members(init: u32) -> Vec<u32> {
    let Some(ns) = pid_ns(init) else {
        return Vec::new();
    };
    all_pids()
        .into_iter()
        .filter(|&p| pid_ns(p).as_deref() == Some(ns.as_str()))
        .collect()
}

/// Members of that namespace with their command names, for diagnostics and checks.
pub fn ns_processes(init: u32) -> Vec<(ProcId, String)> {
    ns_members(init)
        .into_iter()
        .filter_map(|p| Some((ProcId::of(p)?, comm(p)?)))
        .collect()
}

/// The host PID of the process that the namespace of `init` calls `ns_pid`: the last
/// field of a member's `NSpid:` line is its PID in the innermost namespace.
pub fn ns_to_host(init: u32, ns_pid: u32) -> Option<u32> {
    ns_members(init).into_iter().find(|&p| {
        let Ok(status) = fs::read_to_string(format!("/proc/{p}/status")) else {
            return false;
        };
        status
            .lines()
            .find_map(|l| l.strip_prefix("NSpid:"))
            .and_then(|l| l.split_whitespace().last())
            .and_then(|last| last.parse::<u32>().ok())
            == Some(ns_pid)
    })
}

/// Sends `signal` (a name like "KILL") to one PID. Only std is available to tests, so
/// this goes through kill(1).
pub fn kill(pid: u32, signal: &str) -> bool {
    Command::new("kill")
        .args(["-s", signal, &pid.to_string()])
        .stderr(std::process::Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Effective UID of this process (from /proc, to avoid needing libc).
pub fn euid() -> Option<u32> {
    let status = fs::read_to_string(Path::new("/proc/self/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}
