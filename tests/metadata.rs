//! Metadata discipline, for every agent `ocfbox list` names (a new agent is covered without
//! anyone adding it here): `meta-data` runs as user nobody with an empty environment, exits
//! 0, prints only XML with the ra-api-1.dtd DOCTYPE, writes nothing, and that XML validates
//! against both schemas Debian's resource-agents ships (the DTD ocf-tester uses, and
//! metadata.rng), widened by exactly what OCF 1.1 adds and the agents use on purpose: the
//! `reloadable` parameter attribute and the `reload-agent` action (SystemdService and the
//! presets, so a changed health-check parameter restarts nothing). Those two schemas predate
//! OCF 1.1; anything else they refuse is still a failure.

use crate::common;

use std::os::unix::fs::{symlink, PermissionsExt};
use std::process::Command;

use common::{agent_names, ocfbox_bin, require_cmd, require_file, require_root, TempDir};

const DTD: &str = "/usr/share/resource-agents/ra-api-1.dtd";
const RNG: &str = "/usr/share/resource-agents/metadata.rng";

#[test]
fn meta_data_as_nobody_with_empty_environment_is_valid_xml_for_both_schemas() {
    // meta-data runs as user nobody, which only root can arrange.
    require_root();
    require_file(DTD, "resource-agents");
    require_file(RNG, "resource-agents");
    require_cmd("xmllint", "libxml2-utils");
    require_cmd("setpriv", "util-linux");

    let dir = TempDir::new("metadata");
    // The binary itself must be reachable by nobody: copy it next to the links.
    let bin = dir.join("ocfbox");
    common::install_executable(&ocfbox_bin(), &bin);
    let empty_cwd = dir.join("cwd");
    std::fs::create_dir(&empty_cwd).expect("mkdir cwd");
    std::fs::set_permissions(&empty_cwd, std::fs::Permissions::from_mode(0o777)).expect("chmod");

    let (dtd, rng) = ocf_1_1_schemas(&dir);
    let mut failures = Vec::new();
    for agent in agent_names() {
        let link = dir.join(&agent);
        symlink(&bin, &link).expect("symlink");
        let out = Command::new("setpriv")
            .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"])
            .arg("env")
            .arg("-i")
            .arg(&link)
            .arg("meta-data")
            .current_dir(&empty_cwd)
            .output()
            .expect("run setpriv");
        if out.status.code() != Some(0) {
            failures.push(format!(
                "{agent}: meta-data as nobody exited {:?}",
                out.status
            ));
            continue;
        }
        if !out.stderr.is_empty() {
            failures.push(format!(
                "{agent}: meta-data wrote to stderr: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let xml = String::from_utf8_lossy(&out.stdout).to_string();
        if !xml.starts_with("<?xml") {
            failures.push(format!(
                "{agent}: stdout does not start with an XML declaration"
            ));
        }
        if !xml.contains("<!DOCTYPE resource-agent SYSTEM \"ra-api-1.dtd\">") {
            failures.push(format!("{agent}: no ra-api-1.dtd DOCTYPE"));
        }
        let file = dir.join(format!("{agent}.xml"));
        std::fs::write(&file, &xml).expect("write xml");
        for schema in [["--dtdvalid", dtd.as_str()], ["--relaxng", rng.as_str()]] {
            let check = Command::new("xmllint")
                .args(["--noout", schema[0], schema[1]])
                .arg(&file)
                .output()
                .expect("run xmllint");
            if !check.status.success() {
                failures.push(format!(
                    "{agent}: xmllint {} failed: {}",
                    schema[0],
                    String::from_utf8_lossy(&check.stderr)
                ));
            }
        }
        // Every timeout and interval carries a unit, as resource-agents' CI demands.
        for attr in [" timeout=\"", " interval=\"", " start-delay=\""] {
            for value in xml.split(attr).skip(1) {
                let value = value.split('"').next().unwrap_or("");
                let number = value.strip_suffix('s').unwrap_or("x");
                if number.parse::<u64>().is_err() {
                    failures.push(format!("{agent}:{attr}{value}\" lacks the s suffix"));
                }
            }
        }
    }
    let leftovers: Vec<_> = std::fs::read_dir(&empty_cwd)
        .expect("read cwd")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(leftovers.is_empty(), "meta-data wrote files: {leftovers:?}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The stock DTD and RNG with OCF 1.1's `reloadable` attribute and `reload-agent` action
/// added (and nothing else): their paths in `dir`.
fn ocf_1_1_schemas(dir: &TempDir) -> (String, String) {
    let dtd = std::fs::read_to_string(DTD).expect("read the DTD");
    let widened = dtd
        .replacen(
            "unique  (1|0)   \"0\">",
            "unique  (1|0)   \"0\"\n        reloadable  (1|0)   \"0\">",
            1,
        )
        .replacen("|reload|", "|reload|reload-agent|", 1);
    assert!(
        widened.contains("reloadable") && widened.contains("reload-agent"),
        "{DTD} changed shape: cannot add OCF 1.1's reloadable/reload-agent"
    );
    let rng = std::fs::read_to_string(RNG).expect("read the RNG");
    let anchor = "<attribute name=\"required\"> <ref name=\"boolean-values\" /> </attribute>\n\t\t\t</optional>";
    assert!(rng.contains(anchor), "{RNG} changed shape");
    // The RNG leaves action names free; only the parameter attribute is missing.
    let widened_rng = rng.replacen(
        anchor,
        &format!("{anchor}\n\t\t\t<optional><attribute name=\"reloadable\"> <ref name=\"boolean-values\" /> </attribute></optional>"),
        1,
    );
    let (d, r) = (dir.join("ra-api-1.1.dtd"), dir.join("metadata-1.1.rng"));
    std::fs::write(&d, widened).expect("write dtd");
    std::fs::write(&r, widened_rng).expect("write rng");
    (d.display().to_string(), r.display().to_string())
}
