//! ocfbox: OCF resource agents for Pacemaker in one binary. The file name it is called by
//! (argv[0], a symlink under /usr/lib/ocf/resource.d/<provider>/) picks the agent; never
//! `current_exe()`, which would resolve the link.

use std::path::Path;

use ocfbox::{agents, cli, ocf};

fn main() {
    install_panic_hook();
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

/// A panic must never reach Pacemaker as exit 101 or a signal: it is an agent failure (1)
/// with a reason it can show.
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let what = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_string());
        let place = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        ocf::log::exit_reason(
            &format!("internal error in ocfbox: {what}{place}"),
            log::Level::Error,
        );
        std::process::exit(ocf::OcfCode::ErrGeneric.as_i32());
    }));
}
