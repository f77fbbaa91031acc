//! Unit tests: each check of a credential table reports the right line,
//! credential and key.

use std::path::Path;

use super::*;

/// The problems of `text`, which must not be valid.
pub(super) fn problems(text: &str) -> Vec<Problem> {
    match parse(Path::new("p.toml"), text) {
        Ok(policy) => panic!("expected problems, got {policy:#?}"),
        Err(problems) => problems.problems,
    }
}

/// Asserts a problem of `credential` with `key` whose message contains
/// `message`, on the line marked `#<` in `text`.
#[track_caller]
pub(super) fn check(credential: Option<&str>, key: &str, message: &str, text: &str) {
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

pub(super) const BOT: Option<&str> = Some("chime_bot \"b\"");
const IAM: Option<&str> = Some("iam_service_credential \"i\"");
const IVS: Option<&str> = Some("ivs_participant_token \"t\"");

/// A valid bot `b` with `extra` lines appended to its table.
pub(super) fn bot(extra: &str) -> String {
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
    check(
        IAM,
        "secret",
        "duplicate secret name \"rekeyd/b\": chime_bot \"b\" at line 2 has it too",
        &text,
    );
    // The first user of a secret name has no valid name: named by its place.
    let text = format!(
        "{}\n{}",
        bot("secret = \"shared\"").replace("name = \"b\"", "name = \"b b\""),
        iam("secret = \"shared\" #<")
    );
    check(
        IAM,
        "secret",
        "duplicate secret name \"shared\": chime_bot #1 at line 6 has it too",
        &text,
    );
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
fn credential_age_days_is_checked() {
    check(
        IAM,
        "credential_age_days",
        "1 to 36600",
        &iam("strategy = \"overlap\"\ncredential_age_days = 0 #<\n"),
    );
    check(
        IAM,
        "credential_age_days",
        "1 to 36600",
        &iam("strategy = \"overlap\"\ncredential_age_days = 36601 #<\n"),
    );
    check(
        IAM,
        "credential_age_days",
        "only to strategy = \"overlap\"",
        &iam("credential_age_days = 90 #<\n"),
    );
    check(
        IAM,
        "refresh_before",
        "not shorter than credential_age_days",
        &iam("strategy = \"overlap\"\ncredential_age_days = 7\nrefresh_before = \"7d\" #<\n"),
    );
    check(
        IAM,
        "refresh_before",
        "percentage",
        &iam("refresh_before = \"150%\" #<\n"),
    );
    let ok = parse(
        Path::new("p.toml"),
        &iam("strategy = \"overlap\"\ncredential_age_days = 90\nrefresh_before = \"30d\"\n"),
    )
    .unwrap();
    let Target::IamServiceCredential(key) = &ok.credentials[0].target else {
        unreachable!()
    };
    assert_eq!(key.credential_age_days, Some(90));
    assert_eq!(
        key.refresh_before,
        RefreshBefore::Fixed(std::time::Duration::from_secs(30 * 86400))
    );
    assert!(ok.warnings.is_empty(), "{:?}", ok.warnings);
}

#[test]
fn a_schedule_that_never_runs_before_the_key_expires_is_a_warning() {
    let text = "[[iam_service_credential]]\nname = \"i\"\ncredential_id = \"ACCAEXAMPLE123EXAMPLE\"\nstrategy = \"overlap\"\ncredential_age_days = 90\nevery = \"180d\"\n";
    let policy = parse(Path::new("p.toml"), text).unwrap();
    assert_eq!(policy.warnings.len(), 1, "{:?}", policy.warnings);
    let warning = &policy.warnings[0];
    assert!(
        warning.starts_with("p.toml:6: iam_service_credential \"i\": key `every`: the schedule never runs before a new key expires"),
        "{warning}"
    );
    let yearly = text.replace("every = \"180d\"", "schedule = \"0 0 3 1 1 *\"");
    assert_eq!(
        parse(Path::new("p.toml"), &yearly).unwrap().warnings.len(),
        1
    );
    let monthly = text.replace("every = \"180d\"", "every = \"30d\"");
    assert!(
        parse(Path::new("p.toml"), &monthly)
            .unwrap()
            .warnings
            .is_empty()
    );
}
