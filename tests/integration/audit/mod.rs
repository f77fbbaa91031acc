//! `rekeyd audit` and `rekeyd check --online` against the emulator: every
//! status, orphans, exit codes, `--offline`, and no secret in output; drift
//! and `check --online` in `drift.rs`.

mod drift;

use std::collections::BTreeMap;

use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};
use chrono::{Duration, Utc};
use rekeyd_emulator::{SeedDoc, SeedSecret};
use serde_json::Value;

use crate::util::{ACCOUNT_ID, BOT_ID, Output, STAGE_ARN, TestEnv};

pub(super) const NAMES: [&str; 3] = ["support-bot", "codecommit-sofia", "stage-host-bob"];

/// Runs `rekeyd audit --format json ARGS...` and parses stdout.
pub(crate) async fn audit_json(
    env: &TestEnv,
    policy: &std::path::Path,
    args: &[&str],
) -> (Output, Value) {
    let mut all = vec!["audit", "--format", "json"];
    all.extend_from_slice(args);
    let out = env.rekeyd(policy, &all).await;
    let json = serde_json::from_str(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "audit stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            out.stdout, out.stderr
        )
    });
    (out, json)
}

/// The `credentials` entry for `name`.
pub(crate) fn entry<'a>(json: &'a Value, name: &str) -> &'a Value {
    json["credentials"]
        .as_array()
        .expect("credentials array")
        .iter()
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("no entry for {name} in {json:#}"))
}

pub(super) fn status<'a>(json: &'a Value, name: &str) -> &'a str {
    entry(json, name)["status"].as_str().expect("status string")
}

fn aws_config(env: &TestEnv) -> (Region, Credentials) {
    let _ = env;
    (
        Region::new("us-east-1"),
        Credentials::new("AKIDEXAMPLE", "test-secret-key", None, None, "test"),
    )
}

pub(crate) fn secrets_client(env: &TestEnv) -> aws_sdk_secretsmanager::Client {
    let (region, credentials) = aws_config(env);
    let config = aws_sdk_secretsmanager::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .http_client(rekeyd::aws::https_client())
        .region(region)
        .endpoint_url(env.endpoint())
        .credentials_provider(credentials)
        .build();
    aws_sdk_secretsmanager::Client::from_conf(config)
}

pub(super) fn iam_client(env: &TestEnv) -> aws_sdk_iam::Client {
    let (region, credentials) = aws_config(env);
    let config = aws_sdk_iam::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .http_client(rekeyd::aws::https_client())
        .region(region)
        .endpoint_url(env.endpoint())
        .credentials_provider(credentials)
        .build();
    aws_sdk_iam::Client::from_conf(config)
}

/// A rekeyd-format chime record rotated `hours_ago`.
pub(super) fn chime_record(name: &str, hours_ago: i64) -> String {
    let at = Utc::now() - Duration::hours(hours_ago);
    serde_json::json!({
        "kind": "chime_bot", "name": name, "account_id": ACCOUNT_ID, "bot_id": BOT_ID,
        "security_token": "seeded-token-not-to-be-printed", "bot_email": null, "user_id": null,
        "rotated_at": at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    })
    .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn after_rotate_all_every_credential_is_ok() {
    let env = TestEnv::new().await;
    let policy = env.write_policy(&env.standard_policy("30d"));
    assert_eq!(env.rekeyd(&policy, &["rotate", "--all"]).await.code(), 0);

    let (out, json) = audit_json(&env, &policy, &[]).await;
    assert_eq!(out.code(), 0, "{json:#}\nstderr:\n{}", out.stderr);
    assert!(json["checked_at"].as_str().unwrap().ends_with('Z'));
    for name in NAMES {
        let e = entry(&json, name);
        assert_eq!(e["status"], "ok", "{e:#}");
        assert_eq!(e["secret"], format!("rekeyd/{name}"));
        assert!(
            e["last_rotated"].is_string() && e["next_due"].is_string(),
            "{e:#}"
        );
        assert!(e["detail"].is_string(), "{e:#}");
    }
    assert_eq!(entry(&json, "support-bot")["kind"], "chime_bot");
    assert!(entry(&json, "stage-host-bob")["expires_at"].is_string());
    assert!(entry(&json, "support-bot")["expires_at"].is_null());
    assert_eq!(json["unmanaged"], serde_json::json!([]));
    assert_eq!(json["summary"]["ok"], 3);

    // The table says the same for people.
    let table = env.rekeyd(&policy, &["audit"]).await;
    assert_eq!(table.code(), 0, "{}", table.stderr);
    assert!(table.stdout.starts_with("NAME "), "{}", table.stdout);
    assert!(
        table.stdout.contains("3 credentials: 3 ok"),
        "{}",
        table.stdout
    );
    assert!(!table.stdout.contains('\x1b'), "no colour off a terminal");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_credential_never_rotated_is_missing() {
    let env = TestEnv::new().await;
    let policy = env.write_policy(&env.standard_policy("30d"));
    assert_eq!(
        env.rekeyd(&policy, &["rotate", "support-bot"]).await.code(),
        0
    );

    let (out, json) = audit_json(&env, &policy, &[]).await;
    assert_eq!(out.code(), 1, "{json:#}");
    assert_eq!(status(&json, "support-bot"), "ok");
    for name in ["codecommit-sofia", "stage-host-bob"] {
        assert_eq!(status(&json, name), "missing");
        let detail = entry(&json, name)["detail"].as_str().unwrap();
        assert!(
            detail.contains(&format!("rekeyd rotate {name}")),
            "{detail}"
        );
    }

    // --fail-on chooses what fails the run.
    let (out, _) = audit_json(&env, &policy, &["--fail-on", "overdue,expired"]).await;
    assert_eq!(out.code(), 0, "{}", out.stderr);
    let (out, _) = audit_json(&env, &policy, &["--fail-on", "overdue,missing"]).await;
    assert_eq!(out.code(), 1);
    let bad = env.rekeyd(&policy, &["audit", "--fail-on", "ok"]).await;
    assert_eq!(bad.code(), 2, "{}", bad.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn ivs_tokens_are_ok_then_expiring_then_expired() {
    let env = TestEnv::new().await;
    let ivs_policy = |duration: &str, refresh_before: &str| {
        format!(
            "{}\n[[ivs_participant_token]]\nname = \"stage-host-bob\"\nstage_arn = \"{STAGE_ARN}\"\nduration = \"{duration}\"\nrefresh_before = \"{refresh_before}\"\n",
            env.aws_table()
        )
    };
    let policy = env.write_policy(&ivs_policy("2m", "1m"));
    assert_eq!(env.rekeyd(&policy, &["rotate", "--all"]).await.code(), 0);
    let (out, json) = audit_json(&env, &policy, &[]).await;
    assert_eq!(out.code(), 0, "{json:#}");
    assert_eq!(status(&json, "stage-host-bob"), "ok");

    // The stored token lives 2 minutes: within a 5-minute refresh_before.
    let policy = env.write_policy(&ivs_policy("10m", "5m"));
    let (out, json) = audit_json(&env, &policy, &[]).await;
    assert_eq!(out.code(), 1);
    let e = entry(&json, "stage-host-bob");
    assert_eq!(e["status"], "expiring", "{e:#}");
    assert!(e["expires_at"].is_string());

    // A stored token whose expiration_time has passed.
    let past = |minutes: i64| {
        (Utc::now() - Duration::minutes(minutes)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    };
    let expired = serde_json::json!({
        "kind": "ivs_participant_token", "name": "old-token", "stage_arn": STAGE_ARN,
        "participant_id": "p1", "user_id": null, "token": "expired-token-value",
        "capabilities": ["PUBLISH"], "attributes": {},
        "expiration_time": past(5), "rotated_at": past(125),
    });
    env.emulator
        .seed_secret("rekeyd/old-token", &expired.to_string())
        .unwrap();
    let policy = env.write_policy(&format!(
        "{}\n[[ivs_participant_token]]\nname = \"old-token\"\nstage_arn = \"{STAGE_ARN}\"\nduration = \"2m\"\nrefresh_before = \"1m\"\n",
        env.aws_table()
    ));
    let (out, json) = audit_json(&env, &policy, &[]).await;
    assert_eq!(out.code(), 1);
    assert_eq!(status(&json, "old-token"), "expired", "{json:#}");
    assert!(!out.stdout.contains("expired-token-value"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tagged_secret_no_credential_claims_is_unmanaged() {
    let env = TestEnv::new().await;
    let policy = env.write_policy(&env.standard_policy("30d"));
    assert_eq!(env.rekeyd(&policy, &["rotate", "--all"]).await.code(), 0);
    env.emulator
        .seed(&SeedDoc {
            secrets: vec![
                SeedSecret {
                    name: "rekeyd/retired-bot".into(),
                    secret_string: Some("orphan-value".into()),
                    tags: BTreeMap::from([
                        ("rekeyd:credential".into(), "retired-bot".into()),
                        ("rekeyd:kind".into(), "chime_bot".into()),
                    ]),
                    ..Default::default()
                },
                SeedSecret {
                    name: "someone/else".into(),
                    secret_string: Some("not-ours".into()),
                    tags: BTreeMap::from([("owner".into(), "web".into())]),
                    ..Default::default()
                },
            ],
            ..Default::default()
        })
        .unwrap();

    let (out, json) = audit_json(&env, &policy, &[]).await;
    assert_eq!(out.code(), 0, "unmanaged alone does not fail: {json:#}");
    let unmanaged = json["unmanaged"].as_array().unwrap();
    assert_eq!(unmanaged.len(), 1, "{json:#}");
    assert_eq!(unmanaged[0]["secret"], "rekeyd/retired-bot");
    assert_eq!(unmanaged[0]["credential"], "retired-bot");
    assert_eq!(unmanaged[0]["kind"], "chime_bot");
    assert_eq!(unmanaged[0]["status"], "unmanaged");
    assert_eq!(json["summary"]["unmanaged"], 1);

    let (out, _) = audit_json(&env, &policy, &["--strict"]).await;
    assert_eq!(out.code(), 1);
    let table = env.rekeyd(&policy, &["audit", "--strict"]).await;
    assert_eq!(table.code(), 1);
    assert!(
        table.stdout.contains("1 unmanaged secret"),
        "{}",
        table.stdout
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missed_rotation_is_overdue_for_every_and_for_cron() {
    let env = TestEnv::new().await;
    for (name, hours) in [
        ("every-late", 3),
        ("every-fine", 0),
        ("cron-late", 50),
        ("cron-fine", 0),
    ] {
        env.emulator
            .seed_secret(&format!("rekeyd/{name}"), &chime_record(name, hours))
            .unwrap();
    }
    let bot = |name: &str, schedule: &str| {
        format!(
            "[[chime_bot]]\nname = \"{name}\"\naccount_id = \"{ACCOUNT_ID}\"\nbot_id = \"{BOT_ID}\"\n{schedule}\n"
        )
    };
    let policy = env.write_policy(&format!(
        "{}\n{}\n{}\n{}\n{}",
        env.aws_table(),
        bot("every-late", "every = \"1h\"\njitter = \"5m\""),
        bot("every-fine", "every = \"1h\""),
        // Daily: a rotation 50 hours ago missed at least one.
        bot("cron-late", "schedule = \"0 0 3 * * *\""),
        // Every minute, but the grace period (15m) covers a rotation just now.
        bot("cron-fine", "schedule = \"0 * * * * *\""),
    ));
    let (out, json) = audit_json(&env, &policy, &["--offline"]).await;
    assert_eq!(out.code(), 1, "{json:#}");
    assert_eq!(status(&json, "every-late"), "overdue", "{json:#}");
    assert_eq!(status(&json, "every-fine"), "ok", "{json:#}");
    assert_eq!(status(&json, "cron-late"), "overdue", "{json:#}");
    assert_eq!(status(&json, "cron-fine"), "ok", "{json:#}");
    let detail = entry(&json, "cron-late")["detail"].as_str().unwrap();
    assert!(
        detail.contains("did not happen") && detail.contains("0 0 3 * * *"),
        "{detail}"
    );
    // A shorter grace makes the every-minute cron overdue too.
    let (_, json) = audit_json(&env, &policy, &["--offline", "--grace", "0s"]).await;
    let fine = entry(&json, "cron-fine");
    let rotated: chrono::DateTime<Utc> = fine["last_rotated"].as_str().unwrap().parse().unwrap();
    if Utc::now() - rotated > Duration::seconds(61) {
        assert_eq!(fine["status"], "overdue", "{fine:#}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn audit_never_shows_a_secret_even_at_trace() {
    let env = TestEnv::new().await;
    let policy = env.write_policy(&env.standard_policy("30d"));
    assert_eq!(env.rekeyd(&policy, &["rotate", "--all"]).await.code(), 0);
    env.emulator
        .seed_secret("rekeyd/foreign", r#"{"api_key": "foreign-secret-value"}"#)
        .unwrap();
    let mut text = env.standard_policy("30d");
    text.push_str(&format!(
        "\n[[chime_bot]]\nname = \"foreign\"\naccount_id = \"{ACCOUNT_ID}\"\nbot_id = \"{BOT_ID}\"\n"
    ));
    let policy = env.write_policy(&text);
    for format in ["json", "table"] {
        let out = env
            .rekeyd_env(
                &policy,
                &["audit", "--format", format],
                &[("RUST_LOG", "trace")],
            )
            .await;
        assert_eq!(out.code(), 1, "{}", out.stdout);
        assert!(out.stderr.len() > 5_000, "trace output expected");
        let mut secrets = env.issued_secrets();
        for secret in env.truth().secrets {
            secrets.extend(secret.versions.into_iter().filter_map(|v| v.secret_string));
        }
        secrets.push("foreign-secret-value".into());
        for secret in &secrets {
            assert!(!out.stdout.contains(secret.as_str()), "secret in stdout");
            assert!(
                !out.stderr.contains(secret.as_str()),
                "secret in trace stderr"
            );
        }
    }
}
