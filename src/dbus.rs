//! A small shared D-Bus helper for the peer clients (systemd1, org.ganesha.nfsd).
//!
//! zbus 6 has no blocking API, so every client is async inside and offers a sync facade:
//! one [`block_on`] per operation, never nested (zbus panics on a nested one). Every wait is
//! bounded: [`connect`] sets a per-method-call timeout on the connection, and [`block_on`]
//! puts one overall limit on the whole operation so it ends before pacemaker-execd's SIGKILL.
//!
//! ```text
//! let limit = ctx.deadline.budget(Duration::from_secs(10));
//! let answer = dbus::block_on(limit, "grace request", async {
//!     let conn = dbus::connect(Bus::System, limit).await?;
//!     /* proxy calls */
//! })?;   // Err(DbusError::TimedOut) when the limit passed; Ok(the future's own Result) else
//! ```
//!
//! Which bus: `Bus::System` honours DBUS_SYSTEM_BUS_ADDRESS, `Bus::Session` honours
//! DBUS_SESSION_BUS_ADDRESS (else `$XDG_RUNTIME_DIR/bus`), so tests point agents at a
//! private bus through the environment alone.

use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::{pin, Pin};
use std::task::Poll;
use std::time::{Duration, Instant};

use futures_core::Stream;

use zbus::Connection;

/// Which message bus to connect to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bus {
    System,
    Session,
}

impl fmt::Display for Bus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Bus::System => "system",
            Bus::Session => "session",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DbusError {
    #[error("cannot connect to the D-Bus {bus} bus: {source}")]
    Connect { bus: Bus, source: zbus::Error },
    #[error("{what} did not finish within {} ms", .after.as_millis())]
    TimedOut { what: String, after: Duration },
    #[error("cannot run the D-Bus client: {0}")]
    Runtime(std::io::Error),
}

impl DbusError {
    /// The bus socket does not exist: no bus daemon is there, and none will appear within
    /// an operation (a restarting daemon keeps its socket, or systemd holds it for it).
    pub fn socket_missing(&self) -> bool {
        match self {
            DbusError::Connect {
                source: zbus::Error::InputOutput(e) | zbus::Error::Connection(e, _),
                ..
            } => e.kind() == std::io::ErrorKind::NotFound,
            _ => false,
        }
    }
}

/// Connect to `bus`; each method call on the connection fails after `method_timeout`
/// (D-Bus's own default, 25 s, is longer than many operation timeouts).
pub async fn connect(bus: Bus, method_timeout: Duration) -> Result<Connection, DbusError> {
    let builder = match bus {
        Bus::System => zbus::connection::Builder::system(),
        Bus::Session => zbus::connection::Builder::session(),
    };
    builder
        // A zero timeout would fail every call at once; a millisecond still gives a reason.
        .method_timeout(method_timeout.max(Duration::from_millis(1)))
        .build()
        .await
        .map_err(|source| DbusError::Connect { bus, source })
}

/// Run `fut` to completion on this thread, giving up after `limit` (`what` names the
/// operation in the error). The only place the D-Bus clients enter the async world.
pub fn block_on<F: Future>(limit: Duration, what: &str, fut: F) -> Result<F::Output, DbusError> {
    let until = Instant::now() + limit;
    zbus::block_on(async move {
        let rt = zruntime::SharedRuntime::current().map_err(DbusError::Runtime)?;
        rt.timeout_at(until, fut)
            .await
            .map_err(|_| DbusError::TimedOut {
                what: what.to_string(),
                after: limit,
            })
    })
}

/// Sleep inside a [`block_on`] future (the runtime's timer; a thread sleep would stall it).
pub async fn sleep(d: Duration) {
    if let Ok(rt) = zruntime::SharedRuntime::current() {
        rt.sleep(d).await;
    }
}

/// The D-Bus error name of a method error reply (`org.freedesktop.systemd1.NoSuchUnit`,
/// `org.freedesktop.DBus.Error.ServiceUnknown`, ...), if `err` is one.
pub fn error_name(err: &zbus::Error) -> Option<String> {
    match err {
        zbus::Error::MethodError(name, _, _) => Some(name.to_string()),
        zbus::Error::FDO(e) => Some(zbus::DBusError::name(e.as_ref()).to_string()),
        _ => None,
    }
}

/// The error's message text without the error name, for reasons.
pub fn error_message(err: &zbus::Error) -> String {
    match err {
        zbus::Error::MethodError(name, Some(msg), _) => format!("{msg} ({name})"),
        other => other.to_string(),
    }
}

/// True when `err` means the peer or the bus went away rather than refused: the connection
/// broke (I/O error) or the call got `NoReply` (the service exited or re-executed, as systemd
/// does on `daemon-reexec`), so trying again on a new connection may well succeed.
pub fn is_transient(err: &zbus::Error) -> bool {
    match err {
        zbus::Error::InputOutput(_) => true,
        zbus::Error::FDO(e) => matches!(
            e.as_ref(),
            zbus::fdo::Error::NoReply(_)
                | zbus::fdo::Error::Disconnected(_)
                | zbus::fdo::Error::ServiceUnknown(_)
                | zbus::fdo::Error::NameHasNoOwner(_)
        ),
        _ => false,
    }
}

/// The next item of a stream (futures' `StreamExt::next`, without the crate).
pub async fn next<S: Stream + Unpin>(s: &mut S) -> Option<S::Item> {
    poll_fn(|cx| Pin::new(&mut *s).poll_next(cx)).await
}

/// Run two futures on this task at once, so that their D-Bus calls are in flight together
/// (sent in order: `a` first). One round trip instead of two.
pub async fn join2<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
    let (mut a, mut b) = (pin!(a), pin!(b));
    let (mut ra, mut rb) = (None, None);
    poll_fn(|cx| {
        if ra.is_none() {
            if let Poll::Ready(v) = a.as_mut().poll(cx) {
                ra = Some(v);
            }
        }
        if rb.is_none() {
            if let Poll::Ready(v) = b.as_mut().poll(cx) {
                rb = Some(v);
            }
        }
        match (ra.take(), rb.take()) {
            (Some(x), Some(y)) => Poll::Ready((x, y)),
            (x, y) => {
                ra = x;
                rb = y;
                Poll::Pending
            }
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_on_gives_up_at_the_limit() {
        let r = block_on(Duration::from_millis(50), "waiting", async {
            std::future::pending::<()>().await
        });
        match r {
            Err(DbusError::TimedOut { what, .. }) => assert_eq!(what, "waiting"),
            other => panic!("expected a timeout, got {other:?}"),
        }
        let ok = block_on(Duration::from_secs(1), "x", async { 7 });
        assert_eq!(ok.ok(), Some(7));
    }

    #[test]
    fn connect_to_a_missing_bus_is_an_error_naming_the_bus() {
        // Point the session bus at a socket that does not exist.
        let addr = "unix:path=/nonexistent/ocfbox-test-bus";
        let r = block_on(Duration::from_secs(5), "connect", async {
            zbus::connection::Builder::address(addr)
                .build()
                .await
                .map_err(|source| DbusError::Connect {
                    bus: Bus::Session,
                    source,
                })
        });
        let err = r.expect("no timeout").expect_err("no such bus");
        assert!(err.to_string().contains("session bus"), "{err}");
        assert!(err.socket_missing(), "{err:?}");
    }

    #[test]
    fn join2_runs_both_and_keeps_their_outputs() {
        let r = block_on(Duration::from_secs(1), "join", async {
            join2(async { 1 }, async {
                sleep(Duration::from_millis(5)).await;
                "b"
            })
            .await
        });
        assert_eq!(r.ok(), Some((1, "b")));
    }
}
