//! The daemon's book: per credential, what runs next and when, whether it is
//! running, what Secrets Manager last said, its failures, and when the old
//! credential it replaced is due for deletion; plus the timeline ordered by
//! due time (one entry per credential: the earlier of the two).

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::timing::{self, Due, Last, Reason};
use crate::policy::{Credential, CredentialName, Kind};
use crate::rotation::Rotated;
use crate::store::CurrentVersion;

/// What a credential's next run does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    /// Read the stored secret to learn when the credential is due.
    Refresh,
    /// Rotate it.
    Rotate,
    /// Delete the old IAM credential whose grace has passed.
    Retire,
}

struct Slot {
    credential: Arc<Credential>,
    /// Set while waiting; `None` while running.
    next: Option<(Due, Task)>,
    running: Option<Task>,
    failures: u32,
    /// When the pending retirement of the credential's old one is due.
    retire_at: Option<DateTime<Utc>>,
    retire_failures: u32,
    /// Its key on the timeline, while waiting.
    queued: Option<DateTime<Utc>>,
}

/// What a reload changed, by credential name.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Applied {
    pub added: Vec<CredentialName>,
    pub removed: Vec<CredentialName>,
    pub changed: Vec<CredentialName>,
    pub unchanged: usize,
}

/// All credentials' slots and the timeline of their due times.
pub struct Slots {
    /// Hashed, not ordered: a third of the memory of a `BTreeMap`'s
    /// half-full nodes at 100,000 credentials; what is listed from it is
    /// sorted where the order shows.
    slots: HashMap<CredentialName, Slot>,
    timeline: BTreeSet<(DateTime<Utc>, CredentialName)>,
    /// How many slots run a rotation (kept, not counted: the loop reports
    /// it after every settled task).
    rotating: usize,
}

impl Slots {
    /// Every credential starts by reading its stored state, at once; those
    /// whose last rotation is in doubt are rotated at once instead.
    pub fn new(
        credentials: Vec<Credential>,
        in_doubt: &[CredentialName],
        now: DateTime<Utc>,
    ) -> Slots {
        let mut slots = Slots {
            slots: HashMap::with_capacity(credentials.len()),
            timeline: BTreeSet::new(),
            rotating: 0,
        };
        let in_doubt: BTreeSet<&CredentialName> = in_doubt.iter().collect();
        for credential in credentials {
            let name = credential.name.clone();
            slots.add(Arc::new(credential), now);
            if in_doubt.contains(&name) {
                slots.set_next(&name, Due::at(now, Reason::InDoubt), Task::Rotate);
            }
        }
        slots
    }

    fn add(&mut self, credential: Arc<Credential>, now: DateTime<Utc>) {
        let name = credential.name.clone();
        self.slots.insert(
            name.clone(),
            Slot {
                credential,
                next: None,
                running: None,
                failures: 0,
                retire_at: None,
                retire_failures: 0,
                queued: None,
            },
        );
        self.set_next(&name, Due::at(now, Reason::Missing), Task::Refresh);
    }

    /// Applies a reloaded policy: new credentials are read (and rotated if
    /// due), removed ones dropped, changed ones re-read (or rotated at once
    /// when what they rotate changed), the rest left exactly as they were.
    pub fn apply(&mut self, credentials: &[Credential], now: DateTime<Utc>) -> Applied {
        let mut applied = Applied::default();
        let wanted: BTreeSet<&CredentialName> = credentials.iter().map(|c| &c.name).collect();
        let mut gone: Vec<CredentialName> = self
            .slots
            .keys()
            .filter(|name| !wanted.contains(name))
            .cloned()
            .collect();
        gone.sort_unstable();
        for name in gone {
            let Some(slot) = self.slots.remove(&name) else {
                continue;
            };
            if let Some(at) = slot.queued {
                self.timeline.remove(&(at, name.clone()));
            }
            if slot.running == Some(Task::Rotate) {
                self.rotating -= 1;
            }
            applied.removed.push(name);
        }
        for credential in credentials {
            let Some(slot) = self.slots.get_mut(&credential.name) else {
                self.add(Arc::new(credential.clone()), now);
                applied.added.push(credential.name.clone());
                continue;
            };
            if *slot.credential == *credential {
                applied.unchanged += 1;
                continue;
            }
            let target_changed = slot.credential.target != credential.target;
            slot.credential = Arc::new(credential.clone());
            slot.failures = 0;
            applied.changed.push(credential.name.clone());
            if slot.running.is_some_and(|task| task != Task::Retire) {
                // It settles with the new definition when it finishes.
                continue;
            }
            let task = if target_changed {
                Task::Rotate
            } else {
                Task::Refresh
            };
            self.set_next(&credential.name, Due::at(now, Reason::Changed), task);
        }
        applied
    }

    /// [`Slots::take_due_why`] without the reasons (the tests').
    #[cfg(test)]
    pub fn take_due(&mut self, now: DateTime<Utc>, limit: usize) -> Vec<(Arc<Credential>, Task)> {
        (self.take_due_why(now, limit).into_iter())
            .map(|(credential, task, _)| (credential, task))
            .collect()
    }

    /// Takes up to `limit` runs due by `now` off the timeline (earliest
    /// first) and marks them running; the rest wait for a free place. With
    /// why each is due (`None`: a retirement).
    pub fn take_due_why(
        &mut self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Vec<(Arc<Credential>, Task, Option<Reason>)> {
        let mut due = Vec::new();
        while let Some((at, _)) = self.timeline.first() {
            if *at > now || due.len() >= limit {
                break;
            }
            let (at, name) = self.timeline.pop_first().expect("checked non-empty");
            let slot = self.slots.get_mut(&name).expect("timeline names a slot");
            slot.queued = None;
            // A rotation due as early settles the retirement itself.
            let (task, reason) = if slot.retire_at == Some(at)
                && slot.next.as_ref().is_none_or(|(due, _)| due.at > at)
            {
                (Task::Retire, None)
            } else {
                let (next, task) = slot.next.take().expect("a timeline entry has a next run");
                (task, Some(next.reason))
            };
            slot.running = Some(task);
            if task == Task::Rotate {
                self.rotating += 1;
            }
            due.push((Arc::clone(&slot.credential), task, reason));
        }
        due
    }

    /// Takes every read due by `now` that waits on the timeline as the
    /// credential's next run (not behind an earlier retirement, not while
    /// something runs) off it and marks it running: the caller reads these
    /// secrets in batches and settles each with [`Slots::refreshed`] or
    /// [`Slots::failed`] (a failed read is then retried on its own).
    pub fn take_reads(&mut self, now: DateTime<Utc>) -> Vec<Arc<Credential>> {
        let mut taken = Vec::new();
        for (name, slot) in &mut self.slots {
            let Some((due, Task::Refresh)) = slot.next else {
                continue;
            };
            if due.at > now || slot.running.is_some() || slot.queued != Some(due.at) {
                continue;
            }
            if slot.retire_at.is_some_and(|retire| retire < due.at) {
                // The retirement runs first, then this read, one by one.
                continue;
            }
            self.timeline.remove(&(due.at, name.clone()));
            slot.queued = None;
            slot.next = None;
            slot.running = Some(Task::Refresh);
            taken.push(Arc::clone(&slot.credential));
        }
        taken
    }

    /// The earliest due time on the timeline.
    pub fn earliest(&self) -> Option<DateTime<Utc>> {
        self.next().map(|(at, _)| at)
    }

    /// The earliest due time and whose it is.
    pub fn next(&self) -> Option<(DateTime<Utc>, &CredentialName)> {
        self.timeline.first().map(|(at, name)| (*at, name))
    }

    /// The credential called `name`, as the running policy has it.
    pub fn credential(&self, name: &CredentialName) -> Option<&Arc<Credential>> {
        self.slots.get(name).map(|s| &s.credential)
    }

    /// Every credential under the daemon's care, in no particular order.
    pub fn credentials(&self) -> impl Iterator<Item = &Arc<Credential>> {
        self.slots.values().map(|s| &s.credential)
    }

    pub fn kind(&self, name: &CredentialName) -> Option<Kind> {
        self.slots.get(name).map(|s| s.credential.kind())
    }

    /// How many credentials are under the daemon's care.
    pub fn count(&self) -> usize {
        self.slots.len()
    }

    /// How many credentials have a rotation running.
    pub fn rotating(&self) -> usize {
        self.rotating
    }

    /// Credentials with a rotation running, by name.
    pub fn in_flight(&self) -> Vec<CredentialName> {
        let mut names: Vec<CredentialName> = self
            .slots
            .iter()
            .filter(|(_, s)| s.running == Some(Task::Rotate))
            .map(|(name, _)| name.clone())
            .collect();
        names.sort_unstable();
        names
    }

    /// A refresh read `last`: schedule the rotation it calls for.
    pub fn refreshed(
        &mut self,
        name: &CredentialName,
        last: Last,
        now: DateTime<Utc>,
    ) -> Option<Due> {
        let slot = self.finish(name)?;
        slot.failures = 0;
        let credential = Arc::clone(&slot.credential);
        let due = timing::first_due_for(&credential, last, now);
        let due = if due.at > now {
            timing::jittered(due, &credential.schedule, credential.jitter, now)
        } else {
            due
        };
        self.set_next(name, due, Task::Rotate);
        Some(due)
    }

    /// A rotation succeeded: schedule the next one (and the deletion of the
    /// credential it replaced, when that waits out a grace).
    pub fn rotated(
        &mut self,
        name: &CredentialName,
        rotated: &Rotated,
        now: DateTime<Utc>,
    ) -> Option<Due> {
        let slot = self.finish(name)?;
        slot.failures = 0;
        if let Some(retiring) = &rotated.retiring {
            slot.retire_at = Some(retiring.delete_after);
            slot.retire_failures = 0;
        }
        let credential = Arc::clone(&slot.credential);
        let due = timing::regular_for(&credential, rotated.rotated_at, rotated.expires_at, now);
        let due = timing::jittered(due, &credential.schedule, credential.jitter, now);
        self.set_next(name, due, Task::Rotate);
        Some(due)
    }

    /// A rotation lost a race with another writer (see
    /// [`crate::rotation::RotationError::lost_a_race`]): rotated again at
    /// once the first time, after the usual backoff when it keeps happening.
    pub fn lost_a_race(&mut self, name: &CredentialName, now: DateTime<Utc>) -> Due {
        let first = self.slots.get(name).is_some_and(|s| s.failures == 0);
        let due = self.failed(name, Task::Rotate, now);
        if !first {
            return due;
        }
        let due = Due::at(now, Reason::InDoubt);
        if self.slots.contains_key(name) {
            self.set_next(name, due, Task::Rotate);
        }
        due
    }

    /// A task failed: try it again after a backoff.
    pub fn failed(&mut self, name: &CredentialName, task: Task, now: DateTime<Utc>) -> Due {
        let failures = match self.finish(name) {
            Some(slot) => {
                slot.failures += 1;
                slot.failures
            }
            None => 1,
        };
        let due = timing::retry_due(failures, now);
        if self.slots.contains_key(name) {
            self.set_next(name, due, task);
        }
        due
    }

    /// The credential's old one is due for deletion at `at` (`None`: no
    /// retirement is pending).
    pub fn retire_at(&mut self, name: &CredentialName, at: Option<DateTime<Utc>>) {
        if let Some(slot) = self.slots.get_mut(name) {
            slot.retire_at = at;
            self.requeue(name);
        }
    }

    /// A retirement run finished; `next`: still pending, due then.
    pub fn retired(&mut self, name: &CredentialName, next: Option<DateTime<Utc>>) {
        if let Some(slot) = self.finish(name) {
            slot.retire_failures = 0;
            slot.retire_at = next;
            self.requeue(name);
        }
    }

    /// A retirement run failed: try again after a backoff.
    pub fn retire_failed(&mut self, name: &CredentialName, now: DateTime<Utc>) -> DateTime<Utc> {
        let Some(slot) = self.finish(name) else {
            return now;
        };
        slot.retire_failures += 1;
        let at = timing::retry_due(slot.retire_failures, now).at;
        slot.retire_at = Some(at);
        self.requeue(name);
        at
    }

    /// Another replica rotated the credential meanwhile; `current` is what
    /// its secret holds (from the lease's last rotation, or read again):
    /// the next rotation is scheduled from it, as after a refresh.
    pub fn rotated_elsewhere(
        &mut self,
        name: &CredentialName,
        current: Option<&CurrentVersion>,
        now: DateTime<Utc>,
    ) -> Option<Due> {
        let credential = Arc::clone(&self.slots.get(name)?.credential);
        let last = super::startup::last_of(&credential, current);
        self.refreshed(name, last, now)
    }

    /// Another replica holds the credential's lease: look again at `at`.
    pub fn held_elsewhere(&mut self, name: &CredentialName, at: DateTime<Utc>) -> Option<Due> {
        self.finish(name)?;
        let due = Due::at(at, Reason::LeaseHeld);
        self.set_next(name, due, Task::Rotate);
        Some(due)
    }

    /// A run taken off the timeline that must not start yet: back on it,
    /// due at `due`.
    pub fn put_back(&mut self, name: &CredentialName, task: Task, due: Due) {
        if self.finish(name).is_some() {
            self.set_next(name, due, task);
        }
    }

    /// A task that never started (shutdown came first).
    pub fn not_started(&mut self, name: &CredentialName) {
        self.finish(name);
    }

    fn finish(&mut self, name: &CredentialName) -> Option<&mut Slot> {
        let slot = self.slots.get_mut(name)?;
        if slot.running.take() == Some(Task::Rotate) {
            self.rotating -= 1;
        }
        Some(slot)
    }

    fn set_next(&mut self, name: &CredentialName, due: Due, task: Task) {
        let slot = self.slots.get_mut(name).expect("set_next on a known slot");
        slot.next = Some((due, task));
        self.requeue(name);
    }

    /// Puts the credential on the timeline at the earlier of its next run and
    /// its retirement; off it while something runs.
    fn requeue(&mut self, name: &CredentialName) {
        let slot = self.slots.get_mut(name).expect("requeue on a known slot");
        if let Some(old) = slot.queued.take() {
            self.timeline.remove(&(old, name.clone()));
        }
        if slot.running.is_some() {
            return;
        }
        let next = slot.next.as_ref().map(|(due, _)| due.at);
        let at = match (next, slot.retire_at) {
            (Some(next), Some(retire)) => Some(next.min(retire)),
            (next, retire) => next.or(retire),
        };
        if let Some(at) = at {
            slot.queued = Some(at);
            self.timeline.insert((at, name.clone()));
        }
    }
}
