//! IAM service-specific credentials through aws-sdk-iam.

use aws_sdk_iam::error::ProvideErrorMetadata;
use aws_sdk_iam::types::StatusType;
use rekeyd_emulator::DEFAULT_CALLER;

use crate::util::{TestEnv, within};

const CODECOMMIT: &str = "codecommit.amazonaws.com";

#[tokio::test]
async fn reset_gives_a_new_password_under_the_same_id() {
    within(async {
        let env = TestEnv::start().await;
        let seeded = env
            .emulator
            .seed_service_credential("sofia", CODECOMMIT)
            .unwrap();
        let out = env
            .iam()
            .reset_service_specific_credential()
            .user_name("sofia")
            .service_specific_credential_id(&seeded.credential_id)
            .send()
            .await
            .unwrap();
        let c = out.service_specific_credential().unwrap();
        assert_eq!(c.service_specific_credential_id(), seeded.credential_id);
        assert_eq!(c.user_name(), "sofia");
        assert_eq!(c.service_name(), CODECOMMIT);
        assert_eq!(c.service_user_name(), "sofia-at-123456789012");
        assert_eq!(c.status(), &StatusType::Active);
        let password = c.service_password();
        assert_eq!(password.len(), 44);
        assert_ne!(password, seeded.service_password);
        let truth = env.emulator.truth();
        assert_eq!(
            truth
                .iam_credential(&seeded.credential_id)
                .unwrap()
                .service_password,
            password
        );
        env.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn reset_without_user_name_means_the_caller() {
    within(async {
        let env = TestEnv::start().await;
        let mine = env
            .emulator
            .seed_service_credential(DEFAULT_CALLER, CODECOMMIT)
            .unwrap();
        let theirs = env
            .emulator
            .seed_service_credential("sofia", CODECOMMIT)
            .unwrap();
        let out = env
            .iam()
            .reset_service_specific_credential()
            .service_specific_credential_id(&mine.credential_id)
            .send()
            .await
            .unwrap();
        assert_eq!(
            out.service_specific_credential().unwrap().user_name(),
            DEFAULT_CALLER
        );
        let err = env
            .iam()
            .reset_service_specific_credential()
            .service_specific_credential_id(&theirs.credential_id)
            .send()
            .await
            .unwrap_err();
        assert!(
            err.as_service_error()
                .unwrap()
                .is_no_such_entity_exception()
        );
        env.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn unknown_and_malformed_ids_and_names() {
    within(async {
        let env = TestEnv::start().await;
        env.emulator.seed_iam_user("sofia").unwrap();
        let iam = env.iam();
        let err = iam
            .reset_service_specific_credential()
            .user_name("sofia")
            .service_specific_credential_id("ACCAEXAMPLE123EXAMPLE")
            .send()
            .await
            .unwrap_err();
        assert!(
            err.as_service_error()
                .unwrap()
                .is_no_such_entity_exception()
        );
        assert_eq!(err.raw_response().unwrap().status().as_u16(), 404);

        let err = iam
            .reset_service_specific_credential()
            .service_specific_credential_id("not-a-credential-id!")
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some("ValidationError"));
        assert_eq!(err.raw_response().unwrap().status().as_u16(), 400);

        let err = iam
            .get_user()
            .user_name("no such user")
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some("ValidationError"));

        let err = iam.get_user().user_name("nobody").send().await.unwrap_err();
        assert!(
            err.as_service_error()
                .unwrap()
                .is_no_such_entity_exception()
        );
        env.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn create_two_then_limit_exceeded() {
    within(async {
        let env = TestEnv::start().await;
        env.emulator.seed_iam_user("sofia").unwrap();
        let iam = env.iam();
        for _ in 0..2 {
            let out = iam
                .create_service_specific_credential()
                .user_name("sofia")
                .service_name(CODECOMMIT)
                .send()
                .await
                .unwrap();
            let c = out.service_specific_credential().unwrap();
            assert!(c.service_specific_credential_id().starts_with("ACCA"));
            assert_eq!(c.service_specific_credential_id().len(), 21);
            assert!(!c.service_password().is_empty());
        }
        let err = iam
            .create_service_specific_credential()
            .user_name("sofia")
            .service_name(CODECOMMIT)
            .send()
            .await
            .unwrap_err();
        assert!(
            err.as_service_error()
                .unwrap()
                .is_limit_exceeded_exception()
        );
        assert_eq!(err.raw_response().unwrap().status().as_u16(), 409);

        let err = iam
            .create_service_specific_credential()
            .user_name("nobody")
            .service_name(CODECOMMIT)
            .send()
            .await
            .unwrap_err();
        assert!(
            err.as_service_error()
                .unwrap()
                .is_no_such_entity_exception()
        );

        // XML-unsafe text comes back intact through the escaped error message.
        let err = iam
            .create_service_specific_credential()
            .user_name("sofia")
            .service_name("<svc>&\"'")
            .send()
            .await
            .unwrap_err();
        assert!(
            err.as_service_error()
                .unwrap()
                .is_service_not_supported_exception()
        );
        assert!(err.message().unwrap().contains("<svc>&\"'"));
        env.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn list_update_delete() {
    within(async {
        let env = TestEnv::start().await;
        let a = env
            .emulator
            .seed_service_credential("sofia", CODECOMMIT)
            .unwrap();
        let b = env
            .emulator
            .seed_service_credential("sofia", "cassandra.amazonaws.com")
            .unwrap();
        let iam = env.iam();

        let all = iam
            .list_service_specific_credentials()
            .user_name("sofia")
            .send()
            .await
            .unwrap();
        let ids: Vec<&str> = all
            .service_specific_credentials()
            .iter()
            .map(|c| c.service_specific_credential_id())
            .collect();
        assert_eq!(
            ids,
            vec![a.credential_id.as_str(), b.credential_id.as_str()]
        );
        assert!(!all.is_truncated());

        let cc = iam
            .list_service_specific_credentials()
            .user_name("sofia")
            .service_name(CODECOMMIT)
            .send()
            .await
            .unwrap();
        assert_eq!(cc.service_specific_credentials().len(), 1);
        assert_eq!(
            cc.service_specific_credentials()[0].service_user_name(),
            "sofia-at-123456789012"
        );

        iam.update_service_specific_credential()
            .user_name("sofia")
            .service_specific_credential_id(&a.credential_id)
            .status(StatusType::Inactive)
            .send()
            .await
            .unwrap();
        assert_eq!(
            env.emulator
                .truth()
                .iam_credential(&a.credential_id)
                .unwrap()
                .status,
            "Inactive"
        );

        iam.delete_service_specific_credential()
            .user_name("sofia")
            .service_specific_credential_id(&a.credential_id)
            .send()
            .await
            .unwrap();
        assert!(
            env.emulator
                .truth()
                .iam_credential(&a.credential_id)
                .is_none()
        );
        let err = iam
            .delete_service_specific_credential()
            .user_name("sofia")
            .service_specific_credential_id(&a.credential_id)
            .send()
            .await
            .unwrap_err();
        assert!(
            err.as_service_error()
                .unwrap()
                .is_no_such_entity_exception()
        );
        env.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn get_user_named_and_caller() {
    within(async {
        let env = TestEnv::start().await;
        env.emulator.seed_iam_user("sofia").unwrap();
        let out = env
            .iam()
            .get_user()
            .user_name("sofia")
            .send()
            .await
            .unwrap();
        let user = out.user().unwrap();
        assert_eq!(user.user_name(), "sofia");
        assert_eq!(user.arn(), "arn:aws:iam::123456789012:user/sofia");
        assert_eq!(user.path(), "/");
        let me = env.iam().get_user().send().await.unwrap();
        assert_eq!(me.user().unwrap().user_name(), DEFAULT_CALLER);
        env.shutdown().await;
    })
    .await;
}
