//! `rekeyd demo`: the README's first command.

use std::collections::BTreeSet;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use crate::util::run;

#[tokio::test(flavor = "multi_thread")]
async fn demo_rotates_every_kind_and_reports_what_is_stored() {
    let home = tempfile::tempdir().unwrap();
    let mut command = crate::util::rekeyd_command(home.path());
    command.args(["demo", "--for", "12s"]);
    let out = run(command).await;

    assert_eq!(out.code(), 0, "stderr:\n{}", out.stderr);
    for name in ["support-bot", "codecommit-sofia", "stage-host-bob"] {
        let rotations = out
            .stdout
            .lines()
            .filter(|l| l.contains(" rotated ") && l.contains(name))
            .count();
        assert!(
            rotations >= 2,
            "{name} rotated {rotations} times:\n{}",
            out.stdout
        );
    }
    assert!(out.stdout.contains("what Secrets Manager holds now"));
    let table: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.trim_start().starts_with("demo/"))
        .collect();
    assert_eq!(table.len(), 3, "{}", out.stdout);
    assert!(table.iter().all(|l| l.ends_with(" yes")), "{}", out.stdout);
    assert!(!out.stdout.contains("FAILED"), "{}", out.stdout);
    // The bot's on_rotate hook reloads a fake consumer, which then uses the
    // version Secrets Manager holds.
    assert!(
        out.stdout.lines().any(|l| l.contains(" rotated ")
            && l.contains("support-bot")
            && l.ends_with("on_rotate reloaded its consumer")),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.lines().any(|l| l.starts_with(
            "the bot's consumer (reloaded by on_rotate) uses demo/support-bot version "
        ) && l.ends_with(": the current one")),
        "{}",
        out.stdout
    );
    // It ends with the audit a cron job would run.
    let audit = out
        .stdout
        .split("rekeyd audit:")
        .nth(1)
        .expect("an audit at the end");
    for name in ["support-bot", "codecommit-sofia", "stage-host-bob"] {
        assert!(audit.contains(name), "{audit}");
    }
    assert!(audit.contains("3 credentials"), "{audit}");
}

/// `demo --replicas 3`: every replica rotates, the busiest is killed and
/// covered for, every stored secret is the provider's, no slot is rotated
/// twice, and no secret the emulator issued is ever printed.
#[tokio::test(flavor = "multi_thread")]
async fn demo_with_three_replicas_covers_for_a_killed_one_and_prints_no_secret() {
    let home = tempfile::tempdir().unwrap();
    let mut command = crate::util::rekeyd_command(home.path());
    command
        .args(["demo", "--replicas", "3", "--for", "24s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("spawn rekeyd demo");
    let mut stderr = child.stderr.take().unwrap();
    let stderr = tokio::spawn(async move {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text).await;
        text
    });
    let mut reader = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut stdout = String::new();
    let mut endpoint: Option<String> = None;
    let mut issued = BTreeSet::new();
    let mut poll = tokio::time::interval(Duration::from_millis(500));
    let deadline = tokio::time::sleep(Duration::from_secs(90));
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            () = &mut deadline => panic!("the demo did not finish in time:\n{stdout}"),
            _ = poll.tick() => {
                if let Some(addr) = &endpoint {
                    collect_issued(addr, &mut issued).await;
                }
            }
            line = reader.next_line() => {
                let Some(line) = line.unwrap() else { break };
                if let Some(url) = line.split("emulator at http://").nth(1) {
                    endpoint = Some(url.trim().to_owned());
                }
                // The replicas have stopped: the emulator holds the final state.
                if line.starts_with("what Secrets Manager holds now") {
                    let addr = endpoint.as_deref().expect("the demo printed its emulator");
                    assert!(collect_issued(addr, &mut issued).await, "no final truth");
                }
                stdout.push_str(&line);
                stdout.push('\n');
            }
        }
    }
    let status = child.wait().await.unwrap();
    let stderr = stderr.await.unwrap();
    assert_eq!(status.code(), Some(0), "{stdout}\nstderr:\n{stderr}");

    for replica in ["[replica-1]", "[replica-2]", "[replica-3]"] {
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with(replica) && l.contains(" rotated ")),
            "{replica} rotated nothing:\n{stdout}"
        );
    }
    assert!(stdout.contains("killed (SIGKILL)"), "{stdout}");
    assert!(
        stdout
            .lines()
            .any(|l| l.contains("killed; replica-") && l.contains(" took over ")),
        "no takeover after the kill:\n{stdout}"
    );
    let table: Vec<&str> = stdout
        .lines()
        .filter(|l| l.trim_start().starts_with("demo/"))
        .collect();
    assert_eq!(table.len(), 5, "{stdout}");
    assert!(table.iter().all(|l| l.ends_with(" yes")), "{stdout}");
    let doubles = stdout
        .split("double rotations")
        .nth(1)
        .and_then(|rest| rest.split("rekeyd audit:").next())
        .expect("double rotations are counted");
    let counts: Vec<&str> = doubles
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().nth(1))
        .collect();
    assert_eq!(counts, ["0"; 5], "{stdout}");
    assert!(stdout.contains("5 credentials: 5 ok"), "{stdout}");

    // Every credential rotated at least twice, so there is something to leak.
    assert!(issued.len() >= 10, "only {} secrets seen", issued.len());
    for secret in &issued {
        assert!(
            !stdout.contains(secret.as_str()) && !stderr.contains(secret.as_str()),
            "a secret the emulator issued was printed"
        );
    }
}

/// Adds every secret the emulator at `addr` has issued or stores; `false`
/// when it no longer answers (the demo has stopped it).
async fn collect_issued(addr: &str, issued: &mut BTreeSet<String>) -> bool {
    let Some(truth) = truth_of(addr).await else {
        return false;
    };
    let strings = |value: &Value, key: &str| -> Vec<String> {
        value
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|item| item[key].as_str().map(str::to_owned))
            .collect()
    };
    issued.extend(strings(&truth["chime_bots"], "security_token"));
    issued.extend(strings(&truth["iam_credentials"], "service_password"));
    for stage in truth["ivs_stages"].as_array().into_iter().flatten() {
        issued.extend(strings(&stage["tokens"], "token"));
    }
    for secret in truth["secrets"].as_array().into_iter().flatten() {
        for stored in strings(&secret["versions"], "secret_string") {
            let value: Value = serde_json::from_str(&stored).unwrap();
            for key in ["security_token", "service_password", "token"] {
                issued.extend(value[key].as_str().map(str::to_owned));
            }
        }
    }
    issued.retain(|s| !s.is_empty());
    true
}

/// The emulator's `/_emulator/truth`, or `None` when it does not answer.
async fn truth_of(addr: &str) -> Option<Value> {
    let mut stream = tokio::net::TcpStream::connect(addr).await.ok()?;
    let request =
        format!("GET /_emulator/truth HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut response = String::new();
    tokio::time::timeout(
        Duration::from_secs(10),
        stream.read_to_string(&mut response),
    )
    .await
    .ok()?
    .ok()?;
    let (_, body) = response.split_once("\r\n\r\n")?;
    serde_json::from_str(body).ok()
}
