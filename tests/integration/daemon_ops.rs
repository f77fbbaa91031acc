//! The daemon as systemd runs it: the notify protocol, SIGHUP reloads,
//! restarts (catch-up exactly once) and the metrics listener.

use std::os::unix::net::UnixDatagram;
use std::time::Duration;

use tokio::io::BufReader;
use tokio::process::Child;

use crate::util::{TestEnv, finish, http_get, read_until, signal, wait_until};

/// A NOTIFY_SOCKET for one daemon: a unix datagram socket in a temp dir.
struct NotifySocket {
    socket: UnixDatagram,
    path: std::path::PathBuf,
}

impl NotifySocket {
    fn new(env: &TestEnv) -> NotifySocket {
        let path = env.dir.path().join("notify.sock");
        let socket = UnixDatagram::bind(&path).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        NotifySocket { socket, path }
    }

    /// The next datagram that contains `want`, skipping others (bounded).
    fn expect(&self, want: &str) -> String {
        let mut buf = [0u8; 4096];
        for _ in 0..100 {
            let n = self
                .socket
                .recv(&mut buf)
                .unwrap_or_else(|e| panic!("no {want} from the daemon: {e}"));
            let message = String::from_utf8_lossy(&buf[..n]).into_owned();
            if message.contains(want) {
                return message;
            }
        }
        panic!("no {want} among 100 notifications");
    }
}

fn spawn_notified(
    env: &TestEnv,
    policy: &std::path::Path,
    notify: &NotifySocket,
    watchdog_usec: Option<&str>,
) -> Child {
    let mut command = crate::util::rekeyd_command(env.dir.path());
    command
        .arg("--config")
        .arg(policy)
        .arg("daemon")
        .env("NOTIFY_SOCKET", &notify.path)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    if let Some(usec) = watchdog_usec {
        command.env("WATCHDOG_USEC", usec);
    }
    command.spawn().unwrap()
}

fn chime_and_iam(env: &TestEnv, every: &str) -> String {
    let full = env.standard_policy(every);
    full.split("[[ivs_participant_token]]")
        .next()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn speaks_the_systemd_notify_protocol() {
    let env = TestEnv::new().await;
    let policy = env.write_policy(&chime_and_iam(&env, "1h"));
    let notify = NotifySocket::new(&env);
    let daemon = spawn_notified(&env, &policy, &notify, Some("1000000"));

    notify.expect("READY=1");
    let status = notify.expect("STATUS=");
    assert!(status.contains("2 credentials"), "{status}");
    notify.expect("WATCHDOG=1");

    signal(&daemon, "HUP");
    let reloading = notify.expect("RELOADING=1");
    assert!(reloading.contains("MONOTONIC_USEC="), "{reloading}");
    notify.expect("READY=1");

    signal(&daemon, "TERM");
    notify.expect("STOPPING=1");
    let out = finish(daemon, Duration::from_secs(10)).await;
    assert_eq!(out.code(), 0, "stderr:\n{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn sighup_adds_new_credentials_and_leaves_the_others_alone() {
    let env = TestEnv::new().await;
    let before = chime_and_iam(&env, "1h");
    let policy = env.write_policy(&before);
    let notify = NotifySocket::new(&env);
    let daemon = spawn_notified(&env, &policy, &notify, None);
    notify.expect("READY=1");
    let rotated = wait_until(Duration::from_secs(15), || {
        env.version_count("rekeyd/support-bot") == 1
            && env.version_count("rekeyd/codecommit-sofia") == 1
    })
    .await;
    assert!(rotated, "missing secrets are rotated at start");

    // Add the IVS token; keep the others exactly as they were.
    env.write_policy(&env.standard_policy("1h"));
    signal(&daemon, "HUP");
    notify.expect("RELOADING=1");
    notify.expect("READY=1");
    let added = wait_until(Duration::from_secs(15), || {
        env.version_count("rekeyd/stage-host-bob") == 1
    })
    .await;
    assert!(added, "the added credential is rotated (it is missing)");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        env.version_count("rekeyd/support-bot"),
        1,
        "untouched: not rotated again"
    );
    assert_eq!(
        env.version_count("rekeyd/codecommit-sofia"),
        1,
        "untouched: not rotated again"
    );

    // A broken policy is refused and the running one kept.
    env.write_policy("[[chime_bot]]\nname = 42\n");
    signal(&daemon, "HUP");
    notify.expect("RELOADING=1");
    notify.expect("READY=1");

    signal(&daemon, "TERM");
    let out = finish(daemon, Duration::from_secs(10)).await;
    assert_eq!(out.code(), 0);
    assert!(
        out.stderr.contains("policy reload failed"),
        "{}",
        out.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn after_a_kill_the_restart_catches_up_exactly_once() {
    let env = TestEnv::new().await;
    let policy = env.write_policy(&chime_and_iam(&env, "4s"));
    let mut daemon = env.spawn(&policy, &["daemon"]);
    assert!(
        wait_until(Duration::from_secs(15), || env
            .version_count("rekeyd/support-bot")
            == 1)
        .await
    );
    daemon.kill().await.unwrap();
    let _ = daemon.wait().await;

    // Down for longer than the interval: one rotation is overdue.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let daemon = env.spawn(&policy, &["daemon"]);
    assert!(
        wait_until(Duration::from_secs(15), || env
            .version_count("rekeyd/support-bot")
            == 2)
        .await
    );
    // Caught up once, at start; the next one only after a further interval.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(env.version_count("rekeyd/support-bot"), 2);
    signal(&daemon, "TERM");
    let out = finish(daemon, Duration::from_secs(10)).await;
    assert_eq!(out.code(), 0, "stderr:\n{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_are_valid_prometheus_text() {
    let env = TestEnv::new().await;
    let text = env.standard_policy("1h").replace(
        "[defaults]",
        "[daemon]\nmetrics_listen = \"127.0.0.1:0\"\n\n[aws.rate_limits]\niam = 5\n\n[defaults]",
    );
    let policy = env.write_policy(&text);
    let mut command = crate::util::rekeyd_command(env.dir.path());
    command
        .arg("--config")
        .arg(&policy)
        .args(["--log-format", "json", "daemon"])
        .stderr(std::process::Stdio::piped());
    let mut daemon = command.spawn().unwrap();
    let mut stderr = BufReader::new(daemon.stderr.take().unwrap());
    let line = read_until(&mut stderr, Duration::from_secs(20), |l| {
        l.contains("metrics listening")
    })
    .await
    .expect("the daemon logs its metrics address");
    let log: serde_json::Value = serde_json::from_str(&line).unwrap();
    let addr = log["listen"].as_str().unwrap().to_owned();
    assert!(
        wait_until(Duration::from_secs(15), || env
            .version_count("rekeyd/stage-host-bob")
            == 1)
        .await
    );
    tokio::time::sleep(Duration::from_millis(300)).await;

    let (status, body) = http_get(&addr, "/metrics").await;
    assert!(status.contains("200"), "{status}");
    let samples = parse_prometheus(&body);
    let value = |name: &str, labels: &[(&str, &str)]| {
        samples
            .iter()
            .find(|(n, l, _)| {
                n == name
                    && labels
                        .iter()
                        .all(|(k, v)| l.iter().any(|(lk, lv)| lk == k && lv == v))
            })
            .map(|(_, _, v)| *v)
    };
    assert_eq!(
        value(
            "rekeyd_rotations_total",
            &[("kind", "chime_bot"), ("result", "success")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            "rekeyd_rotation_duration_seconds_count",
            &[("kind", "ivs_participant_token")]
        ),
        Some(1.0)
    );
    let expiry = value(
        "rekeyd_credential_expiration_timestamp_seconds",
        &[("name", "stage-host-bob")],
    )
    .unwrap();
    let now = chrono::Utc::now().timestamp() as f64;
    assert!(
        (expiry - (now + 12.0 * 3600.0)).abs() < 120.0,
        "expiry {expiry} vs now {now}"
    );
    assert!(
        value(
            "rekeyd_credential_last_rotation_timestamp_seconds",
            &[("name", "support-bot")]
        )
        .is_some()
    );
    assert!(
        value(
            "rekeyd_credential_renewal_timestamp_seconds",
            &[("name", "support-bot")]
        )
        .unwrap()
            > now
    );

    // A configured ceiling is the rate until a throttle cuts it; a service
    // that never throttled and has no ceiling is unlimited: no sample.
    assert_eq!(
        value("rekeyd_aws_send_rate", &[("service", "iam")]),
        Some(5.0)
    );
    assert_eq!(
        value("rekeyd_aws_send_rate", &[("service", "secretsmanager")]),
        None
    );

    let (status, body) = http_get(&addr, "/healthz").await;
    assert!(status.contains("200"), "{status} {body}");

    signal(&daemon, "TERM");
    let out = finish(daemon, Duration::from_secs(10)).await;
    assert_eq!(out.code(), 0);
}

/// One sample: metric name, labels, value.
type Sample = (String, Vec<(String, String)>, f64);

/// Parses the text exposition format strictly enough to catch mistakes:
/// every sample line is `name{labels} value`, every family has HELP and TYPE.
fn parse_prometheus(text: &str) -> Vec<Sample> {
    let mut typed = std::collections::BTreeSet::new();
    let mut samples = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split(' ');
            let name = parts.next().unwrap();
            let kind = parts.next().unwrap();
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            typed.insert(name.to_owned());
            continue;
        }
        if line.starts_with("# HELP ") || line.is_empty() {
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("bad line {line}"));
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("bad value in {line}"));
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => {
                let inner = rest
                    .strip_suffix('}')
                    .unwrap_or_else(|| panic!("bad labels in {line}"));
                let labels = inner
                    .split(',')
                    .map(|pair| {
                        let (k, v) = pair.split_once('=').unwrap();
                        (k.to_owned(), v.trim_matches('"').to_owned())
                    })
                    .collect();
                (name.to_owned(), labels)
            }
            None => (series.to_owned(), Vec::new()),
        };
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| name.strip_suffix(suffix).filter(|f| typed.contains(*f)))
            .unwrap_or(&name)
            .to_owned();
        assert!(typed.contains(&family), "{name} has no TYPE line");
        samples.push((name, labels, value));
    }
    samples
}
