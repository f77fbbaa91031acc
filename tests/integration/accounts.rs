//! `[accounts]` through the binary against the emulator's STS and its
//! per-account resources: a mixed fleet over three accounts (a security
//! account holding most secrets, two workload accounts), each call signed
//! with its account's assumed credentials, one AssumeRole per account and
//! run, a refused role failing only its account.

use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};
use rekeyd_emulator::{CallRecord, Truth};
use serde_json::{Value, json};

use crate::util::TestEnv;

const DEFAULT: &str = "123456789012";
const MEDIA: &str = "111111111111";
const DEV: &str = "222222222222";
const SECURITY: &str = "333333333333";
const ACCOUNTS: [&str; 4] = [DEFAULT, MEDIA, DEV, SECURITY];

const CHIME_ACCOUNT: &str = "aaaa1111-2222-3333-4444-555566667777";
const BOT_A: &str = "bbbb0001-2222-3333-4444-555566667777";
const BOT_B: &str = "bbbb0002-2222-3333-4444-555566667777";
const CI_ID: &str = "ACCACIRESET000000000001";
const WEB_ID: &str = "ACCAWEBOVERLAP000000002";
const MEDIA_STAGE: &str = "arn:aws:ivs:us-west-2:111111111111:stage/mediaStage1";
const MEDIA_ROLE: &str = "arn:aws:iam::111111111111:role/rekeyd-rotator";
const DEV_ROLE: &str = "arn:aws:iam::222222222222:role/rekeyd-rotator";
const SECURITY_ROLE: &str = "arn:aws:iam::333333333333:role/rekeyd-secrets";

/// Where each credential's secret must land.
const PLACEMENT: [(&str, &str); 6] = [
    ("rekeyd/bot-a", SECURITY),
    ("rekeyd/bot-b", MEDIA),
    ("rekeyd/ci-reset", DEV),
    ("rekeyd/web-overlap", SECURITY),
    ("rekeyd/stage-host", SECURITY),
    ("rekeyd/support-bot", DEFAULT),
];

/// Seeds the three accounts, their roles and the fleet; `dev_trust` is who
/// the dev role trusts (rekeyd runs as the default account's caller).
fn seed(env: &TestEnv, dev_trust: &str) {
    let doc = json!({
        "accounts": [
            {"account_id": MEDIA, "iam_users": ["web"],
             "roles": [{"name": "rekeyd-rotator", "trust": [DEFAULT], "external_id": "ext-media-01"}]},
            {"account_id": DEV, "iam_users": ["ci"],
             "roles": [{"name": "rekeyd-rotator", "trust": [dev_trust]}]},
            {"account_id": SECURITY,
             "roles": [{"name": "rekeyd-secrets", "trust": [DEFAULT]}]},
        ],
        "chime_bots": [
            {"account": MEDIA, "account_id": CHIME_ACCOUNT, "bot_id": BOT_A},
            {"account": MEDIA, "account_id": CHIME_ACCOUNT, "bot_id": BOT_B},
        ],
        "iam_credentials": [
            {"account": DEV, "user_name": "ci", "credential_id": CI_ID},
            {"account": MEDIA, "user_name": "web", "credential_id": WEB_ID},
        ],
        "ivs_stages": [{"account": MEDIA, "arn": MEDIA_STAGE}],
    });
    env.emulator
        .seed_from_json(&doc.to_string())
        .expect("seed the accounts");
}

/// The policy of the mixed fleet.
fn policy(env: &TestEnv) -> String {
    format!(
        r#"{aws}
[accounts.media]
role_arn = "{MEDIA_ROLE}"
external_id = "ext-media-01"

[accounts.dev]
role_arn = "{DEV_ROLE}"

[accounts.security]
role_arn = "{SECURITY_ROLE}"

[defaults]
every = "30d"

[[chime_bot]]
name = "bot-a"
account = "media"
secret_account = "security"
account_id = "{CHIME_ACCOUNT}"
bot_id = "{BOT_A}"

[[chime_bot]]
name = "bot-b"
account = "media"
account_id = "{CHIME_ACCOUNT}"
bot_id = "{BOT_B}"

[[iam_service_credential]]
name = "ci-reset"
account = "dev"
user_name = "ci"
credential_id = "{CI_ID}"

[[iam_service_credential]]
name = "web-overlap"
account = "media"
secret_account = "security"
user_name = "web"
credential_id = "{WEB_ID}"
strategy = "overlap"

[[ivs_participant_token]]
name = "stage-host"
account = "media"
secret_account = "security"
stage_arn = "{MEDIA_STAGE}"
duration = "12h"

[[chime_bot]]
name = "support-bot"
account_id = "{ACCOUNT_ID}"
bot_id = "{BOT_ID}"
"#,
        aws = env.aws_table(),
        ACCOUNT_ID = crate::util::ACCOUNT_ID,
        BOT_ID = crate::util::BOT_ID,
    )
}

/// The AWSCURRENT value of `secret` in `account`.
fn current_in(truth: &Truth, account: &str, secret: &str) -> Value {
    let secret = truth
        .secret_in(account, secret)
        .unwrap_or_else(|| panic!("no secret {secret} in account {account}"));
    let current = (secret.versions.iter())
        .find(|v| v.stages.iter().any(|s| s == "AWSCURRENT"))
        .expect("an AWSCURRENT version");
    serde_json::from_str(current.secret_string.as_deref().unwrap()).unwrap()
}

fn assume_role_calls(calls: &[CallRecord]) -> Vec<&CallRecord> {
    calls
        .iter()
        .filter(|c| c.operation == "AssumeRole")
        .collect()
}

/// The account a call's access key acts in: a session's role account, or
/// the default account for the static test key.
fn signer_account<'t>(truth: &'t Truth, call: &CallRecord) -> Option<&'t str> {
    let key = call.access_key_id.as_deref()?;
    if key == "AKIDEXAMPLE" {
        return Some(DEFAULT);
    }
    (truth.sessions.iter())
        .find(|s| s.access_key_id == key)
        .map(|s| s.account_id.as_str())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mixed_fleet_rotates_each_credential_in_its_accounts() {
    let env = TestEnv::new().await;
    seed(&env, DEFAULT);
    let policy = env.write_policy(&policy(&env));

    let out = env.rekeyd(&policy, &["rotate", "--all"]).await;
    out.assert_exit(0);

    // Every secret is in its account and in no other.
    let truth = env.truth();
    for (secret, home) in PLACEMENT {
        for account in ACCOUNTS {
            let found = truth.secret_in(account, secret).is_some();
            assert_eq!(
                found,
                account == home,
                "{secret} in account {account} (it belongs in {home})"
            );
        }
    }
    // What each holds is what its provider, in the provider's account, holds now.
    let bot = |bot_id: &str| {
        (truth.chime_bots.iter())
            .find(|b| b.bot_id == bot_id && b.aws_account_id == MEDIA)
            .unwrap()
            .security_token
            .clone()
    };
    assert_eq!(
        current_in(&truth, SECURITY, "rekeyd/bot-a")["security_token"],
        bot(BOT_A)
    );
    assert_eq!(
        current_in(&truth, MEDIA, "rekeyd/bot-b")["security_token"],
        bot(BOT_B)
    );
    let ci = (truth.iam_credentials.iter())
        .find(|c| c.credential_id == CI_ID)
        .unwrap();
    assert_eq!(
        current_in(&truth, DEV, "rekeyd/ci-reset")["service_password"],
        ci.service_password.as_str()
    );
    let web = current_in(&truth, SECURITY, "rekeyd/web-overlap");
    let web_id = web["credential_id"].as_str().unwrap();
    assert_ne!(web_id, WEB_ID, "overlap made a new credential");
    let issued = (truth.iam_credentials.iter())
        .find(|c| c.credential_id == web_id)
        .unwrap();
    assert_eq!(issued.user_name, "web");
    assert_eq!(web["service_password"], issued.service_password.as_str());
    assert!(
        !truth
            .iam_credentials
            .iter()
            .any(|c| c.credential_id == WEB_ID),
        "the old overlap credential is deleted"
    );
    let stage = (truth.ivs_stages.iter())
        .find(|s| s.arn == MEDIA_STAGE)
        .unwrap();
    assert_eq!(
        current_in(&truth, SECURITY, "rekeyd/stage-host")["token"],
        stage.tokens.last().unwrap().token.as_str()
    );

    // Each call was signed with the credentials of the account it acted in:
    // the media resources' calls with media's assumed role, and so on.
    let calls = env.emulator.calls();
    for call in calls.iter().filter(|c| c.operation != "AssumeRole") {
        assert_eq!(
            signer_account(&truth, call),
            Some(call.account_id.as_str()),
            "{} {:?} signed by {:?}",
            call.operation,
            call.resource,
            call.access_key_id
        );
    }
    let acted_in = |account: &str, operation: &str| {
        calls
            .iter()
            .filter(|c| c.account_id == account && c.operation == operation)
            .count()
    };
    assert_eq!(acted_in(MEDIA, "RegenerateSecurityToken"), 2);
    assert_eq!(acted_in(MEDIA, "CreateParticipantToken"), 1);
    assert_eq!(acted_in(MEDIA, "CreateServiceSpecificCredential"), 1);
    assert_eq!(acted_in(DEV, "ResetServiceSpecificCredential"), 1);
    assert_eq!(acted_in(SECURITY, "CreateSecret"), 3);
    assert_eq!(acted_in(DEFAULT, "RegenerateSecurityToken"), 1);
    for call in calls.iter().filter(|c| c.account_id == MEDIA) {
        let session = (truth.sessions.iter())
            .find(|s| Some(&s.access_key_id) == call.access_key_id.as_ref())
            .expect("a media call signed by an assumed role");
        assert_eq!(session.role_arn, MEDIA_ROLE);
        assert_eq!(session.session_name, "rekeyd-media");
    }

    // One AssumeRole per account and run, however many rotations: media has
    // four credentials, all rotated at once.
    assert_eq!(assume_role_calls(&calls).len(), 3);
    let mut roles: Vec<&str> = (truth.sessions.iter())
        .map(|s| s.role_arn.as_str())
        .collect();
    roles.sort_unstable();
    assert_eq!(roles, [MEDIA_ROLE, DEV_ROLE, SECURITY_ROLE]);
    let again = env.rekeyd(&policy, &["rotate", "--all"]).await;
    again.assert_exit(0);
    assert_eq!(assume_role_calls(&env.emulator.calls()).len(), 6);

    // Read back with the security account's own assumed credentials.
    let security = secrets_as(&env, SECURITY_ROLE, None).await;
    let read = security
        .get_secret_value()
        .secret_id("rekeyd/bot-a")
        .send()
        .await
        .expect("the security account reads its secret");
    let value: Value = serde_json::from_str(read.secret_string().unwrap()).unwrap();
    assert_eq!(value["security_token"], bot_now(&env, BOT_A));
    let media = secrets_as(&env, MEDIA_ROLE, Some("ext-media-01")).await;
    let absent = media
        .get_secret_value()
        .secret_id("rekeyd/bot-a")
        .send()
        .await
        .expect_err("the media account has no such secret");
    assert!(
        absent
            .as_service_error()
            .is_some_and(|e| e.is_resource_not_found_exception()),
        "{absent:?}"
    );

    let dry = env.rekeyd(&policy, &["rotate", "--dry-run", "bot-a"]).await;
    dry.assert_exit(0);
    assert!(
        dry.line_for("bot-a").ends_with(&format!(
            "; provider call as account media (role {MEDIA_ROLE}), secret in account security (role {SECURITY_ROLE})"
        )),
        "{}",
        dry.stdout
    );

    // audit and plan show each credential's accounts.
    let audit = env.rekeyd(&policy, &["audit"]).await;
    audit.assert_exit(0);
    let row = (audit.stdout.lines())
        .find(|l| l.starts_with("bot-a "))
        .unwrap();
    assert!(row.contains(" media/security "), "{}", audit.stdout);
    let row = (audit.stdout.lines())
        .find(|l| l.starts_with("support-bot "))
        .unwrap();
    assert!(row.contains(" - "), "{}", audit.stdout);
    let plan = env.rekeyd(&policy, &["plan"]).await;
    plan.assert_exit(0);
    assert!(plan.stdout.starts_with("NAME"), "{}", plan.stdout);
    assert!(plan.stdout.lines().next().unwrap().contains("ACCOUNT"));
    let row = (plan.stdout.lines())
        .find(|l| l.starts_with("ci-reset "))
        .unwrap();
    assert!(row.contains(" dev "), "{}", plan.stdout);
}

fn bot_now(env: &TestEnv, bot_id: &str) -> String {
    (env.truth().chime_bots.iter())
        .find(|b| b.bot_id == bot_id)
        .unwrap()
        .security_token
        .clone()
}

/// The emulator's Secrets Manager as `role`, assumed with the test's key.
async fn secrets_as(
    env: &TestEnv,
    role: &str,
    external_id: Option<&str>,
) -> aws_sdk_secretsmanager::Client {
    let base = Credentials::new("AKIDEXAMPLE", "test-secret-key", None, None, "test");
    let sts = aws_sdk_sts::Client::from_conf(
        aws_sdk_sts::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .http_client(rekeyd::aws::https_client())
            .region(Region::new("us-east-1"))
            .endpoint_url(env.endpoint())
            .credentials_provider(base)
            .build(),
    );
    let assumed = sts
        .assume_role()
        .role_arn(role)
        .role_session_name("test-reader")
        .set_external_id(external_id.map(str::to_owned))
        .send()
        .await
        .expect("AssumeRole");
    let c = assumed.credentials.expect("credentials");
    aws_sdk_secretsmanager::Client::from_conf(
        aws_sdk_secretsmanager::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .http_client(rekeyd::aws::https_client())
            .region(Region::new("us-east-1"))
            .endpoint_url(env.endpoint())
            .credentials_provider(Credentials::new(
                c.access_key_id,
                c.secret_access_key,
                Some(c.session_token),
                None,
                "assumed",
            ))
            .build(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_role_that_cannot_be_assumed_fails_only_its_accounts_credentials() {
    let env = TestEnv::new().await;
    // The dev role trusts another account, not rekeyd's.
    seed(&env, "999999999999");
    let policy = env.write_policy(&policy(&env));

    let out = env.rekeyd(&policy, &["rotate", "--all"]).await;
    assert_eq!(
        out.code(),
        1,
        "stdout:\n{}\nstderr:\n{}",
        out.stdout,
        out.stderr
    );
    let failed = out.line_for("ci-reset");
    assert!(failed.contains(DEV_ROLE), "{failed}");
    assert!(failed.contains("AccessDenied"), "{failed}");
    for name in ["bot-a", "bot-b", "web-overlap", "stage-host", "support-bot"] {
        let line = out.line_for(name);
        assert!(!line.contains("error="), "{line}");
    }
    let truth = env.truth();
    assert!(truth.secret_in(DEV, "rekeyd/ci-reset").is_none());
    assert!(truth.secret_in(SECURITY, "rekeyd/bot-a").is_some());
    // The refused role was asked once, not once per call.
    let dev_attempts = (env.emulator.calls().iter())
        .filter(|c| c.operation == "AssumeRole" && c.error_code.as_deref() == Some("AccessDenied"))
        .count();
    assert_eq!(dev_attempts, 1);

    // check --online names the account and role that cannot be assumed.
    let check = env.rekeyd(&policy, &["check", "--online"]).await;
    assert_eq!(check.code(), 1, "{}", check.stdout);
    let line = (check.stdout.lines())
        .find(|l| l.starts_with("account dev: "))
        .unwrap_or_else(|| panic!("{}", check.stdout));
    assert!(line.contains("failed cannot assume role"), "{line}");
    assert!(
        line.contains(DEV_ROLE) && line.contains("AccessDenied"),
        "{line}"
    );
    assert!(
        check.stdout.contains(&format!(
            "account media: ok role {MEDIA_ROLE} assumed (caller arn:aws:sts::{MEDIA}:assumed-role/rekeyd-rotator/rekeyd-media)"
        )),
        "{}",
        check.stdout
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_account_names_are_policy_errors_with_their_line() {
    let env = TestEnv::new().await;
    let text = policy(&env)
        .replacen("account = \"dev\"", "account = \"devv\"", 1)
        .replacen(
            "secret_account = \"security\"",
            "secret_account = \"vault\"",
            1,
        );
    let policy = env.write_policy(&text);
    let out = env.rekeyd(&policy, &["check"]).await;
    assert_eq!(out.code(), 2, "{}", out.stderr);
    let line_of = |needle: &str| 1 + text.lines().position(|l| l == needle).unwrap();
    let file = policy.display();
    assert!(
        out.stderr.contains(&format!(
            "{file}:{}: iam_service_credential \"ci-reset\": key `account`: unknown account \"devv\"; the policy's accounts are \"dev\", \"media\", \"security\"",
            line_of("account = \"devv\"")
        )),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(&format!(
            "{file}:{}: chime_bot \"bot-a\": key `secret_account`: unknown account \"vault\"",
            line_of("secret_account = \"vault\"")
        )),
        "{}",
        out.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_daemon_assumes_each_role_once_for_many_rotations() {
    let env = TestEnv::new().await;
    seed(&env, DEFAULT);
    // Only the media account's two bots, rotated every 2 s.
    let text = policy(&env).replace("every = \"30d\"", "every = \"2s\"");
    let text = text.split("[[iam_service_credential]]").next().unwrap();
    let policy = env.write_policy(text);
    let daemon = env.spawn(&policy, &["daemon"]);
    let versions = |account: &str, secret: &str| {
        env.truth()
            .secret_in(account, secret)
            .map_or(0, |s| s.versions.len())
    };
    let rotated = crate::util::wait_until(std::time::Duration::from_secs(30), || {
        versions(SECURITY, "rekeyd/bot-a") >= 3 && versions(MEDIA, "rekeyd/bot-b") >= 3
    })
    .await;
    crate::util::signal(&daemon, "TERM");
    let out = crate::util::finish(daemon, std::time::Duration::from_secs(15)).await;
    assert!(
        rotated,
        "not rotated three times in 30 s; stderr:\n{}",
        out.stderr
    );
    assert_eq!(out.code(), 0, "stderr:\n{}", out.stderr);
    // Six and more rotations in two accounts, each role assumed once: the
    // assumed credentials are cached (they last an hour).
    assert_eq!(assume_role_calls(&env.emulator.calls()).len(), 2);
    let mut roles: Vec<String> = (env.truth().sessions.iter())
        .map(|s| s.role_arn.clone())
        .collect();
    roles.sort_unstable();
    assert_eq!(roles, [MEDIA_ROLE, SECURITY_ROLE]);
}
