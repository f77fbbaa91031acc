//! What a hook is told: the `REKEYD_*` variables, its argv, rekeyd's
//! environment without its AWS identity, stdin at EOF, never a secret.

use std::collections::BTreeMap;

use super::{argv, s, script, with_defaults};
use crate::util::{STANDARD_SECRETS, TestEnv};

/// A hook that writes its argv, stdin and environment to DIR/CREDENTIAL.
const DUMP: &str = r#"
out="$1/$REKEYD_CREDENTIAL"
{
  printf 'ARGV'; for a in "$@"; do printf ' [%s]' "$a"; done; echo
  if IFS= read -r line; then echo "STDIN=data"; else echo "STDIN=eof"; fi
  env
} > "$out.tmp"
mv "$out.tmp" "$out"
"#;

/// The `NAME=value` lines of a dump, by name.
fn vars(dump: &str) -> BTreeMap<String, String> {
    dump.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn on_rotate_is_told_what_was_stored_and_never_a_secret_or_aws_credentials() {
    let env = TestEnv::new().await;
    let dumps = env.dir.path().join("dumps");
    std::fs::create_dir(&dumps).unwrap();
    let hook = script(&env, "dump.sh", DUMP);
    let text = with_defaults(
        &env.standard_policy("30d"),
        &format!(
            "on_rotate = {}",
            argv(&[s(&hook), s(&dumps), "--quiet", "two words"])
        ),
    );
    let policy = env.write_policy(&text);
    let out = env
        .rekeyd_env(
            &policy,
            &["rotate", "--all"],
            &[
                ("AWS_SESSION_TOKEN", "test-session-token"),
                (
                    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                    "http://127.0.0.1:1/creds",
                ),
                ("REKEYD_ERROR", "inherited, must not reach the hook"),
            ],
        )
        .await;
    out.assert_exit(0);

    let truth = env.truth();
    let issued = env.issued_secrets();
    assert!(!issued.is_empty());
    for (name, secret) in [
        ("support-bot", STANDARD_SECRETS[0]),
        ("codecommit-sofia", STANDARD_SECRETS[1]),
        ("stage-host-bob", STANDARD_SECRETS[2]),
    ] {
        assert!(
            out.line_for(name).ends_with(" hook=ok"),
            "{}",
            out.line_for(name)
        );
        let dump = std::fs::read_to_string(dumps.join(name))
            .unwrap_or_else(|e| panic!("no dump for {name}: {e}\n{}", out.stderr));
        assert!(
            dump.starts_with(&format!(
                "ARGV [{}] [--quiet] [two words]\nSTDIN=eof\n",
                s(&dumps)
            )),
            "{dump}"
        );
        let vars = vars(&dump);
        let stored = truth.secrets.iter().find(|x| x.name == secret).unwrap();
        let current = stored
            .versions
            .iter()
            .find(|v| v.stages.iter().any(|st| st == "AWSCURRENT"))
            .unwrap();
        let value = env.current(secret);
        let expected = [
            ("REKEYD_EVENT", "rotated"),
            ("REKEYD_HOOK", "on_rotate"),
            ("REKEYD_ATTEMPT", "1"),
            ("REKEYD_CREDENTIAL", name),
            ("REKEYD_KIND", value["kind"].as_str().unwrap()),
            ("REKEYD_SECRET", secret),
            ("REKEYD_SECRET_ARN", stored.arn.as_str()),
            ("REKEYD_VERSION_ID", current.version_id.as_str()),
            ("REKEYD_ROTATED_AT", value["rotated_at"].as_str().unwrap()),
        ];
        for (key, want) in expected {
            assert_eq!(
                vars.get(key).map(String::as_str),
                Some(want),
                "{name} {key}"
            );
        }
        match value.get("expiration_time") {
            Some(expiry) => assert_eq!(
                vars.get("REKEYD_EXPIRES_AT").map(String::as_str),
                expiry.as_str()
            ),
            None => assert!(!vars.contains_key("REKEYD_EXPIRES_AT"), "{name}"),
        }
        assert!(!vars.contains_key("REKEYD_ERROR"), "{name}: inherited");
        // rekeyd's environment, without its AWS identity.
        assert_eq!(
            vars.get("HOME").map(String::as_str),
            Some(s(env.dir.path()))
        );
        assert_eq!(
            vars.get("AWS_REGION").map(String::as_str),
            Some("us-east-1")
        );
        for gone in [
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            "AWS_SHARED_CREDENTIALS_FILE",
        ] {
            assert!(!vars.contains_key(gone), "{name}: {gone} reached the hook");
        }
        assert!(!dump.contains("test-secret-key") && !dump.contains("AKIDEXAMPLE"));
        for value in &issued {
            assert!(
                !dump.contains(value.as_str()),
                "{name}: a secret value reached the hook"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_run_shows_the_hooks_and_no_hooks_skips_them() {
    let env = TestEnv::new().await;
    let marker = env.dir.path().join("ran");
    let hook = script(&env, "touch.sh", &format!("echo ran >> {}\n", s(&marker)));
    let text = with_defaults(
        &env.standard_policy("30d"),
        &format!(
            "on_rotate = {}\non_failure = [\"/usr/bin/page\", \"oncall\"]\nhook_timeout = \"10s\"",
            argv(&[s(&hook), "--quiet"])
        ),
    );
    let policy = env.write_policy(&text);

    let out = env
        .rekeyd(&policy, &["rotate", "support-bot", "--dry-run"])
        .await;
    out.assert_exit(0);
    let line = out.line_for("support-bot");
    assert!(
        line.contains(&format!(
            "then run on_rotate [\"{}\", \"--quiet\"] (timeout 10s)",
            s(&hook)
        )) && line.contains("if it fails run on_failure [\"/usr/bin/page\", \"oncall\"]"),
        "{line}"
    );
    assert!(!marker.exists(), "a dry run runs nothing");

    let out = env
        .rekeyd(&policy, &["rotate", "support-bot", "--no-hooks"])
        .await;
    out.assert_exit(0);
    let line = out.line_for("support-bot");
    assert!(
        line.starts_with("support-bot: rotated ") && !line.contains("hook="),
        "{line}"
    );
    assert!(!marker.exists(), "--no-hooks runs no hook");
    assert!(
        super::owed_records(&env).is_empty(),
        "nothing owed once skipped"
    );

    let out = env.rekeyd(&policy, &["rotate", "support-bot"]).await;
    out.assert_exit(0);
    assert_eq!(super::lines_of(&marker), ["ran"]);
    assert!(
        super::owed_records(&env).is_empty(),
        "nothing owed once it succeeded"
    );
}
