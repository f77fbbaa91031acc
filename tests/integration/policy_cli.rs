//! `rekeyd check` and `example-policy` from the command line, over the
//! policy corpus in `tests/policies/` (each invalid file lists the
//! `# expect:` fragments its errors must contain).

use std::path::{Path, PathBuf};

use crate::util::{Output, run};

fn corpus(kind: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/policies")
        .join(kind);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

async fn check(policy: &Path) -> Output {
    let home = tempfile::tempdir().unwrap();
    let mut command = crate::util::rekeyd_command(home.path());
    command.arg("--config").arg(policy).arg("check");
    run(command).await
}

#[tokio::test(flavor = "multi_thread")]
async fn every_invalid_policy_exits_2_with_every_problem_located() {
    let files = corpus("invalid");
    assert!(files.len() >= 30, "the corpus has {} files", files.len());
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let out = check(&file).await;
        let name = file.display();
        assert_eq!(out.code(), 2, "{name}: stderr:\n{}", out.stderr);
        assert!(
            !out.stderr.contains("panicked"),
            "{name} panicked:\n{}",
            out.stderr
        );
        assert!(out.stdout.is_empty(), "{name}: stdout:\n{}", out.stdout);
        for line in out.stderr.lines() {
            let rest = line
                .strip_prefix(&format!("{name}:"))
                .unwrap_or_else(|| panic!("{name}: line without FILE: prefix: {line}"));
            let line_no = rest.split(':').next().unwrap();
            assert!(
                line_no.parse::<usize>().is_ok(),
                "{name}: no line number in {line}"
            );
        }
        for expected in text.lines().filter_map(|l| l.strip_prefix("# expect: ")) {
            assert!(
                out.stderr.contains(expected.trim()),
                "{name}: expected {expected:?} in:\n{}",
                out.stderr
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_valid_policy_passes_check() {
    for file in corpus("valid") {
        let out = check(&file).await;
        assert_eq!(out.code(), 0, "{}: {}", file.display(), out.stderr);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_example_policy_passes_check_and_matches_config_example() {
    let home = tempfile::tempdir().unwrap();
    let mut command = crate::util::rekeyd_command(home.path());
    command.arg("example-policy");
    let example = run(command).await;
    assert_eq!(example.code(), 0);
    let shipped =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/example.toml"))
            .unwrap();
    assert_eq!(example.stdout, shipped);

    let path = home.path().join("example.toml");
    std::fs::write(&path, &example.stdout).unwrap();
    let out = check(&path).await;
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert!(out.stdout.contains("ok, 5 credentials"), "{}", out.stdout);
    assert!(out.stderr.is_empty(), "no warning: {}", out.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_policy_file_is_a_usage_error_naming_the_file() {
    let out = check(Path::new("/nonexistent/rekeyd/policy.toml")).await;
    assert_eq!(out.code(), 2);
    assert!(
        out.stderr.contains("/nonexistent/rekeyd/policy.toml"),
        "{}",
        out.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_world_writable_policy_is_warned_about() {
    use std::os::unix::fs::PermissionsExt;
    let home = tempfile::tempdir().unwrap();
    let path = home.path().join("policy.toml");
    std::fs::write(&path, "[defaults]\nevery = \"1d\"\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
    let out = check(&path).await;
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert!(out.stderr.contains("world-writable"), "{}", out.stderr);

    // Under systemd's journal each log line starts with its syslog priority.
    let mut command = crate::util::rekeyd_command(home.path());
    command
        .env("JOURNAL_STREAM", "8:12345")
        .args(["--log-format", "text", "--config"])
        .arg(&path)
        .arg("check");
    let journal = run(command).await;
    let warning = journal
        .stderr
        .lines()
        .find(|l| l.contains("world-writable"))
        .unwrap();
    assert!(warning.starts_with("<4>"), "{warning}");
    assert!(
        !warning.contains('\u{1b}'),
        "no colour off a terminal: {warning:?}"
    );

    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    let out = check(&path).await;
    assert!(!out.stderr.contains("writable"), "{}", out.stderr);
}
