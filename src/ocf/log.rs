//! Logging with ocf_log's semantics (resource-agents' ocf-shellfuncs):
//! - on a terminal: `tag: LEVEL: msg` on stderr, nothing else;
//! - otherwise syslog when HA_LOGFACILITY is set (and not `none`), append to HA_LOGFILE when
//!   set, and stderr (collected by pacemaker-execd) when neither is;
//! - debug only when HA_debug is set and not 0, to HA_DEBUGLOG when that is a separate file;
//! - the tag is HA_LOGTAG or `agent(instance)[pid]`, so every line names the resource.
//!
//! The failure reason goes to stderr once as `ocf-exit-reason:<msg>` (the prefix comes from
//! OCF_EXIT_REASON_PREFIX), and is logged as an error to the other sinks.

use std::fs::OpenOptions;
use std::io::Write;
use std::sync::OnceLock;

use log::{Level, LevelFilter, Log, Metadata, Record};

use super::env::OcfEnv;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    pub tag: String,
    pub tty: bool,
    pub syslog_facility: Option<libc::c_int>,
    pub logfile: Option<String>,
    pub debug: bool,
    pub debuglog: Option<String>,
    pub exit_reason_prefix: String,
}

impl LogConfig {
    pub fn from_env(env: &OcfEnv, agent: &str, stdout_is_tty: bool) -> Self {
        // The tag starts every line: a newline or a reason prefix in it (HA_LOGTAG, an
        // instance name) would forge lines of its own.
        let tag = match env.var("HA_LOGTAG") {
            Some(t) => defang(&one_line(t)),
            None => match env.resource_instance() {
                Some(inst) => format!(
                    "{agent}({})[{}]",
                    defang(&one_line(inst)),
                    std::process::id()
                ),
                None => format!("{agent}[{}]", std::process::id()),
            },
        };
        let debug = matches!(env.var("HA_debug"), Some(v) if v != "0");
        let logfile = env.var("HA_LOGFILE").map(str::to_string);
        let debuglog = env
            .var("HA_DEBUGLOG")
            .filter(|d| Some(*d) != logfile.as_deref() && *d != "/dev/null")
            .map(str::to_string);
        LogConfig {
            tag,
            tty: stdout_is_tty,
            syslog_facility: env.var("HA_LOGFACILITY").and_then(facility_from_name),
            logfile,
            debug,
            debuglog,
            exit_reason_prefix: exit_reason_prefix(env.var("OCF_EXIT_REASON_PREFIX")),
        }
    }

    fn stderr_is_a_sink(&self) -> bool {
        self.tty || (self.syslog_facility.is_none() && self.logfile.is_none())
    }
}

/// Pacemaker's own prefix unless OCF_EXIT_REASON_PREFIX names another (empty: the default).
fn exit_reason_prefix(var: Option<&str>) -> String {
    var.filter(|p| !p.is_empty())
        .unwrap_or("ocf-exit-reason:")
        .to_string()
}

fn facility_from_name(name: &str) -> Option<libc::c_int> {
    Some(match name.trim().to_ascii_lowercase().as_str() {
        "none" | "" => return None,
        "daemon" => libc::LOG_DAEMON,
        "user" => libc::LOG_USER,
        "local0" => libc::LOG_LOCAL0,
        "local1" => libc::LOG_LOCAL1,
        "local2" => libc::LOG_LOCAL2,
        "local3" => libc::LOG_LOCAL3,
        "local4" => libc::LOG_LOCAL4,
        "local5" => libc::LOG_LOCAL5,
        "local6" => libc::LOG_LOCAL6,
        "local7" => libc::LOG_LOCAL7,
        "authpriv" => libc::LOG_AUTHPRIV,
        // Unknown facility names fall back to daemon, Pacemaker's own default.
        _ => libc::LOG_DAEMON,
    })
}

fn level_word(level: Level) -> &'static str {
    match level {
        Level::Error => "ERROR",
        Level::Warn => "WARNING",
        Level::Info => "INFO",
        Level::Debug | Level::Trace => "DEBUG",
    }
}

fn syslog_priority(level: Level) -> libc::c_int {
    match level {
        Level::Error => libc::LOG_ERR,
        Level::Warn => libc::LOG_WARNING,
        Level::Info => libc::LOG_INFO,
        Level::Debug | Level::Trace => libc::LOG_DEBUG,
    }
}

/// `Nov 21 21:06:13 ` in local time, as ocf_log's default HA_DATEFMT (`%b %d %T `).
fn timestamp() -> String {
    let mut now: libc::time_t = 0;
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let mut buf = [0u8; 64];
    // SAFETY: plain libc calls on stack buffers of the sizes given.
    let written = unsafe {
        libc::time(&mut now);
        if libc::localtime_r(&now, &mut tm).is_null() {
            return String::new();
        }
        libc::strftime(
            buf.as_mut_ptr().cast(),
            buf.len(),
            c"%b %d %T ".as_ptr(),
            &tm,
        )
    };
    String::from_utf8_lossy(&buf[..written]).into_owned()
}

/// One line: newlines in a message would forge extra log lines.
fn one_line(msg: &str) -> String {
    msg.replace(['\n', '\r'], " ")
}

/// pacemaker-execd keeps the text after the *last* `ocf-exit-reason:` anywhere on stderr, so
/// text from outside the program (a parameter, a node name, a log tag) must never carry the
/// prefix: every prefix in `text` loses its colon's meaning (`ocf-exit-reason\:`). Also the
/// prefix OCF_EXIT_REASON_PREFIX names, when it is another.
pub fn defang(text: &str) -> String {
    const PREFIX: &str = "ocf-exit-reason:";
    let mut out = escape_prefix(text, PREFIX);
    if let Some(custom) = configured_prefix().filter(|p| p != PREFIX && p.len() > 1) {
        out = escape_prefix(&out, &custom);
    }
    out
}

fn escape_prefix(text: &str, prefix: &str) -> String {
    // A backslash before the prefix's last character breaks every match of it.
    let Some((cut, _)) = prefix.char_indices().last() else {
        return text.to_string();
    };
    let escaped = format!("{}\\{}", &prefix[..cut], &prefix[cut..]);
    text.replace(prefix, &escaped)
}

fn configured_prefix() -> Option<String> {
    match LOGGER.get() {
        Some(l) => Some(l.config.exit_reason_prefix.clone()),
        None => std::env::var("OCF_EXIT_REASON_PREFIX")
            .ok()
            .filter(|p| !p.is_empty()),
    }
}

pub struct OcfLogger {
    config: LogConfig,
}

impl OcfLogger {
    fn write_sinks(&self, level: Level, msg: &str, include_stderr: bool) {
        let c = &self.config;
        let is_debug = level >= Level::Debug;
        if is_debug && !c.debug {
            return;
        }
        let line = format!("{}: {}", level_word(level), defang(&one_line(msg)));
        if c.tty {
            if include_stderr {
                super::agent::write_stderr(&format!("{}: {line}\n", c.tag));
            }
            return;
        }
        if let Some(facility) = c.syslog_facility {
            syslog(facility, level, &c.tag, &line);
        }
        let file_line = format!("{}{}:    {line}\n", timestamp(), c.tag);
        if is_debug {
            if let Some(debuglog) = &c.debuglog {
                append(debuglog, &file_line);
                return;
            }
        }
        if let Some(logfile) = &c.logfile {
            append(logfile, &file_line);
        }
        if include_stderr && c.syslog_facility.is_none() && c.logfile.is_none() {
            super::agent::write_stderr(&file_line);
        }
    }
}

fn append(path: &str, line: &str) {
    use std::os::unix::fs::OpenOptionsExt;
    // A log file we cannot write must never change the action's result, and one that would
    // block (a FIFO nobody reads, a full pipe) must never hold it up: non-blocking, and a
    // short write is dropped rather than waited for.
    if let Ok(mut f) = OpenOptions::new()
        .create(true)
        .append(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
    {
        let _ = f.write_all(line.as_bytes());
    }
}

/// One datagram to the local syslog socket, never waiting: glibc's syslog() blocks in
/// send() while the daemon's queue is full, which would hold the action.
fn syslog(facility: libc::c_int, level: Level, tag: &str, line: &str) {
    syslog_to(std::path::Path::new("/dev/log"), facility, level, tag, line);
}

fn syslog_to(socket: &std::path::Path, facility: libc::c_int, level: Level, tag: &str, line: &str) {
    use std::os::unix::net::UnixDatagram;
    let Ok(sock) = UnixDatagram::unbound() else {
        return;
    };
    if sock.set_nonblocking(true).is_err() {
        return;
    }
    let tag = tag.replace('\0', "");
    let msg = line.replace('\0', "");
    // RFC 3164, as glibc writes it: <PRI>TIMESTAMP TAG[PID]: MSG
    let datagram = format!(
        "<{}>{}{tag}[{}]: {msg}",
        syslog_priority(level) | facility,
        timestamp(),
        std::process::id()
    );
    let _ = sock.send_to(datagram.as_bytes(), socket);
}

impl Log for OcfLogger {
    fn enabled(&self, metadata: &Metadata) -> bool {
        metadata.level() <= Level::Info || self.config.debug
    }

    fn log(&self, record: &Record) {
        // Only our own crate's records: dependencies' debug chatter is not agent output.
        if !record.target().starts_with("ocfbox") {
            return;
        }
        self.write_sinks(record.level(), &record.args().to_string(), true);
    }

    fn flush(&self) {}
}

static LOGGER: OnceLock<OcfLogger> = OnceLock::new();

/// Install the logger for this invocation (once; later calls keep the first configuration).
pub fn init(config: LogConfig) {
    let debug = config.debug;
    let logger = LOGGER.get_or_init(|| OcfLogger { config });
    if log::set_logger(logger).is_ok() {
        log::set_max_level(if debug {
            LevelFilter::Debug
        } else {
            LevelFilter::Info
        });
    }
}

/// Report why the action failed: one `ocf-exit-reason:` line on stderr (Pacemaker keeps the
/// last one), and the same text at `level` in the log sinks that are not stderr.
/// Also before the logger is set up (an unknown agent, a panic): the prefix then comes
/// straight from OCF_EXIT_REASON_PREFIX.
pub fn exit_reason(msg: &str, level: Level) {
    let prefix = match LOGGER.get() {
        Some(l) => l.config.exit_reason_prefix.clone(),
        None => exit_reason_prefix(std::env::var("OCF_EXIT_REASON_PREFIX").ok().as_deref()),
    };
    // The one line that carries the prefix: the message in it is defanged like any other.
    super::agent::write_stderr_raw(&format!("{prefix}{}\n", defang(&one_line(msg))));
    if let Some(logger) = LOGGER.get() {
        let stderr_sink = logger.config.stderr_is_a_sink();
        logger.write_sinks(level, msg, !stderr_sink);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_names_agent_and_instance() {
        let env = OcfEnv::from_pairs([("OCF_RESOURCE_INSTANCE", "web:0")]);
        let c = LogConfig::from_env(&env, "SystemdService", false);
        assert!(c.tag.starts_with("SystemdService(web:0)["), "{}", c.tag);
        let env = OcfEnv::from_pairs([("HA_LOGTAG", "custom")]);
        assert_eq!(LogConfig::from_env(&env, "x", false).tag, "custom");
    }

    #[test]
    fn sinks_follow_ha_variables() {
        let env = OcfEnv::from_pairs([
            ("HA_LOGFACILITY", "none"),
            ("HA_LOGFILE", "/tmp/x.log"),
            ("HA_debug", "0"),
        ]);
        let c = LogConfig::from_env(&env, "a", false);
        assert_eq!(c.syslog_facility, None);
        assert_eq!(c.logfile.as_deref(), Some("/tmp/x.log"));
        assert!(!c.debug);
        assert!(!c.stderr_is_a_sink());

        let env = OcfEnv::from_pairs([("HA_LOGFACILITY", "daemon"), ("HA_debug", "1")]);
        let c = LogConfig::from_env(&env, "a", false);
        assert_eq!(c.syslog_facility, Some(libc::LOG_DAEMON));
        assert!(c.debug);

        assert!(LogConfig::from_env(&OcfEnv::default(), "a", false).stderr_is_a_sink());
    }

    #[test]
    fn reason_prefixes_from_outside_are_defanged() {
        assert_eq!(
            defang("x ocf-exit-reason:forged"),
            "x ocf-exit-reason\\:forged"
        );
        assert_eq!(escape_prefix("aREASONb", "REASON"), "aREASO\\Nb");
        let env = OcfEnv::from_pairs([("OCF_RESOURCE_INSTANCE", "x\nocf-exit-reason:f")]);
        let c = LogConfig::from_env(&env, "a", false);
        assert!(!c.tag.contains('\n'), "{}", c.tag);
    }

    #[test]
    fn syslog_lines_are_datagrams_in_the_format_glibc_sends() {
        use std::os::unix::net::UnixDatagram;
        let dir = std::env::temp_dir().join(format!("ocfbox-syslog-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("log");
        let daemon = UnixDatagram::bind(&path).unwrap();
        syslog_to(
            &path,
            libc::LOG_DAEMON,
            Level::Warn,
            "agent(x)",
            "WARNING: hi",
        );
        let mut buf = [0u8; 512];
        let n = daemon.recv(&mut buf).unwrap();
        let got = String::from_utf8_lossy(&buf[..n]).into_owned();
        // priority 4 (warning) | facility daemon (3 << 3) = 28
        assert!(got.starts_with("<28>"), "{got}");
        assert!(
            got.ends_with(&format!("agent(x)[{}]: WARNING: hi", std::process::id())),
            "{got}"
        );
        // A daemon that reads nothing never holds the caller: the send fails instead.
        for _ in 0..2000 {
            syslog_to(&path, libc::LOG_DAEMON, Level::Info, "t", "fill");
        }
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn messages_stay_on_one_line() {
        assert_eq!(one_line("a\nb\r\nc"), "a b  c");
    }

    #[test]
    fn timestamp_looks_like_ocf_log() {
        let t = timestamp();
        assert!(t.ends_with(' ') && t.len() >= 15, "{t:?}");
    }
}
