//! `rekeyd demo --replicas N`: N daemon processes share five credentials
//! through DynamoDB leases in the emulator; part-way through the busiest is
//! SIGKILLed and the others take over its credentials. Ends with the same
//! check as the one-replica demo, rotations per replica, double rotations
//! per slot, and the audit.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use aws_sdk_secretsmanager::config::Credentials;
use rekeyd_emulator::Emulator;
use tokio_util::sync::CancellationToken;

use super::fleet::{Fleet, Report};
use super::{ACCOUNT_ID, CREDENTIAL_ID, STAGE_ARN, doubles, final_audit, short, summary};
use crate::aws::AwsOverrides;
use crate::exit;
use crate::policy::{self, Policy};

const TABLE: &str = "rekeyd-leases";
const LEASE: &str = "10s";
/// The bots, their ids and intervals.
const BOTS: [(&str, &str, &str); 3] = [
    ("support-bot", "b0b0b0b0-0000-4000-8000-000000000002", "6s"),
    ("sales-bot", "b0b0b0b0-0000-4000-8000-000000000003", "7s"),
    ("alerts-bot", "b0b0b0b0-0000-4000-8000-000000000004", "8s"),
];
/// When the busiest replica is killed without `--for`.
const KILL_AFTER: Duration = Duration::from_secs(20);

/// Replica `replica`'s policy: the shared credentials and lease table, its
/// own state directory and replica id.
fn replica_policy(endpoint: &str, state_dir: &Path, replica: usize) -> String {
    let state_dir = state_dir.display();
    let mut text = format!(
        r#"[aws]
region = "us-east-1"
endpoint_url = "{endpoint}"

[daemon]
state_dir = "{state_dir}"

[coordination]
dynamodb_table = "{TABLE}"
lease = "{LEASE}"
replica_id = "replica-{replica}"

[defaults]
secret_prefix = "demo/"
"#
    );
    for (name, bot_id, every) in BOTS {
        text.push_str(&format!(
            "\n[[chime_bot]]\nname = \"{name}\"\naccount_id = \"{ACCOUNT_ID}\"\nbot_id = \"{bot_id}\"\nevery = \"{every}\"\n"
        ));
    }
    text.push_str(&super::iam_and_ivs_tables());
    text
}

fn seed(emulator: &Emulator) -> Result<()> {
    let seeded = BOTS
        .iter()
        .try_for_each(|(_, bot_id, _)| emulator.seed_chime_bot(ACCOUNT_ID, bot_id).map(drop))
        .and_then(|()| emulator.seed_iam_user("sofia"))
        .and_then(|()| {
            emulator
                .seed_service_credential_with_id("sofia", "codecommit.amazonaws.com", CREDENTIAL_ID)
                .map(drop)
        })
        .and_then(|()| emulator.seed_stage(STAGE_ARN))
        .and_then(|()| {
            emulator
                .seed_from_json(&format!(
                    r#"{{"dynamodb_tables": [{{"name": "{TABLE}", "partition_key": "credential"}}]}}"#
                ))
                .map(drop)
        });
    seeded.map_err(|e| anyhow::anyhow!("cannot seed the emulator: {e}"))
}

pub async fn run(
    emulator: Emulator,
    replicas: usize,
    run_for: Option<Duration>,
    shutdown: CancellationToken,
) -> Result<ExitCode> {
    seed(&emulator)?;
    // Policies and state directories live in a temporary directory, removed at the end.
    let dir = std::env::temp_dir().join(format!("rekeyd-demo-{}", std::process::id()));
    let policies = write_policies(&dir, &emulator.endpoint_url(), replicas)?;
    let text = replica_policy(&emulator.endpoint_url(), &dir.join("replica-1"), 1);
    let policy = policy::parse(&policies[0], &text)
        .map_err(|problems| anyhow::anyhow!("the demo policy is invalid:\n{problems}"))?;
    let kill_after = run_for.map_or(KILL_AFTER, |limit| limit / 3);
    super::intro_credentials(&emulator, &policy);
    println!(
        "{replicas} replicas (replica-1..replica-{replicas}) share them through leases in DynamoDB table {TABLE} (lease {LEASE});"
    );
    println!(
        "after {} the busiest is killed (SIGKILL) and the others take over",
        humantime::format_duration(kill_after)
    );
    match run_for {
        Some(limit) => println!(
            "running for {}; Ctrl-C stops sooner\n",
            humantime::format_duration(limit)
        ),
        None => println!("Ctrl-C stops\n"),
    }

    let (mut fleet, mut lines) = Fleet::start(&policies)?;
    let mut show = Show::new(replicas);
    let kill = tokio::time::sleep(kill_after);
    tokio::pin!(kill);
    let mut killed = false;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = &mut kill, if !killed => {
                killed = true;
                let victim = show.busiest();
                fleet.kill(victim).await?;
                show.killed(victim);
            }
            line = lines.recv() => match line {
                Some((replica, report)) => show.report(replica, report),
                None => break,
            },
        }
    }
    let clean = fleet.stop().await;
    let stopped_at = chrono::Utc::now();
    while let Some((replica, report)) = lines.recv().await {
        show.report(replica, report);
    }
    let _ = std::fs::remove_dir_all(&dir);

    let matched = summary(&emulator, &policy);
    let doubles = show.totals(&emulator, &policy);
    let overrides = AwsOverrides {
        credentials: Some(Credentials::new(
            "AKIDDEMO",
            "demo-secret",
            None,
            None,
            "demo",
        )),
    };
    final_audit(&policy, overrides, stopped_at).await;
    emulator.shutdown().await;
    Ok(exit::from_success(
        clean && matched && doubles == 0 && show.failures == 0,
    ))
}

/// Each replica's policy file, in its own directory that is also its state directory.
fn write_policies(dir: &Path, endpoint: &str, replicas: usize) -> Result<Vec<PathBuf>> {
    (1..=replicas)
        .map(|replica| {
            let state_dir = dir.join(format!("replica-{replica}"));
            std::fs::create_dir_all(&state_dir)
                .with_context(|| format!("cannot create {}", state_dir.display()))?;
            let path = state_dir.join("policy.toml");
            std::fs::write(&path, replica_policy(endpoint, &state_dir, replica))
                .with_context(|| format!("cannot write {}", path.display()))?;
            Ok(path)
        })
        .collect()
}

/// Prints the replicas' reports as they come and keeps the tallies: what
/// each replica rotated, and which of a killed replica's credentials no other
/// replica has rotated yet.
struct Show {
    rotations: Vec<usize>,
    failures: usize,
    rotated: Vec<BTreeSet<String>>,
    victim: Option<usize>,
    orphaned: BTreeSet<String>,
}

impl Show {
    fn new(replicas: usize) -> Show {
        Show {
            rotations: vec![0; replicas],
            failures: 0,
            rotated: vec![BTreeSet::new(); replicas],
            victim: None,
            orphaned: BTreeSet::new(),
        }
    }

    /// The replica with the most rotations so far (the first on a tie).
    fn busiest(&self) -> usize {
        let most = self.rotations.iter().max().copied().unwrap_or(0);
        self.rotations.iter().position(|&n| n == most).unwrap_or(0) + 1
    }

    fn killed(&mut self, victim: usize) {
        self.victim = Some(victim);
        self.orphaned = self.rotated[victim - 1].clone();
        let what = if self.orphaned.is_empty() {
            "nothing yet".to_owned()
        } else {
            self.orphaned
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        };
        println!(
            "{}  replica-{victim} killed (SIGKILL); it had rotated {what}",
            now()
        );
    }

    fn report(&mut self, replica: usize, report: Report) {
        let now = now();
        match report {
            Report::Rotated {
                credential,
                kind,
                version,
            } => {
                self.rotations[replica - 1] += 1;
                println!(
                    "[replica-{replica}] {now}  rotated  {credential:<18} {kind:<24} stored as version {}",
                    short(&version)
                );
                if let Some(victim) = self.victim
                    && replica != victim
                    && self.orphaned.remove(&credential)
                {
                    println!(
                        "{now}  replica-{victim} killed; replica-{replica} took over {credential}"
                    );
                }
                self.rotated[replica - 1].insert(credential);
            }
            Report::Failed { credential, error } => {
                self.failures += 1;
                println!("[replica-{replica}] {now}  FAILED   {credential:<18} {error}");
            }
            Report::TookOverLease {
                credential,
                previous_owner,
            } => println!(
                "[replica-{replica}] {now}  took over {credential}'s lease from {previous_owner} (it stopped renewing it)"
            ),
            Report::Warning { message } => {
                println!("[replica-{replica}] {now}  warning  {message}");
            }
            Report::Raw(line) => println!("[replica-{replica}] {line}"),
        }
    }

    /// Prints rotations per replica and double rotations per credential:
    /// their total.
    fn totals(&self, emulator: &Emulator, policy: &Policy) -> usize {
        println!("\nrotations per replica:");
        for (index, count) in self.rotations.iter().enumerate() {
            let replica = index + 1;
            let note = if self.victim == Some(replica) {
                " (killed part-way)"
            } else {
                ""
            };
            println!("  replica-{replica}  {count:>3}{note}");
        }
        let truth = emulator.truth();
        let mut total = 0;
        println!("\ndouble rotations (a credential rotated twice in one slot):");
        for credential in &policy.credentials {
            let count = doubles::count(&truth, credential);
            total += count;
            println!("  {:<22} {count}", credential.name.as_str());
        }
        total
    }
}

fn now() -> String {
    chrono::Utc::now().format("%H:%M:%S").to_string()
}
