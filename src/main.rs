//! ocfbox: OCF resource agents for Pacemaker in one binary. The file name it is called by
//! (argv[0], a symlink under /usr/lib/ocf/resource.d/<provider>/) picks the agent; never
//! `current_exe()`, which would resolve the link.

use std::path::Path;

use ocfbox::{agents, cli, ocf};

fn main() {
    ocf::panic::install_hook();
    let args: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let invoked_as = args
        .first()
        .and_then(|a| Path::new(a).file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let code = match agents::find(&invoked_as) {
        Some(program) => program.run(args.get(1..).unwrap_or_default()),
        None if invoked_as.starts_with("ocfbox") => cli::main(&args),
        None => cli::unknown_agent(&invoked_as),
    };
    std::process::exit(code);
}
