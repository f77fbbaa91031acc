//! The journal's entries, scopes, corruption handling and locks.
use std::os::unix::fs::PermissionsExt;

use super::*;
use crate::policy::{Policy, parse};

fn policy() -> Policy {
    let text = r#"
[defaults]
every = "1d"
[[chime_bot]]
name = "a"
account_id = "a0000000-0000-4000-8000-000000000000"
bot_id = "b0000000-0000-4000-8000-000000000001"
[[chime_bot]]
name = "b"
account_id = "a0000000-0000-4000-8000-000000000000"
bot_id = "b0000000-0000-4000-8000-000000000002"
"#;
    parse(Path::new("test.toml"), text).unwrap()
}

fn intent(name: &str) -> Intent {
    Intent {
        credential: name.into(),
        kind: "chime_bot".into(),
        rotation: "3f2a5f9e-0000-4000-8000-000000000000".into(),
        started_at: "2026-11-23T10:00:00Z".parse().unwrap(),
        pid: 42,
        issued_credential_id: None,
        replaces: None,
    }
}

#[test]
fn records_survive_and_clear() {
    let dir = tempfile::tempdir().unwrap();
    let policy = policy();
    let (a, b) = (&policy.credentials[0], &policy.credentials[1]);
    let journal = Journal::open_at(dir.path(), "scope").unwrap();
    journal.record(a, &intent("a")).unwrap();
    journal.record(b, &intent("b")).unwrap();
    journal.clear(a).unwrap();
    journal.clear(a).unwrap();
    let reopened = Journal::open_at(dir.path(), "scope").unwrap();
    let recovered = reopened.recover();
    assert_eq!(recovered.in_doubt, vec![(reopened.key(b), intent("b"))]);
    assert_eq!(reopened.pending(b), Some(intent("b")));
    assert!(recovered.corrupt.is_empty());
    let entry = dir
        .path()
        .join(format!("in-flight/{}.json", journal.key(b)));
    let mode = fs::metadata(entry).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let mode = fs::metadata(dir.path().join("in-flight"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700);
}

#[test]
fn another_scope_sees_its_own_entries_only() {
    let dir = tempfile::tempdir().unwrap();
    let policy = policy();
    let a = &policy.credentials[0];
    let here = Journal::open_at(dir.path(), "http://127.0.0.1:1").unwrap();
    let there = Journal::open_at(dir.path(), "http://127.0.0.1:2").unwrap();
    assert_ne!(here.key(a), there.key(a));
    assert!(here.key(a).starts_with("a."), "{}", here.key(a));
    here.record(a, &intent("a")).unwrap();
    assert!(there.pending(a).is_none());
    let _held = here.lock(a).unwrap();
    assert!(
        there.lock(a).is_ok(),
        "different credentials, different locks"
    );
}

#[test]
fn a_torn_or_corrupt_entry_is_reported_and_set_aside() {
    let dir = tempfile::tempdir().unwrap();
    let policy = policy();
    let good = &policy.credentials[0];
    let journal = Journal::open_at(dir.path(), "scope").unwrap();
    journal.record(good, &intent("a")).unwrap();
    fs::write(
        dir.path().join("in-flight/torn.json"),
        b"{\"credential\": \"torn\", \"ki",
    )
    .unwrap();
    // A crash before the rename leaves only a temporary file: ignored.
    fs::write(dir.path().join("in-flight/x.tmp.7"), b"{").unwrap();
    let recovered = journal.recover();
    assert_eq!(recovered.in_doubt, vec![(journal.key(good), intent("a"))]);
    assert_eq!(recovered.corrupt.len(), 1, "{:?}", recovered.corrupt);
    assert!(dir.path().join("in-flight/torn.corrupt").exists());
    assert!(journal.recover().corrupt.is_empty(), "reported once");
}

#[test]
fn a_held_lock_makes_others_busy_until_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let policy = policy();
    let (a, b) = (&policy.credentials[0], &policy.credentials[1]);
    let journal = Journal::open_at(dir.path(), "scope").unwrap();
    let held = journal.lock(a).unwrap();
    assert!(matches!(journal.lock(a), Err(JournalError::Busy { .. })));
    assert!(journal.lock(b).is_ok());
    drop(held);
    assert!(journal.lock(a).is_ok());
}

#[test]
fn concurrent_directory_syncs_all_return_once_durable() {
    let dir = tempfile::tempdir().unwrap();
    let sync = Arc::new(DirSync::default());
    let threads: Vec<_> = (0..16)
        .map(|i| {
            let (sync, path) = (Arc::clone(&sync), dir.path().to_owned());
            std::thread::spawn(move || {
                write_synced(&path.join(format!("{i}.json")), b"{}").unwrap();
                sync.sync(&path).unwrap();
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let state = sync.state.lock().unwrap();
    assert_eq!((state.announced, state.durable), (16, 16));
    assert!(!state.running);
}

#[tokio::test]
async fn an_async_record_matches_the_blocking_one() {
    let dir = tempfile::tempdir().unwrap();
    let policy = policy();
    let a = &policy.credentials[0];
    let journal = Journal::open_at(dir.path(), "scope").unwrap();
    journal.record_async(a, &intent("a")).await.unwrap();
    assert_eq!(journal.pending(a), Some(intent("a")));
    journal.clear(a).unwrap();
    assert_eq!(journal.pending(a), None);
    assert!(journal.recover().in_doubt.is_empty());
}
