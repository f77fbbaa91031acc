//! One run of a hook: its own process group, stdin `/dev/null`, no shell;
//! past its timeout the group gets SIGTERM, then SIGKILL after a grace. The
//! last few KiB of its stdout and stderr are kept for the log.

use std::ffi::OsString;
use std::fmt;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;
use tokio::task::JoinHandle;

/// How much of each output stream is kept (its end).
const TAIL: usize = 4096;
/// How long the group has between SIGTERM and SIGKILL.
const KILL_GRACE: Duration = Duration::from_secs(5);
/// How long the output is read after the hook exited (a child it left
/// running may hold the pipes open).
const DRAIN: Duration = Duration::from_secs(1);

/// How a run ended.
#[derive(Debug)]
pub(super) enum Ended {
    Succeeded,
    Exited(i32),
    Signalled(i32),
    TimedOut(Duration),
    NotStarted(std::io::Error),
}

impl Ended {
    /// The metric's `outcome` label.
    pub fn label(&self) -> &'static str {
        match self {
            Ended::Succeeded => "success",
            Ended::Exited(_) => "failure",
            Ended::Signalled(_) => "signalled",
            Ended::TimedOut(_) => "timeout",
            Ended::NotStarted(_) => "not_started",
        }
    }
}

impl fmt::Display for Ended {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ended::Succeeded => f.write_str("exited 0"),
            Ended::Exited(code) => write!(f, "exited {code}"),
            Ended::Signalled(signal) => write!(f, "killed by signal {signal}"),
            Ended::TimedOut(after) => write!(
                f,
                "timed out after {} (its process group was stopped)",
                humantime::format_duration(*after)
            ),
            Ended::NotStarted(err) => write!(f, "could not be started: {err}"),
        }
    }
}

/// One run's end and the tails of its output.
#[derive(Debug)]
pub(super) struct Run {
    pub ended: Ended,
    pub stdout: String,
    pub stderr: String,
}

/// Sends a signal to a process group; on drop, SIGKILL unless disarmed (a
/// run cut off by the daemon's shutdown leaves nothing behind).
struct Group {
    pgid: Option<libc::pid_t>,
}

impl Group {
    fn signal(&self, signal: libc::c_int) {
        if let Some(pgid) = self.pgid {
            // SAFETY: killpg only sends a signal; the group is the hook's own.
            unsafe {
                libc::killpg(pgid, signal);
            }
        }
    }

    fn disarm(&mut self) {
        self.pgid = None;
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.signal(libc::SIGKILL);
    }
}

/// Runs `argv` once with `env`, for at most `timeout`.
pub(super) async fn run(argv: &[String], env: Vec<(OsString, OsString)>, timeout: Duration) -> Run {
    let mut command = Command::new(&argv[0]);
    command
        .args(&argv[1..])
        .env_clear()
        .envs(env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(err) => {
            return Run {
                ended: Ended::NotStarted(err),
                stdout: String::new(),
                stderr: String::new(),
            };
        }
    };
    let mut group = Group {
        pgid: child.id().and_then(|pid| libc::pid_t::try_from(pid).ok()),
    };
    let stdout = tail_of(child.stdout.take());
    let stderr = tail_of(child.stderr.take());
    let ended = match tokio::time::timeout(timeout, child.wait()).await {
        Ok(status) => {
            group.disarm();
            ended(status)
        }
        Err(_) => {
            group.signal(libc::SIGTERM);
            if tokio::time::timeout(KILL_GRACE, child.wait())
                .await
                .is_err()
            {
                group.signal(libc::SIGKILL);
                let _ = child.wait().await;
            }
            // What the hook left in its group goes too.
            group.signal(libc::SIGKILL);
            group.disarm();
            Ended::TimedOut(timeout)
        }
    };
    let (stdout, stderr) = tokio::join!(collect(stdout), collect(stderr));
    Run {
        ended,
        stdout,
        stderr,
    }
}

fn ended(status: std::io::Result<ExitStatus>) -> Ended {
    use std::os::unix::process::ExitStatusExt;
    match status {
        Ok(status) if status.success() => Ended::Succeeded,
        Ok(status) => match (status.code(), status.signal()) {
            (Some(code), _) => Ended::Exited(code),
            (None, Some(signal)) => Ended::Signalled(signal),
            (None, None) => Ended::Exited(-1),
        },
        Err(err) => Ended::NotStarted(err),
    }
}

/// The last [`TAIL`] bytes of a stream, shared with the task reading it.
type Tail = Arc<Mutex<Vec<u8>>>;

/// Reads a stream to its end, keeping its last [`TAIL`] bytes.
fn tail_of<R: AsyncRead + Unpin + Send + 'static>(pipe: Option<R>) -> (Tail, JoinHandle<()>) {
    let kept = Tail::default();
    let reader = tokio::spawn({
        let kept = Arc::clone(&kept);
        async move {
            let Some(mut pipe) = pipe else {
                return;
            };
            let mut buffer = [0u8; 4096];
            while let Ok(read) = pipe.read(&mut buffer).await {
                if read == 0 {
                    break;
                }
                let mut kept = kept.lock().expect("tail lock");
                kept.extend_from_slice(&buffer[..read]);
                if kept.len() > TAIL {
                    let excess = kept.len() - TAIL;
                    kept.drain(..excess);
                }
            }
        }
    });
    (kept, reader)
}

/// The tail, once the stream ended or [`DRAIN`] passed (a child the hook
/// left running may hold the pipe open), as text.
async fn collect((kept, mut reader): (Tail, JoinHandle<()>)) -> String {
    if tokio::time::timeout(DRAIN, &mut reader).await.is_err() {
        reader.abort();
    }
    let bytes = kept.lock().expect("tail lock");
    String::from_utf8_lossy(&bytes).trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Vec<String> {
        vec!["/bin/sh".into(), "-c".into(), script.into()]
    }

    #[tokio::test]
    async fn the_tail_is_the_end_of_the_output_even_while_a_child_holds_the_pipe() {
        let argv = sh(
            "i=0; while [ $i -lt 2000 ]; do echo line$i; i=$((i+1)); done; echo oops >&2; sleep 3 & exit 0",
        );
        let run = run(&argv, Vec::new(), Duration::from_secs(20)).await;
        assert!(matches!(run.ended, Ended::Succeeded), "{:?}", run.ended);
        assert!(run.stdout.ends_with("line1999"), "{}", run.stdout);
        assert!(run.stdout.len() <= TAIL && !run.stdout.contains("line10\n"));
        assert_eq!(run.stderr, "oops");
    }

    #[tokio::test]
    async fn stdin_is_empty_and_the_environment_is_only_what_is_given() {
        let argv = sh("read -r line && exit 9; [ \"$ONLY\" = yes ] && [ -z \"$HOME\" ] || exit 7");
        let env = vec![("ONLY".into(), "yes".into())];
        let run = run(&argv, env, Duration::from_secs(20)).await;
        assert!(matches!(run.ended, Ended::Succeeded), "{:?}", run.ended);
    }

    #[tokio::test]
    async fn a_program_that_does_not_exist_is_not_started() {
        let run = run(
            &["/nonexistent/hook".into()],
            Vec::new(),
            Duration::from_secs(5),
        )
        .await;
        assert!(matches!(run.ended, Ended::NotStarted(_)), "{:?}", run.ended);
        assert_eq!(run.ended.label(), "not_started");
    }
}
