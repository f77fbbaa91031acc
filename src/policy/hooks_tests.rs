//! Unit tests: `on_rotate`, `on_failure` and `hook_timeout`, inherited from
//! `[defaults]` (one shared allocation) or set per credential, and checked.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::check_tests::{BOT, bot, check};
use super::*;

fn policy(text: &str) -> Policy {
    parse(Path::new("p.toml"), text).unwrap_or_else(|problems| panic!("{problems}"))
}

fn argv(args: &[&str]) -> Option<Vec<String>> {
    Some(args.iter().map(|a| (*a).to_owned()).collect())
}

#[test]
fn credentials_share_the_defaults_hooks_unless_they_set_a_hook_key() {
    let text = format!(
        "[defaults]\non_rotate = [\"/usr/local/bin/reload\", \"--quiet\"]\nhook_timeout = \"5s\"\n\n{}\n{}\n{}",
        bot("").replace("\"b\"", "\"one\""),
        bot("")
            .replace("\"b\"", "\"two\"")
            .replace("\"x\"", "\"y\""),
        bot("on_failure = [\"/usr/bin/page\"]\n")
            .replace("\"b\"", "\"three\"")
            .replace("\"x\"", "\"z\""),
    );
    let policy = policy(&text);
    let [one, two, three] = &policy.credentials[..] else {
        panic!("three credentials")
    };
    let (shared, also) = (one.hooks.as_ref().unwrap(), two.hooks.as_ref().unwrap());
    assert!(Arc::ptr_eq(shared, also), "one allocation for the defaults");
    assert_eq!(
        shared.on_rotate,
        argv(&["/usr/local/bin/reload", "--quiet"])
    );
    assert_eq!(shared.on_failure, None);
    assert_eq!(shared.timeout, Duration::from_secs(5));
    let own = three.hooks.as_ref().unwrap();
    assert_eq!(own.on_rotate, shared.on_rotate, "the other keys inherited");
    assert_eq!(own.on_failure, argv(&["/usr/bin/page"]));
    assert_eq!(own.timeout, Duration::from_secs(5));
}

#[test]
fn no_hook_means_no_hooks_and_the_default_timeout_is_30s() {
    let policy = policy(&bot(""));
    assert_eq!(policy.credentials[0].hooks, None);
    let policy = self::policy(&bot("on_rotate = [\"/bin/true\"]\n"));
    let hooks = policy.credentials[0].hooks.as_ref().unwrap();
    assert_eq!(hooks.timeout, Hooks::DEFAULT_TIMEOUT);
    assert_eq!(hooks.timeout, Duration::from_secs(30));
}

#[test]
fn a_bad_hook_is_reported_with_its_line_credential_and_key() {
    check(
        BOT,
        "on_rotate",
        "must not be empty",
        &bot("on_rotate = [] #<\n"),
    );
    check(
        BOT,
        "on_rotate",
        "\"bin/reload\" is not a program",
        &bot("on_rotate = [\"bin/reload\", \"app\"] #<\n"),
    );
    check(
        BOT,
        "on_failure",
        "is not a program",
        &bot("on_failure = [\"/usr/bin/\"] #<\n"),
    );
    check(
        BOT,
        "on_rotate",
        "argument 1 holds a NUL byte",
        &bot("on_rotate = [\"/bin/echo\", \"a\\u0000b\"] #<\n"),
    );
    check(
        BOT,
        "hook_timeout",
        "1 second to 1 hour",
        &bot("hook_timeout = \"2h\" #<\n"),
    );
    check(
        BOT,
        "hook_timeout",
        "1 second to 1 hour",
        &bot("hook_timeout = \"500ms\" #<\n"),
    );
    check(
        None,
        "defaults.on_rotate",
        "expected an array",
        &format!("[defaults]\non_rotate = \"/bin/true\" #<\n{}", bot("")),
    );
}

#[test]
fn a_hook_program_missing_here_is_a_warning() {
    let policy = policy(&bot(
        "on_rotate = [\"/nonexistent/reload-app\"]\non_failure = [\"/bin/sh\", \"-c\", \"true\"]\n",
    ));
    assert_eq!(policy.warnings.len(), 1, "{:?}", policy.warnings);
    let warning = &policy.warnings[0];
    assert!(
        warning.starts_with("p.toml:6: ")
            && warning.contains("on_rotate")
            && warning
                .contains("\"/nonexistent/reload-app\" is not an executable file on this host"),
        "{warning}"
    );
}

#[test]
fn a_bare_program_name_is_looked_up_in_path() {
    // `sh` is on every PATH: accepted, no warning, kept as written (the
    // hook's exec looks it up when it runs).
    let policy = policy(&bot("on_rotate = [\"sh\", \"-c\", \"true\"]\n"));
    assert!(policy.warnings.is_empty(), "{:?}", policy.warnings);
    let hooks = policy.credentials[0].hooks.as_ref().expect("hooks");
    assert_eq!(hooks.on_rotate.as_deref().unwrap()[0], "sh");
    // A name found nowhere on PATH is a warning, not an error.
    let policy = self::policy(&bot("on_rotate = [\"rekeyd-no-such-hook\"]\n"));
    assert_eq!(policy.warnings.len(), 1, "{:?}", policy.warnings);
    assert!(
        policy.warnings[0].contains("in any directory of this host's PATH"),
        "{:?}",
        policy.warnings
    );
}
