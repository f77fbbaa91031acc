//! Replicated chaos: three `rekeyd daemon` replicas sharing a mixed fleet
//! through DynamoDB leases, while a chaos loop SIGKILLs a random replica at
//! random moments (restarting it at once with the same state directory, as
//! systemd would) and SIGSTOPs one for longer than a lease before SIGCONT,
//! with delays, throttles and 5xx injected. The promises checked at the end:
//! every stored secret is the provider's truth, none lost, no double rotation.
//!
//! ```text
//! cargo test --release --test integration chaos_replicas -- --ignored --nocapture
//! ```
//!
//! `REPLICA_CHAOS_KILLS` (default 200) and `REPLICA_CHAOS_PAUSES` (default
//! 50) size the full run; a small run is in the default suite so the harness
//! cannot rot. `CHAOS_DEBUG=1` prints every replica's log.
//!
//! The checks, and what a *double rotation* is precisely: [`checks`].

mod checks;
mod late_token;
mod stale_holder;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use rekeyd_emulator::{FaultKind, FaultRule};

use crate::chaos::{bot_id, credential_id, stage, user};
use crate::util::{Proc, TestEnv, finish, signal, wait_until};

use checks::{
    PROVIDER_OPERATIONS, issued, problems_at_end, problems_mid_run, redone, stored_problems,
};

pub(crate) const TABLE: &str = "rekeyd-leases";
const REPLICAS: usize = 3;
/// Every credential's schedule (IVS: a 60 s token refreshed 57 s early).
const EVERY_SECS: u64 = 3;
const LEASE_SECS: u64 = 10;

/// One credential of the fleet: its name and what the call log calls it.
struct Credential {
    name: String,
    /// The `resource` values of its provider calls.
    resources: Vec<String>,
}

/// The fleet: 3 bots, 4 IAM users (reset and overlap), 2 IVS stages.
fn credentials() -> Vec<Credential> {
    let mut all = Vec::new();
    for i in 0..3 {
        all.push(Credential {
            name: format!("bot-{i}"),
            resources: vec![bot_id(i)],
        });
    }
    for i in 0..4 {
        all.push(Credential {
            name: format!("git-{i}"),
            resources: vec![user(i), credential_id(i)],
        });
    }
    for i in 0..2 {
        all.push(Credential {
            name: format!("stage-{i}"),
            resources: vec![stage(i)],
        });
    }
    all
}

/// The emulator seeded with the fleet and an empty lease table, and the
/// policy text every replica shares (without `[daemon]`/`[coordination]`).
async fn fleet() -> (TestEnv, String) {
    let env = TestEnv::new().await;
    env.emulator
        .seed_from_json(&format!(
            r#"{{"dynamodb_tables": [{{"name": "{TABLE}", "partition_key": "credential"}}]}}"#
        ))
        .unwrap();
    let mut policy = format!("\n[defaults]\nevery = \"{EVERY_SECS}s\"\n");
    let refresh_before = format!("{}s", 60 - EVERY_SECS);
    policy.push_str(&crate::chaos::seed_fleet(&env, [3, 4, 2], &refresh_before));
    (env, policy)
}

/// Replica `n`'s policy file: its own state directory and replica id.
fn replica_policy(env: &TestEnv, fleet: &str, n: usize) -> PathBuf {
    let state = env.dir.path().join(format!("state-{n}"));
    std::fs::create_dir_all(&state).unwrap();
    let text = format!(
        "{aws}\n[daemon]\nstate_dir = \"{state}\"\nshutdown_timeout = \"20s\"\n\n[coordination]\ndynamodb_table = \"{TABLE}\"\nlease = \"{LEASE_SECS}s\"\nreplica_id = \"replica-{n}\"\n{fleet}",
        aws = env.aws_table(),
        state = state.display(),
    );
    let path = env.dir.path().join(format!("policy-{n}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

/// Delays on provider and store calls, and a few throttles and 5xx on every
/// call (DynamoDB's included, so heartbeats fail too).
fn faults() -> Vec<FaultRule> {
    let mut rules: Vec<FaultRule> = PROVIDER_OPERATIONS
        .iter()
        .map(|op| FaultRule::delay(*op, 300).probability(0.5))
        .collect();
    for op in ["PutSecretValue", "UpdateSecretVersionStage"] {
        rules.push(FaultRule::delay(op, 300).probability(0.3));
    }
    rules.push(FaultRule::new("*", FaultKind::Throttle).probability(0.03));
    rules.push(FaultRule::new("*", FaultKind::ServerError).probability(0.03));
    rules
}

/// The replicas, each with the logs of its earlier (killed) lives.
struct Replicas {
    policies: Vec<PathBuf>,
    running: Vec<Proc>,
    /// When each paused replica is to be resumed.
    paused: Vec<Option<Instant>>,
    logs: Vec<String>,
}

impl Replicas {
    fn start(env: &TestEnv, fleet: &str) -> Replicas {
        let policies: Vec<_> = (1..=REPLICAS)
            .map(|n| replica_policy(env, fleet, n))
            .collect();
        let running = policies.iter().map(|p| env.spawn(p, &["daemon"])).collect();
        Replicas {
            policies,
            running,
            paused: vec![None; REPLICAS],
            logs: Vec::new(),
        }
    }

    /// SIGKILL replica `n` and start it again at once, same state directory.
    async fn kill(&mut self, env: &TestEnv, n: usize) {
        let fresh = env.spawn(&self.policies[n], &["daemon"]);
        let old = std::mem::replace(&mut self.running[n], fresh);
        signal(&old, "KILL");
        self.logs
            .push(finish(old, Duration::from_secs(10)).await.stderr);
    }

    fn pause(&mut self, n: usize, until: Instant) {
        signal(&self.running[n], "STOP");
        self.paused[n] = Some(until);
    }

    /// SIGCONT every paused replica whose time is up (all when `all`).
    fn resume_due(&mut self, all: bool) {
        for n in 0..REPLICAS {
            if self.paused[n].is_some_and(|until| all || until <= Instant::now()) {
                signal(&self.running[n], "CONT");
                self.paused[n] = None;
            }
        }
    }

    fn paused_count(&self) -> usize {
        self.paused.iter().filter(|p| p.is_some()).count()
    }

    /// SIGTERM every replica; returns every log and the exit codes.
    async fn stop(mut self) -> (Vec<String>, Vec<i32>) {
        self.resume_due(true);
        for replica in &self.running {
            signal(replica, "TERM");
        }
        let mut codes = Vec::new();
        for replica in self.running {
            let out = finish(replica, Duration::from_secs(60)).await;
            codes.push(out.code());
            self.logs.push(out.stderr);
        }
        (self.logs, codes)
    }
}

/// What a replicated chaos run did and found.
struct Run {
    kills: usize,
    pauses: usize,
    rotations: usize,
    faults: usize,
    redone: usize,
    /// Credentials whose stored secret is not the provider's live one.
    lost: usize,
    unstored: usize,
    doubles: usize,
    seconds: u64,
    problems: Vec<String>,
}

impl Run {
    fn summary(&self, label: &str) -> String {
        format!(
            "{label}: {} replicas, {} kills, {} pauses, {} rotations, {} faults injected, {} in doubt redone ({} secrets issued and superseded unstored), lost={}, doubles={}, {} s",
            REPLICAS,
            self.kills,
            self.pauses,
            self.rotations,
            self.faults,
            self.redone,
            self.unstored,
            self.lost,
            self.doubles,
            self.seconds
        )
    }
}

/// Runs chaos until `kills` kills and `pauses` pauses happened, settles, checks.
async fn chaos(kills: usize, pauses: usize) -> Run {
    let (env, fleet) = fleet().await;
    env.emulator.inject_all(faults()).unwrap();
    let started = Instant::now();
    let mut replicas = Replicas::start(&env, &fleet);
    let (mut killed, mut paused) = (0, 0);
    let mut problems = Vec::new();
    while killed < kills || paused < pauses || replicas.paused_count() > 0 {
        tokio::time::sleep(Duration::from_millis(fastrand::u64(200..1800))).await;
        replicas.resume_due(false);
        // Keep one replica running; pause when pauses lag behind kills.
        let pause = paused < pauses
            && replicas.paused_count() < REPLICAS - 1
            && (killed >= kills || paused * kills <= killed * pauses);
        let awake: Vec<usize> = (0..REPLICAS)
            .filter(|&n| replicas.paused[n].is_none())
            .collect();
        let victim = awake[fastrand::usize(..awake.len())];
        if pause {
            let secs = LEASE_SECS + 1 + fastrand::u64(0..4);
            replicas.pause(victim, Instant::now() + Duration::from_secs(secs));
            paused += 1;
        } else if killed < kills {
            replicas.kill(&env, victim).await;
            killed += 1;
        }
        for p in problems_mid_run(&env) {
            if !problems.contains(&p) {
                problems.push(p);
            }
        }
    }

    // Settle: every replica running, no faults, until nothing is in doubt.
    env.emulator.clear_faults();
    replicas.resume_due(true);
    let settled = wait_until(Duration::from_secs(120), || {
        stored_problems(&env).is_empty()
    })
    .await;
    let (logs, codes) = replicas.stop().await;
    let seconds = started.elapsed().as_secs();
    if std::env::var_os("CHAOS_DEBUG").is_some() {
        eprintln!("{}", logs.join("\n----\n"));
    }
    if !settled {
        problems.push("did not settle within 120 s".to_owned());
    }
    let lost = stored_problems(&env);
    problems.extend(lost.iter().cloned());
    problems.extend(problems_mid_run(&env));
    problems.extend(problems_at_end(&env, &logs, &codes));

    let faults = (env.emulator.calls().iter())
        .filter(|c| matches!(c.fault, Some(FaultKind::Throttle | FaultKind::ServerError)))
        .count();
    let redone_by = redone(&logs);
    let (mut rotations, mut unstored, mut doubles) = (0, 0, 0);
    for (name, count) in issued(&env) {
        let redone = redone_by.get(&name).copied().unwrap_or(0);
        let double = count.doubles(redone);
        if double > 0 {
            problems.push(format!(
                "{name}: {double} double rotations ({count:?}, {redone} in doubt redone)"
            ));
        }
        rotations += count.issued;
        unstored += count.unstored;
        doubles += double;
    }
    Run {
        kills: killed,
        pauses: paused,
        rotations,
        faults,
        redone: redone_by.values().sum(),
        lost: lost.len(),
        unstored,
        doubles,
        seconds,
        problems,
    }
}

fn from_env(key: &str, default: usize) -> usize {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::test(flavor = "multi_thread")]
async fn replica_chaos_smoke() {
    let run = chaos(6, 2).await;
    eprintln!("{}", run.summary("replica chaos smoke"));
    assert!(run.rotations > 0);
    assert_eq!((run.lost, run.doubles), (0, 0), "{:#?}", run.problems);
    assert!(run.problems.is_empty(), "{:#?}", run.problems);
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "long: run with --ignored (see the module docs)"]
async fn replica_chaos_full() {
    let run = chaos(
        from_env("REPLICA_CHAOS_KILLS", 200),
        from_env("REPLICA_CHAOS_PAUSES", 50),
    )
    .await;
    println!("{}", run.summary("replica chaos"));
    assert!(run.faults > 0);
    assert!(
        run.redone > 0,
        "some kills and pauses must land mid-rotation"
    );
    assert_eq!((run.lost, run.doubles), (0, 0), "{:#?}", run.problems);
    assert!(run.problems.is_empty(), "{:#?}", run.problems);
}
