//! `rekeyd audit` and `rekeyd check --online` against the emulator: every
//! status, drift, orphans, exit codes, `--offline`, and no secret in output.

use std::collections::BTreeMap;

use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};
use chrono::{Duration, Utc};
use rekeyd_emulator::{SeedDoc, SeedSecret, Service};
use serde_json::Value;

use crate::util::{ACCOUNT_ID, BOT_ID, CREDENTIAL_ID, Output, STAGE_ARN, TestEnv};

const NAMES: [&str; 3] = ["support-bot", "codecommit-sofia", "stage-host-bob"];

/// Runs `rekeyd audit --format json ARGS...` and parses stdout.
async fn audit_json(env: &TestEnv, policy: &std::path::Path, args: &[&str]) -> (Output, Value) {
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
fn entry<'a>(json: &'a Value, name: &str) -> &'a Value {
    json["credentials"]
        .as_array()
        .expect("credentials array")
        .iter()
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("no entry for {name} in {json:#}"))
}

fn status<'a>(json: &'a Value, name: &str) -> &'a str {
    entry(json, name)["status"].as_str().expect("status string")
}

fn aws_config(env: &TestEnv) -> (Region, Credentials) {
    let _ = env;
    (
        Region::new("us-east-1"),
        Credentials::new("AKIDEXAMPLE", "test-secret-key", None, None, "test"),
    )
}

fn secrets_client(env: &TestEnv) -> aws_sdk_secretsmanager::Client {
    let (region, credentials) = aws_config(env);
    let config = aws_sdk_secretsmanager::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(region)
        .endpoint_url(env.endpoint())
        .credentials_provider(credentials)
        .build();
    aws_sdk_secretsmanager::Client::from_conf(config)
}

fn iam_client(env: &TestEnv) -> aws_sdk_iam::Client {
    let (region, credentials) = aws_config(env);
    let config = aws_sdk_iam::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(region)
        .endpoint_url(env.endpoint())
        .credentials_provider(credentials)
        .build();
    aws_sdk_iam::Client::from_conf(config)
}

/// A rekeyd-format chime record rotated `hours_ago`.
fn chime_record(name: &str, hours_ago: i64) -> String {
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
async fn a_secret_overwritten_by_hand_is_drift() {
    let env = TestEnv::new().await;
    let policy = env.write_policy(&env.standard_policy("30d"));
    assert_eq!(env.rekeyd(&policy, &["rotate", "--all"]).await.code(), 0);
    let client = secrets_client(&env);
    for (secret, value) in [
        ("rekeyd/support-bot", r#"{"password": "typed-in-by-hand"}"#),
        (
            "rekeyd/codecommit-sofia",
            r#"{"kind": "chime_bot", "name": "support-bot", "rotated_at": "2026-01-01T00:00:00Z"}"#,
        ),
    ] {
        client
            .put_secret_value()
            .secret_id(secret)
            .secret_string(value)
            .send()
            .await
            .expect("put by hand");
    }

    let (out, json) = audit_json(&env, &policy, &[]).await;
    assert_eq!(out.code(), 1, "{json:#}");
    for name in ["support-bot", "codecommit-sofia"] {
        let e = entry(&json, name);
        assert_eq!(e["status"], "missing", "{e:#}");
        assert!(
            e["detail"].as_str().unwrap().starts_with("drift: "),
            "{e:#}"
        );
    }
    assert!(
        entry(&json, "codecommit-sofia")["detail"]
            .as_str()
            .unwrap()
            .contains("not written by rekeyd")
    );
    assert_eq!(status(&json, "stage-host-bob"), "ok");
    assert!(!out.stdout.contains("typed-in-by-hand") && !out.stderr.contains("typed-in-by-hand"));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_iam_credential_inactive_or_deleted_at_the_provider_is_drift() {
    let env = TestEnv::new().await;
    let policy = env.write_policy(&env.standard_policy("30d"));
    assert_eq!(env.rekeyd(&policy, &["rotate", "--all"]).await.code(), 0);
    let iam = iam_client(&env);
    iam.update_service_specific_credential()
        .user_name("sofia")
        .service_specific_credential_id(CREDENTIAL_ID)
        .status(aws_sdk_iam::types::StatusType::Inactive)
        .send()
        .await
        .expect("deactivate");

    let (out, json) = audit_json(&env, &policy, &[]).await;
    assert_eq!(out.code(), 1, "{json:#}");
    let e = entry(&json, "codecommit-sofia");
    assert_eq!(e["status"], "drift", "{e:#}");
    assert!(e["detail"].as_str().unwrap().contains("Inactive"), "{e:#}");
    assert_eq!(status(&json, "support-bot"), "ok");
    assert_eq!(status(&json, "stage-host-bob"), "ok");

    iam.delete_service_specific_credential()
        .user_name("sofia")
        .service_specific_credential_id(CREDENTIAL_ID)
        .send()
        .await
        .expect("delete");
    let (_, json) = audit_json(&env, &policy, &[]).await;
    let e = entry(&json, "codecommit-sofia");
    assert_eq!(e["status"], "drift", "{e:#}");
    assert!(
        e["detail"].as_str().unwrap().contains("no longer exists"),
        "{e:#}"
    );

    // Offline, the provider is not asked: only Secrets Manager is read.
    env.emulator.clear_calls();
    let (out, json) = audit_json(&env, &policy, &["--offline"]).await;
    assert_eq!(out.code(), 0, "{json:#}");
    assert_eq!(json["offline"], true);
    assert_eq!(status(&json, "codecommit-sofia"), "ok");
    let calls = env.emulator.calls();
    assert!(!calls.is_empty());
    assert!(
        calls.iter().all(|c| c.service == Service::Secretsmanager),
        "{:?}",
        calls.iter().map(|c| &c.operation).collect::<Vec<_>>()
    );
    assert!(calls.iter().all(|c| !c.mutating));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_secret_whose_bot_is_gone_is_drift() {
    let env = TestEnv::new().await;
    let gone_bot = "99999999-9999-9999-9999-999999999999";
    let record = chime_record("old-bot", 1).replace(BOT_ID, gone_bot);
    env.emulator.seed_secret("rekeyd/old-bot", &record).unwrap();
    let policy = env.write_policy(&format!(
        "{}\n[[chime_bot]]\nname = \"old-bot\"\naccount_id = \"{ACCOUNT_ID}\"\nbot_id = \"{gone_bot}\"\nevery = \"1d\"\n",
        env.aws_table()
    ));
    let (out, json) = audit_json(&env, &policy, &[]).await;
    assert_eq!(out.code(), 1);
    let e = entry(&json, "old-bot");
    assert_eq!(e["status"], "drift", "{e:#}");
    assert!(e["detail"].as_str().unwrap().contains(gone_bot), "{e:#}");
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
async fn check_online_names_what_is_missing() {
    let env = TestEnv::new().await;
    let policy = env.write_policy(&env.standard_policy("30d"));
    let out = env.rekeyd(&policy, &["check", "--online"]).await;
    assert_eq!(
        out.code(),
        0,
        "stdout:\n{}\nstderr:\n{}",
        out.stdout,
        out.stderr
    );
    for name in NAMES {
        let line = out.line_for(name);
        assert!(line.contains(": ok "), "{line}");
        assert!(line.contains("does not exist yet"), "{line}");
    }
    assert_eq!(env.mutating_calls(), 0, "check --online is read-only");

    let missing_bot = "00000000-0000-0000-0000-000000000000";
    let text = env.standard_policy("30d").replace(BOT_ID, missing_bot);
    let policy = env.write_policy(&text);
    let out = env.rekeyd(&policy, &["check", "--online"]).await;
    assert_eq!(out.code(), 1, "{}", out.stdout);
    let line = out.line_for("support-bot");
    assert!(
        line.contains("missing") && line.contains(missing_bot),
        "{line}"
    );
    assert!(out.line_for("codecommit-sofia").contains(": ok "));

    // An overlap credential's id changes at each rotation: check and audit
    // look for the stored one, not the policy's first one.
    let text = env.standard_policy("30d").replace(
        "credential_id = \"ACCAEXAMPLE123EXAMPLE\"\n",
        "credential_id = \"ACCAEXAMPLE123EXAMPLE\"\nstrategy = \"overlap\"\n",
    );
    assert!(text.contains("overlap"));
    let overlap = env.write_policy(&text);
    let out = env.rekeyd(&overlap, &["rotate", "codecommit-sofia"]).await;
    assert_eq!(out.code(), 0, "{}\n{}", out.stdout, out.stderr);
    assert_ne!(
        env.current("rekeyd/codecommit-sofia")["credential_id"],
        CREDENTIAL_ID
    );
    let out = env.rekeyd(&overlap, &["check", "--online"]).await;
    assert!(
        out.line_for("codecommit-sofia").contains(": ok "),
        "{}",
        out.stdout
    );
    let (_, json) = audit_json(&env, &overlap, &[]).await;
    assert_eq!(status(&json, "codecommit-sofia"), "ok", "{json:#}");

    // Without --online, no AWS call at all.
    env.emulator.clear_calls();
    assert_eq!(env.rekeyd(&policy, &["check"]).await.code(), 0);
    assert!(env.emulator.calls().is_empty());
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
