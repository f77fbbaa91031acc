//! The throughput benchmark (benches/throughput.py and its peers under
//! benches/peers/) at a tiny scale, so that it does not rot: every contender
//! it can run rotates a small mixed fleet against the debug binary's
//! emulator, and the harness itself fails unless each stored secret is the
//! one the emulator holds as valid. No figure is asserted.

use tokio::process::Command;

use crate::util::run;

/// Whether `program args...` starts and exits 0.
async fn works(program: &str, args: &[&str]) -> bool {
    let mut command = Command::new(program);
    command.args(args).kill_on_drop(true);
    matches!(command.output().await, Ok(out) if out.status.success())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_throughput_benchmark_rotates_a_small_fleet_with_every_contender() {
    if !works("python3", &["--version"]).await {
        eprintln!("skipped: python3 is not installed");
        return;
    }
    let mut contenders = vec!["rekeyd"];
    if works("python3", &["-c", "import boto3"]).await {
        contenders.push("boto3");
    } else {
        eprintln!("boto3 contender skipped: python3 cannot import boto3");
    }
    if works("aws", &["--version"]).await {
        contenders.push("cli");
    } else {
        eprintln!("aws CLI contender skipped: `aws` is not installed");
    }
    let contenders = contenders.join(",");
    let mut command = Command::new("python3");
    command
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["benches/throughput.py", "--n", "18", "--runs", "1"])
        .args(["--cli-n", "3", "--cli-runs", "1", "--no-build"])
        .args(["--contenders", &contenders])
        .args(["--bin", env!("CARGO_BIN_EXE_rekeyd")])
        .kill_on_drop(true);
    let out = run(command).await;
    assert_eq!(out.code(), 0, "throughput.py failed:\n{}", out.stderr);
    let report = out.stdout;
    assert!(
        report.contains("## One-shot rotation throughput, 18 credentials"),
        "{report}"
    );
    let rekeyd_row = report
        .lines()
        .find(|line| line.starts_with("| `rekeyd rotate --all` | 18 | "))
        .unwrap_or_else(|| panic!("no rekeyd row:\n{report}"));
    // One new version per secret, whatever else rekeyd reads.
    assert!(rekeyd_row.contains("PutSecretValue 1.00"), "{rekeyd_row}");
    if contenders.contains("boto3") {
        assert!(
            report.contains("| boto3, `ThreadPoolExecutor` | 18 | "),
            "{report}"
        );
        assert!(report.contains("rekeyd/boto3 at 18: **"), "{report}");
    }
    if contenders.contains("cli") {
        assert!(
            report.contains("| bash loop of `aws` CLI calls | 3 | "),
            "{report}"
        );
    }
}
