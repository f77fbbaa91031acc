//! `rekeyd daemon`: scheduled rotations, catch-up at start, and a SIGTERM
//! that lets rotations in flight finish.

use std::time::Duration;

use rekeyd_emulator::{FaultKind, FaultRule};

use crate::util::{TestEnv, finish, signal, wait_until};

/// A policy whose chime and IAM credentials rotate every `every`.
fn chime_and_iam(env: &TestEnv, schedule_line: &str) -> String {
    let full = env.standard_policy("1h");
    let without_ivs = full
        .split("[[ivs_participant_token]]")
        .next()
        .unwrap()
        .to_owned();
    without_ivs.replace("every = \"1h\"", schedule_line)
}

#[tokio::test(flavor = "multi_thread")]
async fn rotates_on_an_interval_and_stops_on_sigterm() {
    let env = TestEnv::new().await;
    let policy = env.write_policy(&chime_and_iam(&env, "every = \"3s\""));
    let daemon = env.spawn(&policy, &["daemon"]);

    // Missing at start, so rotated at once; then every 3 s.
    let rotated_thrice = wait_until(Duration::from_secs(30), || {
        env.version_count("rekeyd/support-bot") >= 3
            && env.version_count("rekeyd/codecommit-sofia") >= 3
    })
    .await;
    assert!(
        rotated_thrice,
        "versions: {}",
        env.version_count("rekeyd/support-bot")
    );

    signal(&daemon, "TERM");
    let out = finish(daemon, Duration::from_secs(10)).await;
    assert_eq!(out.code(), 0, "stderr:\n{}", out.stderr);
    env.assert_bot_stored();
    env.assert_iam_stored();
}

#[tokio::test(flavor = "multi_thread")]
async fn rotates_on_a_cron_schedule() {
    let env = TestEnv::new().await;
    let policy = env.write_policy(&chime_and_iam(&env, "schedule = \"*/2 * * * * *\""));
    let daemon = env.spawn(&policy, &["daemon"]);

    let rotated = wait_until(Duration::from_secs(30), || {
        env.version_count("rekeyd/support-bot") >= 3
    })
    .await;
    assert!(
        rotated,
        "versions: {}",
        env.version_count("rekeyd/support-bot")
    );

    signal(&daemon, "INT");
    let out = finish(daemon, Duration::from_secs(10)).await;
    assert_eq!(out.code(), 0, "stderr:\n{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restart_does_not_rotate_what_is_not_due() {
    let env = TestEnv::new().await;
    let policy = env.write_policy(&env.standard_policy("1h"));
    assert_eq!(env.rekeyd(&policy, &["rotate", "--all"]).await.code(), 0);
    let mutations = env.mutating_calls();

    let daemon = env.spawn(&policy, &["daemon"]);
    // Give it time to read every secret (in one batch) and settle.
    let read_all = wait_until(Duration::from_secs(15), || {
        env.emulator.calls().iter().any(|c| {
            c.operation == "BatchGetSecretValue"
                && c.status == Some(200)
                && c.resource
                    .as_deref()
                    .is_some_and(|ids| ids.split(',').count() == 3)
        })
    })
    .await;
    assert!(read_all);
    tokio::time::sleep(Duration::from_secs(2)).await;
    signal(&daemon, "TERM");
    let out = finish(daemon, Duration::from_secs(10)).await;
    assert_eq!(out.code(), 0, "stderr:\n{}", out.stderr);
    assert_eq!(
        env.mutating_calls(),
        mutations,
        "nothing was due, nothing may change"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_lets_a_slow_rotation_finish_and_store_its_secret() {
    let env = TestEnv::new().await;
    let policy = env.write_policy(&chime_and_iam(&env, "every = \"1h\""));
    env.emulator
        .inject(FaultRule::delay("RegenerateSecurityToken", 3000).times(1))
        .unwrap();
    let daemon = env.spawn(&policy, &["daemon"]);

    let in_flight = wait_until(Duration::from_secs(15), || {
        env.emulator
            .calls()
            .iter()
            .any(|c| c.operation == "RegenerateSecurityToken")
    })
    .await;
    assert!(in_flight);
    signal(&daemon, "TERM");
    let out = finish(daemon, Duration::from_secs(20)).await;
    assert_eq!(out.code(), 0, "stderr:\n{}", out.stderr);
    env.assert_bot_stored();
    assert!(
        env.emulator
            .calls()
            .iter()
            .any(|c| c.fault == Some(FaultKind::Delay)),
        "the delay applied"
    );
}

/// Whether this test process runs as root (the refusal only applies there).
fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|status| {
            status
                .lines()
                .any(|line| line.starts_with("Uid:") && line.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

#[tokio::test(flavor = "multi_thread")]
async fn refuses_to_run_as_root_unless_told_to() {
    if !running_as_root() {
        eprintln!("skipped: not running as root, so there is nothing to refuse");
        return;
    }
    let env = TestEnv::new().await;
    let policy = env.write_policy(&chime_and_iam(&env, "every = \"1h\""));

    for allow in [None, Some("0"), Some("false")] {
        let mut command = crate::util::rekeyd_command(env.dir.path());
        command.arg("--config").arg(&policy).arg("daemon");
        match allow {
            None => command.env_remove("REKEYD_ALLOW_ROOT"),
            Some(value) => command.env("REKEYD_ALLOW_ROOT", value),
        };
        let out = crate::util::run(command).await;
        assert_eq!(out.code(), 2, "REKEYD_ALLOW_ROOT={allow:?}: {}", out.stderr);
        assert!(
            out.stderr.contains("refusing to run the daemon as root")
                && out.stderr.contains("--allow-root"),
            "the refusal says why and how to override it: {}",
            out.stderr
        );
    }
    assert!(
        env.emulator.calls().is_empty(),
        "a refused daemon calls nothing"
    );

    // Told to, by flag: it runs (and says that it runs as root).
    let mut command = crate::util::rekeyd_command(env.dir.path());
    command
        .env_remove("REKEYD_ALLOW_ROOT")
        .arg("--config")
        .arg(&policy)
        .args(["daemon", "--allow-root"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let daemon = crate::util::Proc::from(command.spawn().expect("spawn rekeyd"));
    let rotated = wait_until(Duration::from_secs(30), || {
        env.version_count("rekeyd/support-bot") >= 1
    })
    .await;
    signal(&daemon, "TERM");
    let out = finish(daemon, Duration::from_secs(10)).await;
    assert!(rotated, "stderr:\n{}", out.stderr);
    assert_eq!(out.code(), 0, "stderr:\n{}", out.stderr);
    assert!(out.stderr.contains("running as root"), "{}", out.stderr);
    env.assert_bot_stored();
}
