//! The daemon: one slot per credential, a timeline of due times, rotations
//! run at most `concurrency` at a time and never two for one credential, and
//! a shutdown that lets rotations in flight finish.

mod alarm;
mod slots;
pub mod timing;

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use chrono::Utc;
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::aws::Aws;
use crate::policy::{Credential, CredentialName, Kind, Policy};
use crate::rotation::{self, Rotated, RotationError};
use crate::store::{self, StoreError};
use alarm::Alarm;
use slots::{Slots, Task};
use timing::{Due, Last};

/// What the daemon tells an observer (the demo, tests).
#[derive(Debug, Clone)]
pub enum Event {
    /// The credential's next run is set.
    Scheduled { name: CredentialName, due: Due },
    Rotated {
        name: CredentialName,
        kind: Kind,
        rotated: Rotated,
    },
    Failed {
        name: CredentialName,
        kind: Kind,
        error: String,
        in_doubt: bool,
    },
}

/// How the daemon ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stopped {
    /// Rotations still running when `shutdown_timeout` ran out.
    pub abandoned: Vec<CredentialName>,
}

/// What one task did.
enum Outcome {
    Refreshed(Result<Last, StoreError>),
    Rotated(Result<Rotated, RotationError>),
    /// Shutdown came before the task could start.
    NotStarted,
}

/// Runs until `shutdown` is cancelled, then waits up to the policy's
/// `shutdown_timeout` for rotations in flight.
pub async fn run(
    policy: &Policy,
    aws: Arc<Aws>,
    shutdown: CancellationToken,
    events: Option<mpsc::UnboundedSender<Event>>,
) -> Result<Stopped> {
    let mut alarm = Alarm::start().await.context("cannot start the scheduler")?;
    let mut slots = Slots::new(&policy.credentials, Utc::now());
    let permits = Arc::new(Semaphore::new(policy.daemon.concurrency.get()));
    let mut tasks: JoinSet<(CredentialName, Outcome)> = JoinSet::new();
    info!(
        credentials = policy.credentials.len(),
        concurrency = policy.daemon.concurrency.get(),
        "daemon started"
    );
    loop {
        for (credential, task) in slots.take_due(Utc::now()) {
            spawn(&mut tasks, &aws, &permits, &shutdown, credential, task);
        }
        alarm
            .arm(slots.earliest())
            .await
            .context("cannot arm the scheduler")?;
        tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            Some(joined) = tasks.join_next(), if !tasks.is_empty() => {
                let (name, outcome) = joined.context("a rotation task panicked")?;
                settle(&mut slots, &name, outcome, events.as_ref());
            }
            () = alarm.rung() => alarm.spent(),
        }
    }
    alarm.stop().await;
    let stopped = drain(
        &mut tasks,
        &mut slots,
        policy.daemon.shutdown_timeout,
        events.as_ref(),
    )
    .await;
    Ok(stopped)
}

fn spawn(
    tasks: &mut JoinSet<(CredentialName, Outcome)>,
    aws: &Arc<Aws>,
    permits: &Arc<Semaphore>,
    shutdown: &CancellationToken,
    credential: Arc<Credential>,
    task: Task,
) {
    let aws = Arc::clone(aws);
    let permits = Arc::clone(permits);
    let shutdown = shutdown.clone();
    tasks.spawn(async move {
        let _permit = permits
            .acquire_owned()
            .await
            .expect("semaphore never closed");
        if shutdown.is_cancelled() {
            return (credential.name.clone(), Outcome::NotStarted);
        }
        let outcome = match task {
            Task::Refresh => Outcome::Refreshed(read_last(&aws, &credential).await),
            Task::Rotate => Outcome::Rotated(rotation::rotate(&aws, &credential).await),
        };
        (credential.name.clone(), outcome)
    });
}

/// What Secrets Manager holds for the credential, as the schedule needs it.
pub async fn read_last(aws: &Aws, credential: &Credential) -> Result<Last, StoreError> {
    let current = store::read_current(aws, &credential.secret_name).await?;
    Ok(match current.and_then(|c| c.record) {
        None => Last::Missing,
        Some(record) if record.is_written_for(credential.kind(), credential.name.as_str()) => {
            Last::Rotated {
                at: record.rotated_at,
                expires_at: record.expiration_time,
            }
        }
        Some(_) => Last::Foreign,
    })
}

/// Records a finished task and schedules what comes next.
fn settle(
    slots: &mut Slots,
    name: &CredentialName,
    outcome: Outcome,
    events: Option<&mpsc::UnboundedSender<Event>>,
) {
    let now = Utc::now();
    let Some(kind) = slots.kind(name) else { return };
    let emit = |event| {
        if let Some(events) = events {
            let _ = events.send(event);
        }
    };
    let due = match outcome {
        Outcome::NotStarted => {
            slots.not_started(name);
            None
        }
        Outcome::Refreshed(Ok(last)) => slots.refreshed(name, last, now),
        Outcome::Refreshed(Err(err)) => {
            let due = slots.failed(name, Task::Refresh, now);
            warn!(credential = %name, error = %crate::commands::error_chain(&err), retry_at = %due.at, "cannot read the stored secret");
            Some(due)
        }
        Outcome::Rotated(Ok(rotated)) => {
            let due = slots.rotated(name, &rotated, now);
            emit(Event::Rotated {
                name: name.clone(),
                kind,
                rotated,
            });
            due
        }
        Outcome::Rotated(Err(err)) => {
            let due = slots.failed(name, Task::Rotate, now);
            let text = crate::commands::error_chain(&err);
            error!(credential = %name, kind = %kind, error = %text, retry_at = %due.at, "rotation failed");
            emit(Event::Failed {
                name: name.clone(),
                kind,
                error: text,
                in_doubt: err.is_in_doubt(),
            });
            Some(due)
        }
    };
    if let Some(due) = due {
        info!(credential = %name, next = %due.at, reason = %due.reason, "next run scheduled");
        emit(Event::Scheduled {
            name: name.clone(),
            due,
        });
    }
}

/// Waits for rotations in flight, up to `timeout`.
async fn drain(
    tasks: &mut JoinSet<(CredentialName, Outcome)>,
    slots: &mut Slots,
    timeout: Duration,
    events: Option<&mpsc::UnboundedSender<Event>>,
) -> Stopped {
    if !tasks.is_empty() {
        info!(in_flight = tasks.len(), timeout = %humantime::format_duration(timeout), "waiting for rotations in flight");
    }
    let deadline = tokio::time::Instant::now() + timeout;
    while !tasks.is_empty() {
        match tokio::time::timeout_at(deadline, tasks.join_next()).await {
            Ok(Some(Ok((name, outcome)))) => settle(slots, &name, outcome, events),
            Ok(Some(Err(err))) => error!(error = %err, "a rotation task failed"),
            Ok(None) => break,
            Err(_) => break,
        }
    }
    let abandoned = slots.in_flight();
    if !abandoned.is_empty() {
        let names: Vec<&str> = abandoned.iter().map(CredentialName::as_str).collect();
        error!(credentials = %names.join(","), "shutdown timeout reached: these rotations did not finish and are in doubt");
        tasks.abort_all();
    }
    info!("daemon stopped");
    Stopped { abandoned }
}
