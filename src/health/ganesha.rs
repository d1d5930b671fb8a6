//! NFS-Ganesha's own health check: its admin interface answers `get_grace` on the D-Bus
//! system bus. A running ganesha.nfsd whose D-Bus thread died, or one that never reached the
//! bus, cannot be put into grace at a failover: that is what "healthy" must exclude.

use std::time::Duration;

use super::HealthFailure;
use crate::ganesha::admin;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GaneshaCheck;

impl GaneshaCheck {
    pub fn run(&self, timeout: Duration) -> Result<String, HealthFailure> {
        match admin::get_grace(timeout) {
            Ok(state) => Ok(format!(
                "ganesha.nfsd's admin interface answers ({})",
                if state.in_grace {
                    "in grace"
                } else {
                    "not in grace"
                }
            )),
            Err(e) => Err(HealthFailure(e.to_string())),
        }
    }

    pub fn describe(&self) -> String {
        format!(
            "{}.get_grace on {} {} (D-Bus system bus)",
            admin::ADMIN_IFACE,
            admin::BUS_NAME,
            admin::ADMIN_PATH
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_the_call() {
        assert!(GaneshaCheck
            .describe()
            .contains("org.ganesha.nfsd.admin.get_grace"));
    }
}
