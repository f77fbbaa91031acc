//! The audit's verdict on one credential: a pure function of its schedule,
//! what Secrets Manager holds, what the provider said, and the clock.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use crate::daemon::timing;
use crate::policy::{Credential, CredentialName, IamServiceCredential, Schedule, Target};
use crate::record::{StoredRecord, format_time};

/// An audit status (SPEC.md, "Audit statuses", plus `drift` and `unmanaged`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, clap::ValueEnum)]
pub enum Status {
    #[value(skip)]
    Ok,
    /// No secret, or its AWSCURRENT version was not written by rekeyd.
    Missing,
    /// The most recent scheduled rotation did not happen, or older than `max_age`.
    Overdue,
    /// IVS: the stored token expires within `refresh_before`.
    Expiring,
    /// IVS: the stored token has expired.
    Expired,
    /// The provider no longer has (or has disabled) what the secret holds.
    Drift,
    /// Could not read the secret or ask the provider.
    Error,
    /// A secret tagged `rekeyd:credential` that no policy credential claims.
    Unmanaged,
}

impl Status {
    pub const ALL: [Status; 8] = [
        Status::Ok,
        Status::Missing,
        Status::Overdue,
        Status::Expiring,
        Status::Expired,
        Status::Drift,
        Status::Error,
        Status::Unmanaged,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Missing => "missing",
            Status::Overdue => "overdue",
            Status::Expiring => "expiring",
            Status::Expired => "expired",
            Status::Drift => "drift",
            Status::Error => "error",
            Status::Unmanaged => "unmanaged",
        }
    }

    /// The statuses that fail a run by default: all but `ok` and `unmanaged`
    /// (`--strict` adds `unmanaged`).
    pub fn fails_by_default(self) -> bool {
        !matches!(self, Status::Ok | Status::Unmanaged)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What Secrets Manager holds for a credential (secret fields never parsed).
#[derive(Debug, Clone, PartialEq)]
pub enum SecretView {
    /// No such secret, or no AWSCURRENT version.
    NotFound,
    /// Reading it failed: the one-line reason.
    Unreadable(String),
    /// AWSCURRENT is not rekeyd's JSON for this credential: why.
    Foreign(String),
    /// AWSCURRENT is what rekeyd wrote for this credential.
    Rekeyd(StoredRecord),
}

impl SecretView {
    /// Classifies a parsed AWSCURRENT value (`None`: not rekeyd's format).
    pub fn from_record(credential: &Credential, record: Option<StoredRecord>) -> SecretView {
        let kind = credential.kind();
        match record {
            None => SecretView::Foreign(format!(
                "drift: AWSCURRENT is not rekeyd's JSON format (changed outside rekeyd?); run `rekeyd rotate {}` to replace it",
                credential.name
            )),
            Some(r) if !r.is_written_for(kind, credential.name.as_str()) => {
                SecretView::Foreign(format!(
                    "drift: AWSCURRENT was not written by rekeyd for {kind} {} (it names {} {:?}); check who wrote it, then run `rekeyd rotate {}`",
                    credential.name, r.kind, r.name, credential.name
                ))
            }
            Some(r) => SecretView::Rekeyd(r),
        }
    }
}

/// What the provider said about the resource the secret belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderView {
    /// Not asked (`--offline`, or nothing to ask about).
    NotChecked,
    /// It exists and accepts the stored credential as far as can be seen.
    Fine,
    /// Gone, disabled or inactive: the one-line reason.
    Drift(String),
    /// It reports the stored credential expired (an IAM API key).
    Expired(String),
    /// The provider could not be asked: the one-line reason.
    Unreachable(String),
}

/// The audit's finding for one credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assessment {
    pub status: Status,
    pub last_rotated: Option<DateTime<Utc>>,
    pub next_due: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub detail: String,
}

/// Judges one credential. `grace` is added to the jitter before a missed
/// scheduled rotation counts as overdue.
pub fn assess(
    credential: &Credential,
    secret: &SecretView,
    provider: &ProviderView,
    now: DateTime<Utc>,
    grace: Duration,
) -> Assessment {
    let name = &credential.name;
    let record = match secret {
        SecretView::NotFound => {
            return finding(
                Status::Missing,
                None,
                Some(now),
                format!(
                    "secret {} does not exist or has no AWSCURRENT version; run `rekeyd rotate {name}` (or start the daemon)",
                    credential.secret_name
                ),
            );
        }
        SecretView::Unreadable(why) => return finding(Status::Error, None, None, why.clone()),
        SecretView::Foreign(why) => return finding(Status::Missing, None, Some(now), why.clone()),
        SecretView::Rekeyd(record) => record,
    };
    let last = record.rotated_at;
    let expires_at = record.expires_at();
    let next_due = scheduled_after(credential, last, expires_at);
    let done = |status, detail| Assessment {
        status,
        last_rotated: Some(last),
        next_due,
        expires_at,
        detail,
    };
    match provider {
        ProviderView::Drift(why) => return done(Status::Drift, why.clone()),
        ProviderView::Expired(why) => return done(Status::Expired, why.clone()),
        ProviderView::Unreachable(why) => return done(Status::Error, why.clone()),
        ProviderView::NotChecked | ProviderView::Fine => {}
    }
    if let Schedule::BeforeExpiry { refresh_before } = &credential.schedule {
        let Some(expiry) = expires_at else {
            return done(
                Status::Missing,
                format!("the stored token has no expiration_time; run `rekeyd rotate {name}`"),
            );
        };
        if expiry <= now {
            return done(
                Status::Expired,
                format!(
                    "the stored token expired at {}; run `rekeyd rotate {name}` and check that the daemon runs",
                    format_time(expiry)
                ),
            );
        }
        if expiry
            .checked_sub_signed(delta(*refresh_before))
            .unwrap_or(expiry)
            <= now
        {
            return done(
                Status::Expiring,
                format!(
                    "the stored token expires at {}, within refresh_before ({}) and not yet refreshed; check that the daemon runs",
                    format_time(expiry),
                    humantime::format_duration(*refresh_before)
                ),
            );
        }
    } else if let (Target::IamServiceCredential(iam), Some(expiry)) =
        (&credential.target, expires_at)
        && let Some(finding) = key_expiry(iam, name, last, expiry, now)
    {
        return done(finding.0, finding.1);
    } else if let Some(due) = next_due
        && plus(plus(due, credential.jitter), grace) < now
    {
        return done(
            Status::Overdue,
            format!(
                "the rotation scheduled for {} ({}) did not happen; last rotated {}; check the daemon's log, or run `rekeyd rotate {name}`",
                format_time(due),
                schedule_text(&credential.schedule),
                format_time(last)
            ),
        );
    }
    if let Some(max_age) = credential.max_age
        && plus(last, max_age) < now
    {
        return done(
            Status::Overdue,
            format!(
                "last rotated {}, older than max_age ({}); run `rekeyd rotate {name}`",
                format_time(last),
                humantime::format_duration(max_age)
            ),
        );
    }
    let detail = match next_due {
        Some(due) if due <= now => {
            format!("due since {}, within jitter and grace", format_time(due))
        }
        Some(due) => format!("next rotation due {}", format_time(due)),
        None => "no further scheduled rotation".to_owned(),
    };
    done(Status::Ok, detail)
}

/// An IAM API key's stored expiry: `expired` once passed, `expiring` within
/// `refresh_before` of it; `None` otherwise.
fn key_expiry(
    iam: &IamServiceCredential,
    name: &CredentialName,
    rotated_at: DateTime<Utc>,
    expiry: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Option<(Status, String)> {
    let remedy = if iam.renews_expiry() {
        format!("check that the daemon runs, or run `rekeyd rotate {name}`")
    } else {
        "strategy = \"reset\" keeps a key's expiry: rotate with strategy = \"overlap\" (and credential_age_days) to replace the key before it expires".to_owned()
    };
    if expiry <= now {
        return Some((
            Status::Expired,
            format!(
                "the stored key expired at {}; {remedy}",
                format_time(expiry)
            ),
        ));
    }
    (timing::refresh_point(iam.refresh_before, rotated_at, expiry) <= now).then(|| {
        (
            Status::Expiring,
            format!(
                "the stored key expires at {}, within refresh_before ({}) and not yet replaced; {remedy}",
                format_time(expiry),
                iam.refresh_before
            ),
        )
    })
}

/// The first scheduled rotation after one at `rotated_at` (without jitter):
/// the next cron time, `rotated_at + every`, or (IVS tokens, expiring keys)
/// expiry minus `refresh_before`. `None` when the schedule never fires again.
pub fn scheduled_after(
    credential: &Credential,
    rotated_at: DateTime<Utc>,
    expires_at: Option<DateTime<Utc>>,
) -> Option<DateTime<Utc>> {
    if matches!(credential.schedule, Schedule::BeforeExpiry { .. }) && expires_at.is_none() {
        return None;
    }
    let at = timing::regular_for(credential, rotated_at, expires_at, rotated_at).at;
    (at != DateTime::<Utc>::MAX_UTC).then_some(at)
}

fn schedule_text(schedule: &Schedule) -> String {
    match schedule {
        Schedule::Cron(cron) => format!("cron \"{}\" {}", cron.expression, cron.timezone),
        Schedule::Every(every) => format!("every {}", humantime::format_duration(*every)),
        Schedule::BeforeExpiry { refresh_before } => format!(
            "refresh_before {}",
            humantime::format_duration(*refresh_before)
        ),
    }
}

fn finding(
    status: Status,
    last_rotated: Option<DateTime<Utc>>,
    next_due: Option<DateTime<Utc>>,
    detail: String,
) -> Assessment {
    Assessment {
        status,
        last_rotated,
        next_due,
        expires_at: None,
        detail,
    }
}

fn delta(duration: Duration) -> TimeDelta {
    TimeDelta::from_std(duration).unwrap_or(TimeDelta::MAX)
}

/// `time + duration`, saturating at the end of time.
fn plus(time: DateTime<Utc>, duration: Duration) -> DateTime<Utc> {
    time.checked_add_signed(delta(duration))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}
