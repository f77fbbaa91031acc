//! The benchmark scripts under benches/ at a tiny scale, so that they do not
//! rot: each runs against the debug binary and must print its report. No
//! figure is asserted (speed is measured in BENCHMARKS.md, not here).

use tokio::process::Command;

use crate::util::run;

/// Runs `python3 benches/SCRIPT ARGS... --bin <debug rekeyd>`; its stdout.
async fn bench(script: &str, args: &[&str]) -> String {
    let mut command = Command::new("python3");
    command
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg(format!("benches/{script}"))
        .args(args)
        .args(["--bin", env!("CARGO_BIN_EXE_rekeyd")])
        .kill_on_drop(true);
    let out = run(command).await;
    assert_eq!(out.code(), 0, "{script} failed:\n{}", out.stderr);
    out.stdout
}

#[tokio::test(flavor = "multi_thread")]
async fn the_idle_benchmark_reports_a_daemon_that_changed_nothing() {
    let report = bench("idle.py", &["--n", "30", "--idle", "1", "--runs", "1"]).await;
    assert!(
        report.contains("## Idle daemon, 30 credentials"),
        "{report}"
    );
    assert!(report.contains("| exec to `READY=1` |"), "{report}");
    assert!(report.contains("| mutating calls | 0 | 0 |"), "{report}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_policy_load_benchmark_checks_a_mixed_policy() {
    let report = bench("policy_load.py", &["--n", "300", "--runs", "1"]).await;
    assert!(report.contains("| 300 | "), "{report}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_audit_benchmark_finds_every_credential_ok() {
    // audit.py itself fails unless every credential is `ok` and the
    // unmanaged secrets are found.
    let report = bench("audit.py", &["--n", "30", "--runs", "1"]).await;
    assert!(
        report.contains("chime:GetBot 10, iam:ListServiceSpecificCredentials 10"),
        "{report}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_replicas_benchmark_rotates_each_credential_once() {
    // replicas.py itself fails on a wrong secret or a double rotation.
    let report = bench(
        "replicas.py",
        &[
            "--n",
            "9",
            "--quota",
            "50",
            "--limit",
            "providers",
            "--replicas",
            "1,2",
        ],
    )
    .await;
    assert!(report.contains("| 2 | "), "{report}");
    assert!(report.contains("| 0 | all correct |"), "{report}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_accounts_benchmark_rotates_each_credential_in_its_account() {
    // accounts.py itself fails on a failed rotation or a secret that is not
    // the live one in its account.
    let report = bench(
        "accounts.py",
        &["--n", "12", "--quota", "200", "--concurrency", "4"],
    )
    .await;
    assert!(
        report.contains("## Quotas per account: 12 rotations over 1 and 3 accounts"),
        "{report}"
    );
    // One AssumeRole per account and run.
    assert!(report.contains("| single | "), "{report}");
    assert!(
        report.contains(" | 1 | 0 in 1 runs | all correct |"),
        "{report}"
    );
    assert!(
        report.contains(" | 3 | 0 in 1 runs | all correct |"),
        "{report}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_growth_benchmark_prints_one_row_per_figure_and_a_column_per_size() {
    // growth.py itself fails unless every audit finds each credential `ok`,
    // `plan` lists each one, the idle daemon mutates nothing and every
    // rotated secret is the provider's live one.
    let report = bench(
        "growth.py",
        &["--n", "9", "30", "--idle", "1", "--check-runs", "1"],
    )
    .await;
    assert!(
        report.contains("## Growth, 9 to 30 credentials"),
        "{report}"
    );
    assert!(
        report.contains("| figure | 9 | 30 | per credential | growth per 10x (9→30) |"),
        "{report}"
    );
    for figure in [
        "policy load: `rekeyd check`, wall time",
        "policy load: `rekeyd check`, CPU time",
        "policy load: `rekeyd check`, peak resident memory",
        "daemon: exec to `READY=1`",
        "daemon: every secret read once",
        "daemon: idle resident memory",
        "`plan --format json`, wall time",
        "`plan --format json`, CPU time",
        "`audit --offline --format json`, wall time",
        "`audit --format json` (provider probes), wall time",
        "`audit --format json` (provider probes), CPU time",
        "`rotate --all`, wall time |",
        "`rotate --all`, wall time per rotation",
        "`rotate --all`, CPU time per rotation",
    ] {
        let row = report
            .lines()
            .find(|line| line.starts_with(&format!("| {figure}")))
            .unwrap_or_else(|| panic!("no row for {figure}:\n{report}"));
        assert_eq!(row.matches(" | ").count(), 4, "{row}");
    }
}
