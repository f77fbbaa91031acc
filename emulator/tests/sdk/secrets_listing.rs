//! Secrets Manager listings, batch reads, tagging, deletion and the version limit, through the SDK.

use aws_sdk_secretsmanager::types::{Filter, FilterNameStringType, Tag};

use crate::util::{TestEnv, within};

fn tag(k: &str, v: &str) -> Tag {
    Tag::builder().key(k).value(v).build()
}

#[tokio::test]
async fn list_secrets_filters_and_pages() {
    within(async {
        let env = TestEnv::start().await;
        let sm = env.sm();
        for i in 0..5 {
            let kind = if i % 2 == 0 { "chime_bot" } else { "ivs" };
            sm.create_secret()
                .name(format!("rekeyd/{i}"))
                .secret_string("v")
                .tags(tag("rekeyd:kind", kind))
                .send()
                .await
                .unwrap();
        }
        env.emulator.seed_secret("other", "v").unwrap();
        let filter = |key: FilterNameStringType, value: &str| {
            Filter::builder().key(key).values(value).build()
        };

        let mut names = Vec::new();
        let mut next = None;
        loop {
            let page = sm
                .list_secrets()
                .filters(filter(FilterNameStringType::Name, "rekeyd/"))
                .max_results(2)
                .set_next_token(next)
                .send()
                .await
                .unwrap();
            assert!(page.secret_list().len() <= 2);
            names.extend(
                page.secret_list()
                    .iter()
                    .map(|s| s.name().unwrap().to_string()),
            );
            next = page.next_token().map(str::to_string);
            if next.is_none() {
                break;
            }
        }
        assert_eq!(
            names,
            (0..5).map(|i| format!("rekeyd/{i}")).collect::<Vec<_>>()
        );

        let chime = sm
            .list_secrets()
            .filters(filter(FilterNameStringType::TagKey, "rekeyd:kind"))
            .filters(filter(FilterNameStringType::TagValue, "chime"))
            .send()
            .await
            .unwrap();
        assert_eq!(chime.secret_list().len(), 3);
        assert!(chime.secret_list()[0].secret_versions_to_stages().is_some());

        let not_rekeyd = sm
            .list_secrets()
            .filters(filter(FilterNameStringType::Name, "!rekeyd"))
            .send()
            .await
            .unwrap();
        assert_eq!(not_rekeyd.secret_list().len(), 1);

        let err = sm
            .list_secrets()
            .next_token("garbage")
            .send()
            .await
            .unwrap_err();
        assert!(
            err.as_service_error()
                .unwrap()
                .is_invalid_next_token_exception()
        );
        env.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn batch_get_by_ids_and_filters() {
    within(async {
        let env = TestEnv::start().await;
        for i in 0..3 {
            env.emulator
                .seed_secret(&format!("b/{i}"), &format!("v{i}"))
                .unwrap();
        }
        let sm = env.sm();
        let out = sm
            .batch_get_secret_value()
            .secret_id_list("b/0")
            .secret_id_list("b/2")
            .secret_id_list("missing")
            .send()
            .await
            .unwrap();
        let values: Vec<_> = out
            .secret_values()
            .iter()
            .map(|v| v.secret_string().unwrap())
            .collect();
        assert_eq!(values, vec!["v0", "v2"]);
        assert_eq!(out.errors().len(), 1);
        assert_eq!(out.errors()[0].secret_id(), Some("missing"));
        assert_eq!(
            out.errors()[0].error_code(),
            Some("ResourceNotFoundException")
        );

        let first = sm
            .batch_get_secret_value()
            .filters(
                Filter::builder()
                    .key(FilterNameStringType::Name)
                    .values("b/")
                    .build(),
            )
            .max_results(2)
            .send()
            .await
            .unwrap();
        assert_eq!(first.secret_values().len(), 2);
        let rest = sm
            .batch_get_secret_value()
            .filters(
                Filter::builder()
                    .key(FilterNameStringType::Name)
                    .values("b/")
                    .build(),
            )
            .max_results(2)
            .next_token(first.next_token().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(rest.secret_values().len(), 1);
        assert!(rest.next_token().is_none());

        let err = sm.batch_get_secret_value().send().await.unwrap_err();
        assert!(
            err.as_service_error()
                .unwrap()
                .is_invalid_parameter_exception()
        );
        env.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn tag_and_delete() {
    within(async {
        let env = TestEnv::start().await;
        env.emulator.seed_secret("t", "v").unwrap();
        env.emulator.seed_secret("u", "v").unwrap();
        let sm = env.sm();
        sm.tag_resource()
            .secret_id("t")
            .tags(tag("rekeyd:credential", "t"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            env.emulator.truth().secret("t").unwrap().tags["rekeyd:credential"],
            "t"
        );

        let out = sm
            .delete_secret()
            .secret_id("t")
            .force_delete_without_recovery(true)
            .send()
            .await
            .unwrap();
        assert_eq!(out.name(), Some("t"));
        assert!(env.emulator.truth().secret("t").is_none());
        let err = sm
            .get_secret_value()
            .secret_id("t")
            .send()
            .await
            .unwrap_err();
        assert!(
            err.as_service_error()
                .unwrap()
                .is_resource_not_found_exception()
        );

        sm.delete_secret()
            .secret_id("u")
            .recovery_window_in_days(7)
            .send()
            .await
            .unwrap();
        let err = sm
            .get_secret_value()
            .secret_id("u")
            .send()
            .await
            .unwrap_err();
        assert!(
            err.as_service_error()
                .unwrap()
                .is_invalid_request_exception()
        );
        assert!(
            sm.describe_secret()
                .secret_id("u")
                .send()
                .await
                .unwrap()
                .deleted_date()
                .is_some()
        );
        env.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn hundred_versions_then_limit_exceeded() {
    within(async {
        let env = TestEnv::start().await;
        env.emulator.seed_secret("many", "v0").unwrap();
        let sm = env.sm();
        for i in 1..100 {
            sm.put_secret_value()
                .secret_id("many")
                .secret_string(format!("v{i}"))
                .send()
                .await
                .unwrap();
        }
        let err = sm
            .put_secret_value()
            .secret_id("many")
            .secret_string("v100")
            .send()
            .await
            .unwrap_err();
        assert!(
            err.as_service_error()
                .unwrap()
                .is_limit_exceeded_exception()
        );
        assert_eq!(
            env.emulator.truth().secret("many").unwrap().versions.len(),
            100
        );
        env.shutdown().await;
    })
    .await;
}
