//! `scripts/live-test` (the opt-in check against a real AWS account) keeps
//! working: run against the emulator through `AWS_ENDPOINT_URL`, it creates
//! its resources, rotates, audits, runs the daemon and leaves nothing behind;
//! without `REKEYD_LIVE_TEST=1` it only says that it skipped.

use std::path::Path;
use std::time::Duration;

use rekeyd_emulator::{Emulator, FaultKind, FaultRule};
use tokio::process::Command;

use crate::util::{Output, run};

/// The script, with an environment of its own: no inherited AWS settings,
/// profile files or rekeyd configuration.
fn live_test(home: &Path) -> Command {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/live-test");
    let mut command = Command::new("bash");
    command.arg(script);
    for (key, _) in std::env::vars() {
        if key.starts_with("AWS_") || key.starts_with("REKEYD_") || key == "STATE_DIRECTORY" {
            command.env_remove(key);
        }
    }
    command
        .env("HOME", home)
        .env("AWS_CONFIG_FILE", home.join("aws-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.join("aws-credentials"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("REKEYD_BIN", env!("CARGO_BIN_EXE_rekeyd"))
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    command
}

/// Runs the script with `REKEYD_LIVE_TEST=1` against `emulator`, with
/// dummy credentials (the emulator checks no signature).
async fn run_against(emulator: &Emulator) -> Output {
    assert!(
        aws_cli_installed().await,
        "scripts/live-test needs the aws CLI (scripts/test installs it)"
    );
    let home = tempfile::tempdir().unwrap();
    for file in ["aws-config", "aws-credentials"] {
        std::fs::write(home.path().join(file), "").unwrap();
    }
    let mut command = live_test(home.path());
    command
        .env("REKEYD_LIVE_TEST", "1")
        .env("AWS_ENDPOINT_URL", emulator.endpoint_url())
        .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
        .env("AWS_SECRET_ACCESS_KEY", "test-secret-key");
    tokio::time::timeout(Duration::from_secs(110), run(command))
        .await
        .expect("scripts/live-test finished in time")
}

async fn aws_cli_installed() -> bool {
    Command::new("aws")
        .arg("--version")
        .output()
        .await
        .is_ok_and(|out| out.status.success())
}

#[tokio::test]
async fn without_the_variable_it_skips() {
    let home = tempfile::tempdir().unwrap();
    let out: Output = run(live_test(home.path())).await;
    out.assert_exit(0);
    assert!(out.stdout.contains("skipped"), "stdout:\n{}", out.stdout);
    assert!(
        out.stdout.contains("REKEYD_LIVE_TEST=1"),
        "it says how to run it: {}",
        out.stdout
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn against_the_emulator_it_passes_and_leaves_nothing_behind() {
    let emulator = Emulator::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let before = emulator.truth();
    let out = run_against(&emulator).await;
    out.assert_exit(0);
    assert!(out.stderr.contains("live-test: passed"), "{}", out.stderr);

    // It did the work: made each resource, rotated both ways, stored.
    let calls = emulator.calls();
    for operation in [
        "CreateUser",
        "CreateServiceSpecificCredential",
        "CreateStage",
        "ResetServiceSpecificCredential",
        "CreateParticipantToken",
        "PutSecretValue",
        "DeleteUser",
        "DeleteStage",
        "DeleteSecret",
    ] {
        assert!(
            calls.iter().any(|c| c.operation == operation),
            "no {operation} call; stderr:\n{}",
            out.stderr
        );
    }
    // And everything it made is gone: the emulator holds what it held before.
    assert_eq!(emulator.truth(), before, "stderr:\n{}", out.stderr);
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_step_still_deletes_everything() {
    let emulator = Emulator::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    // Every IVS token comes back empty, so the first rotation fails (at
    // once: a malformed answer is not retried).
    emulator
        .inject(FaultRule::new(
            "CreateParticipantToken",
            FaultKind::EmptySecret,
        ))
        .unwrap();
    let before = emulator.truth();
    let out = run_against(&emulator).await;
    assert_ne!(out.code(), 0, "stderr:\n{}", out.stderr);
    assert!(out.stderr.contains("live-test: FAILED"), "{}", out.stderr);
    assert!(
        out.stderr.contains("live-test: rotate, strategy reset")
            && !out.stderr.contains("live-test: audit"),
        "it stopped at the first rotation: {}",
        out.stderr
    );
    assert!(out.stderr.contains("deleted everything"), "{}", out.stderr);
    assert_eq!(emulator.truth(), before, "stderr:\n{}", out.stderr);
    emulator.shutdown().await;
}
