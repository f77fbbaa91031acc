//! Secrets Manager through aws-sdk-secretsmanager, plus raw awsJson1_1 requests the SDK cannot make.

use aws_sdk_secretsmanager::error::ProvideErrorMetadata;
use aws_sdk_secretsmanager::types::Tag;

use crate::util::{TestEnv, token, within};

fn tag(k: &str, v: &str) -> Tag {
    Tag::builder().key(k).value(v).build()
}

#[tokio::test]
async fn create_get_describe() {
    within(async {
        let env = TestEnv::start().await;
        let sm = env.sm();
        let created = sm
            .create_secret()
            .name("rekeyd/bot")
            .client_request_token(token(1))
            .secret_string("v1")
            .kms_key_id("alias/rekeyd")
            .description("a bot")
            .tags(tag("rekeyd:kind", "chime_bot"))
            .send()
            .await
            .unwrap();
        let arn = created.arn().unwrap();
        assert!(
            arn.starts_with("arn:aws:secretsmanager:us-east-1:123456789012:secret:rekeyd/bot-")
        );
        assert_eq!(
            arn.len(),
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:rekeyd/bot-".len() + 6
        );
        assert_eq!(created.version_id(), Some(token(1).as_str()));

        let got = sm
            .get_secret_value()
            .secret_id("rekeyd/bot")
            .send()
            .await
            .unwrap();
        assert_eq!(got.secret_string(), Some("v1"));
        assert_eq!(got.version_stages(), &["AWSCURRENT".to_string()]);
        assert!(got.created_date().is_some());

        let by_arn = sm.get_secret_value().secret_id(arn).send().await.unwrap();
        assert_eq!(by_arn.secret_string(), Some("v1"));
        let partial = &arn[..arn.len() - 7];
        assert_eq!(
            sm.get_secret_value()
                .secret_id(partial)
                .send()
                .await
                .unwrap()
                .name(),
            Some("rekeyd/bot")
        );

        let d = sm
            .describe_secret()
            .secret_id("rekeyd/bot")
            .send()
            .await
            .unwrap();
        assert_eq!(d.kms_key_id(), Some("alias/rekeyd"));
        assert_eq!(d.description(), Some("a bot"));
        assert_eq!(d.tags(), &[tag("rekeyd:kind", "chime_bot")]);
        let stages = d.version_ids_to_stages().unwrap();
        assert_eq!(stages[&token(1)], vec!["AWSCURRENT".to_string()]);
        assert!(d.last_changed_date().is_some() && d.created_date().is_some());
        env.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn put_moves_current_and_previous() {
    within(async {
        let env = TestEnv::start().await;
        let seeded = env.emulator.seed_secret("s", "v0").unwrap();
        let sm = env.sm();
        for (i, value) in ["v1", "v2"].iter().enumerate() {
            let out = sm
                .put_secret_value()
                .secret_id("s")
                .client_request_token(token(i as u32 + 1))
                .secret_string(*value)
                .send()
                .await
                .unwrap();
            assert_eq!(out.version_stages(), &["AWSCURRENT".to_string()]);
        }
        let current = sm.get_secret_value().secret_id("s").send().await.unwrap();
        assert_eq!(current.secret_string(), Some("v2"));
        let previous = sm
            .get_secret_value()
            .secret_id("s")
            .version_stage("AWSPREVIOUS")
            .send()
            .await
            .unwrap();
        assert_eq!(previous.secret_string(), Some("v1"));
        let first = sm
            .get_secret_value()
            .secret_id("s")
            .version_id(&seeded.versions[0].version_id)
            .send()
            .await
            .unwrap();
        assert_eq!(first.secret_string(), Some("v0"));
        assert!(first.version_stages().is_empty());

        let labelled = sm
            .list_secret_version_ids()
            .secret_id("s")
            .send()
            .await
            .unwrap();
        assert_eq!(labelled.versions().len(), 2);
        let all = sm
            .list_secret_version_ids()
            .secret_id("s")
            .include_deprecated(true)
            .send()
            .await
            .unwrap();
        assert_eq!(all.versions().len(), 3);

        let truth = env.emulator.truth();
        let s = truth.secret("s").unwrap();
        assert_eq!(s.current().unwrap().secret_string.as_deref(), Some("v2"));
        assert_eq!(
            s.stage("AWSPREVIOUS").unwrap().client_request_token,
            token(1)
        );
        env.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn client_request_token_is_idempotent() {
    within(async {
        let env = TestEnv::start().await;
        env.emulator.seed_secret("s", "v0").unwrap();
        let sm = env.sm();
        let put = |value: &'static str| {
            sm.put_secret_value()
                .secret_id("s")
                .client_request_token(token(7))
                .secret_string(value)
                .send()
        };
        put("v1").await.unwrap();
        let before = env.emulator.truth();
        let again = put("v1").await.unwrap();
        assert_eq!(again.version_id(), Some(token(7).as_str()));
        assert_eq!(
            env.emulator.truth(),
            before,
            "a retried write changes nothing"
        );
        let last = env.emulator.calls().pop().unwrap();
        assert!(last.mutating && !last.mutated);

        let err = put("different").await.unwrap_err();
        assert!(
            err.as_service_error()
                .unwrap()
                .is_resource_exists_exception()
        );
        assert_eq!(env.emulator.truth(), before);
        env.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn existing_and_missing_secrets() {
    within(async {
        let env = TestEnv::start().await;
        env.emulator.seed_secret("s", "v0").unwrap();
        let sm = env.sm();
        let err = sm
            .create_secret()
            .name("s")
            .secret_string("x")
            .send()
            .await
            .unwrap_err();
        assert!(
            err.as_service_error()
                .unwrap()
                .is_resource_exists_exception()
        );
        assert_eq!(err.raw_response().unwrap().status().as_u16(), 400);

        let err = sm
            .get_secret_value()
            .secret_id("nope")
            .send()
            .await
            .unwrap_err();
        assert!(
            err.as_service_error()
                .unwrap()
                .is_resource_not_found_exception()
        );
        let err = sm
            .put_secret_value()
            .secret_id("nope")
            .secret_string("x")
            .send()
            .await
            .unwrap_err();
        assert!(
            err.as_service_error()
                .unwrap()
                .is_resource_not_found_exception()
        );
        let err = sm
            .describe_secret()
            .secret_id("nope")
            .send()
            .await
            .unwrap_err();
        assert!(
            err.as_service_error()
                .unwrap()
                .is_resource_not_found_exception()
        );
        let err = sm
            .get_secret_value()
            .secret_id("s")
            .version_stage("AWSPENDING")
            .send()
            .await
            .unwrap_err();
        assert!(
            err.as_service_error()
                .unwrap()
                .is_resource_not_found_exception()
        );

        let err = sm
            .create_secret()
            .name("bad name!")
            .send()
            .await
            .unwrap_err();
        assert!(
            err.as_service_error()
                .unwrap()
                .is_invalid_parameter_exception()
        );
        let err = sm
            .put_secret_value()
            .secret_id("s")
            .client_request_token("short")
            .secret_string("x")
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some("ValidationException"));
        env.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn raw_requests_the_sdk_would_not_send() {
    within(async {
        let env = TestEnv::start().await;
        env.emulator.seed_secret("s", "v").unwrap();
        let target = |op: &'static str| {
            [
                ("X-Amz-Target", op),
                ("Content-Type", "application/x-amz-json-1.1"),
            ]
        };

        let missing_token = env
            .raw(
                "POST",
                "/",
                &target("secretsmanager.PutSecretValue"),
                r#"{"SecretId":"s","SecretString":"x"}"#,
            )
            .await;
        assert_eq!(missing_token.status, 400);
        assert_eq!(
            missing_token.header("x-amzn-ErrorType"),
            Some("InvalidRequestException")
        );
        assert!(missing_token.header("x-amzn-RequestId").is_some());

        let malformed = env
            .raw(
                "POST",
                "/",
                &target("secretsmanager.GetSecretValue"),
                "{\"SecretId\":",
            )
            .await;
        assert_eq!(malformed.status, 400);
        assert_eq!(
            malformed.header("x-amzn-ErrorType"),
            Some("SerializationException")
        );

        let ok = env
            .raw(
                "POST",
                "/",
                &target("secretsmanager.GetSecretValue"),
                r#"{"SecretId":"s"}"#,
            )
            .await;
        assert_eq!(ok.status, 200);
        assert!(
            ok.json()["CreatedDate"].is_number(),
            "timestamps are epoch seconds"
        );
        assert_eq!(
            ok.header("content-type"),
            Some("application/x-amz-json-1.1")
        );
        env.shutdown().await;
    })
    .await;
}
