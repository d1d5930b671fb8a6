//! What every agent provides, and the one place that turns an action's result into the
//! process exit code and the exit reason.

use std::borrow::Cow;
use std::io::IsTerminal;

use super::action::Actions;
use super::code::OcfCode;
use super::deadline::Deadline;
use super::env::OcfEnv;
use super::error::{OcfError, OcfResult};
use super::log;
use super::metadata;
use super::params::{ParamSpec, Params};

/// An OCF resource agent of the suite, with its own set of actions.
pub trait OcfAgent: Sync {
    /// The actions it implements (declared with [`crate::ocf_actions!`]).
    type Action: Actions;
    /// The name Pacemaker calls it by (the symlink's file name).
    fn name(&self) -> &str;
    /// The meta-data XML, complete with the ra-api-1.dtd DOCTYPE.
    fn metadata(&self) -> Cow<'static, str>;
    /// The parameters, as the meta-data declares them.
    fn params(&self) -> Cow<'static, [ParamSpec]>;
    /// Run one action (never `meta-data`, `usage` or an action the meta-data does not
    /// advertise: the runtime answers those).
    fn run(&self, action: Self::Action, ctx: &Context<'_>) -> OcfResult<OcfCode>;
}

/// What the registry holds of an agent: an [`OcfAgent`] without its action type.
pub trait Agent: Sync {
    fn name(&self) -> &str;
    fn metadata(&self) -> Cow<'static, str>;
    fn params(&self) -> Cow<'static, [ParamSpec]>;
    /// The action names its enum parses (the meta-data must advertise the same).
    fn action_names(&self) -> &'static [&'static str];
    /// Parse `ctx.action` and run it; OCF_ERR_UNIMPLEMENTED if it is none of the agent's.
    fn run_named(&self, ctx: &Context<'_>) -> OcfResult<OcfCode>;
}

impl<T: OcfAgent> Agent for T {
    fn name(&self) -> &str {
        OcfAgent::name(self)
    }

    fn metadata(&self) -> Cow<'static, str> {
        OcfAgent::metadata(self)
    }

    fn params(&self) -> Cow<'static, [ParamSpec]> {
        OcfAgent::params(self)
    }

    fn action_names(&self) -> &'static [&'static str] {
        T::Action::NAMES
    }

    fn run_named(&self, ctx: &Context<'_>) -> OcfResult<OcfCode> {
        match T::Action::parse(ctx.action) {
            Some(action) => self.run(action, ctx),
            None => Err(OcfError::Unimplemented(format!(
                "action '{}' is not implemented",
                super::params::printable(ctx.action)
            ))),
        }
    }
}

/// Everything an action needs to know about its invocation.
pub struct Context<'a> {
    pub agent: &'a str,
    pub action: &'a str,
    pub env: &'a OcfEnv,
    pub deadline: Deadline,
}

impl<'a> Context<'a> {
    pub fn new(agent: &'a str, action: &'a str, env: &'a OcfEnv) -> Self {
        Context {
            agent,
            action,
            env,
            deadline: Deadline::from_op_timeout(env.op_timeout()),
        }
    }

    pub fn params<'s>(&'s self, specs: &'s [ParamSpec]) -> Params<'s> {
        Params::new(specs, self.env)
    }

    pub fn is_probe(&self) -> bool {
        self.env.is_probe(self.action)
    }
}

pub fn usage(agent: &dyn Agent) -> String {
    let xml = agent.metadata();
    let actions = metadata::advertised_actions(&xml).join("|");
    format!("usage: {} {{{actions}}}\n", agent.name())
}

/// Write to stdout without panicking on a closed pipe (`ocfbox list | head`): report
/// whether it all went out.
pub fn write_stdout(text: &str) -> bool {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|_| out.flush())
        .is_ok()
}

/// Write to stderr, ignoring failure (closed, full, a reader gone: there is nowhere left to
/// report it, and the action must go on). Any exit-reason prefix in `text` is defanged:
/// only [`log::exit_reason`] writes the real one.
pub fn write_stderr(text: &str) {
    write_stderr_raw(&log::defang(text));
}

/// [`write_stderr`] as is, for the reason line itself.
pub(crate) fn write_stderr_raw(text: &str) {
    use std::io::Write;
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

fn printed(ok: bool) -> i32 {
    if ok {
        OcfCode::Success.as_i32()
    } else {
        OcfCode::ErrGeneric.as_i32()
    }
}

/// Run `action` of `agent` in this process's environment and return the exit code.
pub fn run_action(agent: &dyn Agent, action: Option<&str>) -> i32 {
    let Some(action) = action else {
        write_stderr(&usage(agent));
        return OcfCode::ErrUnimplemented.as_i32();
    };
    match action {
        // Pure: no parameters, no privileges, no writes, nothing but XML on stdout.
        "meta-data" => return printed(write_stdout(&agent.metadata())),
        "usage" | "help" | "--help" | "-h" => return printed(write_stdout(&usage(agent))),
        _ => {}
    }
    let xml = agent.metadata();
    if !metadata::advertised_actions(&xml).contains(&action)
        || !agent.action_names().contains(&action)
    {
        write_stderr(&format!(
            "{}{}: action '{}' is not implemented\n",
            usage(agent),
            agent.name(),
            super::params::printable(action)
        ));
        return OcfCode::ErrUnimplemented.as_i32();
    }

    let env = OcfEnv::from_process();
    log::init(log::LogConfig::from_env(
        &env,
        agent.name(),
        std::io::stdout().is_terminal(),
    ));
    let ctx = Context::new(agent.name(), action, &env);
    let specs = agent.params();
    for name in ctx.params(&specs).undeclared() {
        ::log::warn!(
            "ignoring parameter '{}': {} does not have it",
            super::params::printable(&name),
            agent.name()
        );
    }
    ::log::debug!(
        "{action} begins (timeout {} ms, interval {} ms)",
        env.op_timeout().as_millis(),
        env.interval_ms()
    );
    let code = finish(agent.run_named(&ctx));
    ::log::debug!("{action} returns {code}");
    code.as_i32()
}

/// The result of an action, as Pacemaker will read it.
pub fn finish(result: OcfResult<OcfCode>) -> OcfCode {
    match result {
        Ok(code) => code,
        Err(err) => {
            // A stopped resource is an ordinary monitor answer, not an error worth alarm.
            let level = match err {
                OcfError::NotRunning(_) => ::log::Level::Info,
                _ => ::log::Level::Error,
            };
            log::exit_reason(&err.to_string(), level);
            err.code()
        }
    }
}
