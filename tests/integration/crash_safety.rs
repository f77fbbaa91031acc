//! Nothing lost: the intent journal across a kill -9, the per-credential
//! lock between processes, and IAM's zero-downtime `overlap` strategy.

use std::time::Duration;

use rekeyd_emulator::{FaultKind, FaultRule};

use crate::util::{CREDENTIAL_ID, TestEnv, finish, signal, wait_until};

#[tokio::test(flavor = "multi_thread")]
async fn a_rotation_killed_before_storing_is_redone_at_the_next_start() {
    let env = TestEnv::new().await;
    let full = env.standard_policy("30d");
    let policy = env.write_policy(full.split("[[iam_service_credential]]").next().unwrap());
    let token_killed = kill_bot_rotation_before_the_store(&env, &policy).await;

    // The journal (the killed process's log) holds the rotation, never the
    // secret.
    let journaled = journal_files_naming(&env, "support-bot");
    assert_eq!(journaled.len(), 1, "an in-doubt intent: {journaled:?}");
    let text = std::fs::read_to_string(&journaled[0]).unwrap();
    assert!(
        !text.contains(&token_killed),
        "the journal must not hold the secret"
    );
    assert_eq!(
        env.version_count("rekeyd/support-bot"),
        0,
        "the lost secret was never stored"
    );

    let daemon = env.spawn(&policy, &["daemon"]);
    let redone = wait_until(Duration::from_secs(30), || {
        env.version_count("rekeyd/support-bot") == 1
    })
    .await;
    assert!(redone, "the in-doubt rotation is redone at start");
    env.assert_bot_stored();
    assert_ne!(env.bot_token(), token_killed);
    signal(&daemon, "TERM");
    let out = finish(daemon, Duration::from_secs(15)).await;
    assert_eq!(out.code(), 0, "stderr:\n{}", out.stderr);
    assert!(out.stderr.contains("in doubt"), "{}", out.stderr);
    let left = journal_files_naming(&env, "support-bot");
    assert!(left.is_empty(), "cleared once stored: {left:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn rotating_one_credential_names_the_others_left_in_doubt() {
    let env = TestEnv::new().await;
    let policy = env.write_policy(&env.standard_policy("30d"));
    kill_bot_rotation_before_the_store(&env, &policy).await;

    let other = env.rekeyd(&policy, &["rotate", "stage-host-bob"]).await;
    assert_eq!(other.code(), 0, "stderr:\n{}", other.stderr);
    let warning = other
        .stderr
        .lines()
        .find(|l| l.contains("in doubt"))
        .unwrap_or_else(|| panic!("no in-doubt warning:\n{}", other.stderr));
    assert!(warning.contains("support-bot"), "{warning}");
    assert!(!warning.contains("stage-host-bob"), "{warning}");
    // Reported, not redone: only the named credential was rotated.
    assert_eq!(env.version_count("rekeyd/support-bot"), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rotation_killed_between_the_pending_write_and_the_swap_is_redone() {
    let env = TestEnv::new().await;
    let full = env.standard_policy("30d");
    let policy = env.write_policy(full.split("[[iam_service_credential]]").next().unwrap());
    env.rekeyd(&policy, &["rotate", "support-bot"])
        .await
        .assert_exit(0);
    let first_version = env.current("rekeyd/support-bot");

    // The new version is written under AWSPENDING; the swap hangs, and the
    // process dies there.
    env.emulator
        .inject(FaultRule::delay("UpdateSecretVersionStage", 10_000).times(1))
        .unwrap();
    let mut rotate = env.spawn(&policy, &["rotate", "support-bot"]);
    let pending = wait_until(Duration::from_secs(15), || {
        env.secret_stages("rekeyd/support-bot")
            .contains_key("AWSPENDING")
    })
    .await;
    assert!(pending, "the new version was written under AWSPENDING");
    rotate.kill().await.unwrap();
    let _ = rotate.wait().await;
    assert_eq!(
        env.current("rekeyd/support-bot"),
        first_version,
        "AWSCURRENT not moved yet"
    );
    assert_eq!(
        journal_files_naming(&env, "support-bot").len(),
        1,
        "in doubt"
    );

    // The next start rotates again, fenced against what is current then, and
    // AWSCURRENT ends on the bot's live token.
    let daemon = env.spawn(&policy, &["daemon"]);
    let redone = wait_until(Duration::from_secs(30), || {
        env.current("rekeyd/support-bot")["security_token"] == env.bot_token().as_str()
    })
    .await;
    signal(&daemon, "TERM");
    let out = finish(daemon, Duration::from_secs(15)).await;
    assert!(redone, "not redone:\n{}", out.stderr);
    assert_eq!(out.code(), 0, "stderr:\n{}", out.stderr);
    assert!(journal_files_naming(&env, "support-bot").is_empty());
}

/// Runs `rotate support-bot` and kills it once the provider issued the new
/// token, while the store hangs; returns that token (held only by the killed
/// process).
async fn kill_bot_rotation_before_the_store(env: &TestEnv, policy: &std::path::Path) -> String {
    // The provider answers at once; the store hangs long enough to kill us.
    env.emulator
        .inject(FaultRule::delay("CreateSecret", 10_000).times(1))
        .unwrap();
    env.emulator
        .inject(FaultRule::delay("PutSecretValue", 10_000).times(1))
        .unwrap();
    let seeded_token = env.bot_token();
    let mut rotate = env.spawn(policy, &["rotate", "support-bot"]);
    // The bot's token changes when the provider acts; the store then hangs.
    let issued = wait_until(Duration::from_secs(15), || env.bot_token() != seeded_token).await;
    assert!(issued, "the provider issued a new token");
    let token_killed = env.bot_token();
    rotate.kill().await.unwrap();
    let _ = rotate.wait().await;
    token_killed
}

/// The files of the journal (`STATE_DIR/in-flight`) naming credential `name`:
/// a process's log, or an entry.
fn journal_files_naming(env: &TestEnv, name: &str) -> Vec<std::path::PathBuf> {
    let Ok(dir) = std::fs::read_dir(env.dir.path().join("state/in-flight")) else {
        return Vec::new();
    };
    dir.flatten()
        .map(|e| e.path())
        .filter(|p| {
            std::fs::read_to_string(p)
                .is_ok_and(|text| text.contains(&format!("\"credential\":\"{name}\"")))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn two_processes_never_rotate_one_credential_at_once() {
    let env = TestEnv::new().await;
    let policy = env.write_policy(&env.standard_policy("30d"));
    env.emulator
        .inject(FaultRule::delay("CreateSecret", 3000).times(1))
        .unwrap();
    let seeded_token = env.bot_token();
    let first = env.spawn(&policy, &["rotate", "support-bot"]);
    // Once the provider acted, the first process is storing, holding the lock.
    let started = wait_until(Duration::from_secs(15), || env.bot_token() != seeded_token).await;
    assert!(started);

    let second = env.rekeyd(&policy, &["rotate", "support-bot"]).await;
    assert_eq!(second.code(), 1);
    assert!(
        second
            .line_for("support-bot")
            .contains("another rekeyd process"),
        "{}",
        second.stdout
    );
    let first = finish(first, Duration::from_secs(30)).await;
    assert_eq!(first.code(), 0, "stderr:\n{}", first.stderr);
    assert_eq!(env.version_count("rekeyd/support-bot"), 1);
    env.assert_bot_stored();
}

fn overlap_policy(env: &TestEnv) -> String {
    env.standard_policy("30d").replace(
        &format!("credential_id = \"{CREDENTIAL_ID}\""),
        &format!("credential_id = \"{CREDENTIAL_ID}\"\nstrategy = \"overlap\""),
    )
}

/// The IAM credentials the emulator holds for sofia.
fn sofias_credentials(env: &TestEnv) -> Vec<(String, String)> {
    env.truth()
        .iam_credentials
        .iter()
        .filter(|c| c.user_name == "sofia")
        .map(|c| (c.credential_id.clone(), c.service_password.clone()))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn overlap_creates_stores_then_deletes_the_old_credential() {
    let env = TestEnv::new().await;
    let policy = env.write_policy(&overlap_policy(&env));

    for round in 1..=3 {
        let out = env.rekeyd(&policy, &["rotate", "codecommit-sofia"]).await;
        assert_eq!(
            out.code(),
            0,
            "round {round}: {}\n{}",
            out.stdout,
            out.stderr
        );
        let held = sofias_credentials(&env);
        assert_eq!(
            held.len(),
            1,
            "round {round}: exactly one credential left: {held:?}"
        );
        let (id, password) = &held[0];
        assert_ne!(
            id, CREDENTIAL_ID,
            "a new credential replaced the seeded one"
        );
        let stored = env.current("rekeyd/codecommit-sofia");
        assert_eq!(
            stored["credential_id"],
            id.as_str(),
            "the stored id follows the new credential"
        );
        assert_eq!(stored["service_password"], password.as_str());
        assert_eq!(env.version_count("rekeyd/codecommit-sofia"), round);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn overlap_with_no_free_slot_names_both_and_deletes_nothing() {
    let env = TestEnv::new().await;
    let other = env
        .emulator
        .seed_service_credential("sofia", "codecommit.amazonaws.com")
        .unwrap()
        .credential_id;
    let policy = env.write_policy(&overlap_policy(&env));

    let out = env.rekeyd(&policy, &["rotate", "codecommit-sofia"]).await;
    assert_eq!(out.code(), 1);
    let line = out.line_for("codecommit-sofia");
    assert!(
        line.contains(CREDENTIAL_ID) && line.contains(&other),
        "{line}"
    );
    assert_eq!(sofias_credentials(&env).len(), 2, "nothing deleted");
    assert_eq!(env.version_count("rekeyd/codecommit-sofia"), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_overlap_rotation_killed_before_storing_leaves_no_second_credential() {
    let env = TestEnv::new().await;
    let policy = env.write_policy(&overlap_policy(&env));
    env.emulator
        .inject(FaultRule::delay("CreateSecret", 10_000).times(1))
        .unwrap();
    let mut rotate = env.spawn(&policy, &["rotate", "codecommit-sofia"]);
    let created = wait_until(Duration::from_secs(15), || {
        sofias_credentials(&env).len() == 2
    })
    .await;
    assert!(created, "the new credential was created");
    // Give the journal its update with the new id, then kill mid-store.
    tokio::time::sleep(Duration::from_millis(300)).await;
    rotate.kill().await.unwrap();
    let _ = rotate.wait().await;
    assert_eq!(env.version_count("rekeyd/codecommit-sofia"), 0);
    assert_eq!(sofias_credentials(&env).len(), 2, "old and orphan");

    let out = env.rekeyd(&policy, &["rotate", "codecommit-sofia"]).await;
    assert_eq!(out.code(), 0, "{}\n{}", out.stdout, out.stderr);
    let held = sofias_credentials(&env);
    assert_eq!(held.len(), 1, "orphan deleted, old retired: {held:?}");
    let stored = env.current("rekeyd/codecommit-sofia");
    assert_eq!(stored["credential_id"], held[0].0.as_str());
    assert_eq!(stored["service_password"], held[0].1.as_str());
}

#[tokio::test(flavor = "multi_thread")]
async fn overlap_survives_a_lost_create_answer() {
    let env = TestEnv::new().await;
    let policy = env.write_policy(&overlap_policy(&env));
    env.emulator
        .inject(
            FaultRule::new("CreateServiceSpecificCredential", FaultKind::MutateThenDrop).times(1),
        )
        .unwrap();

    let out = env.rekeyd(&policy, &["rotate", "codecommit-sofia"]).await;
    assert_eq!(out.code(), 0, "{}\n{}", out.stdout, out.stderr);
    let held = sofias_credentials(&env);
    assert_eq!(
        held.len(),
        1,
        "the lost one deleted, the old one retired: {held:?}"
    );
    let stored = env.current("rekeyd/codecommit-sofia");
    assert_eq!(stored["credential_id"], held[0].0.as_str());
    assert_eq!(stored["service_password"], held[0].1.as_str());
}
