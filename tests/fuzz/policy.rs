//! Property-based fuzzing of the policy parser and validator: whatever the
//! text, `rekeyd::policy::parse` never panics, and a refusal always lists at
//! least one problem, each on a line of the text, one `fuzz.toml:LINE: ...`
//! line per problem.
//!
//! Three sources of text: arbitrary strings (plain and from a TOML-flavoured
//! token soup), arbitrary bytes read as lossy UTF-8, and the valid policies of
//! `tests/policies/valid/` mutated line by line (deleted, duplicated, swapped
//! lines; values replaced by huge or negative numbers, unicode, long strings,
//! deep arrays and inline tables, values of the wrong type; truncation).
//!
//! The default run is short (a few seconds); run it longer with
//! `PROPTEST_CASES=100000 cargo test --release --test policy_fuzz`.

use std::path::Path;
use std::sync::LazyLock;

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::Config;

/// Cases per property unless `PROPTEST_CASES` says otherwise.
const DEFAULT_CASES: u32 = 1000;

fn config() -> Config {
    let mut config = Config::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = DEFAULT_CASES;
    }
    config
}

/// The property: no panic (proptest reports one as a failure), and every
/// refusal is a non-empty, located, one-line-per-problem report.
fn check(text: &str) -> Result<(), TestCaseError> {
    let Err(problems) = rekeyd::policy::parse(Path::new("fuzz.toml"), text) else {
        return Ok(());
    };
    prop_assert!(!problems.problems.is_empty(), "a refusal without problems");
    let last_line = text.lines().count() + 1;
    for problem in &problems.problems {
        prop_assert!(
            (1..=last_line).contains(&problem.line),
            "line {} outside 1..={last_line}: {problem}",
            problem.line
        );
    }
    let report = problems.to_string();
    let lines: Vec<&str> = report.split('\n').collect();
    prop_assert_eq!(
        lines.len(),
        problems.problems.len(),
        "one line per problem:\n{}",
        report
    );
    for (line, problem) in lines.iter().zip(&problems.problems) {
        let prefix = format!("fuzz.toml:{}: ", problem.line);
        prop_assert!(line.starts_with(&prefix), "{line:?} lacks {prefix:?}");
        prop_assert!(!line.contains('\r'), "{line:?} holds a carriage return");
    }
    Ok(())
}

/// The valid policies, read once.
static VALID: LazyLock<Vec<String>> = LazyLock::new(valid_policies);

fn valid_policies() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/policies/valid");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "toml"))
        .collect();
    paths.sort();
    let policies: Vec<String> = paths
        .iter()
        .map(|path| std::fs::read_to_string(path).unwrap())
        .collect();
    assert!(
        !policies.is_empty(),
        "no valid policies in {}",
        dir.display()
    );
    policies
}

/// Pieces of TOML and of policy vocabulary, for text the parser gets further into.
const TOKENS: &[&str] = &[
    "\n",
    " ",
    "\t",
    "\r\n",
    "[",
    "]",
    "[[",
    "]]",
    "{",
    "}",
    "=",
    ",",
    ".",
    "\"",
    "'",
    "\"\"\"",
    "'''",
    "#",
    "\\",
    "\\u",
    "\\U0010FFFF",
    "0",
    "1",
    "-1",
    "1e400",
    "nan",
    "inf",
    "true",
    "1979-05-27T07:32:00Z",
    "07:32:00",
    "0x7f",
    "_",
    "é",
    "🎥",
    "\u{202e}",
    "\u{0}",
    "\u{feff}",
    "aws",
    "defaults",
    "daemon",
    "endpoints",
    "rate_limits",
    "chime_bot",
    "iam_service_credential",
    "ivs_participant_token",
    "name",
    "account_id",
    "bot_id",
    "user_name",
    "credential_id",
    "strategy",
    "stage_arn",
    "duration",
    "refresh_before",
    "user_id",
    "attributes",
    "capabilities",
    "schedule",
    "every",
    "jitter",
    "secret",
    "secret_prefix",
    "kms_key_id",
    "max_age",
    "timezone",
    "concurrency",
    "state_dir",
    "metrics_listen",
    "shutdown_timeout",
    "on_rotate",
    "on_failure",
    "hook_timeout",
    "[\"/bin/true\", \"--quiet\"]",
    "region",
    "endpoint_url",
    "\"30d\"",
    "\"33%\"",
    "\"0 0 3 * * *\"",
    "\"PUBLISH\"",
    "\"arn:aws:ivs:us-west-2:1:stage/a\"",
];

fn token_soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(TOKENS), 0..80).prop_map(|t| t.concat())
}

/// A value that breaks expectations: out of range, of the wrong type,
/// unicode, very long or very deep.
fn hostile_value() -> impl Strategy<Value = String> {
    let fixed = prop::sample::select(vec![
        "99999999999999999999999999",
        "9223372036854775807",
        "-9223372036854775808",
        "-1",
        "-0.0",
        "1e309",
        "nan",
        "-inf",
        "0",
        "true",
        "1979-05-27T07:32:00Z",
        "1979-05-27",
        "[]",
        "{}",
        "[1, \"a\", true]",
        "{ a = 1 }",
        "\"\"",
        "\"   \"",
        "\"-1s\"",
        "\"18446744073709551616d\"",
        "\"9999999999999999999999h\"",
        "\"100000%\"",
        "\"-5%\"",
        "\"0 0 0 31 2 *\"",
        "\"é🎥\u{202e}\u{200b}\"",
        "\"\\u0000\"",
        "\"line\\nbreak\"",
        "\"\\r\"",
        "'''multi\nline'''",
        "\"\"\"\nmulti\nline\"\"\"",
        "\"arn:aws:ivs:\u{0130}:1:stage/a\"",
    ])
    .prop_map(str::to_owned);
    prop_oneof![
        4 => fixed,
        1 => any::<i64>().prop_map(|n| n.to_string()),
        1 => any::<f64>().prop_map(|n| format!("{n:?}")),
        1 => (1usize..20_000, any::<char>())
            .prop_map(|(n, c)| format!("{:?}", c.to_string().repeat(n))),
        1 => (1usize..300).prop_map(|depth| format!("{}1{}", "[".repeat(depth), "]".repeat(depth))),
        1 => (1usize..300).prop_map(|depth| {
            format!("{}1{}", "{ a = ".repeat(depth), " }".repeat(depth))
        }),
        1 => any::<String>().prop_map(|s| format!("{s:?}")),
        1 => any::<String>(),
    ]
}

/// One change to a policy's lines.
#[derive(Debug, Clone)]
enum Mutation {
    Delete(Index),
    Duplicate(Index),
    Swap(Index, Index),
    ReplaceValue(Index, String),
    ReplaceKey(Index, String),
    Insert(Index, String),
    /// Cut the text at a byte (moved back to a character boundary).
    Truncate(Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        1 => any::<Index>().prop_map(Mutation::Delete),
        1 => any::<Index>().prop_map(Mutation::Duplicate),
        1 => (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Mutation::Swap(a, b)),
        3 => (any::<Index>(), hostile_value()).prop_map(|(i, v)| Mutation::ReplaceValue(i, v)),
        1 => (any::<Index>(), token_soup()).prop_map(|(i, k)| Mutation::ReplaceKey(i, k)),
        1 => (any::<Index>(), token_soup()).prop_map(|(i, l)| Mutation::Insert(i, l)),
        1 => any::<Index>().prop_map(Mutation::Truncate),
    ]
}

fn apply(text: &str, mutations: &[Mutation]) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    for mutation in mutations {
        if lines.is_empty() {
            lines.push(String::new());
        }
        let n = lines.len();
        match mutation {
            Mutation::Delete(i) => {
                lines.remove(i.index(n));
            }
            Mutation::Duplicate(i) => {
                let i = i.index(n);
                lines.insert(i, lines[i].clone());
            }
            Mutation::Swap(a, b) => lines.swap(a.index(n), b.index(n)),
            Mutation::ReplaceValue(i, value) => {
                let line = &mut lines[i.index(n)];
                match line.split_once('=') {
                    Some((key, _)) => *line = format!("{key}= {value}"),
                    None => line.push_str(value),
                }
            }
            Mutation::ReplaceKey(i, key) => {
                let line = &mut lines[i.index(n)];
                if let Some((_, value)) = line.split_once('=') {
                    *line = format!("{key} ={value}");
                }
            }
            Mutation::Insert(i, line) => lines.insert(i.index(n + 1), line.clone()),
            Mutation::Truncate(i) => {
                let mut text = lines.join("\n");
                let mut cut = i.index(text.len() + 1);
                while !text.is_char_boundary(cut) {
                    cut -= 1;
                }
                text.truncate(cut);
                lines = text.split('\n').map(str::to_owned).collect();
            }
        }
    }
    lines.join("\n")
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_strings(text in any::<String>()) {
        check(&text)?;
    }

    #[test]
    fn token_soups(text in token_soup()) {
        check(&text)?;
    }

    #[test]
    fn arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..1024)) {
        check(&String::from_utf8_lossy(&bytes))?;
    }

    #[test]
    fn mutated_valid_policies(
        which in any::<Index>(),
        mutations in prop::collection::vec(mutation(), 1..5),
        trailing_newline in any::<bool>(),
    ) {
        let mut text = apply(which.get::<String>(&VALID), &mutations);
        if trailing_newline {
            text.push('\n');
        }
        check(&text)?;
    }
}

#[test]
fn the_valid_policies_parse_and_the_check_accepts_them() {
    for text in VALID.iter() {
        let parsed = rekeyd::policy::parse(Path::new("fuzz.toml"), text);
        assert!(parsed.is_ok(), "{}", parsed.unwrap_err());
        check(text).unwrap();
    }
}

#[test]
fn very_deep_nesting_is_a_located_error_not_a_stack_overflow() {
    for depth in [1_000, 10_000, 100_000] {
        let arrays = format!("x = {}{}\n", "[".repeat(depth), "]".repeat(depth));
        let tables = format!("x = {}1{}\n", "{ a = ".repeat(depth), " }".repeat(depth));
        for text in [arrays, tables] {
            check(&text).unwrap();
            assert!(rekeyd::policy::parse(Path::new("fuzz.toml"), &text).is_err());
        }
    }
}

/// Found by this fuzzer: the line of each syntax error was found by
/// scanning the text from its start, and the TOML parser reports one error
/// per bad escape, so a long line of them took quadratic time (60 KB: 2.4 s
/// in a debug build, 120 KB: 9 s; this 1 MB: over ten minutes).
#[test]
fn many_syntax_errors_in_a_long_file_take_linear_time() {
    let text = format!("[defaults]\nevery = \"{}\"\n", "\\u{b}".repeat(200_000));
    let started = std::time::Instant::now();
    let problems = rekeyd::policy::parse(Path::new("fuzz.toml"), &text).unwrap_err();
    let elapsed = started.elapsed();
    assert!(elapsed.as_secs() < 20, "{elapsed:?}");
    assert!(
        problems.to_string().starts_with("fuzz.toml:2: "),
        "{problems}"
    );
    check(&text).unwrap();
}
