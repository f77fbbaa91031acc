//! Smoke test with the AWS CLI, skipped (with a note) when `aws` is not on PATH.

use std::process::Stdio;

use serde_json::Value;
use tokio::process::Command;

use crate::util::{TestEnv, within};

fn aws_on_path() -> bool {
    std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).any(|dir| dir.join("aws").is_file()))
        .unwrap_or(false)
}

async fn aws(endpoint: &str, args: &[&str]) -> Value {
    let out = Command::new("aws")
        .arg("--endpoint-url")
        .arg(endpoint)
        .args(["--region", "us-east-1", "--output", "json"])
        .args(args)
        .env("AWS_ACCESS_KEY_ID", "AKID")
        .env("AWS_SECRET_ACCESS_KEY", "SECRET")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_PAGER", "")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .expect("run aws");
    assert!(
        out.status.success(),
        "aws {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    if out.stdout.iter().all(u8::is_ascii_whitespace) {
        // An empty answer (`{}`) prints nothing.
        return Value::Null;
    }
    serde_json::from_slice(&out.stdout).expect("aws prints JSON")
}

#[tokio::test]
async fn aws_cli_smoke() {
    if !aws_on_path() {
        eprintln!("note: skipping aws_cli_smoke: the `aws` CLI is not on PATH");
        return;
    }
    within(async {
        let env = TestEnv::start().await;
        let url = env.emulator.endpoint_url();
        let created = aws(
            &url,
            &[
                "secretsmanager",
                "create-secret",
                "--name",
                "cli/secret",
                "--secret-string",
                "hello",
            ],
        )
        .await;
        assert!(
            created["ARN"]
                .as_str()
                .unwrap()
                .contains(":secret:cli/secret-")
        );
        assert_eq!(
            env.emulator
                .truth()
                .secret("cli/secret")
                .unwrap()
                .current()
                .unwrap()
                .secret_string
                .as_deref(),
            Some("hello")
        );

        let seeded = env
            .emulator
            .seed_service_credential("sofia", "codecommit.amazonaws.com")
            .unwrap();
        let reset = aws(
            &url,
            &[
                "iam",
                "reset-service-specific-credential",
                "--user-name",
                "sofia",
                "--service-specific-credential-id",
                &seeded.credential_id,
            ],
        )
        .await;
        let password = reset["ServiceSpecificCredential"]["ServicePassword"]
            .as_str()
            .unwrap();
        assert_eq!(
            env.emulator
                .truth()
                .iam_credential(&seeded.credential_id)
                .unwrap()
                .service_password,
            password
        );
        env.shutdown().await;
    })
    .await;
}

/// The `aws dynamodb create-table` line rekeyd prints for a missing leases table works.
#[tokio::test]
async fn aws_cli_creates_the_leases_table() {
    if !aws_on_path() {
        eprintln!("note: skipping aws_cli_creates_the_leases_table: the `aws` CLI is not on PATH");
        return;
    }
    within(async {
        let env = TestEnv::start().await;
        let url = env.emulator.endpoint_url();
        let created = aws(
            &url,
            &[
                "dynamodb",
                "create-table",
                "--table-name",
                "rekeyd-leases",
                "--attribute-definitions",
                "AttributeName=credential,AttributeType=S",
                "--key-schema",
                "AttributeName=credential,KeyType=HASH",
                "--billing-mode",
                "PAY_PER_REQUEST",
            ],
        )
        .await;
        assert_eq!(created["TableDescription"]["TableStatus"], "ACTIVE");
        aws(
            &url,
            &[
                "dynamodb",
                "put-item",
                "--table-name",
                "rekeyd-leases",
                "--item",
                r#"{"credential": {"S": "support-bot"}, "owner": {"S": "cli"}}"#,
                "--condition-expression",
                "attribute_not_exists(credential)",
            ],
        )
        .await;
        let described = aws(
            &url,
            &[
                "dynamodb",
                "describe-table",
                "--table-name",
                "rekeyd-leases",
            ],
        )
        .await;
        assert_eq!(described["Table"]["ItemCount"], 1);
        assert_eq!(
            described["Table"]["KeySchema"],
            serde_json::json!([{"AttributeName": "credential", "KeyType": "HASH"}])
        );
        let truth = env.emulator.truth();
        let item = truth
            .dynamodb_table("rekeyd-leases")
            .unwrap()
            .item("support-bot")
            .unwrap();
        assert_eq!(item["owner"]["S"], "cli");
        env.shutdown().await;
    })
    .await;
}
