//! Provider and Secrets Manager answers that break expectations: a 200 with
//! garbage, an empty or absent secret, an IVS token already expired. Each
//! must fail that credential's rotation cleanly, store nothing bad, leave the
//! other credentials rotating, and print no secret.

use rekeyd_emulator::{FaultKind, FaultRule};

use crate::util::{Output, TestEnv};

/// A credential of the standard policy, its secret, the provider operation
/// that issues it, and the secret's member in the stored JSON.
struct Target {
    name: &'static str,
    secret: &'static str,
    operation: &'static str,
    member: &'static str,
}

const CHIME: Target = Target {
    name: "support-bot",
    secret: "rekeyd/support-bot",
    operation: "RegenerateSecurityToken",
    member: "security_token",
};
const IAM: Target = Target {
    name: "codecommit-sofia",
    secret: "rekeyd/codecommit-sofia",
    operation: "ResetServiceSpecificCredential",
    member: "service_password",
};
const IVS: Target = Target {
    name: "stage-host-bob",
    secret: "rekeyd/stage-host-bob",
    operation: "CreateParticipantToken",
    member: "token",
};
const ALL: [&Target; 3] = [&CHIME, &IAM, &IVS];

/// No line of `out` holds a secret value the emulator ever issued, and
/// nothing panicked.
fn assert_clean(env: &TestEnv, out: &Output) {
    for secret in env.issued_secrets() {
        assert!(
            !out.stdout.contains(&secret) && !out.stderr.contains(&secret),
            "a secret value was printed"
        );
    }
    for text in [&out.stdout, &out.stderr] {
        assert!(!text.contains("panicked"), "rekeyd panicked:\n{text}");
    }
}

/// The secret member of `target`'s stored AWSCURRENT value.
fn stored(env: &TestEnv, target: &Target) -> String {
    env.current(target.secret)[target.member]
        .as_str()
        .unwrap_or_else(|| panic!("{} has no {}", target.secret, target.member))
        .to_owned()
}

/// Rotates everything once (so every secret exists), injects `kind` on
/// `target`'s provider operation for every call, rotates everything again and
/// checks the hostile answer failed only `target`, naming `expect` (any of).
async fn provider_answer_fails_cleanly(target: &Target, kind: FaultKind, expect: &[&str]) {
    let env = TestEnv::new().await;
    let policy = env.write_policy(&env.standard_policy("30d"));
    let first = env.rekeyd(&policy, &["rotate", "--all"]).await;
    assert_eq!(first.code(), 0, "stderr:\n{}", first.stderr);
    let before = stored(&env, target);

    env.emulator
        .inject(FaultRule::new(target.operation, kind))
        .unwrap();
    let out = env.rekeyd(&policy, &["rotate", "--all"]).await;
    let context = format!(
        "{kind:?} on {}\nstdout:\n{}\nstderr:\n{}",
        target.operation, out.stdout, out.stderr
    );
    assert_eq!(out.code(), 1, "{context}");
    let line = out.line_for(target.name);
    assert!(
        line.starts_with(&format!("{}: failed ", target.name))
            || line.starts_with(&format!("{}: in-doubt ", target.name)),
        "{context}"
    );
    assert!(
        expect.iter().any(|e| line.contains(e)),
        "the line names none of {expect:?}: {context}"
    );
    assert_clean(&env, &out);

    // Nothing bad was stored: no new version, the old value kept.
    assert_eq!(env.version_count(target.secret), 1, "{context}");
    assert_eq!(stored(&env, target), before, "{context}");
    for other in ALL.iter().filter(|t| t.name != target.name) {
        assert!(out.line_for(other.name).contains(" rotated "), "{context}");
        assert_eq!(env.version_count(other.secret), 2, "{context}");
    }
    env.emulator.shutdown().await;
}

/// What an unparsable 200 is called in the result line.
const UNPARSABLE: &str = "http 200 with an answer that could not be parsed";

#[tokio::test(flavor = "multi_thread")]
async fn chime_answers_that_break_expectations() {
    // Chime regenerates in every case (the answer is what is bent): the old
    // token is dead, and nothing is stored in its place.
    provider_answer_fails_cleanly(&CHIME, FaultKind::Garbage, &[UNPARSABLE]).await;
    for kind in [FaultKind::EmptySecret, FaultKind::MissingFields] {
        provider_answer_fails_cleanly(&CHIME, kind, &["answered without a security token"]).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn iam_answers_that_break_expectations() {
    provider_answer_fails_cleanly(&IAM, FaultKind::Garbage, &[UNPARSABLE]).await;
    // The SDK reads a missing required member as empty: both are an empty password.
    for kind in [FaultKind::EmptySecret, FaultKind::MissingFields] {
        provider_answer_fails_cleanly(
            &IAM,
            kind,
            &["answered with neither a password nor an API key secret"],
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bedrock_key_reset_answered_without_its_secret_is_in_doubt() {
    let env = TestEnv::new().await;
    let key = env
        .emulator
        .seed_service_credential("ana", "bedrock.amazonaws.com")
        .unwrap();
    let policy = env.write_policy(&format!(
        "{}\n[[iam_service_credential]]\nname = \"key\"\nuser_name = \"ana\"\ncredential_id = \"{}\"\nevery = \"30d\"\n",
        env.aws_table(),
        key.credential_id
    ));
    for kind in [FaultKind::EmptySecret, FaultKind::MissingFields] {
        env.emulator.clear_faults();
        env.emulator
            .inject(FaultRule::new("ResetServiceSpecificCredential", kind))
            .unwrap();
        let out = env.rekeyd(&policy, &["rotate", "key"]).await;
        out.assert_exit(1);
        let line = out.line_for("key");
        assert!(
            line.starts_with("key: in-doubt ")
                && line.contains("answered with neither a password nor an API key secret"),
            "{kind:?}: {line}"
        );
        assert_clean(&env, &out);
        assert!(
            !env.truth().secrets.iter().any(|s| s.name == "rekeyd/key"),
            "nothing stored"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn ivs_answers_that_break_expectations() {
    provider_answer_fails_cleanly(&IVS, FaultKind::Garbage, &[UNPARSABLE]).await;
    for kind in [FaultKind::EmptySecret, FaultKind::MissingFields] {
        provider_answer_fails_cleanly(&IVS, kind, &["answered without a token"]).await;
    }
    provider_answer_fails_cleanly(&IVS, FaultKind::ExpiredToken, &["already expired"]).await;
}

/// After a run whose Secrets Manager writes were answered with garbage: every
/// line is in doubt, and what was written under `stage` is what the provider
/// issued (AWSCURRENT for a secret the write created; AWSPENDING for one it
/// added a version to, since the fenced store moves AWSCURRENT only after
/// the write answered).
fn assert_in_doubt_and_nothing_bad_stored(env: &TestEnv, out: &Output, stage: &str) {
    let context = format!("stdout:\n{}\nstderr:\n{}", out.stdout, out.stderr);
    assert_eq!(out.code(), 1, "{context}");
    for target in ALL {
        let line = out.line_for(target.name);
        assert!(
            line.starts_with(&format!("{}: in-doubt ", target.name)) && line.contains(UNPARSABLE),
            "{context}"
        );
    }
    assert_clean(env, out);
    // The garbage came after the write: the written values are the issued ones.
    let written = |target: &Target| {
        env.secret_stages(target.secret)[stage][target.member]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(written(&CHIME), env.bot_token(), "{context}");
    assert_eq!(written(&IAM), env.iam_password(), "{context}");
    assert_eq!(env.ivs_tokens().last(), Some(&written(&IVS)), "{context}");
}

#[tokio::test(flavor = "multi_thread")]
async fn secrets_manager_garbage_to_put_secret_value_is_in_doubt() {
    let env = TestEnv::new().await;
    let policy = env.write_policy(&env.standard_policy("30d"));
    assert_eq!(env.rekeyd(&policy, &["rotate", "--all"]).await.code(), 0);

    env.emulator
        .inject(FaultRule::new("PutSecretValue", FaultKind::Garbage))
        .unwrap();
    let before: Vec<String> = ALL.iter().map(|t| stored(&env, t)).collect();
    let out = env.rekeyd(&policy, &["rotate", "--all"]).await;
    assert_in_doubt_and_nothing_bad_stored(&env, &out, "AWSPENDING");
    for (target, before) in ALL.iter().zip(before) {
        assert_eq!(env.version_count(target.secret), 2, "{}", target.secret);
        // Not made current: the store stopped at its first step.
        assert_eq!(stored(&env, target), before, "{}", target.secret);
    }

    // Once Secrets Manager answers properly again, rotation goes on.
    env.emulator.clear_faults();
    let out = env.rekeyd(&policy, &["rotate", "--all"]).await;
    assert_eq!(out.code(), 0, "stderr:\n{}", out.stderr);
    assert_eq!(stored(&env, &CHIME), env.bot_token());
    for target in ALL {
        assert_eq!(env.version_count(target.secret), 3, "{}", target.secret);
    }
    env.emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn secrets_manager_garbage_to_create_secret_is_in_doubt() {
    let env = TestEnv::new().await;
    let policy = env.write_policy(&env.standard_policy("30d"));
    env.emulator
        .inject(FaultRule::new("CreateSecret", FaultKind::Garbage))
        .unwrap();
    let out = env.rekeyd(&policy, &["rotate", "--all"]).await;
    assert_in_doubt_and_nothing_bad_stored(&env, &out, "AWSCURRENT");
    for target in ALL {
        assert_eq!(env.version_count(target.secret), 1, "{}", target.secret);
    }

    env.emulator.clear_faults();
    let out = env.rekeyd(&policy, &["rotate", "--all"]).await;
    assert_eq!(out.code(), 0, "stderr:\n{}", out.stderr);
    assert_eq!(stored(&env, &IAM), env.iam_password());
    env.emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn garbage_from_every_service_fails_everything_before_any_provider_call() {
    let env = TestEnv::new().await;
    let policy = env.write_policy(&env.standard_policy("30d"));
    let token = env.bot_token();
    let password = env.iam_password();
    env.emulator
        .inject(FaultRule::new("*", FaultKind::Garbage))
        .unwrap();

    let out = env.rekeyd(&policy, &["rotate", "--all"]).await;
    let context = format!("stdout:\n{}\nstderr:\n{}", out.stdout, out.stderr);
    assert_eq!(out.code(), 1, "{context}");
    for target in ALL {
        let line = out.line_for(target.name);
        assert!(
            line.starts_with(&format!("{}: failed ", target.name)) && line.contains(UNPARSABLE),
            "{context}"
        );
    }
    assert_clean(&env, &out);
    // Reading the secret failed, so no provider was asked.
    assert_eq!((env.bot_token(), env.iam_password()), (token, password));
    assert!(env.ivs_tokens().is_empty());
    assert!(env.emulator.truth().secrets.is_empty());
    env.emulator.shutdown().await;
}
