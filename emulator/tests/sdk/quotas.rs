//! Request-rate quotas seen through the SDK: each service's own throttling error once a bucket
//! is empty, nothing changed by a throttled call, and the call log counting them. Counts only:
//! the rates are so low that no bucket refills during a test.

use std::collections::BTreeMap;

use aws_sdk_secretsmanager::error::ProvideErrorMetadata;
use rekeyd_emulator::{Quota, Service};

use crate::chime::{ACCOUNT, BOT};
use crate::util::{TestEnv, token, within};

/// Three calls, then nothing for the length of any test.
fn three() -> Quota {
    Quota::per_second(0.001).burst(3.0)
}

#[tokio::test]
async fn each_service_answers_its_own_throttling_error_once_its_quota_is_spent() {
    within(async {
        let env = TestEnv::start_with_attempts(1).await;
        let stage = "arn:aws:ivs:us-west-2:123456789012:stage/abc";
        let bot = env.emulator.seed_chime_bot(ACCOUNT, BOT).unwrap();
        env.emulator.seed_stage(stage).unwrap();
        env.emulator.seed_secret("s", "v0").unwrap();
        env.emulator.seed_iam_user("sofia").unwrap();
        let all = ["iam", "chime", "ivs-realtime", "secretsmanager"];
        env.emulator
            .set_quotas(&all.iter().map(|s| (s.to_string(), three())).collect())
            .unwrap();

        for _ in 0..3 {
            env.iam()
                .get_user()
                .user_name("sofia")
                .send()
                .await
                .unwrap();
        }
        let err = env
            .iam()
            .get_user()
            .user_name("sofia")
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some("Throttling"));
        assert_eq!(err.raw_response().unwrap().status().as_u16(), 400);

        for _ in 0..3 {
            let chime = env.chime().get_bot().account_id(ACCOUNT).bot_id(BOT);
            chime.send().await.unwrap();
        }
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
        let held = env
            .emulator
            .truth()
            .chime_bot(ACCOUNT, BOT)
            .unwrap()
            .security_token
            .clone();
        assert_eq!(held, bot.security_token, "a throttled call changes nothing");

        for _ in 0..3 {
            let ivs = env.ivs().create_participant_token().stage_arn(stage);
            ivs.send().await.unwrap();
        }
        let ivs = env.ivs().create_participant_token().stage_arn(stage);
        let err = ivs.send().await.unwrap_err();
        assert_eq!(err.code(), Some("ThrottlingException"));
        assert_eq!(err.raw_response().unwrap().status().as_u16(), 429);

        for n in 1..=4 {
            let put = env
                .sm()
                .put_secret_value()
                .secret_id("s")
                .client_request_token(token(n))
                .secret_string(format!("v{n}"));
            let result = put.send().await;
            if n < 4 {
                result.unwrap();
            } else {
                let err = result.unwrap_err();
                assert_eq!(err.code(), Some("ThrottlingException"));
                assert_eq!(err.raw_response().unwrap().status().as_u16(), 400);
            }
        }
        assert_eq!(env.emulator.truth().secret("s").unwrap().versions.len(), 4);

        let calls = env.emulator.calls();
        let throttled: Vec<_> = calls.iter().filter(|c| c.throttled).collect();
        assert_eq!(throttled.len(), 4);
        assert!(throttled.iter().all(|c| !c.mutated && c.fault.is_none()));
        let summary = env.emulator.call_summary();
        for service in [
            Service::Iam,
            Service::Chime,
            Service::IvsRealtime,
            Service::Secretsmanager,
        ] {
            assert_eq!(summary[&service].calls, 4, "{service:?}");
            assert_eq!(summary[&service].throttled, 1, "{service:?}");
        }
        env.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn an_operation_quota_and_its_service_quota_both_apply() {
    within(async {
        let env = TestEnv::start_with_attempts(1).await;
        env.emulator.seed_chime_bot(ACCOUNT, BOT).unwrap();
        env.emulator.set_quota("chime", three()).unwrap();
        let one = Quota::per_second(0.001).burst(1.0);
        env.emulator.set_quota("chime:GetBot", one).unwrap();
        let get = || env.chime().get_bot().account_id(ACCOUNT).bot_id(BOT).send();
        let regenerate = || {
            env.chime()
                .regenerate_security_token()
                .account_id(ACCOUNT)
                .bot_id(BOT)
                .send()
        };
        get().await.unwrap();
        get().await.unwrap_err();
        // The refused GetBot took nothing from the service's bucket: two left.
        regenerate().await.unwrap();
        regenerate().await.unwrap();
        regenerate().await.unwrap_err();
        env.emulator.clear_quotas();
        get().await.unwrap();
        assert!(env.emulator.quotas().is_empty());
        env.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn quotas_over_http_and_in_the_seed() {
    within(async {
        let env = TestEnv::start_with_attempts(1).await;
        let put = env
            .raw(
                "POST",
                "/_emulator/quotas",
                &[],
                r#"{"secretsmanager": 50, "chime:GetBot": {"rate": 2, "burst": 1}}"#,
            )
            .await;
        assert_eq!(put.status, 200, "{}", put.body);
        assert_eq!(put.json()["secretsmanager"]["rate"], 50.0);
        assert_eq!(put.json()["secretsmanager"]["burst"], 50.0);
        assert_eq!(put.json()["chime:GetBot"]["burst"], 1.0);
        // PUT replaces them all; POST adds.
        let put = env
            .raw("PUT", "/_emulator/quotas", &[], r#"{"iam": 5}"#)
            .await;
        assert_eq!(put.status, 200, "{}", put.body);
        let listed = env.raw("GET", "/_emulator/quotas", &[], "").await.json();
        assert_eq!(listed.as_object().unwrap().len(), 1, "{listed}");
        for bad in [
            r#"{"s3": 5}"#,
            r#"{"iam": -1}"#,
            r#"{"iam": {"rate": 5, "burst": 0}}"#,
            "[]",
        ] {
            let refused = env.raw("POST", "/_emulator/quotas", &[], bad).await;
            assert_eq!(refused.status, 400, "{bad}: {}", refused.body);
        }
        let deleted = env.raw("DELETE", "/_emulator/quotas", &[], "").await;
        assert_eq!(deleted.status, 200);
        assert!(env.emulator.quotas().is_empty());

        let seeded = env
            .raw(
                "POST",
                "/_emulator/seed",
                &[],
                r#"{"quotas": {"ivs_realtime": 20}, "iam_users": ["sofia"]}"#,
            )
            .await;
        assert_eq!(seeded.status, 200, "{}", seeded.body);
        let quotas = env.emulator.quotas();
        assert_eq!(
            quotas,
            BTreeMap::from([("ivs-realtime".to_string(), Quota::per_second(20.0))])
        );
        let refused = env
            .raw("POST", "/_emulator/seed", &[], r#"{"quotas": {"nope": 1}}"#)
            .await;
        assert_eq!(refused.status, 400);

        env.iam()
            .get_user()
            .user_name("sofia")
            .send()
            .await
            .unwrap();
        let summary = env
            .raw("GET", "/_emulator/calls/summary", &[], "")
            .await
            .json();
        assert_eq!(summary["iam"]["calls"], 1, "{summary}");
        assert_eq!(summary["iam"]["throttled"], 0, "{summary}");
        let reset = env.raw("POST", "/_emulator/reset", &[], "{}").await;
        assert_eq!(reset.status, 200);
        assert!(env.emulator.quotas().is_empty(), "reset forgets quotas");
        env.shutdown().await;
    })
    .await;
}
