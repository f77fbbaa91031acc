//! `secret_account` against moto, whose STS is multi-account: credentials
//! from `AssumeRole` of `arn:aws:iam::ACCOUNT:role/...` act in ACCOUNT, and
//! so does its Secrets Manager. Providers stay on the bundled emulator
//! (rekeyd's own identity); each secret must land in its account only.

use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};

use crate::moto::Moto;
use crate::util::TestEnv;

const MEDIA: &str = "111111111111";
const SECURITY: &str = "222222222222";

/// moto's Secrets Manager as `account` (through a role assumed in it), or as
/// the static test credentials (moto's default account) when `None`.
async fn secrets_as(moto: &Moto, account: Option<&str>) -> aws_sdk_secretsmanager::Client {
    let base = Credentials::new("AKIDEXAMPLE", "test-secret-key", None, None, "test");
    let credentials = match account {
        None => base,
        Some(account) => {
            let sts = aws_sdk_sts::Client::from_conf(
                aws_sdk_sts::Config::builder()
                    .behavior_version(BehaviorVersion::latest())
                    .http_client(rekeyd::aws::https_client())
                    .region(Region::new("us-east-1"))
                    .endpoint_url(&moto.endpoint)
                    .credentials_provider(base)
                    .build(),
            );
            let assumed = sts
                .assume_role()
                .role_arn(format!("arn:aws:iam::{account}:role/reader"))
                .role_session_name("test-reader")
                .send()
                .await
                .expect("moto AssumeRole");
            let c = assumed.credentials.expect("assumed credentials");
            Credentials::new(
                c.access_key_id,
                c.secret_access_key,
                Some(c.session_token),
                None,
                "assumed",
            )
        }
    };
    aws_sdk_secretsmanager::Client::from_conf(
        aws_sdk_secretsmanager::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .http_client(rekeyd::aws::https_client())
            .region(Region::new("us-east-1"))
            .endpoint_url(&moto.endpoint)
            .credentials_provider(credentials)
            .build(),
    )
}

/// The names of the secrets `client`'s account holds.
async fn secret_names(client: &aws_sdk_secretsmanager::Client) -> Vec<String> {
    let listed = client.list_secrets().send().await.expect("ListSecrets");
    let mut names: Vec<String> = listed
        .secret_list()
        .iter()
        .filter_map(|s| s.name().map(str::to_owned))
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread")]
async fn each_secret_lands_in_its_secret_account_in_moto() {
    let moto = Moto::start().await;
    let env = TestEnv::new().await;
    let accounts = format!(
        "[aws.endpoints]\nsecretsmanager = \"{m}\"\nsts = \"{m}\"\n\n\
         [accounts.media]\nrole_arn = \"arn:aws:iam::{MEDIA}:role/rekeyd-rotator\"\n\n\
         [accounts.security]\nrole_arn = \"arn:aws:iam::{SECURITY}:role/rekeyd-rotator\"\n\
         external_id = \"rekeyd-ext\"\n\n[defaults]",
        m = moto.endpoint
    );
    let text = env
        .standard_policy("30d")
        .replacen("[defaults]", &accounts, 1)
        .replace("bot_id = ", "secret_account = \"media\"\nbot_id = ")
        .replace(
            "credential_id = ",
            "secret_account = \"security\"\ncredential_id = ",
        );
    let policy = env.write_policy(&text);

    let out = env.rekeyd(&policy, &["rotate", "--all"]).await;
    out.assert_exit(0);

    let media = secrets_as(&moto, Some(MEDIA)).await;
    let security = secrets_as(&moto, Some(SECURITY)).await;
    let own = secrets_as(&moto, None).await;
    assert_eq!(secret_names(&media).await, ["rekeyd/support-bot"]);
    assert_eq!(secret_names(&security).await, ["rekeyd/codecommit-sofia"]);
    assert_eq!(secret_names(&own).await, ["rekeyd/stage-host-bob"]);

    let stored = media
        .get_secret_value()
        .secret_id("rekeyd/support-bot")
        .version_stage("AWSCURRENT")
        .send()
        .await
        .unwrap();
    let stored: serde_json::Value = serde_json::from_str(stored.secret_string().unwrap()).unwrap();
    assert_eq!(stored["security_token"], env.bot_token().as_str());
    let arn = media
        .describe_secret()
        .secret_id("rekeyd/support-bot")
        .send()
        .await
        .unwrap()
        .arn
        .unwrap();
    assert!(arn.contains(&format!(":{MEDIA}:secret:")), "{arn}");

    // The audit reads each secret back in its own account.
    let audit = env.rekeyd(&policy, &["audit", "--format", "json"]).await;
    audit.assert_exit(0);
    let report: serde_json::Value = serde_json::from_str(&audit.stdout).unwrap();
    let bot = &report["credentials"][0];
    assert_eq!(bot["secret_account"], "media", "{report:#}");
    assert_eq!(bot["account"], serde_json::Value::Null, "{report:#}");

    // check --online assumes each role (GetCallerIdentity through it).
    let check = env.rekeyd(&policy, &["check", "--online"]).await;
    check.assert_exit(0);
    assert!(
        check.stdout.contains(&format!(
            "account media: ok role arn:aws:iam::{MEDIA}:role/rekeyd-rotator assumed"
        )),
        "{}",
        check.stdout
    );
}
