//! A connection check: the service's processes hold an ESTABLISHED TCP connection to each
//! of some remote ports (an OpenStack worker to its message bus, AMQP 5672, and to its
//! database, 3306). A worker that lost its bus still runs but does no work; this says so.
//! What openstack-resource-agents did with `netstat -punt | grep`, read from /proc: the
//! socket inodes of the main process and its descendants (workers are forked children),
//! matched against the TCP tables of the main process's network namespace.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use super::HealthFailure;

/// TCP state ESTABLISHED in /proc/net/tcp's `st` column.
const ESTABLISHED: &str = "01";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnCheck {
    /// (what, port): every one needs a connection.
    ports: Vec<(String, u16)>,
}

impl ConnCheck {
    /// `ports`: (what it is, e.g. "AMQP", remote port).
    pub fn new(ports: Vec<(String, u16)>) -> Self {
        ConnCheck { ports }
    }

    pub fn describe(&self) -> String {
        let list: Vec<String> = self
            .ports
            .iter()
            .map(|(what, port)| format!("{what} port {port}"))
            .collect();
        format!("an ESTABLISHED connection to {}", list.join(" and "))
    }

    /// Run against the service whose main process is `main_pid` (None: not known, a
    /// failure). /proc is read once; no timeout is needed.
    pub fn run(&self, main_pid: Option<u32>) -> Result<String, HealthFailure> {
        let Some(pid) = main_pid.filter(|p| *p != 0) else {
            return Err(HealthFailure(format!(
                "{}: the service has no main process",
                self.describe()
            )));
        };
        self.run_in(Path::new("/proc"), pid)
    }

    fn run_in(&self, proc: &Path, pid: u32) -> Result<String, HealthFailure> {
        let pids = with_descendants(proc, pid);
        let inodes: BTreeSet<u64> = pids.iter().flat_map(|p| socket_inodes(proc, *p)).collect();
        let mut remote_ports = BTreeSet::new();
        for table in ["tcp", "tcp6"] {
            let path = proc.join(pid.to_string()).join("net").join(table);
            if let Ok(text) = std::fs::read_to_string(&path) {
                remote_ports.extend(established_remote_ports(&text, &inodes));
            }
        }
        let missing: Vec<String> = self
            .ports
            .iter()
            .filter(|(_, port)| !remote_ports.contains(port))
            .map(|(what, port)| format!("{what} port {port}"))
            .collect();
        if missing.is_empty() {
            Ok(self.describe().replacen("an ESTABLISHED", "ESTABLISHED", 1))
        } else {
            Err(HealthFailure(format!(
                "no ESTABLISHED connection to {} from pid {pid} or its children ({} processes)",
                missing.join(" and "),
                pids.len()
            )))
        }
    }
}

/// `pid` and every process descending from it (by PPid in /proc/*/stat).
fn with_descendants(proc: &Path, pid: u32) -> Vec<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    if let Ok(dir) = std::fs::read_dir(proc) {
        for entry in dir.flatten() {
            let Some(p) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            if let Some(ppid) = std::fs::read_to_string(entry.path().join("stat"))
                .ok()
                .and_then(|s| parent_of(&s))
            {
                children.entry(ppid).or_default().push(p);
            }
        }
    }
    let mut out = vec![pid];
    let mut i = 0;
    while i < out.len() {
        if let Some(kids) = children.get(&out[i]) {
            out.extend(kids.iter().filter(|k| !out.contains(k)).collect::<Vec<_>>());
        }
        i += 1;
    }
    out
}

/// The PPid field of /proc/<pid>/stat (after the parenthesised command, which may hold
/// spaces and parentheses itself).
fn parent_of(stat: &str) -> Option<u32> {
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// The inodes of the sockets `pid` has open (`socket:[N]` fd links).
fn socket_inodes(proc: &Path, pid: u32) -> Vec<u64> {
    let Ok(dir) = std::fs::read_dir(proc.join(pid.to_string()).join("fd")) else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .filter_map(|l| {
            l.to_str()?
                .strip_prefix("socket:[")?
                .strip_suffix(']')?
                .parse()
                .ok()
        })
        .collect()
}

/// Remote ports of the ESTABLISHED connections in a /proc/net/tcp{,6} table whose socket
/// inode is one of `inodes`.
fn established_remote_ports(table: &str, inodes: &BTreeSet<u64>) -> Vec<u16> {
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            // sl local rem st tx:rx tr:when retrnsmt uid timeout inode
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 10 || f[3] != ESTABLISHED {
                return None;
            }
            let inode: u64 = f[9].parse().ok()?;
            if !inodes.contains(&inode) {
                return None;
            }
            u16::from_str_radix(f[2].rsplit_once(':')?.1, 16).ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::net::{TcpListener, TcpStream};

    #[test]
    fn tables_are_read_by_state_and_inode() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 0100007F:A1B2 0100007F:1628 01 00000000:00000000 00:00000000 00000000     0        0 4242 1 0\n\
   1: 0100007F:A1B3 0100007F:0CEA 06 00000000:00000000 00:00000000 00000000     0        0 4243 1 0\n\
   2: 0100007F:A1B4 0100007F:0CEA 01 00000000:00000000 00:00000000 00000000     0        0 9999 1 0\n";
        let inodes: BTreeSet<u64> = [4242, 4243].into();
        assert_eq!(established_remote_ports(table, &inodes), vec![5672]);
        assert_eq!(parent_of("12 (a b) c) S 7 12 12"), Some(7));
    }

    #[test]
    fn this_process_holding_a_connection_passes_and_a_missing_port_fails() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let _client = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let (mut served, _) = listener.accept().unwrap();
        let me = std::process::id();
        let ok = ConnCheck::new(vec![("AMQP".into(), port)]);
        assert!(ok.run(Some(me)).is_ok(), "{:?}", ok.run(Some(me)));
        // A port nobody connects to (the listener's own port is taken by the test only).
        let free = TcpListener::bind("127.0.0.1:0").unwrap();
        let unused = free.local_addr().unwrap().port();
        let bad = ConnCheck::new(vec![("AMQP".into(), port), ("database".into(), unused)]);
        let e = bad.run(Some(me)).unwrap_err();
        assert!(e.0.contains(&format!("database port {unused}")), "{e}");
        assert!(!e.0.contains(&format!("AMQP port {port}")), "{e}");
        assert!(ConnCheck::new(vec![]).run(None).is_err());
        let mut b = [0u8; 1];
        let _ = served.set_nonblocking(true);
        let _ = served.read(&mut b);
    }
}
