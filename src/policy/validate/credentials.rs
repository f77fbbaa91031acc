//! Credential tables: the shared keys, `chime_bot`, `iam_service_credential`,
//! and names and secret names unique across the policy.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

use super::accounts::Accounts;
use super::inherited::{Checked, Inherited, Timing, inheritable};
use super::{Table, Val, ivs};
use crate::policy::model::{
    ChimeBot, Credential, CredentialName, CronSchedule, DEFAULT_REFRESH_PERCENT,
    IamServiceCredential, IamStrategy, Kind, RefreshBefore, Schedule, Target,
};
use crate::policy::problems::{Ctx, Sink};
use crate::policy::raw::{RawBody, RawChimeBot, RawCredential, RawIamServiceCredential};
use crate::policy::values;

/// Secret names are `secret_prefix` + name unless `secret` is set.
const DEFAULT_SECRET_PREFIX: &str = "rekeyd/";

/// The longest `retire_grace`: a year.
const MAX_RETIRE_GRACE: Duration = Duration::from_secs(365 * 24 * 3600);
/// `credential_age_days` as IAM takes it.
const CREDENTIAL_AGE_DAYS: std::ops::RangeInclusive<u32> = 1..=36600;
const DAY: Duration = Duration::from_secs(24 * 3600);

/// Names and secret names already used: the byte offset and the credential
/// of the first use. Kept for every credential while a policy is checked,
/// so without a copy of its name or label (100,000 of each, freed at the
/// end, left holes between the credentials' own strings).
#[derive(Debug)]
pub(super) struct Seen {
    names: HashMap<CredentialName, (usize, FirstUse)>,
    secrets: HashMap<String, (usize, FirstUse)>,
    checked: Checked,
    /// The one empty `replica_regions`, shared.
    no_regions: Arc<[String]>,
}

impl Default for Seen {
    fn default() -> Self {
        Seen::with_capacity(0)
    }
}

impl Seen {
    /// Room for `credentials` names and secret names.
    pub fn with_capacity(credentials: usize) -> Seen {
        Seen {
            names: HashMap::with_capacity(credentials),
            secrets: HashMap::with_capacity(credentials),
            checked: Checked::default(),
            no_regions: Arc::from(Vec::new()),
        }
    }
}

/// Checks one credential table; `None` when it has a problem.
pub(super) fn credential(
    raw: RawCredential,
    defaults: &Inherited,
    accounts: &Accounts,
    seen: &mut Seen,
    sink: &mut Sink<'_>,
) -> Option<Credential> {
    let RawCredential {
        label,
        header,
        mut body,
    } = raw;
    let common = body.take_common();
    let mut t = Table::new(sink, Ctx::credential(label.clone(), header));

    let name = t.check("name", &common.name, |n| {
        CredentialName::new(n)
            .ok_or_else(|| format!("{n:?} is not a valid name: use letters, digits and _.- only"))
    });
    if let Val::Unset = name {
        t.missing("name", "missing; every credential needs a unique `name`");
    }
    let kind = body.kind();
    // The credential as a later duplicate's message names it (its label).
    let first_use = || match &name {
        Val::Set(name, _) => FirstUse::Named(kind, name.clone()),
        _ => FirstUse::Labelled(label.clone()),
    };
    let unique_name = match &name {
        Val::Set(name, at) => unique(&mut t, &mut seen.names, name.as_str(), *at, "name", || {
            (name.clone(), first_use())
        }),
        _ => true,
    };

    // IVS tables have no schedule/every, and `[defaults]`' do not apply to them.
    let own = inheritable(&mut t, &common, accounts, &mut seen.checked);
    // A credential that sets no hook key shares `[defaults]`' hooks.
    let hooks = if own.sets_hooks() {
        own.clone().or(defaults).hooks()
    } else {
        defaults.shared_hooks.clone()
    };
    let inherited = own.or(defaults);

    // The secret: `secret`, or `secret_prefix` + name.
    let secret = match t.check("secret", &common.secret, |s| {
        values::secret_name(s).map(|()| s.clone())
    }) {
        Val::Unset => match (&inherited.secret_prefix, &name) {
            (Val::Unset, Val::Set(name, at)) => {
                derived_secret(&mut t, DEFAULT_SECRET_PREFIX, name, *at)
            }
            (Val::Set(prefix, _), Val::Set(name, at)) => derived_secret(&mut t, prefix, name, *at),
            _ => Val::Bad,
        },
        secret => secret,
    };
    // A duplicate name already explains a duplicate prefix + name.
    if let Val::Set(secret, at) = &secret
        && (unique_name || common.secret.is_some())
    {
        unique(&mut t, &mut seen.secrets, secret, *at, "secret", || {
            (secret.clone(), first_use())
        });
    }

    let (target, schedule) = match *body {
        RawBody::IvsParticipantToken(raw) => match ivs::token(&mut t, &raw) {
            Some((target, refresh_before)) => (
                Some(target),
                Some(Schedule::BeforeExpiry { refresh_before }),
            ),
            None => (None, None),
        },
        RawBody::ChimeBot(raw) => (
            chime_bot(&mut t, &raw),
            timed_schedule(&mut t, inherited.timing, &inherited.timezone),
        ),
        RawBody::IamServiceCredential(raw) => {
            let timing_at = match &inherited.timing {
                Val::Set(_, at) => Some(*at),
                _ => None,
            };
            let target = iam(&mut t, &raw);
            let schedule = timed_schedule(&mut t, inherited.timing, &inherited.timezone);
            if let (Some(target), Some(schedule), Some(at)) = (&target, &schedule, timing_at) {
                warn_if_schedule_outlives_key(&mut t, target, schedule, at);
            }
            (target, schedule)
        }
    };

    let account = inherited.account.optional()?;
    let secret_account = inherited
        .secret_account
        .optional()?
        .or_else(|| account.clone());
    let replica_regions = match inherited.replica_regions {
        Val::Set(regions, _) => regions,
        Val::Unset => Arc::clone(&seen.no_regions),
        Val::Bad => return None,
    };
    Some(Credential {
        name: name.optional()??,
        secret_name: secret.optional()??,
        kms_key_id: inherited.kms_key_id.optional()?,
        schedule: schedule?,
        jitter: inherited.jitter.or_default(Duration::ZERO)?,
        max_age: inherited.max_age.optional()?,
        target: target?,
        hooks: hooks?,
        account,
        secret_account,
        replica_regions,
    })
}

/// `secret_prefix` + name, which must still fit a secret name.
fn derived_secret(
    t: &mut Table<'_, '_>,
    prefix: &str,
    name: &CredentialName,
    at: usize,
) -> Val<String> {
    let secret = format!("{prefix}{name}");
    match values::secret_name(&secret) {
        Ok(()) => Val::Set(secret, at),
        Err(message) => {
            t.problem("name", at, format!("{message} (secret_prefix + name)"));
            Val::Bad
        }
    }
}

/// The credential that first used a name or secret name.
#[derive(Debug)]
enum FirstUse {
    /// One with a valid name: labelled `chime_bot "name"`, as the reader
    /// labels it.
    Named(Kind, CredentialName),
    /// Any other, by its label (`chime_bot #2`).
    Labelled(String),
}

impl fmt::Display for FirstUse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FirstUse::Named(kind, name) => write!(f, "{kind} \"{name}\""),
            FirstUse::Labelled(label) => f.write_str(label),
        }
    }
}

/// Reports `value` when an earlier credential already used it; `false`
/// then. Else records it, with `first` (its key and this credential).
fn unique<K: Borrow<str> + Hash + Eq>(
    t: &mut Table<'_, '_>,
    seen: &mut HashMap<K, (usize, FirstUse)>,
    value: &str,
    at: usize,
    key: &str,
    first: impl FnOnce() -> (K, FirstUse),
) -> bool {
    if let Some((first_at, first_use)) = seen.get(value) {
        // The line only now: a lookup in a large file's line index is a
        // cache miss or twenty, and duplicates are rare.
        let first_line = t.line(*first_at);
        let what = if key == "name" { "name" } else { "secret name" };
        let message =
            format!("duplicate {what} {value:?}: {first_use} at line {first_line} has it too");
        t.problem(key, at, message);
        false
    } else {
        let (owned, first_use) = first();
        seen.insert(owned, (at, first_use));
        true
    }
}

/// The cron or interval schedule of a Chime or IAM credential.
fn timed_schedule(
    t: &mut Table<'_, '_>,
    timing: Val<Timing>,
    timezone: &Val<chrono_tz::Tz>,
) -> Option<Schedule> {
    match timing {
        Val::Unset => {
            let message = "missing: set `schedule` (cron) or `every` here or in [defaults]";
            t.missing("schedule", message);
            None
        }
        Val::Bad => None,
        Val::Set(Timing::Every(every), _) => Some(Schedule::Every(every)),
        Val::Set(Timing::Cron { expression }, _) => Some(Schedule::Cron(CronSchedule {
            expression,
            timezone: timezone.clone().or_default(chrono_tz::UTC)?,
        })),
    }
}

/// `[[chime_bot]]`'s own keys.
fn chime_bot(t: &mut Table<'_, '_>, raw: &RawChimeBot) -> Option<Target> {
    let account_id = t.required("account_id", &raw.account_id, |a| id(a));
    let bot_id = t.required("bot_id", &raw.bot_id, |b| id(b));
    Some(Target::ChimeBot(ChimeBot {
        account_id: account_id?,
        bot_id: bot_id?,
    }))
}

/// A Chime id: non-empty, no spaces.
fn id(text: &str) -> Result<String, String> {
    if text.is_empty() || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "{text:?} is not an id: it must be non-empty, without spaces"
        ));
    }
    Ok(text.to_owned())
}

/// `[[iam_service_credential]]`'s own keys.
fn iam(t: &mut Table<'_, '_>, raw: &RawIamServiceCredential) -> Option<Target> {
    let user_name = t.check("user_name", &raw.user_name, |u| {
        values::iam_user_name(u).map(|()| u.clone())
    });
    let credential_id = t.required("credential_id", &raw.credential_id, |c| {
        values::credential_id(c).map(|()| c.clone())
    });
    let strategy = t.check("strategy", &raw.strategy, |s| match s.as_str() {
        "reset" => Ok(IamStrategy::Reset),
        "overlap" => Ok(IamStrategy::Overlap),
        other => Err(format!(
            "{other:?} is not a strategy: use \"reset\" or \"overlap\""
        )),
    });
    let retire_grace = t.check("retire_grace", &raw.retire_grace, |g| {
        match values::duration(g)? {
            grace if grace > MAX_RETIRE_GRACE => Err(format!(
                "{g:?} is too long: at most \"365d\" (the old credential is deleted once it has passed)"
            )),
            grace => Ok(grace),
        }
    });
    if let (Val::Set(_, at), Val::Unset | Val::Set(IamStrategy::Reset, _)) =
        (&retire_grace, &strategy)
    {
        let message = "retire_grace applies only to strategy = \"overlap\" (reset keeps one credential, there is nothing to retire): remove it or set strategy = \"overlap\"";
        t.problem("retire_grace", *at, message);
        return None;
    }
    let age_days = t.check("credential_age_days", &raw.credential_age_days, |&days| {
        u32::try_from(days)
            .ok()
            .filter(|d| CREDENTIAL_AGE_DAYS.contains(d))
            .ok_or_else(|| format!("{days} is out of range; it must be 1 to 36600 days"))
    });
    if let (Val::Set(_, at), Val::Unset | Val::Set(IamStrategy::Reset, _)) = (&age_days, &strategy)
    {
        let message = "credential_age_days applies only to strategy = \"overlap\", which creates a new key at each rotation (reset renews the secret of the same key, and IAM keeps its expiry): remove it or set strategy = \"overlap\"";
        t.problem("credential_age_days", *at, message);
        return None;
    }
    let refresh_before = t.check("refresh_before", &raw.refresh_before, |r| {
        values::refresh_before(r)
    });
    if let (Val::Set(RefreshBefore::Fixed(fixed), at), Val::Set(days, _)) =
        (&refresh_before, &age_days)
        && *fixed >= DAY * *days
    {
        let message = format!(
            "{} is not shorter than credential_age_days ({days} days): each new key would be due as soon as it is made",
            humantime::format_duration(*fixed)
        );
        t.problem("refresh_before", *at, message);
        return None;
    }
    Some(Target::IamServiceCredential(IamServiceCredential {
        user_name: user_name.optional()?,
        credential_id: credential_id?,
        strategy: strategy.or_default(IamStrategy::Reset)?,
        retire_grace: retire_grace.or_default(Duration::ZERO)?,
        credential_age_days: age_days.optional()?,
        refresh_before: refresh_before
            .or_default(RefreshBefore::Percent(DEFAULT_REFRESH_PERCENT))?,
    }))
}

/// Warns when the keys `overlap` creates expire before their schedule can
/// ever run again: the rotation before expiry then does all the work.
fn warn_if_schedule_outlives_key(
    t: &mut Table<'_, '_>,
    target: &Target,
    schedule: &Schedule,
    at: usize,
) {
    let Target::IamServiceCredential(IamServiceCredential {
        credential_age_days: Some(days),
        ..
    }) = target
    else {
        return;
    };
    let lifetime = DAY * *days;
    let (key, gap) = match schedule {
        Schedule::Every(every) => ("every", Some(*every)),
        Schedule::Cron(cron) => ("schedule", cron_gap(cron)),
        Schedule::BeforeExpiry { .. } => return,
    };
    if gap.is_none_or(|gap| gap >= lifetime) {
        let message = format!(
            "the schedule never runs before a new key expires (credential_age_days = {days}): each key is rotated refresh_before its expiry instead; shorten the schedule if it should run in between"
        );
        t.warn(key, at, message);
    }
}

/// The time between the cron expression's next two runs; `None` when it
/// does not run twice more.
fn cron_gap(cron: &CronSchedule) -> Option<Duration> {
    let parsed = cron.cron();
    let now = chrono::Utc::now().with_timezone(&cron.timezone);
    let first = parsed.find_next_occurrence(&now, false).ok()?;
    let second = parsed.find_next_occurrence(&first, false).ok()?;
    (second - first).to_std().ok()
}
