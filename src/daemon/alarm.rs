//! The daemon's wake-up calls: a timer for the earliest due time, and one
//! tokio-cron-scheduler job that beats every second against the wall clock
//! (the loop re-checks its timeline on each beat, so a suspend or a clock
//! jump, which the monotonic timer does not see, costs at most a beat).
//!
//! The scheduler gets exactly one job, added at start and never removed.
//! Arming a one-shot job per due time and removing it when the due time
//! changed made the library log ERROR lines ("Error getting <uuid> from job
//! code", "Could not get job metadata") whenever the removal raced a tick of
//! that job already in flight: its poll loop activates a due job and updates
//! its metadata in spawned tasks that look the job up again, and find it
//! gone. Nothing failed, but `journalctl -p err` paged an operator.

use chrono::{DateTime, Utc};
use tokio::time::Instant;
use tokio_cron_scheduler::{Job, JobScheduler, JobSchedulerError};

pub struct Alarm {
    scheduler: JobScheduler,
    armed: Option<(DateTime<Utc>, Instant)>,
}

impl Alarm {
    pub async fn start() -> Result<Alarm, JobSchedulerError> {
        let scheduler = JobScheduler::new().await?;
        scheduler.start().await?;
        Ok(Alarm {
            scheduler,
            armed: None,
        })
    }

    /// Rings at `at` (a wall-clock time, measured on the monotonic clock
    /// from now); `None` disarms. Re-arming for the same time is free.
    pub fn arm(&mut self, at: Option<DateTime<Utc>>) {
        if self.armed.map(|(time, _)| time) == at {
            return;
        }
        self.armed = at.map(|at| {
            let wait = (at - Utc::now()).to_std().unwrap_or_default();
            (at, Instant::now() + wait)
        });
    }

    /// A repeated job that sends the time every `every`: proof that the
    /// scheduler (and whoever reads the channel) is alive, and the wall-clock
    /// beat that catches up after a suspend or a clock jump.
    pub async fn heartbeat(
        &mut self,
        every: std::time::Duration,
    ) -> Result<tokio::sync::mpsc::Receiver<DateTime<Utc>>, JobSchedulerError> {
        let (beats, received) = tokio::sync::mpsc::channel(1);
        let job = Job::new_repeated_async(every, move |_, _| {
            let beats = beats.clone();
            // A full channel means the reader is behind: drop the beat.
            Box::pin(async move {
                let _ = beats.try_send(Utc::now());
            })
        })?;
        self.scheduler.add(job).await?;
        Ok(received)
    }

    /// Completes when the alarm rings; never when disarmed.
    pub async fn rung(&self) {
        match self.armed {
            Some((_, deadline)) => tokio::time::sleep_until(deadline).await,
            None => std::future::pending().await,
        }
    }

    /// Forgets a rung alarm, so that the next `arm` sets it again even for
    /// the same time (the wall clock may not have reached it yet).
    pub fn spent(&mut self) {
        self.armed = None;
    }

    pub async fn stop(mut self) {
        let _ = self.scheduler.shutdown().await;
    }
}
