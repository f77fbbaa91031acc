//! `rekeyd demo`: the README's first command.

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
