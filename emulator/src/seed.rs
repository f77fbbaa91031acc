//! The seed document: bots, users, credentials, stages, secrets and DynamoDB tables to create
//! before a test or demo.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::dynamodb::{self, KeyAttr};
use crate::error::ApiError;
use crate::iam;
use crate::quota::{Quota, QuotaSet};
use crate::random;
use crate::secretsmanager::{Replica, Secret, SecretValue, set_replica_status};
use crate::state::State;
use crate::sts::RoleSpec;
use crate::truth::{self, ChimeBotTruth, DynamoTableTruth, IamCredentialTruth, SecretTruth};

/// What to create. Every list is optional. See the crate README for an example.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedDoc {
    /// The IAM user that requests without `UserName` act as (default `rekeyd-caller`); created if missing.
    #[serde(default)]
    pub caller_user_name: Option<String>,
    /// Chime bots.
    #[serde(default)]
    pub chime_bots: Vec<SeedChimeBot>,
    /// IAM user names.
    #[serde(default)]
    pub iam_users: Vec<String>,
    /// IAM service-specific credentials; their users are created if missing.
    #[serde(default)]
    pub iam_credentials: Vec<SeedIamCredential>,
    /// IVS real-time stages.
    #[serde(default)]
    pub ivs_stages: Vec<SeedIvsStage>,
    /// Secrets, each with one AWSCURRENT version when a value is given.
    #[serde(default)]
    pub secrets: Vec<SeedSecret>,
    /// DynamoDB tables (on-demand, partition key only), optionally with items.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dynamodb_tables: Vec<SeedDynamoTable>,
    /// Request-rate quotas to set, as `POST /_emulator/quotas` takes them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub quotas: BTreeMap<String, Quota>,
    /// AWS accounts besides the default one, with the roles STS lets others assume;
    /// applied before everything else, so items may name them in `account`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<SeedAccount>,
}

/// An AWS account: `{"account_id": "111111111111", "roles": [...], "iam_users": [...]}`.
/// Declaring the default account (123456789012) adds roles to it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedAccount {
    /// 12 digits.
    pub account_id: String,
    #[serde(default)]
    pub roles: Vec<SeedRole>,
    /// IAM users of this account.
    #[serde(default)]
    pub iam_users: Vec<String>,
}

/// An IAM role: `{"name": "rekeyd-rotator", "trust": ["123456789012"]}`; its ARN is
/// `arn:aws:iam::ACCOUNT:role/NAME`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedRole {
    pub name: String,
    /// Who may assume it (the trust policy's principals): `*`, an account id or
    /// `arn:aws:iam::ID:root` (any identity of that account, its roles' sessions included),
    /// a user ARN, a role ARN (that role's sessions: role chaining), or an assumed-role
    /// session ARN. Nobody else gets `AccessDenied`.
    pub trust: Vec<String>,
    /// The `ExternalId` each `AssumeRole` must pass; any when absent.
    #[serde(default)]
    pub external_id: Option<String>,
    /// The longest `DurationSeconds` allowed, 3600..43200 (default 3600).
    #[serde(default)]
    pub max_session_duration: Option<u32>,
    /// Test knob: the issued credentials expire after this many seconds, whatever
    /// `DurationSeconds` asked for.
    #[serde(default)]
    pub session_lifetime_seconds: Option<u32>,
}

/// A Chime bot to create.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedChimeBot {
    /// The AWS account the bot lives in (the default account when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// Chime account id, 8-4-4-4-12 letters or digits.
    pub account_id: String,
    /// Bot id in the same shape; generated when absent.
    #[serde(default)]
    pub bot_id: Option<String>,
    /// Display name; generated when absent.
    #[serde(default)]
    pub display_name: Option<String>,
    /// Initial security token; generated when absent.
    #[serde(default)]
    pub security_token: Option<String>,
}

/// An IAM service-specific credential to create.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedIamCredential {
    /// The AWS account of the user (the default account when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// Owner; the caller user when absent.
    #[serde(default)]
    pub user_name: Option<String>,
    /// Service; `codecommit.amazonaws.com` when absent.
    #[serde(default)]
    pub service_name: Option<String>,
    /// Credential id; generated (`ACCA...`) when absent.
    #[serde(default)]
    pub credential_id: Option<String>,
    /// Initial password (an API key's secret); generated when absent.
    #[serde(default)]
    pub service_password: Option<String>,
    /// API keys (Bedrock, CloudWatch Logs) only: when the key expires; none when absent.
    #[serde(default)]
    pub expiration_date: Option<DateTime<Utc>>,
    /// `Active` (default) or `Inactive`.
    #[serde(default)]
    pub status: Option<String>,
}

/// An IVS stage to create.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedIvsStage {
    /// The AWS account holding the stage; when absent, the ARN's account if it is
    /// declared, else the default account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// `arn:aws:ivs:REGION:ACCOUNT:stage/ID`.
    pub arn: String,
    /// Stage name.
    #[serde(default)]
    pub name: Option<String>,
}

/// A secret to create, as if someone else had written it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedSecret {
    /// The AWS account holding the secret (the default account when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    pub name: String,
    /// The AWSCURRENT value; no version when absent.
    #[serde(default)]
    pub secret_string: Option<String>,
    /// The version id (ClientRequestToken) of that value; generated when absent.
    #[serde(default)]
    pub version_id: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub kms_key_id: Option<String>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Replicas in other regions than the default region (the primary).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replica_regions: Vec<SeedReplica>,
}

/// A secret's replica: `{"region": "eu-west-1", "status": "Failed"}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedReplica {
    pub region: String,
    /// `alias/aws/secretsmanager` when absent.
    #[serde(default)]
    pub kms_key_id: Option<String>,
    /// `InSync` (default), `Failed` or `InProgress`.
    #[serde(default)]
    pub status: Option<String>,
    /// The replica's `StatusMessage`; a default per status when absent.
    #[serde(default)]
    pub status_message: Option<String>,
}

/// A DynamoDB table to create: `{"name": "rekeyd-leases", "partition_key": "credential"}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedDynamoTable {
    /// The AWS account holding the table (the default account when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    pub name: String,
    /// The partition key attribute's name.
    pub partition_key: String,
    /// `S` (default), `N` or `B`.
    #[serde(default)]
    pub partition_key_type: Option<String>,
    /// Items in DynamoDB's JSON form (`{"credential": {"S": "x"}}`), each with the key.
    #[serde(default)]
    pub items: Vec<serde_json::Value>,
}

/// What seeding created, including generated ids and secrets.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SeedReport {
    pub chime_bots: Vec<ChimeBotTruth>,
    pub iam_users: Vec<String>,
    pub iam_credentials: Vec<IamCredentialTruth>,
    pub ivs_stages: Vec<String>,
    pub secrets: Vec<SecretTruth>,
    #[serde(default)]
    pub dynamodb_tables: Vec<DynamoTableTruth>,
}

/// Why a seed document was refused; nothing was created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeedError {
    /// The document is not valid JSON of the seed format.
    Json(String),
    /// An item was refused (bad id, duplicate, limit).
    Invalid { item: String, message: String },
}

impl fmt::Display for SeedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SeedError::Json(e) => write!(f, "seed document is not valid: {e}"),
            SeedError::Invalid { item, message } => {
                write!(f, "seed item {item} refused: {message}")
            }
        }
    }
}

impl std::error::Error for SeedError {}

fn refused(item: impl Into<String>) -> impl FnOnce(ApiError) -> SeedError {
    let item = item.into();
    move |e| SeedError::Invalid {
        item,
        message: e.message,
    }
}

fn check_user(name: &str) -> Result<(), SeedError> {
    if iam::valid_user_name(name, 64) {
        Ok(())
    } else {
        Err(SeedError::Invalid {
            item: format!("iam user {name:?}"),
            message: "user names must match [\\w+=,.@-]+ (1-64 characters)".into(),
        })
    }
}

/// Parses a seed document.
pub fn parse(doc: &str) -> Result<SeedDoc, SeedError> {
    serde_json::from_str(doc).map_err(|e| SeedError::Json(e.to_string()))
}

/// Applies the document to a copy of the state and, when every item succeeded, commits it.
pub(crate) fn apply(state: &mut State, doc: &SeedDoc) -> Result<SeedReport, SeedError> {
    let mut next = state.clone();
    let report = apply_to(&mut next, doc)?;
    *state = next;
    Ok(report)
}

/// The account an item names, which must be the default one or declared; the default
/// account when it names none.
fn account_of(s: &State, account: Option<&String>, item: &str) -> Result<String, SeedError> {
    match account {
        None => Ok(s.config.account_id.clone()),
        Some(id) if s.knows_account(id) => Ok(id.clone()),
        Some(id) => Err(SeedError::Invalid {
            item: item.to_string(),
            message: format!("account {id} is not declared (list it under \"accounts\")"),
        }),
    }
}

fn seed_account(s: &mut State, seed: &SeedAccount, now: DateTime<Utc>) -> Result<(), SeedError> {
    let id = &seed.account_id;
    s.sts
        .declare_account(id)
        .map_err(refused(format!("account {id:?}")))?;
    for role in &seed.roles {
        let spec = RoleSpec {
            name: role.name.clone(),
            trust: role.trust.clone(),
            external_id: role.external_id.clone(),
            max_session_duration: role.max_session_duration,
            session_lifetime: role.session_lifetime_seconds,
        };
        s.sts
            .add_role(id, &spec)
            .map_err(refused(format!("role {} of account {id}", role.name)))?;
    }
    for user in &seed.iam_users {
        check_user(user)?;
        s.iam.account_mut(id).ensure_user(user, id, now);
    }
    Ok(())
}

fn apply_to(s: &mut State, doc: &SeedDoc) -> Result<SeedReport, SeedError> {
    let now = Utc::now();
    let home = s.config.account_id.clone();
    let mut report = SeedReport::default();
    QuotaSet::check(&doc.quotas).map_err(|e| SeedError::Invalid {
        item: "quotas".into(),
        message: e.0,
    })?;
    s.quotas.set(&doc.quotas);
    for account in &doc.accounts {
        seed_account(s, account, now)?;
    }
    if let Some(caller) = &doc.caller_user_name {
        check_user(caller)?;
        s.config.caller_user_name = caller.clone();
        s.iam.ensure_user(caller, &home, now);
    }
    for bot in &doc.chime_bots {
        let item = format!(
            "chime bot {:?}",
            bot.bot_id.as_deref().unwrap_or(&bot.account_id)
        );
        let account = account_of(s, bot.account.as_ref(), &item)?;
        let created = s
            .chime
            .account_mut(&account)
            .add_bot(
                &bot.account_id,
                bot.bot_id.as_deref(),
                bot.display_name.as_deref(),
                bot.security_token.as_deref(),
                now,
            )
            .map_err(refused(item))?;
        report.chime_bots.push(truth::bot(&created, &account));
    }
    for user in &doc.iam_users {
        check_user(user)?;
        s.iam.ensure_user(user, &home, now);
        report.iam_users.push(user.clone());
    }
    for c in &doc.iam_credentials {
        let user = c
            .user_name
            .clone()
            .unwrap_or_else(|| s.config.caller_user_name.clone());
        check_user(&user)?;
        let item = format!("iam credential of {user}");
        let account = account_of(s, c.account.as_ref(), &item)?;
        let iam = s.iam.account_mut(&account);
        if let Some(id) = &c.credential_id
            && !iam::valid_credential_id(id)
        {
            return Err(SeedError::Invalid {
                item,
                message: format!("credential id {id} must match [\\w]+ (20-128 characters)"),
            });
        }
        iam.ensure_user(&user, &account, now);
        let service = c
            .service_name
            .as_deref()
            .unwrap_or("codecommit.amazonaws.com");
        let mut created = iam
            .create_credential(&user, service, c.credential_id.clone(), None, &account, now)
            .map_err(refused(item.clone()))?;
        if let Some(secret) = &c.service_password {
            iam.set_secret(&user, &created.id, secret.clone())
                .map_err(refused(item.clone()))?;
            if created.secret.is_some() {
                created.secret = Some(secret.clone());
            } else {
                created.password = secret.clone();
            }
        }
        if let Some(expiry) = c.expiration_date {
            iam.set_expiration_date(&user, &created.id, expiry)
                .map_err(refused(item.clone()))?;
            created.expiration_date = Some(expiry);
        }
        if let Some(status) = &c.status {
            if !matches!(status.as_str(), "Active" | "Inactive") {
                return Err(SeedError::Invalid {
                    item,
                    message: format!("status {status} is not Active or Inactive"),
                });
            }
            iam.update(&user, &created.id, status)
                .map_err(refused(item))?;
            created.status = status.clone();
        }
        report
            .iam_credentials
            .push(truth::credential_in(&created, &account));
    }
    for stage in &doc.ivs_stages {
        let item = format!("ivs stage {}", stage.arn);
        let in_arn = stage.arn.split(':').nth(4).map(str::to_owned);
        let account = match &stage.account {
            Some(_) => account_of(s, stage.account.as_ref(), &item)?,
            None => in_arn
                .filter(|a| s.knows_account(a))
                .unwrap_or_else(|| home.clone()),
        };
        s.ivs
            .account_mut(&account)
            .add_stage(&stage.arn, stage.name.as_deref())
            .map_err(refused(format!("ivs stage {}", stage.arn)))?;
        report.ivs_stages.push(stage.arn.clone());
    }
    for seed in &doc.secrets {
        report.secrets.push(seed_secret(s, seed)?);
    }
    for seed in &doc.dynamodb_tables {
        report.dynamodb_tables.push(seed_table(s, seed)?);
    }
    Ok(report)
}

fn seed_secret(s: &mut State, seed: &SeedSecret) -> Result<SecretTruth, SeedError> {
    let now = Utc::now();
    let item = format!("secret {}", seed.name);
    let account = account_of(s, seed.account.as_ref(), &item)?;
    if seed.name.is_empty() || seed.name.len() > 512 {
        return Err(SeedError::Invalid {
            item,
            message: "names are 1 to 512 characters".into(),
        });
    }
    let arn = format!(
        "arn:aws:secretsmanager:{}:{}:secret:{}-{}",
        s.config.default_region,
        account,
        seed.name,
        random::alnum(6)
    );
    let secrets = s.secrets.account_mut(&account);
    secrets.replicated |= !seed.replica_regions.is_empty();
    let secret = secrets
        .insert(Secret {
            name: seed.name.clone(),
            arn,
            description: seed.description.clone(),
            kms_key_id: seed.kms_key_id.clone(),
            tags: seed.tags.clone().into_iter().collect(),
            created: now,
            last_changed: now,
            deletion_date: None,
            versions: Vec::new(),
            replicas: Vec::new(),
        })
        .map_err(refused(item.clone()))?;
    for r in &seed.replica_regions {
        if r.region == s.config.default_region
            || secret.replicas.iter().any(|have| have.region == r.region)
        {
            return Err(SeedError::Invalid {
                item,
                message: format!("replica region {} is the primary or repeated", r.region),
            });
        }
        secret
            .replicas
            .push(Replica::new(&r.region, r.kms_key_id.as_deref()));
        if let Some(status) = &r.status {
            set_replica_status(secret, &r.region, status, r.status_message.as_deref())
                .map_err(refused(item.clone()))?;
        }
    }
    if let Some(value) = &seed.secret_string {
        let id = seed.version_id.clone().unwrap_or_else(random::uuid);
        secret
            .put_version(&id, SecretValue::String(value.clone()), None, now)
            .map_err(refused(item))?;
    }
    Ok(truth::secret_in(secret, &account))
}

fn seed_table(s: &mut State, seed: &SeedDynamoTable) -> Result<DynamoTableTruth, SeedError> {
    let item = format!("dynamodb table {}", seed.name);
    let account = account_of(s, seed.account.as_ref(), &item)?;
    let key = KeyAttr {
        name: seed.partition_key.clone(),
        kind: seed
            .partition_key_type
            .clone()
            .unwrap_or_else(|| "S".into()),
    };
    let table = dynamodb::seed_table(
        s.dynamodb.account_mut(&account),
        &s.config.default_region,
        &account,
        &seed.name,
        key,
        Utc::now(),
    )
    .map_err(refused(item.clone()))?;
    for value in &seed.items {
        dynamodb::item_from_json(value)
            .and_then(|i| table.put_seed_item(i))
            .map_err(refused(item.clone()))?;
    }
    Ok(truth::table_in(table, &account))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_everything_or_nothing() {
        let mut state = State::new();
        let doc = parse(
            r#"{
              "chime_bots": [{"account_id": "12a3456b-7c89-012d-3456-78901e23fg45"}],
              "iam_credentials": [{"user_name": "sofia"}],
              "ivs_stages": [{"arn": "arn:aws:ivs:us-west-2:123456789012:stage/abc"}],
              "secrets": [{"name": "x", "secret_string": "v", "tags": {"k": "v"}}]
            }"#,
        )
        .unwrap();
        let report = apply(&mut state, &doc).unwrap();
        assert_eq!(report.iam_credentials[0].user_name, "sofia");
        assert!(report.iam_credentials[0].credential_id.starts_with("ACCA"));
        assert_eq!(
            report.secrets[0]
                .current()
                .unwrap()
                .secret_string
                .as_deref(),
            Some("v")
        );

        let bad = parse(r#"{"iam_users": ["ok"], "ivs_stages": [{"arn": "nope"}]}"#).unwrap();
        assert!(matches!(
            apply(&mut state, &bad),
            Err(SeedError::Invalid { .. })
        ));
        assert!(
            state.iam.user("ok").is_err(),
            "a refused document creates nothing"
        );
        assert!(matches!(parse(r#"{"bots": []}"#), Err(SeedError::Json(_))));

        let doc = parse(
            r#"{"dynamodb_tables": [{"name": "rekeyd-leases", "partition_key": "credential",
                "items": [{"credential": {"S": "bot"}, "owner": {"S": "host-a"}}]}]}"#,
        )
        .unwrap();
        let report = apply(&mut state, &doc).unwrap();
        assert_eq!(report.dynamodb_tables[0].partition_key_type, "S");
        let truth = state.truth();
        let table = truth.dynamodb_table("rekeyd-leases").unwrap();
        assert_eq!(table.item("bot").unwrap()["owner"]["S"], "host-a");
        let keyless = parse(
            r#"{"dynamodb_tables": [{"name": "other", "partition_key": "k", "items": [{"x": {"S": "y"}}]}]}"#,
        )
        .unwrap();
        let err = apply(&mut state, &keyless).unwrap_err();
        assert!(err.to_string().contains("Missing the key k"), "{err}");
        assert!(state.truth().dynamodb_table("other").is_none());
    }

    #[test]
    fn items_go_to_declared_accounts_only() {
        let mut state = State::new();
        let undeclared =
            parse(r#"{"secrets": [{"account": "111111111111", "name": "x"}]}"#).unwrap();
        let err = apply(&mut state, &undeclared).unwrap_err();
        assert!(
            err.to_string()
                .contains("account 111111111111 is not declared"),
            "{err}"
        );
        let doc = parse(
            r#"{"accounts": [{"account_id": "111111111111",
                              "roles": [{"name": "r", "trust": ["123456789012"]}]}],
                "secrets": [{"account": "111111111111", "name": "x", "secret_string": "v"}],
                "ivs_stages": [{"arn": "arn:aws:ivs:us-east-1:111111111111:stage/a"},
                               {"arn": "arn:aws:ivs:us-east-1:999999999999:stage/b"}]}"#,
        )
        .unwrap();
        let report = apply(&mut state, &doc).unwrap();
        assert!(report.secrets[0].arn.contains(":111111111111:secret:x-"));
        let truth = state.truth();
        assert_eq!(truth.secret("x").unwrap().account_id, "111111111111");
        let stage = |arn: &str| truth.ivs_stage(arn).unwrap().account_id.clone();
        assert_eq!(
            stage("arn:aws:ivs:us-east-1:111111111111:stage/a"),
            "111111111111"
        );
        // An undeclared account in the ARN: the default account holds it, as before.
        assert_eq!(
            stage("arn:aws:ivs:us-east-1:999999999999:stage/b"),
            "123456789012"
        );
        assert_eq!(truth.account("111111111111").unwrap().roles[0].name, "r");
        for bad in [
            r#"{"accounts": [{"account_id": "1111"}]}"#,
            r#"{"accounts": [{"account_id": "111111111111", "roles": [{"name": "r", "trust": ["bob"]}]}]}"#,
            r#"{"accounts": [{"account_id": "111111111111", "roles": [{"name": "r", "trust": []}]}]}"#,
            r#"{"accounts": [{"account_id": "222222222222", "roles": [{"name": "r", "trust": [], "max_session_duration": 60}]}]}"#,
        ] {
            assert!(apply(&mut state, &parse(bad).unwrap()).is_err(), "{bad}");
        }
        assert!(
            state.truth().account("222222222222").is_none(),
            "nothing of a refused document"
        );
    }
}
