//! A health-check command: split like a shell splits words (quotes and backslashes), but
//! nothing is expanded or interpreted (`$(reboot)` is an argument, not a command
//! substitution), and run without a shell in its own process group with a time limit.

use std::path::Path;
use std::time::Duration;

use super::{one_line, HealthConfigError, HealthFailure};
use crate::ocf::process::{self, Invocation, ProcessError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandCheck {
    argv: Vec<String>,
}

impl CommandCheck {
    pub fn parse(line: &str) -> Result<Self, HealthConfigError> {
        let argv = split(line)
            .map_err(|why| HealthConfigError(format!("monitor_cmd cannot be split: {why}")))?;
        if argv.is_empty() {
            return Err(HealthConfigError("monitor_cmd is empty".into()));
        }
        Ok(CommandCheck { argv })
    }

    pub fn argv(&self) -> &[String] {
        &self.argv
    }

    /// Only the program: its arguments may carry a password.
    pub fn describe(&self) -> String {
        format!("command {}", crate::ocf::params::printable(&self.argv[0]))
    }

    pub fn run(&self, timeout: Duration) -> Result<String, HealthFailure> {
        // The agent's own parameters stay out of the child's environment: one of them
        // (a monitor_url with credentials) may be secret, and the command does not need them.
        let scrub: Vec<String> = std::env::vars_os()
            .filter_map(|(k, _)| k.into_string().ok())
            .filter(|k| k.starts_with("OCF_RESKEY_"))
            .collect();
        let scrub: Vec<&str> = scrub.iter().map(String::as_str).collect();
        let inv = Invocation {
            argv: &self.argv,
            env: &[],
            env_remove: &scrub,
        };
        let shown = self.describe();
        match process::run_invocation(&inv, timeout) {
            Ok(out) if out.success() => Ok(format!("{shown} succeeded")),
            Ok(out) => {
                let said = one_line(
                    if out.stderr.trim().is_empty() {
                        &out.stdout
                    } else {
                        &out.stderr
                    },
                    160,
                );
                let said = if said.is_empty() {
                    String::new()
                } else {
                    format!(": {said}")
                };
                Err(HealthFailure(format!(
                    "{shown} failed ({}){said}",
                    out.describe_status()
                )))
            }
            Err(ProcessError::TimedOut { after, .. }) => Err(HealthFailure(format!(
                "{shown} did not finish within {} ms",
                after.as_millis()
            ))),
            Err(e) => Err(HealthFailure(format!("{shown} could not run: {e}"))),
        }
    }

    /// The program exists and is executable here.
    pub fn check_local_prerequisites(&self) -> Result<(), HealthFailure> {
        let program = &self.argv[0];
        let found = if program.contains('/') {
            is_executable(Path::new(program))
        } else {
            std::env::var_os("PATH")
                .unwrap_or_else(|| "/usr/sbin:/usr/bin:/sbin:/bin".into())
                .to_string_lossy()
                .split(':')
                .filter(|d| !d.is_empty())
                .any(|d| is_executable(&Path::new(d).join(program)))
        };
        if found {
            Ok(())
        } else {
            Err(HealthFailure(format!(
                "monitor_cmd program '{}' is not installed or not executable on this node",
                crate::ocf::params::printable(program)
            )))
        }
    }
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Split `line` into words: blanks separate words; '…' keeps everything literally;
/// "…" keeps everything but lets a backslash escape `"`, `\`, `$` and `` ` ``; outside
/// quotes a backslash takes the next character literally. Nothing is expanded.
pub fn split(line: &str) -> Result<Vec<String>, &'static str> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err("a single quote is not closed"),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(e @ ('"' | '\\' | '$' | '`')) => word.push(e),
                            Some('\n') => {}
                            Some(other) => {
                                word.push('\\');
                                word.push(other);
                            }
                            None => return Err("a double quote is not closed"),
                        },
                        Some(c) => word.push(c),
                        None => return Err("a double quote is not closed"),
                    }
                }
            }
            '\\' => match chars.next() {
                Some('\n') => {}
                Some(e) => {
                    in_word = true;
                    word.push(e);
                }
                None => return Err("it ends with a lone backslash"),
            },
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(line: &str) -> Vec<String> {
        split(line).unwrap()
    }

    #[test]
    fn splits_words_and_honours_quotes() {
        assert_eq!(s("  curl -sf  http://x/ "), ["curl", "-sf", "http://x/"]);
        assert_eq!(s("a 'b c' \"d e\""), ["a", "b c", "d e"]);
        assert_eq!(s(r#"a "x\"y" 'it''s' b\ c"#), ["a", "x\"y", "its", "b c"]);
        assert_eq!(s(r#"say "\n""#), ["say", "\\n"]);
        assert_eq!(s("x '' y"), ["x", "", "y"]);
        assert_eq!(s(""), Vec::<String>::new());
    }

    #[test]
    fn nothing_is_expanded() {
        assert_eq!(
            s("echo $(reboot) `id` $HOME ~ *"),
            ["echo", "$(reboot)", "`id`", "$HOME", "~", "*"]
        );
        assert_eq!(s("a;b|c&&d"), ["a;b|c&&d"]);
    }

    #[test]
    fn unbalanced_input_is_an_error() {
        assert!(split("a 'b").is_err());
        assert!(split("a \"b").is_err());
        assert!(split("a \\").is_err());
        assert!(CommandCheck::parse("   ").is_err());
    }

    #[test]
    fn runs_without_a_shell_and_reports_the_answer() {
        let ok = CommandCheck::parse("sh -c 'exit 0'").unwrap();
        assert!(ok.run(Duration::from_secs(5)).is_ok());
        let bad = CommandCheck::parse("sh -c 'echo sick >&2; exit 3'").unwrap();
        let e = bad.run(Duration::from_secs(5)).unwrap_err();
        assert!(e.0.contains("exit status 3") && e.0.contains("sick"), "{e}");
        // A metacharacter is an argument: `echo` prints it, no shell runs `reboot`.
        let lit = CommandCheck::parse("echo $(reboot)").unwrap();
        assert!(lit.run(Duration::from_secs(5)).is_ok());
        let slow = CommandCheck::parse("sleep 5").unwrap();
        let e = slow.run(Duration::from_millis(200)).unwrap_err();
        assert!(e.0.contains("did not finish"), "{e}");
    }

    #[test]
    fn prerequisites_find_programs_on_path() {
        assert!(CommandCheck::parse("sh -c true")
            .unwrap()
            .check_local_prerequisites()
            .is_ok());
        assert!(CommandCheck::parse("/nonexistent/x")
            .unwrap()
            .check_local_prerequisites()
            .is_err());
        assert!(CommandCheck::parse("ocfbox-no-such-program")
            .unwrap()
            .check_local_prerequisites()
            .is_err());
    }

    #[test]
    fn description_hides_arguments() {
        let c = CommandCheck::parse("check --password s3cret").unwrap();
        assert!(!c.describe().contains("s3cret"));
    }
}
