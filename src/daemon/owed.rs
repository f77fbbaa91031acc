//! The owed `on_rotate` runs the daemon tries again by itself: for each
//! credential whose owed hook failed every attempt, when to run it next, on
//! a slow, growing backoff ([`hooks::owed_retry_delay`]), so that a consumer
//! that comes back, or a fixed hook, lets the retirement waiting for it go
//! on without an operator.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};

use crate::hooks;
use crate::policy::CredentialName;

/// One owed hook's place on the backoff.
struct Retry {
    /// Cycles failed in a row.
    cycles: u32,
    /// When to run it next; `None` while it runs.
    at: Option<DateTime<Utc>>,
}

/// The owed hooks waiting for another cycle, by credential.
#[derive(Default)]
pub struct OwedRetries {
    retries: BTreeMap<CredentialName, Retry>,
}

impl OwedRetries {
    /// A cycle of `name`'s owed hook failed (`fresh`: the first for the
    /// version now owed, after a rotation's own hook failed): run it again
    /// after the backoff. Returns when.
    pub fn failed(
        &mut self,
        name: &CredentialName,
        fresh: bool,
        now: DateTime<Utc>,
    ) -> DateTime<Utc> {
        let retry = self.retries.entry(name.clone()).or_insert(Retry {
            cycles: 0,
            at: None,
        });
        retry.cycles = if fresh {
            1
        } else {
            retry.cycles.saturating_add(1)
        };
        let at = now + delta(hooks::owed_retry_delay(retry.cycles));
        retry.at = Some(at);
        at
    }

    /// `name`'s due cycle cannot run now (its rotation runs): it waits
    /// another delay of its current length.
    pub fn postpone(&mut self, name: &CredentialName, now: DateTime<Utc>) {
        if let Some(retry) = self.retries.get_mut(name) {
            retry.at = Some(now + delta(hooks::owed_retry_delay(retry.cycles.max(1))));
        }
    }

    /// An owed run of `name`'s hook succeeded. A cycle scheduled while it
    /// ran (a newer rotation's hook failed meanwhile) stays: it finds
    /// nothing owed, or what the newer rotation owes.
    pub fn succeeded(&mut self, name: &CredentialName) {
        if self.retries.get(name).is_some_and(|r| r.at.is_none()) {
            self.retries.remove(name);
        }
    }

    /// Nothing is owed for `name` any more.
    pub fn clear(&mut self, name: &CredentialName) {
        self.retries.remove(name);
    }

    /// Keeps only the credentials `keep` says (after a reload).
    pub fn retain(&mut self, keep: impl Fn(&CredentialName) -> bool) {
        self.retries.retain(|name, _| keep(name));
    }

    /// The earliest cycle due.
    pub fn earliest(&self) -> Option<DateTime<Utc>> {
        self.retries.values().filter_map(|r| r.at).min()
    }

    /// The credentials whose cycle is due by `now`, marked running.
    pub fn take_due(&mut self, now: DateTime<Utc>) -> Vec<CredentialName> {
        let mut due = Vec::new();
        for (name, retry) in &mut self.retries {
            if retry.at.is_some_and(|at| at <= now) {
                retry.at = None;
                due.push(name.clone());
            }
        }
        due
    }
}

fn delta(duration: std::time::Duration) -> TimeDelta {
    TimeDelta::from_std(duration).unwrap_or(TimeDelta::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(text: &str) -> CredentialName {
        CredentialName::new(text).unwrap()
    }

    #[test]
    fn each_failed_cycle_waits_longer_and_a_fresh_failure_starts_over() {
        let now: DateTime<Utc> = "2026-11-30T10:00:00Z".parse().unwrap();
        let mut retries = OwedRetries::default();
        let bot = name("support-bot");
        let first = retries.failed(&bot, true, now);
        assert_eq!(retries.earliest(), Some(first));
        assert!(retries.take_due(first - TimeDelta::seconds(1)).is_empty());
        assert_eq!(retries.take_due(first), std::slice::from_ref(&bot));
        assert_eq!(retries.earliest(), None, "running: not on the timeline");
        let second = retries.failed(&bot, false, now);
        assert!(second - now > first - now, "the backoff grows");
        assert_eq!(
            retries.failed(&bot, true, now),
            first,
            "a new version starts over"
        );
        retries.take_due(second);
        retries.succeeded(&bot);
        assert_eq!(retries.earliest(), None, "done");
        let third = retries.failed(&bot, true, now);
        retries.succeeded(&bot);
        assert_eq!(
            retries.earliest(),
            Some(third),
            "scheduled after the run began"
        );
        retries.retain(|n| *n != bot);
        assert_eq!(retries.earliest(), None);
    }
}
