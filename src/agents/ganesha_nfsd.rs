//! ganesha_nfsd: points the node's NFS state directory (/var/lib/nfs) at shared storage,
//! `<ha_vol_mnt>/nfs-ganesha/<dir>/nfs`, so that a surviving server can read the reclaim
//! records of a failed one. A clone; replaces glusterfs' ganesha_nfsd (same parameter).
//!
//! `<dir>` is found as glusterfs' agent and ganesha-ha.sh named it: the host name (with its
//! domain, `$(hostname)`), then the node name with the host's domain added, then the node
//! name; `node_dir` picks one of them instead. A link the old agent made to any of these is
//! this agent's own: a provider swap on a live cluster changes nothing on disk.
//!
//! start: the original directory is kept aside as `<nfs_dir>.backup` and the symlink put in
//! its place; a second start on a linked node changes nothing. stop: the link goes, the
//! original comes back. Nothing is ever deleted: where keeping data would need clobbering
//! something (a backup already there, a regular file in the way) start refuses and says why.
//! monitor: linked to the right target → 0, anything else → 7.

use std::borrow::Cow;
use std::io;
use std::path::{Path, PathBuf};

use crate::ocf::action::Basic as Action;
use crate::ocf::{Context, OcfAgent, OcfCode, OcfError, OcfResult, ParamSpec};
use crate::pacemaker;

pub struct GaneshaNfsd;

const SPECS: &[ParamSpec] = &[
    ParamSpec::string("ha_vol_mnt").default("/run/gluster/shared_storage"),
    ParamSpec::string("nfs_dir").default("/var/lib/nfs"),
    ParamSpec::string("node_dir").default("auto"),
];

impl OcfAgent for GaneshaNfsd {
    type Action = Action;

    fn name(&self) -> &str {
        "ganesha_nfsd"
    }

    fn metadata(&self) -> Cow<'static, str> {
        Cow::Borrowed(include_str!("../../ocf-metadata/ganesha_nfsd.xml"))
    }

    fn params(&self) -> Cow<'static, [ParamSpec]> {
        Cow::Borrowed(SPECS)
    }

    fn run(&self, action: Action, ctx: &Context<'_>) -> OcfResult<OcfCode> {
        let cfg = Config::read(ctx)?;
        match action {
            Action::Start => start(ctx, &cfg),
            Action::Stop => stop(&cfg),
            Action::Monitor => monitor(ctx, &cfg),
            Action::ValidateAll => Ok(OcfCode::Success),
        }
    }
}

struct Config {
    ha_vol_mnt: PathBuf,
    nfs_dir: PathBuf,
    backup: PathBuf,
    node_dir: NodeDir,
}

/// Which name the node's directory under nfs-ganesha/ has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NodeDir {
    /// The first of hostname, node name + domain, node name that exists.
    Auto,
    /// `$(hostname)`, as glusterfs' agent linked it.
    Hostname,
    /// The cluster's node name.
    NodeName,
}

impl Config {
    fn read(ctx: &Context<'_>) -> OcfResult<Config> {
        let p = ctx.params(SPECS);
        let ha_vol_mnt = absolute_path(&p.required_string("ha_vol_mnt")?, "ha_vol_mnt")?;
        let nfs_dir = absolute_path(&p.required_string("nfs_dir")?, "nfs_dir")?;
        if nfs_dir.parent().is_none() || nfs_dir.starts_with(&ha_vol_mnt) {
            return Err(OcfError::configured(format!(
                "parameter 'nfs_dir' ({}) must be a directory outside ha_vol_mnt, not the root",
                nfs_dir.display()
            )));
        }
        let mut backup = nfs_dir.clone().into_os_string();
        backup.push(".backup");
        let node_dir = match p.required_string("node_dir")?.trim() {
            "auto" => NodeDir::Auto,
            "hostname" => NodeDir::Hostname,
            "nodename" => NodeDir::NodeName,
            other => {
                return Err(OcfError::configured(format!(
                    "parameter 'node_dir' must be auto, hostname or nodename, got '{}'",
                    crate::ocf::params::printable(other)
                )))
            }
        };
        Ok(Config {
            ha_vol_mnt,
            nfs_dir,
            backup: PathBuf::from(backup),
            node_dir,
        })
    }

    /// `<ha_vol_mnt>/nfs-ganesha/<name>/nfs` for each name this node's directory may have,
    /// in the order they are tried (see the module comment), without duplicates.
    fn candidates(&self, ctx: &Context<'_>) -> OcfResult<Vec<PathBuf>> {
        let host = host_name();
        let names = match self.node_dir {
            NodeDir::Hostname => vec![host.map_err(OcfError::generic)?],
            NodeDir::NodeName => vec![node_name(ctx)?],
            NodeDir::Auto => {
                let node = node_name(ctx)?;
                let mut names = Vec::new();
                match host {
                    Ok(host) => {
                        // ganesha-ha.sh: the node name plus the host's domain, unless the
                        // node name already ends with it.
                        if let Some((_, domain)) = host.split_once('.') {
                            if !node.ends_with(&format!(".{domain}")) {
                                names.push(format!("{node}.{domain}"));
                            }
                        }
                        names.insert(0, host);
                    }
                    Err(e) => log::warn!("{e}; looking for the node name only"),
                }
                names.push(node);
                names
            }
        };
        let mut out: Vec<PathBuf> = Vec::new();
        for name in names {
            check_dir_name(&name)?;
            let path = self.ha_vol_mnt.join("nfs-ganesha").join(name).join("nfs");
            if !out.contains(&path) {
                out.push(path);
            }
        }
        Ok(out)
    }

    /// The node's directory: the first candidate that exists.
    fn target(&self, ctx: &Context<'_>) -> OcfResult<PathBuf> {
        let candidates = self.candidates(ctx)?;
        if let Some(found) = candidates.iter().find(|c| c.is_dir()) {
            return Ok(found.clone());
        }
        let tried: Vec<String> = candidates.iter().map(|c| c.display().to_string()).collect();
        Err(OcfError::generic(format!(
            "no shared NFS state directory for this node: tried {} (is {} mounted? node_dir={})",
            tried.join(", "),
            self.ha_vol_mnt.display(),
            match self.node_dir {
                NodeDir::Auto => "auto",
                NodeDir::Hostname => "hostname",
                NodeDir::NodeName => "nodename",
            }
        )))
    }
}

/// `$(hostname)`: the kernel's host name, with its domain when it has one.
fn host_name() -> Result<String, String> {
    nix::unistd::gethostname()
        .map_err(|e| format!("no host name: {e}"))
        .map(|h| h.to_string_lossy().into_owned())
}

fn check_dir_name(name: &str) -> OcfResult<()> {
    if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\0', '\n']) {
        return Err(OcfError::configured(format!(
            "node name '{}' cannot name a directory",
            crate::ocf::params::printable(name)
        )));
    }
    Ok(())
}

fn absolute_path(value: &str, name: &str) -> OcfResult<PathBuf> {
    let v = value.trim_end_matches('/');
    let bad = !value.starts_with('/')
        || v.is_empty()
        || value.chars().any(char::is_control)
        || Path::new(v)
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir));
    if bad {
        return Err(OcfError::configured(format!(
            "parameter '{name}' must be an absolute path without '..', got '{}'",
            crate::ocf::params::printable(value)
        )));
    }
    Ok(PathBuf::from(v))
}

/// The cluster's name for this node. Outside a cluster (a manual run, ocf-tester) the host
/// name, as glusterfs' agent always used.
fn node_name(ctx: &Context<'_>) -> OcfResult<String> {
    match pacemaker::local_node_name(ctx) {
        Ok(n) => Ok(n),
        Err(e) => {
            let host = host_name().map_err(|he| OcfError::generic(format!("{e}; and {he}")))?;
            log::warn!("{e}; using the host name '{host}' as the node name");
            Ok(host)
        }
    }
}

/// What is at a path, without following a symlink there.
enum Entry {
    Missing,
    Link(PathBuf),
    Dir,
    Other,
}

fn entry(path: &Path) -> OcfResult<Entry> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Entry::Missing),
        Err(e) => Err(fs_error("inspect", path, e)),
        Ok(m) if m.file_type().is_symlink() => std::fs::read_link(path)
            .map(Entry::Link)
            .map_err(|e| fs_error("read the link", path, e)),
        Ok(m) if m.is_dir() => Ok(Entry::Dir),
        Ok(_) => Ok(Entry::Other),
    }
}

fn fs_error(what: &str, path: &Path, e: io::Error) -> OcfError {
    OcfError::generic(format!("cannot {what} {}: {e}", path.display()))
}

/// Path equality ignores repeated and trailing slashes (`ln -s $MNT/…` with MNT ending in
/// a slash made such links).
fn same_target(link: &Path, target: &Path) -> bool {
    link == target
}

/// Put a symlink to `target` at `at` in one rename (created aside first), so `at` never
/// holds half a change.
fn link_into_place(cfg: &Config, target: &Path) -> OcfResult<()> {
    let mut tmp = cfg.nfs_dir.clone().into_os_string();
    tmp.push(".ocfbox-new");
    let tmp = PathBuf::from(tmp);
    // A leftover of a start killed halfway: only ever a symlink of ours.
    if let Entry::Link(_) = entry(&tmp)? {
        std::fs::remove_file(&tmp).map_err(|e| fs_error("remove", &tmp, e))?;
    }
    std::os::unix::fs::symlink(target, &tmp).map_err(|e| fs_error("create", &tmp, e))?;
    std::fs::rename(&tmp, &cfg.nfs_dir).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        fs_error("put the link in place at", &cfg.nfs_dir, e)
    })
}

fn set_aside(cfg: &Config) -> OcfResult<()> {
    std::fs::rename(&cfg.nfs_dir, &cfg.backup).map_err(|e| {
        fs_error(
            &format!("keep aside (as {})", cfg.backup.display()),
            &cfg.nfs_dir,
            e,
        )
    })
}

fn start(ctx: &Context<'_>, cfg: &Config) -> OcfResult<OcfCode> {
    // Linking to a directory that is not there would only move the failure to ganesha.
    let target = cfg.target(ctx)?;
    let backup_exists = !matches!(entry(&cfg.backup)?, Entry::Missing);
    match entry(&cfg.nfs_dir)? {
        Entry::Link(current) if same_target(&current, &target) => {
            log::info!(
                "{} already links to {}",
                cfg.nfs_dir.display(),
                target.display()
            );
        }
        Entry::Link(current) => {
            if backup_exists {
                // The original is safe in the backup; this link points at an old location
                // (ha_vol_mnt or the node name changed): a link holds no data.
                log::warn!(
                    "{} linked to {}; relinking it to {}",
                    cfg.nfs_dir.display(),
                    current.display(),
                    target.display()
                );
            } else {
                set_aside(cfg)?;
            }
            link_into_place(cfg, &target)?;
        }
        Entry::Dir => {
            if backup_exists {
                return Err(OcfError::generic(format!(
                    "both {} and {} exist: refusing to replace either (move one away by hand)",
                    cfg.nfs_dir.display(),
                    cfg.backup.display()
                )));
            }
            set_aside(cfg)?;
            link_into_place(cfg, &target)?;
            log::info!("{} kept as {}", cfg.nfs_dir.display(), cfg.backup.display());
        }
        Entry::Missing => link_into_place(cfg, &target)?,
        Entry::Other => {
            return Err(OcfError::generic(format!(
                "{} is neither a directory nor a symlink: refusing to replace it",
                cfg.nfs_dir.display()
            )))
        }
    }
    log::info!("{} -> {}", cfg.nfs_dir.display(), target.display());
    Ok(OcfCode::Success)
}

fn restore_backup(cfg: &Config) -> OcfResult<()> {
    std::fs::rename(&cfg.backup, &cfg.nfs_dir).map_err(|e| {
        fs_error(
            &format!("restore {} to", cfg.backup.display()),
            &cfg.nfs_dir,
            e,
        )
    })?;
    log::info!(
        "{} restored from {}",
        cfg.nfs_dir.display(),
        cfg.backup.display()
    );
    Ok(())
}

fn stop(cfg: &Config) -> OcfResult<OcfCode> {
    let backup_exists = !matches!(entry(&cfg.backup)?, Entry::Missing);
    match entry(&cfg.nfs_dir)? {
        Entry::Link(current) => {
            if !backup_exists && !current.starts_with(&cfg.ha_vol_mnt) {
                // Not a link of ours and nothing to restore: leave it as it is.
                log::info!(
                    "{} links to {}, not into {}: left alone",
                    cfg.nfs_dir.display(),
                    current.display(),
                    cfg.ha_vol_mnt.display()
                );
                return Ok(OcfCode::Success);
            }
            std::fs::remove_file(&cfg.nfs_dir)
                .map_err(|e| fs_error("remove the link", &cfg.nfs_dir, e))?;
            if backup_exists {
                restore_backup(cfg)?;
            }
        }
        // A start killed between its two renames left no link: the original is in the backup.
        Entry::Missing if backup_exists => restore_backup(cfg)?,
        Entry::Missing => {}
        Entry::Dir => {
            if backup_exists {
                log::warn!(
                    "{} is a directory and {} exists too: both left as they are",
                    cfg.nfs_dir.display(),
                    cfg.backup.display()
                );
            }
        }
        Entry::Other => log::warn!(
            "{} is neither a directory nor a symlink: left as it is",
            cfg.nfs_dir.display()
        ),
    }
    Ok(OcfCode::Success)
}

/// Linked to one of this node's candidate directories (the old agent's link included) → 0.
fn monitor(ctx: &Context<'_>, cfg: &Config) -> OcfResult<OcfCode> {
    let candidates = cfg.candidates(ctx)?;
    let expected = || {
        candidates
            .iter()
            .map(|c| c.display().to_string())
            .collect::<Vec<_>>()
            .join(" or ")
    };
    match entry(&cfg.nfs_dir)? {
        Entry::Link(current) if candidates.iter().any(|c| same_target(&current, c)) => {
            Ok(OcfCode::Success)
        }
        Entry::Link(current) => Err(OcfError::NotRunning(format!(
            "{} links to {}, not {}",
            cfg.nfs_dir.display(),
            current.display(),
            expected()
        ))),
        _ => Err(OcfError::NotRunning(format!(
            "{} is not a link to {}",
            cfg.nfs_dir.display(),
            expected()
        ))),
    }
}
