//! The packages as an operator gets them. `make deb` and `make rpm` build the binary from
//! the source tarball with the vendored crates, offline; here they package the already-built
//! test binary instead (OCFBOX_PREBUILT, the one documented difference: a release build
//! with LTO takes minutes), and the tarball's offline part is proven on its own by
//! resolving every crate with no network and an empty cargo home.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{ocfbox_bin, output_text, programs, require_cmd, require_root, TempDir};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Run a packaging script with the test binary; the path it prints last.
fn package(script: &str, out: &Path) -> PathBuf {
    let o = Command::new(repo().join(script))
        .arg(out)
        .env("OCFBOX_PREBUILT", ocfbox_bin())
        .env("DEB_COMPRESSION", "gzip")
        .output()
        .expect("run the packaging script");
    assert!(o.status.success(), "{script}: {}", output_text(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    let path = PathBuf::from(stdout.lines().last().unwrap_or_default().trim());
    assert!(
        path.is_file(),
        "{script} made no package: {}",
        output_text(&o)
    );
    path
}

fn run(cmd: &[&str]) -> Result<String, String> {
    let o = Command::new(cmd[0])
        .args(&cmd[1..])
        .output()
        .map_err(|e| format!("{}: {e}", cmd[0]))?;
    if o.status.success() {
        Ok(String::from_utf8_lossy(&o.stdout).into_owned())
    } else {
        Err(format!("{}: {}", cmd.join(" "), output_text(&o)))
    }
}

/// Purges the package on drop, so a failing assertion leaves the machine as it was.
struct Installed;

impl Drop for Installed {
    fn drop(&mut self) {
        let _ = run(&["dpkg", "--purge", "ocfbox"]);
    }
}

#[test]
fn deb_installs_every_agent_where_pacemaker_finds_it_and_removes_without_a_trace() {
    require_root();
    require_cmd("dpkg-deb", "dpkg");
    require_cmd("lintian", "lintian");
    require_cmd("crm", "crmsh");
    require_cmd("stonith_admin", "pacemaker-cli-utils");
    assert!(
        run(&["dpkg-query", "-W", "-f=${Status}", "ocfbox"])
            .map(|s| !s.contains("installed"))
            .unwrap_or(true),
        "a package ocfbox is installed on this machine; this test installs and purges its own"
    );
    let tmp = TempDir::new("deb");
    // build.sh runs lintian --fail-on error on the result.
    let deb = package("packaging/deb/build.sh", tmp.path());
    let deb = deb.to_str().expect("UTF-8 path");

    let guard = Installed;
    run(&["dpkg", "-i", deb]).expect("dpkg -i");
    let listed = run(&["dpkg", "-L", "ocfbox"]).expect("dpkg -L");
    let progs = programs();
    for (name, kind) in &progs {
        match kind.as_str() {
            "ocf" => {
                let agent = format!("ocf:ocfbox:{name}");
                let md = run(&["crm_resource", "--show-metadata", &agent])
                    .unwrap_or_else(|e| panic!("{agent}: {e}"));
                assert!(md.contains(&format!("name=\"{name}\"")), "{agent}: {md}");
                run(&["man", "-w", &format!("ocf_ocfbox_{name}")])
                    .unwrap_or_else(|e| panic!("no man page for {agent}: {e}"));
            }
            "fence" => {
                let md = run(&["stonith_admin", "--metadata", "-a", name])
                    .unwrap_or_else(|e| panic!("stonith_admin --metadata -a {name}: {e}"));
                assert!(md.contains("<parameters"), "{name}: {md}");
                run(&["man", "-w", "8", name]).unwrap_or_else(|e| panic!("{name}: {e}"));
            }
            "alert" => {
                let path = format!("/usr/share/pacemaker/alerts/{name}");
                assert!(Path::new(&path).exists(), "{path} not installed");
                run(&["man", "-w", "8", name]).unwrap_or_else(|e| panic!("{name}: {e}"));
            }
            other => panic!("{name}: unknown kind {other}"),
        }
    }
    assert!(
        listed.contains("/usr/share/doc/ocfbox/examples/"),
        "{listed}"
    );
    // crm ra info for every OCF agent, in one crmsh run (a Python start each is slow).
    let ocf: Vec<&String> = progs
        .iter()
        .filter(|(_, k)| k == "ocf")
        .map(|(n, _)| n)
        .collect();
    let script = tmp.join("ra-info.crm");
    let lines: String = ocf
        .iter()
        .map(|n| format!("ra info ocf:ocfbox:{n}\n"))
        .collect();
    std::fs::write(&script, lines).expect("write crm script");
    let info = run(&["crm", "-f", script.to_str().expect("UTF-8 path")]).expect("crm ra info");
    for name in ocf {
        assert!(
            info.contains(&format!("(ocf:ocfbox:{name})")),
            "crm ra info ocf:ocfbox:{name} shows nothing:\n{info}"
        );
    }

    drop(guard);
    assert!(
        run(&["dpkg-query", "-W", "-f=${Status}", "ocfbox"])
            .map(|s| !s.contains(" installed"))
            .unwrap_or(true),
        "ocfbox still installed after --purge"
    );
    let left: Vec<&str> = listed
        .lines()
        .filter(|p| {
            let p = Path::new(p);
            // Shared directories (/usr/share/man/man7, ...) stay; everything of ours goes.
            (p.is_symlink() || p.is_file())
                || (p.is_dir() && (p.ends_with("ocfbox") || p.starts_with("/usr/share/doc/ocfbox")))
        })
        .collect();
    assert!(left.is_empty(), "left after dpkg --purge: {left:?}");
}

#[test]
fn rpm_file_list_has_the_binary_every_link_and_every_man_page() {
    require_cmd("rpmbuild", "rpm");
    let tmp = TempDir::new("rpm");
    let rpm = package("packaging/rpm.sh", tmp.path());
    let listing = run(&[
        "rpm",
        "-qp",
        "--qf",
        "[%{FILENAMES} %{FILEMODES:perms} %{FILELINKTOS}\n]",
        rpm.to_str().expect("UTF-8 path"),
    ])
    .expect("rpm -qp");
    let entry = |path: &str| {
        listing
            .lines()
            .find(|l| l.split_whitespace().next() == Some(path))
            .unwrap_or_else(|| panic!("{path} not in the rpm:\n{listing}"))
            .to_string()
    };
    assert!(entry("/usr/libexec/ocfbox/ocfbox").contains("-rwxr-xr-x"));
    assert!(entry("/usr/sbin/ocfbox").ends_with(" /usr/libexec/ocfbox/ocfbox"));
    for (name, kind) in programs() {
        let (link, page) = match kind.as_str() {
            "ocf" => (
                format!("/usr/lib/ocf/resource.d/ocfbox/{name}"),
                format!("/usr/share/man/man7/ocf_ocfbox_{name}.7"),
            ),
            "fence" => (
                format!("/usr/sbin/{name}"),
                format!("/usr/share/man/man8/{name}.8"),
            ),
            _ => (
                format!("/usr/share/pacemaker/alerts/{name}"),
                format!("/usr/share/man/man8/{name}.8"),
            ),
        };
        let line = entry(&link);
        assert!(
            line.starts_with(&format!("{link} l")) && line.ends_with(" /usr/libexec/ocfbox/ocfbox"),
            "{name}: not a link to the binary: {line}"
        );
        assert!(
            listing.lines().any(|l| l.starts_with(&page)),
            "{name}: man page {page} not in the rpm"
        );
    }
    let in_provider = listing
        .lines()
        .filter(|l| l.starts_with("/usr/lib/ocf/resource.d/ocfbox/"))
        .count();
    let ocf = programs().iter().filter(|(_, k)| k == "ocf").count();
    assert_eq!(in_provider, ocf, "one link per OCF agent, nothing else");
    assert!(
        listing.contains("/examples/"),
        "examples missing:\n{listing}"
    );
}

#[test]
fn source_tarball_resolves_every_crate_offline_from_its_vendor_dir() {
    require_root();
    require_cmd("unshare", "util-linux");
    let tmp = TempDir::new("dist");
    let o = Command::new(repo().join("packaging/dist.sh"))
        .arg(tmp.path())
        .env("UNPACKED", "1")
        .output()
        .expect("run packaging/dist.sh");
    assert!(o.status.success(), "dist.sh: {}", output_text(&o));
    let tree = PathBuf::from(
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .last()
            .unwrap_or_default(),
    );
    let config =
        std::fs::read_to_string(tree.join(".cargo/config.toml")).expect(".cargo/config.toml");
    assert!(
        config.contains("replace-with = \"vendored-sources\"") && config.contains("offline = true")
    );
    assert!(
        tree.join("vendor").is_dir(),
        "no vendor/ in the tarball's tree"
    );
    // No network (a fresh netns has only a down lo) and an empty cargo home (no registry
    // cache to fall back on): what cargo resolves now comes from vendor/ alone.
    let home = tmp.join("cargo-home");
    std::fs::create_dir_all(&home).expect("cargo home");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let o = Command::new("unshare")
        .args(["--net", "--"])
        .arg(&cargo)
        .args(["metadata", "--locked", "--offline", "--format-version", "1"])
        .current_dir(&tree)
        .env("CARGO_HOME", &home)
        .output()
        .expect("run cargo metadata");
    assert!(
        o.status.success(),
        "offline resolution failed: {}",
        output_text(&o)
    );
    let meta: serde_json::Value = serde_json::from_slice(&o.stdout).expect("cargo metadata JSON");
    let packages = meta["packages"].as_array().map(Vec::len).unwrap_or(0);
    assert!(packages > 50, "only {packages} packages resolved");
}
