//! Hand-written proxies for the few parts of org.freedesktop.systemd1 the agents use
//! (signatures from systemd's org.freedesktop.systemd1(5)). Properties are never cached:
//! every read is one `Get`, so an answer is always systemd's current one.

use zbus::{proxy, OwnedObjectPath};

#[proxy(
    interface = "org.freedesktop.systemd1.Manager",
    default_service = "org.freedesktop.systemd1",
    default_path = "/org/freedesktop/systemd1"
)]
pub trait Manager {
    /// Loads the unit from disk if needed (GetUnit fails for units not loaded yet).
    fn load_unit(&self, name: &str) -> zbus::Result<OwnedObjectPath>;
    fn start_unit(&self, name: &str, mode: &str) -> zbus::Result<OwnedObjectPath>;
    fn stop_unit(&self, name: &str, mode: &str) -> zbus::Result<OwnedObjectPath>;
    fn reload_unit(&self, name: &str, mode: &str) -> zbus::Result<OwnedObjectPath>;
    /// Asks systemd to emit its signals to this connection.
    fn subscribe(&self) -> zbus::Result<()>;
    /// daemon-reload: re-reads unit files and drop-ins; returns when done.
    fn reload(&self) -> zbus::Result<()>;
    // JobRemoved(u id, o job, s unit, s result) is read from a plain match-rule stream
    // (see `job_removed_stream`).
}

#[proxy(
    interface = "org.freedesktop.systemd1.Unit",
    default_service = "org.freedesktop.systemd1"
)]
pub trait Unit {
    #[zbus(property)]
    fn id(&self) -> zbus::Result<String>;
    #[zbus(property)]
    fn load_state(&self) -> zbus::Result<String>;
    /// (error name, message) when loading failed, else two empty strings.
    #[zbus(property)]
    fn load_error(&self) -> zbus::Result<(String, String)>;
    #[zbus(property)]
    fn active_state(&self) -> zbus::Result<String>;
    #[zbus(property)]
    fn sub_state(&self) -> zbus::Result<String>;
    #[zbus(property)]
    fn need_daemon_reload(&self) -> zbus::Result<bool>;
    /// The pending job: (id, path), (0, "/") when there is none.
    #[zbus(property)]
    fn job(&self) -> zbus::Result<(u32, OwnedObjectPath)>;
    /// False when the last start was skipped because a Condition*= failed.
    #[zbus(property)]
    fn condition_result(&self) -> zbus::Result<bool>;
    #[zbus(property)]
    fn can_reload(&self) -> zbus::Result<bool>;
}

#[proxy(
    interface = "org.freedesktop.systemd1.Service",
    default_service = "org.freedesktop.systemd1"
)]
pub trait Service {
    #[zbus(property, name = "MainPID")]
    fn main_pid(&self) -> zbus::Result<u32>;
    /// success, exit-code, signal, timeout, core-dump, watchdog, start-limit-hit, ...
    #[zbus(property)]
    fn result(&self) -> zbus::Result<String>;
    #[zbus(property)]
    fn exec_main_status(&self) -> zbus::Result<i32>;
    /// a(sasbttttuii): path, argv, ignore-failure, then timestamps, pid and status.
    #[allow(clippy::type_complexity)]
    #[zbus(property)]
    fn exec_start(
        &self,
    ) -> zbus::Result<Vec<(String, Vec<String>, bool, u64, u64, u64, u64, u32, i32, i32)>>;
    #[zbus(property)]
    fn user(&self) -> zbus::Result<String>;
}
