//! Unit tests: settings checks, and every problem of a file reported at once.

use std::path::Path;

use super::check_tests::{BOT, bot, check, problems};
use super::*;

#[test]
fn secrets_and_kms() {
    check(BOT, "secret", "has ' '", &bot("secret = \"my secret\" #<"));
    check(
        BOT,
        "secret",
        "1 to 512",
        &bot(&format!("secret = \"{}\" #<", "s".repeat(513))),
    );
    check(
        BOT,
        "secret_prefix",
        "has '!'",
        &bot("secret_prefix = \"team!/\" #<"),
    );
    let long_prefix = format!("[defaults]\nsecret_prefix = \"{}\"\n", "p".repeat(512));
    check(
        BOT,
        "name",
        "secret_prefix + name",
        &format!(
            "{long_prefix}{}",
            bot("").replace("name = \"b\"", "name = \"b\" #<")
        ),
    );
    check(BOT, "kms_key_id", "empty", &bot("kms_key_id = \"\" #<"));
}

#[test]
fn settings() {
    check(
        None,
        "aws.region",
        "region",
        "[aws]\nregion = \"US East\" #<",
    );
    check(
        None,
        "aws.endpoint_url",
        "http",
        "[aws]\nendpoint_url = \"127.0.0.1:4566\" #<",
    );
    check(
        None,
        "aws.endpoints.chime",
        "http",
        "[aws.endpoints]\nchime = \"ftp://x\" #<",
    );
    check(
        None,
        "aws.rate_limits.iam",
        "more than 0",
        "[aws.rate_limits]\niam = -1 #<",
    );
    check(
        None,
        "aws.rate_limits.iam",
        "more than 0",
        "[aws.rate_limits]\niam = nan #<",
    );
    check(
        None,
        "daemon.concurrency",
        "1 to 1024",
        "[daemon]\nconcurrency = 0 #<",
    );
    check(
        None,
        "daemon.concurrency",
        "1 to 1024",
        "[daemon]\nconcurrency = 1025 #<",
    );
    check(
        None,
        "daemon.concurrency",
        "1 to 1024",
        "[daemon]\nconcurrency = -9223372036854775808 #<",
    );
    check(
        None,
        "daemon.metrics_listen",
        "socket address",
        "[daemon]\nmetrics_listen = \"localhost:9464\" #<",
    );
    check(
        None,
        "daemon.state_dir",
        "empty",
        "[daemon]\nstate_dir = \"\" #<",
    );
}

#[test]
fn several_problems_in_one_table_are_all_reported() {
    let text = "[[iam_service_credential]]\nname = \"i\"\ncredential_id = 5\nuser_name = \"a b\"\nstrategy = \"x\"\nbogus = 1\nevery = \"soon\"\n";
    let found = problems(text);
    let keys: Vec<_> = found
        .iter()
        .map(|p| (p.line, p.key.as_deref().unwrap_or("")))
        .collect();
    assert_eq!(
        keys,
        [
            (3, "credential_id"),
            (4, "user_name"),
            (5, "strategy"),
            (6, "bogus"),
            (7, "every")
        ]
    );
}

#[test]
fn a_file_with_many_errors_reports_all_of_them_sorted_by_line() {
    let text = r#"
[aws]
region = "Mars"
[aws.endpoints]
iam = "iam.example.com"
[defaults]
every = "daily"
[daemon]
concurrency = 0
[[chime_bot]]
name = "b"
[[iam_service_credential]]
name = "b"
credential_id = "x"
every = "1d"
[[ivs_participant_token]]
name = "t"
stage_arn = "arn"
duration = "1s"
every = "1d"
capabilities = ["X"]
surprise = true
"#;
    let found = problems(text);
    let lines: Vec<_> = found.iter().map(|p| p.line).collect();
    assert_eq!(
        lines,
        [3, 5, 7, 9, 10, 10, 13, 14, 18, 19, 20, 21, 22],
        "{found:#?}"
    );
    let rendered = Problems {
        file: "p.toml".into(),
        problems: found,
    }
    .to_string();
    assert_eq!(rendered.lines().count(), 13);
    assert!(
        rendered.lines().all(|l| l.starts_with("p.toml:")),
        "{rendered}"
    );
    assert!(
        rendered.contains("p.toml:10: chime_bot \"b\": key `account_id`: missing"),
        "{rendered}"
    );
}

#[test]
fn every_syntax_error_is_reported() {
    let text = "[aws\nregion = \"x\"\n[daemon]\nconcurrency = = 1\nshutdown_timeout = \"1s\n";
    let found = problems(text);
    let lines: Vec<_> = found.iter().map(|p| p.line).collect();
    assert!(
        lines.contains(&1) && lines.contains(&4) && lines.contains(&5),
        "{found:#?}"
    );
    assert!(
        found.iter().all(|p| p.message.starts_with("invalid TOML")),
        "{found:#?}"
    );
}

#[test]
fn nasty_input_never_panics() {
    let deep_array = format!("x = {}{}", "[".repeat(5000), "]".repeat(5000));
    let deep_table = format!("x = {}1{}", "{a=".repeat(5000), "}".repeat(5000));
    let deep_key = format!("{} = 1", vec!["a"; 5000].join("."));
    let long_header = format!("[{}]", vec!["a"; 5000].join("."));
    for text in [
        deep_array.as_str(),
        &deep_table,
        &deep_key,
        &long_header,
        "\u{feff}[aws]\nregion = \"us-east-1\"",
        "[[chime_bot]]\nname = \"ünï\"\n\"kéy\\n\" = 1",
        "[daemon]\nconcurrency = 99999999999999999999999999",
        "[daemon]\nconcurrency = 1e400",
        "[[chime_bot]]\n[chime_bot.x.y]\n[[chime_bot.z]]",
        "chime_bot = [1, \"a\", [], {}]",
        "[aws]\n[aws]\n[[aws]]",
        "\0\u{7}\r\r\n",
    ] {
        let _ = parse(Path::new("p.toml"), text);
    }
}

#[test]
fn a_syntax_error_hides_missing_keys_of_its_own_table_only() {
    let text = "[[chime_bot]]\nname = \"a\"\nevery = \"1d\"\nbot_id = = \"x\"\n\n[[chime_bot]]\nname = \"b\"\nevery = \"1d\"\n";
    let found = problems(text);
    let summary: Vec<_> = found
        .iter()
        .map(|p| (p.line, p.credential.as_deref(), p.key.as_deref()))
        .collect();
    assert_eq!(
        summary,
        [
            (4, None, None),
            (4, None, None),
            (6, Some("chime_bot \"b\""), Some("account_id")),
            (6, Some("chime_bot \"b\""), Some("bot_id")),
        ],
        "{found:#?}"
    );
}

#[test]
fn load_names_the_file_in_every_error() {
    let missing = Path::new("/nonexistent/rekeyd/policy.toml");
    let error = load(missing).expect_err("no such file");
    assert!(matches!(error, PolicyError::Read { .. }));
    assert!(
        error
            .to_string()
            .contains("/nonexistent/rekeyd/policy.toml"),
        "{error}"
    );

    let file = std::env::temp_dir().join(format!("rekeyd-policy-{}.toml", std::process::id()));
    std::fs::write(&file, "[daemon]\nconcurrency = 0\nbogus = 1\n").expect("temp file");
    let error = load(&file).expect_err("invalid policy");
    std::fs::remove_file(&file).expect("remove temp file");
    let PolicyError::Invalid(problems) = &error else {
        panic!("expected Invalid, got {error:?}");
    };
    assert_eq!(problems.problems.len(), 2);
    let prefix = format!("{}:", file.display());
    assert!(
        error.to_string().lines().all(|l| l.starts_with(&prefix)),
        "{error}"
    );
    assert!(
        error.to_string().contains(":2: key `daemon.concurrency`: "),
        "{error}"
    );
}

#[test]
fn load_reads_the_example() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/example.toml");
    let policy = load(&file).expect("valid example");
    assert_eq!(policy.source, file);
    assert_eq!(policy.credentials.len(), 5);
    assert!(policy.warnings.is_empty(), "{:?}", policy.warnings);
}

#[test]
fn no_prefix_of_the_example_panics_or_passes_silently() {
    for (end, _) in EXAMPLE.char_indices() {
        if let Err(problems) = parse(Path::new("p.toml"), &EXAMPLE[..end]) {
            assert!(!problems.problems.is_empty());
            assert!(problems.problems.iter().all(|p| p.line >= 1));
        }
    }
}
