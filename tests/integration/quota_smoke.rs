//! benches/quota.py at a tiny scale: 40 credentials against an emulator
//! throttling every service at 20 requests/s, with and without
//! `[aws.rate_limits]`. The script fails unless every rotation succeeds and
//! every stored secret is the one the emulator holds; here throttled calls
//! must stay under a generous share. Counts only: no time is asserted (the
//! figures are in BENCHMARKS.md).

use tokio::process::Command;

use crate::util::run;

#[tokio::test(flavor = "multi_thread")]
async fn rotations_under_a_quota_all_succeed_without_a_retry_storm() {
    let mut command = Command::new("python3");
    command
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "benches/quota.py",
            "--n",
            "40",
            "--runs",
            "1",
            "--quota",
            "20",
        ])
        // Most of the throttled calls of so short a run are the first burst,
        // before the rate has adapted; a retry storm would be far above this.
        .args(["--max-throttled-pct", "35"])
        .args(["--bin", env!("CARGO_BIN_EXE_rekeyd")])
        .kill_on_drop(true);
    let out = run(command).await;
    assert_eq!(
        out.code(),
        0,
        "quota.py failed:\n{}\n{}",
        out.stdout,
        out.stderr
    );
    assert!(
        out.stdout
            .contains("## Quota utilisation, 40 rotations at 20 requests/s per service"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("| 0 in 1 runs | all correct |"),
        "{}",
        out.stdout
    );
}
