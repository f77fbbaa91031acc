//! The HTTP test controls under `/_emulator/`, driven with raw HTTP as a black-box test would.

use rekeyd_emulator::{CallRecord, FaultRule, Truth};

use crate::chime::{ACCOUNT, BOT};
use crate::util::{TestEnv, within};

const SEED: &str = r#"{
  "caller_user_name": "robot",
  "chime_bots": [{"account_id": "12a3456b-7c89-012d-3456-78901e23fg45", "bot_id": "123abcd4-5ef6-789g-0h12-34j56789012k"}],
  "iam_users": ["sofia"],
  "iam_credentials": [{"user_name": "sofia", "service_name": "codecommit.amazonaws.com", "credential_id": "ACCAEXAMPLE123EXAMPLE"}, {}],
  "ivs_stages": [{"arn": "arn:aws:ivs:us-west-2:123456789012:stage/abcdABCDefgh", "name": "main"}],
  "secrets": [{"name": "rekeyd/x", "secret_string": "{\"kind\":\"other\"}", "tags": {"owner": "someone"}}]
}"#;

#[tokio::test]
async fn seed_truth_calls_reset_over_http() {
    within(async {
        let env = TestEnv::start().await;
        let seeded = env.raw("POST", "/_emulator/seed", &[], SEED).await;
        assert_eq!(seeded.status, 200, "{}", seeded.body);
        let report = seeded.json();
        assert_eq!(
            report["iam_credentials"][0]["credential_id"],
            "ACCAEXAMPLE123EXAMPLE"
        );
        assert_eq!(
            report["iam_credentials"][1]["user_name"], "robot",
            "the caller owns credentials without a user"
        );
        assert!(report["chime_bots"][0]["security_token"].is_string());

        let truth: Truth =
            serde_json::from_str(&env.raw("GET", "/_emulator/truth", &[], "").await.body).unwrap();
        assert_eq!(
            truth.chime_bot(ACCOUNT, BOT).unwrap().security_token,
            report["chime_bots"][0]["security_token"]
        );
        assert_eq!(truth.secret("rekeyd/x").unwrap().tags["owner"], "someone");
        assert!(truth.iam_users.contains(&"robot".to_string()));

        env.chime()
            .get_bot()
            .account_id(ACCOUNT)
            .bot_id(BOT)
            .send()
            .await
            .unwrap();
        let calls: Vec<CallRecord> =
            serde_json::from_str(&env.raw("GET", "/_emulator/calls", &[], "").await.body).unwrap();
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].operation, "GetBot");
        assert!(!calls[0].mutating);

        let reset = env.raw("POST", "/_emulator/reset", &[], "").await;
        assert_eq!(reset.status, 200);
        let truth: Truth =
            serde_json::from_str(&env.raw("GET", "/_emulator/truth", &[], "").await.body).unwrap();
        assert!(
            truth.secrets.is_empty()
                && truth.chime_bots.is_empty()
                && truth.iam_credentials.is_empty()
        );
        assert!(env.emulator.calls().is_empty());
        env.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn faults_over_http() {
    within(async {
        let env = TestEnv::start().await;
        let one = env
            .raw(
                "POST",
                "/_emulator/faults",
                &[],
                r#"{"operation": "GetBot", "kind": "throttle", "times": 1}"#,
            )
            .await;
        assert_eq!(one.status, 200, "{}", one.body);
        let many = env
            .raw(
                "POST",
                "/_emulator/faults",
                &[],
                r#"[{"operation": "*", "kind": "delay", "delay_ms": 10, "probability": 0.5},
                    {"operation": "PutSecretValue", "kind": "server_error", "status": 503}]"#,
            )
            .await;
        assert_eq!(many.status, 200);
        let listed: Vec<FaultRule> = serde_json::from_value(
            env.raw("GET", "/_emulator/faults", &[], "").await.json()["faults"].clone(),
        )
        .unwrap();
        assert_eq!(listed.len(), 3);
        assert_eq!(
            env.raw("DELETE", "/_emulator/faults", &[], "").await.status,
            200
        );
        assert!(env.emulator.faults().is_empty());

        let bad = env
            .raw(
                "POST",
                "/_emulator/faults",
                &[],
                r#"{"operation": "x", "kind": "explode"}"#,
            )
            .await;
        assert_eq!(bad.status, 400);
        let bad = env
            .raw(
                "POST",
                "/_emulator/faults",
                &[],
                r#"{"operation": "x", "kind": "delay"}"#,
            )
            .await;
        assert_eq!(bad.status, 400, "delay needs delay_ms");
        env.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn bad_seeds_and_unknown_paths() {
    within(async {
        let env = TestEnv::start().await;
        let bad = env
            .raw("POST", "/_emulator/seed", &[], r#"{"bots": []}"#)
            .await;
        assert_eq!(bad.status, 400);
        assert!(bad.json()["error"].as_str().unwrap().contains("bots"));
        let refused = env
            .raw(
                "POST",
                "/_emulator/seed",
                &[],
                r#"{"iam_users": ["ok"], "chime_bots": [{"account_id": "x"}]}"#,
            )
            .await;
        assert_eq!(refused.status, 400);
        assert!(
            !env.emulator.truth().iam_users.contains(&"ok".to_string()),
            "nothing was created"
        );
        assert_eq!(
            env.raw("GET", "/_emulator/nothing", &[], "").await.status,
            404
        );

        let unknown = env.raw("GET", "/favicon.ico", &[], "").await;
        assert_eq!(unknown.status, 404);
        assert!(unknown.header("x-amzn-RequestId").is_some());
        env.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn every_answer_carries_a_request_id_and_iam_errors_are_xml() {
    within(async {
        let env = TestEnv::start().await;
        let form = [("Content-Type", "application/x-www-form-urlencoded")];
        let err = env
            .raw("POST", "/", &form, "Action=ResetServiceSpecificCredential&Version=2010-05-08&ServiceSpecificCredentialId=ACCAEXAMPLE123EXAMPLE")
            .await;
        assert_eq!(err.status, 404);
        let rid = err.header("x-amzn-RequestId").unwrap();
        assert!(err.body.contains("<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><Error><Type>Sender</Type><Code>NoSuchEntity</Code>"));
        assert!(err.body.contains(&format!("<RequestId>{rid}</RequestId>")));

        let unknown = env.raw("POST", "/", &form, "Action=DeleteRole&Version=2010-05-08").await;
        assert_eq!(unknown.status, 400);
        assert!(unknown.body.contains("<Code>InvalidAction</Code>"));

        let chime = env.raw("GET", "/accounts/x/bots/y", &[], "").await;
        assert_eq!(chime.status, 400);
        assert_eq!(chime.header("x-amzn-ErrorType"), Some("BadRequestException"));
        assert_eq!(chime.json()["Code"], "BadRequest");

        let ivs = env.raw("POST", "/CreateParticipantToken", &[("Content-Type", "application/json")], "[1,2").await;
        assert_eq!(ivs.status, 400);
        assert_eq!(ivs.header("x-amzn-ErrorType"), Some("ValidationException"));
        assert!(ivs.json()["exceptionMessage"].is_string());
        env.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn shutdown_stops_serving_but_controls_remain() {
    within(async {
        let env = TestEnv::start().await;
        let addr = env.emulator.addr();
        let controls = env.emulator.controls().clone();
        // An idle keep-alive connection must not keep the server alive.
        let idle = tokio::net::TcpStream::connect(addr).await.unwrap();
        env.shutdown().await;
        assert!(
            tokio::net::TcpStream::connect(addr).await.is_err(),
            "nothing listens after shutdown"
        );
        drop(idle);
        controls.seed_iam_user("after").unwrap();
        assert!(controls.truth().iam_users.contains(&"after".to_string()));
    })
    .await;
}
