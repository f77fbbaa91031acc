//! `rekeyd emulator` as a separate process: seeded from a file, driven by
//! `rekeyd rotate`, inspected through its HTTP controls.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::BufReader;

use crate::util::{ACCOUNT_ID, BOT_ID, finish, http_get, read_until, rekeyd_command, run, signal};

#[tokio::test(flavor = "multi_thread")]
async fn the_emulator_command_serves_seeded_resources_to_rotate() {
    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("seed.json");
    std::fs::write(
        &seed,
        format!(r#"{{"chime_bots": [{{"account_id": "{ACCOUNT_ID}", "bot_id": "{BOT_ID}"}}]}}"#),
    )
    .unwrap();
    let (child, endpoint) =
        spawn_emulator(dir.path(), &["--seed".as_ref(), seed.as_os_str()]).await;

    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        format!(
            "[aws]\nregion = \"us-east-1\"\nendpoint_url = \"{endpoint}\"\n\n[[chime_bot]]\nname = \"bot\"\naccount_id = \"{ACCOUNT_ID}\"\nbot_id = \"{BOT_ID}\"\nevery = \"1d\"\n"
        ),
    )
    .unwrap();
    let mut rotate = rekeyd_command(dir.path());
    rotate.arg("--config").arg(&policy).args(["rotate", "bot"]);
    let out = run(rotate).await;
    assert_eq!(out.code(), 0, "stderr:\n{}", out.stderr);

    let truth: serde_json::Value = {
        let (status, body) =
            http_get(endpoint.trim_start_matches("http://"), "/_emulator/truth").await;
        assert!(status.contains("200"), "{status}");
        serde_json::from_str(&body).unwrap()
    };
    let token = truth["chime_bots"][0]["security_token"].as_str().unwrap();
    let stored = truth["secrets"][0]["versions"][0]["secret_string"]
        .as_str()
        .unwrap();
    let stored: serde_json::Value = serde_json::from_str(stored).unwrap();
    assert_eq!(stored["security_token"], token);

    signal(&child, "TERM");
    let out = finish(child, Duration::from_secs(10)).await;
    assert_eq!(out.code(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn quotas_set_on_the_command_line_are_in_force() {
    let dir = tempfile::tempdir().unwrap();
    let quotas = [
        "--quota",
        "secretsmanager=50",
        "--quota",
        "chime:GetBot=5/1",
    ];
    let quotas: Vec<&std::ffi::OsStr> = quotas.iter().map(|a| a.as_ref()).collect();
    let (child, endpoint) = spawn_emulator(dir.path(), &quotas).await;
    let (status, body) =
        http_get(endpoint.trim_start_matches("http://"), "/_emulator/quotas").await;
    assert!(status.contains("200"), "{status}");
    let quotas: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(quotas["secretsmanager"]["rate"], 50.0, "{body}");
    assert_eq!(quotas["secretsmanager"]["burst"], 50.0, "{body}");
    assert_eq!(quotas["chime:GetBot"]["rate"], 5.0, "{body}");
    assert_eq!(quotas["chime:GetBot"]["burst"], 1.0, "{body}");
    signal(&child, "TERM");
    let out = finish(child, Duration::from_secs(10)).await;
    assert_eq!(out.code(), 0);

    for (bad, says) in [
        ("secretsmanager=fast", "expected KEY=RATE"),
        ("s3=5", "unknown service \"s3\""),
        ("iam=0", "must be a positive"),
    ] {
        let mut emulator = rekeyd_command(dir.path());
        emulator.args(["emulator", "--listen", "127.0.0.1:0", "--quota", bad]);
        let out = run(emulator).await;
        assert_eq!(out.code(), 2, "{bad}: {}", out.stderr);
        assert!(out.stderr.contains(says), "{bad}: {}", out.stderr);
    }
}

/// `rekeyd emulator --listen 127.0.0.1:0 ARGS...` and the URL it prints.
async fn spawn_emulator(
    dir: &std::path::Path,
    args: &[&std::ffi::OsStr],
) -> (tokio::process::Child, String) {
    let mut emulator = rekeyd_command(dir);
    emulator
        .args(["emulator", "--listen", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = emulator.spawn().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let endpoint = read_until(&mut stdout, Duration::from_secs(20), |l| {
        l.starts_with("http://127.0.0.1:")
    })
    .await
    .expect("the emulator prints its URL")
    .trim()
    .to_owned();
    (child, endpoint)
}
