//! The daemon and its hooks across a SIGKILL (the owed hook runs at the next
//! start) and a SIGTERM (a running hook is waited for).

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{argv, lines_of, owed_records, s, script, with_defaults};
use crate::util::{TestEnv, finish, signal, wait_until};

/// The bot alone, with a hook that logs its version to `runs`, then waits
/// (at most 60s) for the file `release`; its pid goes to `pid`.
fn blocking_hook_policy(env: &TestEnv) -> (PathBuf, PathBuf, PathBuf, PathBuf) {
    let dir = env.dir.path();
    let (runs, release, pid) = (dir.join("runs"), dir.join("release"), dir.join("pid"));
    let hook = script(
        env,
        "reload.sh",
        &format!(
            "echo $$ > {pid}\necho \"$REKEYD_VERSION_ID\" >> {runs}\ni=0\nwhile [ ! -e {release} ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done\n",
            pid = s(&pid),
            runs = s(&runs),
            release = s(&release)
        ),
    );
    let full = env.standard_policy("30d");
    let bot_only = full.split("[[iam_service_credential]]").next().unwrap();
    let text = with_defaults(
        bot_only,
        &format!("on_rotate = {}\nhook_timeout = \"2m\"", argv(&[s(&hook)])),
    );
    (env.write_policy(&text), runs, release, pid)
}

/// Kills the hook's process group (its pid leads it).
fn kill_group(pid_file: &Path) {
    let pid = std::fs::read_to_string(pid_file).unwrap();
    let _ = std::process::Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", pid.trim())])
        .status();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hook_cut_off_by_a_sigkill_of_the_daemon_runs_at_the_next_start() {
    let env = TestEnv::new().await;
    let (policy, runs, release, pid) = blocking_hook_policy(&env);

    // The daemon rotates at start (no secret yet); its hook blocks.
    let mut daemon = env.spawn(&policy, &["daemon"]);
    let hooked = wait_until(Duration::from_secs(30), || lines_of(&runs).len() == 1).await;
    assert!(hooked, "the hook ran");
    daemon.kill().await.unwrap();
    let _ = daemon.wait().await;
    kill_group(&pid);
    assert_eq!(owed_records(&env).len(), 1, "owed across the crash");
    let version = lines_of(&runs)[0].clone();

    std::fs::write(&release, "").unwrap();
    let daemon = env.spawn(&policy, &["daemon"]);
    let rerun = wait_until(Duration::from_secs(30), || {
        lines_of(&runs).len() == 2 && owed_records(&env).is_empty()
    })
    .await;
    assert!(rerun, "the owed hook ran again: {:?}", lines_of(&runs));
    assert_eq!(
        lines_of(&runs),
        [version.clone(), version],
        "for the stored version"
    );
    signal(&daemon, "TERM");
    let out = finish(daemon, Duration::from_secs(20)).await;
    out.assert_exit(0);
    assert_eq!(
        env.version_count("rekeyd/support-bot"),
        1,
        "not rotated again"
    );
    env.assert_bot_stored();
    assert!(
        out.stderr
            .contains("running the on_rotate hook a previous run owed"),
        "{}",
        out.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_waits_for_a_running_hook() {
    let env = TestEnv::new().await;
    let (policy, runs, release, _) = blocking_hook_policy(&env);
    let daemon = env.spawn(&policy, &["daemon"]);
    let hooked = wait_until(Duration::from_secs(30), || lines_of(&runs).len() == 1).await;
    assert!(hooked, "the hook ran");

    signal(&daemon, "TERM");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(owed_records(&env).len() == 1, "still running");
    std::fs::write(&release, "").unwrap();
    let out = finish(daemon, Duration::from_secs(40)).await;
    out.assert_exit(0);
    assert!(owed_records(&env).is_empty(), "it finished before the exit");
    assert_eq!(lines_of(&runs).len(), 1);
    assert!(out.stderr.contains("hook succeeded"), "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_daemon_counts_every_hook_run_in_its_metrics() {
    use tokio::io::BufReader;

    let env = TestEnv::new().await;
    let runs = env.dir.path().join("runs");
    let hook = script(
        &env,
        "fail.sh",
        &format!("echo run >> {}\nexit 3\n", s(&runs)),
    );
    let full = env.standard_policy("30d");
    let bot_only = full.split("[[iam_service_credential]]").next().unwrap();
    let text = with_defaults(bot_only, &format!("on_rotate = {}", argv(&[s(&hook)]))).replace(
        "[defaults]",
        "[daemon]\nmetrics_listen = \"127.0.0.1:0\"\n\n[defaults]",
    );
    let policy = env.write_policy(&text);
    let mut command = crate::util::rekeyd_command(env.dir.path());
    command
        .arg("--config")
        .arg(&policy)
        .args(["--log-format", "json", "daemon"])
        .env("REKEYD_HOOK_RETRY_BASE", "10ms")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let mut daemon = command.spawn().unwrap();
    let mut stderr = BufReader::new(daemon.stderr.take().unwrap());
    let line = crate::util::read_until(&mut stderr, Duration::from_secs(20), |l| {
        l.contains("metrics listening")
    })
    .await
    .expect("the daemon logs its metrics address");
    let log: serde_json::Value = serde_json::from_str(&line).unwrap();
    let addr = log["listen"].as_str().unwrap().to_owned();
    // Keep reading the log, so the daemon never blocks on a full pipe.
    let drain = tokio::spawn(async move {
        let _ = crate::util::read_until(&mut stderr, Duration::from_secs(60), |_| false).await;
    });

    let ran = wait_until(Duration::from_secs(30), || lines_of(&runs).len() == 4).await;
    assert!(ran, "four runs: {:?}", lines_of(&runs));
    let wanted = "rekeyd_hook_runs_total{hook=\"on_rotate\",outcome=\"failure\"} 4";
    let mut body = String::new();
    for _ in 0..50 {
        body = crate::util::http_get(&addr, "/metrics").await.1;
        if body.lines().any(|l| l == wanted) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(body.lines().any(|l| l == wanted), "{body}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(lines_of(&runs).len(), 4, "no more than 3 retries");

    signal(&daemon, "TERM");
    let status = tokio::time::timeout(Duration::from_secs(20), daemon.wait())
        .await
        .expect("the daemon stops")
        .unwrap();
    assert!(status.success(), "{status}");
    drain.abort();
    assert_eq!(owed_records(&env).len(), 1, "still owed for the next start");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reload_runs_an_owed_hook_again() {
    let env = TestEnv::new().await;
    let (runs, fixed) = (env.dir.path().join("runs"), env.dir.path().join("fixed"));
    let hook = script(
        &env,
        "reload.sh",
        &format!(
            "echo \"$REKEYD_VERSION_ID\" >> {runs}\n[ -e {fixed} ] || exit 1\n",
            runs = s(&runs),
            fixed = s(&fixed)
        ),
    );
    let full = env.standard_policy("30d");
    let bot_only = full.split("[[iam_service_credential]]").next().unwrap();
    let policy = env.write_policy(&with_defaults(
        bot_only,
        &format!("on_rotate = {}", argv(&[s(&hook)])),
    ));
    let mut command = crate::util::rekeyd_command(env.dir.path());
    command
        .arg("--config")
        .arg(&policy)
        .arg("daemon")
        .env("REKEYD_HOOK_RETRY_BASE", "10ms")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let daemon = crate::util::Proc::from(command.spawn().unwrap());

    let failed = wait_until(Duration::from_secs(30), || lines_of(&runs).len() == 4).await;
    assert!(failed, "four failed runs: {:?}", lines_of(&runs));
    assert_eq!(owed_records(&env).len(), 1);
    // The operator fixes what the hook needs, then reloads.
    std::fs::write(&fixed, "").unwrap();
    signal(&daemon, "HUP");
    let ran = wait_until(Duration::from_secs(30), || {
        lines_of(&runs).len() == 5 && owed_records(&env).is_empty()
    })
    .await;
    assert!(
        ran,
        "the owed hook ran at the reload: {:?}",
        lines_of(&runs)
    );
    signal(&daemon, "TERM");
    let out = finish(daemon, Duration::from_secs(20)).await;
    out.assert_exit(0);
    let runs = lines_of(&runs);
    assert!(runs.iter().all(|v| *v == runs[0]), "one version: {runs:?}");
    assert_eq!(env.version_count("rekeyd/support-bot"), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hook_past_the_shutdown_timeout_is_stopped_and_owed_for_the_next_start() {
    let env = TestEnv::new().await;
    let (policy, runs, _release, pid) = blocking_hook_policy(&env);
    let text = std::fs::read_to_string(&policy).unwrap().replace(
        "[defaults]",
        "[daemon]\nshutdown_timeout = \"1s\"\n\n[defaults]",
    );
    let policy = env.write_policy(&text);
    let daemon = env.spawn(&policy, &["daemon"]);
    let hooked = wait_until(Duration::from_secs(30), || lines_of(&runs).len() == 1).await;
    assert!(hooked, "the hook ran");

    signal(&daemon, "TERM");
    let out = finish(daemon, Duration::from_secs(20)).await;
    out.assert_exit(0);
    assert!(
        out.stderr.contains("their hooks were stopped") && !out.stderr.contains("in doubt"),
        "{}",
        out.stderr
    );
    assert_eq!(owed_records(&env).len(), 1, "owed for the next start");
    let pid = std::fs::read_to_string(&pid).unwrap();
    let gone = wait_until(Duration::from_secs(5), || {
        std::fs::read_to_string(format!("/proc/{}/stat", pid.trim()))
            .map_or(true, |stat| stat.contains(") Z "))
    })
    .await;
    assert!(gone, "the hook was stopped with the daemon");
}
