//! Nova API microversions: `2.N`, ordered, and the request headers that carry them.

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Microversion {
    pub major: u16,
    pub minor: u16,
}

impl Microversion {
    pub const fn new(major: u16, minor: u16) -> Self {
        Microversion { major, minor }
    }

    /// `2.1`: what Nova assumes when a request names no version.
    pub const BASE: Microversion = Microversion::new(2, 1);
    /// `forced_down` in os-services and `PUT /os-services/force-down`.
    pub const FORCE_DOWN: Microversion = Microversion::new(2, 11);
    /// evacuate drops `onSharedStorage` (Nova detects shared storage itself).
    pub const EVACUATE_AUTO_SHARED: Microversion = Microversion::new(2, 14);
    /// The last version whose server `flavor` still carries the flavor's id.
    pub const FLAVOR_ID_IN_SERVER: Microversion = Microversion::new(2, 46);
    /// Services by uuid and the single `PUT /os-services/{uuid}`.
    pub const SERVICE_UUID: Microversion = Microversion::new(2, 53);
    /// os-migrations paging (limit/marker) and changes-since.
    pub const MIGRATIONS_PAGED: Microversion = Microversion::new(2, 59);
    /// Flavors carry their extra_specs inline.
    pub const FLAVOR_EXTRA_SPECS: Microversion = Microversion::new(2, 61);
    /// lock with a `locked_reason`.
    pub const LOCK_REASON: Microversion = Microversion::new(2, 73);
    /// The last version whose evacuate keeps the instance's power state: from 2.95 an
    /// evacuated instance ends up stopped on its new host.
    pub const EVACUATE_MAX: Microversion = Microversion::new(2, 94);

    /// The header value for `OpenStack-API-Version` (`compute 2.N`).
    pub fn header(&self) -> String {
        format!("compute {self}")
    }
}

impl fmt::Display for Microversion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

impl FromStr for Microversion {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let (a, b) = t
            .split_once('.')
            .ok_or_else(|| format!("microversion '{t}' is not of the form X.Y"))?;
        match (a.parse::<u16>(), b.parse::<u16>()) {
            (Ok(major), Ok(minor)) => Ok(Microversion { major, minor }),
            _ => Err(format!("microversion '{t}' is not of the form X.Y")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_order() {
        let v: Microversion = "2.53".parse().unwrap();
        assert_eq!(v, Microversion::SERVICE_UUID);
        assert!(Microversion::new(2, 9) < Microversion::new(2, 11));
        assert!("2".parse::<Microversion>().is_err());
        assert!("".parse::<Microversion>().is_err());
        assert_eq!(v.header(), "compute 2.53");
    }
}
