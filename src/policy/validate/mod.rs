//! [`RawPolicy`] to [`Policy`]: every semantic check, every problem reported.
//!
//! Each table is checked through a [`Table`], which turns a raw value into a
//! [`Val`] and pushes a problem for anything wrong; a `Policy` is built only
//! when the whole file had no problem at all.

mod accounts;
mod credentials;
mod inherited;
mod ivs;
mod settings;

use std::path::Path;

use toml::Spanned;

use super::model::{AwsSettings, Coordination, Credential, DaemonSettings, Policy};
use super::problems::{Ctx, Sink};
use super::raw::{RawCredential, RawPolicy};

/// Checks `raw`; `Some` only when neither reading nor checking found a problem.
pub(crate) fn validate(mut raw: RawPolicy, source: &Path, sink: &mut Sink<'_>) -> Option<Policy> {
    let count = raw.credentials.len();
    let mut settings = Settings::check(&mut raw, count, sink);
    // Collected once, at its final size: not a `Vec<Option<_>>` copied again.
    let mut credentials = Vec::with_capacity(count);
    let mut all_valid = true;
    for raw in raw.credentials {
        match settings.credential(raw, sink) {
            Some(credential) => credentials.push(credential),
            None => all_valid = false,
        }
    }
    if !all_valid {
        return None;
    }
    settings.finish(credentials, source, sink)
}

/// The settings tables, checked: what each credential table is checked
/// against, one at a time (a large policy is checked as it is read).
pub(crate) struct Settings {
    accounts: accounts::Accounts,
    aws: Option<AwsSettings>,
    daemon: Option<DaemonSettings>,
    coordination: Option<Option<Coordination>>,
    defaults: inherited::Inherited,
    seen: credentials::Seen,
}

impl Settings {
    /// Checks the settings tables of `raw` (taking them out of it), with
    /// room for about `credentials` credentials.
    pub fn check(raw: &mut RawPolicy, credentials: usize, sink: &mut Sink<'_>) -> Settings {
        let accounts = accounts::accounts(raw.accounts.take(), sink);
        let aws = settings::aws(raw.aws.take(), sink);
        let daemon = settings::daemon(raw.daemon.take(), sink);
        let coordination = settings::coordination(raw.coordination.take(), &accounts, sink);
        let defaults = inherited::defaults(raw.defaults.take(), &accounts, sink);
        Settings {
            accounts,
            aws,
            daemon,
            coordination,
            defaults,
            seen: credentials::Seen::with_capacity(credentials),
        }
    }

    /// Checks one credential table; `None` when it has a problem (reported).
    pub fn credential(&mut self, raw: RawCredential, sink: &mut Sink<'_>) -> Option<Credential> {
        credentials::credential(raw, &self.defaults, &self.accounts, &mut self.seen, sink)
    }

    /// The policy of these settings and `credentials`; `None` when anything
    /// read or checked had a problem.
    pub fn finish(
        self,
        credentials: Vec<Credential>,
        source: &Path,
        sink: &mut Sink<'_>,
    ) -> Option<Policy> {
        if !sink.is_empty() {
            return None;
        }
        let mut aws = self.aws?;
        aws.accounts = self.accounts.into_list();
        Some(Policy {
            source: source.to_owned(),
            aws,
            daemon: self.daemon?,
            coordination: self.coordination?,
            credentials,
            warnings: Vec::new(),
        })
    }
}

/// A checked value: not in the file, in it but wrong (already reported), or
/// good, with the byte offset of its key.
#[derive(Debug, Clone)]
pub(crate) enum Val<T> {
    /// Not in the table.
    Unset,
    /// In the table but wrong; the problem is reported.
    Bad,
    /// Good, with the byte offset of its value.
    Set(T, usize),
}

impl<T> Val<T> {
    /// `self`, or `fallback` when `self` is unset (a credential's key wins
    /// over `[defaults]`).
    pub fn or(self, fallback: Val<T>) -> Val<T> {
        match self {
            Val::Unset => fallback,
            val => val,
        }
    }

    /// `Some(value)`, `Some(default)` when unset, `None` when bad.
    pub fn or_default(self, default: T) -> Option<T> {
        match self {
            Val::Unset => Some(default),
            Val::Bad => None,
            Val::Set(value, _) => Some(value),
        }
    }

    /// `Some(Some(value))`, `Some(None)` when unset, `None` when bad.
    pub fn optional(self) -> Option<Option<T>> {
        match self {
            Val::Unset => Some(None),
            Val::Bad => None,
            Val::Set(value, _) => Some(Some(value)),
        }
    }
}

/// One table being checked: where problems go and how they are labelled.
pub(crate) struct Table<'s, 'a> {
    /// Where problems go.
    pub sink: &'s mut Sink<'a>,
    /// Which table this is.
    pub ctx: Ctx,
}

impl<'s, 'a> Table<'s, 'a> {
    pub fn new(sink: &'s mut Sink<'a>, ctx: Ctx) -> Self {
        Table { sink, ctx }
    }

    /// Checks the value of `key` with `check`, reporting its error.
    pub fn check<S, T>(
        &mut self,
        key: &str,
        value: &Option<Spanned<S>>,
        check: impl FnOnce(&S) -> Result<T, String>,
    ) -> Val<T> {
        match value {
            // Read reported (and dropped) it already, e.g. for a wrong type.
            None if self.sink.has_problem(&self.ctx, key) => Val::Bad,
            None => Val::Unset,
            Some(value) => match check(value.get_ref()) {
                Ok(checked) => Val::Set(checked, value.span().start),
                Err(message) => {
                    self.sink.push(&self.ctx, value.span().start, key, message);
                    Val::Bad
                }
            },
        }
    }

    /// Like [`Table::check`] for a key that must be set.
    pub fn required<S, T>(
        &mut self,
        key: &str,
        value: &Option<Spanned<S>>,
        check: impl FnOnce(&S) -> Result<T, String>,
    ) -> Option<T> {
        match self.check(key, value, check) {
            Val::Set(value, _) => Some(value),
            Val::Unset => {
                self.missing(key, "missing");
                None
            }
            Val::Bad => None,
        }
    }

    /// A problem with `key` at byte `offset`.
    pub fn problem(&mut self, key: &str, offset: usize, message: impl Into<String>) {
        self.sink.push(&self.ctx, offset, key, message);
    }

    /// A warning about `key` at byte `offset`.
    pub fn warn(&mut self, key: &str, offset: usize, message: impl Into<String>) {
        self.sink.warn(&self.ctx, offset, key, message);
    }

    /// `key` is missing (reported at the table's header).
    pub fn missing(&mut self, key: &str, message: &str) {
        self.sink.missing(&self.ctx, key, message);
    }

    /// 1-based line of a byte offset.
    pub fn line(&self, offset: usize) -> usize {
        self.sink.line(offset)
    }
}
