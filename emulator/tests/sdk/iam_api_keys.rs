//! Bedrock and CloudWatch Logs API keys through aws-sdk-iam: an alias and a
//! secret instead of a user name and password, an optional expiry, `Expired`.

use aws_sdk_iam::error::ProvideErrorMetadata;
use aws_sdk_iam::types::StatusType;
use chrono::{Duration, Utc};
use rekeyd_emulator::{SeedDoc, SeedIamCredential};

use crate::util::{TestEnv, within};

const BEDROCK: &str = "bedrock.amazonaws.com";
const LOGS: &str = "logs.amazonaws.com";

fn secs(t: &aws_sdk_iam::primitives::DateTime) -> i64 {
    t.secs()
}

#[tokio::test]
async fn create_with_an_age_answers_alias_secret_and_expiry() {
    within(async {
        let env = TestEnv::start().await;
        env.emulator.seed_iam_user("ana").unwrap();
        let before = Utc::now();
        let out = env
            .iam()
            .create_service_specific_credential()
            .user_name("ana")
            .service_name(BEDROCK)
            .credential_age_days(90)
            .send()
            .await
            .unwrap();
        let key = out.service_specific_credential().unwrap();
        assert_eq!(key.service_name(), BEDROCK);
        assert_eq!(key.service_credential_alias(), Some("ana-at-123456789012"));
        let secret = key.service_credential_secret().unwrap();
        assert!(secret.starts_with("ABSK"), "a Bedrock key's shape");
        // No user name and password for an API key.
        assert_eq!((key.service_user_name(), key.service_password()), ("", ""));
        let expiry = secs(key.expiration_date().unwrap());
        let expected = (before + Duration::days(90)).timestamp();
        assert!((expiry - expected).abs() <= 2, "{expiry} vs {expected}");
        assert_eq!(key.status(), &StatusType::Active);
        let truth = env.emulator.truth();
        let stored = truth
            .iam_credential(key.service_specific_credential_id())
            .unwrap();
        assert_eq!(stored.service_credential_secret.as_deref(), Some(secret));
        env.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn reset_renews_the_secret_and_keeps_alias_and_expiry() {
    within(async {
        let env = TestEnv::start().await;
        env.emulator.seed_iam_user("ana").unwrap();
        let created = env
            .iam()
            .create_service_specific_credential()
            .user_name("ana")
            .service_name(LOGS)
            .credential_age_days(30)
            .send()
            .await
            .unwrap()
            .service_specific_credential
            .unwrap();
        let reset = env
            .iam()
            .reset_service_specific_credential()
            .user_name("ana")
            .service_specific_credential_id(&created.service_specific_credential_id)
            .send()
            .await
            .unwrap()
            .service_specific_credential
            .unwrap();
        assert_ne!(
            reset.service_credential_secret,
            created.service_credential_secret
        );
        assert!(reset.service_credential_secret.is_some());
        assert_eq!(
            reset.service_credential_alias,
            created.service_credential_alias
        );
        assert_eq!(reset.expiration_date, created.expiration_date);
        assert_eq!(reset.service_password, "");
        env.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn listing_shows_alias_and_expiry_never_the_secret_and_expired_keys() {
    within(async {
        let env = TestEnv::start().await;
        let past = Utc::now() - Duration::hours(1);
        let seeded = env
            .emulator
            .seed(&SeedDoc {
                iam_credentials: vec![SeedIamCredential {
                    user_name: Some("ana".into()),
                    service_name: Some(BEDROCK.into()),
                    expiration_date: Some(past),
                    ..Default::default()
                }],
                ..Default::default()
            })
            .unwrap();
        let id = &seeded.iam_credentials[0].credential_id;
        let listed = env
            .iam()
            .list_service_specific_credentials()
            .user_name("ana")
            .send()
            .await
            .unwrap();
        let meta = &listed.service_specific_credentials()[0];
        assert_eq!(&meta.service_specific_credential_id, id);
        assert_eq!(meta.status(), &StatusType::Expired);
        assert_eq!(meta.service_credential_alias(), Some("ana-at-123456789012"));
        assert_eq!(
            meta.expiration_date().map(secs),
            Some(past.timestamp()),
            "expiry listed"
        );
        env.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn an_age_for_a_password_service_is_refused() {
    within(async {
        let env = TestEnv::start().await;
        env.emulator.seed_iam_user("ana").unwrap();
        let err = env
            .iam()
            .create_service_specific_credential()
            .user_name("ana")
            .service_name("codecommit.amazonaws.com")
            .credential_age_days(30)
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some("InvalidInput"));
        let err = env
            .iam()
            .create_service_specific_credential()
            .user_name("ana")
            .service_name(BEDROCK)
            .credential_age_days(0)
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some("ValidationError"));
        env.shutdown().await;
    })
    .await;
}
