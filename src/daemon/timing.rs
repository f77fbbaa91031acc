//! When each credential is next due: pure functions of the schedule, what
//! Secrets Manager holds, and the clock. DST-correct (cron times are found in
//! the credential's own zone with chrono-tz), and catch-up after downtime.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use crate::policy::{CronSchedule, Schedule};

/// What Secrets Manager says about a credential's current version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Last {
    /// No secret, or no current version.
    Missing,
    /// The current version was not written by rekeyd for this credential.
    Foreign,
    /// rekeyd's last rotation.
    Rotated {
        at: DateTime<Utc>,
        expires_at: Option<DateTime<Utc>>,
    },
}

/// Why a credential is due when it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// Its secret does not exist yet.
    Missing,
    /// Its secret holds something rekeyd did not write.
    Foreign,
    /// A cron time passed while the daemon was not running.
    MissedCron,
    /// The interval since the last rotation passed while not running.
    Overdue,
    /// The stored IVS token is within `refresh_before` of expiring, or expired.
    TokenExpiring,
    /// The next cron time.
    Cron,
    /// The last rotation plus `every`.
    Interval,
    /// The stored IVS token's expiry minus `refresh_before`.
    TokenExpiry,
    /// Retrying after a failure.
    Retry,
    /// Its definition changed in a reloaded policy.
    Changed,
    /// The journal says an earlier rotation may not have been stored.
    InDoubt,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Reason::Missing => "missing",
            Reason::Foreign => "not written by rekeyd",
            Reason::MissedCron => "cron time missed while down",
            Reason::Overdue => "interval passed while down",
            Reason::TokenExpiring => "token expiring",
            Reason::Cron => "cron",
            Reason::Interval => "interval",
            Reason::TokenExpiry => "token expiry",
            Reason::Retry => "retry after failure",
            Reason::Changed => "changed in the policy",
            Reason::InDoubt => "last rotation in doubt",
        })
    }
}

/// A due time and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Due {
    pub at: DateTime<Utc>,
    pub reason: Reason,
}

impl Due {
    pub fn at(at: DateTime<Utc>, reason: Reason) -> Due {
        Due { at, reason }
    }

    fn now(now: DateTime<Utc>, reason: Reason) -> Due {
        Due { at: now, reason }
    }
}

/// At start (or when a credential is added): rotate at once what is missing,
/// overdue or (IVS) due; otherwise the regular next time, without jitter.
pub fn first_due(schedule: &Schedule, last: Last, now: DateTime<Utc>) -> Due {
    let (at, expires_at) = match last {
        Last::Missing => return Due::now(now, Reason::Missing),
        Last::Foreign => return Due::now(now, Reason::Foreign),
        Last::Rotated { at, expires_at } => (at, expires_at),
    };
    match schedule {
        Schedule::Cron(cron) => match previous_cron(cron, now) {
            Some(previous) if previous > at => Due::now(now, Reason::MissedCron),
            _ => regular(schedule, at, expires_at, now),
        },
        Schedule::Every(every) if at + delta(*every) <= now => Due::now(now, Reason::Overdue),
        Schedule::BeforeExpiry { refresh_before } => match expires_at {
            Some(expiry) if expiry - delta(*refresh_before) > now => {
                regular(schedule, at, expires_at, now)
            }
            _ => Due::now(now, Reason::TokenExpiring),
        },
        Schedule::Every(_) => regular(schedule, at, expires_at, now),
    }
}

/// The regular next time after a rotation at `rotated_at`, without jitter.
pub fn regular(
    schedule: &Schedule,
    rotated_at: DateTime<Utc>,
    expires_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Due {
    match schedule {
        Schedule::Cron(cron) => Due {
            at: next_cron(cron, now.max(rotated_at)),
            reason: Reason::Cron,
        },
        Schedule::Every(every) => Due {
            at: rotated_at + delta(*every),
            reason: Reason::Interval,
        },
        Schedule::BeforeExpiry { refresh_before } => match expires_at {
            Some(expiry) => Due {
                at: expiry - delta(*refresh_before),
                reason: Reason::TokenExpiry,
            },
            None => Due::now(now, Reason::TokenExpiring),
        },
    }
}

/// Adds the jitter: later for cron and interval runs; earlier for IVS, so a
/// refresh never happens after its deadline (nor before `now`).
pub fn jittered(due: Due, schedule: &Schedule, jitter: Duration, now: DateTime<Utc>) -> Due {
    if jitter.is_zero() {
        return due;
    }
    let offset = delta(jitter.mul_f64(fastrand::f64()));
    let at = match schedule {
        Schedule::BeforeExpiry { .. } => (due.at - offset).max(now.min(due.at)),
        _ => due.at + offset,
    };
    Due { at, ..due }
}

/// Backoff after `failures` failures in a row: 30 s doubling, capped at an
/// hour, with ±20% jitter; never a tight loop.
pub fn retry_due(failures: u32, now: DateTime<Utc>) -> Due {
    let base = Duration::from_secs(30).saturating_mul(1 << failures.saturating_sub(1).min(10));
    let capped = base.min(Duration::from_secs(3600));
    let spread = capped.mul_f64(0.8 + 0.4 * fastrand::f64());
    Due {
        at: now + delta(spread),
        reason: Reason::Retry,
    }
}

/// The first cron time strictly after `after`, found in the schedule's zone.
pub fn next_cron(cron: &CronSchedule, after: DateTime<Utc>) -> DateTime<Utc> {
    let local = after.with_timezone(&cron.timezone);
    cron.cron()
        .find_next_occurrence(&local, false)
        .map(|t| t.with_timezone(&Utc))
        // An expression that never fires again (e.g. Feb 30) is never due.
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// The last cron time at or before `now`, if any.
pub fn previous_cron(cron: &CronSchedule, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let local = now.with_timezone(&cron.timezone);
    cron.cron()
        .find_previous_occurrence(&local, true)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn delta(duration: Duration) -> TimeDelta {
    TimeDelta::from_std(duration).unwrap_or(TimeDelta::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cron(expression: &str, zone: &str) -> Schedule {
        Schedule::Cron(CronSchedule {
            expression: expression.into(),
            timezone: zone.parse().unwrap(),
        })
    }

    fn t(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn missing_and_foreign_are_due_now() {
        let now = t("2026-11-23T10:00:00Z");
        let every = Schedule::Every(Duration::from_secs(3600));
        assert_eq!(
            first_due(&every, Last::Missing, now),
            Due::now(now, Reason::Missing)
        );
        assert_eq!(
            first_due(&every, Last::Foreign, now),
            Due::now(now, Reason::Foreign)
        );
    }

    #[test]
    fn every_counts_from_the_last_rotation() {
        let now = t("2026-11-23T10:00:00Z");
        let every = Schedule::Every(Duration::from_secs(3600));
        let recent = Last::Rotated {
            at: t("2026-11-23T09:30:00Z"),
            expires_at: None,
        };
        assert_eq!(first_due(&every, recent, now).at, t("2026-11-23T10:30:00Z"));
        let old = Last::Rotated {
            at: t("2026-11-23T08:00:00Z"),
            expires_at: None,
        };
        assert_eq!(first_due(&every, old, now), Due::now(now, Reason::Overdue));
    }

    #[test]
    fn a_missed_cron_time_is_made_up_once_at_start() {
        let daily = cron("0 0 3 * * *", "UTC");
        let now = t("2026-11-23T10:00:00Z");
        let before_todays_run = Last::Rotated {
            at: t("2026-11-22T03:00:05Z"),
            expires_at: None,
        };
        assert_eq!(
            first_due(&daily, before_todays_run, now),
            Due::now(now, Reason::MissedCron)
        );
        let after_todays_run = Last::Rotated {
            at: t("2026-11-23T03:00:05Z"),
            expires_at: None,
        };
        assert_eq!(
            first_due(&daily, after_todays_run, now).at,
            t("2026-11-24T03:00:00Z")
        );
    }

    #[test]
    fn cron_in_a_zone_follows_daylight_saving() {
        // 03:30 Berlin time is 01:30 UTC in summer and 02:30 UTC in winter.
        let berlin = cron("0 30 3 * * *", "Europe/Berlin");
        let Schedule::Cron(schedule) = &berlin else {
            unreachable!()
        };
        assert_eq!(
            next_cron(schedule, t("2026-10-24T12:00:00Z")),
            t("2026-10-25T02:30:00Z")
        );
        assert_eq!(
            next_cron(schedule, t("2026-10-23T12:00:00Z")),
            t("2026-10-24T01:30:00Z")
        );
    }

    #[test]
    fn ivs_is_due_refresh_before_expiry() {
        let schedule = Schedule::BeforeExpiry {
            refresh_before: Duration::from_secs(3600),
        };
        let now = t("2026-11-23T10:00:00Z");
        let fresh = Last::Rotated {
            at: t("2026-11-23T09:00:00Z"),
            expires_at: Some(t("2026-11-23T21:00:00Z")),
        };
        assert_eq!(
            first_due(&schedule, fresh, now).at,
            t("2026-11-23T20:00:00Z")
        );
        let expiring = Last::Rotated {
            at: t("2026-11-22T09:00:00Z"),
            expires_at: Some(t("2026-11-23T10:30:00Z")),
        };
        assert_eq!(
            first_due(&schedule, expiring, now),
            Due::now(now, Reason::TokenExpiring)
        );
    }

    #[test]
    fn ivs_jitter_never_passes_the_deadline() {
        let schedule = Schedule::BeforeExpiry {
            refresh_before: Duration::from_secs(60),
        };
        let now = t("2026-11-23T10:00:00Z");
        let due = Due {
            at: t("2026-11-23T10:10:00Z"),
            reason: Reason::TokenExpiry,
        };
        for _ in 0..100 {
            let jittered = jittered(due, &schedule, Duration::from_secs(3600), now);
            assert!(jittered.at <= due.at && jittered.at >= now, "{jittered:?}");
        }
        let every = Schedule::Every(Duration::from_secs(60));
        for _ in 0..100 {
            let jittered = jittered(due, &every, Duration::from_secs(300), now);
            assert!(jittered.at >= due.at && jittered.at <= due.at + TimeDelta::seconds(300));
        }
    }

    #[test]
    fn retries_back_off_and_are_capped() {
        let now = t("2026-11-23T10:00:00Z");
        let first = retry_due(1, now).at - now;
        assert!(first >= TimeDelta::seconds(24) && first <= TimeDelta::seconds(36));
        let late = retry_due(30, now).at - now;
        assert!(late <= TimeDelta::seconds(4320), "{late}");
    }
}
