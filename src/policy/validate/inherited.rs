//! The keys a credential inherits from `[defaults]`, checked once in each place.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use toml::Spanned;

use super::accounts::{Accounts, replica_regions};
use super::{Table, Val};
use crate::policy::model::{Account, Hooks};
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
    pub on_rotate: Val<Vec<String>>,
    pub on_failure: Val<Vec<String>>,
    pub hook_timeout: Val<Duration>,
    /// `[defaults]` only: its hooks, built once, shared by every credential
    /// that sets none of the hook keys itself; `None` when one is bad.
    pub shared_hooks: Option<Option<Arc<Hooks>>>,
    pub account: Val<Arc<Account>>,
    pub secret_account: Val<Arc<Account>>,
    pub replica_regions: Val<Arc<[String]>>,
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
            on_rotate: self.on_rotate.or(defaults.on_rotate.clone()),
            on_failure: self.on_failure.or(defaults.on_failure.clone()),
            hook_timeout: self.hook_timeout.or(defaults.hook_timeout.clone()),
            shared_hooks: None,
            account: self.account.or(defaults.account.clone()),
            secret_account: self.secret_account.or(defaults.secret_account.clone()),
            replica_regions: self.replica_regions.or(defaults.replica_regions.clone()),
        }
    }

    /// Whether this table sets a hook key itself.
    pub fn sets_hooks(&self) -> bool {
        !matches!(
            (&self.on_rotate, &self.on_failure, &self.hook_timeout),
            (Val::Unset, Val::Unset, Val::Unset)
        )
    }

    /// The hooks these keys make: `Some(None)` without any hook, `None`
    /// when a key is bad.
    pub fn hooks(&self) -> Option<Option<Arc<Hooks>>> {
        let on_rotate = self.on_rotate.clone().optional()?;
        let on_failure = self.on_failure.clone().optional()?;
        let timeout = self
            .hook_timeout
            .clone()
            .or_default(Hooks::DEFAULT_TIMEOUT)?;
        if on_rotate.is_none() && on_failure.is_none() {
            return Some(None);
        }
        Some(Some(Arc::new(Hooks {
            on_rotate,
            on_failure,
            timeout,
        })))
    }
}

/// What checking this policy already found, since fleets share a few cron
/// expressions and hook programs among many credentials: the cron
/// expressions found valid (parsing one costs croner a bit per possible
/// year: most of the time of checking a 100,000-credential policy), and
/// whether each hook program is an executable file here (a `stat`, or one
/// per `PATH` directory for a bare name).
#[derive(Debug, Default)]
pub(super) struct Checked {
    crons: HashSet<String>,
    programs: HashMap<String, bool>,
}

impl Checked {
    fn check_cron(&mut self, expression: &str) -> Result<(), String> {
        if !self.crons.contains(expression) {
            values::cron(expression)?;
            self.crons.insert(expression.to_owned());
        }
        Ok(())
    }

    fn is_executable(&mut self, program: &str) -> bool {
        if let Some(found) = self.programs.get(program) {
            return *found;
        }
        let found = resolve(program).is_some();
        self.programs.insert(program.to_owned(), found);
        found
    }
}

/// `[defaults]`, checked (all unset when the table is absent).
pub(super) fn defaults(
    raw: Option<Spanned<RawDefaults>>,
    accounts: &Accounts,
    sink: &mut Sink<'_>,
) -> Inherited {
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
        on_rotate: raw.on_rotate,
        on_failure: raw.on_failure,
        hook_timeout: raw.hook_timeout,
        account: raw.account,
        secret_account: raw.secret_account,
        replica_regions: raw.replica_regions,
    };
    let mut defaults = inheritable(
        &mut Table::new(sink, Ctx::settings("defaults.", header)),
        &common,
        accounts,
        &mut Checked::default(),
    );
    defaults.shared_hooks = defaults.hooks();
    defaults
}

/// Checks the inheritable keys of a credential table or of `[defaults]`.
pub(super) fn inheritable(
    t: &mut Table<'_, '_>,
    raw: &RawCommon,
    accounts: &Accounts,
    checked: &mut Checked,
) -> Inherited {
    let schedule = t.check("schedule", &raw.schedule, |s| {
        checked.check_cron(s).map(|()| Timing::Cron {
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
        on_rotate: hook(t, "on_rotate", &raw.on_rotate, checked),
        on_failure: hook(t, "on_failure", &raw.on_failure, checked),
        hook_timeout: t.check("hook_timeout", &raw.hook_timeout, |d| hook_timeout(d)),
        shared_hooks: None,
        account: accounts.lookup(t, "account", &raw.account),
        secret_account: accounts.lookup(t, "secret_account", &raw.secret_account),
        replica_regions: t.check("replica_regions", &raw.replica_regions, |r| {
            replica_regions(r)
        }),
    }
}

/// A hook's argv, checked; a warning when its program is not an executable
/// file here (the policy may be checked on another host than it runs on).
fn hook(
    t: &mut Table<'_, '_>,
    key: &str,
    raw: &Option<Spanned<Vec<String>>>,
    found: &mut Checked,
) -> Val<Vec<String>> {
    let checked = t.check(key, raw, |a| argv(a));
    if let Val::Set(argv, at) = &checked
        && !found.is_executable(&argv[0])
    {
        let program = &argv[0];
        let problem = if program.starts_with('/') {
            "is not an executable file on this host"
        } else {
            "is not an executable file in any directory of this host's PATH"
        };
        t.warn(
            key,
            *at,
            format!("{program:?} {problem}: the hook fails until it is"),
        );
    }
    checked
}

/// The executable file `program` names: itself when it is a path, else the
/// first match in `PATH` (as the hook's `execvp` finds it).
fn resolve(program: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let executable = |path: &Path| {
        std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        return executable(Path::new(program)).then(|| PathBuf::from(program));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| executable(candidate))
}

/// A hook's argv: a program by absolute path or by bare name (looked up in
/// `PATH` when it runs, as `execvp` does), then its arguments. No shell; a
/// relative path is refused, since what it names would depend on the
/// daemon's working directory.
fn argv(argv: &[String]) -> Result<Vec<String>, String> {
    let Some(program) = argv.first() else {
        return Err(
            "must not be empty: give the program (an absolute path, or a name looked up in PATH), then its arguments (no shell)"
                .to_owned(),
        );
    };
    if program.is_empty()
        || program.ends_with('/')
        || (program.contains('/') && !program.starts_with('/'))
    {
        return Err(format!(
            "{program:?} is not a program: give an absolute path (e.g. \"/usr/bin/systemctl\") or a bare name looked up in PATH; hooks run without a shell"
        ));
    }
    if let Some(at) = argv.iter().position(|a| a.contains('\0')) {
        return Err(format!("argument {at} holds a NUL byte"));
    }
    Ok(argv.to_vec())
}

/// `hook_timeout`: 1 second to 1 hour.
fn hook_timeout(text: &str) -> Result<Duration, String> {
    let timeout = values::duration(text)?;
    if !(Hooks::MIN_TIMEOUT..=Hooks::MAX_TIMEOUT).contains(&timeout) {
        return Err(format!(
            "{text:?} is out of range; it must be 1 second to 1 hour"
        ));
    }
    Ok(timeout)
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
