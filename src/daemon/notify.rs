//! systemd's notify protocol (sd_notify): READY, RELOADING, STOPPING,
//! WATCHDOG and STATUS datagrams to `$NOTIFY_SOCKET`. A no-op when the
//! variable is unset, so the daemon runs the same outside systemd.

use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::sync::Mutex;
use std::time::Duration;

use tracing::{debug, warn};

/// Where and how to notify systemd; cheap to share.
#[derive(Debug)]
pub struct Notifier {
    target: Option<(UnixDatagram, SocketAddr)>,
    /// The last STATUS sent, to send only changes.
    last_status: Mutex<String>,
}

impl Notifier {
    /// From `$NOTIFY_SOCKET` (a path, or `@name` for the abstract namespace).
    pub fn from_env() -> Notifier {
        let target = std::env::var_os("NOTIFY_SOCKET").and_then(|socket| {
            let socket = socket.to_string_lossy().into_owned();
            let addr = match socket.strip_prefix('@') {
                Some(name) => SocketAddr::from_abstract_name(name.as_bytes()),
                None => SocketAddr::from_pathname(&socket),
            };
            match (UnixDatagram::unbound(), addr) {
                (Ok(sock), Ok(addr)) => Some((sock, addr)),
                (Err(err), _) | (_, Err(err)) => {
                    warn!(socket = %socket, error = %err, "cannot use NOTIFY_SOCKET");
                    None
                }
            }
        });
        Notifier {
            target,
            last_status: Mutex::new(String::new()),
        }
    }

    /// A notifier that sends nothing.
    pub fn disabled() -> Notifier {
        Notifier {
            target: None,
            last_status: Mutex::new(String::new()),
        }
    }

    pub fn is_enabled(&self) -> bool {
        self.target.is_some()
    }

    /// The policy is valid and the schedule armed.
    pub fn ready(&self) {
        self.send("READY=1");
    }

    /// A reload starts; `ready` ends it.
    pub fn reloading(&self) {
        self.send(&format!("RELOADING=1\nMONOTONIC_USEC={}", monotonic_usec()));
    }

    pub fn stopping(&self) {
        self.send("STOPPING=1");
    }

    pub fn watchdog(&self) {
        self.send("WATCHDOG=1");
    }

    /// A one-line status for `systemctl status`; sent only when it changed.
    pub fn status(&self, status: &str) {
        let mut last = self.last_status.lock().expect("status lock");
        if *last != status {
            *last = status.to_owned();
            drop(last);
            self.send(&format!("STATUS={status}"));
        }
    }

    fn send(&self, message: &str) {
        let Some((sock, addr)) = &self.target else {
            return;
        };
        match sock.send_to_addr(message.as_bytes(), addr) {
            Ok(_) => debug!(message, "notified systemd"),
            Err(err) => warn!(error = %err, "cannot notify systemd"),
        }
    }
}

/// How often systemd wants a WATCHDOG=1: half of `$WATCHDOG_USEC`, when it
/// is set for this process (`$WATCHDOG_PID`, if set, must be ours).
pub fn watchdog_interval() -> Option<Duration> {
    if let Ok(pid) = std::env::var("WATCHDOG_PID")
        && pid.trim() != std::process::id().to_string()
    {
        return None;
    }
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.trim().parse().ok()?;
    (usec > 0).then(|| Duration::from_micros(usec / 2))
}

/// CLOCK_MONOTONIC in microseconds, as RELOADING=1 wants it.
fn monotonic_usec() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes the timespec we pass it.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    if rc != 0 {
        return 0;
    }
    let secs = u64::try_from(now.tv_sec).unwrap_or(0);
    let nanos = u64::try_from(now.tv_nsec).unwrap_or(0);
    secs * 1_000_000 + nanos / 1_000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_datagrams_and_status_only_on_change() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let listener = UnixDatagram::bind(&path).unwrap();
        listener
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let notifier = Notifier {
            target: Some((
                UnixDatagram::unbound().unwrap(),
                SocketAddr::from_pathname(&path).unwrap(),
            )),
            last_status: Mutex::new(String::new()),
        };
        let mut buf = [0u8; 256];
        let mut recv = || {
            let n = listener.recv(&mut buf).unwrap();
            String::from_utf8_lossy(&buf[..n]).into_owned()
        };
        notifier.ready();
        assert_eq!(recv(), "READY=1");
        notifier.reloading();
        let reloading = recv();
        assert!(
            reloading.starts_with("RELOADING=1\nMONOTONIC_USEC="),
            "{reloading}"
        );
        assert!(
            reloading
                .rsplit('=')
                .next()
                .unwrap()
                .parse::<u64>()
                .unwrap()
                > 0
        );
        notifier.status("3 credentials");
        notifier.status("3 credentials");
        notifier.status("2 credentials");
        assert_eq!(recv(), "STATUS=3 credentials");
        assert_eq!(recv(), "STATUS=2 credentials");
    }
}
