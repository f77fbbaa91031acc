//! The test environment: an in-process emulator on 127.0.0.1:0, seeded
//! resources, a policy file in a temporary directory, and `rekeyd` run as a
//! real process with a bounded wait.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use rekeyd_emulator::{Emulator, Truth};
use std::ops::{Deref, DerefMut};

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;

/// Every run of `rekeyd` must end within this.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(120);

pub const ACCOUNT_ID: &str = "12a3456b-7c89-012d-3456-78901e23fg45";
pub const BOT_ID: &str = "123abcd4-5ef6-789g-0h12-34j56789012k";
pub const CREDENTIAL_ID: &str = "ACCAEXAMPLE123EXAMPLE";
pub const STAGE_ARN: &str = "arn:aws:ivs:us-west-2:123456789012:stage/abcdABCDefgh";
/// The secrets of [`TestEnv::standard_policy`]'s three credentials.
pub const STANDARD_SECRETS: [&str; 3] = [
    "rekeyd/support-bot",
    "rekeyd/codecommit-sofia",
    "rekeyd/stage-host-bob",
];

/// The output of one `rekeyd` run.
#[derive(Debug)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn code(&self) -> i32 {
        self.status.code().unwrap_or(-1)
    }

    /// Fails the test, showing both streams, unless the exit code is `code`.
    #[track_caller]
    pub fn assert_exit(&self, code: i32) {
        assert_eq!(
            self.code(),
            code,
            "stdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
    }

    /// The stdout line for credential `name` (`NAME: ...`).
    pub fn line_for(&self, name: &str) -> &str {
        let prefix = format!("{name}: ");
        self.stdout
            .lines()
            .find(|l| l.starts_with(&prefix))
            .unwrap_or_else(|| panic!("no line for {name} in stdout:\n{}", self.stdout))
    }
}

/// An emulator with the three standard resources, and a policy directory.
pub struct TestEnv {
    pub emulator: Emulator,
    pub dir: tempfile::TempDir,
}

impl TestEnv {
    /// Starts the emulator and seeds a Chime bot, an IAM user with one
    /// CodeCommit credential, and an IVS stage.
    pub async fn new() -> TestEnv {
        let emulator = Emulator::start("127.0.0.1:0".parse().unwrap())
            .await
            .expect("start emulator");
        emulator.seed_chime_bot(ACCOUNT_ID, BOT_ID).unwrap();
        emulator.seed_iam_user("sofia").unwrap();
        emulator
            .seed_service_credential_with_id("sofia", "codecommit.amazonaws.com", CREDENTIAL_ID)
            .unwrap();
        emulator.seed_stage(STAGE_ARN).unwrap();
        TestEnv {
            emulator,
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn endpoint(&self) -> String {
        self.emulator.endpoint_url()
    }

    /// `[aws]` pointing every service at the emulator.
    pub fn aws_table(&self) -> String {
        format!(
            "[aws]\nregion = \"us-east-1\"\nendpoint_url = \"{}\"\n",
            self.endpoint()
        )
    }

    /// A policy with one credential of each kind, rotated every `every`.
    pub fn standard_policy(&self, every: &str) -> String {
        format!(
            r#"{aws}
[defaults]
every = "{every}"

[[chime_bot]]
name = "support-bot"
account_id = "{ACCOUNT_ID}"
bot_id = "{BOT_ID}"

[[iam_service_credential]]
name = "codecommit-sofia"
user_name = "sofia"
credential_id = "{CREDENTIAL_ID}"

[[ivs_participant_token]]
name = "stage-host-bob"
stage_arn = "{STAGE_ARN}"
duration = "12h"
user_id = "bob"
attributes = {{ role = "host" }}
"#,
            aws = self.aws_table()
        )
    }

    /// Writes `text` as the policy file and returns its path.
    pub fn write_policy(&self, text: &str) -> PathBuf {
        let path = self.dir.path().join("policy.toml");
        std::fs::write(&path, text).expect("write policy");
        path
    }

    /// Runs `rekeyd --config POLICY ARGS...` to completion.
    pub async fn rekeyd(&self, policy: &Path, args: &[&str]) -> Output {
        self.rekeyd_env(policy, args, &[]).await
    }

    /// As [`TestEnv::rekeyd`], with extra environment variables.
    pub async fn rekeyd_env(&self, policy: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut command = rekeyd_command(self.dir.path());
        command.arg("--config").arg(policy).args(args);
        for (key, value) in env {
            command.env(key, value);
        }
        run(command).await
    }

    /// Starts `rekeyd --config POLICY ARGS...` in the background.
    pub fn spawn(&self, policy: &Path, args: &[&str]) -> Proc {
        let mut command = rekeyd_command(self.dir.path());
        command
            .arg("--config")
            .arg(policy)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        Proc::from(command.spawn().expect("spawn rekeyd"))
    }

    pub fn truth(&self) -> Truth {
        self.emulator.truth()
    }

    /// The value of each version of `secret`, keyed by stage (AWSCURRENT, AWSPREVIOUS).
    pub fn secret_stages(&self, secret: &str) -> BTreeMap<String, serde_json::Value> {
        let truth = self.truth();
        let secret = truth
            .secrets
            .iter()
            .find(|s| s.name == secret)
            .unwrap_or_else(|| panic!("no secret {secret}"));
        let mut stages = BTreeMap::new();
        for version in &secret.versions {
            let value: serde_json::Value =
                serde_json::from_str(version.secret_string.as_deref().unwrap()).unwrap();
            for stage in &version.stages {
                stages.insert(stage.clone(), value.clone());
            }
        }
        stages
    }

    /// How many versions `secret` has.
    pub fn version_count(&self, secret: &str) -> usize {
        self.truth()
            .secrets
            .iter()
            .find(|s| s.name == secret)
            .map_or(0, |s| s.versions.len())
    }

    /// The AWSCURRENT value of `secret`, parsed.
    pub fn current(&self, secret: &str) -> serde_json::Value {
        self.secret_stages(secret)
            .remove("AWSCURRENT")
            .unwrap_or_else(|| panic!("{secret} has no AWSCURRENT"))
    }

    /// The stored bot token is the one Chime holds valid now.
    pub fn assert_bot_stored(&self) {
        assert_eq!(
            self.current("rekeyd/support-bot")["security_token"],
            self.bot_token().as_str(),
            "stored chime token"
        );
    }

    /// The stored IAM password is the one IAM holds valid now.
    pub fn assert_iam_stored(&self) {
        assert_eq!(
            self.current("rekeyd/codecommit-sofia")["service_password"],
            self.iam_password().as_str(),
            "stored IAM password"
        );
    }

    /// The bot's security token as the emulator holds it now.
    pub fn bot_token(&self) -> String {
        self.truth().chime_bots[0].security_token.clone()
    }

    /// The IAM credential's password as the emulator holds it now.
    pub fn iam_password(&self) -> String {
        let truth = self.truth();
        truth
            .iam_credentials
            .iter()
            .find(|c| c.credential_id == CREDENTIAL_ID)
            .unwrap()
            .service_password
            .clone()
    }

    /// Every IVS token the emulator issued on the standard stage.
    pub fn ivs_tokens(&self) -> Vec<String> {
        let truth = self.truth();
        let stage = truth
            .ivs_stages
            .iter()
            .find(|s| s.arn == STAGE_ARN)
            .unwrap();
        stage.tokens.iter().map(|t| t.token.clone()).collect()
    }

    /// Every secret value the emulator ever issued (to scan output for).
    pub fn issued_secrets(&self) -> Vec<String> {
        let truth = self.truth();
        let mut all: Vec<String> = truth
            .chime_bots
            .iter()
            .map(|b| b.security_token.clone())
            .collect();
        for c in &truth.iam_credentials {
            all.push(c.service_password.clone());
            all.extend(c.service_credential_secret.clone());
        }
        all.extend(
            truth
                .ivs_stages
                .iter()
                .flat_map(|s| s.tokens.iter().map(|t| t.token.clone())),
        );
        // API keys have no password: an empty string is no secret.
        all.retain(|s| !s.is_empty());
        all
    }

    /// The number of mutating calls the emulator has served.
    pub fn mutating_calls(&self) -> usize {
        self.emulator.calls().iter().filter(|c| c.mutating).count()
    }
}

/// `rekeyd` with a clean AWS environment: static credentials, no profile
/// files, no instance metadata lookups.
pub fn rekeyd_command(home: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rekeyd"));
    with_test_env(&mut command, home);
    command
}

/// Gives `command` (rekeyd, or a wrapper that execs it) the environment of
/// [`rekeyd_command`].
pub fn with_test_env(command: &mut Command, home: &Path) {
    for (key, _) in std::env::vars() {
        let inherited_config = [
            "RUST_LOG",
            "REKEYD_CONFIG",
            "STATE_DIRECTORY",
            "NOTIFY_SOCKET",
            "WATCHDOG_USEC",
            "WATCHDOG_PID",
            "REKEYD_ALLOW_ROOT",
        ];
        if key.starts_with("AWS_") || inherited_config.contains(&key.as_str()) {
            command.env_remove(key);
        }
    }
    command
        .env("HOME", home)
        .env("STATE_DIRECTORY", home.join("state"))
        .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
        .env("AWS_SECRET_ACCESS_KEY", "test-secret-key")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", home.join("aws-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.join("aws-credentials"))
        // The test machines run everything as root; `daemon` refuses that
        // without being told (tests/integration/daemon.rs checks the refusal).
        .env("REKEYD_ALLOW_ROOT", "1")
        .stdin(Stdio::null())
        .kill_on_drop(true);
}

/// Runs a command to completion within [`RUN_TIMEOUT`].
pub async fn run(mut command: Command) -> Output {
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    let child = command.spawn().expect("spawn rekeyd");
    let output = tokio::time::timeout(RUN_TIMEOUT, child.wait_with_output())
        .await
        .expect("rekeyd did not finish in time")
        .expect("wait for rekeyd");
    Output {
        status: output.status,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Polls `check` every 100 ms until it is true or `limit` passes.
pub async fn wait_until(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    check()
}

/// Sends `signal` to a child process.
pub fn signal(child: &Child, signal: &str) {
    let pid = child.id().expect("child is running");
    let status = std::process::Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .expect("run kill");
    assert!(status.success());
}

/// A running `rekeyd` whose piped output is read as it comes, so that a
/// chatty daemon never blocks on a full pipe.
pub struct Proc {
    child: Child,
    stdout: JoinHandle<Vec<u8>>,
    stderr: JoinHandle<Vec<u8>>,
}

impl From<Child> for Proc {
    fn from(mut child: Child) -> Proc {
        fn drain<R: AsyncRead + Unpin + Send + 'static>(pipe: Option<R>) -> JoinHandle<Vec<u8>> {
            tokio::spawn(async move {
                let mut bytes = Vec::new();
                if let Some(mut pipe) = pipe {
                    let _ = pipe.read_to_end(&mut bytes).await;
                }
                bytes
            })
        }
        let stdout = drain(child.stdout.take());
        let stderr = drain(child.stderr.take());
        Proc {
            child,
            stdout,
            stderr,
        }
    }
}

impl Deref for Proc {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.child
    }
}

impl DerefMut for Proc {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.child
    }
}

/// Waits for a process to exit and collects its output, within `limit`.
pub async fn finish(proc: impl Into<Proc>, limit: Duration) -> Output {
    let Proc {
        mut child,
        stdout,
        stderr,
    } = proc.into();
    let status = tokio::time::timeout(limit, child.wait())
        .await
        .expect("rekeyd did not exit in time")
        .expect("wait for rekeyd");
    let stdout = stdout.await.unwrap_or_default();
    let stderr = stderr.await.unwrap_or_default();
    Output {
        status,
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

/// Reads lines from a stream until one satisfies `want`, within `limit`.
pub async fn read_until<R: tokio::io::AsyncRead + Unpin>(
    reader: &mut BufReader<R>,
    limit: Duration,
    mut want: impl FnMut(&str) -> bool,
) -> Option<String> {
    tokio::time::timeout(limit, async {
        let mut line = String::new();
        loop {
            line.clear();
            if reader.read_line(&mut line).await.ok()? == 0 {
                return None;
            }
            if want(&line) {
                return Some(line.clone());
            }
        }
    })
    .await
    .ok()
    .flatten()
}

/// A plain HTTP/1.1 GET on loopback (`addr` is `127.0.0.1:PORT`):
/// the status line and the body.
pub async fn http_get(addr: &str, path: &str) -> (String, String) {
    use tokio::io::AsyncWriteExt;
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    tokio::time::timeout(
        Duration::from_secs(10),
        stream.read_to_string(&mut response),
    )
    .await
    .expect("the server answered in time")
    .unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    (head.lines().next().unwrap().to_owned(), body.to_owned())
}

/// `program` from `PATH`, or `None` after a note that `test` skips the part
/// that needs it.
pub fn on_path(program: &str, test: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(program))
            .find(|candidate| candidate.is_file())
    });
    if found.is_none() {
        eprintln!("note: {test}: {program} is not on PATH, skipped");
    }
    found
}
