//! The fenced store: a new version goes in under AWSPENDING, and AWSCURRENT
//! moves to it only from the version that was current when the rotation
//! began. A writer that lost a race overwrites nothing; a Chime token that
//! was regenerated again after the store is caught at once (GetBot) and by
//! the audit.

use std::future::Future;
use std::path::Path;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_sdk_chime::config::{Credentials, Region};
use rekeyd_emulator::FaultRule;

use crate::util::{ACCOUNT_ID, BOT_ID, Output, TestEnv};

fn chime_client(env: &TestEnv) -> aws_sdk_chime::Client {
    let config = aws_sdk_chime::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .http_client(rekeyd::aws::https_client())
        .region(Region::new("us-east-1"))
        .endpoint_url(env.endpoint())
        .credentials_provider(Credentials::new("AKIDEXAMPLE", "x", None, None, "test"))
        .build();
    aws_sdk_chime::Client::from_conf(config)
}

/// Regenerates the bot's token as someone else would.
async fn regenerate_elsewhere(env: &TestEnv) {
    chime_client(env)
        .regenerate_security_token()
        .account_id(ACCOUNT_ID)
        .bot_id(BOT_ID)
        .send()
        .await
        .expect("regenerate");
}

/// Rotates the bot once, then again with `operation` answered 1.5 s late,
/// running `meanwhile` `after` into that second rotation; its output.
pub(crate) async fn rotate_the_bot_twice_while(
    env: &TestEnv,
    policy: &Path,
    operation: &str,
    after: Duration,
    meanwhile: impl Future<Output = ()>,
) -> Output {
    env.rekeyd(policy, &["rotate", "support-bot"])
        .await
        .assert_exit(0);
    env.emulator
        .inject(FaultRule::delay(operation, 1500).times(1))
        .unwrap();
    let rotation = env.spawn(policy, &["rotate", "support-bot"]);
    tokio::time::sleep(after).await;
    meanwhile.await;
    let out = crate::util::finish(rotation, Duration::from_secs(30)).await;
    out.assert_exit(1);
    out
}

/// Writes the bot's secret by hand, as someone else would.
pub(crate) async fn write_by_hand(client: &aws_sdk_secretsmanager::Client) {
    client
        .put_secret_value()
        .secret_id("rekeyd/support-bot")
        .secret_string("{\"written\": \"by hand\"}")
        .send()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn an_outside_write_during_a_rotation_is_never_overwritten() {
    let env = TestEnv::new().await;
    let policy = env.write_policy(&env.standard_policy("30d"));
    // The provider answers slowly; meanwhile someone writes AWSCURRENT.
    let client = crate::audit::secrets_client(&env);
    let out = rotate_the_bot_twice_while(
        &env,
        &policy,
        "RegenerateSecurityToken",
        Duration::from_millis(500),
        write_by_hand(&client),
    )
    .await;
    let line = out.line_for("support-bot");
    assert!(
        line.starts_with("support-bot: in-doubt ")
            && line.contains("secret rekeyd/support-bot: AWSCURRENT moved")
            && line.contains("nothing was overwritten"),
        "{line}"
    );
    let stages = env.secret_stages("rekeyd/support-bot");
    assert_eq!(
        stages["AWSCURRENT"]["written"], "by hand",
        "not overwritten"
    );
    // The new token is readable under AWSPENDING, and it is the bot's.
    assert_eq!(
        stages["AWSPENDING"]["security_token"],
        env.bot_token().as_str()
    );
    assert!(!out.stdout.contains(&env.bot_token()) && !out.stderr.contains(&env.bot_token()));

    // The next rotation fences against the outside version and goes through.
    env.rekeyd(&policy, &["rotate", "support-bot"])
        .await
        .assert_exit(0);
    env.assert_bot_stored();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_regenerated_again_after_the_store_is_in_doubt() {
    let env = TestEnv::new().await;
    let policy = env.write_policy(&env.standard_policy("30d"));
    // After the store rekeyd reads the bot back; the read is slow, and
    // meanwhile the token is regenerated elsewhere.
    let out = rotate_the_bot_twice_while(
        &env,
        &policy,
        "GetBot",
        Duration::from_millis(700),
        regenerate_elsewhere(&env),
    )
    .await;
    let line = out.line_for("support-bot");
    assert!(
        line.starts_with("support-bot: in-doubt ")
            && line.contains("is no longer chime bot")
            && line.contains("rekeyd/support-bot"),
        "{line}"
    );
    for secret in env.issued_secrets() {
        assert!(!out.stdout.contains(&secret) && !out.stderr.contains(&secret));
    }

    // The audit says the same of what is stored.
    let out = env.rekeyd(&policy, &["audit", "--format", "json"]).await;
    out.assert_exit(1);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let bot = crate::audit::entry(&json, "support-bot");
    assert_eq!(bot["status"], "drift", "{bot:#}");
    assert!(
        bot["detail"]
            .as_str()
            .unwrap()
            .contains("no longer chime bot"),
        "{bot:#}"
    );

    // A rotation now stores the live token, and the audit is content.
    env.rekeyd(&policy, &["rotate", "support-bot"])
        .await
        .assert_exit(0);
    env.assert_bot_stored();
    let out = env.rekeyd(&policy, &["audit", "--format", "json"]).await;
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(crate::audit::entry(&json, "support-bot")["status"], "ok");
}
