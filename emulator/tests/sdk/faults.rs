//! Fault injection seen through the SDK: throttling, server errors, delays, dropped connections.

use std::time::{Duration, Instant};

use rekeyd_emulator::{FaultKind, FaultRule, Service};

use crate::chime::{ACCOUNT, BOT};
use crate::util::{TestEnv, token, within};

fn calls_of(env: &TestEnv, op: &str) -> Vec<rekeyd_emulator::CallRecord> {
    env.emulator
        .calls()
        .into_iter()
        .filter(|c| c.operation == op)
        .collect()
}

#[tokio::test]
async fn throttle_once_is_retried_by_the_sdk() {
    within(async {
        let env = TestEnv::start().await;
        env.emulator.seed_secret("s", "v0").unwrap();
        env.emulator
            .inject(FaultRule::new("PutSecretValue", FaultKind::Throttle).times(1))
            .unwrap();
        env.sm()
            .put_secret_value()
            .secret_id("s")
            .client_request_token(token(1))
            .secret_string("v1")
            .send()
            .await
            .unwrap();
        let calls = calls_of(&env, "PutSecretValue");
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0].fault, Some(FaultKind::Throttle));
        assert_eq!(calls[0].status, Some(400));
        assert_eq!(calls[0].error_code.as_deref(), Some("ThrottlingException"));
        assert!(!calls[0].mutated);
        assert_eq!(calls[1].status, Some(200));
        assert_eq!(env.emulator.truth().secret("s").unwrap().versions.len(), 2);
        assert!(env.emulator.faults().is_empty(), "a spent rule is gone");

        // IAM and IVS throttling are retried as well.
        env.emulator.seed_iam_user("sofia").unwrap();
        env.emulator
            .inject(FaultRule::new("GetUser", FaultKind::Throttle).times(1))
            .unwrap();
        env.iam()
            .get_user()
            .user_name("sofia")
            .send()
            .await
            .unwrap();
        assert_eq!(
            calls_of(&env, "GetUser")[0].error_code.as_deref(),
            Some("Throttling")
        );
        let stage = "arn:aws:ivs:us-west-2:123456789012:stage/abc";
        env.emulator.seed_stage(stage).unwrap();
        env.emulator
            .inject(FaultRule::new("CreateParticipantToken", FaultKind::Throttle).times(1))
            .unwrap();
        env.ivs()
            .create_participant_token()
            .stage_arn(stage)
            .send()
            .await
            .unwrap();
        assert_eq!(
            calls_of(&env, "CreateParticipantToken")[0].status,
            Some(429)
        );
        env.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn chime_throttling_is_not_retried_by_the_sdk() {
    within(async {
        let env = TestEnv::start().await;
        let seeded = env.emulator.seed_chime_bot(ACCOUNT, BOT).unwrap();
        env.emulator
            .inject(FaultRule::new("RegenerateSecurityToken", FaultKind::Throttle).times(1))
            .unwrap();
        let err = env
            .chime()
            .regenerate_security_token()
            .account_id(ACCOUNT)
            .bot_id(BOT)
            .send()
            .await
            .unwrap_err();
        assert!(
            err.as_service_error()
                .unwrap()
                .is_throttled_client_exception()
        );
        assert_eq!(err.raw_response().unwrap().status().as_u16(), 429);
        assert_eq!(calls_of(&env, "RegenerateSecurityToken").len(), 1);
        assert_eq!(
            env.emulator
                .truth()
                .chime_bot(ACCOUNT, BOT)
                .unwrap()
                .security_token,
            seeded.security_token
        );
        env.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn server_errors_are_retried_then_surface() {
    within(async {
        let env = TestEnv::start().await;
        env.emulator.seed_secret("s", "v").unwrap();
        env.emulator
            .inject(FaultRule::new("GetSecretValue", FaultKind::ServerError).times(1))
            .unwrap();
        env.sm()
            .get_secret_value()
            .secret_id("s")
            .send()
            .await
            .unwrap();
        assert_eq!(calls_of(&env, "GetSecretValue")[0].status, Some(500));

        env.emulator
            .inject(FaultRule::new("GetSecretValue", FaultKind::ServerError))
            .unwrap();
        let err = env
            .sm()
            .get_secret_value()
            .secret_id("s")
            .send()
            .await
            .unwrap_err();
        assert!(err.as_service_error().unwrap().is_internal_service_error());
        env.emulator.clear_faults();

        env.emulator.seed_chime_bot(ACCOUNT, BOT).unwrap();
        env.emulator
            .inject(FaultRule::new("GetBot", FaultKind::ServerError))
            .unwrap();
        let err = env
            .chime()
            .get_bot()
            .account_id(ACCOUNT)
            .bot_id(BOT)
            .send()
            .await
            .unwrap_err();
        assert!(
            err.as_service_error()
                .unwrap()
                .is_service_failure_exception()
        );
        env.emulator.clear_faults();
        let mut unavailable = FaultRule::new("*", FaultKind::ServerError);
        unavailable.status = Some(503);
        env.emulator.inject(unavailable).unwrap();
        let err = env
            .chime()
            .get_bot()
            .account_id(ACCOUNT)
            .bot_id(BOT)
            .send()
            .await
            .unwrap_err();
        assert!(
            err.as_service_error()
                .unwrap()
                .is_service_unavailable_exception()
        );
        env.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn delay_slows_the_call_down() {
    within(async {
        let env = TestEnv::start().await;
        env.emulator.seed_secret("s", "v").unwrap();
        env.emulator
            .inject(FaultRule::delay("DescribeSecret", 300).times(1))
            .unwrap();
        let started = Instant::now();
        env.sm()
            .describe_secret()
            .secret_id("s")
            .send()
            .await
            .unwrap();
        assert!(started.elapsed() >= Duration::from_millis(300));
        assert_eq!(
            calls_of(&env, "DescribeSecret")[0].fault,
            Some(FaultKind::Delay)
        );
        env.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn mutate_then_drop_changes_state_and_the_retry_is_idempotent() {
    within(async {
        let env = TestEnv::start().await;
        env.emulator.seed_secret("s", "v0").unwrap();
        env.emulator
            .inject(FaultRule::new("PutSecretValue", FaultKind::MutateThenDrop).times(1))
            .unwrap();
        let out = env
            .sm()
            .put_secret_value()
            .secret_id("s")
            .client_request_token(token(3))
            .secret_string("v1")
            .send()
            .await;
        let calls = calls_of(&env, "PutSecretValue");
        assert_eq!(calls[0].fault, Some(FaultKind::MutateThenDrop));
        assert!(calls[0].mutated);
        assert_eq!(calls[0].status, None, "no answer was sent");
        // The SDK retries the dropped connection; the retry finds the version already there.
        let truth = env.emulator.truth();
        let s = truth.secret("s").unwrap();
        assert_eq!(s.versions.len(), 2);
        assert_eq!(s.current().unwrap().version_id, token(3));
        let out = out.expect("the SDK retries a dropped connection");
        assert_eq!(out.version_id(), Some(token(3).as_str()));
        assert_eq!(calls.len(), 2);
        assert!(!calls[1].mutated);
        env.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn mutate_then_drop_without_retries_loses_the_answer() {
    within(async {
        let env = TestEnv::start_with_attempts(1).await;
        let seeded = env.emulator.seed_chime_bot(ACCOUNT, BOT).unwrap();
        env.emulator
            .inject(FaultRule::new("RegenerateSecurityToken", FaultKind::MutateThenDrop).times(1))
            .unwrap();
        let err = env
            .chime()
            .regenerate_security_token()
            .account_id(ACCOUNT)
            .bot_id(BOT)
            .send()
            .await
            .unwrap_err();
        assert!(
            err.as_service_error().is_none(),
            "a dropped connection, not a service error: {err:?}"
        );
        let now = env
            .emulator
            .truth()
            .chime_bot(ACCOUNT, BOT)
            .unwrap()
            .security_token
            .clone();
        assert_ne!(
            now, seeded.security_token,
            "the token was regenerated and the new one lost"
        );

        env.emulator
            .inject(FaultRule::new("CreateSecret", FaultKind::MutateThenDrop).times(1))
            .unwrap();
        let sm = env.sm();
        assert!(
            sm.create_secret()
                .name("n")
                .secret_string("v")
                .send()
                .await
                .is_err()
        );
        assert!(env.emulator.truth().secret("n").is_some());
        let err = sm
            .create_secret()
            .name("n")
            .secret_string("v")
            .send()
            .await
            .unwrap_err();
        assert!(
            err.as_service_error()
                .unwrap()
                .is_resource_exists_exception()
        );
        env.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn unavailable_drops_without_mutating() {
    within(async {
        let env = TestEnv::start_with_attempts(1).await;
        let seeded = env.emulator.seed_chime_bot(ACCOUNT, BOT).unwrap();
        env.emulator
            .inject(FaultRule::new("*", FaultKind::Unavailable))
            .unwrap();
        let err = env
            .chime()
            .regenerate_security_token()
            .account_id(ACCOUNT)
            .bot_id(BOT)
            .send()
            .await
            .unwrap_err();
        assert!(err.as_service_error().is_none());
        assert_eq!(
            env.emulator
                .truth()
                .chime_bot(ACCOUNT, BOT)
                .unwrap()
                .security_token,
            seeded.security_token
        );
        let call = env.emulator.calls().pop().unwrap();
        assert_eq!(
            (call.service, call.fault, call.mutated, call.status),
            (Service::Chime, Some(FaultKind::Unavailable), false, None)
        );
        env.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn probability_zero_never_and_one_always_applies() {
    within(async {
        let env = TestEnv::start_with_attempts(1).await;
        env.emulator.seed_secret("s", "v").unwrap();
        env.emulator
            .inject(FaultRule::new("*", FaultKind::Throttle).probability(0.0))
            .unwrap();
        for _ in 0..5 {
            env.sm()
                .get_secret_value()
                .secret_id("s")
                .send()
                .await
                .unwrap();
        }
        env.emulator.clear_faults();
        env.emulator
            .inject(FaultRule::new("*", FaultKind::Throttle).probability(1.0))
            .unwrap();
        let err = env
            .sm()
            .get_secret_value()
            .secret_id("s")
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.raw_response().unwrap().status().as_u16(), 400);
        let throttled = env
            .emulator
            .calls()
            .iter()
            .filter(|c| c.fault == Some(FaultKind::Throttle))
            .count();
        assert_eq!(throttled, 1);
        env.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn the_call_log_names_what_each_call_addressed() {
    within(async {
        let env = TestEnv::start().await;
        env.emulator.seed_chime_bot(ACCOUNT, BOT).unwrap();
        let credential = env
            .emulator
            .seed_service_credential("sofia", "codecommit.amazonaws.com")
            .unwrap();
        env.emulator.seed_secret("rekeyd/x", "v0").unwrap();
        env.chime()
            .regenerate_security_token()
            .account_id(ACCOUNT)
            .bot_id(BOT)
            .send()
            .await
            .unwrap();
        env.iam()
            .reset_service_specific_credential()
            .user_name("sofia")
            .service_specific_credential_id(&credential.credential_id)
            .send()
            .await
            .unwrap();
        env.iam()
            .list_service_specific_credentials()
            .user_name("sofia")
            .send()
            .await
            .unwrap();
        env.sm()
            .describe_secret()
            .secret_id("rekeyd/x")
            .send()
            .await
            .unwrap();
        let named = |op: &str| calls_of(&env, op)[0].resource.clone();
        assert_eq!(named("RegenerateSecurityToken").as_deref(), Some(BOT));
        assert_eq!(
            named("ResetServiceSpecificCredential"),
            Some(credential.credential_id.clone())
        );
        assert_eq!(
            named("ListServiceSpecificCredentials").as_deref(),
            Some("sofia")
        );
        assert_eq!(named("DescribeSecret").as_deref(), Some("rekeyd/x"));
        env.shutdown().await;
    })
    .await;
}
