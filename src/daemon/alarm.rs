//! The daemon's wake-up call: one tokio-cron-scheduler one-shot job, armed
//! for the earliest due time. The daemon keeps its own timeline (so it owns
//! DST-correct times, catch-up and one-run-per-credential); the library only
//! wakes it, with one job whatever the number of credentials.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;
use tokio_cron_scheduler::{Job, JobScheduler, JobSchedulerError};
use uuid::Uuid;

pub struct Alarm {
    scheduler: JobScheduler,
    armed: Option<(Uuid, DateTime<Utc>)>,
    ring: Arc<Notify>,
}

impl Alarm {
    pub async fn start() -> Result<Alarm, JobSchedulerError> {
        let scheduler = JobScheduler::new().await?;
        scheduler.start().await?;
        Ok(Alarm {
            scheduler,
            armed: None,
            ring: Arc::new(Notify::new()),
        })
    }

    /// Rings at `at` (or soon after: the scheduler polls twice a second);
    /// `None` disarms. Re-arming for the same time is free.
    pub async fn arm(&mut self, at: Option<DateTime<Utc>>) -> Result<(), JobSchedulerError> {
        if self.armed.map(|(_, time)| time) == at {
            return Ok(());
        }
        if let Some((job, _)) = self.armed.take() {
            // The job may have fired and removed itself already.
            let _ = self.scheduler.remove(&job).await;
        }
        let Some(at) = at else { return Ok(()) };
        let wait = (at - Utc::now()).to_std().unwrap_or_default();
        let ring = Arc::clone(&self.ring);
        let job = Job::new_one_shot_async(wait, move |_, _| {
            let ring = Arc::clone(&ring);
            Box::pin(async move { ring.notify_one() })
        })?;
        let id = self.scheduler.add(job).await?;
        self.armed = Some((id, at));
        Ok(())
    }

    /// A repeated job that sends the time every `every`: proof that the
    /// scheduler (and whoever reads the channel) is alive.
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

    /// Completes when the alarm rings.
    pub async fn rung(&self) {
        self.ring.notified().await;
        // A rung alarm is spent; the next `arm` must add a new job.
    }

    /// Forgets a spent job so that the next `arm` adds a fresh one.
    pub fn spent(&mut self) {
        self.armed = None;
    }

    pub async fn stop(mut self) {
        let _ = self.scheduler.shutdown().await;
    }
}
