//! The runtime of fence agents (the programs pacemaker-fenced runs from /usr/sbin): options
//! arrive as `key=value` lines on stdin (or `--key=value` / `-o ACTION` arguments, as
//! fence-agents accept them by hand), the action is an option like any other (`action`,
//! or the legacy `option`; default `reboot`), meta-data is the fence-agents XML, and the
//! exit codes are the fence API's: 0 done / on, 1 failed, 2 off (status).
//!
//! Option values may be passwords: they never reach a log line or a Debug form.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::{BufRead, Read};

use crate::ocf::agent::{write_stderr, write_stdout};

crate::ocf_actions! {
    /// The fencer's actions (`monitor` and `status` are different questions: the device,
    /// and one target's power).
    pub enum FenceAction {
        Off = "off",
        On = "on",
        Reboot = "reboot",
        Status = "status",
        Monitor = "monitor",
        List = "list",
        ListStatus = "list-status",
        ValidateAll = "validate-all",
        Metadata = "metadata" | "meta-data",
    }
}

/// The fence API's exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FenceCode {
    /// Done, or (status) the target is on.
    Success = 0,
    Failed = 1,
    /// (status) the target is off.
    Off = 2,
}

#[derive(Debug, thiserror::Error)]
pub enum FenceError {
    /// An option that cannot work: reported, exit 1 (the fencer has no finer code).
    #[error("{0}")]
    Config(String),
    #[error("{0}")]
    Failed(String),
}

/// The options of one invocation.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct FenceOptions {
    values: BTreeMap<String, String>,
}

impl std::fmt::Debug for FenceOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Names only: values may be passwords.
        f.debug_set().entries(self.values.keys()).finish()
    }
}

impl FenceOptions {
    /// `key=value` lines; blank lines and `#` comments are skipped. A line without `=` is
    /// an error naming its number (never its text, which may hold a secret).
    pub fn parse(input: impl BufRead) -> Result<FenceOptions, FenceError> {
        let mut values = BTreeMap::new();
        for (n, line) in input.lines().enumerate() {
            let line = line.map_err(|e| FenceError::Config(format!("cannot read stdin: {e}")))?;
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((k, v)) = line.split_once('=') else {
                return Err(FenceError::Config(format!(
                    "stdin line {} is not key=value",
                    n + 1
                )));
            };
            values.insert(k.trim().to_string(), v.trim().to_string());
        }
        Ok(FenceOptions { values })
    }

    /// Command-line options: `--key=value`, `--key value`, `-o ACTION`, `-n TARGET`.
    pub fn from_args(args: &[String]) -> Result<FenceOptions, FenceError> {
        let mut values = BTreeMap::new();
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let (key, inline) = match arg.as_str() {
                "-o" => ("action".to_string(), None),
                "-n" => ("plug".to_string(), None),
                a if a.starts_with("--") => match a[2..].split_once('=') {
                    Some((k, v)) => (k.to_string(), Some(v.to_string())),
                    None => (a[2..].to_string(), None),
                },
                _ => {
                    return Err(FenceError::Config(
                        "arguments must be --key=value, -o ACTION or -n TARGET".into(),
                    ))
                }
            };
            let value = match inline {
                Some(v) => v,
                None => it
                    .next()
                    .cloned()
                    .ok_or_else(|| FenceError::Config(format!("option '{key}' needs a value")))?,
            };
            values.insert(key.replace('-', "_"), value);
        }
        Ok(FenceOptions { values })
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }

    /// The action asked for: `action`, else the legacy `option`, else `reboot`.
    pub fn action(&self) -> Result<FenceAction, FenceError> {
        use crate::ocf::Actions;
        let name = self
            .get("action")
            .or_else(|| self.get("option"))
            .unwrap_or("reboot");
        FenceAction::parse(name).ok_or_else(|| {
            FenceError::Config(format!(
                "unknown action '{}'",
                crate::ocf::params::printable(name)
            ))
        })
    }

    /// The node to fence: `plug`, `port` or `nodename`.
    pub fn target(&self) -> Option<&str> {
        self.get("plug")
            .or_else(|| self.get("port"))
            .or_else(|| self.get("nodename"))
    }
}

/// A fence agent of the suite.
pub trait FenceAgent: Sync {
    fn name(&self) -> &str;
    fn shortdesc(&self) -> &str;
    /// The fence-agents meta-data XML (`<resource-agent ...>` with its parameters).
    fn metadata(&self) -> Cow<'static, str>;
    /// Any action but meta-data, which the runtime answers.
    fn run(&self, action: FenceAction, opts: &FenceOptions) -> Result<FenceCode, FenceError>;
}

/// Run a fence agent: options from the arguments if any, else from stdin.
/// What of stdin is read for options at most.
const STDIN_MAX: u64 = 1 << 20;

pub fn run(agent: &dyn FenceAgent, args: &[String], stdin: impl Read) -> i32 {
    let opts = if args.is_empty() {
        // Options are a few short lines: a caller streaming more must not fill the memory.
        FenceOptions::parse(std::io::BufReader::new(stdin.take(STDIN_MAX)))
    } else {
        FenceOptions::from_args(args)
    };
    let result = opts.and_then(|o| {
        let action = o.action()?;
        if action == FenceAction::Metadata {
            return Ok(if write_stdout(&agent.metadata()) {
                FenceCode::Success
            } else {
                FenceCode::Failed
            });
        }
        agent.run(action, &o)
    });
    match result {
        Ok(code) => code as i32,
        Err(e) => {
            write_stderr(&format!("{}: {e}\n", agent.name()));
            FenceCode::Failed as i32
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stdin_options_comments_and_defaults() {
        let o = FenceOptions::parse(
            "# from stonith-ng\naction=off\nplug = node2\n\npassword=s3cret\n".as_bytes(),
        )
        .unwrap();
        assert_eq!(o.action().unwrap(), FenceAction::Off);
        assert_eq!(o.target(), Some("node2"));
        assert!(!format!("{o:?}").contains("s3cret"));
        let legacy = FenceOptions::parse("option=status\nport=n1\n".as_bytes()).unwrap();
        assert_eq!(legacy.action().unwrap(), FenceAction::Status);
        assert_eq!(legacy.target(), Some("n1"));
        let none = FenceOptions::parse("".as_bytes()).unwrap();
        assert_eq!(none.action().unwrap(), FenceAction::Reboot);
    }

    #[test]
    fn bad_lines_and_actions_are_errors_without_their_text() {
        let e = FenceOptions::parse("password s3cret\n".as_bytes()).unwrap_err();
        assert!(e.to_string().contains("line 1") && !e.to_string().contains("s3cret"));
        let o = FenceOptions::parse("action=explode\n".as_bytes()).unwrap();
        assert!(o.action().is_err());
    }

    #[test]
    fn arguments_as_fence_agents_take_them() {
        let args: Vec<String> = ["-o", "metadata", "--ip-address=1.2.3.4", "-n", "n3"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let o = FenceOptions::from_args(&args).unwrap();
        assert_eq!(o.action().unwrap(), FenceAction::Metadata);
        assert_eq!(o.get("ip_address"), Some("1.2.3.4"));
        assert_eq!(o.target(), Some("n3"));
        assert!(FenceOptions::from_args(&["x".to_string()]).is_err());
    }

    /// Says "off" for node2 and "on" for anyone else; power actions succeed.
    struct Dummy;

    impl FenceAgent for Dummy {
        fn name(&self) -> &str {
            "fence_dummy"
        }
        fn shortdesc(&self) -> &str {
            "test"
        }
        fn metadata(&self) -> Cow<'static, str> {
            Cow::Borrowed("<resource-agent name=\"fence_dummy\"/>")
        }
        fn run(&self, action: FenceAction, opts: &FenceOptions) -> Result<FenceCode, FenceError> {
            match (action, opts.target()) {
                (FenceAction::Status, Some("node2")) => Ok(FenceCode::Off),
                (FenceAction::Status, _) => Ok(FenceCode::Success),
                (_, None) => Err(FenceError::Config("no plug".into())),
                _ => Ok(FenceCode::Success),
            }
        }
    }

    #[test]
    fn the_runtime_maps_outcomes_to_the_fence_api_codes() {
        let run_with = |stdin: &str| run(&Dummy, &[], stdin.as_bytes());
        assert_eq!(run_with("action=status\nplug=node2\n"), 2);
        assert_eq!(run_with("action=status\nplug=node1\n"), 0);
        assert_eq!(run_with("action=off\nport=node1\n"), 0);
        assert_eq!(run_with("action=off\n"), 1);
        assert_eq!(run_with("action=explode\n"), 1);
        let args = [
            "-o".to_string(),
            "status".into(),
            "-n".into(),
            "node2".into(),
        ];
        assert_eq!(run(&Dummy, &args, "".as_bytes()), 2);
    }
}
