//! When each credential is next due: pure functions of the schedule, what
//! Secrets Manager holds, and the clock. DST-correct (cron times are found in
//! the credential's own zone with chrono-tz), and catch-up after downtime.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};

use crate::policy::{Credential, CronSchedule, RefreshBefore, Schedule, Target};

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
    /// The stored API key is within `refresh_before` of expiring, or expired.
    KeyExpiring,
    /// The stored API key's expiry minus `refresh_before`, before the schedule.
    KeyExpiry,
    /// Retrying after a failure.
    Retry,
    /// Its definition changed in a reloaded policy.
    Changed,
    /// The journal says an earlier rotation may not have been stored.
    InDoubt,
    /// Another replica held the lease: looking again.
    LeaseHeld,
    /// The on_rotate hook an earlier rotation owes runs now: the next
    /// rotation waits for it, so a consumer is never told of two versions
    /// at once (nor of the older one last).
    OwedHook,
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
            Reason::KeyExpiring => "key expiring",
            Reason::KeyExpiry => "key expiry (before the schedule)",
            Reason::Retry => "retry after failure",
            Reason::Changed => "changed in the policy",
            Reason::InDoubt => "last rotation in doubt",
            Reason::LeaseHeld => "lease held by another replica",
            Reason::OwedHook => "waiting for the owed on_rotate hook",
        })
    }
}

impl Reason {
    /// Whether a rotation due for this reason may wait a little (for the
    /// credential's owed hook): not when its secret is missing, not
    /// rekeyd's, in doubt, or expiring, where a wait could leave consumers
    /// with nothing that works.
    pub fn can_wait(self) -> bool {
        !matches!(
            self,
            Reason::Missing
                | Reason::Foreign
                | Reason::InDoubt
                | Reason::TokenExpiring
                | Reason::TokenExpiry
                | Reason::KeyExpiring
                | Reason::KeyExpiry
        )
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

/// Adds the jitter: later for cron and interval runs; earlier for IVS tokens
/// and expiring keys, so a refresh never happens after its deadline (nor
/// before `now`).
pub fn jittered(due: Due, schedule: &Schedule, jitter: Duration, now: DateTime<Utc>) -> Due {
    if jitter.is_zero() {
        return due;
    }
    let offset = delta(jitter.mul_f64(fastrand::f64()));
    let before_a_deadline =
        matches!(schedule, Schedule::BeforeExpiry { .. }) || due.reason == Reason::KeyExpiry;
    let at = if before_a_deadline {
        (due.at - offset).max(now.min(due.at))
    } else {
        due.at + offset
    };
    Due { at, ..due }
}

/// [`first_due`] for `credential`, brought forward for an expiring key.
pub fn first_due_for(credential: &Credential, last: Last, now: DateTime<Utc>) -> Due {
    sooner_for_key_expiry(
        first_due(&credential.schedule, last, now),
        credential,
        last,
        now,
    )
}

/// [`regular`] for `credential`, brought forward for an expiring key.
pub fn regular_for(
    credential: &Credential,
    rotated_at: DateTime<Utc>,
    expires_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Due {
    let due = regular(&credential.schedule, rotated_at, expires_at, now);
    let last = Last::Rotated {
        at: rotated_at,
        expires_at,
    };
    sooner_for_key_expiry(due, credential, last, now)
}

/// An expiring IAM API key rotated with `overlap` is due `refresh_before`
/// ahead of its expiry, or at `due` (its schedule), whichever comes first.
fn sooner_for_key_expiry(due: Due, credential: &Credential, last: Last, now: DateTime<Utc>) -> Due {
    match key_refresh_point(credential, last) {
        Some(point) if point <= now => Due::now(now, Reason::KeyExpiring),
        Some(point) if point < due.at => Due::at(point, Reason::KeyExpiry),
        _ => due,
    }
}

/// When the stored key of an `overlap` IAM credential should be replaced:
/// its expiry minus `refresh_before` (a share of its lifetime since the
/// rotation that made it). `None` for every other credential, for keys
/// without an expiry, and when that point is not after the rotation (a key
/// made that close to its expiry is not helped by rotating again at once).
pub fn key_refresh_point(credential: &Credential, last: Last) -> Option<DateTime<Utc>> {
    let Target::IamServiceCredential(iam) = &credential.target else {
        return None;
    };
    let Last::Rotated {
        at,
        expires_at: Some(expiry),
    } = last
    else {
        return None;
    };
    if !iam.renews_expiry() {
        return None;
    }
    let point = refresh_point(iam.refresh_before, at, expiry);
    (point > at).then_some(point)
}

/// `expiry` minus `refresh_before` of a secret made at `made_at` (a
/// percentage counts from its lifetime, `expiry - made_at`).
pub fn refresh_point(
    refresh_before: RefreshBefore,
    made_at: DateTime<Utc>,
    expiry: DateTime<Utc>,
) -> DateTime<Utc> {
    let lifetime = (expiry - made_at).to_std().unwrap_or_default();
    expiry
        .checked_sub_signed(delta(refresh_before.of(lifetime)))
        .unwrap_or(expiry)
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
    let local = whole_second(after).with_timezone(&cron.timezone);
    cron.cron()
        .find_next_occurrence(&local, false)
        .map(|t| t.with_timezone(&Utc))
        // An expression that never fires again (e.g. Feb 30) is never due.
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// The last cron time at or before `now`, if any.
pub fn previous_cron(cron: &CronSchedule, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let local = whole_second(now).with_timezone(&cron.timezone);
    cron.cron()
        .find_previous_occurrence(&local, true)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// `time` without its fraction of a second. Cron times are whole seconds,
/// but croner carries the fraction of the time it starts from into the times
/// it finds: the slot of 10:00:40 seen at 10:00:41.09 would be 10:00:40.09,
/// after a rotation at 10:00:40.08, and rotated again.
fn whole_second(time: DateTime<Utc>) -> DateTime<Utc> {
    time.duration_trunc(TimeDelta::seconds(1)).unwrap_or(time)
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
    fn cron_times_are_whole_seconds() {
        let every_ten = cron("*/10 * * * * *", "UTC");
        let Schedule::Cron(schedule) = &every_ten else {
            unreachable!()
        };
        let now = t("2026-11-23T10:00:41.090Z");
        assert_eq!(
            previous_cron(schedule, now),
            Some(t("2026-11-23T10:00:40Z"))
        );
        assert_eq!(next_cron(schedule, now), t("2026-11-23T10:00:50Z"));
        // Rotated in the 10:00:40 slot, a little after it began: not due
        // again until 10:00:50.
        let last = Last::Rotated {
            at: t("2026-11-23T10:00:40.080Z"),
            expires_at: None,
        };
        assert_eq!(
            first_due(&every_ten, last, now),
            Due {
                at: t("2026-11-23T10:00:50Z"),
                reason: Reason::Cron
            }
        );
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

    fn key(extra: &str) -> Credential {
        let text = format!(
            "[[iam_service_credential]]\nname = \"k\"\ncredential_id = \"ACCAEXAMPLE123EXAMPLE\"\nevery = \"180d\"\n{extra}\n"
        );
        crate::policy::parse(std::path::Path::new("p.toml"), &text)
            .unwrap()
            .credentials
            .remove(0)
    }

    #[test]
    fn an_overlap_key_is_due_before_its_expiry_or_on_schedule_whichever_first() {
        let overlap =
            key("strategy = \"overlap\"\ncredential_age_days = 90\nrefresh_before = \"10d\"");
        let now = t("2026-01-02T00:00:00Z");
        let rotated = t("2026-01-01T00:00:00Z");
        let expiring = Last::Rotated {
            at: rotated,
            expires_at: Some(t("2026-04-01T00:00:00Z")),
        };
        let due = first_due_for(&overlap, expiring, now);
        assert_eq!(due, Due::at(t("2026-03-22T00:00:00Z"), Reason::KeyExpiry));
        assert_eq!(
            regular_for(&overlap, rotated, Some(t("2026-04-01T00:00:00Z")), now),
            due
        );
        // Within refresh_before (or expired): at once.
        let late = t("2026-03-25T00:00:00Z");
        assert_eq!(
            first_due_for(&overlap, expiring, late),
            Due::now(late, Reason::KeyExpiring)
        );
        // A key without an expiry follows the schedule alone.
        let forever = Last::Rotated {
            at: rotated,
            expires_at: None,
        };
        assert_eq!(
            first_due_for(&overlap, forever, now).reason,
            Reason::Interval
        );
        // The schedule wins when it comes first.
        let far = Last::Rotated {
            at: rotated,
            expires_at: Some(t("2027-01-01T00:00:00Z")),
        };
        assert_eq!(first_due_for(&overlap, far, now).reason, Reason::Interval);
    }

    #[test]
    fn a_reset_key_follows_its_schedule_since_reset_keeps_the_expiry() {
        let reset = key("refresh_before = \"10d\"");
        let now = t("2026-03-25T00:00:00Z");
        let expiring = Last::Rotated {
            at: t("2026-03-24T00:00:00Z"),
            expires_at: Some(t("2026-04-01T00:00:00Z")),
        };
        assert_eq!(
            first_due_for(&reset, expiring, now).reason,
            Reason::Interval
        );
    }

    #[test]
    fn a_percentage_counts_from_the_keys_lifetime_and_jitter_goes_earlier() {
        let overlap = key("strategy = \"overlap\"\ncredential_age_days = 90");
        let rotated = t("2026-01-01T00:00:00Z");
        let expiry = t("2026-04-01T00:00:00Z");
        let due = regular_for(&overlap, rotated, Some(expiry), rotated);
        // 33% of 90 days is 29.7 days before expiry.
        assert_eq!(due.at, expiry - TimeDelta::seconds(90 * 86_400 * 33 / 100));
        for _ in 0..50 {
            let jittered = jittered(due, &overlap.schedule, Duration::from_secs(3600), rotated);
            assert!(jittered.at <= due.at && jittered.at >= due.at - TimeDelta::hours(1));
        }
    }
}
