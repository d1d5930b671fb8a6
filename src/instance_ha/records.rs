//! Per-host, per-instance evacuation records in the state directory: what was selected,
//! what was asked of Nova, what failed and when to try again. Written atomically (aside,
//! fsync, rename) with mode 0600, so a SIGKILL at the operation's timeout never leaves half a
//! record. They are a cache of progress, not the truth: when they are lost (a failover, a
//! reboot of a controller) the agent resumes from Nova's markers and migration records.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

const MAGIC: &str = "ocfbox-evacuation-record 1";

/// First retry after this long, doubling per failure.
pub const BACKOFF_FIRST_S: u64 = 15;
/// Retries never wait longer than this.
pub const BACKOFF_MAX_S: u64 = 600;

/// Seconds to wait after the `failures`-th consecutive failure.
pub fn backoff_s(failures: u32) -> u64 {
    let shift = failures.saturating_sub(1).min(20);
    (BACKOFF_FIRST_S << shift).min(BACKOFF_MAX_S)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Selected, not (yet) accepted by Nova.
    Pending,
    /// Nova accepted the evacuation; its migration is not finished.
    Accepted,
    /// The migration is done.
    Done,
    /// The last attempt failed; retried at `next_try`.
    Failed,
}

impl Outcome {
    fn word(self) -> &'static str {
        match self {
            Outcome::Pending => "pending",
            Outcome::Accepted => "accepted",
            Outcome::Done => "done",
            Outcome::Failed => "failed",
        }
    }

    fn parse(w: &str) -> Option<Outcome> {
        Some(match w {
            "pending" => Outcome::Pending,
            "accepted" => Outcome::Accepted,
            "done" => Outcome::Done,
            "failed" => Outcome::Failed,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceRecord {
    pub outcome: Outcome,
    /// Evacuations Nova accepted for it.
    pub attempts: u32,
    /// Consecutive failures (the back-off's exponent).
    pub failures: u32,
    /// Epoch before which it is not tried again.
    pub next_try: u64,
    /// Reset to error once already (a stuck task_state or a state Nova refuses).
    pub reset: bool,
    /// Epoch of the last accepted evacuation.
    pub accepted_at: u64,
    /// The destination of the last attempt (a recovery::Target key).
    pub target: Option<String>,
    /// Destinations that failed in this round of the recovery method.
    pub tried: Vec<String>,
    /// The last failure, one line.
    pub error: String,
}

impl Default for InstanceRecord {
    fn default() -> Self {
        InstanceRecord {
            outcome: Outcome::Pending,
            attempts: 0,
            failures: 0,
            next_try: 0,
            reset: false,
            accepted_at: 0,
            target: None,
            tried: Vec::new(),
            error: String::new(),
        }
    }
}

impl InstanceRecord {
    /// Record a failure at `now`: back off, remember the destination as tried.
    pub fn fail(&mut self, now: u64, error: &str) {
        self.outcome = Outcome::Failed;
        self.failures += 1;
        self.next_try = now + backoff_s(self.failures);
        if let Some(t) = self.target.take() {
            if !self.tried.contains(&t) {
                self.tried.push(t);
            }
        }
        self.error = one_line(error);
    }

    pub fn waiting(&self, now: u64) -> bool {
        self.outcome == Outcome::Failed && now < self.next_try
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HostRecord {
    /// Nova service host.
    pub host: String,
    /// The attribute's key (the Pacemaker node name), when the request came from it.
    pub node: Option<String>,
    /// Epoch the request was first seen.
    pub requested: u64,
    /// The last reason logged for not evacuating yet (logged once, not every monitor).
    pub note: String,
    pub instances: BTreeMap<String, InstanceRecord>,
}

fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

fn token(s: &str) -> bool {
    !s.is_empty() && !s.contains(char::is_whitespace)
}

impl HostRecord {
    pub fn new(host: &str, node: Option<&str>, requested: u64) -> HostRecord {
        HostRecord {
            host: host.to_string(),
            node: node.map(str::to_string),
            requested,
            ..Default::default()
        }
    }

    fn render(&self) -> String {
        let mut out = format!(
            "{MAGIC}\nhost {}\nrequested {}\n",
            self.host, self.requested
        );
        if let Some(n) = self.node.as_deref().filter(|n| token(n)) {
            out.push_str(&format!("node {n}\n"));
        }
        if !self.note.is_empty() {
            out.push_str(&format!("note {}\n", one_line(&self.note)));
        }
        for (id, r) in &self.instances {
            if !token(id) {
                continue;
            }
            let target = r.target.as_deref().filter(|t| token(t)).unwrap_or("-");
            let tried: Vec<&str> = r
                .tried
                .iter()
                .map(String::as_str)
                .filter(|t| token(t) && !t.contains(','))
                .collect();
            let tried = if tried.is_empty() {
                "-".to_string()
            } else {
                tried.join(",")
            };
            out.push_str(&format!(
                "instance {id} {} {} {} {} {} {} {target} {tried} {}\n",
                r.outcome.word(),
                r.attempts,
                r.failures,
                r.next_try,
                u8::from(r.reset),
                r.accepted_at,
                one_line(&r.error)
            ));
        }
        out
    }

    fn parse(text: &str) -> Option<HostRecord> {
        let mut lines = text.lines();
        if lines.next()? != MAGIC {
            return None;
        }
        let mut rec = HostRecord::default();
        for line in lines {
            let (key, rest) = line.split_once(' ').unwrap_or((line, ""));
            match key {
                "host" => rec.host = rest.to_string(),
                "node" => rec.node = Some(rest.to_string()),
                "requested" => rec.requested = rest.parse().ok()?,
                "note" => rec.note = rest.to_string(),
                "instance" => {
                    let f: Vec<&str> = rest.splitn(10, ' ').collect();
                    if f.len() < 9 {
                        return None;
                    }
                    let r = InstanceRecord {
                        outcome: Outcome::parse(f[1])?,
                        attempts: f[2].parse().ok()?,
                        failures: f[3].parse().ok()?,
                        next_try: f[4].parse().ok()?,
                        reset: f[5] == "1",
                        accepted_at: f[6].parse().ok()?,
                        target: (f[7] != "-").then(|| f[7].to_string()),
                        tried: if f[8] == "-" {
                            Vec::new()
                        } else {
                            f[8].split(',').map(str::to_string).collect()
                        },
                        error: f.get(9).unwrap_or(&"").to_string(),
                    };
                    rec.instances.insert(f[0].to_string(), r);
                }
                _ => {}
            }
        }
        (!rec.host.is_empty()).then_some(rec)
    }
}

#[derive(Debug, thiserror::Error)]
#[error("cannot {what} {}: {source}", path.display())]
pub struct StoreError {
    what: &'static str,
    path: PathBuf,
    source: std::io::Error,
}

impl From<StoreError> for crate::ocf::OcfError {
    fn from(e: StoreError) -> Self {
        crate::ocf::OcfError::Generic(e.to_string())
    }
}

/// The directory of one NovaEvacuate resource's records, one file per host.
pub struct Store {
    dir: PathBuf,
}

impl Store {
    pub fn new(dir: PathBuf) -> Store {
        Store { dir }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, host: &str) -> PathBuf {
        self.dir.join(format!("{}.host", file_safe(host)))
    }

    /// Every readable record; a damaged file is skipped (the agent falls back to Nova).
    pub fn all(&self) -> Vec<HostRecord> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut out: Vec<HostRecord> = entries
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "host"))
            .filter_map(|e| std::fs::read_to_string(e.path()).ok())
            .filter_map(|t| HostRecord::parse(&t))
            .collect();
        out.sort_by(|a, b| a.host.cmp(&b.host));
        out
    }

    pub fn load(&self, host: &str) -> Option<HostRecord> {
        let text = std::fs::read_to_string(self.path(host)).ok()?;
        HostRecord::parse(&text).filter(|r| r.host == host)
    }

    pub fn save(&self, rec: &HostRecord) -> Result<(), StoreError> {
        let err = |what, path: &Path| {
            let path = path.to_path_buf();
            move |source| StoreError { what, path, source }
        };
        if !self.dir.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&self.dir)
                .map_err(err("create", &self.dir))?;
        }
        let path = self.path(&rec.host);
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(rec.render().as_bytes())?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)
        };
        write().map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            err("write", &path)(e)
        })
    }

    pub fn remove(&self, host: &str) -> Result<(), StoreError> {
        let path = self.path(host);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(err_remove(path, e)),
            _ => Ok(()),
        }
    }

    /// Remove the whole directory (stop).
    pub fn clear(&self) -> Result<(), StoreError> {
        match std::fs::remove_dir_all(&self.dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(err_remove(self.dir.clone(), e))
            }
            _ => Ok(()),
        }
    }
}

fn err_remove(path: PathBuf, source: std::io::Error) -> StoreError {
    StoreError {
        what: "remove",
        path,
        source,
    }
}

/// `name` as one file name of the state directory: anything but [A-Za-z0-9._-] becomes `_`
/// (node and host names come from outside).
pub fn file_safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn backoff_doubles_to_its_cap() {
        let v: Vec<u64> = (1..=8).map(backoff_s).collect();
        assert_eq!(v, vec![15, 30, 60, 120, 240, 480, 600, 600]);
        assert_eq!(backoff_s(u32::MAX), 600);
    }

    #[test]
    fn round_trip_private_and_damaged_files_skipped() {
        let dir = std::env::temp_dir().join(format!("ocfbox-records-{}", std::process::id()));
        let store = Store::new(dir.join("r"));
        let mut rec = HostRecord::new("cmp1.example.com", Some("cmp1"), 100);
        rec.note = "waiting\nfor Nova".into();
        let mut i = InstanceRecord {
            attempts: 1,
            target: Some("spare1".into()),
            ..Default::default()
        };
        i.fail(200, "HTTP 500 from POST /servers/x/action");
        assert_eq!(i.next_try, 215);
        assert_eq!(i.tried, vec!["spare1"]);
        assert!(i.waiting(210) && !i.waiting(215));
        rec.instances.insert("uuid-1".into(), i);
        rec.instances
            .insert("uuid-2".into(), InstanceRecord::default());
        store.save(&rec).unwrap();
        let mut expect = rec.clone();
        expect.note = "waiting for Nova".into();
        assert_eq!(store.load("cmp1.example.com"), Some(expect.clone()));
        assert_eq!(store.all(), vec![expect]);
        let mode = std::fs::metadata(store.path("cmp1.example.com"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "record readable by others: {mode:o}");
        std::fs::write(store.dir().join("bad.host"), "garbage").unwrap();
        assert_eq!(store.all().len(), 1);
        store.remove("cmp1.example.com").unwrap();
        store.remove("cmp1.example.com").unwrap();
        store.clear().unwrap();
        assert!(store.all().is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
