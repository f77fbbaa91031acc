//! The daemon's main loop: dispatch what is due, settle what finished,
//! reload on request, keep systemd and the metrics informed.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use chrono::Utc;
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use super::alarm::Alarm;
use super::notify::Notifier;
use super::owed::OwedRetries;
use super::reads::Reads;
use super::slots::{Applied, Slots, Task};
use super::startup::{
    last_of, read_last, recorded_retirements, recover, spawn_watchdog, warn_unclaimed_retirements,
};
use super::timing::{self, Due, Last, Reason};
use super::{Event, Stopped};
use crate::aws::{Aws, AwsOverrides};
use crate::consumers::{self, HookMode, OwedRun};
use crate::error::error_chain;
use crate::hooks::PendingHooks;
use crate::journal::Journal;
use crate::lease::Leases;
use crate::metrics;
use crate::policy::{self, Credential, CredentialName, Policy};
use crate::retiring::{self, RetiringError, Settled};
use crate::rotation::{self, Coordinated, Rotated, RotationError};
use crate::store::{CurrentVersion, StoreError};

/// Everything the daemon takes besides the policy.
pub struct Options {
    /// Re-read on each reload request; `None`: reloads are refused.
    pub policy_path: Option<PathBuf>,
    pub aws_overrides: AwsOverrides,
    pub shutdown: CancellationToken,
    /// One message per reload request (SIGHUP).
    pub reloads: Option<mpsc::UnboundedReceiver<()>>,
    pub events: Option<mpsc::UnboundedSender<Event>>,
    pub notifier: Arc<Notifier>,
}

/// What one task did.
enum Outcome {
    Refreshed(Result<Last, StoreError>),
    Rotated(Result<Rotated, RotationError>),
    Retired(Result<Settled, RetiringError>),
    /// An owed `on_rotate` ran.
    Hooked(OwedRun),
    /// Shutdown came before the task could start.
    NotStarted,
}

type Tasks = JoinSet<(CredentialName, Outcome)>;

/// The daemon's running state.
struct Daemon {
    /// The running policy's settings. Its credentials live in `slots`, one
    /// copy each: `policy.credentials` is emptied once they are there.
    policy: Policy,
    options: Options,
    aws: Arc<Aws>,
    /// `[coordination]`: the leases shared with the other replicas.
    leases: Option<Leases>,
    journal: Journal,
    permits: Arc<Semaphore>,
    slots: Slots,
    tasks: Tasks,
    /// Credentials whose owed `on_rotate` is running, and since when.
    owed_running: HashMap<CredentialName, chrono::DateTime<Utc>>,
    /// Owed `on_rotate` runs that failed, and when to run them again.
    owed_retries: OwedRetries,
    /// Credentials whose rotation is done and whose hook runs now (its task
    /// is still in flight, but nothing of it is in doubt).
    hooking: Arc<Mutex<HashSet<CredentialName>>>,
    /// The batched reads of stored secrets (at start).
    reads: Reads,
    last_failure: Option<String>,
}

/// How often the scheduler proves it is alive.
const TICK: Duration = Duration::from_secs(1);

/// Runs until `options.shutdown` is cancelled, then waits up to the policy's
/// `shutdown_timeout` for rotations in flight.
pub async fn run(mut policy: Policy, mut options: Options) -> Result<Stopped> {
    let mut alarm = Alarm::start().await.context("cannot start the scheduler")?;
    let mut ticks = alarm
        .heartbeat(TICK)
        .await
        .context("cannot start the scheduler")?;
    if let Some(listen) = policy.daemon.metrics_listen {
        metrics::serve(listen, options.shutdown.clone())
            .await
            .with_context(|| format!("cannot listen for metrics on {listen}"))?;
    }
    let journal = Journal::open(policy.daemon.state_dir.as_deref(), &policy.aws.scope())?;
    let in_doubt = recover(&journal, &policy);
    let retirements = recorded_retirements(&journal, &policy.credentials);
    warn_unclaimed_retirements(&journal, &policy);
    consumers::warn_unclaimed(&journal, &policy);
    let aws = Arc::new(Aws::build(&policy.aws, options.aws_overrides.clone()).await);
    let mut reloads = options.reloads.take();
    // The slots take the only copy of each credential.
    let credentials = std::mem::take(&mut policy.credentials);
    let mut daemon = Daemon {
        permits: Arc::new(Semaphore::new(policy.daemon.concurrency.get())),
        slots: Slots::new(credentials, &in_doubt, Utc::now()),
        leases: leases_for(&policy, &aws),
        aws,
        journal,
        policy,
        options,
        tasks: JoinSet::new(),
        owed_running: HashMap::new(),
        owed_retries: OwedRetries::default(),
        hooking: Arc::default(),
        reads: Reads::new(),
        last_failure: None,
    };
    for (name, at) in retirements {
        daemon.slots.retire_at(&name, Some(at));
    }
    daemon.run_owed_hooks();
    let credentials = daemon.slots.count();
    metrics::registry().scheduler_tick(Utc::now());
    // In-doubt rotations and due retirements stay on the timeline (they run
    // first); every other credential's secret is read in batches.
    daemon.start_reads();
    spawn_watchdog(&daemon.options.notifier, &daemon.options.shutdown);
    info!(
        credentials,
        concurrency = daemon.policy.daemon.concurrency.get(),
        "daemon started"
    );
    let mut ready = false;
    loop {
        let now = Utc::now();
        daemon.dispatch_due(now);
        alarm.arm(daemon.next_alarm(now));
        if !ready {
            // The policy is valid and the schedule armed.
            daemon.options.notifier.ready();
            ready = true;
            // Each credential's gauges, once systemd knows the daemon is up
            // (100,000 of them take a while).
            let registry = metrics::registry();
            for credential in daemon.slots.credentials() {
                registry.credential(credential.name.shared(), credential.kind().as_str());
            }
        }
        daemon.report_status();
        tokio::select! {
            biased;
            () = daemon.options.shutdown.cancelled() => break,
            Some(joined) = daemon.tasks.join_next(), if !daemon.tasks.is_empty() => {
                let (name, outcome) = joined.context("a rotation task panicked")?;
                daemon.settle(&name, outcome);
                if daemon.tasks.is_empty() {
                    // A burst (a catch-up) is over.
                    return_freed_memory();
                }
            }
            Some(batch) = daemon.reads.receiver.recv() => {
                let last = daemon.reads.arrived(&batch);
                for (name, read) in batch {
                    daemon.settle(&name, Outcome::Refreshed(read));
                }
                if last {
                    info!("every stored secret read");
                    return_freed_memory();
                }
            }
            Some(()) = recv_or_pending(&mut reloads) => daemon.reload().await,
            Some(now) = ticks.recv() => metrics::registry().scheduler_tick(now),
            () = alarm.rung() => alarm.spent(),
        }
    }
    daemon.options.notifier.stopping();
    daemon.reads.stop();
    alarm.stop().await;
    Ok(daemon.drain().await)
}

/// Hands memory freed after a burst back to the system: mimalloc keeps this
/// thread's freed pages until it collects (see `tune_allocator` in main.rs
/// for the options that make it purge at once).
fn return_freed_memory() {
    // SAFETY: mi_collect only frees and purges memory nothing uses; no
    // preconditions.
    unsafe {
        libmimalloc_sys::mi_collect(true);
    }
}

/// The leases of `[coordination]`, if the policy has it.
fn leases_for(policy: &Policy, aws: &Arc<Aws>) -> Option<Leases> {
    (policy.coordination.as_ref()).map(|c| Leases::new(Arc::clone(aws), c))
}

/// Waits for the next reload request; pending forever without a channel.
async fn recv_or_pending(reloads: &mut Option<mpsc::UnboundedReceiver<()>>) -> Option<()> {
    match reloads {
        Some(reloads) => reloads.recv().await,
        None => std::future::pending().await,
    }
}

impl Daemon {
    /// Reads in batches the secrets of the credentials whose next run is a
    /// read (see [`Slots::take_reads`]).
    fn start_reads(&mut self) {
        let credentials = self.slots.take_reads(Utc::now());
        if !credentials.is_empty() {
            info!(
                credentials = credentials.len(),
                "reading the stored secrets in batches"
            );
        }
        self.reads
            .start(&self.aws, credentials, self.policy.daemon.concurrency.get());
    }

    /// Starts what is due, at most `concurrency` tasks in flight: the rest
    /// stay on the timeline (a burst of 10,000 due credentials at start
    /// costs 8 tasks' memory, not 10,000).
    fn dispatch_due(&mut self, now: chrono::DateTime<Utc>) {
        let free = self
            .policy
            .daemon
            .concurrency
            .get()
            .saturating_sub(self.tasks.len());
        for (credential, task, reason) in self.slots.take_due_why(now, free) {
            if task == Task::Rotate && self.waits_for_owed_hook(&credential, reason, now) {
                if reason != Some(Reason::OwedHook) {
                    info!(credential = %credential.name, "the rotation waits for the owed on_rotate hook running now");
                }
                let due = Due::at(now + TICK, Reason::OwedHook);
                self.slots.put_back(&credential.name, task, due);
                continue;
            }
            self.spawn(credential, task);
        }
        self.retry_owed_hooks(now);
    }

    /// Whether a rotation due now waits (looked at again each tick) for the
    /// credential's owed `on_rotate`, which runs: its own hook would run
    /// beside it and could finish first, leaving the consumer told of the
    /// older version last. It waits at most the hook's timeout from when
    /// the owed run started, and never when its secret is missing, in doubt
    /// or expiring ([`Reason::can_wait`]).
    fn waits_for_owed_hook(
        &self,
        credential: &Credential,
        reason: Option<Reason>,
        now: chrono::DateTime<Utc>,
    ) -> bool {
        let Some(started) = self.owed_running.get(&credential.name) else {
            return false;
        };
        let Some((_, timeout)) = credential.on_rotate() else {
            return false;
        };
        reason.is_some_and(Reason::can_wait) && now < *started + timeout
    }

    /// When to wake up next: the earliest due time after `now` (the time
    /// `dispatch_due` used). Runs already due wait for a place, and every
    /// finishing task wakes the loop.
    fn next_alarm(&self, now: chrono::DateTime<Utc>) -> Option<chrono::DateTime<Utc>> {
        let slots = self.slots.earliest().filter(|at| *at > now);
        let owed = self.owed_retries.earliest().filter(|at| *at > now);
        slots.into_iter().chain(owed).min()
    }

    fn spawn(&mut self, credential: Arc<Credential>, task: Task) {
        let aws = Arc::clone(&self.aws);
        let leases = self.leases.clone();
        let journal = self.journal.clone();
        let permits = Arc::clone(&self.permits);
        let shutdown = self.options.shutdown.clone();
        let hooking = Arc::clone(&self.hooking);
        self.tasks.spawn(async move {
            let _permit = permits
                .acquire_owned()
                .await
                .expect("semaphore never closed");
            if shutdown.is_cancelled() {
                return (credential.name.clone(), Outcome::NotStarted);
            }
            let outcome = match task {
                Task::Refresh => Outcome::Refreshed(read_last(&aws, &credential).await),
                Task::Rotate => {
                    // Every replica runs the whole schedule; the lease lets
                    // one rotate, the others skip what it rotated.
                    let still_due = |current: Option<&CurrentVersion>| {
                        let now = Utc::now();
                        let last = last_of(&credential, current);
                        timing::first_due_for(&credential, last, now).at <= now
                    };
                    let coordinated = leases.as_ref().map(|leases| Coordinated {
                        leases,
                        wait: Duration::ZERO,
                        still_due: Some(&still_due),
                    });
                    let mut result =
                        rotation::rotate(&aws, &journal, &credential, coordinated).await;
                    let name = credential.name.clone();
                    hooking.lock().expect("hooking lock").insert(name.clone());
                    consumers::follow(&aws, &journal, &credential, &mut result, HookMode::Run)
                        .await;
                    hooking.lock().expect("hooking lock").remove(&name);
                    Outcome::Rotated(result)
                }
                Task::Retire => {
                    Outcome::Retired(retiring::when_due(&aws, &journal, &credential).await)
                }
            };
            (credential.name.clone(), outcome)
        });
    }

    /// Runs the `on_rotate` hooks an earlier run owes (cut off by a crash,
    /// or failed every attempt), beside the schedule: at start and at each
    /// reload (an operator who fixed a hook reloads).
    fn run_owed_hooks(&mut self) {
        // The credentials live in the slots (`policy.credentials` is empty).
        let records = PendingHooks::of(&self.journal);
        let claimed = records.claimed(&self.journal, self.slots.credentials().map(Arc::as_ref));
        if claimed.is_empty() {
            return;
        }
        let rotating: HashSet<CredentialName> = self.slots.in_flight().into_iter().collect();
        let mut owed = Vec::new();
        for (credential, read) in claimed {
            if rotating.contains(&credential.name)
                || self.owed_running.contains_key(&credential.name)
            {
                // Its rotation runs its own hook; or its owed one runs.
                continue;
            }
            match read {
                Ok(record) => owed.push((credential.name.clone(), record)),
                Err(err) => {
                    warn!(credential = %credential.name, error = %error_chain(&err), "pending hook record unreadable");
                }
            }
        }
        for (name, record) in owed {
            if let Some(credential) = self.slots.credential(&name).map(Arc::clone) {
                self.spawn_owed(credential, record);
            }
        }
    }

    /// Runs again the owed hooks whose backoff is over (with the
    /// credential's hooks as the policy has them now). One whose rotation
    /// runs waits: that rotation settles it, or owes it again.
    fn retry_owed_hooks(&mut self, now: chrono::DateTime<Utc>) {
        let due = self.owed_retries.take_due(now);
        if due.is_empty() {
            return;
        }
        let rotating: HashSet<CredentialName> = self.slots.in_flight().into_iter().collect();
        for name in due {
            if rotating.contains(&name) || self.owed_running.contains_key(&name) {
                self.owed_retries.postpone(&name, now);
                continue;
            }
            let Some(credential) = self.slots.credential(&name).map(Arc::clone) else {
                self.owed_retries.clear(&name);
                continue;
            };
            let Some(owed) = consumers::owed(&self.journal, &credential) else {
                // Settled meanwhile (by `rekeyd rotate`, say).
                self.owed_retries.clear(&name);
                continue;
            };
            self.spawn_owed(credential, owed);
        }
    }

    /// Runs `credential`'s owed `on_rotate` beside the schedule.
    fn spawn_owed(&mut self, credential: Arc<Credential>, owed: crate::hooks::PendingHook) {
        self.owed_running
            .insert(credential.name.clone(), Utc::now());
        let aws = Arc::clone(&self.aws);
        let journal = self.journal.clone();
        self.tasks.spawn(async move {
            let ran = consumers::run_owed(&aws, &journal, &credential, owed).await;
            (credential.name.clone(), Outcome::Hooked(ran))
        });
    }

    /// Records a finished task and schedules what comes next.
    fn settle(&mut self, name: &CredentialName, outcome: Outcome) {
        let now = Utc::now();
        if let Outcome::Hooked(_) = outcome {
            self.owed_running.remove(name);
        }
        let Some(kind) = self.slots.kind(name) else {
            // Removed from the policy while running.
            return;
        };
        let registry = metrics::registry();
        let due = match outcome {
            Outcome::NotStarted => {
                self.slots.not_started(name);
                None
            }
            Outcome::Refreshed(Ok(last)) => {
                if let Last::Rotated { at, expires_at } = last {
                    registry.rotated(name.as_str(), at, expires_at);
                }
                self.slots.refreshed(name, last, now)
            }
            Outcome::Refreshed(Err(err)) => {
                let due = self.slots.failed(name, Task::Refresh, now);
                warn!(credential = %name, error = %error_chain(&err), retry_at = %due.at, "cannot read the stored secret");
                Some(due)
            }
            Outcome::Rotated(Ok(rotated)) => {
                registry.rotated(name.as_str(), rotated.rotated_at, rotated.expires_at);
                match &rotated.hook {
                    Some(hook) if hook.succeeded() => self.owed_retries.clear(name),
                    Some(_) => self.owed_hook_failed(name, true, now),
                    None => {}
                }
                let due = self.slots.rotated(name, &rotated, now);
                self.emit(Event::Rotated {
                    name: name.clone(),
                    kind,
                    rotated,
                });
                due
            }
            Outcome::Retired(result) => {
                self.retired(name, result, now);
                None
            }
            Outcome::Hooked(OwedRun::Done(retire_at)) => {
                self.owed_retries.succeeded(name);
                if retire_at.is_some() {
                    self.slots.retire_at(name, retire_at);
                }
                None
            }
            Outcome::Hooked(OwedRun::Failed) => {
                self.owed_hook_failed(name, false, now);
                None
            }
            Outcome::Rotated(Err(RotationError::NotDue { current, .. })) => {
                info!(credential = %name, "rotated meanwhile by another replica");
                self.slots
                    .rotated_elsewhere(name, current.as_ref().as_ref(), now)
            }
            Outcome::Rotated(Err(RotationError::LeaseHeld { holder, .. })) => {
                let lease = self.leases.as_ref().map_or(TICK, Leases::lease);
                let at = now + (lease / 10).max(TICK);
                info!(credential = %name, holder = %holder, "lease held by another replica; looking again soon");
                self.slots.held_elsewhere(name, at)
            }
            Outcome::Rotated(Err(err)) => {
                registry.failed(name.as_str());
                let due = if err.lost_a_race() {
                    self.slots.lost_a_race(name, now)
                } else {
                    self.slots.failed(name, Task::Rotate, now)
                };
                let text = error_chain(&err);
                error!(credential = %name, kind = %kind, error = %text, retry_at = %due.at, "rotation failed");
                self.last_failure = Some(format!("{name} at {}: {text}", now.format("%H:%M:%SZ")));
                self.emit(Event::Failed {
                    name: name.clone(),
                    kind,
                    error: text,
                    in_doubt: err.is_in_doubt(),
                });
                Some(due)
            }
        };
        if let Some(due) = due {
            registry.next_due(name.as_str(), due.at);
            info!(credential = %name, next = %due.at, reason = %due.reason, "next run scheduled");
            self.emit(Event::Scheduled {
                name: name.clone(),
                due,
            });
        }
    }

    /// `name`'s owed `on_rotate` failed every attempt (`fresh`: a
    /// rotation's own hook, for the version now owed): run again later.
    fn owed_hook_failed(&mut self, name: &CredentialName, fresh: bool, now: chrono::DateTime<Utc>) {
        let retry_at = self.owed_retries.failed(name, fresh, now);
        warn!(credential = %name, retry_at = %retry_at, "the on_rotate hook is still owed: running it again then (or at a reload)");
    }

    /// A retirement run finished: done, or due again later.
    fn retired(
        &mut self,
        name: &CredentialName,
        result: Result<Settled, RetiringError>,
        now: chrono::DateTime<Utc>,
    ) {
        match result {
            Ok(Settled::NotYet(at)) => self.slots.retired(name, Some(at)),
            Ok(_) => self.slots.retired(name, None),
            Err(err) => {
                let retry_at = self.slots.retire_failed(name, now);
                let text = error_chain(&err);
                warn!(credential = %name, error = %text, retry_at = %retry_at, "cannot retire the old credential yet");
                self.last_failure = Some(format!("{name} at {}: {text}", now.format("%H:%M:%SZ")));
            }
        }
    }

    fn emit(&self, event: Event) {
        if let Some(events) = &self.options.events {
            let _ = events.send(event);
        }
    }

    /// Re-reads the policy; applies only what changed, or keeps the running
    /// policy when the new one is invalid.
    async fn reload(&mut self) {
        let notifier = Arc::clone(&self.options.notifier);
        notifier.reloading();
        let Some(path) = self.options.policy_path.clone() else {
            warn!("reload requested, but this daemon has no policy file to re-read");
            notifier.ready();
            return;
        };
        match policy::load(&path) {
            Err(err) => {
                let text = err.to_string();
                error!(policy = %path.display(), problems = %text.trim_end(), "policy reload failed: keeping the running policy");
                self.last_failure = Some(format!(
                    "reload failed: {}",
                    text.lines().next().unwrap_or_default()
                ));
            }
            Ok(new) => {
                new.log_warnings();
                self.apply(new).await
            }
        }
        notifier.ready();
    }

    async fn apply(&mut self, mut new: Policy) {
        if new.aws != self.policy.aws {
            info!("[aws] changed: new AWS clients for the rotations that start from now on");
            self.aws = Arc::new(Aws::build(&new.aws, self.options.aws_overrides.clone()).await);
            self.leases = leases_for(&new, &self.aws);
            self.journal = self.journal.with_scope(&new.aws.scope());
        }
        if new.coordination != self.policy.coordination && new.aws == self.policy.aws {
            self.leases = leases_for(&new, &self.aws);
        }
        if new.daemon.concurrency != self.policy.daemon.concurrency {
            self.permits = Arc::new(Semaphore::new(new.daemon.concurrency.get()));
        }
        if new.daemon.metrics_listen != self.policy.daemon.metrics_listen
            || new.daemon.state_dir != self.policy.daemon.state_dir
        {
            warn!("[daemon] metrics_listen and state_dir changes take effect at the next start");
        }
        let Applied {
            added,
            removed,
            changed,
            unchanged,
        } = self.slots.apply(&new.credentials, Utc::now());
        let added: HashSet<&CredentialName> = added.iter().collect();
        let retirements = recorded_retirements(
            &self.journal,
            new.credentials.iter().filter(|c| added.contains(&c.name)),
        );
        for (name, at) in retirements {
            self.slots.retire_at(&name, Some(at));
        }
        warn_unclaimed_retirements(&self.journal, &new);
        consumers::warn_unclaimed(&self.journal, &new);
        let kept: HashSet<&CredentialName> = new.credentials.iter().map(|c| &c.name).collect();
        self.owed_retries.retain(|name| kept.contains(name));
        let registry = metrics::registry();
        for name in &removed {
            registry.forget_credential(name.as_str());
        }
        for credential in &new.credentials {
            registry.credential(credential.name.shared(), credential.kind().as_str());
        }
        info!(
            added = added.len(),
            removed = removed.len(),
            changed = changed.len(),
            unchanged,
            "policy reloaded"
        );
        new.credentials = Vec::new();
        self.policy = new;
        self.run_owed_hooks();
        self.start_reads();
    }

    /// The one-line STATUS systemd shows.
    fn report_status(&self) {
        if !self.options.notifier.is_enabled() {
            return;
        }
        let mut status = format!(
            "{} credentials, {} rotating",
            self.slots.count(),
            self.slots.rotating()
        );
        if let Some((at, name)) = self.slots.next() {
            status.push_str(&format!(
                "; next: {name} at {}",
                at.format("%Y-%m-%d %H:%M:%SZ")
            ));
        }
        if let Some(failure) = &self.last_failure {
            status.push_str("; last failure: ");
            status.push_str(failure.chars().take(200).collect::<String>().as_str());
        }
        self.options.notifier.status(&status);
    }

    /// Waits for rotations in flight, up to `shutdown_timeout`.
    async fn drain(mut self) -> Stopped {
        let timeout = self.policy.daemon.shutdown_timeout;
        if !self.tasks.is_empty() {
            info!(in_flight = self.tasks.len(), timeout = %humantime::format_duration(timeout), "waiting for rotations in flight");
        }
        let deadline = tokio::time::Instant::now() + timeout;
        while !self.tasks.is_empty() {
            match tokio::time::timeout_at(deadline, self.tasks.join_next()).await {
                Ok(Some(Ok((name, outcome)))) => self.settle(&name, outcome),
                Ok(Some(Err(err))) => error!(error = %err, "a rotation task failed"),
                Ok(None) | Err(_) => break,
            }
        }
        let (hooks, abandoned): (Vec<_>, Vec<_>) = {
            let hooking = self.hooking.lock().expect("hooking lock");
            (self.slots.in_flight().into_iter()).partition(|name| hooking.contains(name))
        };
        if !hooks.is_empty() || !self.owed_running.is_empty() {
            let names: Vec<&str> = (hooks.iter().chain(self.owed_running.keys()))
                .map(CredentialName::as_str)
                .collect();
            warn!(credentials = %names.join(","), "shutdown timeout reached: these rotations are stored, but their hooks were stopped; on_rotate runs again at the next start");
        }
        if !abandoned.is_empty() {
            let names: Vec<&str> = abandoned.iter().map(CredentialName::as_str).collect();
            error!(credentials = %names.join(","), "shutdown timeout reached: these rotations did not finish and are in doubt");
        }
        // Cut off what is left; a hook's process group goes with its task.
        self.tasks.abort_all();
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            while self.tasks.join_next().await.is_some() {}
        })
        .await;
        info!("daemon stopped");
        Stopped { abandoned }
    }
}
