//! Unit tests of the slots' timeline: one entry per credential, at the
//! earlier of its next run and its pending retirement, and one run at a time.

use std::path::Path;

use chrono::{DateTime, TimeDelta, Utc};

use super::slots::{Slots, Task};
use super::timing::Last;
use crate::policy::{Credential, parse};
use crate::rotation::{Retiring, Rotated};

fn iam() -> Credential {
    let text = r#"
[[iam_service_credential]]
name = "sofia"
credential_id = "ACCAEXAMPLE123EXAMPLE"
strategy = "overlap"
retire_grace = "1h"
every = "30d"
"#;
    parse(Path::new("t.toml"), text)
        .unwrap()
        .credentials
        .remove(0)
}

fn tasks(due: &[(std::sync::Arc<Credential>, Task)]) -> Vec<Task> {
    due.iter().map(|(_, task)| *task).collect()
}

#[test]
fn a_retirement_runs_before_a_later_rotation_and_only_one_run_at_a_time() {
    let now: DateTime<Utc> = "2026-11-23T10:00:00Z".parse().unwrap();
    let credential = iam();
    let name = credential.name.clone();
    let mut slots = Slots::new(vec![credential.clone()], &[], now);
    assert_eq!(tasks(&slots.take_due(now, usize::MAX)), [Task::Refresh]);
    let last = Last::Rotated {
        at: now,
        expires_at: None,
    };
    slots.refreshed(&name, last, now);
    let retire_at = now + TimeDelta::minutes(5);
    slots.retire_at(&name, Some(retire_at));
    assert_eq!(slots.earliest(), Some(retire_at), "one entry, the earlier");

    let due = slots.take_due(retire_at, usize::MAX);
    assert_eq!(tasks(&due), [Task::Retire]);
    assert_eq!(slots.earliest(), None, "nothing else while it runs");
    slots.retired(&name, None);
    let next = slots.earliest().expect("the rotation is back");
    assert_eq!(next, now + TimeDelta::days(30));

    // A rotation that leaves a retirement pending schedules its deletion.
    assert_eq!(tasks(&slots.take_due(next, usize::MAX)), [Task::Rotate]);
    let rotated = Rotated {
        secret: "rekeyd/sofia".into(),
        version_id: "v".into(),
        created: false,
        rotated_at: next,
        expires_at: None,
        warning: None,
        retiring: Some(Retiring {
            credential_id: "ACCAOLD".into(),
            delete_after: next + TimeDelta::hours(1),
        }),
        secret_arn: None,
        hook: None,
    };
    slots.rotated(&name, &rotated, next);
    assert_eq!(slots.earliest(), Some(next + TimeDelta::hours(1)));

    // A failed retirement backs off, never a tight loop.
    assert_eq!(
        tasks(&slots.take_due(next + TimeDelta::hours(1), usize::MAX)),
        [Task::Retire]
    );
    let retry = slots.retire_failed(&name, next + TimeDelta::hours(1));
    assert!(
        retry >= next + TimeDelta::hours(1) + TimeDelta::seconds(10),
        "{retry}"
    );
    assert_eq!(slots.earliest(), Some(retry));
}

#[test]
fn take_due_starts_at_most_the_free_places_and_keeps_the_rest_due() {
    let now: DateTime<Utc> = "2026-11-23T10:00:00Z".parse().unwrap();
    let mut text = String::from("[defaults]\nevery = \"1d\"\n");
    for i in 0..5 {
        text.push_str(&format!(
            "[[chime_bot]]\nname = \"bot-{i}\"\naccount_id = \"a0000000-0000-4000-8000-000000000000\"\nbot_id = \"b0000000-0000-4000-8000-00000000000{i}\"\n"
        ));
    }
    let credentials = parse(Path::new("t.toml"), &text).unwrap().credentials;
    let mut slots = Slots::new(credentials.clone(), &[], now);
    assert_eq!(slots.take_due(now, 2).len(), 2);
    assert_eq!(slots.earliest(), Some(now), "three still due");
    assert_eq!(slots.take_due(now, 0).len(), 0);
    assert_eq!(slots.take_due(now, 10).len(), 3);
    assert_eq!(slots.earliest(), None, "all five running");
}

#[test]
fn a_lost_race_is_rotated_again_at_once_then_backs_off() {
    let now: DateTime<Utc> = "2026-11-23T10:00:00Z".parse().unwrap();
    let credential = iam();
    let name = credential.name.clone();
    let mut slots = Slots::new(vec![credential.clone()], &[], now);
    slots.take_due(now, usize::MAX);
    slots.refreshed(&name, Last::Missing, now);
    assert_eq!(tasks(&slots.take_due(now, usize::MAX)), [Task::Rotate]);
    assert_eq!(slots.lost_a_race(&name, now).at, now, "at once");
    assert_eq!(tasks(&slots.take_due(now, usize::MAX)), [Task::Rotate]);
    let again = slots.lost_a_race(&name, now).at;
    assert!(again >= now + TimeDelta::seconds(20), "backs off: {again}");
}

#[test]
fn a_lease_held_elsewhere_is_looked_at_again() {
    let now: DateTime<Utc> = "2026-11-23T10:00:00Z".parse().unwrap();
    let credential = iam();
    let name = credential.name.clone();
    let mut slots = Slots::new(vec![credential.clone()], &[], now);
    slots.take_due(now, usize::MAX);
    slots.refreshed(&name, Last::Missing, now);
    assert_eq!(tasks(&slots.take_due(now, usize::MAX)), [Task::Rotate]);

    let later = now + TimeDelta::seconds(1);
    slots.held_elsewhere(&name, later).unwrap();
    assert!(slots.take_due(now, usize::MAX).is_empty());
    assert_eq!(slots.earliest(), Some(later));
    assert_eq!(tasks(&slots.take_due(later, usize::MAX)), [Task::Rotate]);
}

/// Five Chime bots every day, for timeline tests that need several slots.
fn five_bots() -> Vec<Credential> {
    let mut text = String::from("[defaults]\nevery = \"1d\"\n");
    for i in 0..5 {
        text.push_str(&format!(
            "[[chime_bot]]\nname = \"bot-{i}\"\naccount_id = \"a0000000-0000-4000-8000-000000000000\"\nbot_id = \"b0000000-0000-4000-8000-00000000000{i}\"\n"
        ));
    }
    parse(Path::new("t.toml"), &text).unwrap().credentials
}

#[test]
fn start_up_reads_leave_in_doubt_rotations_and_due_retirements_on_the_timeline() {
    let now: DateTime<Utc> = "2026-11-23T10:00:00Z".parse().unwrap();
    let credentials = five_bots();
    let name = |i: usize| credentials[i].name.clone();
    let mut slots = Slots::new(credentials.clone(), &[name(0)], now);
    slots.retire_at(&name(1), Some(now - TimeDelta::minutes(1)));

    let mut reads: Vec<String> = slots
        .take_reads(now)
        .iter()
        .map(|c| c.name.to_string())
        .collect();
    reads.sort();
    assert_eq!(reads, ["bot-2", "bot-3", "bot-4"]);
    // The in-doubt rotation and the retirement run first, as before.
    let due = slots.take_due(now, usize::MAX);
    let mut first: Vec<(String, Task)> = due
        .iter()
        .map(|(c, task)| (c.name.to_string(), *task))
        .collect();
    first.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        first,
        [
            ("bot-0".to_owned(), Task::Rotate),
            ("bot-1".to_owned(), Task::Retire)
        ]
    );
    assert!(slots.take_reads(now).is_empty(), "taken once");

    // A read that arrives schedules its credential; one that failed waits
    // out its backoff on the timeline, and is not taken again before that.
    let last = Last::Rotated {
        at: now,
        expires_at: None,
    };
    let due = slots.refreshed(&name(2), last, now).unwrap();
    assert_eq!(due.at, now + TimeDelta::days(1));
    let retry = slots.failed(&name(3), Task::Refresh, now);
    assert!(retry.at > now);
    assert!(slots.take_reads(now).is_empty());
    assert_eq!(slots.take_reads(retry.at).len(), 1, "due again");
    // The retirement done, its credential's read comes next.
    slots.retired(&name(1), None);
    assert_eq!(tasks(&slots.take_due(now, usize::MAX)), [Task::Refresh]);
}

#[test]
fn the_rotations_running_are_counted_as_they_start_and_settle() {
    let now: DateTime<Utc> = "2026-11-23T10:00:00Z".parse().unwrap();
    let credentials = five_bots();
    let mut slots = Slots::new(credentials.clone(), &[], now);
    for credential in slots.take_reads(now) {
        slots.refreshed(&credential.name, Last::Missing, now);
    }
    assert_eq!(slots.rotating(), 0);
    let due = slots.take_due(now, 3);
    assert_eq!(slots.rotating(), 3);
    assert_eq!(slots.in_flight().len(), 3);
    slots.failed(&due[0].0.name, Task::Rotate, now);
    assert_eq!(slots.rotating(), 2);
    // A credential removed from the policy while rotating (bot-1) is no
    // longer counted; one removed while waiting (bot-0) never was.
    assert_eq!(due[1].0.name.as_str(), "bot-1");
    slots.apply(&credentials[2..], now);
    assert_eq!(slots.rotating(), 1);
    assert_eq!(slots.in_flight().len(), 1);
    assert_eq!(slots.count(), 3);
}
