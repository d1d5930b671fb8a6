//! `make install` stages the binary once and one symlink per agent, honouring DESTDIR,
//! PREFIX and PROVIDER; `make uninstall` takes all of it back.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{agent_names, ocfbox_bin, programs, TempDir};

fn make(target: &str, destdir: &Path, extra: &[&str]) {
    let out = Command::new("make")
        .arg("-C")
        .arg(env!("CARGO_MANIFEST_DIR"))
        .arg(target)
        .arg(format!("DESTDIR={}", destdir.display()))
        .arg(format!("BIN={}", ocfbox_bin().display()))
        .args(extra)
        .output()
        .expect("make is installed");
    assert!(
        out.status.success(),
        "make {target} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() && !p.is_symlink() {
                out.extend(files_under(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn install_links_every_agent_and_uninstall_removes_everything() {
    let tmp = TempDir::new("install");
    let destdir = tmp.join("stage");
    make("install", &destdir, &[]);
    let binary = destdir.join("usr/libexec/ocfbox/ocfbox");
    assert!(
        binary.is_file(),
        "binary not staged at {}",
        binary.display()
    );
    let provider = destdir.join("usr/lib/ocf/resource.d/ocfbox");
    let names = agent_names();
    for agent in &names {
        let link = provider.join(agent);
        let target = std::fs::read_link(&link)
            .unwrap_or_else(|e| panic!("{} is not a symlink: {e}", link.display()));
        assert_eq!(target, Path::new("/usr/libexec/ocfbox/ocfbox"), "{agent}");
    }
    let staged_links = std::fs::read_dir(&provider).expect("provider dir").count();
    assert_eq!(
        staged_links,
        names.len(),
        "one link per agent, nothing else"
    );
    assert_eq!(
        std::fs::read_link(destdir.join("usr/sbin/ocfbox")).expect("sbin link"),
        Path::new("/usr/libexec/ocfbox/ocfbox")
    );
    // Each kind where Pacemaker looks for it: the fencer in /usr/sbin, alerts beside
    // Pacemaker's sample alerts.
    for (name, kind) in programs() {
        let dir = match kind.as_str() {
            "ocf" => "usr/lib/ocf/resource.d/ocfbox",
            "fence" => "usr/sbin",
            "alert" => "usr/share/pacemaker/alerts",
            other => panic!("{name}: unknown kind {other}"),
        };
        let link = destdir.join(dir).join(&name);
        assert_eq!(
            std::fs::read_link(&link).unwrap_or_else(|e| panic!("{}: {e}", link.display())),
            Path::new("/usr/libexec/ocfbox/ocfbox"),
            "{name}"
        );
    }

    make("uninstall", &destdir, &[]);
    let left = files_under(&destdir);
    assert!(left.is_empty(), "uninstall left {left:?}");
}

#[test]
fn prefix_and_provider_are_honoured() {
    let tmp = TempDir::new("install-custom");
    let destdir = tmp.join("stage");
    make("install", &destdir, &["PREFIX=/opt/ocf", "PROVIDER=acme"]);
    let first = agent_names().remove(0);
    let link = destdir.join("opt/ocf/lib/ocf/resource.d/acme").join(&first);
    let target = std::fs::read_link(&link).expect("agent link under the custom provider");
    assert_eq!(target, Path::new("/opt/ocf/libexec/ocfbox/ocfbox"));
}

/// Each kind goes where Pacemaker looks for it, and uninstall finds it there again: checked
/// with a stand-in binary whose `list` names one program of each kind (the suite has no
/// fence or alert agent yet).
#[test]
fn each_kind_is_linked_where_pacemaker_looks_for_it() {
    let tmp = TempDir::new("install-kinds");
    let fake = tmp.join("fake-ocfbox");
    common::write_executable(
        &fake,
        "#!/bin/sh\n[ \"$1\" = man ] && { printf '.TH X 7\\n'; exit 0; }\n\
         [ \"$1\" = list ] || exit 1\n\
         printf '%s\\n' 'Res ocf a resource' 'fence_x fence a fence agent' 'alert_y alert an alert'\n",
    );
    let destdir = tmp.join("stage");
    let bin = format!("BIN={}", fake.display());
    make("install", &destdir, &[&bin]);
    for (link, what) in [
        ("usr/lib/ocf/resource.d/ocfbox/Res", "OCF agent"),
        ("usr/sbin/fence_x", "fence agent"),
        ("usr/share/pacemaker/alerts/alert_y", "alert agent"),
    ] {
        assert_eq!(
            std::fs::read_link(destdir.join(link)).unwrap_or_else(|e| panic!("{what} {link}: {e}")),
            Path::new("/usr/libexec/ocfbox/ocfbox"),
            "{what}"
        );
    }
    for page in [
        "usr/share/man/man7/ocf_ocfbox_Res.7.gz",
        "usr/share/man/man8/fence_x.8.gz",
        "usr/share/man/man8/alert_y.8.gz",
    ] {
        assert!(destdir.join(page).is_file(), "man page {page} not staged");
    }
    make("uninstall", &destdir, &[&bin]);
    let left = files_under(&destdir);
    assert!(left.is_empty(), "uninstall left {left:?}");
}
