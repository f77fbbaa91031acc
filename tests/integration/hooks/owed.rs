//! Owed `on_rotate` runs: the running daemon tries a failed one again by
//! itself (so an IAM overlap retirement goes on once the consumer is back),
//! warns about records no credential of its policy claims, and the next
//! overlap rotation, which needs the slot, deletes an old credential still
//! waiting for its hook, with a warning.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::BufReader;

use super::overlap::{assert_retired_with_nothing_owed, held, overlap_policy, stored_id};
use super::{argv, lines_of, owed_records, s, script, with_defaults};
use crate::util::{
    ACCOUNT_ID, BOT_ID, CREDENTIAL_ID, Proc, TestEnv, finish, read_until, rekeyd_command, signal,
    wait_until,
};

/// A hook that logs its version to `runs` and fails until `fixed` exists.
fn failing_until_fixed(env: &TestEnv) -> (PathBuf, PathBuf, PathBuf) {
    let (runs, fixed) = (env.dir.path().join("runs"), env.dir.path().join("fixed"));
    let hook = script(
        env,
        "reload.sh",
        &format!(
            "echo \"$REKEYD_VERSION_ID\" >> {runs}\n[ -e {fixed} ] || {{ echo 'consumer down' >&2; exit 1; }}\n",
            runs = s(&runs),
            fixed = s(&fixed)
        ),
    );
    (hook, runs, fixed)
}

/// `rekeyd daemon` with the hook delays scaled down (10ms: retries after
/// 10, 50, 250 ms; owed cycles after 3 s, 6 s, ...).
fn fast_daemon(env: &TestEnv, policy: &Path) -> tokio::process::Command {
    let mut command = rekeyd_command(env.dir.path());
    command
        .arg("--config")
        .arg(policy)
        .arg("daemon")
        .env("REKEYD_HOOK_RETRY_BASE", "10ms")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

#[tokio::test(flavor = "multi_thread")]
async fn the_running_daemon_runs_an_owed_hook_again_and_then_retires_the_old_credential() {
    let env = TestEnv::new().await;
    let (hook, runs, fixed) = failing_until_fixed(&env);
    let policy = overlap_policy(&env, &hook);
    // No secret yet: the daemon rotates at start, and the hook fails 4 times.
    let daemon = Proc::from(fast_daemon(&env, &policy).spawn().unwrap());

    // A fifth run comes from the daemon alone: no restart, no reload.
    let again = wait_until(Duration::from_secs(60), || lines_of(&runs).len() >= 5).await;
    assert!(
        again,
        "the daemon ran the owed hook again: {:?}",
        lines_of(&runs)
    );
    assert_eq!(
        held(&env)
            .iter()
            .find(|(id, _)| id == CREDENTIAL_ID)
            .map(|(_, status)| status.as_str()),
        Some("Active"),
        "the old credential stays Active while the hook fails"
    );
    assert_eq!(owed_records(&env).len(), 1);

    // The consumer is back; nobody touches the daemon.
    std::fs::write(&fixed, "").unwrap();
    let new = stored_id(&env);
    assert_retired_with_nothing_owed(&env, &new, Duration::from_secs(90)).await;

    signal(&daemon, "TERM");
    let out = finish(daemon, Duration::from_secs(20)).await;
    out.assert_exit(0);
    assert!(
        out.stderr.contains("the on_rotate hook is still owed"),
        "{}",
        out.stderr
    );
    assert_eq!(stored_id(&env), new, "no second rotation");
    let runs = lines_of(&runs);
    assert!(runs.iter().all(|v| *v == runs[0]), "one version: {runs:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_owed_hook_no_credential_claims_is_warned_about_at_start_and_reload() {
    let env = TestEnv::new().await;
    let (hook, runs, _) = failing_until_fixed(&env);
    let full = env.standard_policy("30d");
    let (bot, iam) = full.split_once("[[iam_service_credential]]").unwrap();
    let with_bot = env.write_policy(&with_defaults(
        bot,
        &format!("on_rotate = {}", argv(&[s(&hook)])),
    ));
    let out = env
        .rekeyd_env(
            &with_bot,
            &["rotate", "support-bot"],
            &[("REKEYD_HOOK_RETRY_BASE", "10ms")],
        )
        .await;
    out.assert_exit(1);
    let records = owed_records(&env);
    assert_eq!(records.len(), 1);

    // The bot leaves the policy; its owed hook stays behind.
    let aws_and_defaults = bot.split("[[chime_bot]]").next().unwrap();
    let policy = env.write_policy(&format!(
        "{aws_and_defaults}[[iam_service_credential]]{}",
        iam.split("[[ivs_participant_token]]").next().unwrap()
    ));
    let mut daemon = fast_daemon(&env, &policy).spawn().unwrap();
    let mut stderr = BufReader::new(daemon.stderr.take().unwrap());
    let warned = |line: &str| {
        line.contains("owed, but no credential of this policy")
            && line.contains("support-bot")
            && line.contains(s(&records[0]))
    };
    let at_start = read_until(&mut stderr, Duration::from_secs(30), warned).await;
    assert!(at_start.is_some(), "warned at start");
    signal(&daemon, "HUP");
    let at_reload = read_until(&mut stderr, Duration::from_secs(30), warned).await;
    assert!(at_reload.is_some(), "warned at reload");

    signal(&daemon, "TERM");
    let drain = tokio::spawn(async move {
        let _ = read_until(&mut stderr, Duration::from_secs(30), |_| false).await;
    });
    let status = tokio::time::timeout(Duration::from_secs(20), daemon.wait())
        .await
        .expect("the daemon stops")
        .unwrap();
    assert!(status.success(), "{status}");
    drain.abort();
    assert_eq!(owed_records(&env), records, "left for the operator");
    assert_eq!(
        lines_of(&runs).len(),
        4,
        "never run by this policy's daemon"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_next_overlap_rotation_deletes_the_old_credential_still_waiting_and_warns() {
    let env = TestEnv::new().await;
    let (hook, _, _) = failing_until_fixed(&env);
    let policy = overlap_policy(&env, &hook);
    let fast = [("REKEYD_HOOK_RETRY_BASE", "10ms")];
    let first = env
        .rekeyd_env(&policy, &["rotate", "codecommit-sofia"], &fast)
        .await;
    first.assert_exit(1);
    let waiting = stored_id(&env);
    assert_eq!(held(&env).len(), 2, "the old one waits for the hook");

    let second = env
        .rekeyd_env(&policy, &["rotate", "codecommit-sofia"], &fast)
        .await;
    second.assert_exit(1);
    let warning = second
        .stderr
        .lines()
        .find(|l| l.contains("although the on_rotate hook it waited for never succeeded"))
        .unwrap_or_else(|| panic!("no warning:\n{}", second.stderr));
    assert!(
        warning.contains("WARN")
            && warning.contains("codecommit-sofia")
            && warning.contains(CREDENTIAL_ID),
        "{warning}"
    );
    let mut ids: Vec<String> = held(&env).into_iter().map(|(id, _)| id).collect();
    ids.sort();
    let mut want = vec![waiting, stored_id(&env)];
    want.sort();
    assert_eq!(ids, want, "{CREDENTIAL_ID} was deleted for the slot");
}

/// A hook that logs `start VERSION`, fails while `fail` exists, blocks
/// while `hold` exists, then logs `end VERSION`; and a policy of the bot
/// alone with it, rotated every 3 s, with `extra` in `[defaults]`. The bot
/// is rotated once with the consumer down, so its hook is owed. Returns the
/// policy, the log, `hold` (present) and the owed version.
async fn owed_and_held(env: &TestEnv, extra: &str) -> (PathBuf, PathBuf, PathBuf, String) {
    let dir = env.dir.path();
    let (runs, fail, hold) = (dir.join("runs"), dir.join("fail"), dir.join("hold"));
    let hook = script(
        env,
        "reload.sh",
        &format!(
            "echo \"start $REKEYD_VERSION_ID\" >> {runs}\n[ -e {fail} ] && exit 1\nwhile [ -e {hold} ]; do sleep 0.05; done\necho \"end $REKEYD_VERSION_ID\" >> {runs}\n",
            runs = s(&runs),
            fail = s(&fail),
            hold = s(&hold)
        ),
    );
    let policy = env.write_policy(&format!(
        "{}[defaults]\nevery = \"3s\"\non_rotate = {}\n{extra}\n[[chime_bot]]\nname = \"support-bot\"\naccount_id = \"{ACCOUNT_ID}\"\nbot_id = \"{BOT_ID}\"\n",
        env.aws_table(),
        argv(&[s(&hook)])
    ));
    std::fs::write(&fail, "").unwrap();
    let out = env
        .rekeyd_env(
            &policy,
            &["rotate", "support-bot"],
            &[("REKEYD_HOOK_RETRY_BASE", "10ms")],
        )
        .await;
    out.assert_exit(1);
    assert_eq!(owed_records(env).len(), 1);
    let first = lines_of(&runs)[0].clone();
    let version = first.strip_prefix("start ").unwrap().to_owned();
    // Back, but slow: an owed run blocks until `hold` goes.
    std::fs::remove_file(&fail).unwrap();
    std::fs::write(&hold, "").unwrap();
    (policy, runs, hold, version)
}

/// A rotation comes due while the credential's owed `on_rotate` runs: it
/// waits for that hook, so the consumer is never told of two versions at
/// once, nor of the older one last.
#[tokio::test(flavor = "multi_thread")]
async fn a_rotation_due_while_its_owed_hook_runs_waits_for_it() {
    let env = TestEnv::new().await;
    let (policy, runs, hold, first_version) = owed_and_held(&env, "").await;
    let first = format!("start {first_version}");

    // The next rotation comes due (3 s after the first) while the owed run
    // blocks.
    let daemon = env.spawn(&policy, &["daemon"]);
    let owed_runs = wait_until(Duration::from_secs(20), || lines_of(&runs).len() >= 5).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let during = lines_of(&runs);
    let versions_during = env.version_count("rekeyd/support-bot");
    std::fs::remove_file(&hold).unwrap();
    let next_told = wait_until(Duration::from_secs(30), || {
        lines_of(&runs)
            .iter()
            .any(|l| l.starts_with("end ") && l != &format!("end {first_version}"))
    })
    .await;
    signal(&daemon, "TERM");
    let out = finish(daemon, Duration::from_secs(20)).await;
    assert!(
        owed_runs && next_told,
        "runs: {:?}\n{}",
        lines_of(&runs),
        out.stderr
    );
    assert!(
        during.iter().all(|l| l == &first),
        "nothing but the owed run while it ran: {during:?}"
    );
    assert_eq!(versions_during, 1, "no rotation while the owed hook ran");
    let runs = lines_of(&runs);
    let owed_end = runs
        .iter()
        .position(|l| l == &format!("end {first_version}"))
        .expect("the owed run ended");
    let next_start = runs
        .iter()
        .position(|l| l.starts_with("start ") && !l.ends_with(&first_version))
        .expect("the next rotation's hook ran");
    assert!(owed_end < next_start, "{runs:?}");
    assert_eq!(out.code(), 0, "stderr:\n{}", out.stderr);
    let said = "the rotation waits for the owed on_rotate hook running now";
    assert_eq!(out.stderr.matches(said).count(), 1, "{}", out.stderr);
}

/// The wait is bounded: an owed run that goes on past its hook's timeout
/// (each attempt stopped at 2 s, then retried) no longer holds the
/// rotation back.
#[tokio::test(flavor = "multi_thread")]
async fn a_rotation_waits_for_an_owed_hook_no_longer_than_its_timeout() {
    let env = TestEnv::new().await;
    let (policy, runs, hold, first_version) = owed_and_held(&env, "hook_timeout = \"2s\"").await;
    let first = format!("start {first_version}");

    let daemon = Proc::from(fast_daemon(&env, &policy).spawn().unwrap());
    // The owed run's 4 attempts take about 8 s, all blocked and stopped at
    // 2 s; the rotation due at 3 s goes ahead 2 s after the owed run
    // started, so its hook starts before the owed run's last attempt.
    let both = wait_until(Duration::from_secs(30), || {
        let lines = lines_of(&runs);
        lines.iter().filter(|l| **l == first).count() >= 8
            && lines
                .iter()
                .any(|l| l.starts_with("start ") && **l != first)
    })
    .await;
    std::fs::remove_file(&hold).unwrap();
    signal(&daemon, "TERM");
    let out = finish(daemon, Duration::from_secs(20)).await;
    let lines = lines_of(&runs);
    assert!(both, "runs: {lines:?}\n{}", out.stderr);
    let next_start = lines
        .iter()
        .position(|l| l.starts_with("start ") && *l != first)
        .unwrap();
    let last_owed = lines.iter().rposition(|l| *l == first).unwrap();
    assert!(
        next_start < last_owed,
        "the rotation waited for the whole owed run: {lines:?}"
    );
    assert!(env.version_count("rekeyd/support-bot") >= 2);
}
