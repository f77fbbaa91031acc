//! `rekeyd rotate`: every kind end to end through the real SDK clients and
//! the emulator, faults included.

use rekeyd_emulator::{FaultKind, FaultRule};

use crate::daemon_reads::fleet;
use crate::util::{CREDENTIAL_ID, STAGE_ARN, STANDARD_SECRETS, TestEnv};

#[tokio::test(flavor = "multi_thread")]
async fn rotate_all_stores_exactly_what_each_provider_issued() {
    let env = TestEnv::new().await;
    let policy = env.write_policy(&env.standard_policy("30d"));

    let out = env.rekeyd(&policy, &["rotate", "--all"]).await;
    assert_eq!(out.code(), 0, "stderr:\n{}", out.stderr);
    for name in ["support-bot", "codecommit-sofia", "stage-host-bob"] {
        assert!(out.line_for(name).contains(" rotated "), "{}", out.stdout);
    }

    let chime = env.current("rekeyd/support-bot");
    assert_eq!(chime["kind"], "chime_bot");
    assert_eq!(chime["name"], "support-bot");
    assert_eq!(chime["security_token"], env.bot_token().as_str());

    let iam = env.current("rekeyd/codecommit-sofia");
    assert_eq!(iam["kind"], "iam_service_credential");
    assert_eq!(iam["service_password"], env.iam_password().as_str());
    assert_eq!(iam["credential_id"], CREDENTIAL_ID);
    assert_eq!(iam["user_name"], "sofia");
    assert_eq!(iam["service_name"], "codecommit.amazonaws.com");

    let ivs = env.current("rekeyd/stage-host-bob");
    assert_eq!(ivs["kind"], "ivs_participant_token");
    assert_eq!(ivs["stage_arn"], STAGE_ARN);
    assert_eq!(ivs["user_id"], "bob");
    assert_eq!(ivs["attributes"]["role"], "host");
    assert_eq!(
        env.ivs_tokens(),
        vec![ivs["token"].as_str().unwrap().to_owned()]
    );

    // Created secrets carry rekeyd's tags.
    let truth = env.truth();
    let secret = truth
        .secrets
        .iter()
        .find(|s| s.name == "rekeyd/support-bot")
        .unwrap();
    assert_eq!(secret.tags["rekeyd:credential"], "support-bot");
    assert_eq!(secret.tags["rekeyd:kind"], "chime_bot");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_rotation_adds_one_version_and_keeps_the_old_as_previous() {
    let env = TestEnv::new().await;
    let policy = env.write_policy(&env.standard_policy("30d"));
    assert_eq!(env.rekeyd(&policy, &["rotate", "--all"]).await.code(), 0);
    let first_token = env.bot_token();
    let first_password = env.iam_password();

    let out = env.rekeyd(&policy, &["rotate", "--all"]).await;
    assert_eq!(out.code(), 0, "stderr:\n{}", out.stderr);

    let chime = env.secret_stages("rekeyd/support-bot");
    assert_eq!(chime["AWSPREVIOUS"]["security_token"], first_token.as_str());
    assert_eq!(
        chime["AWSCURRENT"]["security_token"],
        env.bot_token().as_str()
    );
    assert_ne!(first_token, env.bot_token());
    let iam = env.secret_stages("rekeyd/codecommit-sofia");
    assert_eq!(
        iam["AWSPREVIOUS"]["service_password"],
        first_password.as_str()
    );
    assert_eq!(
        iam["AWSCURRENT"]["service_password"],
        env.iam_password().as_str()
    );
    for secret in STANDARD_SECRETS {
        assert_eq!(env.version_count(secret), 2, "{secret}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn named_rotation_touches_only_the_named_credential() {
    let env = TestEnv::new().await;
    let policy = env.write_policy(&env.standard_policy("30d"));
    let password_before = env.iam_password();

    let out = env.rekeyd(&policy, &["rotate", "support-bot"]).await;
    assert_eq!(out.code(), 0, "stderr:\n{}", out.stderr);
    assert_eq!(out.stdout.lines().count(), 1, "{}", out.stdout);
    env.assert_bot_stored();
    assert_eq!(env.iam_password(), password_before);
    assert!(env.ivs_tokens().is_empty());
    assert_eq!(env.version_count("rekeyd/codecommit-sofia"), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_name_is_a_usage_error_and_nothing_rotates() {
    let env = TestEnv::new().await;
    let policy = env.write_policy(&env.standard_policy("30d"));

    let out = env
        .rekeyd(&policy, &["rotate", "support-bot", "no-such-cred"])
        .await;
    assert_eq!(out.code(), 2);
    assert!(
        out.stderr.contains(
            "has no credential named no-such-cred (it has: support-bot, codecommit-sofia, stage-host-bob)"
        ),
        "{}",
        out.stderr
    );
    assert_eq!(env.mutating_calls(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_name_in_a_large_fleet_lists_a_few_names_not_all() {
    let env = TestEnv::new().await;
    let policy = env.write_policy(&fleet(&env, 45, false));

    let out = env
        .rekeyd(&policy, &["rotate", "bot-007", "nope", "also-nope"])
        .await;
    assert_eq!(out.code(), 2);
    let first_twenty: Vec<String> = (0..20).map(|i| format!("bot-{i:03}")).collect();
    let wanted = format!(
        "has no credential named also-nope, nope (it has: {}, and 25 more: `rekeyd plan` lists them)",
        first_twenty.join(", ")
    );
    assert!(out.stderr.contains(&wanted), "{}", out.stderr);
    assert!(!out.stderr.contains("bot-020"), "{}", out.stderr);
    assert_eq!(env.mutating_calls(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_run_calls_nothing_and_says_what_it_would_do() {
    let env = TestEnv::new().await;
    let policy = env.write_policy(&env.standard_policy("30d"));

    let out = env.rekeyd(&policy, &["rotate", "--all", "--dry-run"]).await;
    assert_eq!(out.code(), 0, "stderr:\n{}", out.stderr);
    assert!(
        out.line_for("support-bot")
            .contains("RegenerateSecurityToken")
    );
    assert!(
        out.line_for("codecommit-sofia")
            .contains("ResetServiceSpecificCredential")
    );
    assert!(
        out.line_for("stage-host-bob")
            .contains("CreateParticipantToken")
    );
    assert!(
        env.emulator.calls().is_empty(),
        "{:?}",
        env.emulator.calls()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn throttling_on_every_provider_is_retried() {
    let env = TestEnv::new().await;
    let policy = env.write_policy(&env.standard_policy("30d"));
    for operation in [
        "RegenerateSecurityToken",
        "ResetServiceSpecificCredential",
        "CreateParticipantToken",
    ] {
        env.emulator
            .inject(FaultRule::new(operation, FaultKind::Throttle).times(3))
            .unwrap();
    }

    let out = env.rekeyd(&policy, &["rotate", "--all"]).await;
    out.assert_exit(0);
    env.assert_bot_stored();
    env.assert_iam_stored();
    let throttled = env
        .emulator
        .calls()
        .iter()
        .filter(|c| c.fault == Some(FaultKind::Throttle))
        .count();
    assert_eq!(throttled, 9);
}

#[tokio::test(flavor = "multi_thread")]
async fn secrets_manager_failing_the_first_writes_still_stores_one_version() {
    let env = TestEnv::new().await;
    let policy = env.write_policy(&env.standard_policy("30d"));
    // First run creates the secrets; the second run's writes fail at first.
    assert_eq!(env.rekeyd(&policy, &["rotate", "--all"]).await.code(), 0);
    env.emulator
        .inject(FaultRule::new("PutSecretValue", FaultKind::ServerError).times(4))
        .unwrap();
    env.emulator
        .inject(FaultRule::new("PutSecretValue", FaultKind::Throttle).times(2))
        .unwrap();

    let out = env.rekeyd(&policy, &["rotate", "--all"]).await;
    out.assert_exit(0);
    env.assert_bot_stored();
    for secret in STANDARD_SECRETS {
        assert_eq!(env.version_count(secret), 2, "{secret}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lost_provider_response_is_retried_and_the_valid_secret_stored() {
    let env = TestEnv::new().await;
    let policy = env.write_policy(&env.standard_policy("30d"));
    for operation in ["RegenerateSecurityToken", "ResetServiceSpecificCredential"] {
        env.emulator
            .inject(FaultRule::new(operation, FaultKind::MutateThenDrop).times(1))
            .unwrap();
    }

    let out = env
        .rekeyd(&policy, &["rotate", "support-bot", "codecommit-sofia"])
        .await;
    out.assert_exit(0);
    // The first answer was lost with its secret; what is stored is what works now.
    env.assert_bot_stored();
    env.assert_iam_stored();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lost_secrets_manager_response_does_not_make_a_second_version() {
    let env = TestEnv::new().await;
    let policy = env.write_policy(&env.standard_policy("30d"));
    assert_eq!(
        env.rekeyd(&policy, &["rotate", "support-bot"]).await.code(),
        0
    );
    env.emulator
        .inject(FaultRule::new("PutSecretValue", FaultKind::MutateThenDrop).times(2))
        .unwrap();

    let out = env.rekeyd(&policy, &["rotate", "support-bot"]).await;
    out.assert_exit(0);
    assert_eq!(env.version_count("rekeyd/support-bot"), 2);
    env.assert_bot_stored();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_credential_does_not_stop_the_others() {
    let env = TestEnv::new().await;
    let text = env
        .standard_policy("30d")
        .replace(crate::util::BOT_ID, "00000000-0000-0000-0000-000000000000");
    let policy = env.write_policy(&text);

    let out = env.rekeyd(&policy, &["rotate", "--all"]).await;
    assert_eq!(out.code(), 1);
    let line = out.line_for("support-bot");
    assert!(
        line.contains("failed")
            && line.contains("00000000-0000-0000-0000-000000000000")
            && line.contains("does not exist"),
        "{line}"
    );
    assert!(out.line_for("codecommit-sofia").contains(" rotated "));
    assert!(out.line_for("stage-host-bob").contains(" rotated "));
    assert_eq!(env.version_count("rekeyd/support-bot"), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_gone_chime_endpoint_gets_a_specific_error() {
    let env = TestEnv::new().await;
    // A port that was free a moment ago: nothing listens there.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let text = env.standard_policy("30d").replace(
        "[defaults]",
        &format!("[aws.endpoints]\nchime = \"http://{closed}\"\n\n[defaults]"),
    );
    let policy = env.write_policy(&text);

    let out = env.rekeyd(&policy, &["rotate", "--all"]).await;
    assert_eq!(out.code(), 1);
    let line = out.line_for("support-bot");
    assert!(
        line.contains("end of support") && line.contains("2026-02-20"),
        "{line}"
    );
    assert!(out.line_for("codecommit-sofia").contains(" rotated "));
}

#[tokio::test(flavor = "multi_thread")]
async fn trace_logging_never_shows_a_secret() {
    let env = TestEnv::new().await;
    let policy = env.write_policy(&env.standard_policy("30d"));
    env.emulator
        .inject(FaultRule::new("PutSecretValue", FaultKind::ServerError).times(1))
        .unwrap();
    let mut outputs = Vec::new();
    let mut issued = Vec::new();
    for _ in 0..2 {
        let out = env
            .rekeyd_env(&policy, &["rotate", "--all"], &[("RUST_LOG", "trace")])
            .await;
        assert_eq!(out.code(), 0, "stderr tail:\n{}", tail(&out.stderr));
        outputs.push(out);
        issued.extend(env.issued_secrets());
    }
    issued.sort();
    issued.dedup();
    assert_eq!(issued.len(), 6, "two of each kind");
    for out in &outputs {
        assert!(out.stderr.len() > 10_000, "trace output expected");
        for secret in &issued {
            assert!(!out.stdout.contains(secret.as_str()), "secret in stdout");
            assert!(
                !out.stderr.contains(secret.as_str()),
                "secret in trace stderr"
            );
        }
    }
}

fn tail(text: &str) -> &str {
    &text[text.len().saturating_sub(3000)..]
}
