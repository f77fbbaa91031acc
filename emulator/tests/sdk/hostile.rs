//! Answers that break expectations, seen through the SDK: a 200 with garbage, an empty or
//! absent secret, an IVS token already expired. The operation itself always runs.

use aws_sdk_ivsrealtime::primitives::DateTime;
use rekeyd_emulator::{FaultKind, FaultRule};

use crate::chime::{ACCOUNT, BOT};
use crate::util::{TestEnv, within};

const STAGE: &str = "arn:aws:ivs:us-west-2:123456789012:stage/hostile";

#[tokio::test]
async fn garbage_is_an_unparsable_200_after_the_operation_ran() {
    within(async {
        let env = TestEnv::start_with_attempts(1).await;
        let seeded = env.emulator.seed_chime_bot(ACCOUNT, BOT).unwrap();
        env.emulator
            .inject(FaultRule::new("RegenerateSecurityToken", FaultKind::Garbage).times(1))
            .unwrap();
        let err = env
            .chime()
            .regenerate_security_token()
            .account_id(ACCOUNT)
            .bot_id(BOT)
            .send()
            .await
            .unwrap_err();
        let raw = err.raw_response().expect("an HTTP answer came back");
        assert_eq!(raw.status().as_u16(), 200, "{err:?}");
        let truth = env.emulator.truth();
        assert_ne!(
            truth.chime_bot(ACCOUNT, BOT).unwrap().security_token,
            seeded.security_token,
            "the token was regenerated"
        );
        let call = env.emulator.calls().pop().unwrap();
        assert_eq!(
            (call.fault, call.status, call.mutated),
            (Some(FaultKind::Garbage), Some(200), true)
        );

        // IAM's XML and Secrets Manager's JSON fail to parse just the same.
        env.emulator
            .inject(FaultRule::new("*", FaultKind::Garbage).times(2))
            .unwrap();
        let err = env.iam().get_user().send().await.unwrap_err();
        assert_eq!(err.raw_response().unwrap().status().as_u16(), 200);
        let err = env
            .sm()
            .create_secret()
            .name("g")
            .secret_string("v")
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.raw_response().unwrap().status().as_u16(), 200);
        assert!(env.emulator.truth().secret("g").is_some());
        env.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn empty_and_missing_secrets_are_well_formed_answers() {
    within(async {
        let env = TestEnv::start().await;
        env.emulator.seed_chime_bot(ACCOUNT, BOT).unwrap();
        env.emulator.seed_iam_user("sofia").unwrap();
        let credential = env
            .emulator
            .seed_service_credential("sofia", "codecommit.amazonaws.com")
            .unwrap();
        env.emulator.seed_stage(STAGE).unwrap();

        for kind in [FaultKind::EmptySecret, FaultKind::MissingFields] {
            env.emulator.inject(FaultRule::new("*", kind)).unwrap();
            let bot = env
                .chime()
                .regenerate_security_token()
                .account_id(ACCOUNT)
                .bot_id(BOT)
                .send()
                .await
                .unwrap()
                .bot
                .unwrap();
            let held = env
                .emulator
                .truth()
                .chime_bot(ACCOUNT, BOT)
                .unwrap()
                .clone();
            assert!(!held.security_token.is_empty(), "Chime regenerated");
            match kind {
                FaultKind::EmptySecret => assert_eq!(bot.security_token.as_deref(), Some("")),
                _ => assert_eq!(bot.security_token, None),
            }
            assert_eq!(bot.bot_id.as_deref(), Some(BOT));

            let issued = env
                .iam()
                .reset_service_specific_credential()
                .user_name("sofia")
                .service_specific_credential_id(&credential.credential_id)
                .send()
                .await
                .unwrap()
                .service_specific_credential
                .unwrap();
            // A required member the answer lacks reads as empty, as the SDK corrects it.
            assert_eq!(issued.service_password, "");
            assert_eq!(
                issued.service_specific_credential_id,
                credential.credential_id
            );

            let token = env
                .ivs()
                .create_participant_token()
                .stage_arn(STAGE)
                .send()
                .await
                .unwrap()
                .participant_token
                .unwrap();
            match kind {
                FaultKind::EmptySecret => assert_eq!(token.token.as_deref(), Some("")),
                _ => assert_eq!(token.token, None),
            }
            assert!(token.participant_id.is_some());

            // Operations with no secret are served as usual, even under `*`.
            let bot = env
                .chime()
                .get_bot()
                .account_id(ACCOUNT)
                .bot_id(BOT)
                .send()
                .await
                .unwrap();
            assert_eq!(
                bot.bot.unwrap().security_token.as_deref(),
                Some(held.security_token.as_str())
            );
            env.emulator.clear_faults();
        }
        let truth = env.emulator.truth();
        let stage = truth.ivs_stage(STAGE).unwrap();
        assert_eq!(stage.tokens.len(), 2);
        assert!(stage.tokens.iter().all(|t| !t.token.is_empty()));
        env.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn expired_token_is_issued_already_expired() {
    within(async {
        let env = TestEnv::start().await;
        env.emulator.seed_stage(STAGE).unwrap();
        env.emulator
            .inject(FaultRule::new("CreateParticipantToken", FaultKind::ExpiredToken).times(1))
            .unwrap();
        let token = env
            .ivs()
            .create_participant_token()
            .stage_arn(STAGE)
            .duration(60)
            .send()
            .await
            .unwrap()
            .participant_token
            .unwrap();
        let now = DateTime::from(std::time::SystemTime::now());
        let expires = token.expiration_time.unwrap();
        assert!(expires.secs() < now.secs() - 3000, "{expires} vs {now}");
        assert!(!token.token.unwrap().is_empty());
        let truth = env.emulator.truth();
        let held = &truth.ivs_stage(STAGE).unwrap().tokens[0];
        assert_eq!(held.expiration_time.timestamp(), expires.secs());
        env.shutdown().await;
    })
    .await;
}
