//! A unit's status: LoadUnit and the state properties in one round trip, and why it is
//! not running when that is asked for.

use zbus::proxy::CacheProperties;
use zbus::{Connection, OwnedObjectPath};

use super::proxies::{ServiceProxy, UnitProxy};
use super::{call_err, outcome, Session, SystemdError, UnitName};
use crate::dbus::join2;

/// systemd's ActiveState. The outcome module maps each exhaustively; a state a newer
/// systemd adds is kept by name as `Other`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActiveState {
    Active,
    Reloading,
    Refreshing,
    Inactive,
    Failed,
    Activating,
    Deactivating,
    Maintenance,
    Other(String),
}

impl ActiveState {
    pub fn parse(s: &str) -> ActiveState {
        match s {
            "active" => ActiveState::Active,
            "reloading" => ActiveState::Reloading,
            "refreshing" => ActiveState::Refreshing,
            "inactive" => ActiveState::Inactive,
            "failed" => ActiveState::Failed,
            "activating" => ActiveState::Activating,
            "deactivating" => ActiveState::Deactivating,
            "maintenance" => ActiveState::Maintenance,
            other => ActiveState::Other(other.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            ActiveState::Active => "active",
            ActiveState::Reloading => "reloading",
            ActiveState::Refreshing => "refreshing",
            ActiveState::Inactive => "inactive",
            ActiveState::Failed => "failed",
            ActiveState::Activating => "activating",
            ActiveState::Deactivating => "deactivating",
            ActiveState::Maintenance => "maintenance",
            ActiveState::Other(s) => s,
        }
    }
}

impl std::fmt::Display for ActiveState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A unit as systemd sees it right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitStatus {
    pub unit: UnitName,
    /// loaded, not-found, masked, bad-setting, error, ...
    pub load_state: String,
    pub active_state: ActiveState,
    pub sub_state: String,
    pub need_daemon_reload: bool,
    /// Why it is not running, read only when it is not: the load error, the service's
    /// Result and exit status, a failed start condition.
    pub detail: Option<String>,
}

impl UnitStatus {
    pub fn exists(&self) -> bool {
        self.load_state != "not-found"
    }

    /// `active (running)`, `failed (result exit-code, main process status 3)`,
    /// `inactive (dead)`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.sub_state != self.active_state.as_str() && !self.sub_state.is_empty() {
            parts.push(self.sub_state.as_str());
        }
        if let Some(d) = &self.detail {
            parts.push(d);
        }
        if parts.is_empty() {
            self.active_state.to_string()
        } else {
            format!("{} ({})", self.active_state, parts.join("; "))
        }
    }
}

/// How much to find out about a unit that is not running (each costs round trips, so
/// only the paths that report a failure ask).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Explain {
    /// Load errors only (they decide what a start may do).
    No,
    /// Also the service's Result and exit status.
    IfNotRunning,
    /// Also whether a start condition failed: only meaningful right after a start job.
    AfterStart,
}

pub(crate) async fn unit_proxy<'c>(
    conn: &'c Connection,
    path: OwnedObjectPath,
    unit: &UnitName,
) -> Result<UnitProxy<'c>, SystemdError> {
    UnitProxy::builder(conn)
        .path(path)
        .cache_properties(CacheProperties::No)
        .build()
        .await
        .map_err(call_err("Unit proxy", unit))
}

/// The unit's pending job path, if it has one.
pub(crate) async fn unit_job(
    s: &Session,
    unit: &UnitName,
) -> Result<Option<OwnedObjectPath>, SystemdError> {
    let path = s
        .mgr
        .load_unit(unit.as_str())
        .await
        .map_err(call_err("LoadUnit", unit))?;
    let proxy = unit_proxy(&s.conn, path, unit).await?;
    let (id, job) = proxy.job().await.map_err(call_err("Get(Job)", unit))?;
    Ok((id != 0).then_some(job))
}

/// The object path systemd gives a unit: `/org/freedesktop/systemd1/unit/` plus the name
/// with every byte that is not an ASCII letter (or a digit after the first byte) written
/// as `_xx` (sd-bus's bus_label_escape).
fn unit_object_path(unit: &UnitName) -> String {
    let mut p = String::from("/org/freedesktop/systemd1/unit/");
    for (i, b) in unit.as_str().bytes().enumerate() {
        if b.is_ascii_alphabetic() || (i > 0 && b.is_ascii_digit()) {
            p.push(b as char);
        } else {
            p.push_str(&format!("_{b:02x}"));
        }
    }
    p
}

/// LoadUnit and the state properties in one round trip: the Gets go to the path systemd
/// will answer LoadUnit with, right behind it (systemd handles them in order, so the unit
/// is loaded by then). Should the paths ever differ, the properties are read again.
pub(crate) async fn read_status(
    s: &Session,
    unit: &UnitName,
    explain: Explain,
) -> Result<UnitStatus, SystemdError> {
    let guess = OwnedObjectPath::try_from(unit_object_path(unit))
        .map_err(|e| call_err("object path", unit)(e))?;
    let proxy = unit_proxy(&s.conn, guess.clone(), unit).await?;
    let (loaded, ((load_state, active_state), (sub_state, need_reload))) = join2(
        s.mgr.load_unit(unit.as_str()),
        join2(
            join2(proxy.load_state(), proxy.active_state()),
            join2(proxy.sub_state(), proxy.need_daemon_reload()),
        ),
    )
    .await;
    let path = loaded.map_err(call_err("LoadUnit", unit))?;
    let (proxy, load_state, active_state, sub_state, need_reload) = if path == guess {
        (proxy, load_state, active_state, sub_state, need_reload)
    } else {
        let proxy = unit_proxy(&s.conn, path.clone(), unit).await?;
        let (a, b) = join2(
            join2(proxy.load_state(), proxy.active_state()),
            join2(proxy.sub_state(), proxy.need_daemon_reload()),
        )
        .await;
        (proxy, a.0, a.1, b.0, b.1)
    };
    let mut status = UnitStatus {
        unit: unit.clone(),
        load_state: load_state.map_err(call_err("Get(LoadState)", unit))?,
        active_state: ActiveState::parse(
            &active_state.map_err(call_err("Get(ActiveState)", unit))?,
        ),
        sub_state: sub_state.map_err(call_err("Get(SubState)", unit))?,
        need_daemon_reload: need_reload.map_err(call_err("Get(NeedDaemonReload)", unit))?,
        detail: None,
    };
    let broken = matches!(status.load_state.as_str(), "bad-setting" | "error");
    if broken || (explain != Explain::No && !outcome::is_running(&status)) {
        // Best effort: the reason is nicer with it, the verdict does not depend on it.
        status.detail = why_not_running(&s.conn, &proxy, path, &status, explain).await;
    }
    Ok(status)
}

async fn why_not_running(
    conn: &Connection,
    unit: &UnitProxy<'_>,
    path: OwnedObjectPath,
    status: &UnitStatus,
    explain: Explain,
) -> Option<String> {
    if status.load_state != "loaded" {
        if !status.exists() {
            return None;
        }
        let (name, message) = unit.load_error().await.ok()?;
        let text = if message.is_empty() { name } else { message };
        return (!text.is_empty()).then_some(text);
    }
    let mut parts = Vec::new();
    // ConditionResult is also false for a unit never started: only a start that just
    // ended makes it the reason.
    if explain == Explain::AfterStart && unit.condition_result().await == Ok(false) {
        parts.push("a start condition (Condition*=) was not met".to_string());
    }
    if status.unit.is_service() {
        if let Ok(service) = ServiceProxy::builder(conn)
            .path(path)
            .cache_properties(CacheProperties::No)
            .build()
            .await
        {
            if let Ok(result) = service.result().await {
                if result != "success" {
                    parts.push(format!("result {result}"));
                    if let Ok(code) = service.exec_main_status().await {
                        if code != 0 {
                            parts.push(format!("main process status {code}"));
                        }
                    }
                }
            }
        }
    }
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// What a service unit runs, as systemd has it: for the health check that looks at its
/// processes, and for comparing an old agent's binary/config/user with the unit's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceFacts {
    /// 0 when it has none.
    pub main_pid: u32,
    /// Each ExecStart= command line: the program's path, then its argv.
    pub exec_start: Vec<(String, Vec<String>)>,
    /// User=, empty for root.
    pub user: String,
}

impl super::Systemd {
    /// The main PID, command lines and user of service `unit`.
    pub fn service_facts(
        &self,
        unit: &UnitName,
        limit: std::time::Duration,
    ) -> Result<ServiceFacts, SystemdError> {
        self.call(limit, "reading the service's properties", async move {
            let s = self.session(limit).await?;
            let path = s
                .mgr
                .load_unit(unit.as_str())
                .await
                .map_err(call_err("LoadUnit", unit))?;
            let service = ServiceProxy::builder(&s.conn)
                .path(path)
                .cache_properties(CacheProperties::No)
                .build()
                .await
                .map_err(call_err("Service proxy", unit))?;
            let (pid, (exec, user)) = join2(
                service.main_pid(),
                join2(service.exec_start(), service.user()),
            )
            .await;
            Ok(ServiceFacts {
                main_pid: pid.map_err(call_err("Get(MainPID)", unit))?,
                exec_start: exec
                    .map_err(call_err("Get(ExecStart)", unit))?
                    .into_iter()
                    .map(|(path, argv, ..)| (path, argv))
                    .collect(),
                user: user.map_err(call_err("Get(User)", unit))?,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_object_paths_are_escaped_like_sd_bus() {
        let p = |u: &str| unit_object_path(&UnitName::parse(u).unwrap());
        assert_eq!(p("web"), "/org/freedesktop/systemd1/unit/web_2eservice");
        assert_eq!(
            p("getty@tty1.service"),
            "/org/freedesktop/systemd1/unit/getty_40tty1_2eservice"
        );
        assert_eq!(
            p("1st-unit.socket"),
            "/org/freedesktop/systemd1/unit/_31st_2dunit_2esocket"
        );
        assert_eq!(
            p("a_b\\x2d.service"),
            "/org/freedesktop/systemd1/unit/a_5fb_5cx2d_2eservice"
        );
    }

    #[test]
    fn active_states_round_trip_and_keep_unknown_ones() {
        for s in [
            "active",
            "reloading",
            "refreshing",
            "inactive",
            "failed",
            "activating",
            "deactivating",
            "maintenance",
            "hibernating",
        ] {
            assert_eq!(ActiveState::parse(s).as_str(), s);
        }
        assert_eq!(
            ActiveState::parse("hibernating"),
            ActiveState::Other("hibernating".into())
        );
    }
}
