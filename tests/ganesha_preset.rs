//! The `nfs-ganesha` preset of SystemdService against a REAL systemd (`systemd --user` in
//! the harness's sandbox) running a REAL ganesha.nfsd as nfs-ganesha.service, whose admin
//! interface sits on a private system bus: the preset's health check is that interface
//! answering get_grace, so a ganesha that runs but cannot answer (stopped, hung) fails it.

use crate::common;

use std::path::{Path, PathBuf};

use common::execd::{self, AgentEnv, Run};
use common::ganesha::require_ganesha;
use common::proc;
use common::systemd::SystemdSandbox;
use common::{output_text as text, TempDir};

struct Rig {
    sd: SystemdSandbox,
    agents: PathBuf,
    gdir: PathBuf,
    _tmp: TempDir,
}

impl Rig {
    fn bus(&self) -> String {
        format!(
            "unix:path={}",
            self.gdir.join("dbus/system_bus_socket").display()
        )
    }

    /// The preset, run inside the sandbox: systemd through the session bus (the user
    /// manager), ganesha through its system bus.
    fn run(&self, action: &str, vars: &[(&str, &str)]) -> Run {
        let env = AgentEnv::ocf()
            .vars(self.sd.agent_env())
            .instance("ganesha")
            .meta("timeout", "20000")
            .var("OCF_EXIT_REASON_PREFIX", "ocf-exit-reason:")
            .var("DBUS_SYSTEM_BUS_ADDRESS", &self.bus())
            .vars(vars.iter().copied());
        let cmd = self.sd.command(self.agents.join("nfs-ganesha"));
        execd::run_command(cmd, action, &env, &format!("nfs-ganesha {action}"))
    }
}

fn ganesha_script(sd: &SystemdSandbox, sub: &str, dir: &Path) {
    let out = sd
        .command("bash")
        .arg(common::sandbox_script("ganesha.sh"))
        .arg(sub)
        .arg(dir)
        .env("GANESHA_PIDFILE", dir.join("ganesha.pid"))
        .output()
        .expect("ganesha.sh");
    assert!(out.status.success(), "ganesha.sh {sub}: {}", text(&out));
}

#[test]
fn nfs_ganesha_preset_starts_the_unit_and_checks_the_admin_interface() {
    require_ganesha();
    let sd = SystemdSandbox::start();
    let tmp = TempDir::new("ganesha-preset");
    let agents = common::ocfbox_provider_dir(tmp.path());
    let gdir = tmp.join("ganesha");
    std::fs::create_dir_all(&gdir).unwrap();
    // ganesha's private system bus runs next to systemd, in the sandbox (dies with it).
    ganesha_script(&sd, "bus", &gdir);
    ganesha_script(&sd, "config", &gdir);
    let bus = format!(
        "unix:path={}",
        gdir.join("dbus/system_bus_socket").display()
    );
    sd.install_unit(
        "nfs-ganesha.service",
        &format!(
            "[Unit]\nDescription=NFS-Ganesha (test)\n[Service]\nType=simple\n\
             Environment=DBUS_SYSTEM_BUS_ADDRESS={bus}\n\
             ExecStart=/usr/bin/ganesha.nfsd -F -f {d}/ganesha.conf -L {d}/ganesha.log \
             -p {d}/ganesha.pid -N NIV_EVENT\n",
            d = gdir.display()
        ),
    );
    let rig = Rig {
        sd,
        agents,
        gdir,
        _tmp: tmp,
    };

    let out = rig.run("validate-all", &[]);
    assert_eq!(out.code, 0, "{}", out.text());
    let out = rig.run("monitor", &[]);
    assert_eq!(out.code, 7, "probe: {}", out.text());
    // start returns once the unit runs AND ganesha answers on its bus
    let out = rig.run("start", &[]);
    assert_eq!(out.code, 0, "start: {}", out.text());
    assert_eq!(rig.sd.active_state("nfs-ganesha.service"), "active");
    assert!(
        common::ganesha::get_grace_with_dbus_send(&rig.bus()).is_some(),
        "ganesha does not answer on its bus"
    );
    let recurring = [("OCF_RESKEY_CRM_meta_interval", "10000")];
    let out = rig.run("monitor", &recurring);
    assert_eq!(out.code, 0, "monitor: {}", out.text());

    // The process runs but its admin interface cannot answer (a hung daemon): the unit is
    // "active", the health check is not.
    let pid = rig
        .sd
        .main_pid("nfs-ganesha.service")
        .expect("ganesha's main pid");
    assert_eq!(proc::comm(pid).as_deref(), Some("ganesha.nfsd"));
    assert!(proc::kill(pid, "STOP"));
    let hung = [
        ("OCF_RESKEY_CRM_meta_interval", "10000"),
        ("OCF_RESKEY_check_timeout", "2"),
    ];
    let out = rig.run("monitor", &hung);
    assert!(proc::kill(pid, "CONT"));
    assert_eq!(out.code, 1, "hung monitor: {}", out.text());
    assert!(out.text().contains("ocf-exit-reason:"), "{}", out.text());
    assert!(out.text().contains("ganesha"), "{}", out.text());
    let out = rig.run("monitor", &recurring);
    assert_eq!(out.code, 0, "monitor after CONT: {}", out.text());

    let out = rig.run("stop", &[]);
    assert_eq!(out.code, 0, "stop: {}", out.text());
    assert_eq!(rig.sd.active_state("nfs-ganesha.service"), "inactive");
    let out = rig.run("monitor", &[]);
    assert_eq!(out.code, 7, "probe after stop: {}", out.text());
}
