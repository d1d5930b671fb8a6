//! Small per-resource state files under HA_RSCTMP (default /run/resource-agents, a tmpfs:
//! they vanish at reboot together with the transient node attributes they describe).
//!
//! For pseudo-resources (ganesha_mon, ganesha_grace): nothing on the node shows whether
//! Pacemaker started them, so `start` writes the file with its `started` marker and `stop`
//! removes it, and a probe on a node where they never ran reports 7 (glusterfs' agents
//! claimed "running" everywhere).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::{Context, OcfError, OcfResult};

pub const DEFAULT_RSCTMP: &str = "/run/resource-agents";

/// The key whose presence says `start` ran on this node (its value: [`boottime_ms`]).
pub const STARTED: &str = "started";

pub struct StateFile {
    path: PathBuf,
}

impl StateFile {
    /// `<HA_RSCTMP>/ocfbox-<agent>-<instance>.state`; the clone suffix (`:N`) is dropped
    /// because the number of a node's instance is not stable.
    pub fn for_resource(ctx: &Context<'_>) -> StateFile {
        let dir = ctx.env.var("HA_RSCTMP").unwrap_or(DEFAULT_RSCTMP);
        let instance = ctx.env.resource_instance().unwrap_or(ctx.agent);
        let instance = instance.split(':').next().unwrap_or(instance);
        let safe: String = instance
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        StateFile {
            path: Path::new(dir).join(format!("ocfbox-{}-{safe}.state", ctx.agent)),
        }
    }

    pub fn at(path: PathBuf) -> StateFile {
        StateFile { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The recorded `key=value` lines; None when the file does not exist (not started).
    pub fn read(&self) -> OcfResult<Option<BTreeMap<String, String>>> {
        // Ours, small; bounded all the same (HA_RSCTMP could hold anything by that name).
        match super::file::read_limited(&self.path, 64 << 10) {
            Ok(bytes) => Ok(Some(
                String::from_utf8_lossy(&bytes)
                    .lines()
                    .filter_map(|l| l.split_once('='))
                    .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                    .collect(),
            )),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(OcfError::generic(format!(
                "cannot read state file {}: {e}",
                self.path.display()
            ))),
        }
    }

    /// Replace the file atomically (write aside, rename): a SIGKILL at the op timeout must
    /// never leave half a file.
    pub fn write(&self, values: &BTreeMap<String, String>) -> OcfResult<()> {
        let err = |what: &str, e: std::io::Error| {
            OcfError::generic(format!(
                "cannot {what} state file {}: {e}",
                self.path.display()
            ))
        };
        if let Some(dir) = self.path.parent() {
            if !dir.exists() {
                std::fs::create_dir_all(dir).map_err(|e| err("create the directory of", e))?;
            }
        }
        let tmp = self
            .path
            .with_extension(format!("tmp{}", std::process::id()));
        let mut text = String::new();
        for (k, v) in values {
            text.push_str(&format!("{k}={v}\n"));
        }
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
            std::fs::rename(&tmp, &self.path)
        };
        write().map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            err("write", e)
        })
    }

    /// Start of a pseudo-resource: the file anew, holding the `started` marker only.
    pub fn mark_started(&self) -> OcfResult<()> {
        let mut values = BTreeMap::new();
        values.insert(STARTED.to_string(), boottime_ms().to_string());
        self.write(&values)
    }

    /// The recorded values of a started resource; OCF_NOT_RUNNING when `start` did not run
    /// here (no file, or no marker in it).
    pub fn require_started(&self) -> OcfResult<BTreeMap<String, String>> {
        match self.read()? {
            Some(values) if values.contains_key(STARTED) => Ok(values),
            _ => Err(OcfError::NotRunning(format!(
                "not started on this node (no {})",
                self.path.display()
            ))),
        }
    }

    pub fn remove(&self) -> OcfResult<()> {
        match std::fs::remove_file(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(OcfError::generic(format!(
                "cannot remove state file {}: {e}",
                self.path.display()
            ))),
        }
    }
}

/// Milliseconds on CLOCK_BOOTTIME: the same clock in every process on the node, steady
/// across wall-clock changes and suspend-aware, and meaningless after a reboot, exactly
/// like the files in /run that record it.
pub fn boottime_ms() -> u64 {
    use nix::time::{clock_gettime, ClockId};
    clock_gettime(ClockId::CLOCK_BOOTTIME)
        .map(|t| (t.tv_sec() as u64).saturating_mul(1000) + (t.tv_nsec() as u64) / 1_000_000)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_absent() {
        let dir = std::env::temp_dir().join(format!("ocfbox-state-{}", std::process::id()));
        let f = StateFile::at(dir.join("x.state"));
        assert_eq!(f.read().unwrap(), None);
        let mut m = BTreeMap::new();
        m.insert("started".to_string(), "1".to_string());
        m.insert("pending".to_string(), "42".to_string());
        f.write(&m).unwrap();
        assert_eq!(f.read().unwrap(), Some(m));
        f.remove().unwrap();
        f.remove().unwrap();
        assert_eq!(f.read().unwrap(), None);
        assert!(matches!(f.require_started(), Err(OcfError::NotRunning(_))));
        f.mark_started().unwrap();
        assert!(f.require_started().unwrap().contains_key(STARTED));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn boottime_moves_forward() {
        let a = boottime_ms();
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert!(boottime_ms() > a);
    }
}
