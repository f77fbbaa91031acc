//! The keys a credential inherits from `[defaults]`, checked once in each place.

use std::collections::HashSet;
use std::time::Duration;

use toml::Spanned;

use super::{Table, Val};
use crate::policy::problems::{Ctx, Sink};
use crate::policy::raw::{RawCommon, RawDefaults};
use crate::policy::values;

/// What rotates a credential on a timer: `schedule` and `every` are one key.
#[derive(Debug, Clone)]
pub(super) enum Timing {
    /// A cron expression, checked (parsed again where it is evaluated).
    Cron {
        expression: String,
    },
    Every(Duration),
}

/// The inheritable keys of one table, checked.
#[derive(Debug, Clone)]
pub(super) struct Inherited {
    /// `schedule` or `every`.
    pub timing: Val<Timing>,
    pub jitter: Val<Duration>,
    pub secret_prefix: Val<String>,
    pub kms_key_id: Val<String>,
    pub max_age: Val<Duration>,
    pub timezone: Val<chrono_tz::Tz>,
}

impl Inherited {
    /// Each key of `self`, or of `defaults` where `self` does not set it.
    pub fn or(self, defaults: &Inherited) -> Inherited {
        Inherited {
            timing: self.timing.or(defaults.timing.clone()),
            jitter: self.jitter.or(defaults.jitter.clone()),
            secret_prefix: self.secret_prefix.or(defaults.secret_prefix.clone()),
            kms_key_id: self.kms_key_id.or(defaults.kms_key_id.clone()),
            max_age: self.max_age.or(defaults.max_age.clone()),
            timezone: self.timezone.or(defaults.timezone.clone()),
        }
    }
}

/// Cron expressions already found valid in this policy: checking one parses
/// it, which costs croner a bit per possible year (most of the time of
/// checking a 100,000-credential policy), while fleets share a few.
#[derive(Debug, Default)]
pub(super) struct ValidCrons(HashSet<String>);

impl ValidCrons {
    fn check(&mut self, expression: &str) -> Result<(), String> {
        if !self.0.contains(expression) {
            values::cron(expression)?;
            self.0.insert(expression.to_owned());
        }
        Ok(())
    }
}

/// `[defaults]`, checked (all unset when the table is absent).
pub(super) fn defaults(raw: Option<Spanned<RawDefaults>>, sink: &mut Sink<'_>) -> Inherited {
    let header = raw.as_ref().map_or(0, |r| r.span().start);
    let raw = raw.map(Spanned::into_inner).unwrap_or_default();
    let common = RawCommon {
        name: None,
        schedule: raw.schedule,
        every: raw.every,
        jitter: raw.jitter,
        secret: None,
        secret_prefix: raw.secret_prefix,
        kms_key_id: raw.kms_key_id,
        max_age: raw.max_age,
        timezone: raw.timezone,
    };
    inheritable(
        &mut Table::new(sink, Ctx::settings("defaults.", header)),
        &common,
        &mut ValidCrons::default(),
    )
}

/// Checks the inheritable keys of a credential table or of `[defaults]`.
pub(super) fn inheritable(
    t: &mut Table<'_, '_>,
    raw: &RawCommon,
    crons: &mut ValidCrons,
) -> Inherited {
    let schedule = t.check("schedule", &raw.schedule, |s| {
        crons.check(s).map(|()| Timing::Cron {
            expression: s.clone(),
        })
    });
    let every = t.check("every", &raw.every, |e| {
        values::positive_duration(e).map(Timing::Every)
    });
    let timing = match (&raw.schedule, &raw.every) {
        (Some(_), Some(every)) => {
            let message = "set either `schedule` or `every`, not both";
            t.problem("every", every.span().start, message);
            Val::Bad
        }
        _ => schedule.or(every),
    };
    Inherited {
        timing,
        jitter: t.check("jitter", &raw.jitter, |j| values::duration(j)),
        secret_prefix: t.check("secret_prefix", &raw.secret_prefix, |p| secret_prefix(p)),
        kms_key_id: t.check("kms_key_id", &raw.kms_key_id, |k| values::non_empty(k)),
        max_age: t.check("max_age", &raw.max_age, |m| values::positive_duration(m)),
        timezone: t.check("timezone", &raw.timezone, |z| values::timezone(z)),
    }
}

/// A prefix may be empty, but only of characters a secret name allows.
fn secret_prefix(prefix: &str) -> Result<String, String> {
    match prefix.chars().find(|&c| !values::is_secret_char(c)) {
        Some(c) => Err(format!(
            "secret_prefix {prefix:?} has {c:?}; secret names allow letters, digits and /_+=.@-"
        )),
        None => Ok(prefix.to_owned()),
    }
}
