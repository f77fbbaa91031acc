//! Drift (a secret changed by hand, an IAM credential inactive or deleted,
//! a bot gone) and `rekeyd check --online`.

use rekeyd_emulator::Service;

use super::{NAMES, audit_json, chime_record, entry, iam_client, secrets_client, status};
use crate::util::{ACCOUNT_ID, BOT_ID, CREDENTIAL_ID, TestEnv};

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
async fn check_online_names_what_is_missing() {
    let env = TestEnv::new().await;
    let policy = env.write_policy(&env.standard_policy("30d"));
    let out = env.rekeyd(&policy, &["check", "--online"]).await;
    out.assert_exit(0);
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
