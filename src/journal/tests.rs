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

/// Rotations a killed process never finished: no code runs for them (their
/// guards are not dropped), and its log keeps their intents.
fn killed(recorded: Vec<Recorded<'_>>) {
    for recorded in recorded {
        std::mem::forget(recorded);
    }
}

/// The files of `dir`/in-flight, sorted.
fn in_flight(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir.join("in-flight"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| !name.starts_with('.'))
        .collect();
    names.sort();
    names
}

#[test]
fn records_survive_and_clear() {
    let dir = tempfile::tempdir().unwrap();
    let policy = policy();
    let (a, b) = (&policy.credentials[0], &policy.credentials[1]);
    let journal = Journal::open_at(dir.path(), "scope").unwrap();
    let recorded_a = journal.record(a, &intent("a")).unwrap();
    let recorded_b = journal.record(b, &intent("b")).unwrap();
    recorded_a.clear().unwrap();
    journal.clear(a).unwrap();
    let log = journal.live.path().expect("one log");
    killed(vec![recorded_b]);
    drop(journal);
    assert!(
        log.exists(),
        "a log holding a live intent outlives its process"
    );

    let reopened = Journal::open_at(dir.path(), "scope").unwrap();
    let recovered = reopened.recover();
    assert_eq!(recovered.in_doubt, vec![(reopened.key(b), intent("b"))]);
    assert_eq!(reopened.pending(b), Some(intent("b")));
    assert!(recovered.corrupt.is_empty());
    assert!(!log.exists(), "absorbed into entry files");
    let entry = dir
        .path()
        .join(format!("in-flight/{}.json", reopened.key(b)));
    let mode = fs::metadata(entry).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let mode = fs::metadata(dir.path().join("in-flight"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700);
}

#[test]
fn the_same_credential_in_another_account_has_its_own_entries() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open_at(dir.path(), "scope").unwrap();
    let plain = policy().credentials[0].clone();
    let in_account = |role: &str| {
        let mut credential = plain.clone();
        credential.account = Some(std::sync::Arc::new(crate::policy::Account {
            name: "media".into(),
            role_arn: role.into(),
            external_id: None,
            session_name: "rekeyd-media".into(),
            region: None,
        }));
        credential.secret_account = credential.account.clone();
        credential
    };
    let media = in_account("arn:aws:iam::111111111111:role/r");
    let other = in_account("arn:aws:iam::222222222222:role/r");
    let keys = [
        journal.key(&plain),
        journal.key(&media),
        journal.key(&other),
    ];
    assert!(keys.iter().all(|k| k.starts_with("a.")), "{keys:?}");
    assert_ne!(keys[0], keys[1]);
    assert_ne!(keys[1], keys[2]);
    let _recorded = journal.record(&media, &intent("a")).unwrap();
    assert!(journal.pending(&other).is_none());
    assert!(journal.pending(&plain).is_none());
    assert!(journal.pending(&media).is_some());
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
    let _recorded = here.record(a, &intent("a")).unwrap();
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
    drop(journal.record(good, &intent("a")).unwrap());
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

#[tokio::test]
async fn an_async_record_matches_the_blocking_one() {
    let dir = tempfile::tempdir().unwrap();
    let policy = policy();
    let a = &policy.credentials[0];
    let journal = Journal::open_at(dir.path(), "scope").unwrap();
    let recorded = journal.record_async(a, &intent("a")).await.unwrap();
    assert_eq!(journal.pending(a), Some(intent("a")));
    recorded.clear().unwrap();
    assert_eq!(journal.pending(a), None);
    assert!(journal.recover().in_doubt.is_empty());
    drop(journal);
    assert!(in_flight(dir.path()).is_empty(), "a settled log is removed");
}

#[tokio::test]
async fn concurrent_records_share_fdatasyncs() {
    let dir = tempfile::tempdir().unwrap();
    let policy = policy();
    let journal = Journal::open_at(dir.path(), "scope").unwrap();
    let mut records = tokio::task::JoinSet::new();
    for i in 0..16 {
        let (journal, credential) = (journal.clone(), policy.credentials[i % 2].clone());
        let mut intent = intent(credential.name.as_str());
        intent.rotation = format!("rotation-{i}");
        records.spawn(async move {
            // Each its own key, as the credential lock guarantees.
            let key = format!("{}-{i}", journal.key(&credential));
            journal.live.record(&key, &intent).await.map(|()| key)
        });
    }
    let mut keys = Vec::new();
    while let Some(key) = records.join_next().await {
        keys.push(key.unwrap().unwrap());
    }
    let syncs = journal.live.syncs();
    assert!(syncs < 16, "16 records took {syncs} fdatasyncs");
    for key in &keys {
        assert!(journal.live.live(key).is_some());
    }
}

#[test]
fn a_failed_rotation_moves_its_intent_where_every_process_sees_it() {
    let dir = tempfile::tempdir().unwrap();
    let policy = policy();
    let a = &policy.credentials[0];
    let daemon = Journal::open_at(dir.path(), "scope").unwrap();
    let other = Journal::open_at(dir.path(), "scope").unwrap();
    let recorded = daemon.record(a, &intent("a")).unwrap();
    // In flight: another process sees nothing (it cannot take the lock).
    assert_eq!(other.pending(a), None);
    drop(recorded);
    assert_eq!(other.pending(a), Some(intent("a")));
    assert_eq!(daemon.pending(a), Some(intent("a")));
    // Redone and stored: the entry goes.
    let redone = daemon.record(a, &intent("a")).unwrap();
    redone.clear().unwrap();
    assert_eq!(other.pending(a), None);
    drop(recorded_again(&daemon, a));
    drop(daemon);
    assert_eq!(
        in_flight(dir.path()),
        vec![format!("{}.json", other.key(a))],
        "only the entry stays: the daemon's log, settled, was removed"
    );
}

/// A second failed rotation of `credential`.
fn recorded_again<'j>(journal: &'j Journal, credential: &Credential) -> Recorded<'j> {
    journal.record(credential, &intent("a")).unwrap()
}

#[test]
fn a_live_process_log_is_left_alone_until_it_dies() {
    let dir = tempfile::tempdir().unwrap();
    let policy = policy();
    let a = &policy.credentials[0];
    let first = Journal::open_at(dir.path(), "scope").unwrap();
    let second = Journal::open_at(dir.path(), "scope").unwrap();
    let recorded = first.record(a, &intent("a")).unwrap();
    assert!(second.recover().in_doubt.is_empty());
    killed(vec![recorded]);
    drop(first);
    let recovered = second.recover();
    assert_eq!(recovered.in_doubt, vec![(second.key(a), intent("a"))]);
}

#[test]
fn a_dead_log_with_unreadable_lines_is_absorbed_reported_and_set_aside() {
    let dir = tempfile::tempdir().unwrap();
    let policy = policy();
    let (a, b) = (&policy.credentials[0], &policy.credentials[1]);
    let journal = Journal::open_at(dir.path(), "scope").unwrap();
    let (key_a, key_b) = (journal.key(a), journal.key(b));
    let line = |key: &str, name: &str| {
        format!(
            "{{\"intent\":{{\"key\":\"{key}\",\"intent\":{}}}}}\n",
            serde_json::to_string(&intent(name)).unwrap()
        )
    };
    let text = format!("{}\0\0garbage\n{}", line(&key_a, "a"), line(&key_b, "b"));
    fs::write(dir.path().join("in-flight/12345-dead.log"), text).unwrap();
    let recovered = journal.recover();
    let mut in_doubt = recovered.in_doubt;
    in_doubt.sort_by(|x, y| x.0.cmp(&y.0));
    assert_eq!(in_doubt, vec![(key_a, intent("a")), (key_b, intent("b"))]);
    assert_eq!(recovered.corrupt.len(), 1, "{:?}", recovered.corrupt);
    assert!(
        recovered.corrupt[0].contains("line 2"),
        "{:?}",
        recovered.corrupt
    );
    assert!(dir.path().join("in-flight/12345-dead.corrupt").exists());
}
