//! IAM CreateUser, TagUser, GetUser and DeleteUser through the SDK.

use aws_sdk_iam::error::ProvideErrorMetadata;
use aws_sdk_iam::types::Tag;

use crate::util::{TestEnv, within};

fn tag(key: &str, value: &str) -> Tag {
    Tag::builder().key(key).value(value).build().unwrap()
}

#[tokio::test]
async fn create_tag_get_and_delete_a_user() {
    within(async {
        let env = TestEnv::start().await;
        let iam = env.iam();
        let created = iam
            .create_user()
            .user_name("live-test")
            .path("/rekeyd/")
            .tags(tag("rekeyd:live-test", "run-1"))
            .send()
            .await
            .unwrap();
        let user = created.user().unwrap();
        assert_eq!(user.user_name(), "live-test");
        assert_eq!(user.path(), "/rekeyd/");
        assert_eq!(
            user.arn(),
            "arn:aws:iam::123456789012:user/rekeyd/live-test"
        );
        assert_eq!(user.tags()[0].key(), "rekeyd:live-test");

        let again = iam
            .create_user()
            .user_name("live-test")
            .send()
            .await
            .unwrap_err();
        assert!(
            again
                .as_service_error()
                .unwrap()
                .is_entity_already_exists_exception()
        );

        iam.tag_user()
            .user_name("live-test")
            .tags(tag("owner", "ops"))
            .send()
            .await
            .unwrap();
        let got = iam.get_user().user_name("live-test").send().await.unwrap();
        let keys: Vec<&str> = got.user().unwrap().tags().iter().map(|t| t.key()).collect();
        assert_eq!(keys, ["rekeyd:live-test", "owner"]);

        // A user holding a service-specific credential cannot be deleted.
        let credential = iam
            .create_service_specific_credential()
            .user_name("live-test")
            .service_name("codecommit.amazonaws.com")
            .send()
            .await
            .unwrap();
        let id = credential
            .service_specific_credential()
            .unwrap()
            .service_specific_credential_id()
            .to_owned();
        let conflict = iam
            .delete_user()
            .user_name("live-test")
            .send()
            .await
            .unwrap_err();
        assert!(
            conflict
                .as_service_error()
                .unwrap()
                .is_delete_conflict_exception()
        );
        iam.delete_service_specific_credential()
            .user_name("live-test")
            .service_specific_credential_id(id)
            .send()
            .await
            .unwrap();
        iam.delete_user()
            .user_name("live-test")
            .send()
            .await
            .unwrap();
        assert!(
            !env.emulator
                .truth()
                .iam_users
                .contains(&"live-test".to_owned())
        );

        let gone = iam
            .delete_user()
            .user_name("live-test")
            .send()
            .await
            .unwrap_err();
        assert!(
            gone.as_service_error()
                .unwrap()
                .is_no_such_entity_exception()
        );
        env.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn refuses_bad_paths_duplicate_tags_and_unknown_users() {
    within(async {
        let env = TestEnv::start().await;
        let iam = env.iam();
        let bad_path = iam
            .create_user()
            .user_name("x")
            .path("no-slashes")
            .send()
            .await
            .unwrap_err();
        assert_eq!(bad_path.code(), Some("ValidationError"));
        let duplicate = iam
            .create_user()
            .user_name("x")
            .tags(tag("Team", "a"))
            .tags(tag("team", "b"))
            .send()
            .await
            .unwrap_err();
        assert!(
            duplicate
                .as_service_error()
                .unwrap()
                .is_invalid_input_exception()
        );
        let unknown = iam
            .tag_user()
            .user_name("nobody")
            .tags(tag("k", "v"))
            .send()
            .await
            .unwrap_err();
        assert!(
            unknown
                .as_service_error()
                .unwrap()
                .is_no_such_entity_exception()
        );
        assert!(!env.emulator.truth().iam_users.contains(&"x".to_owned()));
        env.shutdown().await;
    })
    .await;
}
