//! Several `rekeyd daemon` replicas sharing one policy through DynamoDB
//! leases (`[coordination]`), against the emulator with provider and store
//! latency: one rotation per slot, every stored token the bot's, a killed
//! or paused replica covered for.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use rekeyd_emulator::{FaultKind, FaultRule};

use crate::moto::Moto;
use crate::util::{
    ACCOUNT_ID, CREDENTIAL_ID, Proc, STAGE_ARN, TestEnv, finish, signal, wait_until,
};

const TABLE: &str = "rekeyd-leases";
const BOTS: [&str; 3] = ["bot-a", "bot-b", "bot-c"];

/// The Chime bot id of credential `bot`.
fn bot_id(bot: &str) -> String {
    format!("123abcd4-5ef6-789g-0h12-34j5678901{}", &bot[4..5].repeat(2))
}

/// The emulator with three bots and an empty lease table.
async fn fleet() -> TestEnv {
    let env = TestEnv::new().await;
    for bot in BOTS {
        env.emulator
            .seed_chime_bot(ACCOUNT_ID, &bot_id(bot))
            .unwrap();
    }
    env.emulator
        .seed_from_json(&format!(
            r#"{{"dynamodb_tables": [{{"name": "{TABLE}", "partition_key": "credential"}}]}}"#
        ))
        .unwrap();
    env
}

fn delay(operation: &str, ms: u64, probability: Option<f64>) -> FaultRule {
    FaultRule {
        delay_ms: Some(ms),
        probability,
        ..FaultRule::new(operation, FaultKind::Delay)
    }
}

/// Replica `n`'s policy file: its own state directory and replica id.
fn replica_policy(env: &TestEnv, n: usize, lease: &str, endpoints: &str) -> PathBuf {
    let state = env.dir.path().join(format!("state-{n}"));
    std::fs::create_dir_all(&state).unwrap();
    let mut text = format!(
        "{aws}{endpoints}\n[daemon]\nstate_dir = \"{state}\"\n\n[coordination]\ndynamodb_table = \"{TABLE}\"\nlease = \"{lease}\"\nreplica_id = \"replica-{n}\"\n\n[defaults]\nevery = \"2s\"\n",
        aws = env.aws_table(),
        state = state.display(),
    );
    for bot in BOTS {
        text.push_str(&format!(
            "\n[[chime_bot]]\nname = \"{bot}\"\naccount_id = \"{ACCOUNT_ID}\"\nbot_id = \"{id}\"\n",
            id = bot_id(bot)
        ));
    }
    // A mixed fleet: an IAM credential every 2 s too, and an IVS token.
    text.push_str(&format!(
        "\n[[iam_service_credential]]\nname = \"codecommit-sofia\"\nuser_name = \"sofia\"\ncredential_id = \"{CREDENTIAL_ID}\"\n\n[[ivs_participant_token]]\nname = \"stage-host-bob\"\nstage_arn = \"{STAGE_ARN}\"\nduration = \"10m\"\n"
    ));
    let path = env.dir.path().join(format!("policy-{n}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

fn start_replicas(env: &TestEnv, lease: &str) -> Vec<Proc> {
    start_replicas_with(env, lease, "")
}

/// As [`start_replicas`], with `[aws.endpoints]` lines.
fn start_replicas_with(env: &TestEnv, lease: &str, endpoints: &str) -> Vec<Proc> {
    (1..=3)
        .map(|n| env.spawn(&replica_policy(env, n, lease, endpoints), &["daemon"]))
        .collect()
}

/// Stops every replica still running (SIGCONT first, for a paused one).
async fn stop_all(replicas: Vec<Proc>) -> Vec<String> {
    let mut logs = Vec::new();
    for replica in &replicas {
        if replica.id().is_some() {
            signal(replica, "CONT");
            signal(replica, "TERM");
        }
    }
    for replica in replicas {
        logs.push(finish(replica, Duration::from_secs(20)).await.stderr);
    }
    logs
}

/// Every bot's stored token is the one Chime holds valid now.
fn assert_tokens_live(env: &TestEnv, logs: &[String]) {
    let truth = env.truth();
    for bot in BOTS {
        let live = &truth
            .chime_bots
            .iter()
            .find(|b| b.bot_id == bot_id(bot))
            .unwrap()
            .security_token;
        let stored = env.current(&format!("rekeyd/{bot}"))["security_token"].clone();
        assert_eq!(
            stored,
            live.as_str(),
            "{bot}: the stored token is not the bot's; logs:\n{}",
            logs.join("\n----\n")
        );
    }
}

/// The lease item of `bot`, when one is held (not released): its owner.
fn holder(env: &TestEnv, bot: &str) -> Option<String> {
    let truth = env.truth();
    let item = truth.dynamodb_table(TABLE)?.item(bot)?.clone();
    let released = item["released"]["BOOL"].as_bool().unwrap_or(false);
    (!released).then(|| item["owner"]["S"].as_str().unwrap_or_default().to_owned())
}

/// How many times `bot`'s token was regenerated (the emulator's call log).
fn regenerations(env: &TestEnv, bot: &str) -> usize {
    provider_calls(env, "RegenerateSecurityToken", &bot_id(bot))
}

#[tokio::test(flavor = "multi_thread")]
async fn three_replicas_rotate_each_bot_once_per_slot() {
    let env = fleet().await;
    env.emulator
        .inject_all(vec![
            delay("PutSecretValue", 400, None),
            delay("RegenerateSecurityToken", 300, Some(0.5)),
        ])
        .unwrap();
    let started = Instant::now();
    let replicas = start_replicas(&env, "10s");
    tokio::time::sleep(Duration::from_secs(10)).await;
    let logs = stop_all(replicas).await;
    let elapsed = started.elapsed();

    assert_tokens_live(&env, &logs);
    let slots = elapsed.as_secs() as usize / 2 + 1;
    for bot in BOTS {
        let count = env.version_count(&format!("rekeyd/{bot}"));
        assert!(count >= 2, "{bot} rotated {count} times");
        // Three uncoordinated replicas would rotate each slot three times.
        assert!(
            count <= slots + 1,
            "{bot}: {count} versions in {slots} slots of 2s"
        );
        // One regeneration of this bot per slot at most (three uncoordinated
        // replicas make three), and each one stored.
        let regenerated = regenerations(&env, bot);
        assert!(
            (1..=count.min(slots + 1)).contains(&regenerated),
            "{bot}: {regenerated} regenerations, {count} stored versions, {slots} slots"
        );
    }
    // The IAM credential: the stored password is the live one, reset at
    // most once per slot, each reset stored.
    env.assert_iam_stored();
    let resets = provider_calls(&env, "ResetServiceSpecificCredential", CREDENTIAL_ID);
    let versions = env.version_count("rekeyd/codecommit-sofia");
    assert!(
        (1..=versions.min(slots + 1)).contains(&resets),
        "codecommit-sofia: {resets} resets, {versions} versions, {slots} slots"
    );
    // The IVS token (10 minutes, refreshed 33% before expiry): made once,
    // by one replica, and stored.
    assert_eq!(provider_calls(&env, "CreateParticipantToken", STAGE_ARN), 1);
    assert_eq!(
        env.ivs_tokens(),
        vec![
            env.current("rekeyd/stage-host-bob")["token"]
                .as_str()
                .unwrap()
                .to_owned()
        ]
    );
}

/// How many times `operation` acted on `resource` (the emulator's call log).
fn provider_calls(env: &TestEnv, operation: &str, resource: &str) -> usize {
    (env.emulator.calls().iter())
        .filter(|c| c.operation == operation && c.mutated)
        .filter(|c| c.resource.as_deref() == Some(resource))
        .count()
}

/// Waits for a replica to be mid-rotation (its intent in a held lease):
/// the bot and the replica's index in `replicas`.
async fn mid_rotation(env: &TestEnv) -> (&'static str, usize) {
    let mut found = None;
    let seen = wait_until(Duration::from_secs(15), || {
        let truth = env.truth();
        found = BOTS.into_iter().find_map(|bot| {
            let item = truth.dynamodb_table(TABLE)?.item(bot)?;
            let released = item["released"]["BOOL"].as_bool().unwrap_or(false);
            let owner = item["owner"]["S"].as_str()?;
            let n: usize = owner.strip_prefix("replica-")?.parse().ok()?;
            (!released && item.get("intent").is_some()).then_some((bot, n - 1))
        });
        found.is_some()
    })
    .await;
    assert!(seen, "no replica ever held a lease mid-rotation");
    found.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_replicas_leases_are_taken_over_within_a_lease() {
    let env = fleet().await;
    // Slow regenerations, so that a replica is caught mid-rotation.
    env.emulator
        .inject(delay("RegenerateSecurityToken", 2000, None))
        .unwrap();
    let mut replicas = start_replicas(&env, "10s");
    let (bot, victim) = mid_rotation(&env).await;
    let owner = format!("replica-{}", victim + 1);
    let killed = replicas.remove(victim);
    signal(&killed, "KILL");
    let killed_at = Instant::now();
    finish(killed, Duration::from_secs(5)).await;

    // One lease (10 s) plus one tick (the daemon looks again a tenth of a
    // lease, at least a second, later), and 1.5 s for the calls.
    let taken_over = wait_until(Duration::from_millis(12_500), || {
        let truth = env.truth();
        truth.dynamodb_table(TABLE).unwrap().item(bot).unwrap()["owner"]["S"] != owner.as_str()
    })
    .await;
    assert!(
        taken_over,
        "{bot}'s lease still {owner}'s {:?} after the kill",
        killed_at.elapsed()
    );
    // The rotation it left in doubt is done again, and stored.
    let before = env.version_count(&format!("rekeyd/{bot}"));
    let again = wait_until(Duration::from_secs(10), || {
        env.version_count(&format!("rekeyd/{bot}")) > before
    })
    .await;
    let logs = stop_all(replicas).await;
    assert!(again, "{bot} not rotated after the takeover");
    assert_tokens_live(&env, &logs);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replica_paused_past_its_lease_never_overwrites_a_newer_secret() {
    let env = fleet().await;
    env.emulator
        .inject(delay("RegenerateSecurityToken", 2000, None))
        .unwrap();
    let replicas = start_replicas(&env, "10s");
    let (bot, paused) = mid_rotation(&env).await;
    let owner = format!("replica-{}", paused + 1);
    signal(&replicas[paused], "STOP");
    let secret = format!("rekeyd/{bot}");
    let before = env.version_count(&secret);

    // Another replica takes the lease over and stores a newer token.
    let covered = wait_until(Duration::from_secs(25), || {
        let owner_now = holder(&env, bot);
        owner_now.is_none_or(|h| h != owner) && env.version_count(&secret) > before
    })
    .await;
    assert!(covered, "{bot} not covered for while {owner} was paused");
    signal(&replicas[paused], "CONT");
    // Time for the paused replica to finish what it was doing.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let logs = stop_all(replicas).await;
    assert!(
        logs[paused].contains("lease lost"),
        "{owner} never noticed its lease was lost:\n{}",
        logs[paused]
    );
    assert_tokens_live(&env, &logs);
}

#[tokio::test(flavor = "multi_thread")]
async fn three_replicas_share_moto_s_dynamodb_and_secrets_manager() {
    let env = fleet().await;
    let moto = Moto::start().await;
    create_table_in(&moto.endpoint).await;
    env.emulator
        .inject(delay("RegenerateSecurityToken", 300, Some(0.5)))
        .unwrap();
    let started = Instant::now();
    let endpoints = format!(
        "\n[aws.endpoints]\nsecretsmanager = \"{m}\"\ndynamodb = \"{m}\"\n",
        m = moto.endpoint
    );
    let replicas = start_replicas_with(&env, "10s", &endpoints);
    tokio::time::sleep(Duration::from_secs(8)).await;
    let logs = stop_all(replicas).await;
    let slots = started.elapsed().as_secs() as usize / 2 + 1;

    let secrets = moto.client();
    let truth = env.truth();
    for bot in BOTS {
        let secret = format!("rekeyd/{bot}");
        let current = secrets
            .get_secret_value()
            .secret_id(&secret)
            .version_stage("AWSCURRENT")
            .send()
            .await
            .unwrap();
        let stored: serde_json::Value =
            serde_json::from_str(current.secret_string().unwrap()).unwrap();
        let live = &truth
            .chime_bots
            .iter()
            .find(|b| b.bot_id == bot_id(bot))
            .unwrap()
            .security_token;
        assert_eq!(
            stored["security_token"],
            live.as_str(),
            "{bot}: the stored token is not the bot's; logs:\n{}",
            logs.join("\n----\n")
        );
        let count = secrets
            .list_secret_version_ids()
            .secret_id(&secret)
            .include_deprecated(true)
            .send()
            .await
            .unwrap()
            .versions()
            .len();
        assert!(
            (2..=slots + 1).contains(&count),
            "{bot}: {count} versions in {slots} slots of 2s"
        );
        let regenerated = regenerations(&env, bot);
        assert!(
            (1..=count.min(slots + 1)).contains(&regenerated),
            "{bot}: {regenerated} regenerations, {count} stored versions, {slots} slots"
        );
    }
}

/// The lease table, created in moto as operators create it.
async fn create_table_in(endpoint: &str) {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .http_client(rekeyd::aws::https_client())
        .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "AKIDEXAMPLE",
            "test-secret-key",
            None,
            None,
            "test",
        ))
        .build();
    let client = aws_sdk_dynamodb::Client::from_conf(config);
    crate::leases::create_lease_table(&client, TABLE).await;
}
