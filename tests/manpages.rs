//! `make man` writes one page per program from the program's own meta-data; each renders
//! with man(1) without a groff warning, has a whatis line mandb can index, and names every
//! parameter the meta-data declares — so the page an operator reads is the agent's truth.

use crate::common;

use std::path::Path;
use std::process::Command;

use common::{ocfbox_bin, output_text, programs, require_cmd, TempDir};

/// The parameter names of a meta-data document (OCF or fence-agents format).
fn declared_parameters(xml: &str) -> Vec<String> {
    let opts = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..Default::default()
    };
    let doc = roxmltree::Document::parse_with_options(xml, opts).expect("meta-data parses");
    doc.descendants()
        .filter(|n| n.has_tag_name("parameter"))
        .filter_map(|n| n.attribute("name").map(str::to_string))
        .collect()
}

fn metadata(name: &str, kind: &str) -> Option<String> {
    let args: &[&str] = match kind {
        "ocf" => &["meta-data"],
        "fence" => &["-o", "metadata"],
        _ => return None,
    };
    let out = Command::new(ocfbox_bin())
        .arg(name)
        .args(args)
        .output()
        .expect("run ocfbox");
    assert!(
        out.status.success(),
        "{name} meta-data: {}",
        output_text(&out)
    );
    Some(String::from_utf8(out.stdout).expect("meta-data is UTF-8"))
}

#[test]
fn every_program_has_a_page_that_renders_and_names_every_parameter() {
    require_cmd("man", "man-db");
    require_cmd("groff", "groff-base");
    require_cmd("lexgrog", "man-db");
    let tmp = TempDir::new("manpages");
    let out_dir = tmp.join("man");
    let made = Command::new("make")
        .arg("-s")
        .arg("-C")
        .arg(env!("CARGO_MANIFEST_DIR"))
        .arg("man")
        .arg(format!("BIN={}", ocfbox_bin().display()))
        .arg(format!("MANOUT={}", out_dir.display()))
        .output()
        .expect("make is installed");
    assert!(made.status.success(), "make man: {}", output_text(&made));

    let progs = programs();
    let pages = std::fs::read_dir(&out_dir).expect("MANOUT exists").count();
    assert_eq!(pages, progs.len(), "one page per program, nothing else");
    for (name, kind) in &progs {
        let file = match kind.as_str() {
            "ocf" => format!("ocf_ocfbox_{name}.7"),
            _ => format!("{name}.8"),
        };
        let page = out_dir.join(&file);
        assert!(page.is_file(), "{name}: no page {}", page.display());
        check_groff_is_silent(&page);
        check_whatis(&page, &file);
        let text = render(&page);
        for param in metadata(name, kind)
            .map(|m| declared_parameters(&m))
            .unwrap_or_default()
        {
            // A parameter is an entry of its own: its name starts a line of the page.
            assert!(
                text.lines().any(|l| {
                    let l = l.trim_start();
                    l.starts_with(&param)
                        && !l[param.len()..].starts_with(|c: char| c.is_alphanumeric() || c == '_')
                }),
                "{file}: parameter {param} has no entry in the rendered page:\n{text}"
            );
        }
        if kind == "ocf" {
            assert!(
                text.contains(&format!("ocf:ocfbox:{name}")),
                "{file}: the page does not name ocf:ocfbox:{name}"
            );
        }
    }
}

fn render(page: &Path) -> String {
    let out = Command::new("man")
        .arg("-l")
        .arg(page)
        .env("MANWIDTH", "200")
        .env("MAN_KEEP_FORMATTING", "")
        .env("MANPAGER", "cat")
        .env("PAGER", "cat")
        .output()
        .expect("run man");
    assert!(
        out.status.success(),
        "man -l {}: {}",
        page.display(),
        output_text(&out)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn check_groff_is_silent(page: &Path) {
    let out = Command::new("groff")
        .args(["-man", "-Tutf8", "-ww", "-z"])
        .arg(page)
        .output()
        .expect("run groff");
    let warnings = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && warnings.trim().is_empty(),
        "groff warns about {}: {warnings}",
        page.display()
    );
}

/// mandb (and so `whatis`/`apropos`) indexes the page by its NAME line.
fn check_whatis(page: &Path, file: &str) {
    let out = Command::new("lexgrog")
        .arg(page)
        .output()
        .expect("run lexgrog");
    let text = output_text(&out);
    let stem = file.rsplit_once('.').map(|(s, _)| s).unwrap_or(file);
    assert!(
        out.status.success() && text.contains(&format!("{stem} - ")),
        "{file}: no whatis entry: {text}"
    );
}
