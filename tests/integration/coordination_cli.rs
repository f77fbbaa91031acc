//! `[coordination]` through the commands: `check --online` confirms the lease
//! table (or prints the command that creates it), `plan` names lease
//! holders, `rotate` waits for a lease held elsewhere.

use std::time::Duration;

use rekeyd::aws::{Aws, AwsOverrides};
use rekeyd::lease::{Acquired, Leases};
use rekeyd::policy::{AwsSettings, Coordination};

use crate::util::TestEnv;

const TABLE: &str = "rekeyd-leases";

/// The standard policy (rotated daily) with `[coordination]`.
fn policy(env: &TestEnv) -> std::path::PathBuf {
    let text = format!(
        "[coordination]\ndynamodb_table = \"{TABLE}\"\nlease = \"10s\"\nreplica_id = \"cli\"\n\n{}",
        env.standard_policy("1d")
    );
    env.write_policy(&text)
}

fn seed_table(env: &TestEnv, items: &str) {
    env.emulator
        .seed_from_json(&format!(
            r#"{{"dynamodb_tables": [{{"name": "{TABLE}", "partition_key": "credential", "items": [{items}]}}]}}"#
        ))
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn check_online_confirms_the_table_or_prints_how_to_create_it() {
    let env = TestEnv::new().await;
    let policy = policy(&env);
    let out = env.rekeyd(&policy, &["check", "--online"]).await;
    out.assert_exit(1);
    assert!(
        out.stdout.contains(&format!(
            "coordination: missing dynamodb table {TABLE} (rekeyd never creates it); create it with:\n  aws dynamodb create-table --table-name {TABLE} --attribute-definitions AttributeName=credential,AttributeType=S --key-schema AttributeName=credential,KeyType=HASH --billing-mode PAY_PER_REQUEST\n"
        )),
        "{}",
        out.stdout
    );

    seed_table(&env, "");
    let out = env.rekeyd(&policy, &["check", "--online"]).await;
    out.assert_exit(0);
    assert!(
        out.stdout
            .contains("coordination: ok dynamodb table rekeyd-leases (partition key credential, String), replica cli"),
        "{}",
        out.stdout
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn check_online_refuses_a_table_keyed_otherwise() {
    let env = TestEnv::new().await;
    env.emulator
        .seed_from_json(&format!(
            r#"{{"dynamodb_tables": [{{"name": "{TABLE}", "partition_key": "id"}}]}}"#
        ))
        .unwrap();
    let out = env.rekeyd(&policy(&env), &["check", "--online"]).await;
    out.assert_exit(1);
    assert!(
        out.stdout
            .contains("coordination: wrong dynamodb table rekeyd-leases: its key is id (HASH)"),
        "{}",
        out.stdout
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn plan_names_each_lease_holder() {
    let env = TestEnv::new().await;
    seed_table(
        &env,
        r#"{"credential": {"S": "support-bot"}, "owner": {"S": "host-a"}, "lease_duration_ms": {"N": "10000"},
            "record_version_number": {"S": "r1"}, "fence": {"N": "3"}, "released": {"BOOL": false}},
           {"credential": {"S": "codecommit-sofia"}, "owner": {"S": "host-b"}, "lease_duration_ms": {"N": "10000"},
            "record_version_number": {"S": "r2"}, "fence": {"N": "1"}, "released": {"BOOL": true}}"#,
    );
    let policy = policy(&env);
    let out = env.rekeyd(&policy, &["plan"]).await;
    out.assert_exit(0);
    let row = |name: &str| {
        (out.stdout.lines())
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no row for {name}:\n{}", out.stdout))
            .to_owned()
    };
    assert!(
        row("support-bot").ends_with("; lease held by host-a"),
        "{}",
        out.stdout
    );
    assert!(!row("codecommit-sofia").contains("lease held"));
    let json = env.rekeyd(&policy, &["plan", "--format", "json"]).await;
    let plan: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(plan["credentials"][0]["lease_holder"], "host-a");
    assert_eq!(
        plan["credentials"][1]["lease_holder"],
        serde_json::Value::Null
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn rotate_takes_over_a_dead_holders_lease_and_redoes_its_rotation() {
    let env = TestEnv::new().await;
    // Left by a replica that died mid-rotation: never heartbeated again.
    seed_table(
        &env,
        r#"{"credential": {"S": "support-bot"}, "owner": {"S": "host-a"}, "lease_duration_ms": {"N": "10000"},
            "record_version_number": {"S": "r1"}, "fence": {"N": "3"},
            "intent": {"M": {"rotation": {"S": "0b7e0c1e-0000-4000-8000-000000000001"}, "replica": {"S": "host-a"},
                             "started_at": {"S": "2026-01-01T00:00:00Z"}}}}"#,
    );
    let out = env.rekeyd(&policy(&env), &["rotate", "support-bot"]).await;
    out.assert_exit(0);
    env.assert_bot_stored();
    assert!(
        out.stderr.contains("took over a stale lease"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("the lease held a rotation left in doubt"),
        "{}",
        out.stderr
    );
    let truth = env.truth();
    let item = truth
        .dynamodb_table(TABLE)
        .unwrap()
        .item("support-bot")
        .unwrap();
    assert_eq!(item["owner"]["S"], "cli");
    assert_eq!(item["released"]["BOOL"], true);
    assert_eq!(item["fence"]["N"], "4");
    assert!(item.get("intent").is_none(), "{item}");
}

#[tokio::test(flavor = "multi_thread")]
async fn rotate_waits_for_a_live_holder_then_fails_naming_it() {
    let env = TestEnv::new().await;
    seed_table(&env, "");
    let settings = AwsSettings {
        region: Some("us-east-1".into()),
        endpoint_url: Some(env.endpoint()),
        ..AwsSettings::default()
    };
    let overrides = AwsOverrides {
        credentials: Some(aws_sdk_secretsmanager::config::Credentials::new(
            "AKIDEXAMPLE",
            "x",
            None,
            None,
            "test",
        )),
    };
    let other = Leases::new(
        std::sync::Arc::new(Aws::build(&settings, overrides).await),
        &Coordination {
            dynamodb_table: TABLE.into(),
            lease: Duration::from_secs(10),
            replica_id: "host-b".into(),
            account: None,
        },
    );
    let Acquired::Held(held) = other.acquire("support-bot", Duration::ZERO).await.unwrap() else {
        panic!("the table is empty");
    };
    let before = env.bot_token();
    let out = env.rekeyd(&policy(&env), &["rotate", "support-bot"]).await;
    out.assert_exit(1);
    assert!(
        out.line_for("support-bot")
            .contains("the lease of credential support-bot is held by replica host-b"),
        "{}",
        out.stdout
    );
    assert_eq!(env.bot_token(), before, "rotated without the lease");
    held.release().await;
}
