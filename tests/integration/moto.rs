//! The Secrets Manager side against moto, an independent implementation:
//! providers on the bundled emulator, secrets in moto.

use std::process::Stdio;
use std::time::Duration;

use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};
use tokio::io::BufReader;
use tokio::process::{Child, Command};

use crate::util::{TestEnv, read_until};

/// A moto server on 127.0.0.1 (a free port), stopped when dropped.
pub(crate) struct Moto {
    pub(crate) endpoint: String,
    _child: Child,
}

impl Moto {
    pub(crate) async fn start() -> Moto {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/moto/serve.py");
        let mut child = Command::new("python3")
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("run python3 (moto is installed by scripts/test)");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let endpoint = read_until(&mut stdout, Duration::from_secs(60), |l| l.starts_with("http://"))
            .await
            .expect("moto did not start: is it installed? (pip install 'moto[server]', or run scripts/test)")
            .trim()
            .to_owned();
        Moto {
            endpoint,
            _child: child,
        }
    }

    /// The standard policy, every `every`, with its secrets in moto.
    fn policy(&self, env: &TestEnv, every: &str) -> String {
        env.standard_policy(every).replace(
            "[defaults]",
            &format!(
                "[aws.endpoints]\nsecretsmanager = \"{}\"\n\n[defaults]",
                self.endpoint
            ),
        )
    }

    pub(crate) fn client(&self) -> aws_sdk_secretsmanager::Client {
        let config = aws_sdk_secretsmanager::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .http_client(rekeyd::aws::https_client())
            .region(Region::new("us-east-1"))
            .endpoint_url(&self.endpoint)
            .credentials_provider(Credentials::new(
                "AKIDEXAMPLE",
                "test-secret-key",
                None,
                None,
                "test",
            ))
            .build();
        aws_sdk_secretsmanager::Client::from_conf(config)
    }
}

async fn current_and_previous(
    client: &aws_sdk_secretsmanager::Client,
    secret: &str,
) -> (serde_json::Value, Option<serde_json::Value>) {
    let read = |stage: &'static str| {
        let client = client.clone();
        let secret = secret.to_owned();
        async move {
            client
                .get_secret_value()
                .secret_id(secret)
                .version_stage(stage)
                .send()
                .await
                .ok()
                .and_then(|out| out.secret_string)
                .map(|s| serde_json::from_str::<serde_json::Value>(&s).unwrap())
        }
    };
    (
        read("AWSCURRENT").await.expect("AWSCURRENT"),
        read("AWSPREVIOUS").await,
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn rotations_land_in_motos_secrets_manager() {
    let moto = Moto::start().await;
    let env = TestEnv::new().await;
    let text = moto.policy(&env, "30d");
    let policy = env.write_policy(&text);
    let client = moto.client();

    let first = env.rekeyd(&policy, &["rotate", "--all"]).await;
    first.assert_exit(0);
    let first_token = env.bot_token();
    let (current, previous) = current_and_previous(&client, "rekeyd/support-bot").await;
    assert_eq!(current["security_token"], first_token.as_str());
    assert!(previous.is_none());

    let second = env.rekeyd(&policy, &["rotate", "--all"]).await;
    assert_eq!(second.code(), 0, "stderr:\n{}", second.stderr);
    let (current, previous) = current_and_previous(&client, "rekeyd/support-bot").await;
    assert_eq!(current["security_token"], env.bot_token().as_str());
    assert_eq!(previous.unwrap()["security_token"], first_token.as_str());
    let (current, _) = current_and_previous(&client, "rekeyd/codecommit-sofia").await;
    assert_eq!(current["service_password"], env.iam_password().as_str());
    let (current, _) = current_and_previous(&client, "rekeyd/stage-host-bob").await;
    assert_eq!(
        current["token"].as_str().unwrap(),
        env.ivs_tokens().last().unwrap()
    );

    let described = client
        .describe_secret()
        .secret_id("rekeyd/support-bot")
        .send()
        .await
        .unwrap();
    let tags: Vec<(String, String)> = described
        .tags()
        .iter()
        .map(|t| {
            (
                t.key().unwrap_or_default().to_owned(),
                t.value().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert!(
        tags.contains(&("rekeyd:credential".into(), "support-bot".into())),
        "{tags:?}"
    );
    assert!(
        tags.contains(&("rekeyd:kind".into(), "chime_bot".into())),
        "{tags:?}"
    );
    let versions = client
        .list_secret_version_ids()
        .secret_id("rekeyd/support-bot")
        .send()
        .await
        .unwrap();
    assert_eq!(versions.versions().len(), 2, "one version per rotation");

    // The audit reads AWSCURRENT (not a stale default version after a stage
    // move, as moto serves it) and finds the stored token is the bot's.
    let audit = env.rekeyd(&policy, &["audit", "--format", "json"]).await;
    audit.assert_exit(0);
}

#[tokio::test(flavor = "multi_thread")]
async fn moto_refuses_a_stale_swap_too() {
    let moto = Moto::start().await;
    let env = TestEnv::new().await;
    let text = moto.policy(&env, "30d");
    let policy = env.write_policy(&text);
    let client = moto.client();
    // The provider answers slowly; meanwhile someone writes AWSCURRENT.
    let out = crate::fenced_store::rotate_the_bot_twice_while(
        &env,
        &policy,
        "RegenerateSecurityToken",
        Duration::from_millis(500),
        crate::fenced_store::write_by_hand(&client),
    )
    .await;
    assert!(
        out.line_for("support-bot")
            .contains("secret rekeyd/support-bot: AWSCURRENT moved"),
        "{}",
        out.stdout
    );
    let (current, _) = current_and_previous(&client, "rekeyd/support-bot").await;
    assert_eq!(current["written"], "by hand", "not overwritten");
    let pending = client
        .get_secret_value()
        .secret_id("rekeyd/support-bot")
        .version_stage("AWSPENDING")
        .send()
        .await
        .unwrap();
    let pending: serde_json::Value =
        serde_json::from_str(pending.secret_string().unwrap()).unwrap();
    assert_eq!(pending["security_token"], env.bot_token().as_str());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_daemon_rotates_into_moto() {
    let moto = Moto::start().await;
    let env = TestEnv::new().await;
    let text = moto.policy(&env, "2s");
    let text = text
        .split("[[ivs_participant_token]]")
        .next()
        .unwrap()
        .to_owned();
    let policy = env.write_policy(&text);
    let client = moto.client();
    let daemon = env.spawn(&policy, &["daemon"]);

    let mut rotated = false;
    for _ in 0..150 {
        let count = client
            .list_secret_version_ids()
            .secret_id("rekeyd/support-bot")
            .send()
            .await
            .map(|out| out.versions().len())
            .unwrap_or(0);
        if count >= 3 {
            rotated = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(rotated, "the daemon did not rotate three times within 30 s");
    crate::util::signal(&daemon, "TERM");
    let out = crate::util::finish(daemon, Duration::from_secs(10)).await;
    assert_eq!(out.code(), 0, "stderr:\n{}", out.stderr);
    let (current, _) = current_and_previous(&client, "rekeyd/support-bot").await;
    assert_eq!(current["security_token"], env.bot_token().as_str());
}
