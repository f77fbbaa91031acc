//! IVS real-time participant tokens and stages through aws-sdk-ivsrealtime.

use std::collections::HashMap;

use aws_sdk_ivsrealtime::types::ParticipantTokenCapability;
use chrono::{Duration, Utc};

use crate::util::{TestEnv, within};

const STAGE: &str = "arn:aws:ivs:us-west-2:123456789012:stage/abcdABCDefgh";

fn expiry(t: &aws_sdk_ivsrealtime::primitives::DateTime) -> chrono::DateTime<Utc> {
    chrono::DateTime::from_timestamp(t.secs(), 0).unwrap()
}

#[tokio::test]
async fn create_token_with_defaults_is_recorded() {
    within(async {
        let env = TestEnv::start().await;
        env.emulator.seed_stage(STAGE).unwrap();
        let out = env
            .ivs()
            .create_participant_token()
            .stage_arn(STAGE)
            .send()
            .await
            .unwrap();
        let t = out.participant_token().unwrap();
        assert_eq!(t.duration(), Some(720));
        assert_eq!(
            t.capabilities(),
            &[
                ParticipantTokenCapability::Publish,
                ParticipantTokenCapability::Subscribe
            ]
        );
        let token = t.token().unwrap();
        assert_eq!(token.split('.').count(), 3);
        let expires = expiry(t.expiration_time().unwrap());
        let expected = Utc::now() + Duration::minutes(720);
        assert!((expires - expected).num_seconds().abs() < 30);
        let truth = env.emulator.truth();
        let issued = &truth.ivs_stage(STAGE).unwrap().tokens;
        assert_eq!(issued.len(), 1);
        assert_eq!(issued[0].token, token);
        assert_eq!(issued[0].expiration_time.timestamp(), expires.timestamp());
        assert_eq!(Some(issued[0].participant_id.as_str()), t.participant_id());
        env.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn create_token_with_every_input() {
    within(async {
        let env = TestEnv::start().await;
        env.emulator.seed_stage(STAGE).unwrap();
        let out = env
            .ivs()
            .create_participant_token()
            .stage_arn(STAGE)
            .duration(60)
            .user_id("bob")
            .attributes("role", "host")
            .capabilities(ParticipantTokenCapability::Publish)
            .send()
            .await
            .unwrap();
        let t = out.participant_token().unwrap();
        assert_eq!(t.user_id(), Some("bob"));
        assert_eq!(t.duration(), Some(60));
        assert_eq!(t.capabilities(), &[ParticipantTokenCapability::Publish]);
        let expected: HashMap<String, String> = [("role".to_string(), "host".to_string())].into();
        assert_eq!(t.attributes(), Some(&expected));
        env.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn invalid_inputs_and_unknown_stage() {
    within(async {
        let env = TestEnv::start().await;
        env.emulator.seed_stage(STAGE).unwrap();
        let ivs = env.ivs();
        let cases = [
            ivs.create_participant_token().stage_arn(STAGE).duration(0),
            ivs.create_participant_token()
                .stage_arn(STAGE)
                .duration(20161),
            ivs.create_participant_token()
                .stage_arn(STAGE)
                .user_id("u".repeat(129)),
            ivs.create_participant_token()
                .stage_arn(STAGE)
                .attributes("k", "v".repeat(1024)),
            ivs.create_participant_token()
                .stage_arn("arn:aws:ivs:us-west-2:123456789012:channel/x"),
        ];
        for case in cases {
            let err = case.send().await.unwrap_err();
            let service = err.as_service_error().unwrap();
            assert!(service.is_validation_exception(), "{err:?}");
            assert_eq!(err.raw_response().unwrap().status().as_u16(), 400);
        }
        let err = ivs
            .create_participant_token()
            .stage_arn("arn:aws:ivs:us-west-2:123456789012:stage/unknown")
            .send()
            .await
            .unwrap_err();
        assert!(
            err.as_service_error()
                .unwrap()
                .is_resource_not_found_exception()
        );
        assert_eq!(err.raw_response().unwrap().status().as_u16(), 404);
        env.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn attributes_exactly_one_kilobyte_are_accepted() {
    within(async {
        let env = TestEnv::start().await;
        env.emulator.seed_stage(STAGE).unwrap();
        let out = env
            .ivs()
            .create_participant_token()
            .stage_arn(STAGE)
            .attributes("k", "v".repeat(1023))
            .send()
            .await;
        assert!(out.is_ok(), "{out:?}");
        env.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn get_stage() {
    within(async {
        let env = TestEnv::start().await;
        env.emulator
            .seed_from_json(&format!(
                r#"{{"ivs_stages": [{{"arn": "{STAGE}", "name": "main"}}]}}"#
            ))
            .unwrap();
        let out = env.ivs().get_stage().arn(STAGE).send().await.unwrap();
        let stage = out.stage().unwrap();
        assert_eq!(stage.arn(), STAGE);
        assert_eq!(stage.name(), Some("main"));
        assert!(stage.endpoints().unwrap().whip().is_some());
        let err = env
            .ivs()
            .get_stage()
            .arn("arn:aws:ivs:us-west-2:123456789012:stage/nope")
            .send()
            .await
            .unwrap_err();
        assert!(
            err.as_service_error()
                .unwrap()
                .is_resource_not_found_exception()
        );
        env.shutdown().await;
    })
    .await;
}
