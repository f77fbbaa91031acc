//! A healthy daemon's log is quiet: with `journalctl -p warning` as an
//! operator's alarm, any line at warning or above (the libraries' included)
//! is a false page. Two daemons, each over a mixed fleet rotating every
//! second, against AWS-like latency, log nothing at WARN or ERROR.

use std::path::Path;
use std::time::Duration;

use rekeyd_emulator::FaultRule;

use crate::util::{ACCOUNT_ID, Output, Proc, TestEnv, finish, rekeyd_command, signal};

/// How long the daemons run: enough for a dozen rotations of each bot.
const RUN_FOR: Duration = Duration::from_secs(14);

/// Three Chime bots every second, an IAM credential every second, and an
/// IVS token of one minute renewed five seconds in, all under `prefix`.
fn mixed_fleet(env: &TestEnv, fleet: usize) -> String {
    let user = format!("quiet-{fleet}");
    let credential = env
        .emulator
        .seed_service_credential(&user, "codecommit.amazonaws.com")
        .unwrap();
    let mut policy = format!(
        "{aws}\n[defaults]\nevery = \"1s\"\nsecret_prefix = \"quiet-{fleet}/\"\n\n",
        aws = env.aws_table()
    );
    for bot in 0..3 {
        let bot_id = format!("00000000-0000-0000-000{fleet}-00000000000{bot}");
        env.emulator.seed_chime_bot(ACCOUNT_ID, &bot_id).unwrap();
        policy.push_str(&format!(
            "[[chime_bot]]\nname = \"bot-{bot}\"\naccount_id = \"{ACCOUNT_ID}\"\nbot_id = \"{bot_id}\"\n\n"
        ));
    }
    policy.push_str(&format!(
        r#"[[iam_service_credential]]
name = "codecommit"
user_name = "{user}"
credential_id = "{id}"

[[ivs_participant_token]]
name = "stage-host"
stage_arn = "{stage}"
duration = "1m"
refresh_before = "55s"
"#,
        id = credential.credential_id,
        stage = crate::util::STAGE_ARN,
    ));
    policy
}

/// Starts `rekeyd daemon` with JSON logs, its home and state under `home`.
fn spawn_daemon(home: &Path, policy: &str) -> Proc {
    std::fs::create_dir_all(home).unwrap();
    // rekeyd_command points the AWS config chain at these: present (empty),
    // as on a host, so the SDK has nothing to warn about.
    for file in ["aws-config", "aws-credentials"] {
        std::fs::write(home.join(file), "").unwrap();
    }
    let path = home.join("policy.toml");
    std::fs::write(&path, policy).unwrap();
    let mut command = rekeyd_command(home);
    command
        .arg("--config")
        .arg(&path)
        .args(["--log-format", "json", "daemon"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    Proc::from(command.spawn().expect("spawn rekeyd"))
}

/// Every log line at WARN or above, except the one the test's own setup
/// asks for: the suite runs as root, and `daemon` says so when told to.
fn loud_lines(out: &Output) -> Vec<&str> {
    out.stderr
        .lines()
        .filter(|line| {
            let entry: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
            let level = entry["level"].as_str().unwrap_or_default();
            let message = entry["message"].as_str().unwrap_or_default();
            matches!(level, "WARN" | "ERROR") && !message.starts_with("running as root")
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_healthy_daemon_logs_no_warning_or_error() {
    let env = TestEnv::new().await;
    // AWS-like latency on every provider and store call: 300-400 ms.
    env.emulator
        .inject(FaultRule::delay("*", 400).probability(0.5))
        .unwrap();
    env.emulator.inject(FaultRule::delay("*", 300)).unwrap();
    let daemons: Vec<Proc> = (0..2)
        .map(|fleet| {
            let policy = mixed_fleet(&env, fleet);
            spawn_daemon(&env.dir.path().join(format!("daemon-{fleet}")), &policy)
        })
        .collect();

    tokio::time::sleep(RUN_FOR).await;
    let mut outs = Vec::new();
    for daemon in daemons {
        signal(&daemon, "TERM");
        outs.push(finish(daemon, Duration::from_secs(30)).await);
    }

    for (fleet, out) in outs.iter().enumerate() {
        out.assert_exit(0);
        assert_eq!(
            loud_lines(out),
            Vec::<&str>::new(),
            "daemon {fleet} logged at warning or above"
        );
        // The fleet was busy, not idle: every credential rotated, the bots
        // and the IAM credential many times, the IVS token at least twice.
        for (name, least) in [
            ("bot-0", 4),
            ("bot-1", 4),
            ("bot-2", 4),
            ("codecommit", 4),
            ("stage-host", 2),
        ] {
            let versions = env.version_count(&format!("quiet-{fleet}/{name}"));
            assert!(
                versions >= least,
                "quiet-{fleet}/{name}: {versions} versions, expected {least} or more; stderr:\n{}",
                out.stderr
            );
        }
    }
}
