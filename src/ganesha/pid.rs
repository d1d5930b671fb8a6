//! Is the local ganesha.nfsd alive? Its pid file (wherever this version keeps it) names a
//! process, and that process must really be ganesha.nfsd: a stale pid file whose number was
//! reused by another program must not count as a running NFS server (glusterfs' ganesha_mon
//! only checked that /proc/<pid> existed).

use std::fmt;
use std::path::{Path, PathBuf};

/// Where ganesha writes its pid file, newest layout first: 2.7+ defaults to
/// /var/run/ganesha/ganesha.pid (GANESHA_PIDFILE_PATH), older packages used
/// /var/run/ganesha.pid, RHEL 6 /var/run/ganesha.nfsd.pid.
pub const DEFAULT_PIDFILES: &[&str] = &[
    "/var/run/ganesha/ganesha.pid",
    "/var/run/ganesha.pid",
    "/var/run/ganesha.nfsd.pid",
];

/// The daemon's name, as /proc/<pid>/comm and argv[0] show it.
pub const PROGRAM: &str = "ganesha.nfsd";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Liveness {
    Running { pid: u32, pidfile: PathBuf },
    Stopped(NotRunning),
}

/// Why ganesha.nfsd is not considered running; each names the file it looked at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotRunning {
    NoPidFile {
        searched: Vec<PathBuf>,
    },
    Unreadable {
        pidfile: PathBuf,
        error: String,
    },
    Empty {
        pidfile: PathBuf,
    },
    Garbage {
        pidfile: PathBuf,
        content: String,
    },
    Stale {
        pidfile: PathBuf,
        pid: u32,
    },
    NotGanesha {
        pidfile: PathBuf,
        pid: u32,
        program: String,
    },
}

impl fmt::Display for NotRunning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotRunning::NoPidFile { searched } => {
                let list: Vec<String> = searched.iter().map(|p| p.display().to_string()).collect();
                write!(f, "no ganesha pid file ({})", list.join(", "))
            }
            NotRunning::Unreadable { pidfile, error } => {
                write!(f, "cannot read {}: {error}", pidfile.display())
            }
            NotRunning::Empty { pidfile } => write!(f, "{} is empty", pidfile.display()),
            NotRunning::Garbage { pidfile, content } => {
                write!(f, "{} holds no pid: '{content}'", pidfile.display())
            }
            NotRunning::Stale { pidfile, pid } => {
                write!(
                    f,
                    "{} names pid {pid}, which is not running",
                    pidfile.display()
                )
            }
            NotRunning::NotGanesha {
                pidfile,
                pid,
                program,
            } => write!(
                f,
                "{} names pid {pid}, which is '{program}', not {PROGRAM}",
                pidfile.display()
            ),
        }
    }
}

/// Check the pid file `configured`, or else every default location: running when any of
/// them names a live ganesha.nfsd (an old file left by a previous package version must not
/// hide the current one). When none does, the reason comes from the first file found.
pub fn liveness(configured: Option<&Path>) -> Liveness {
    liveness_in(configured, Path::new("/proc"))
}

pub fn liveness_in(configured: Option<&Path>, proc_root: &Path) -> Liveness {
    let candidates: Vec<PathBuf> = match configured {
        Some(p) => vec![p.to_path_buf()],
        None => DEFAULT_PIDFILES.iter().map(PathBuf::from).collect(),
    };
    let mut first_problem = None;
    for pidfile in &candidates {
        match check_pidfile(pidfile, proc_root) {
            Ok(pid) => {
                return Liveness::Running {
                    pid,
                    pidfile: pidfile.clone(),
                }
            }
            Err(None) => {}
            Err(Some(problem)) => {
                first_problem.get_or_insert(problem);
            }
        }
    }
    Liveness::Stopped(first_problem.unwrap_or(NotRunning::NoPidFile {
        searched: candidates,
    }))
}

/// Ok(pid) for a live ganesha; Err(None) when the file does not exist.
fn check_pidfile(pidfile: &Path, proc_root: &Path) -> Result<u32, Option<NotRunning>> {
    // Only the first line counts, as ganesha writes "<pid>\n": 64 bytes are plenty, and no
    // more is read (pid_file=/dev/zero must not fill the memory, a FIFO must not hang).
    let content = match crate::ocf::file::read_head(pidfile, 64) {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(None),
        Err(e) => {
            return Err(Some(NotRunning::Unreadable {
                pidfile: pidfile.to_path_buf(),
                error: e.to_string(),
            }))
        }
    };
    let text = String::from_utf8_lossy(&content).into_owned();
    let first = text.lines().next().unwrap_or("").trim();
    if first.is_empty() {
        return Err(Some(NotRunning::Empty {
            pidfile: pidfile.to_path_buf(),
        }));
    }
    let pid = match first.parse::<u32>() {
        Ok(p) if p > 0 => p,
        _ => {
            return Err(Some(NotRunning::Garbage {
                pidfile: pidfile.to_path_buf(),
                content: crate::ocf::params::printable(first),
            }))
        }
    };
    match program_of(pid, proc_root) {
        None => Err(Some(NotRunning::Stale {
            pidfile: pidfile.to_path_buf(),
            pid,
        })),
        Some(names) if names.iter().any(|n| n == PROGRAM) => Ok(pid),
        Some(names) => Err(Some(NotRunning::NotGanesha {
            pidfile: pidfile.to_path_buf(),
            pid,
            program: crate::ocf::params::printable(names.first().map_or("", String::as_str)),
        })),
    }
}

/// The names a live (non-zombie) process goes by: its comm and the file name of argv[0].
/// None when there is no such process.
fn program_of(pid: u32, proc_root: &Path) -> Option<Vec<String>> {
    let dir = proc_root.join(pid.to_string());
    let stat = std::fs::read_to_string(dir.join("stat")).ok()?;
    // The state follows the last ')' (comm may itself contain parentheses).
    let state = stat.rsplit_once(')')?.1.trim_start().chars().next()?;
    if matches!(state, 'Z' | 'X' | 'x') {
        return None;
    }
    let mut names = Vec::new();
    if let Ok(comm) = std::fs::read_to_string(dir.join("comm")) {
        names.push(comm.trim_end_matches('\n').to_string());
    }
    if let Ok(cmdline) = std::fs::read(dir.join("cmdline")) {
        let argv0 = cmdline.split(|b| *b == 0).next().unwrap_or(&[]);
        let argv0 = String::from_utf8_lossy(argv0);
        if let Some(base) = Path::new(argv0.as_ref()).file_name() {
            names.push(base.to_string_lossy().into_owned());
        }
    }
    Some(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Tmp(PathBuf);
    impl Drop for Tmp {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    fn tmp(tag: &str) -> Tmp {
        let d = std::env::temp_dir().join(format!("ocfbox-pid-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Tmp(d)
    }
    /// A fake /proc entry for `pid`.
    fn fake_proc(root: &Path, pid: u32, comm: &str, state: char, argv0: &str) {
        let d = root.join(pid.to_string());
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("stat"), format!("{pid} ({comm}) {state} 1 2 3")).unwrap();
        std::fs::write(d.join("comm"), format!("{comm}\n")).unwrap();
        std::fs::write(d.join("cmdline"), format!("{argv0}\0-F\0")).unwrap();
    }

    #[test]
    fn every_pid_file_problem_is_told_apart() {
        let t = tmp("cases");
        let proc_root = t.0.join("proc");
        fake_proc(
            &proc_root,
            100,
            "ganesha.nfsd",
            'S',
            "/usr/bin/ganesha.nfsd",
        );
        fake_proc(&proc_root, 200, "sleep", 'S', "/bin/sleep");
        fake_proc(&proc_root, 300, "ganesha.nfsd", 'Z', "");
        let pf = t.0.join("ganesha.pid");
        let check = |content: Option<&str>| {
            match content {
                Some(c) => std::fs::write(&pf, c).unwrap(),
                None => {
                    let _ = std::fs::remove_file(&pf);
                }
            }
            liveness_in(Some(&pf), &proc_root)
        };
        assert!(matches!(
            check(Some("100\n")),
            Liveness::Running { pid: 100, .. }
        ));
        assert!(matches!(
            check(None),
            Liveness::Stopped(NotRunning::NoPidFile { .. })
        ));
        assert!(matches!(
            check(Some("")),
            Liveness::Stopped(NotRunning::Empty { .. })
        ));
        assert!(matches!(
            check(Some(" \n")),
            Liveness::Stopped(NotRunning::Empty { .. })
        ));
        assert!(matches!(
            check(Some("abc [ x")),
            Liveness::Stopped(NotRunning::Garbage { .. })
        ));
        assert!(matches!(
            check(Some("0")),
            Liveness::Stopped(NotRunning::Garbage { .. })
        ));
        assert!(matches!(
            check(Some("-5")),
            Liveness::Stopped(NotRunning::Garbage { .. })
        ));
        assert!(matches!(
            check(Some("999999")),
            Liveness::Stopped(NotRunning::Stale { pid: 999999, .. })
        ));
        assert!(matches!(
            check(Some("300")),
            Liveness::Stopped(NotRunning::Stale { pid: 300, .. })
        ));
        match check(Some("200")) {
            Liveness::Stopped(NotRunning::NotGanesha { pid, program, .. }) => {
                assert_eq!((pid, program.as_str()), (200, "sleep"))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn argv0_counts_when_comm_was_renamed() {
        let t = tmp("argv0");
        let proc_root = t.0.join("proc");
        fake_proc(&proc_root, 42, "ganesha-main", 'S', "/usr/bin/ganesha.nfsd");
        let pf = t.0.join("p");
        std::fs::write(&pf, "42\n").unwrap();
        assert!(matches!(
            liveness_in(Some(&pf), &proc_root),
            Liveness::Running { pid: 42, .. }
        ));
    }

    #[test]
    fn real_proc_our_own_pid_is_not_ganesha() {
        let t = tmp("self");
        let pf = t.0.join("p");
        std::fs::write(&pf, format!("{}\n", std::process::id())).unwrap();
        assert!(matches!(
            liveness(Some(&pf)),
            Liveness::Stopped(NotRunning::NotGanesha { .. })
        ));
    }
}
