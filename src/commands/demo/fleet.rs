//! The demo's replicas: `rekeyd daemon` child processes of this same binary,
//! each with its own policy file and state directory, their JSON logs read
//! back as [`Report`]s; killed on drop, and when the demo dies.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

/// How long a replica has to stop after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(20);

/// What a replica's log says, as far as the demo shows it.
#[derive(Debug, Clone, PartialEq)]
pub enum Report {
    /// A rotation stored its secret.
    Rotated {
        credential: String,
        kind: String,
        version: String,
    },
    /// A rotation failed.
    Failed { credential: String, error: String },
    /// A lease left by a replica that stopped renewing it was taken over.
    TookOverLease {
        credential: String,
        previous_owner: String,
    },
    /// Any other warning or error, as logged (never a secret: rekeyd logs none).
    Warning { message: String },
    /// A line that is not rekeyd's JSON log (a crash message).
    Raw(String),
}

/// One replica's report, with its number (1-based).
pub type Line = (usize, Report);

/// The running replicas.
pub struct Fleet {
    children: Vec<Option<Child>>,
}

impl Fleet {
    /// Starts one `rekeyd daemon` per policy file; their reports arrive on
    /// the returned channel, which closes once every replica's log is closed.
    pub fn start(policies: &[PathBuf]) -> Result<(Fleet, mpsc::UnboundedReceiver<Line>)> {
        let exe = std::env::current_exe().context("cannot find rekeyd's own executable")?;
        let (lines, received) = mpsc::unbounded_channel();
        let mut children = Vec::new();
        for (index, policy) in policies.iter().enumerate() {
            let replica = index + 1;
            let mut child = daemon_command(&exe, policy)
                .spawn()
                .with_context(|| format!("cannot start replica-{replica}"))?;
            let stderr = child.stderr.take().expect("stderr is piped");
            let lines = lines.clone();
            tokio::spawn(async move {
                let mut reader = BufReader::new(stderr).lines();
                while let Ok(Some(line)) = reader.next_line().await {
                    if let Some(report) = parse(&line)
                        && lines.send((replica, report)).is_err()
                    {
                        break;
                    }
                }
            });
            children.push(Some(child));
        }
        Ok((Fleet { children }, received))
    }

    /// SIGKILLs replica `replica` (1-based), as a crashed host, and reaps it.
    pub async fn kill(&mut self, replica: usize) -> Result<()> {
        let Some(mut child) = self.children.get_mut(replica - 1).and_then(Option::take) else {
            return Ok(());
        };
        child
            .kill()
            .await
            .with_context(|| format!("cannot kill replica-{replica}"))
    }

    /// SIGTERMs every replica still running and waits for each to stop:
    /// whether all of them exited cleanly.
    pub async fn stop(&mut self) -> bool {
        for child in self.children.iter().flatten() {
            if let Some(pid) = child.id() {
                // SAFETY: kill(2) with a pid this process spawned and has not
                // reaped yet (the Child still owns it).
                unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
            }
        }
        let mut clean = true;
        for (index, slot) in self.children.iter_mut().enumerate() {
            let Some(mut child) = slot.take() else {
                continue;
            };
            let status = match tokio::time::timeout(STOP_TIMEOUT, child.wait()).await {
                Ok(status) => status.ok(),
                Err(_) => {
                    let _ = child.kill().await;
                    None
                }
            };
            if !status.is_some_and(|s| s.success()) {
                let how = status.map_or("did not stop in time".into(), |s| s.to_string());
                println!("[replica-{}] stopped badly: {how}", index + 1);
                clean = false;
            }
        }
        clean
    }
}

/// `rekeyd --config POLICY daemon`, logging JSON to a pipe, with the demo's
/// credentials and none of the caller's AWS or systemd settings.
fn daemon_command(exe: &Path, policy: &Path) -> Command {
    let mut command = Command::new(exe);
    command
        .arg("--log-format")
        .arg("json")
        .arg("--config")
        .arg(policy)
        .arg("daemon");
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        let inherited = [
            "REKEYD_CONFIG",
            "STATE_DIRECTORY",
            "NOTIFY_SOCKET",
            "WATCHDOG_USEC",
            "WATCHDOG_PID",
            "JOURNAL_STREAM",
        ];
        if key.starts_with("AWS_") || inherited.contains(&key.as_ref()) {
            command.env_remove(key.as_ref());
        }
    }
    command
        .env("RUST_LOG", "warn,rekeyd=info")
        .env("AWS_ACCESS_KEY_ID", "AKIDDEMO")
        .env("AWS_SECRET_ACCESS_KEY", "demo-secret")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        // The demo already runs as whoever started it; its replicas do too.
        .env("REKEYD_ALLOW_ROOT", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    // SAFETY: prctl is async-signal-safe and touches only the child. The
    // replicas are spawned from the demo's main task, whose thread lives as
    // long as the demo: if the demo dies (even by SIGKILL), each replica gets
    // SIGTERM and stops, so none is left behind.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    command
}

/// The report in one JSON log line, if the demo shows it.
fn parse(line: &str) -> Option<Report> {
    let Ok(log) = serde_json::from_str::<Value>(line) else {
        return (!line.trim().is_empty()).then(|| Report::Raw(line.to_owned()));
    };
    let text = |key: &str| -> Option<String> {
        let value = log.get(key).or_else(|| log.get("span")?.get(key))?;
        Some(
            value
                .as_str()
                .map_or_else(|| value.to_string(), str::to_owned),
        )
    };
    let credential = text("credential").unwrap_or_default();
    let message = text("message").unwrap_or_default();
    match message.as_str() {
        "rotation finished" => Some(Report::Rotated {
            credential,
            kind: text("kind").unwrap_or_default(),
            version: text("version").unwrap_or_default(),
        }),
        "rotation failed" => Some(Report::Failed {
            credential,
            error: text("error").unwrap_or_default(),
        }),
        "took over a stale lease" => Some(Report::TookOverLease {
            credential,
            previous_owner: text("previous_owner").unwrap_or_default(),
        }),
        // The demo runs its replicas as whoever runs the demo, root included:
        // the daemon's advice against root is for its operators.
        _ if message.starts_with("running as root") => None,
        _ if matches!(text("level").as_deref(), Some("WARN" | "ERROR")) => {
            let mut message = message;
            if !credential.is_empty() {
                message = format!("{credential}: {message}");
            }
            if let Some(error) = text("error") {
                message.push_str(&format!(": {error}"));
            }
            Some(Report::Warning { message })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_finished_rotation_is_read_from_its_span() {
        let line = r#"{"timestamp":"2026-11-30T17:00:00Z","level":"INFO","message":"rotation finished","secret":"demo/support-bot","version":"0f1e2d3c-aaaa","created":true,"target":"rekeyd::rotation","span":{"credential":"support-bot","kind":"chime_bot","rotation":"r1","name":"rotation"}}"#;
        assert_eq!(
            parse(line),
            Some(Report::Rotated {
                credential: "support-bot".into(),
                kind: "chime_bot".into(),
                version: "0f1e2d3c-aaaa".into(),
            })
        );
    }

    #[test]
    fn info_lines_are_not_shown_but_warnings_and_crashes_are() {
        let info = r#"{"level":"INFO","message":"next run scheduled","credential":"a"}"#;
        assert_eq!(parse(info), None);
        let warn = r#"{"level":"WARN","message":"lease heartbeat failed","credential":"a","error":"gone"}"#;
        assert_eq!(
            parse(warn),
            Some(Report::Warning {
                message: "a: lease heartbeat failed: gone".into()
            })
        );
        assert_eq!(
            parse("thread 'main' panicked"),
            Some(Report::Raw("thread 'main' panicked".into()))
        );
    }
}
