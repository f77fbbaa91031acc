//! Unit tests: each check reports the right line, credential and key, and
//! every problem of a file is reported at once.

use std::path::Path;

use super::*;

/// The problems of `text`, which must not be valid.
fn problems(text: &str) -> Vec<Problem> {
    match parse(Path::new("p.toml"), text) {
        Ok(policy) => panic!("expected problems, got {policy:#?}"),
        Err(problems) => problems.problems,
    }
}

/// Asserts a problem of `credential` with `key` whose message contains
/// `message`, on the line marked `#<` in `text`.
#[track_caller]
fn check(credential: Option<&str>, key: &str, message: &str, text: &str) {
    let line = 1 + text
        .lines()
        .position(|l| l.contains("#<"))
        .expect("a line marked #<");
    let found = problems(text);
    let hit = found.iter().any(|p| {
        p.line == line
            && p.credential.as_deref() == credential
            && p.key.as_deref() == Some(key)
            && p.message.contains(message)
    });
    assert!(
        hit,
        "wanted line {line}, {credential:?}, key {key:?}, message ~ {message:?}; got:\n{found:#?}"
    );
}

const BOT: Option<&str> = Some("chime_bot \"b\"");
const IAM: Option<&str> = Some("iam_service_credential \"i\"");
const IVS: Option<&str> = Some("ivs_participant_token \"t\"");

/// A valid bot `b` with `extra` lines appended to its table.
fn bot(extra: &str) -> String {
    format!(
        "[[chime_bot]]\nname = \"b\"\naccount_id = \"a\"\nbot_id = \"x\"\nevery = \"1d\"\n{extra}"
    )
}

/// A valid IAM credential `i` with `extra` lines appended.
fn iam(extra: &str) -> String {
    format!(
        "[[iam_service_credential]]\nname = \"i\"\ncredential_id = \"ACCAEXAMPLE123EXAMPLE\"\nevery = \"1d\"\n{extra}"
    )
}

/// A valid IVS token `t` with `extra` lines appended (`duration` included).
fn ivs(extra: &str) -> String {
    format!(
        "[[ivs_participant_token]]\nname = \"t\"\nstage_arn = \"arn:aws:ivs:us-west-2:123456789012:stage/abc\"\n{extra}"
    )
}

#[test]
fn unknown_keys() {
    check(BOT, "botid", "unknown key", &bot("botid = 1 #<"));
    check(None, "colour", "unknown key", "colour = 1 #<");
    check(
        None,
        "aws.endpoints.s3",
        "unknown key",
        "[aws.endpoints]\ns3 = \"http://x\" #<",
    );
    check(
        None,
        "daemon.threads",
        "unknown key",
        "[daemon]\nthreads = 1 #<",
    );
}

#[test]
fn missing_keys_are_reported_at_the_table_header() {
    let text = "[[chime_bot]] #<\nname = \"b\"\nevery = \"1d\"\naccount_id = \"a\"";
    check(BOT, "bot_id", "missing", text);
    check(
        Some("chime_bot #1"),
        "name",
        "missing",
        "[[chime_bot]] #<\nbot_id = \"x\"",
    );
    check(
        IAM,
        "credential_id",
        "missing",
        "[[iam_service_credential]] #<\nname = \"i\"\nevery = \"1d\"",
    );
    check(
        IVS,
        "duration",
        "missing",
        "[[ivs_participant_token]] #<\nname = \"t\"",
    );
    check(
        IVS,
        "stage_arn",
        "missing",
        "[[ivs_participant_token]] #<\nname = \"t\"",
    );
}

#[test]
fn wrong_types() {
    check(
        BOT,
        "account_id",
        "expected a string",
        "[[chime_bot]]\nname = \"b\"\nbot_id = \"x\"\nevery = \"1d\"\naccount_id = 5 #<",
    );
    check(
        None,
        "daemon.concurrency",
        "expected an integer",
        "[daemon]\nconcurrency = \"8\" #<",
    );
    check(
        None,
        "aws.rate_limits.iam",
        "expected a number",
        "[aws.rate_limits]\niam = \"fast\" #<",
    );
    check(
        IVS,
        "capabilities",
        "expected an array",
        &ivs("duration = \"1h\"\ncapabilities = \"PUBLISH\" #<"),
    );
    check(
        IVS,
        "attributes.role",
        "expected a string",
        &ivs("duration = \"1h\"\nattributes = { role = 1 } #<"),
    );
    check(None, "defaults", "expected a table", "defaults = 1 #<");
    check(
        None,
        "chime_bot",
        "[[chime_bot]]",
        "[chime_bot] #<\nname = \"b\"",
    );
    check(
        None,
        "defaults.every",
        "datetime",
        "[defaults]\nevery = 2024-01-01 #<",
    );
}

#[test]
fn names_and_secret_names_are_unique_across_kinds() {
    let text = format!(
        "{}\n{}",
        bot(""),
        iam("").replace("name = \"i\"", "name = \"b\" #<")
    );
    check(
        Some("iam_service_credential \"b\""),
        "name",
        "chime_bot \"b\" at line 2",
        &text,
    );
    let text = format!("{}\n{}", bot(""), iam("secret = \"rekeyd/b\" #<"));
    check(IAM, "secret", "at line 2", &text);
    check(
        Some("chime_bot #1"),
        "name",
        "not a valid name",
        "[[chime_bot]]\nname = \"b b\" #<",
    );
    check(
        Some("chime_bot #1"),
        "name",
        "not a valid name",
        "[[chime_bot]]\nname = \"\" #<",
    );
}

#[test]
fn schedules() {
    check(
        BOT,
        "schedule",
        "invalid",
        &bot("schedule = \"0 0 25 * * *\" #<").replace("every = \"1d\"\n", ""),
    );
    check(
        BOT,
        "schedule",
        "5 fields",
        &bot("schedule = \"0 3 * * *\" #<").replace("every = \"1d\"\n", ""),
    );
    check(
        BOT,
        "every",
        "not a duration",
        &bot("").replace("every = \"1d\"", "every = \"soon\" #<"),
    );
    check(
        BOT,
        "every",
        "zero",
        &bot("").replace("every = \"1d\"", "every = \"0s\" #<"),
    );
    check(
        BOT,
        "every",
        "not both",
        &bot("schedule = \"0 0 3 * * *\"\nevery = \"2d\" #<").replace("every = \"1d\"\n", ""),
    );
    check(
        BOT,
        "schedule",
        "missing",
        &bot("")
            .replace("[[chime_bot]]", "[[chime_bot]] #<")
            .replace("every = \"1d\"\n", ""),
    );
    check(
        None,
        "defaults.every",
        "not both",
        "[defaults]\nschedule = \"0 0 3 * * *\"\nevery = \"1d\" #<",
    );
    check(
        None,
        "defaults.timezone",
        "IANA",
        "[defaults]\ntimezone = \"Europe/Nowhere\" #<",
    );
    check(BOT, "timezone", "IANA", &bot("timezone = \"utc+2\" #<"));
}

#[test]
fn other_durations() {
    check(BOT, "jitter", "not a duration", &bot("jitter = \"-5m\" #<"));
    check(BOT, "max_age", "zero", &bot("max_age = \"0d\" #<"));
    check(
        None,
        "daemon.shutdown_timeout",
        "zero",
        "[daemon]\nshutdown_timeout = \"0s\" #<",
    );
    check(
        None,
        "defaults.jitter",
        "not a duration",
        "[defaults]\njitter = 5 #<".replace("5", "\"5\"").as_str(),
    );
}

#[test]
fn ivs_tokens() {
    check(
        IVS,
        "schedule",
        "neither",
        &ivs("duration = \"1h\"\nschedule = \"0 0 3 * * *\" #<"),
    );
    check(
        IVS,
        "every",
        "neither",
        &ivs("duration = \"1h\"\nevery = \"1d\" #<"),
    );
    check(
        IVS,
        "duration",
        "1 minute to 14 days",
        &ivs("duration = \"30s\" #<"),
    );
    check(
        IVS,
        "duration",
        "1 minute to 14 days",
        &ivs("duration = \"14d 1m\" #<"),
    );
    check(
        IVS,
        "duration",
        "whole number of minutes",
        &ivs("duration = \"90s\" #<"),
    );
    check(
        IVS,
        "refresh_before",
        "not shorter",
        &ivs("duration = \"1h\"\nrefresh_before = \"60m\" #<"),
    );
    check(
        IVS,
        "refresh_before",
        "percentage",
        &ivs("duration = \"1h\"\nrefresh_before = \"100%\" #<"),
    );
    check(
        IVS,
        "refresh_before",
        "percentage",
        &ivs("duration = \"1h\"\nrefresh_before = \"0%\" #<"),
    );
    check(
        IVS,
        "refresh_before",
        "not a duration",
        &ivs("duration = \"1h\"\nrefresh_before = \"soon\" #<"),
    );
    let big = format!("attributes = {{ a = \"{}\" }} #<", "é".repeat(512));
    check(
        IVS,
        "attributes",
        "1025 bytes",
        &ivs(&format!("duration = \"1h\"\n{big}")),
    );
    check(
        IVS,
        "capabilities",
        "not a capability",
        &ivs("duration = \"1h\"\ncapabilities = [\"WATCH\"] #<"),
    );
    check(
        IVS,
        "capabilities",
        "empty",
        &ivs("duration = \"1h\"\ncapabilities = [] #<"),
    );
    check(
        IVS,
        "capabilities",
        "twice",
        &ivs("duration = \"1h\"\ncapabilities = [\"PUBLISH\", \"PUBLISH\"] #<"),
    );
    let long = format!("user_id = \"{}\" #<", "u".repeat(129));
    check(
        IVS,
        "user_id",
        "129 characters",
        &ivs(&format!("duration = \"1h\"\n{long}")),
    );
    let arn = "[[ivs_participant_token]]\nname = \"t\"\nduration = \"1h\"\nstage_arn = \"arn:aws:ivs:us-west-2:123:channel/abc\" #<";
    check(IVS, "stage_arn", "stage ARN", arn);
}

#[test]
fn iam_credentials() {
    check(
        IAM,
        "user_name",
        "IAM user name",
        &iam("user_name = \"bob smith\" #<"),
    );
    check(
        IAM,
        "user_name",
        "IAM user name",
        &iam(&format!("user_name = \"{}\" #<", "u".repeat(65))),
    );
    check(
        IAM,
        "credential_id",
        "credential id",
        &iam("").replace(
            "credential_id = \"ACCAEXAMPLE123EXAMPLE\"",
            "credential_id = \"ACCA\" #<",
        ),
    );
    check(
        IAM,
        "credential_id",
        "credential id",
        &iam("").replace(
            "credential_id = \"ACCAEXAMPLE123EXAMPLE\"",
            "credential_id = \"ACCA-EXAMPLE123EXAMPLE\" #<",
        ),
    );
    check(IAM, "strategy", "reset", &iam("strategy = \"rolling\" #<"));
}

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
