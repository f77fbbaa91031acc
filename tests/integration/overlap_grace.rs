//! IAM `overlap` with `retire_grace`: the old credential is set Inactive
//! right after the new secret is stored, and deleted once the grace has
//! passed (by the daemon, across restarts, or by the next rotation, which
//! needs the slot), unless an operator re-activated it meanwhile.

use std::path::PathBuf;
use std::time::Duration;

use rekeyd_emulator::FaultRule;

use crate::audit::iam_client;
use crate::util::{CREDENTIAL_ID, TestEnv, finish, signal, wait_until};

/// A policy with only the IAM credential, `overlap` with `grace`.
fn grace_policy(env: &TestEnv, grace: &str) -> PathBuf {
    env.write_policy(&format!(
        r#"{aws}
[defaults]
every = "30d"

[[iam_service_credential]]
name = "codecommit-sofia"
user_name = "sofia"
credential_id = "{CREDENTIAL_ID}"
strategy = "overlap"
retire_grace = "{grace}"
"#,
        aws = env.aws_table()
    ))
}

/// Sofia's credentials as `(id, status)`, per the emulator.
fn held(env: &TestEnv) -> Vec<(String, String)> {
    env.truth()
        .iam_credentials
        .iter()
        .filter(|c| c.user_name == "sofia")
        .map(|c| (c.credential_id.clone(), c.status.clone()))
        .collect()
}

fn status_of(env: &TestEnv, id: &str) -> Option<String> {
    held(env).into_iter().find(|(i, _)| i == id).map(|(_, s)| s)
}

fn stored_id(env: &TestEnv) -> String {
    env.current("rekeyd/codecommit-sofia")["credential_id"]
        .as_str()
        .expect("a stored credential id")
        .to_owned()
}

/// The pending retirement records in the state directory.
fn records(env: &TestEnv) -> Vec<PathBuf> {
    let Ok(dir) = std::fs::read_dir(env.dir.path().join("state/retiring")) else {
        return Vec::new();
    };
    dir.flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_old_credential_is_inactive_during_the_grace_then_deleted_by_the_daemon() {
    let env = TestEnv::new().await;
    let policy = grace_policy(&env, "3s");

    let out = env.rekeyd(&policy, &["rotate", "codecommit-sofia"]).await;
    assert_eq!(out.code(), 0, "{}\n{}", out.stdout, out.stderr);
    let line = out.line_for("codecommit-sofia");
    assert!(
        line.contains(&format!("retiring={CREDENTIAL_ID}")),
        "{line}"
    );
    let new = stored_id(&env);
    assert_ne!(new, CREDENTIAL_ID);
    assert_eq!(status_of(&env, CREDENTIAL_ID).as_deref(), Some("Inactive"));
    assert_eq!(status_of(&env, &new).as_deref(), Some("Active"));
    let truth = env.truth();
    let issued = truth
        .iam_credentials
        .iter()
        .find(|c| c.credential_id == new)
        .expect("the new credential");
    assert_eq!(
        env.current("rekeyd/codecommit-sofia")["service_password"],
        issued.service_password.as_str(),
        "the new password is stored"
    );

    // The pending retirement is recorded: ids and times, never a secret.
    let [record] = records(&env).try_into().expect("one retirement record");
    let text = std::fs::read_to_string(&record).unwrap();
    assert!(text.contains(CREDENTIAL_ID), "{text}");
    for secret in env.issued_secrets() {
        assert!(!text.contains(&secret), "a secret in the record");
    }
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&record).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);

    let plan = env.rekeyd(&policy, &["plan", "--format", "json"]).await;
    assert_eq!(plan.code(), 0, "{}", plan.stderr);
    let plan: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    assert_eq!(
        plan["credentials"][0]["retiring"]["credential_id"], CREDENTIAL_ID,
        "{plan:#}"
    );

    let daemon = env.spawn(&policy, &["daemon"]);
    let deleted = wait_until(Duration::from_secs(20), || held(&env).len() == 1).await;
    assert!(deleted, "deleted once the grace passed: {:?}", held(&env));
    assert_eq!(held(&env), [(new.clone(), "Active".to_owned())]);
    assert!(
        wait_until(Duration::from_secs(5), || records(&env).is_empty()).await,
        "the record is dropped"
    );
    assert_eq!(stored_id(&env), new, "the daemon did not rotate again");
    signal(&daemon, "TERM");
    let out = finish(daemon, Duration::from_secs(15)).await;
    assert_eq!(out.code(), 0, "stderr:\n{}", out.stderr);
    assert!(out.stderr.contains("grace has passed"), "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pending_retirement_survives_a_kill_and_is_deleted_after_the_restart() {
    let env = TestEnv::new().await;
    let policy = grace_policy(&env, "3s");

    // The daemon rotates at start (no secret yet), then is killed mid-grace.
    let mut daemon = env.spawn(&policy, &["daemon"]);
    let rotated = wait_until(Duration::from_secs(20), || {
        status_of(&env, CREDENTIAL_ID).as_deref() == Some("Inactive") && !records(&env).is_empty()
    })
    .await;
    assert!(rotated, "rotated and the old credential deactivated");
    daemon.kill().await.unwrap();
    let _ = daemon.wait().await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(held(&env).len(), 2, "nobody deleted it while down");

    let daemon = env.spawn(&policy, &["daemon"]);
    let deleted = wait_until(Duration::from_secs(20), || held(&env).len() == 1).await;
    assert!(deleted, "the restarted daemon deletes it: {:?}", held(&env));
    assert_eq!(held(&env)[0].0, stored_id(&env));
    assert!(wait_until(Duration::from_secs(5), || records(&env).is_empty()).await);
    signal(&daemon, "TERM");
    let out = finish(daemon, Duration::from_secs(15)).await;
    assert_eq!(out.code(), 0, "stderr:\n{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_old_credential_reactivated_during_the_grace_is_not_deleted() {
    let env = TestEnv::new().await;
    let policy = grace_policy(&env, "2s");
    let out = env.rekeyd(&policy, &["rotate", "codecommit-sofia"]).await;
    assert_eq!(out.code(), 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(status_of(&env, CREDENTIAL_ID).as_deref(), Some("Inactive"));

    // An operator puts it back into service.
    iam_client(&env)
        .update_service_specific_credential()
        .user_name("sofia")
        .service_specific_credential_id(CREDENTIAL_ID)
        .status(aws_sdk_iam::types::StatusType::Active)
        .send()
        .await
        .expect("re-activate");

    let daemon = env.spawn(&policy, &["daemon"]);
    let dropped = wait_until(Duration::from_secs(20), || records(&env).is_empty()).await;
    assert!(dropped, "the retirement is given up");
    signal(&daemon, "TERM");
    let out = finish(daemon, Duration::from_secs(15)).await;
    assert_eq!(out.code(), 0, "stderr:\n{}", out.stderr);
    assert_eq!(
        status_of(&env, CREDENTIAL_ID).as_deref(),
        Some("Active"),
        "kept"
    );
    assert_eq!(held(&env).len(), 2);
    assert!(out.stderr.contains("re-activated"), "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_rotation_during_the_grace_deletes_the_pending_one_first() {
    let env = TestEnv::new().await;
    let policy = grace_policy(&env, "1h");
    let first = env.rekeyd(&policy, &["rotate", "codecommit-sofia"]).await;
    assert_eq!(first.code(), 0, "{}\n{}", first.stdout, first.stderr);
    let first_id = stored_id(&env);

    let second = env.rekeyd(&policy, &["rotate", "codecommit-sofia"]).await;
    assert_eq!(second.code(), 0, "{}\n{}", second.stdout, second.stderr);
    assert!(
        second.stderr.contains("needs its slot"),
        "{}",
        second.stderr
    );
    let second_id = stored_id(&env);
    assert_ne!(second_id, first_id);
    let mut held = held(&env);
    held.sort();
    let mut expected = vec![
        (first_id.clone(), "Inactive".to_owned()),
        (second_id.clone(), "Active".to_owned()),
    ];
    expected.sort();
    assert_eq!(
        held, expected,
        "the seeded one deleted, the first one retiring"
    );
    let [record] = records(&env).try_into().expect("one retirement record");
    let text = std::fs::read_to_string(record).unwrap();
    // An inactive credential awaiting deletion is no problem for the audit.
    let audit = env.rekeyd(&policy, &["audit", "--format", "json"]).await;
    assert_eq!(audit.code(), 0, "{}\n{}", audit.stdout, audit.stderr);
    assert!(
        text.contains(&first_id) && !text.contains(CREDENTIAL_ID),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_kill_between_the_store_and_the_retirement_still_retires_the_old_credential() {
    let env = TestEnv::new().await;
    let policy = grace_policy(&env, "0s");
    // The store is done; the deletion of the old credential hangs.
    env.emulator
        .inject(FaultRule::delay("DeleteServiceSpecificCredential", 10_000).times(1))
        .unwrap();
    let mut rotate = env.spawn(&policy, &["rotate", "codecommit-sofia"]);
    let stored = wait_until(Duration::from_secs(15), || {
        env.version_count("rekeyd/codecommit-sofia") == 1
    })
    .await;
    assert!(stored);
    tokio::time::sleep(Duration::from_millis(300)).await;
    rotate.kill().await.unwrap();
    let _ = rotate.wait().await;
    env.emulator.clear_faults();
    assert_eq!(held(&env).len(), 2, "stored, but the old one not retired");
    let out = env.rekeyd(&policy, &["rotate", "codecommit-sofia"]).await;
    assert_eq!(out.code(), 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .contains("never retired the credential it replaced"),
        "{}",
        out.stderr
    );
    let held = held(&env);
    assert_eq!(held.len(), 1, "{held:?}\n{}", out.stderr);
    assert_eq!(held[0].0, stored_id(&env));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retirement_no_credential_claims_is_reported_not_forgotten() {
    let env = TestEnv::new().await;
    let policy = grace_policy(&env, "1h");
    let out = env.rekeyd(&policy, &["rotate", "--all"]).await;
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert_eq!(records(&env).len(), 1);

    // The credential leaves the policy while its old secret awaits deletion.
    let without = env.write_policy(&format!(
        "{}\n[defaults]\nevery = \"30d\"\n\n[[chime_bot]]\nname = \"support-bot\"\naccount_id = \"{}\"\nbot_id = \"{}\"\n",
        env.aws_table(),
        crate::util::ACCOUNT_ID,
        crate::util::BOT_ID
    ));
    let daemon = env.spawn(&without, &["daemon"]);
    let started = wait_until(Duration::from_secs(20), || {
        env.version_count("rekeyd/support-bot") >= 1
    })
    .await;
    signal(&daemon, "TERM");
    let out = finish(daemon, Duration::from_secs(15)).await;
    assert!(started, "stderr:\n{}", out.stderr);
    assert_eq!(out.code(), 0, "stderr:\n{}", out.stderr);
    let warning = out
        .stderr
        .lines()
        .find(|line| line.contains("no credential of this policy"))
        .unwrap_or_else(|| panic!("no warning about the unclaimed retirement:\n{}", out.stderr));
    assert!(
        warning.contains(CREDENTIAL_ID) && warning.contains("sofia"),
        "the warning names the old credential and its user: {warning}"
    );
    assert_eq!(
        status_of(&env, CREDENTIAL_ID).as_deref(),
        Some("Inactive"),
        "an unclaimed old credential is left for the operator, not deleted"
    );
    assert_eq!(records(&env).len(), 1, "the record stays");
}
