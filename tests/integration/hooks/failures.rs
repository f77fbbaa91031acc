//! Hooks that fail: non-zero exit, killed by a signal, past their timeout.
//! The rotation stays done (the secret stored is the provider's), the line
//! says `hook=failed`, `rotate` exits 1, each failure is retried 3 times and
//! never in a tight loop. `on_failure` runs after a provider failure and
//! after a rotation in doubt.

use std::path::Path;

use rekeyd_emulator::{FaultKind, FaultRule};

use super::{argv, lines_of, owed_records, s, script, with_defaults};
use crate::util::{BOT_ID, Output, TestEnv};

/// Retry delays of 10ms, 50ms, 250ms instead of 1s, 5s, 25s.
const FAST_RETRIES: (&str, &str) = ("REKEYD_HOOK_RETRY_BASE", "10ms");

/// The bot alone, with `hooks` in `[defaults]`.
fn bot_policy(env: &TestEnv, hooks: &str) -> std::path::PathBuf {
    let full = env.standard_policy("30d");
    let bot_only = full.split("[[iam_service_credential]]").next().unwrap();
    env.write_policy(&with_defaults(bot_only, hooks))
}

/// Rotates the bot with `body` as its on_rotate; the hook appends its
/// attempt number to `attempts` first.
async fn rotate_with_failing_hook(env: &TestEnv, body: &str, timeout: &str) -> Output {
    let attempts = env.dir.path().join("attempts");
    let hook = script(
        env,
        "hook.sh",
        &format!("echo \"$REKEYD_ATTEMPT\" >> {}\n{body}", s(&attempts)),
    );
    let policy = bot_policy(
        env,
        &format!(
            "on_rotate = {}\nhook_timeout = \"{timeout}\"",
            argv(&[s(&hook)])
        ),
    );
    env.rekeyd_env(&policy, &["rotate", "support-bot"], &[FAST_RETRIES])
        .await
}

/// What every failed on_rotate leaves: the rotation done and stored, the
/// line marked, exit 1, four runs, the hook owed for the next start.
fn assert_failed_but_rotated(env: &TestEnv, out: &Output, how: &str) {
    out.assert_exit(1);
    let line = out.line_for("support-bot");
    assert!(
        line.starts_with("support-bot: rotated ") && line.ends_with(" hook=failed"),
        "{line}"
    );
    env.assert_bot_stored();
    assert_eq!(env.version_count("rekeyd/support-bot"), 1);
    assert_eq!(
        lines_of(&env.dir.path().join("attempts")),
        ["1", "2", "3", "4"]
    );
    assert_eq!(
        out.stderr.matches("hook failed, retrying").count(),
        3,
        "{}",
        out.stderr
    );
    let last = out
        .stderr
        .lines()
        .find(|l| l.contains("hook failed, no retries left"))
        .unwrap_or_else(|| panic!("no final failure:\n{}", out.stderr));
    assert!(last.contains(how), "{last}");
    assert_eq!(owed_records(env).len(), 1, "owed until it succeeds");
    for secret in env.issued_secrets() {
        assert!(!out.stdout.contains(&secret) && !out.stderr.contains(&secret));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hook_exiting_non_zero_is_retried_then_marked_failed() {
    let env = TestEnv::new().await;
    let out = rotate_with_failing_hook(&env, "echo 'cannot reload app' >&2\nexit 3\n", "30s").await;
    assert_failed_but_rotated(&env, &out, "exited 3");
    // The hook's stderr tail is in the log.
    assert!(out.stderr.contains("cannot reload app"), "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hook_killed_by_a_signal_is_marked_failed() {
    let env = TestEnv::new().await;
    let out = rotate_with_failing_hook(&env, "kill -9 $$\n", "30s").await;
    assert_failed_but_rotated(&env, &out, "killed by signal 9");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hook_past_its_timeout_is_stopped_with_its_process_group() {
    let env = TestEnv::new().await;
    let pids = env.dir.path().join("pids");
    // A child of the hook that outlives it unless its group is stopped.
    let body = format!("sleep 300 &\necho $! >> {}\nwait\n", s(&pids));
    let out = rotate_with_failing_hook(&env, &body, "1s").await;
    assert_failed_but_rotated(&env, &out, "timed out after 1s");
    let pids = lines_of(&pids);
    assert_eq!(pids.len(), 4);
    for pid in pids {
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists()
                || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .is_ok_and(|stat| stat.contains(") Z ")),
            "the hook's child {pid} still runs"
        );
    }
}

/// An `on_failure` hook that writes its environment to `dump`.
fn dump_hook(env: &TestEnv) -> (String, std::path::PathBuf) {
    let dump = env.dir.path().join("failure.env");
    let hook = script(env, "on-failure.sh", &format!("env > {}\n", s(&dump)));
    (format!("on_failure = {}", argv(&[s(&hook)])), dump)
}

fn var<'a>(dump: &'a str, name: &str) -> Option<&'a str> {
    dump.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix('='))
}

#[tokio::test(flavor = "multi_thread")]
async fn on_failure_runs_after_a_provider_failure() {
    let env = TestEnv::new().await;
    let (hook, dump) = dump_hook(&env);
    let full = env
        .standard_policy("30d")
        .replace(BOT_ID, "00000000-0000-0000-0000-000000000000");
    let bot_only = full.split("[[iam_service_credential]]").next().unwrap();
    let policy = env.write_policy(&with_defaults(bot_only, &hook));

    let out = env.rekeyd(&policy, &["rotate", "support-bot"]).await;
    out.assert_exit(1);
    let line = out.line_for("support-bot");
    assert!(
        line.starts_with("support-bot: failed ") && line.ends_with(" hook=ok"),
        "{line}"
    );
    let dump = std::fs::read_to_string(&dump).expect("on_failure ran");
    assert_eq!(var(&dump, "REKEYD_EVENT"), Some("failed"));
    assert_eq!(var(&dump, "REKEYD_HOOK"), Some("on_failure"));
    assert_eq!(var(&dump, "REKEYD_CREDENTIAL"), Some("support-bot"));
    assert_eq!(var(&dump, "REKEYD_SECRET"), Some("rekeyd/support-bot"));
    let error = var(&dump, "REKEYD_ERROR").expect("REKEYD_ERROR");
    assert!(
        error.contains("00000000-0000-0000-0000-000000000000"),
        "{error}"
    );
    assert_eq!(var(&dump, "REKEYD_VERSION_ID"), None);
    assert_eq!(var(&dump, "AWS_SECRET_ACCESS_KEY"), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn on_failure_runs_after_a_store_in_doubt() {
    let env = TestEnv::new().await;
    let (hook, dump) = dump_hook(&env);
    let policy = bot_policy(&env, &hook);
    env.rekeyd(&policy, &["rotate", "support-bot", "--no-hooks"])
        .await
        .assert_exit(0);
    // The next store is refused for good: the new token is issued, not stored.
    env.emulator
        .inject(FaultRule::new("PutSecretValue", FaultKind::Garbage))
        .unwrap();

    let out = env.rekeyd(&policy, &["rotate", "support-bot"]).await;
    out.assert_exit(1);
    let line = out.line_for("support-bot");
    assert!(
        line.starts_with("support-bot: in-doubt ") && line.ends_with(" hook=ok"),
        "{line}"
    );
    let dump = std::fs::read_to_string(&dump).expect("on_failure ran");
    assert_eq!(var(&dump, "REKEYD_EVENT"), Some("in-doubt"));
    let error = var(&dump, "REKEYD_ERROR").expect("REKEYD_ERROR");
    assert!(error.contains("rekeyd/support-bot"), "{error}");
    for secret in env.issued_secrets() {
        assert!(!dump.contains(&secret), "a secret value reached on_failure");
    }
}
