//! One way to run an agent as pacemaker-execd does: a cleared environment built by
//! [`AgentEnv`] (the OCF basics, instance parameters, meta attributes), no stdin, its own
//! process group, and SIGKILL to that group at CRM_meta_timeout. The [`Run`] it returns
//! carries the exit code and the exit reason for assertions.
//!
//! ```ignore
//! let env = AgentEnv::execd(&log).instance("web").param("unit", "web").meta("timeout", "6000");
//! execd::run(&agent_path, "start", &env).expect(0, "start").reason_has("...");
//! ```

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What pacemaker-execd assumes when the operation names no timeout.
const DEFAULT_TIMEOUT_MS: u64 = 20_000;

/// An agent's whole environment, in order; a later value replaces an earlier one.
#[derive(Debug, Clone, Default)]
pub struct AgentEnv {
    vars: Vec<(String, String)>,
}

impl AgentEnv {
    /// Only PATH: for tests about what an agent does with a variable absent or present.
    pub fn bare() -> AgentEnv {
        AgentEnv::default().var("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
    }

    /// What pacemaker-execd gives every agent: PATH, the OCF basics, the exit-reason
    /// prefix, and log lines to `logfile` only (no syslog).
    pub fn execd(logfile: &Path) -> AgentEnv {
        AgentEnv::ocf()
            .var("OCF_EXIT_REASON_PREFIX", "ocf-exit-reason:")
            .var("HA_LOGFACILITY", "none")
            .var("HA_LOGFILE", &logfile.display().to_string())
    }

    /// PATH and the OCF basics, logging left to the agent's defaults (stderr).
    pub fn ocf() -> AgentEnv {
        AgentEnv::bare()
            .var("OCF_ROOT", "/usr/lib/ocf")
            .var("OCF_RA_VERSION_MAJOR", "1")
            .var("OCF_RA_VERSION_MINOR", "1")
    }

    pub fn var(mut self, key: &str, value: &str) -> AgentEnv {
        self.vars.retain(|(k, _)| k != key);
        self.vars.push((key.to_string(), value.to_string()));
        self
    }

    /// Variables by their full names.
    pub fn vars<K: AsRef<str>, V: AsRef<str>>(
        mut self,
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> AgentEnv {
        for (k, v) in vars {
            self = self.var(k.as_ref(), v.as_ref());
        }
        self
    }

    /// OCF_RESOURCE_INSTANCE.
    pub fn instance(self, name: &str) -> AgentEnv {
        self.var("OCF_RESOURCE_INSTANCE", name)
    }

    /// An instance parameter, OCF_RESKEY_<name>.
    pub fn param(self, name: &str, value: &str) -> AgentEnv {
        self.var(&format!("OCF_RESKEY_{name}"), value)
    }

    /// A meta attribute, OCF_RESKEY_CRM_meta_<name> (`timeout` in ms also sets when the
    /// run is SIGKILLed).
    pub fn meta(self, name: &str, value: &str) -> AgentEnv {
        self.var(&format!("OCF_RESKEY_CRM_meta_{name}"), value)
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.vars
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// CRM_meta_timeout, as pacemaker-execd enforces it.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(
            self.get("OCF_RESKEY_CRM_meta_timeout")
                .and_then(|v| v.parse().ok())
                .unwrap_or(DEFAULT_TIMEOUT_MS),
        )
    }

    /// Clear `cmd`'s environment and give it this one.
    pub fn apply<'c>(&self, cmd: &'c mut Command) -> &'c mut Command {
        cmd.env_clear()
            .envs(self.vars.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    }
}

/// One agent invocation's result.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The last `ocf-exit-reason:` line (the one Pacemaker keeps).
    pub fn reason(&self) -> String {
        self.stderr
            .lines()
            .filter_map(|l| l.strip_prefix("ocf-exit-reason:"))
            .next_back()
            .unwrap_or("")
            .to_string()
    }

    /// stdout then stderr, for messages and searches.
    pub fn text(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    #[track_caller]
    pub fn expect(&self, code: i32, what: &str) -> &Self {
        assert_eq!(
            self.code,
            code,
            "{what}: expected rc {code}, got {}\nreason: {}\nstderr:\n{}",
            self.code,
            self.reason(),
            self.stderr
        );
        self
    }

    #[track_caller]
    pub fn reason_has(&self, text: &str) -> &Self {
        assert!(
            self.reason().contains(text),
            "exit reason lacks {text:?}: {:?}\nstderr:\n{}",
            self.reason(),
            self.stderr
        );
        self
    }
}

/// Run `agent action` on this host with `env`, as pacemaker-execd would.
pub fn run(agent: &Path, action: &str, env: &AgentEnv) -> Run {
    let mut cmd = Command::new(agent);
    cmd.arg(action);
    let name = agent.file_name().unwrap_or_default().to_string_lossy();
    run_command(cmd, action, env, &format!("{name} {action}"))
}

/// Run a prepared command (an agent entered into a namespace, ocf-tester) with `env`, as
/// pacemaker-execd would; `action` is appended when not empty.
pub fn run_command(mut cmd: Command, action: &str, env: &AgentEnv, what: &str) -> Run {
    if !action.is_empty() {
        cmd.arg(action);
    }
    env.apply(&mut cmd);
    run_within(cmd, env.timeout(), what)
}

/// Own process group, SIGKILL to the group when `timeout` passes. Panics when that
/// happens: the agent did not return in time.
pub fn run_within(mut cmd: Command, timeout: Duration, what: &str) -> Run {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    let pgid = child.id() as i32;
    let reader = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = pipe.read_to_string(&mut s);
            s
        })
    };
    let out = reader(Box::new(child.stdout.take().expect("stdout")));
    let err = reader(Box::new(child.stderr.take().expect("stderr")));
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pgid),
                nix::sys::signal::Signal::SIGKILL,
            );
            let _ = child.wait();
            panic!(
                "{what} was still running at its CRM_meta_timeout ({timeout:?}): pacemaker-execd \
                 would have SIGKILLed it\nstderr:\n{}",
                err.join().unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Run {
        code: status.code().unwrap_or(-1),
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    }
}
