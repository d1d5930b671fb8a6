//! The OpenStack client as NovaEvacuate uses it, as a program for `make bench`
//! (bench/nova.sh): authenticate from a clouds.yaml entry, then either list the servers on a
//! host or evacuate all of them with a bounded pool. Not part of the ocfbox binary.
//!
//! Usage: nova_client CLOUD list HOST | nova_client CLOUD evacuate HOST CONCURRENCY
//! (clouds.yaml/secure.yaml found as openstacksdk finds them, e.g. OS_CLIENT_CONFIG_FILE).

use std::process::ExitCode;
use std::time::Duration;

use ocfbox::ocf::Deadline;
use ocfbox::openstack::{parallel, AuthConfig, CredentialParams, EvacuateRequest, Session};

fn run(args: &[String]) -> Result<usize, String> {
    let (cloud, what, host) = match args {
        [cloud, what, host, ..] => (cloud, what.as_str(), host),
        _ => return Err("usage: nova_client CLOUD list|evacuate HOST [CONCURRENCY]".into()),
    };
    let dl = Deadline::from_op_timeout(Duration::from_secs(600));
    let cfg = AuthConfig::from_params(&CredentialParams {
        os_cloud: Some(cloud.clone()),
        ..Default::default()
    })
    .map_err(|e| e.to_string())?;
    let session = Session::connect(&cfg, &dl).map_err(|e| e.to_string())?;
    let nova = session.compute();
    let servers = nova.servers_on_host(host, &dl).map_err(|e| e.to_string())?;
    match what {
        "list" => Ok(servers.len()),
        "evacuate" => {
            let n: usize = args
                .get(3)
                .and_then(|c| c.parse().ok())
                .ok_or("evacuate needs a CONCURRENCY")?;
            let results = parallel(servers, n, |s| {
                nova.evacuate(&s.id, &EvacuateRequest::default(), &dl)
            });
            let failed: Vec<String> = results
                .iter()
                .filter_map(|r| r.as_ref().err().map(|e| e.to_string()))
                .collect();
            match failed.first() {
                Some(first) => Err(format!(
                    "{} evacuations failed, first: {first}",
                    failed.len()
                )),
                None => Ok(results.len()),
            }
        }
        other => Err(format!("unknown command {other}")),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(n) => {
            ocfbox::ocf::agent::write_stdout(&format!("{n}\n"));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("nova_client: {e}");
            ExitCode::FAILURE
        }
    }
}
