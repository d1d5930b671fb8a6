//! The Nova host name from nova.conf, read as oslo.config reads it: the config file, then
//! every `*.conf` of the config dir in name order, the last `[DEFAULT] host` winning.
//! oslo.config's `$name` interpolation is not evaluated: a host that uses it is refused
//! with a message saying so (guessing it wrong would wait for, and enable, another host).

use std::fs;
use std::path::{Path, PathBuf};

/// nova.conf and friends are small; anything bigger is not one.
const MAX_FILE: u64 = 4 << 20;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NovaConfError {
    #[error("cannot read {path}: {detail}")]
    Read { path: String, detail: String },
    #[error(
        "{path}: [DEFAULT] host = {value} uses oslo.config interpolation ($name), which is not \
         supported here: set the agent's host parameter to the Nova host name"
    )]
    Interpolation { path: String, value: String },
    #[error("{path}: [DEFAULT] host '{value}' is not a host name")]
    BadHost { path: String, value: String },
}

/// The files oslo.config would read for `--config-file main --config-dir dir`, in order
/// (those that exist).
pub fn files(main: &Path, dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if main.exists() {
        out.push(main.to_path_buf());
    }
    if let Ok(rd) = fs::read_dir(dir) {
        let mut extra: Vec<PathBuf> = rd
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "conf"))
            .collect();
        extra.sort();
        out.extend(extra);
    }
    out
}

/// `[DEFAULT] host` of the last file that sets it, with that file; None when none does.
pub fn host(files: &[PathBuf]) -> Result<Option<(String, PathBuf)>, NovaConfError> {
    let mut found = None;
    for path in files {
        let text = read(path)?;
        if let Some(v) = default_host(&text) {
            found = Some((v, path.clone()));
        }
    }
    let Some((raw, path)) = found else {
        return Ok(None);
    };
    let shown = path.display().to_string();
    let value = unescape_dollars(&raw).ok_or_else(|| NovaConfError::Interpolation {
        path: shown.clone(),
        value: raw.clone(),
    })?;
    if !plain_host(&value) {
        return Err(NovaConfError::BadHost {
            path: shown,
            value: raw,
        });
    }
    Ok(Some((value, path)))
}

fn read(path: &Path) -> Result<String, NovaConfError> {
    let err = |detail: String| NovaConfError::Read {
        path: path.display().to_string(),
        detail,
    };
    let meta = fs::metadata(path).map_err(|e| err(e.to_string()))?;
    if !meta.is_file() {
        return Err(err("not a regular file".into()));
    }
    if meta.len() > MAX_FILE {
        return Err(err(format!("larger than {MAX_FILE} bytes")));
    }
    let bytes = fs::read(path).map_err(|e| err(e.to_string()))?;
    String::from_utf8(bytes).map_err(|_| err("not UTF-8 text".into()))
}

/// The raw value of `host` in `[DEFAULT]` (last one in the file), quotes removed.
fn default_host(text: &str) -> Option<String> {
    let mut section = String::new();
    let mut found: Option<String> = None;
    // a continuation line (leading whitespace) extends the previous key's value
    let mut in_host = false;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            if in_host {
                if let Some(v) = found.as_mut() {
                    v.push('\n');
                    v.push_str(trimmed);
                }
            }
            continue;
        }
        in_host = false;
        if let Some(rest) = trimmed.strip_prefix('[') {
            section = rest.trim_end_matches(']').trim().to_string();
            continue;
        }
        if section != "DEFAULT" {
            continue;
        }
        let Some(pos) = trimmed.find(['=', ':']) else {
            continue;
        };
        let (key, value) = (trimmed[..pos].trim(), trimmed[pos + 1..].trim());
        if key == "host" {
            found = Some(unquote(value).to_string());
            in_host = true;
        }
    }
    found
}

fn unquote(v: &str) -> &str {
    let b = v.as_bytes();
    if b.len() >= 2 && (b[0] == b'"' || b[0] == b'\'') && b[b.len() - 1] == b[0] {
        &v[1..v.len() - 1]
    } else {
        v
    }
}

/// oslo.config's `$$` is a literal `$`; any other `$` is interpolation (None).
fn unescape_dollars(v: &str) -> Option<String> {
    let mut out = String::new();
    let mut chars = v.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' {
            if chars.peek() == Some(&'$') {
                chars.next();
                out.push('$');
            } else {
                return None;
            }
        } else {
            out.push(c);
        }
    }
    Some(out)
}

pub fn plain_host(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 255
        && h.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        fs::write(&p, text).expect("write");
        p
    }

    fn tmp(label: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("ocfbox-novaconf-{label}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(d.join("nova.conf.d")).expect("mkdir");
        d
    }

    #[test]
    fn last_file_wins_in_oslo_order_and_other_sections_do_not_count() {
        let d = tmp("order");
        let main = write(
            &d,
            "nova.conf",
            "[DEFAULT]\n# host = commented\nhost = main.example.com\n[libvirt]\nhost = nope\n",
        );
        let cd = d.join("nova.conf.d");
        write(&cd, "20-b.conf", "[DEFAULT]\nhost=\"b.example.com\"\n");
        write(&cd, "10-a.conf", "[DEFAULT]\nhost = a.example.com\n");
        write(&cd, "30-c.conf.rpmsave", "[DEFAULT]\nhost = ignored\n");
        write(&cd, "40-d.conf", "[placement]\nhost = other-section\n");
        let f = files(&main, &cd);
        assert_eq!(f.len(), 4);
        let (h, from) = host(&f).expect("parse").expect("found");
        assert_eq!(h, "b.example.com");
        assert!(from.ends_with("20-b.conf"));
        // only the main file
        assert_eq!(
            host(&f[..1]).expect("parse").map(|x| x.0).as_deref(),
            Some("main.example.com")
        );
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn missing_key_missing_files_and_interpolation() {
        let d = tmp("missing");
        let main = write(
            &d,
            "nova.conf",
            "[DEFAULT]\ndebug = true\n[api]\nhost = x\n",
        );
        assert_eq!(host(&files(&main, &d.join("nope"))).expect("parse"), None);
        assert_eq!(
            files(&d.join("absent.conf"), &d.join("nope")),
            Vec::<PathBuf>::new()
        );
        let main = write(&d, "nova.conf", "[DEFAULT]\nhost = $my_ip\n");
        let e = host(&files(&main, &d.join("nope"))).expect_err("interpolation");
        assert!(
            e.to_string().contains("interpolation") && e.to_string().contains("host parameter"),
            "{e}"
        );
        let main = write(&d, "nova.conf", "[DEFAULT]\nhost = ${name}.x\n");
        assert!(matches!(
            host(&[main]),
            Err(NovaConfError::Interpolation { .. })
        ));
        let main = write(&d, "nova.conf", "[DEFAULT]\nhost = two words\n");
        assert!(matches!(host(&[main]), Err(NovaConfError::BadHost { .. })));
        let main = write(&d, "nova.conf", "[DEFAULT]\nhost = a\n  b\n");
        assert!(matches!(host(&[main]), Err(NovaConfError::BadHost { .. })));
        let _ = fs::remove_dir_all(&d);
    }
}
