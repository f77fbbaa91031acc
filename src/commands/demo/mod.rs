//! `rekeyd demo`: the whole job with no AWS account. Starts the bundled
//! emulator in-process, seeds a Chime bot, an IAM user's CodeCommit
//! credential and an IVS stage, runs the daemon on a seconds-long schedule,
//! prints each rotation as it happens, and at the end shows what Secrets
//! Manager holds (never a secret value). The bot's `on_rotate` hook reloads
//! a fake consumer ([`consumer`]), which then names the version it uses. With `--replicas N`, N daemon
//! processes share a larger policy through DynamoDB leases ([`replicas`]).

mod consumer;
mod doubles;
mod fleet;
mod replicas;

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use aws_sdk_secretsmanager::config::Credentials;
use rekeyd_emulator::Emulator;
use tokio::sync::mpsc;

use std::io::IsTerminal;

use crate::audit;
use crate::aws::{Aws, AwsOverrides};
use crate::cli::DemoArgs;
use crate::daemon::notify::Notifier;
use crate::daemon::{self, Event, Options};
use crate::policy::{self, Policy};
use crate::record::format_time;
use crate::{exit, shutdown};

pub(super) const ACCOUNT_ID: &str = "a1b2c3d4-0000-4000-8000-000000000001";
const BOT_ID: &str = "b0b0b0b0-0000-4000-8000-000000000002";
pub(super) const CREDENTIAL_ID: &str = "ACCADEMOCODECOMMIT0001";
pub(super) const STAGE_ARN: &str = "arn:aws:ivs:us-west-2:123456789012:stage/DemoStage01";

/// The demo's policy: every kind, on schedules of seconds; the bot's
/// consumer is reloaded by `on_rotate`.
fn demo_policy(endpoint: &str, state_dir: &Path, on_rotate: &[String]) -> String {
    let state_dir = state_dir.display();
    format!(
        r#"[aws]
region = "us-east-1"
endpoint_url = "{endpoint}"

[daemon]
state_dir = "{state_dir}"

[defaults]
secret_prefix = "demo/"

[[chime_bot]]
name = "support-bot"
account_id = "{ACCOUNT_ID}"
bot_id = "{BOT_ID}"
every = "7s"
on_rotate = {on_rotate:?}
hook_timeout = "5s"
{iam_and_ivs}"#,
        iam_and_ivs = iam_and_ivs_tables()
    )
}

/// The demo's IAM credential and IVS token, shared by the one-daemon and
/// the replicas' policies.
pub(super) fn iam_and_ivs_tables() -> String {
    format!(
        r#"
[[iam_service_credential]]
name = "codecommit-sofia"
user_name = "sofia"
credential_id = "{CREDENTIAL_ID}"
schedule = "*/10 * * * * *"

[[ivs_participant_token]]
name = "stage-host-bob"
stage_arn = "{STAGE_ARN}"
duration = "1m"
refresh_before = "52s"
user_id = "bob"
attributes = {{ role = "host" }}
"#
    )
}

pub async fn run(args: &DemoArgs) -> Result<ExitCode> {
    let shutdown = shutdown::on_signals().context("cannot listen for signals")?;
    if let Some(limit) = args.run_for {
        let stop = shutdown.clone();
        tokio::spawn(async move {
            tokio::time::sleep(limit).await;
            stop.cancel();
        });
    }
    let emulator = Emulator::start("127.0.0.1:0".parse().expect("literal address"))
        .await
        .context("cannot start the emulator")?;
    if args.replicas > 1 {
        let replicas = usize::from(args.replicas);
        return replicas::run(emulator, replicas, args.run_for, shutdown).await;
    }
    seed(&emulator)?;
    // The demo's journal lives in a temporary directory, removed at the end.
    let state_dir = std::env::temp_dir().join(format!("rekeyd-demo-{}", std::process::id()));
    let consumer = consumer::FakeConsumer::install(&state_dir)?;
    let text = demo_policy(&emulator.endpoint_url(), &state_dir, &consumer.on_rotate());
    let policy = policy::parse(Path::new("<demo policy>"), &text)
        .map_err(|problems| anyhow::anyhow!("the demo policy is invalid:\n{problems}"))?;
    let overrides = AwsOverrides {
        credentials: Some(Credentials::new(
            "AKIDDEMO",
            "demo-secret",
            None,
            None,
            "demo",
        )),
    };
    intro(&emulator, &policy, args.run_for);
    let (events, mut received) = mpsc::unbounded_channel();
    let printer = tokio::spawn(async move {
        while let Some(event) = received.recv().await {
            print_event(&event);
        }
    });
    let options = Options {
        policy_path: None,
        aws_overrides: overrides.clone(),
        shutdown,
        reloads: None,
        events: Some(events),
        notifier: Arc::new(Notifier::disabled()),
    };
    let stopped = daemon::run(policy.clone(), options).await;
    let stopped_at = chrono::Utc::now();
    let uses = consumer.uses();
    let _ = std::fs::remove_dir_all(&state_dir);
    let stopped = stopped?;
    printer.await.context("the event printer failed")?;
    summary(&emulator, &policy);
    consumer::report(&emulator, uses.as_deref());
    final_audit(&policy, overrides, stopped_at).await;
    emulator.shutdown().await;
    Ok(exit::from_success(stopped.abandoned.is_empty()))
}

fn seed(emulator: &Emulator) -> Result<()> {
    let seeded = emulator
        .seed_chime_bot(ACCOUNT_ID, BOT_ID)
        .map(drop)
        .and_then(|()| emulator.seed_iam_user("sofia"))
        .and_then(|()| {
            emulator
                .seed_service_credential_with_id("sofia", "codecommit.amazonaws.com", CREDENTIAL_ID)
                .map(drop)
        })
        .and_then(|()| emulator.seed_stage(STAGE_ARN));
    seeded.map_err(|e| anyhow::anyhow!("cannot seed the emulator: {e}"))
}

fn intro(emulator: &Emulator, policy: &Policy, run_for: Option<Duration>) {
    intro_credentials(emulator, policy);
    match run_for {
        Some(limit) => println!(
            "running for {}; Ctrl-C stops sooner\n",
            humantime::format_duration(limit)
        ),
        None => println!("Ctrl-C stops\n"),
    }
}

/// The emulator's address and the credentials the demo rotates.
fn intro_credentials(emulator: &Emulator, policy: &Policy) {
    println!(
        "rekeyd demo: an in-memory AWS emulator at {}",
        emulator.endpoint_url()
    );
    println!("rotating {} credentials:", policy.credentials.len());
    for credential in &policy.credentials {
        println!(
            "  {:<18} {:<24} -> secret {}",
            credential.name.as_str(),
            credential.kind().as_str(),
            credential.secret_name
        );
    }
}

fn print_event(event: &Event) {
    let now = chrono::Utc::now().format("%H:%M:%S");
    let line = match event {
        Event::Rotated {
            name,
            kind,
            rotated,
        } => {
            let mut line = format!(
                "{now}  rotated  {:<18} {:<24} stored as version {}",
                name.as_str(),
                kind.as_str(),
                short(&rotated.version_id)
            );
            if let Some(expires) = rotated.expires_at {
                line.push_str(&format!(", token expires {}", expires.format("%H:%M:%S")));
            }
            match &rotated.hook {
                Some(hook) if hook.succeeded() => {
                    line.push_str(", on_rotate reloaded its consumer");
                }
                Some(_) => line.push_str(", on_rotate FAILED"),
                None => {}
            }
            line
        }
        Event::Failed {
            name, kind, error, ..
        } => {
            format!(
                "{now}  FAILED   {:<18} {:<24} {error}",
                name.as_str(),
                kind.as_str()
            )
        }
        Event::Scheduled { name, due } => format!(
            "{now}  next     {:<18} at {} ({})",
            name.as_str(),
            due.at.format("%H:%M:%S"),
            due.reason
        ),
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// What Secrets Manager now holds, checked against what each provider
/// considers valid, without printing any secret: whether every one matched.
fn summary(emulator: &Emulator, policy: &Policy) -> bool {
    let mut all_valid = true;
    let truth = emulator.truth();
    println!("\nwhat Secrets Manager holds now:");
    println!(
        "  {:<22} {:>8}  {:<20}  {:<22}  matches the provider",
        "secret", "versions", "last rotated", "AWSCURRENT"
    );
    for credential in &policy.credentials {
        let Some(secret) = truth
            .secrets
            .iter()
            .find(|s| s.name == credential.secret_name)
        else {
            println!(
                "  {:<22} {:>8}  (not written yet)",
                credential.secret_name, 0
            );
            all_valid = false;
            continue;
        };
        let current = secret
            .versions
            .iter()
            .find(|v| v.stages.iter().any(|s| s == "AWSCURRENT"));
        let value: Option<serde_json::Value> = current
            .and_then(|v| v.secret_string.as_deref())
            .and_then(|s| serde_json::from_str(s).ok());
        let rotated_at = value
            .as_ref()
            .and_then(|v| v["rotated_at"].as_str().map(str::to_owned))
            .unwrap_or_else(|| "-".into());
        let valid = value.as_ref().is_some_and(|v| {
            let chime = truth
                .chime_bots
                .iter()
                .any(|b| v["security_token"] == b.security_token.as_str());
            let iam = truth
                .iam_credentials
                .iter()
                .any(|c| v["service_password"] == c.service_password.as_str());
            let ivs =
                truth.ivs_stages.iter().flat_map(|s| &s.tokens).any(|t| {
                    v["token"] == t.token.as_str() && t.expiration_time > chrono::Utc::now()
                });
            chime || iam || ivs
        });
        all_valid &= valid;
        println!(
            "  {:<22} {:>8}  {:<20}  {:<22}  {}",
            secret.name,
            secret.versions.len(),
            rotated_at,
            current.map_or("-".into(), |v| short(&v.version_id)),
            if valid { "yes" } else { "NO" }
        );
    }
    println!(
        "\n(checked at {}; secret values are never printed)",
        format_time(chrono::Utc::now())
    );
    all_valid
}

/// The audit a cron job would have run when the daemons stopped (the
/// schedule is seconds long: a token due a moment after the stop would
/// otherwise read `expiring`), as `rekeyd audit` prints it.
async fn final_audit(
    policy: &Policy,
    overrides: AwsOverrides,
    stopped_at: chrono::DateTime<chrono::Utc>,
) {
    let aws = Arc::new(Aws::build(&policy.aws, overrides).await);
    let options = audit::Options {
        offline: false,
        grace: Duration::from_secs(15 * 60),
        at: Some(stopped_at),
    };
    let report = audit::audit(aws, policy, &options).await;
    let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    println!(
        "\nrekeyd audit: (as of {}, when the daemons stopped)",
        crate::record::format_time(stopped_at)
    );
    print!("{}", audit::table::render(&report, colour));
}

fn short(version: &str) -> String {
    version.chars().take(8).collect()
}
