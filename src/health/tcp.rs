//! A TCP connect check: `host:port`, an IPv6 address in brackets (`[::1]:5000`).

use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::{HealthConfigError, HealthFailure};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpCheck {
    host: String,
    port: u16,
}

impl TcpCheck {
    pub fn parse(spec: &str) -> Result<Self, HealthConfigError> {
        let bad = |why: &str| {
            HealthConfigError(format!(
                "monitor_tcp '{}' {why}; expected host:port or [IPv6]:port",
                crate::ocf::params::printable(spec)
            ))
        };
        let spec = spec.trim();
        let (host, port) = if let Some(rest) = spec.strip_prefix('[') {
            let (addr, port) = rest
                .split_once("]:")
                .ok_or_else(|| bad("has no port after the bracketed address"))?;
            addr.parse::<std::net::Ipv6Addr>()
                .map_err(|_| bad("has no valid IPv6 address in brackets"))?;
            (addr, port)
        } else {
            let (host, port) = spec.rsplit_once(':').ok_or_else(|| bad("has no port"))?;
            if host.contains(':') {
                return Err(bad("looks like an IPv6 address without brackets"));
            }
            (host, port)
        };
        if host.is_empty() {
            return Err(bad("has no host"));
        }
        if !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'))
        {
            return Err(bad("has a host name with invalid characters"));
        }
        let port = port
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| bad("has no valid port (1-65535)"))?;
        Ok(TcpCheck {
            host: host.to_string(),
            port,
        })
    }

    pub fn describe(&self) -> String {
        if self.host.contains(':') {
            format!("TCP connect to [{}]:{}", self.host, self.port)
        } else {
            format!("TCP connect to {}:{}", self.host, self.port)
        }
    }

    pub fn run(&self, timeout: Duration) -> Result<String, HealthFailure> {
        let until = Instant::now() + timeout;
        let shown = self.describe();
        let addrs = self
            .resolve(timeout)
            .map_err(|e| HealthFailure(format!("{shown}: {e}")))?;
        let mut last = String::from("no address");
        for addr in addrs {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                last = format!("timed out after {} ms", timeout.as_millis());
                break;
            }
            match TcpStream::connect_timeout(&addr, left) {
                Ok(_) => return Ok(format!("{shown} succeeded ({addr})")),
                Err(e) => last = format!("{addr}: {e}"),
            }
        }
        Err(HealthFailure(format!("{shown} failed: {last}")))
    }

    /// Addresses of the host. A name lookup can hang (a dead DNS server), so it runs on a
    /// helper thread the check stops waiting for at the timeout.
    fn resolve(&self, timeout: Duration) -> Result<Vec<SocketAddr>, String> {
        if let Ok(ip) = self.host.parse::<IpAddr>() {
            return Ok(vec![SocketAddr::new(ip, self.port)]);
        }
        let (tx, rx) = mpsc::channel();
        let target = (self.host.clone(), self.port);
        std::thread::spawn(move || {
            let _ = tx.send(target.to_socket_addrs().map(Iterator::collect::<Vec<_>>));
        });
        match rx.recv_timeout(timeout) {
            Ok(Ok(addrs)) if !addrs.is_empty() => Ok(addrs),
            Ok(Ok(_)) => Err(format!("{} has no address", self.host)),
            Ok(Err(e)) => Err(format!("cannot resolve {}: {e}", self.host)),
            Err(_) => Err(format!(
                "resolving {} took longer than {} ms",
                self.host,
                timeout.as_millis()
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn parses_hosts_ports_and_bracketed_ipv6() {
        let c = TcpCheck::parse("localhost:8774").unwrap();
        assert_eq!((c.host.as_str(), c.port), ("localhost", 8774));
        let c = TcpCheck::parse("[::1]:5000").unwrap();
        assert_eq!((c.host.as_str(), c.port), ("::1", 5000));
        assert_eq!(c.describe(), "TCP connect to [::1]:5000");
        for bad in [
            "localhost",
            ":80",
            "host:0",
            "host:99999",
            "::1:80",
            "[::1]",
            "[x]:1",
            "a b:1",
            "h;x:1",
        ] {
            assert!(TcpCheck::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn connects_or_reports_why_not() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let c = TcpCheck::parse(&format!("127.0.0.1:{port}")).unwrap();
        assert!(c.run(Duration::from_secs(2)).is_ok());
        drop(l);
        let e = c.run(Duration::from_secs(2)).unwrap_err();
        assert!(e.0.contains("failed"), "{e}");
    }
}
