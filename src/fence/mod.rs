//! The runtime of fence agents (the programs pacemaker-fenced runs from /usr/sbin): options
//! arrive as `key=value` lines on stdin (or `--key=value` / `-o ACTION` arguments, as
//! fence-agents accept them by hand), the action is an option like any other (`action`,
//! or the legacy `option`; default `reboot`), meta-data is the fence-agents XML, and the
//! exit codes are the fence API's: 0 done / on, 1 failed, 2 off (status).
//!
//! Option values may be passwords: they never reach a log line or a Debug form.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Read};

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

/// What a parameter's value is, as fence-agents' meta-data says it (`<content type=...>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Content {
    Str,
    Bool,
    Second,
    Integer,
}

impl Content {
    fn as_str(self) -> &'static str {
        match self {
            Content::Str => "string",
            Content::Bool => "boolean",
            Content::Second => "second",
            Content::Integer => "integer",
        }
    }
}

/// One option of a fence agent: its stdin name, the older names it still answers to
/// (fence-agents lists those with `deprecated="1"`), its command-line spelling.
#[derive(Debug, Clone, Copy)]
pub struct FenceParam {
    pub name: &'static str,
    pub deprecated: &'static [&'static str],
    pub short: Option<char>,
    /// The long option without `--` (`auth-url`).
    pub long: &'static str,
    /// The value's placeholder in `--help` and `<getopt>` (`url`); None: a flag.
    pub value: Option<&'static str>,
    pub content: Content,
    pub default: Option<&'static str>,
    pub required: bool,
    /// A password: warned about on the command line, never logged.
    pub secret: bool,
    pub shortdesc: &'static str,
}

impl FenceParam {
    pub const fn string(name: &'static str, long: &'static str, shortdesc: &'static str) -> Self {
        FenceParam {
            name,
            deprecated: &[],
            short: None,
            long,
            value: Some("value"),
            content: Content::Str,
            default: None,
            required: false,
            secret: false,
            shortdesc,
        }
    }

    pub const fn flag(name: &'static str, long: &'static str, shortdesc: &'static str) -> Self {
        FenceParam {
            value: None,
            content: Content::Bool,
            ..FenceParam::string(name, long, shortdesc)
        }
    }

    pub const fn short(mut self, c: char) -> Self {
        self.short = Some(c);
        self
    }

    pub const fn placeholder(mut self, v: &'static str) -> Self {
        self.value = Some(v);
        self
    }

    pub const fn content(mut self, c: Content) -> Self {
        self.content = c;
        self
    }

    pub const fn default(mut self, d: &'static str) -> Self {
        self.default = Some(d);
        self
    }

    pub const fn required(mut self) -> Self {
        self.required = true;
        self
    }

    pub const fn secret(mut self) -> Self {
        self.secret = true;
        self
    }

    pub const fn deprecated(mut self, names: &'static [&'static str]) -> Self {
        self.deprecated = names;
        self
    }

    /// `-k, --auth-url=[url]` as fence-agents print it.
    fn getopt(&self) -> String {
        let long = match self.value {
            Some(v) => format!("--{}=[{v}]", self.long),
            None => format!("--{}", self.long),
        };
        match self.short {
            Some(c) => format!("-{c}, {long}"),
            None => long,
        }
    }

    /// Does a (normalised) stdin key name this parameter?
    fn answers_to(&self, key: &str) -> bool {
        key == self.name || norm(self.long) == key || self.deprecated.iter().any(|d| norm(d) == key)
    }
}

/// `auth-url` and `auth_url` are the same option (fence-agents' `_parse_input_stdin`).
fn norm(key: &str) -> String {
    key.trim().replace('-', "_")
}

/// The options every fence-agents agent has; an agent adds its own in front of them.
pub fn common_params() -> Vec<FenceParam> {
    vec![
        FenceParam::string("action", "action", "Fencing action")
            .short('o')
            .placeholder("action")
            .required(),
        FenceParam::string(
            "plug",
            "plug",
            "Physical plug number on device, UUID or identification of machine",
        )
        .short('n')
        .placeholder("id")
        .deprecated(&["port"])
        .required(),
        FenceParam::flag("quiet", "quiet", "Disable logging to stderr").short('q'),
        FenceParam::flag("verbose", "verbose", "Verbose mode").short('v'),
        FenceParam::string(
            "debug_file",
            "debug-file",
            "Write debug information to given file",
        )
        .short('D')
        .placeholder("debugfile")
        .deprecated(&["debug"]),
        FenceParam::flag("version", "version", "Display version information and exit").short('V'),
        FenceParam::flag("help", "help", "Display help and exit").short('h'),
        FenceParam::string(
            "separator",
            "separator",
            "Separator for CSV created by 'list' operation",
        )
        .short('C')
        .placeholder("char")
        .default(","),
        FenceParam::string("delay", "delay", "Wait X seconds before fencing is started")
            .placeholder("seconds")
            .content(Content::Second)
            .default("0"),
        FenceParam::string(
            "login_timeout",
            "login-timeout",
            "Wait X seconds for cmd prompt after login",
        )
        .placeholder("seconds")
        .content(Content::Second)
        .default("5"),
        FenceParam::string(
            "power_wait",
            "power-wait",
            "Wait X seconds after issuing ON/OFF",
        )
        .placeholder("seconds")
        .content(Content::Second)
        .default("0"),
        FenceParam::string(
            "shell_timeout",
            "shell-timeout",
            "Wait X seconds for cmd prompt after issuing command",
        )
        .placeholder("seconds")
        .content(Content::Second)
        .default("180"),
        FenceParam::string(
            "stonith_status_sleep",
            "stonith-status-sleep",
            "Sleep X seconds between status calls during a STONITH action",
        )
        .placeholder("seconds")
        .content(Content::Second)
        .default("1"),
        FenceParam::string(
            "retry_on",
            "retry-on",
            "Count of attempts to retry power on",
        )
        .placeholder("attempts")
        .content(Content::Integer)
        .default("1"),
        FenceParam::string(
            "disable_timeout",
            "disable-timeout",
            "Disable timeout (true/false) (default: true when run from Pacemaker 2.0+)",
        )
        .placeholder("true/false"),
    ]
}

/// An action in the meta-data's `<actions>`.
#[derive(Debug, Clone, Copy)]
pub struct ActionSpec {
    pub name: &'static str,
    /// `automatic="1"`: Pacemaker unfences with it when a node joins (fabric fencing).
    pub automatic: bool,
}

/// The meta-data document in fence-agents' format (what `stonith_admin --metadata`,
/// `pcs stonith describe` and crmsh read).
pub fn metadata_xml(
    name: &str,
    shortdesc: &str,
    longdesc: &str,
    vendor_url: &str,
    params: &[FenceParam],
    actions: &[ActionSpec],
) -> String {
    use crate::ocf::metadata::xml_escape as e;
    let mut x = format!(
        "<?xml version=\"1.0\" ?>\n<resource-agent name=\"{}\" shortdesc=\"{}\" >\n\
         <longdesc>{}</longdesc>\n<vendor-url>{}</vendor-url>\n<parameters>\n",
        e(name),
        e(shortdesc),
        e(longdesc),
        e(vendor_url)
    );
    let mut one = |pname: &str, p: &FenceParam, attr: String| {
        let default = p
            .default
            .map(|d| format!(" default=\"{}\"", e(d)))
            .unwrap_or_default();
        x.push_str(&format!(
            "\t<parameter name=\"{}\" unique=\"0\" required=\"{}\"{attr}>\n\
             \t\t<getopt mixed=\"{}\" />\n\t\t<content type=\"{}\"{default} />\n\
             \t\t<shortdesc lang=\"en\">{}</shortdesc>\n\t</parameter>\n",
            e(pname),
            u8::from(p.required),
            e(&p.getopt()),
            p.content.as_str(),
            e(p.shortdesc)
        ));
    };
    for p in params {
        for d in p.deprecated {
            one(d, p, " deprecated=\"1\"".to_string());
        }
        let obsoletes = p
            .deprecated
            .first()
            .map(|d| format!(" obsoletes=\"{}\"", e(d)))
            .unwrap_or_default();
        one(p.name, p, obsoletes);
    }
    x.push_str("</parameters>\n<actions>\n");
    for a in actions {
        let auto = if a.automatic { " automatic=\"1\"" } else { "" };
        x.push_str(&format!("\t<action name=\"{}\"{auto}/>\n", e(a.name)));
    }
    x.push_str("</actions>\n</resource-agent>\n");
    x
}

/// The options of one invocation.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct FenceOptions {
    values: BTreeMap<String, String>,
    /// Keys no parameter answers to (ignored with a warning, as fence-agents do).
    unknown: Vec<String>,
    /// Secret options given on the command line (visible in `ps`).
    secrets_in_argv: Vec<String>,
}

impl std::fmt::Debug for FenceOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Names only: values may be passwords.
        f.debug_set().entries(self.values.keys()).finish()
    }
}

/// fence-agents' booleans: `1/yes/on/true` and `0/no/off/false`, stored as "1"/"0".
fn bool_word(v: &str) -> Option<&'static str> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "yes" | "on" | "true" | "y" => Some("1"),
        "0" | "no" | "off" | "false" | "n" => Some("0"),
        _ => None,
    }
}

impl FenceOptions {
    /// `key=value` lines; blank lines and `#` comments are skipped, a value in double
    /// quotes loses them. A line without `=` is an error naming its number (never its text,
    /// which may hold a secret).
    pub fn parse(input: impl BufRead) -> Result<FenceOptions, FenceError> {
        Self::parse_with(input, &[])
    }

    /// As [`parse`](Self::parse), with each key resolved to the parameter of `params` it
    /// names (old names and `-`/`_` spellings included).
    pub fn parse_with(
        input: impl BufRead,
        params: &[FenceParam],
    ) -> Result<FenceOptions, FenceError> {
        let mut o = FenceOptions::default();
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
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|x| x.strip_suffix('"'))
                .unwrap_or(v);
            o.set(params, k, v);
        }
        Ok(o)
    }

    fn set(&mut self, params: &[FenceParam], key: &str, value: &str) {
        let key = norm(key);
        match params.iter().find(|p| p.answers_to(&key)) {
            Some(p) => {
                let value = match p.content {
                    Content::Bool => bool_word(value).unwrap_or("1"),
                    _ => value,
                };
                self.values.insert(p.name.to_string(), value.to_string());
            }
            None => {
                // The fencer always adds `nodename`; without a table every key is kept.
                if !params.is_empty() && key != "nodename" {
                    self.unknown.push(crate::ocf::params::printable(&key));
                }
                self.values.insert(key, value.to_string());
            }
        }
    }

    /// Command-line options: `--key=value`, `--key value`, `-k value`, `-kvalue`, flags
    /// (`--insecure`, `-v`), as fence-agents' getopt takes them. `-o` and `-n` always work.
    pub fn from_args(args: &[String], params: &[FenceParam]) -> Result<FenceOptions, FenceError> {
        let mut o = FenceOptions::default();
        let builtin = [
            FenceParam::string("action", "action", "").short('o'),
            FenceParam::string("plug", "plug", "").short('n'),
        ];
        let lookup_short = |c: char| {
            params
                .iter()
                .chain(builtin.iter())
                .find(|p| p.short == Some(c))
                .copied()
        };
        let lookup_long = |l: &str| {
            let l = norm(l);
            params
                .iter()
                .chain(builtin.iter())
                .find(|p| p.answers_to(&l))
                .copied()
        };
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let (param, inline, shown) = if let Some(long) = arg.strip_prefix("--") {
                let (name, inline) = match long.split_once('=') {
                    Some((k, v)) => (k, Some(v.to_string())),
                    None => (long, None),
                };
                (lookup_long(name), inline, format!("--{name}"))
            } else if let Some(short) = arg.strip_prefix('-').filter(|s| !s.is_empty()) {
                let mut chars = short.chars();
                let c = chars.next().unwrap_or('-');
                let rest: String = chars.collect();
                let p = lookup_short(c);
                match p {
                    // `-vvv` is three flags.
                    Some(p) if p.value.is_none() => {
                        o.values.insert(p.name.to_string(), "1".into());
                        continue;
                    }
                    _ => (p, (!rest.is_empty()).then_some(rest), format!("-{c}")),
                }
            } else {
                return Err(FenceError::Config(format!(
                    "unexpected argument '{}': options are -x VALUE or --name=VALUE",
                    crate::ocf::params::printable(arg)
                )));
            };
            let Some(p) = param else {
                // Without a table (a generic caller) a long option is kept as given.
                if let (true, Some(name)) = (params.is_empty(), shown.strip_prefix("--")) {
                    let value = match inline {
                        Some(v) => v,
                        None => it.next().cloned().ok_or_else(|| {
                            FenceError::Config(format!("option {shown} needs a value"))
                        })?,
                    };
                    o.values.insert(norm(name), value);
                    continue;
                }
                return Err(FenceError::Config(format!(
                    "unknown option {}",
                    crate::ocf::params::printable(&shown)
                )));
            };
            if p.value.is_none() {
                let v = inline.as_deref().map(bool_word).unwrap_or(Some("1"));
                o.values
                    .insert(p.name.to_string(), v.unwrap_or("1").to_string());
                continue;
            }
            let value = match inline {
                Some(v) => v,
                None => it
                    .next()
                    .cloned()
                    .ok_or_else(|| FenceError::Config(format!("option {shown} needs a value")))?,
            };
            if p.secret {
                o.secrets_in_argv.push(p.name.to_string());
            }
            o.values.insert(p.name.to_string(), value);
        }
        Ok(o)
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }

    /// A boolean option (fence-agents' words), false when unset.
    pub fn flag(&self, key: &str) -> bool {
        self.get(key).and_then(bool_word) == Some("1")
    }

    /// Keys no parameter of the agent answers to.
    pub fn unknown(&self) -> &[String] {
        &self.unknown
    }

    /// Secret options that came on the command line.
    pub fn secrets_in_argv(&self) -> &[String] {
        &self.secrets_in_argv
    }

    /// The action asked for: `action`, else the legacy `option`, else `reboot`.
    pub fn action(&self) -> Result<FenceAction, FenceError> {
        use crate::ocf::Actions;
        let name = self
            .get("action")
            .or_else(|| self.get("option"))
            .unwrap_or("reboot");
        // Fabric agents also take enable/disable (fence-agents: = on/off).
        let name = match name {
            "enable" => "on",
            "disable" => "off",
            n => n,
        };
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
            .filter(|t| !t.is_empty())
    }
}

/// A fence agent of the suite.
pub trait FenceAgent: Sync {
    fn name(&self) -> &str;
    fn shortdesc(&self) -> &str;
    /// The fence-agents meta-data XML (`<resource-agent ...>` with its parameters).
    fn metadata(&self) -> Cow<'static, str>;
    /// Its options (for stdin names, aliases and the command line); empty: keys as given.
    fn params(&self) -> Vec<FenceParam> {
        Vec::new()
    }
    /// Any action but meta-data, which the runtime answers.
    fn run(&self, action: FenceAction, opts: &FenceOptions) -> Result<FenceCode, FenceError>;
}

/// Log to stderr (pacemaker-fenced logs an agent's stderr), debug with `verbose`.
fn init_logging(agent: &str, opts: &FenceOptions) {
    let tty = std::io::stderr().is_terminal();
    crate::ocf::log::init(crate::ocf::log::LogConfig {
        tag: format!("{agent}[{}]", std::process::id()),
        tty,
        syslog_facility: None,
        logfile: None,
        debug: opts.flag("verbose"),
        debuglog: opts.get("debug_file").map(str::to_string),
        exit_reason_prefix: String::new(),
    });
}

/// Run a fence agent: options from the arguments if any, else from stdin.
pub fn run(agent: &dyn FenceAgent, args: &[String], stdin: impl Read) -> i32 {
    let params = agent.params();
    let opts = if args.is_empty() {
        FenceOptions::parse_with(std::io::BufReader::new(stdin), &params)
    } else {
        FenceOptions::from_args(args, &params)
    };
    let mut logging = false;
    let result = opts.and_then(|o| {
        if o.flag("version") {
            write_stdout(&format!("{} {}\n", agent.name(), env!("CARGO_PKG_VERSION")));
            return Ok(FenceCode::Success);
        }
        if o.flag("help") {
            write_stdout(&usage(agent.name(), &params));
            return Ok(FenceCode::Success);
        }
        let action = o.action()?;
        if action == FenceAction::Metadata {
            return Ok(if write_stdout(&agent.metadata()) {
                FenceCode::Success
            } else {
                FenceCode::Failed
            });
        }
        if !o.flag("quiet") {
            init_logging(agent.name(), &o);
            logging = true;
        }
        for k in o.unknown() {
            log::warn!("ignoring unknown option '{k}'");
        }
        for k in o.secrets_in_argv() {
            log::warn!(
                "option {k} was given on the command line, where every user of this host \
                 can read it (ps): give it on stdin or use password_file"
            );
        }
        agent.run(action, &o)
    });
    match result {
        Ok(code) => code as i32,
        Err(e) => {
            // Logged once: the logger's sink is stderr, which the fencer records.
            if logging {
                log::error!("{e}");
            } else {
                write_stderr(&format!("{}: {e}\n", agent.name()));
            }
            FenceCode::Failed as i32
        }
    }
}

fn usage(name: &str, params: &[FenceParam]) -> String {
    let mut u =
        format!("Usage: {name} [options]   (or options as key=value lines on stdin)\nOptions:\n");
    for p in params {
        u.push_str(&format!("   {:<40} {}\n", p.getopt(), p.shortdesc));
    }
    u
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
        let o = FenceOptions::from_args(&args, &[]).unwrap();
        assert_eq!(o.action().unwrap(), FenceAction::Metadata);
        assert_eq!(o.get("ip_address"), Some("1.2.3.4"));
        assert_eq!(o.target(), Some("n3"));
        assert!(FenceOptions::from_args(&["x".to_string()], &[]).is_err());
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
