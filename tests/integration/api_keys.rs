//! IAM API keys (Bedrock, CloudWatch Logs): IAM answers an alias and a
//! secret instead of a user name and password, and a key may expire. rekeyd
//! stores whichever secret IAM issued, rotates an `overlap` key ahead of its
//! expiry, and `plan` and `audit` follow the stored expiry.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use rekeyd_emulator::{IamCredentialTruth, SeedDoc, SeedIamCredential};

use crate::util::{TestEnv, finish, signal, wait_until};

const BEDROCK: &str = "bedrock.amazonaws.com";
const LOGS: &str = "logs.amazonaws.com";
const KEY_ID: &str = "ACCABEDROCKKEY0000001";

/// Seeds ana's API key for `service` with id [`KEY_ID`], expiring at `expiry`.
fn seed_key(env: &TestEnv, service: &str, expiry: Option<DateTime<Utc>>) -> IamCredentialTruth {
    seed_key_with_id(env, KEY_ID, service, expiry)
}

fn seed_key_with_id(
    env: &TestEnv,
    id: &str,
    service: &str,
    expiry: Option<DateTime<Utc>>,
) -> IamCredentialTruth {
    env.emulator
        .seed(&SeedDoc {
            iam_credentials: vec![SeedIamCredential {
                user_name: Some("ana".into()),
                service_name: Some(service.into()),
                credential_id: Some(id.into()),
                expiration_date: expiry,
                ..Default::default()
            }],
            ..Default::default()
        })
        .unwrap()
        .iam_credentials
        .remove(0)
}

/// A policy with the one IAM credential `key` for ana's [`KEY_ID`], with `extra` lines.
fn key_policy(env: &TestEnv, extra: &str) -> std::path::PathBuf {
    env.write_policy(&format!(
        "{aws}\n[[iam_service_credential]]\nname = \"key\"\nuser_name = \"ana\"\ncredential_id = \"{KEY_ID}\"\n{extra}\n",
        aws = env.aws_table()
    ))
}

fn key_truth(env: &TestEnv, id: &str) -> IamCredentialTruth {
    env.truth().iam_credential(id).unwrap().clone()
}

fn time(value: &serde_json::Value) -> DateTime<Utc> {
    value
        .as_str()
        .expect("a timestamp")
        .parse()
        .expect("RFC 3339")
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[tokio::test(flavor = "multi_thread")]
async fn reset_stores_the_bedrock_keys_new_secret_alias_and_expiry() {
    let env = TestEnv::new().await;
    let expiry = (Utc::now() + TimeDelta::days(60)).with_nanosecond_zero();
    let seeded = seed_key(&env, BEDROCK, Some(expiry));
    let policy = key_policy(&env, "every = \"30d\"");

    let out = env.rekeyd(&policy, &["rotate", "key"]).await;
    out.assert_exit(0);
    let truth = key_truth(&env, KEY_ID);
    let issued = truth.service_credential_secret.clone().unwrap();
    assert_ne!(Some(&issued), seeded.service_credential_secret.as_ref());
    let stored = env.current("rekeyd/key");
    assert_eq!(stored["service_credential_secret"], issued.as_str());
    assert_eq!(stored["service_credential_alias"], "ana-at-123456789012");
    assert_eq!(stored["service_name"], BEDROCK);
    assert_eq!(stored["credential_id"], KEY_ID);
    // Reset keeps the key's expiry, and rekeyd stores it.
    assert_eq!(time(&stored["expiration_date"]), expiry);
    for absent in ["service_password", "service_user_name"] {
        assert!(stored.get(absent).is_none(), "{absent} in {stored}");
    }
    // Never printed.
    assert!(!out.stdout.contains(&issued) && !out.stderr.contains(&issued));

    // CodeCommit keeps the old shape, without the API key's fields.
    let codecommit = env.write_policy(&env.standard_policy("30d"));
    env.rekeyd(&codecommit, &["rotate", "codecommit-sofia"])
        .await
        .assert_exit(0);
    let stored = env.current("rekeyd/codecommit-sofia");
    assert_eq!(stored["service_password"], env.iam_password().as_str());
    assert_eq!(stored["service_user_name"], "sofia-at-123456789012");
    for absent in [
        "service_credential_alias",
        "service_credential_secret",
        "expiration_date",
    ] {
        assert!(stored.get(absent).is_none(), "{absent} in {stored}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn overlap_creates_a_logs_key_that_expires_after_credential_age_days() {
    let env = TestEnv::new().await;
    seed_key(&env, LOGS, None);
    let policy = key_policy(
        &env,
        "strategy = \"overlap\"\ncredential_age_days = 90\nevery = \"30d\"",
    );

    // IAM dates are whole seconds.
    let before = Utc::now().with_nanosecond_zero();
    let out = env.rekeyd(&policy, &["rotate", "key"]).await;
    let after = Utc::now();
    out.assert_exit(0);
    let stored = env.current("rekeyd/key");
    let new_id = stored["credential_id"].as_str().unwrap().to_owned();
    assert_ne!(new_id, KEY_ID);
    let truth = key_truth(&env, &new_id);
    assert_eq!(
        stored["service_credential_secret"],
        truth.service_credential_secret.unwrap().as_str()
    );
    assert_eq!(stored["service_credential_alias"], "ana-at-123456789012");
    let expiry = truth.expiration_date.expect("created with an age");
    assert_eq!(time(&stored["expiration_date"]), expiry);
    // 90 days after the key was made, during the rotation.
    assert!(
        expiry >= before + TimeDelta::days(90) && expiry <= after + TimeDelta::days(90),
        "{expiry} is not 90 days after the rotation ({before} to {after})"
    );
    // The old key is gone once the new one is stored.
    assert!(env.truth().iam_credential(KEY_ID).is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn plan_and_audit_follow_the_stored_keys_expiry() {
    let env = TestEnv::new().await;
    seed_key(&env, BEDROCK, None);
    let policy = key_policy(
        &env,
        "strategy = \"overlap\"\ncredential_age_days = 90\nrefresh_before = \"30d\"\nevery = \"180d\"",
    );
    env.rekeyd(&policy, &["rotate", "key"]).await.assert_exit(0);
    let stored = env.current("rekeyd/key");
    let expiry = time(&stored["expiration_date"]);

    // The key's expiry, not `every = "180d"`, sets the next rotation.
    let out = env.rekeyd(&policy, &["plan", "--format", "json"]).await;
    out.assert_exit(0);
    let plan: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let planned = &plan["credentials"][0];
    assert_eq!(
        time(&planned["next_rotation"]),
        expiry - TimeDelta::days(30)
    );
    assert_eq!(planned["reason"], "key expiry (before the schedule)");
    assert_eq!(time(&planned["expires_at"]), expiry);
    let table = env.rekeyd(&policy, &["plan"]).await;
    assert!(
        table.stdout.contains("or 30days before the key expires"),
        "{}",
        table.stdout
    );

    let entry = audit_says(&env, &policy, 0, "ok").await;
    assert_eq!(time(&entry["next_due"]), expiry - TimeDelta::days(30));

    // A stored key 10 days from its expiry: within refresh_before.
    let new_id = stored["credential_id"].as_str().unwrap();
    store_key_record(
        &env,
        new_id,
        Utc::now() - TimeDelta::days(80),
        Utc::now() + TimeDelta::days(10),
    )
    .await;
    audit_says(&env, &policy, 1, "expiring").await;
    let plan = env.rekeyd(&policy, &["plan", "--format", "json"]).await;
    let plan: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    assert_eq!(plan["credentials"][0]["reason"], "key expiring");

    // Past its expiry.
    store_key_record(
        &env,
        new_id,
        Utc::now() - TimeDelta::days(91),
        Utc::now() - TimeDelta::hours(1),
    )
    .await;
    audit_says(&env, &policy, 1, "expired").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_audit_reports_a_key_iam_says_expired() {
    let env = TestEnv::new().await;
    seed_key(&env, BEDROCK, Some(Utc::now() + TimeDelta::days(5)));
    let policy = key_policy(&env, "every = \"30d\"");
    env.rekeyd(&policy, &["rotate", "key"]).await.assert_exit(0);
    // IAM now reports the key Expired, whatever the stored record says.
    let expired = Some(Utc::now() - TimeDelta::hours(1));
    seed_key_with_id(&env, "ACCABEDROCKKEY0000002", BEDROCK, expired);
    store_key_record(
        &env,
        "ACCABEDROCKKEY0000002",
        Utc::now() - TimeDelta::days(1),
        Utc::now() + TimeDelta::days(100),
    )
    .await;
    let entry = audit_says(&env, &policy, 1, "expired").await;
    assert!(
        entry["detail"]
            .as_str()
            .unwrap()
            .contains("ACCABEDROCKKEY0000002"),
        "{entry:#}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_daemon_replaces_a_key_refresh_before_its_expiry() {
    let env = TestEnv::new().await;
    // Due 5 s from now: one day before an expiry one day and 5 s away.
    let expiry = (Utc::now() + TimeDelta::days(1) + TimeDelta::seconds(5)).with_nanosecond_zero();
    seed_key(&env, BEDROCK, Some(expiry));
    store_key_record(&env, KEY_ID, Utc::now() - TimeDelta::days(29), expiry).await;
    let policy = key_policy(
        &env,
        "strategy = \"overlap\"\ncredential_age_days = 30\nrefresh_before = \"1d\"\nevery = \"365d\"",
    );
    let daemon = env.spawn(&policy, &["daemon"]);
    let replaced = wait_until(Duration::from_secs(30), || {
        env.current("rekeyd/key")["credential_id"] != KEY_ID
    })
    .await;
    signal(&daemon, "TERM");
    let out = finish(daemon, Duration::from_secs(10)).await;
    assert!(replaced, "not replaced; stderr:\n{}", out.stderr);
    out.assert_exit(0);
    let stored = env.current("rekeyd/key");
    let rotated_at = time(&stored["rotated_at"]);
    // Not at start (the schedule is a year), but at the refresh point.
    assert!(
        rotated_at >= expiry - TimeDelta::days(1) - TimeDelta::seconds(1),
        "rotated at {rotated_at}, before the refresh point"
    );
    let new = key_truth(&env, stored["credential_id"].as_str().unwrap());
    assert_eq!(
        stored["service_credential_secret"],
        new.service_credential_secret.unwrap().as_str()
    );
    assert_eq!(Some(time(&stored["expiration_date"])), new.expiration_date);
    assert!(
        env.truth().iam_credential(KEY_ID).is_none(),
        "old key deleted"
    );
    let secret = stored["service_credential_secret"].as_str().unwrap();
    assert!(!out.stderr.contains(secret) && !out.stdout.contains(secret));
}

#[tokio::test(flavor = "multi_thread")]
async fn check_rejects_bad_key_settings_naming_the_key() {
    let env = TestEnv::new().await;
    let policy = key_policy(&env, "credential_age_days = 90\nevery = \"30d\"");
    let out = env.rekeyd(&policy, &["check"]).await;
    out.assert_exit(2);
    assert!(
        out.stderr.contains("policy.toml:9: iam_service_credential \"key\": key `credential_age_days`: credential_age_days applies only to strategy = \"overlap\""),
        "{}",
        out.stderr
    );
    let policy = key_policy(
        &env,
        "strategy = \"overlap\"\ncredential_age_days = 90\nevery = \"180d\"",
    );
    let out = env.rekeyd(&policy, &["check"]).await;
    out.assert_exit(0);
    assert!(
        out.stderr
            .contains("the schedule never runs before a new key expires"),
        "{}",
        out.stderr
    );
}

/// Writes a rekeyd record for ana's key `id` as AWSCURRENT of `rekeyd/key`.
async fn store_key_record(
    env: &TestEnv,
    id: &str,
    rotated_at: DateTime<Utc>,
    expiry: DateTime<Utc>,
) {
    let record = serde_json::json!({
        "kind": "iam_service_credential", "name": "key", "user_name": "ana",
        "service_name": BEDROCK, "service_credential_alias": "ana-at-123456789012",
        "service_credential_secret": "ABSK-stored-for-the-test", "credential_id": id,
        "rotated_at": rfc3339(rotated_at), "expiration_date": rfc3339(expiry),
    });
    if env.truth().secrets.iter().any(|s| s.name == "rekeyd/key") {
        crate::audit::secrets_client(env)
            .put_secret_value()
            .secret_id("rekeyd/key")
            .secret_string(record.to_string())
            .send()
            .await
            .unwrap();
    } else {
        env.emulator
            .seed_secret("rekeyd/key", &record.to_string())
            .unwrap();
    }
}

/// `rekeyd audit --format json` exits `code` with the one credential's
/// `status`; its entry.
async fn audit_says(
    env: &TestEnv,
    policy: &std::path::Path,
    code: i32,
    status: &str,
) -> serde_json::Value {
    let out = env.rekeyd(policy, &["audit", "--format", "json"]).await;
    let json: serde_json::Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", out.stdout, out.stderr));
    let entry = json["credentials"][0].clone();
    assert_eq!(
        (out.code(), entry["status"].as_str()),
        (code, Some(status)),
        "{entry:#}"
    );
    entry
}

trait WholeSeconds {
    fn with_nanosecond_zero(self) -> Self;
}

impl WholeSeconds for DateTime<Utc> {
    fn with_nanosecond_zero(self) -> Self {
        DateTime::from_timestamp(self.timestamp(), 0).unwrap()
    }
}
