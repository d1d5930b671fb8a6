//! The runtime drop-in the agent puts next to a cluster-controlled unit:
//! `<runtime unit dir>/<unit>.d/50-ocfbox.conf`.
//!
//! It lives under /run (the user manager: `$XDG_RUNTIME_DIR/systemd/user`), so it is gone
//! after a reboot, and drop-ins in /etc of the same name win over it. What it says:
//! - `Description=Cluster Controlled <unit>`: `systemctl status` shows who owns the unit;
//! - `Before=pacemaker.service pacemaker_remote.service`: at shutdown systemd stops the unit
//!   only after Pacemaker, which stops it first in cluster order;
//! - `Restart=no` (services): recovery is Pacemaker's job, and a unit systemd restarts
//!   behind its back confuses fail counts;
//! - `TimeoutStartSec`/`TimeoutStopSec` (services): a little less than the operation's
//!   budget, so systemd gives up (and kills the start, or SIGKILLs a hung stop) while the
//!   agent can still report why, instead of pacemaker-execd SIGKILLing the agent.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::names::UnitName;

pub const FILE_NAME: &str = "50-ocfbox.conf";

/// The drop-in for one unit, as it should read for one operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DropIn {
    pub path: PathBuf,
    pub content: String,
}

/// systemd's own job timeouts for an operation of `op_timeout` (CRM_meta_timeout): a quarter
/// less (at least 1.5 s, at most 10 s less; never under 1 s), so systemd gives up first,
/// well inside the agent's budget, and the agent still gets its JobRemoved and reports it. A function of the op
/// timeout alone: the same operation always writes the same file (and needs no reload).
pub fn systemd_timeout_for(op_timeout: Duration) -> Duration {
    let headroom = (op_timeout / 4).clamp(Duration::from_millis(1500), Duration::from_secs(10));
    let ms = op_timeout.saturating_sub(headroom).as_millis() as u64;
    Duration::from_millis(ms.max(1000))
}

impl DropIn {
    /// The drop-in for `unit` under the manager's runtime unit directory `root`. Both job
    /// timeouts come from the running operation (see the agent's documentation).
    pub fn new(root: &Path, unit: &UnitName, job_timeout: Duration) -> Self {
        let mut content = format!(
            "# Written by ocfbox for the cluster resource managing {unit}; removed when it stops.\n\
             [Unit]\n\
             Description=Cluster Controlled {unit}\n\
             Before=pacemaker.service pacemaker_remote.service\n"
        );
        if unit.is_service() {
            let ms = job_timeout.as_millis();
            content.push_str(&format!(
                "\n[Service]\nRestart=no\nTimeoutStartSec={ms}ms\nTimeoutStopSec={ms}ms\n"
            ));
        }
        DropIn {
            path: path_for(root, unit),
            content,
        }
    }

    /// Write the file atomically (temporary file + rename, mode 0644, directory 0755) unless
    /// it already has this content. Returns whether anything changed (then systemd needs a
    /// daemon reload).
    pub fn write_if_changed(&self) -> io::Result<bool> {
        if fs::read_to_string(&self.path).ok().as_deref() == Some(self.content.as_str()) {
            return Ok(false);
        }
        let dir = self
            .path
            .parent()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "drop-in has no dir"))?;
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(dir)?;
        // The umask may have narrowed a directory we just created; systemd runs as root,
        // but `systemctl cat` as a user should still show it.
        fs::set_permissions(dir, fs::Permissions::from_mode(0o755))?;
        let tmp = dir.join(format!(".{FILE_NAME}.{}.tmp", std::process::id()));
        let result = (|| {
            let mut f = fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o644)
                .open(&tmp)?;
            f.set_permissions(fs::Permissions::from_mode(0o644))?;
            f.write_all(self.content.as_bytes())?;
            f.sync_all()?;
            fs::rename(&tmp, &self.path)
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result.map(|()| true)
    }
}

/// `<root>/<unit>.d/50-ocfbox.conf`. `unit` is validated, so it has no `/` and fits NAME_MAX.
pub fn path_for(root: &Path, unit: &UnitName) -> PathBuf {
    root.join(format!("{unit}.d")).join(FILE_NAME)
}

/// Remove the unit's drop-in and its directory when that is left empty. Returns whether a
/// file was removed (then systemd needs a daemon reload).
pub fn remove(root: &Path, unit: &UnitName) -> io::Result<bool> {
    let path = path_for(root, unit);
    match fs::remove_file(&path) {
        Ok(()) => {
            if let Some(dir) = path.parent() {
                // Another drop-in (an operator's) keeps the directory: ENOTEMPTY is fine.
                let _ = fs::remove_dir(dir);
            }
            Ok(true)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    fn tmpdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("ocfbox-dropin-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn content_for_services_and_other_units() {
        let root = Path::new("/run/systemd/system");
        let svc = UnitName::parse("httpd").unwrap();
        let d = DropIn::new(root, &svc, Duration::from_millis(16_500));
        assert_eq!(
            d.path,
            Path::new("/run/systemd/system/httpd.service.d/50-ocfbox.conf")
        );
        assert!(d
            .content
            .contains("[Unit]\nDescription=Cluster Controlled httpd.service\nBefore=pacemaker.service pacemaker_remote.service\n"));
        assert!(d
            .content
            .contains("[Service]\nRestart=no\nTimeoutStartSec=16500ms\nTimeoutStopSec=16500ms\n"));
        let sock = UnitName::parse("x.socket").unwrap();
        let d = DropIn::new(root, &sock, Duration::from_secs(5));
        assert!(!d.content.contains("[Service]"));
        assert!(d
            .content
            .contains("Description=Cluster Controlled x.socket"));
    }

    #[test]
    fn systemd_timeout_leaves_headroom_inside_the_budget() {
        use crate::ocf::Deadline;
        for (op, want) in [
            (20_000, 15_000),
            (6_000, 4_500),
            (100_000, 90_000),
            (3_000, 1_500),
        ] {
            let op = Duration::from_millis(op);
            let t = systemd_timeout_for(op);
            assert_eq!(t, Duration::from_millis(want));
            // systemd's timeout fires while the agent's own budget still runs, with room
            // for the signal and the state read (the job wait keeps up to 0.5 s for it).
            let budget = Deadline::from_op_timeout(op).remaining();
            assert!(t + Duration::from_millis(800) < budget, "{op:?}");
        }
        assert_eq!(
            systemd_timeout_for(Duration::from_millis(300)),
            Duration::from_secs(1)
        );
    }

    #[test]
    fn write_is_atomic_idempotent_and_removable() {
        let root = tmpdir("w");
        let unit = UnitName::parse("demo").unwrap();
        let d = DropIn::new(&root, &unit, Duration::from_secs(10));
        assert!(d.write_if_changed().unwrap());
        assert!(
            !d.write_if_changed().unwrap(),
            "same content is not rewritten"
        );
        assert_eq!(fs::read_to_string(&d.path).unwrap(), d.content);
        assert_eq!(fs::metadata(&d.path).unwrap().mode() & 0o777, 0o644);
        let dir = d.path.parent().unwrap();
        assert_eq!(fs::metadata(dir).unwrap().mode() & 0o777, 0o755);
        let leftovers: Vec<_> = fs::read_dir(dir).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary file left behind");
        let changed = DropIn::new(&root, &unit, Duration::from_secs(20));
        assert!(changed.write_if_changed().unwrap());
        assert!(remove(&root, &unit).unwrap());
        assert!(!dir.exists());
        assert!(!remove(&root, &unit).unwrap(), "removing twice is fine");
        fs::remove_dir_all(&root).unwrap();
    }
}
