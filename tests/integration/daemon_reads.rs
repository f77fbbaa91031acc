//! `rekeyd daemon` at start: every stored secret read in batches of at most
//! 20 (BatchGetSecretValue), through the rate-limited gate, each credential
//! scheduled as its batch arrives.

use std::collections::BTreeSet;
use std::time::Duration;

use rekeyd_emulator::{CallRecord, FaultKind, FaultRule};

use crate::util::{ACCOUNT_ID, BOT_ID, TestEnv, finish, signal, wait_until};

/// A policy of `stored` Chime bots whose secrets were written just now (so
/// none is due: `every = "30d"`), after an `a-missing` bot (the seeded one)
/// whose secret does not exist yet, when `missing`. The stored secrets are
/// seeded; their bots need not exist, since nothing rotates them.
pub(crate) fn fleet(env: &TestEnv, stored: usize, missing: bool) -> String {
    let mut policy = format!(
        "{}[daemon]\nconcurrency = 1\n[defaults]\nevery = \"30d\"\n",
        env.aws_table()
    );
    if missing {
        policy.push_str(&format!(
            "[[chime_bot]]\nname = \"a-missing\"\naccount_id = \"{ACCOUNT_ID}\"\nbot_id = \"{BOT_ID}\"\n"
        ));
    }
    let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let mut secrets = Vec::new();
    for i in 0..stored {
        let (name, bot) = (
            format!("bot-{i:03}"),
            format!("b0000000-0000-4000-8000-{i:012}"),
        );
        policy.push_str(&format!(
            "[[chime_bot]]\nname = \"{name}\"\naccount_id = \"{ACCOUNT_ID}\"\nbot_id = \"{bot}\"\n"
        ));
        let value = serde_json::json!({
            "kind": "chime_bot", "name": name, "account_id": ACCOUNT_ID, "bot_id": bot,
            "security_token": format!("stored-{i}"), "bot_email": null, "user_id": null,
            "rotated_at": now,
        });
        secrets.push(serde_json::json!({
            "name": format!("rekeyd/{name}"),
            "secret_string": value.to_string(),
            "tags": {"rekeyd:credential": name, "rekeyd:kind": "chime_bot"},
        }));
    }
    env.emulator
        .seed_from_json(&serde_json::json!({ "secrets": secrets }).to_string())
        .expect("seed the stored secrets");
    policy
}

/// The secret ids of each answered (not throttled) BatchGetSecretValue call.
fn batches(calls: &[CallRecord]) -> Vec<Vec<String>> {
    calls
        .iter()
        .filter(|c| c.operation == "BatchGetSecretValue" && c.status == Some(200))
        .map(|c| {
            let ids = c.resource.as_deref().unwrap_or_default();
            ids.split(',').map(str::to_owned).collect()
        })
        .collect()
}

/// Every one of `secrets` secrets was read once, in BatchGetSecretValue
/// calls of at most 20, and none by GetSecretValue.
#[track_caller]
pub(crate) fn assert_read_in_batches(env: &TestEnv, secrets: usize) {
    let calls = env.emulator.calls();
    let sizes: Vec<usize> = batches(&calls).iter().map(Vec::len).collect();
    assert_eq!(
        sizes.iter().sum::<usize>(),
        secrets,
        "each secret once: {sizes:?}"
    );
    assert!(sizes.iter().all(|n| *n <= 20), "batch sizes {sizes:?}");
    let one_by_one = calls
        .iter()
        .filter(|c| c.operation == "GetSecretValue")
        .count();
    assert_eq!(one_by_one, 0, "no secret read on its own");
}

/// Every secret id read by the answered batch calls.
fn read_by_batches(env: &TestEnv) -> BTreeSet<String> {
    batches(&env.emulator.calls())
        .into_iter()
        .flatten()
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fleet_whose_secrets_are_current_is_read_twenty_at_a_time() {
    let env = TestEnv::new().await;
    let policy = env.write_policy(&fleet(&env, 45, false));
    let daemon = env.spawn(&policy, &["daemon"]);

    let all_read = wait_until(Duration::from_secs(20), || {
        read_by_batches(&env).len() == 45
    })
    .await;
    signal(&daemon, "TERM");
    let out = finish(daemon, Duration::from_secs(10)).await;
    assert!(
        all_read,
        "read: {:?}\n{}",
        read_by_batches(&env),
        out.stderr
    );
    assert_eq!(out.code(), 0, "stderr:\n{}", out.stderr);

    assert_read_in_batches(&env, 45);
    assert_eq!(env.mutating_calls(), 0, "nothing was due");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_throttled_batch_read_still_schedules_everything() {
    let env = TestEnv::new().await;
    let policy = env.write_policy(&fleet(&env, 45, true));
    // Every batch call is throttled at first: the gate backs off and tries
    // again.
    env.emulator
        .inject(FaultRule::new("BatchGetSecretValue", FaultKind::Throttle).times(4))
        .unwrap();
    let daemon = env.spawn(&policy, &["daemon"]);

    let rotated = wait_until(Duration::from_secs(30), || {
        env.version_count("rekeyd/a-missing") >= 1 && read_by_batches(&env).len() == 46
    })
    .await;
    signal(&daemon, "TERM");
    let out = finish(daemon, Duration::from_secs(10)).await;
    assert!(
        rotated,
        "missing secret versions: {}, read: {}\n{}",
        env.version_count("rekeyd/a-missing"),
        read_by_batches(&env).len(),
        out.stderr
    );
    assert_eq!(out.code(), 0, "stderr:\n{}", out.stderr);
    let calls = env.emulator.calls();
    let throttled = calls
        .iter()
        .filter(|c| c.operation == "BatchGetSecretValue" && c.throttled)
        .count();
    assert_eq!(throttled, 4);
    assert_eq!(
        env.current("rekeyd/a-missing")["security_token"],
        env.bot_token().as_str(),
        "stored chime token"
    );
    for i in 0..45 {
        let secret = format!("rekeyd/bot-{i:03}");
        assert_eq!(env.version_count(&secret), 1, "{secret} was not due");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn credentials_are_scheduled_as_their_batch_arrives() {
    let env = TestEnv::new().await;
    // Three batches, read one after the other (concurrency 1), each answered
    // after two seconds; the missing credential is in the first.
    let policy = env.write_policy(&fleet(&env, 45, true));
    env.emulator
        .inject(FaultRule::delay("BatchGetSecretValue", 2000).times(3))
        .unwrap();
    let daemon = env.spawn(&policy, &["daemon"]);

    let mut answered_when_rotated = None;
    let rotated = wait_until(Duration::from_secs(30), || {
        if env.version_count("rekeyd/a-missing") >= 1 {
            answered_when_rotated.get_or_insert(batches(&env.emulator.calls()).len());
            return true;
        }
        false
    })
    .await;
    let all_read = wait_until(Duration::from_secs(30), || {
        read_by_batches(&env).len() == 46
    })
    .await;
    signal(&daemon, "TERM");
    let out = finish(daemon, Duration::from_secs(10)).await;
    assert!(rotated && all_read, "stderr:\n{}", out.stderr);
    assert_eq!(out.code(), 0, "stderr:\n{}", out.stderr);
    // Rotated once its own batch arrived, before the last batch was answered.
    let answered = answered_when_rotated.unwrap();
    assert!(
        answered < 3,
        "rotated only after {answered} of 3 batches were answered"
    );
    assert_eq!(
        env.current("rekeyd/a-missing")["security_token"],
        env.bot_token().as_str(),
        "stored chime token"
    );
}
