//! Unit tests of loading and validation: the example, defaults, each check.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use super::*;

const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(86400);

fn policy(text: &str) -> Policy {
    match parse(Path::new("p.toml"), text) {
        Ok(policy) => policy,
        Err(problems) => panic!("unexpected problems:\n{problems}"),
    }
}

fn cron(expression: &str, timezone: chrono_tz::Tz) -> Schedule {
    Schedule::Cron(CronSchedule {
        expression: expression.to_owned(),
        timezone,
    })
}

fn name(name: &str) -> CredentialName {
    CredentialName::new(name).expect("valid name")
}

fn no_regions() -> std::sync::Arc<[String]> {
    std::sync::Arc::from(Vec::new())
}

#[test]
fn example_parses_to_the_expected_model() {
    let policy = policy(EXAMPLE);
    assert_eq!(policy.aws.region.as_deref(), Some("us-east-1"));
    assert_eq!(policy.aws.endpoints, PerService::default());
    assert_eq!(policy.daemon, DaemonSettings::default());
    let expected = vec![
        Credential {
            name: name("support-bot"),
            secret_name: "rekeyd/support-bot".to_owned(),
            kms_key_id: None,
            schedule: cron("0 0 3 * * *", chrono_tz::UTC),
            jitter: 5 * MINUTE,
            max_age: None,
            target: Target::ChimeBot(ChimeBot {
                account_id: "12a3456b-7c89-012d-3456-78901e23fg45".to_owned(),
                bot_id: "123abcd4-5ef6-789g-0h12-34j56789012k".to_owned(),
            }),
            hooks: None,
            account: None,
            secret_account: None,
            replica_regions: no_regions(),
        },
        Credential {
            name: name("codecommit-sofia"),
            secret_name: "rekeyd/codecommit-sofia".to_owned(),
            kms_key_id: None,
            schedule: Schedule::Every(30 * DAY),
            jitter: 5 * MINUTE,
            max_age: None,
            target: Target::IamServiceCredential(IamServiceCredential {
                user_name: Some("sofia".to_owned()),
                credential_id: "ACCAEXAMPLE123EXAMPLE".to_owned(),
                strategy: IamStrategy::Reset,
                retire_grace: Duration::ZERO,
                credential_age_days: None,
                refresh_before: RefreshBefore::Percent(33),
            }),
            hooks: None,
            account: None,
            secret_account: None,
            replica_regions: no_regions(),
        },
        Credential {
            name: name("bedrock-chatbot"),
            secret_name: "rekeyd/bedrock-chatbot".to_owned(),
            kms_key_id: None,
            schedule: Schedule::Every(60 * DAY),
            jitter: 5 * MINUTE,
            max_age: None,
            target: Target::IamServiceCredential(IamServiceCredential {
                user_name: Some("chatbot".to_owned()),
                credential_id: "ACCABEDROCKEXAMPLE0001".to_owned(),
                strategy: IamStrategy::Overlap,
                retire_grace: Duration::ZERO,
                credential_age_days: Some(90),
                refresh_before: RefreshBefore::Fixed(30 * DAY),
            }),
            hooks: None,
            account: None,
            secret_account: None,
            replica_regions: no_regions(),
        },
        Credential {
            name: name("logs-shipper"),
            secret_name: "rekeyd/logs-shipper".to_owned(),
            kms_key_id: None,
            schedule: Schedule::Every(30 * DAY),
            jitter: 5 * MINUTE,
            max_age: None,
            target: Target::IamServiceCredential(IamServiceCredential {
                user_name: Some("shipper".to_owned()),
                credential_id: "ACCALOGSEXAMPLE000001".to_owned(),
                strategy: IamStrategy::Reset,
                retire_grace: Duration::ZERO,
                credential_age_days: None,
                refresh_before: RefreshBefore::Percent(33),
            }),
            hooks: None,
            account: None,
            secret_account: None,
            replica_regions: no_regions(),
        },
        Credential {
            name: name("stage-host-bob"),
            secret_name: "rekeyd/stage-host-bob".to_owned(),
            kms_key_id: None,
            schedule: Schedule::BeforeExpiry {
                refresh_before: HOUR,
            },
            jitter: 5 * MINUTE,
            max_age: None,
            target: Target::IvsParticipantToken(IvsParticipantToken {
                stage_arn: StageArn::parse("arn:aws:ivs:us-west-2:123456789012:stage/abcdABCDefgh")
                    .expect("valid ARN"),
                duration: 12 * HOUR,
                refresh_before: HOUR,
                user_id: Some("bob".to_owned()),
                attributes: BTreeMap::from([("role".to_owned(), "host".to_owned())]),
                capabilities: vec![Capability::Publish, Capability::Subscribe],
            }),
            hooks: None,
            account: None,
            secret_account: None,
            replica_regions: no_regions(),
        },
    ];
    assert_eq!(policy.credentials, expected);
    assert_eq!(policy.source, Path::new("p.toml"));
}

#[test]
fn defaults_apply_and_a_credentials_own_keys_win() {
    let policy = policy(
        r#"
[defaults]
every = "7d"
jitter = "1m"
secret_prefix = "team/"
kms_key_id = "alias/k"
max_age = "8d"
timezone = "Europe/Berlin"

[[chime_bot]]
name = "inherits"
account_id = "a"
bot_id = "b"

[[chime_bot]]
name = "overrides"
account_id = "a"
bot_id = "b"
schedule = "0 30 2 * * MON"
jitter = "0s"
secret = "exact/name"
kms_key_id = "alias/other"
max_age = "1d"
timezone = "UTC"

[[iam_service_credential]]
name = "prefixed"
credential_id = "ACCAEXAMPLE123EXAMPLE"
secret_prefix = ""
strategy = "overlap"
retire_grace = "2h"
"#,
    );
    let [inherits, overrides, prefixed] = policy.credentials.as_slice() else {
        panic!("three credentials");
    };
    assert_eq!(inherits.schedule, Schedule::Every(7 * DAY));
    assert_eq!(inherits.jitter, MINUTE);
    assert_eq!(inherits.secret_name, "team/inherits");
    assert_eq!(inherits.kms_key_id.as_deref(), Some("alias/k"));
    assert_eq!(inherits.max_age, Some(8 * DAY));
    // A credential's `schedule` replaces the default `every` (one key).
    assert_eq!(overrides.schedule, cron("0 30 2 * * MON", chrono_tz::UTC));
    assert_eq!(overrides.jitter, Duration::ZERO);
    assert_eq!(overrides.secret_name, "exact/name");
    assert_eq!(overrides.kms_key_id.as_deref(), Some("alias/other"));
    assert_eq!(overrides.max_age, Some(DAY));
    assert_eq!(prefixed.secret_name, "prefixed");
    let Target::IamServiceCredential(iam) = &prefixed.target else {
        panic!("an IAM credential");
    };
    assert_eq!(iam.strategy, IamStrategy::Overlap);
    assert_eq!(iam.retire_grace, 2 * HOUR);
    assert_eq!(iam.user_name, None);
}

#[test]
fn a_credentials_every_replaces_a_default_schedule_in_its_zone() {
    let policy = policy(
        r#"
[defaults]
schedule = "0 0 3 * * *"
timezone = "Europe/Berlin"
[[chime_bot]]
name = "a"
account_id = "a"
bot_id = "b"
every = "12h"
[[chime_bot]]
name = "b"
account_id = "a"
bot_id = "b"
"#,
    );
    assert_eq!(policy.credentials[0].schedule, Schedule::Every(12 * HOUR));
    assert_eq!(
        policy.credentials[1].schedule,
        cron("0 0 3 * * *", chrono_tz::Europe::Berlin)
    );
    assert_eq!(policy.credentials[1].secret_name, "rekeyd/b");
    assert_eq!(policy.credentials[1].jitter, Duration::ZERO);
}

#[test]
fn ivs_tokens_ignore_default_schedules_and_default_to_a_third_and_both_capabilities() {
    let policy = policy(
        r#"
[defaults]
every = "1d"
[[ivs_participant_token]]
name = "t"
stage_arn = "arn:aws:ivs:eu-west-1:123456789012:stage/abc"
duration = "3h"
"#,
    );
    let token = &policy.credentials[0];
    assert_eq!(
        token.schedule,
        Schedule::BeforeExpiry {
            refresh_before: 3 * HOUR * 33 / 100
        }
    );
    let Target::IvsParticipantToken(ivs) = &token.target else {
        panic!("an IVS token");
    };
    assert_eq!(
        ivs.capabilities,
        [Capability::Publish, Capability::Subscribe]
    );
    assert_eq!(ivs.duration_minutes(), 180);
    assert_eq!(ivs.stage_arn.region(), "eu-west-1");
}

#[test]
fn settings_tables_parse() {
    let policy = policy(
        r#"
[aws]
profile = "rotation"
endpoint_url = "http://127.0.0.1:4566"
[aws.endpoints]
iam = "https://iam.example.com"
[aws.rate_limits]
ivs_realtime = 10
secretsmanager = 0.5
[daemon]
concurrency = 2
state_dir = "/tmp/rekeyd"
metrics_listen = "127.0.0.1:9464"
shutdown_timeout = "1m"
"#,
    );
    assert_eq!(policy.aws.region, None);
    assert_eq!(policy.aws.profile.as_deref(), Some("rotation"));
    assert_eq!(
        policy.aws.endpoint_url.as_deref(),
        Some("http://127.0.0.1:4566")
    );
    assert_eq!(
        policy.aws.endpoints.iam.as_deref(),
        Some("https://iam.example.com")
    );
    assert_eq!(policy.aws.rate_limits.ivs_realtime, Some(10.0));
    assert_eq!(policy.aws.rate_limits.secretsmanager, Some(0.5));
    assert_eq!(policy.daemon.concurrency.get(), 2);
    assert_eq!(
        policy.daemon.state_dir.as_deref(),
        Some(Path::new("/tmp/rekeyd"))
    );
    assert_eq!(
        policy.daemon.metrics_listen,
        Some("127.0.0.1:9464".parse().unwrap())
    );
    assert_eq!(policy.daemon.shutdown_timeout, MINUTE);
    assert!(policy.credentials.is_empty());
}
