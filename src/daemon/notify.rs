//! systemd's notify protocol (sd_notify): READY, RELOADING, STOPPING,
//! WATCHDOG and STATUS datagrams to `$NOTIFY_SOCKET`. A no-op when the
//! variable is unset, so the daemon runs the same outside systemd.

use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tracing::{debug, warn};

/// Where and how to notify systemd; cheap to share.
#[derive(Debug)]
pub struct Notifier {
    target: Option<(UnixDatagram, SocketAddr)>,
    /// The last STATUS sent, to send only changes, and not too often.
    last_status: Mutex<LastStatus>,
    status_every: Duration,
}

/// At most one STATUS datagram per this long.
const STATUS_EVERY: Duration = Duration::from_secs(1);

#[derive(Debug, Default)]
struct LastStatus {
    text: String,
    sent_at: Option<Instant>,
}

impl Notifier {
    /// From `$NOTIFY_SOCKET` (a path, or `@name` for the abstract namespace).
    pub fn from_env() -> Notifier {
        match std::env::var_os("NOTIFY_SOCKET") {
            Some(socket) => Notifier::for_socket(&socket.to_string_lossy()),
            None => Notifier::disabled(),
        }
    }

    /// Notifications to `socket` (a path, or `@name`).
    pub fn for_socket(socket: &str) -> Notifier {
        let target = {
            let addr = match socket.strip_prefix('@') {
                Some(name) => SocketAddr::from_abstract_name(name.as_bytes()),
                None => SocketAddr::from_pathname(socket),
            };
            // Never block the daemon on a reader that is behind: a
            // notification that does not fit is dropped (and logged).
            let sock = UnixDatagram::unbound().and_then(|sock| {
                sock.set_nonblocking(true)?;
                Ok(sock)
            });
            match (sock, addr) {
                (Ok(sock), Ok(addr)) => Some((sock, addr)),
                (Err(err), _) | (_, Err(err)) => {
                    warn!(socket = %socket, error = %err, "cannot use NOTIFY_SOCKET");
                    None
                }
            }
        };
        Notifier {
            target,
            last_status: Mutex::new(LastStatus::default()),
            status_every: STATUS_EVERY,
        }
    }

    /// A notifier that sends nothing.
    pub fn disabled() -> Notifier {
        Notifier {
            target: None,
            last_status: Mutex::new(LastStatus::default()),
            status_every: STATUS_EVERY,
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

    /// A one-line status for `systemctl status`: sent when it changed, at
    /// most once per [`STATUS_EVERY`] (the daemon calls this at least once a
    /// second, so the latest status always goes out).
    pub fn status(&self, status: &str) {
        let mut last = self.last_status.lock().expect("status lock");
        let due = last
            .sent_at
            .is_none_or(|at| at.elapsed() >= self.status_every);
        if last.text != status && due {
            last.text = status.to_owned();
            last.sent_at = Some(Instant::now());
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
            Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => {
                debug!(message, "systemd is not reading notifications: dropped");
            }
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
    fn a_reader_that_falls_behind_never_blocks_the_daemon() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let _never_read = UnixDatagram::bind(&path).unwrap();
        let notifier = Notifier::for_socket(path.to_str().unwrap());
        let (done, finished) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            // Far more than the socket queue holds: the rest are dropped.
            for _ in 0..10_000 {
                notifier.watchdog();
            }
            let _ = done.send(());
        });
        // A blocking send would never get here; bound the wait.
        assert!(finished.recv_timeout(Duration::from_secs(60)).is_ok());
    }

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
            last_status: Mutex::new(LastStatus::default()),
            status_every: Duration::ZERO,
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
