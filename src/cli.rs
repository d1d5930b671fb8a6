//! The umbrella command line: `ocfbox list`, `ocfbox AGENT ACTION`, `--help`, `--version`.

use clap::{Arg, Command};

use crate::agents;
use crate::ocf::agent::{write_stderr, write_stdout};
use crate::ocf::OcfCode;

fn command() -> Command {
    Command::new("ocfbox")
        .version(env!("CARGO_PKG_VERSION"))
        .about("OCF resource agents for Pacemaker, in one binary")
        .long_about(
            "OCF resource agents for Pacemaker, in one binary.\n\n\
             Pacemaker runs it through symlinks under /usr/lib/ocf/resource.d/<provider>/, \
             and the link's name picks the agent. For manual use, name the agent and the \
             action: `ocfbox SystemdService monitor` (parameters come from OCF_RESKEY_*).",
        )
        .subcommand_required(true)
        .allow_external_subcommands(true)
        .subcommand(
            Command::new("list")
                .about("List the programs: name, kind (ocf, fence, alert), short description"),
        )
        .subcommand(
            Command::new("man")
                .about("Print a program's man page (roff), made from its own meta-data")
                .arg(Arg::new("program").required(true))
                .arg(
                    Arg::new("provider")
                        .long("provider")
                        .default_value("ocfbox")
                        .help("The OCF provider the agents are installed under"),
                ),
        )
}

pub fn main(args: &[String]) -> i32 {
    let matches = match command().try_get_matches_from(args) {
        Ok(m) => m,
        Err(e) => {
            use clap::error::ErrorKind;
            let code = match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => OcfCode::Success,
                _ => OcfCode::ErrArgs,
            };
            // clap quotes the arguments back: through the defanging writers like any text
            // from outside.
            let text = e.to_string();
            if code == OcfCode::Success {
                write_stdout(&text);
            } else {
                write_stderr(&text);
            }
            return code.as_i32();
        }
    };
    match matches.subcommand() {
        Some(("list", _)) => {
            let mut listing = String::new();
            for program in agents::programs() {
                listing.push_str(&format!(
                    "{:<24} {:<5} {}\n",
                    program.name(),
                    program.kind().as_str(),
                    program.shortdesc()
                ));
            }
            // A reader that stops early (`| head`) is not an error worth a panic.
            write_stdout(&listing);
            OcfCode::Success.as_i32()
        }
        Some(("man", sub)) => {
            let name = sub.get_one::<String>("program").map(String::as_str);
            let provider = sub
                .get_one::<String>("provider")
                .map(String::as_str)
                .unwrap_or("ocfbox");
            match name.and_then(agents::find) {
                Some(program) => match crate::manpage::render(&program, provider) {
                    Ok(page) => {
                        write_stdout(&page);
                        OcfCode::Success.as_i32()
                    }
                    Err(e) => {
                        write_stderr(&format!("ocfbox man: {e}\n"));
                        OcfCode::ErrGeneric.as_i32()
                    }
                },
                None => unknown_agent(name.unwrap_or("")),
            }
        }
        Some((name, sub)) => {
            let rest: Vec<String> = sub
                .get_many::<std::ffi::OsString>("")
                .map(|v| v.map(|s| s.to_string_lossy().into_owned()).collect())
                .unwrap_or_default();
            match agents::find(name) {
                Some(program) => program.run(&rest),
                None => unknown_agent(name),
            }
        }
        None => OcfCode::ErrArgs.as_i32(),
    }
}

/// Called by a name that is no agent: OCF_ERR_INSTALLED, naming the ones that exist.
pub fn unknown_agent(name: &str) -> i32 {
    let known: Vec<String> = agents::programs()
        .iter()
        .map(|p| p.name().to_string())
        .collect();
    write_stderr(&format!(
        "ocfbox: unknown agent '{}'; known agents: {}\n",
        crate::ocf::params::printable(name),
        known.join(", ")
    ));
    crate::ocf::log::exit_reason(
        &format!(
            "ocfbox has no agent named '{}'",
            crate::ocf::params::printable(name)
        ),
        ::log::Level::Error,
    );
    OcfCode::ErrInstalled.as_i32()
}
