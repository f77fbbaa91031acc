//! IAM `overlap` with an `on_rotate` hook: the new secret is stored, the
//! hook runs while the old credential is still Active, and only once it
//! succeeded is the old credential retired. A hook that keeps failing leaves
//! it Active, `audit` says so, and the hook that works again (the daemon's
//! next start) lets the retirement go on.

use std::path::PathBuf;
use std::time::Duration;

use super::{argv, lines_of, owed_records, s, script};
use crate::util::{CREDENTIAL_ID, TestEnv, finish, signal, wait_until};

/// The IAM credential alone, `overlap` (deleted at once), with `hook` as
/// its on_rotate.
pub(super) fn overlap_policy(env: &TestEnv, hook: &std::path::Path) -> PathBuf {
    env.write_policy(&format!(
        r#"{aws}
[defaults]
every = "30d"
on_rotate = {hook}

[[iam_service_credential]]
name = "codecommit-sofia"
user_name = "sofia"
credential_id = "{CREDENTIAL_ID}"
strategy = "overlap"
"#,
        aws = env.aws_table(),
        hook = argv(&[s(hook)]),
    ))
}

/// Sofia's credentials as `(id, status)`.
pub(super) fn held(env: &TestEnv) -> Vec<(String, String)> {
    env.truth()
        .iam_credentials
        .iter()
        .filter(|c| c.user_name == "sofia")
        .map(|c| (c.credential_id.clone(), c.status.clone()))
        .collect()
}

pub(super) fn stored_id(env: &TestEnv) -> String {
    env.current("rekeyd/codecommit-sofia")["credential_id"]
        .as_str()
        .expect("a stored credential id")
        .to_owned()
}

/// Waits (at most `within`) until Sofia holds only `new`, Active (the old
/// credential retired), then (5 s more at most) until no hook is owed.
pub(super) async fn assert_retired_with_nothing_owed(env: &TestEnv, new: &str, within: Duration) {
    let retired = wait_until(within, || {
        held(env) == [(new.to_owned(), "Active".to_owned())]
    })
    .await;
    assert!(retired, "retired once the hook succeeded: {:?}", held(env));
    assert!(
        wait_until(Duration::from_secs(5), || owed_records(env).is_empty()).await,
        "nothing owed"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_old_credential_stays_active_while_on_rotate_runs_and_goes_after() {
    let env = TestEnv::new().await;
    let (started, go) = (env.dir.path().join("started"), env.dir.path().join("go"));
    // The hook says it runs, then waits (at most 60s) for the test.
    let hook = script(
        &env,
        "reload.sh",
        &format!(
            "echo \"$REKEYD_VERSION_ID\" > {started}\ni=0\nwhile [ ! -e {go} ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done\n",
            started = s(&started),
            go = s(&go)
        ),
    );
    let policy = overlap_policy(&env, &hook);
    let rotate = env.spawn(&policy, &["rotate", "codecommit-sofia"]);

    let running = wait_until(Duration::from_secs(30), || started.exists()).await;
    assert!(running, "the hook started");
    // The new credential is stored; the old one still works.
    let new = stored_id(&env);
    assert_ne!(new, CREDENTIAL_ID);
    let mut both = held(&env);
    both.sort();
    let mut want = vec![
        (CREDENTIAL_ID.to_owned(), "Active".to_owned()),
        (new.clone(), "Active".to_owned()),
    ];
    want.sort();
    assert_eq!(both, want, "both Active while consumers switch");

    std::fs::write(&go, "").unwrap();
    let out = finish(rotate, Duration::from_secs(60)).await;
    out.assert_exit(0);
    let line = out.line_for("codecommit-sofia");
    assert!(line.ends_with(" hook=ok"), "{line}");
    assert_eq!(
        held(&env),
        [(new, "Active".to_owned())],
        "the old one is gone"
    );
    assert!(owed_records(&env).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_hook_keeps_the_old_credential_active_until_it_succeeds() {
    let env = TestEnv::new().await;
    let fixed = env.dir.path().join("fixed");
    let runs = env.dir.path().join("runs");
    // Fails until the operator fixes what it needs (the file `fixed`).
    let hook = script(
        &env,
        "reload.sh",
        &format!(
            "echo \"$REKEYD_VERSION_ID\" >> {runs}\n[ -e {fixed} ] || {{ echo 'app not reloaded' >&2; exit 1; }}\n",
            runs = s(&runs),
            fixed = s(&fixed)
        ),
    );
    let policy = overlap_policy(&env, &hook);
    let out = env
        .rekeyd_env(
            &policy,
            &["rotate", "codecommit-sofia"],
            &[("REKEYD_HOOK_RETRY_BASE", "10ms")],
        )
        .await;
    out.assert_exit(1);
    assert!(out.line_for("codecommit-sofia").ends_with(" hook=failed"));
    let new = stored_id(&env);
    assert_eq!(
        held(&env)
            .iter()
            .find(|(id, _)| id == CREDENTIAL_ID)
            .map(|(_, status)| status.as_str()),
        Some("Active"),
        "the old credential stays Active"
    );
    assert_eq!(lines_of(&runs).len(), 4);

    let plan = env.rekeyd(&policy, &["plan"]).await;
    plan.assert_exit(0);
    assert!(
        plan.stdout.contains(&format!(
            "old credential {CREDENTIAL_ID} stays Active until on_rotate succeeds"
        )),
        "{}",
        plan.stdout
    );

    let (audit, json) = crate::audit::audit_json(&env, &policy, &[]).await;
    audit.assert_exit(1);
    let entry = crate::audit::entry(&json, "codecommit-sofia");
    assert_eq!(entry["status"], "drift", "{entry:#}");
    let detail = entry["detail"].as_str().unwrap();
    assert!(
        detail.contains("retirement waiting for the on_rotate hook")
            && detail.contains(CREDENTIAL_ID),
        "{detail}"
    );

    // Fixed: the daemon's start runs the owed hook, then retires the old one.
    std::fs::write(&fixed, "").unwrap();
    let daemon = env.spawn(&policy, &["daemon"]);
    assert_retired_with_nothing_owed(&env, &new, Duration::from_secs(30)).await;
    signal(&daemon, "TERM");
    let out = finish(daemon, Duration::from_secs(20)).await;
    out.assert_exit(0);
    assert_eq!(stored_id(&env), new, "no second rotation");
    let runs = lines_of(&runs);
    assert_eq!(runs.len(), 5, "{runs:?}");
    assert!(
        runs.iter().all(|v| *v == runs[0]),
        "every run for the one version: {runs:?}"
    );

    let (audit, json) = crate::audit::audit_json(&env, &policy, &[]).await;
    audit.assert_exit(0);
    assert_eq!(
        crate::audit::entry(&json, "codecommit-sofia")["status"],
        "ok"
    );
}
