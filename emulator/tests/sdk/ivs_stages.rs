//! IVS real-time CreateStage and DeleteStage through the SDK.

use aws_sdk_ivsrealtime::types::ParticipantTokenConfiguration;

use crate::util::{TestEnv, within};

#[tokio::test]
async fn create_a_stage_with_a_token_then_delete_it() {
    within(async {
        let env = TestEnv::start().await;
        let ivs = env.ivs();
        let created = ivs
            .create_stage()
            .name("live-test-1")
            .tags("rekeyd:live-test", "run-1")
            .participant_token_configurations(
                ParticipantTokenConfiguration::builder()
                    .user_id("host")
                    .duration(60)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let stage = created.stage().unwrap();
        let arn = stage.arn().to_owned();
        assert!(
            arn.starts_with("arn:aws:ivs:us-east-1:123456789012:stage/"),
            "{arn}"
        );
        assert_eq!(stage.name(), Some("live-test-1"));
        assert_eq!(
            stage
                .tags()
                .unwrap()
                .get("rekeyd:live-test")
                .map(String::as_str),
            Some("run-1")
        );
        let tokens = created.participant_tokens();
        assert_eq!(tokens.len(), 1);
        assert_eq!(tokens[0].user_id(), Some("host"));
        assert!(tokens[0].token().is_some());

        let got = ivs.get_stage().arn(&arn).send().await.unwrap();
        assert_eq!(got.stage().unwrap().name(), Some("live-test-1"));
        let truth = env.emulator.truth();
        let held = truth.ivs_stages.iter().find(|s| s.arn == arn).unwrap();
        assert_eq!(held.tokens.len(), 1);

        ivs.delete_stage().arn(&arn).send().await.unwrap();
        assert!(env.emulator.truth().ivs_stages.iter().all(|s| s.arn != arn));
        let gone = ivs.delete_stage().arn(&arn).send().await.unwrap_err();
        assert!(
            gone.as_service_error()
                .unwrap()
                .is_resource_not_found_exception()
        );
        env.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_refused_token_configuration_creates_nothing() {
    within(async {
        let env = TestEnv::start().await;
        let err = env
            .ivs()
            .create_stage()
            .name("bad")
            .participant_token_configurations(
                ParticipantTokenConfiguration::builder()
                    .duration(20161)
                    .build(),
            )
            .send()
            .await
            .unwrap_err();
        assert!(err.as_service_error().unwrap().is_validation_exception());
        let bad_name = env
            .ivs()
            .create_stage()
            .name("no spaces")
            .send()
            .await
            .unwrap_err();
        assert!(
            bad_name
                .as_service_error()
                .unwrap()
                .is_validation_exception()
        );
        assert!(env.emulator.truth().ivs_stages.is_empty());
        env.shutdown().await;
    })
    .await;
}
