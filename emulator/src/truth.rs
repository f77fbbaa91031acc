//! The ground truth tests assert on: every live secret, token and password the emulator holds,
//! and every DynamoDB item.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::dynamodb::{Table, item_to_json};
use crate::iam::ServiceCredential;
use crate::secretsmanager::{AWSCURRENT, Secret, SecretValue, primary_region};
use crate::sts::Session;

/// A snapshot of everything the emulator holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Truth {
    pub chime_bots: Vec<ChimeBotTruth>,
    pub iam_users: Vec<String>,
    pub iam_credentials: Vec<IamCredentialTruth>,
    pub ivs_stages: Vec<IvsStageTruth>,
    pub secrets: Vec<SecretTruth>,
    #[serde(default)]
    pub dynamodb_tables: Vec<DynamoTableTruth>,
    /// The default account, then every declared account, with its roles and IAM users.
    #[serde(default)]
    pub accounts: Vec<AccountTruth>,
    /// Every session `AssumeRole` issued, oldest first (no secret key or token).
    #[serde(default)]
    pub sessions: Vec<SessionTruth>,
}

/// An AWS account: its roles and IAM users.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountTruth {
    pub account_id: String,
    pub roles: Vec<RoleTruth>,
    pub iam_users: Vec<String>,
}

/// An IAM role STS lets its trusted principals assume.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoleTruth {
    pub arn: String,
    pub name: String,
    pub role_id: String,
    pub trust: Vec<String>,
    pub external_id: Option<String>,
    pub max_session_duration: u32,
}

/// Temporary credentials `AssumeRole` issued (the access key id only; never the secret key
/// or the token).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionTruth {
    pub access_key_id: String,
    /// The role's account, where calls signed with the session act.
    pub account_id: String,
    pub role_arn: String,
    /// `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`.
    pub arn: String,
    pub session_name: String,
    pub issued: DateTime<Utc>,
    pub expiration: DateTime<Utc>,
    /// The access key id that called `AssumeRole`.
    pub assumed_by: Option<String>,
}

/// A DynamoDB table and its items.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DynamoTableTruth {
    pub name: String,
    pub arn: String,
    pub partition_key: String,
    /// `S`, `N` or `B`.
    pub partition_key_type: String,
    pub sort_key: Option<String>,
    /// The AWS account holding the table.
    #[serde(default)]
    pub account_id: String,
    /// Each item in DynamoDB's JSON form: `{"credential": {"S": "x"}, "fence": {"N": "3"}}`.
    pub items: Vec<serde_json::Value>,
}

impl DynamoTableTruth {
    /// The item whose (string) partition key is `key`.
    pub fn item(&self, key: &str) -> Option<&serde_json::Value> {
        self.items
            .iter()
            .find(|item| item[&self.partition_key]["S"] == key)
    }
}

/// A Chime bot and the one security token that currently works.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChimeBotTruth {
    pub account_id: String,
    pub bot_id: String,
    pub user_id: String,
    pub display_name: String,
    pub bot_email: String,
    pub security_token: String,
    pub disabled: bool,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
    /// The AWS account the bot lives in (the one that created it); `account_id` is the
    /// Chime account.
    #[serde(default)]
    pub aws_account_id: String,
}

/// An IAM service-specific credential and its current password.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IamCredentialTruth {
    pub user_name: String,
    pub service_name: String,
    pub credential_id: String,
    /// Empty for API keys (Bedrock, CloudWatch Logs).
    pub service_user_name: String,
    /// Empty for API keys (Bedrock, CloudWatch Logs).
    pub service_password: String,
    /// API keys only: the public part.
    #[serde(default)]
    pub service_credential_alias: Option<String>,
    /// API keys only: the bearer secret.
    #[serde(default)]
    pub service_credential_secret: Option<String>,
    /// `Active` or `Inactive` as set (`Expired` is reported once
    /// `expiration_date` has passed).
    pub status: String,
    pub create_date: DateTime<Utc>,
    pub expiration_date: Option<DateTime<Utc>>,
    /// The AWS account of the user.
    #[serde(default)]
    pub account_id: String,
}

/// An IVS stage and every participant token issued for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IvsStageTruth {
    pub arn: String,
    pub name: String,
    pub tokens: Vec<IvsTokenTruth>,
    /// The AWS account holding the stage.
    #[serde(default)]
    pub account_id: String,
}

/// One issued participant token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IvsTokenTruth {
    pub participant_id: String,
    pub token: String,
    pub user_id: Option<String>,
    pub attributes: BTreeMap<String, String>,
    pub capabilities: Vec<String>,
    pub duration_minutes: u32,
    pub created: DateTime<Utc>,
    pub expiration_time: DateTime<Utc>,
}

/// A secret with all its versions, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecretTruth {
    pub name: String,
    pub arn: String,
    pub description: Option<String>,
    pub kms_key_id: Option<String>,
    pub tags: BTreeMap<String, String>,
    pub created_date: DateTime<Utc>,
    pub last_changed_date: DateTime<Utc>,
    /// Set while a deletion is scheduled.
    pub deletion_date: Option<DateTime<Utc>>,
    pub versions: Vec<SecretVersionTruth>,
    /// The AWS account holding the secret.
    #[serde(default)]
    pub account_id: String,
    /// The region of its ARN.
    #[serde(default)]
    pub primary_region: String,
    /// Its replicas in other regions.
    #[serde(default)]
    pub replicas: Vec<SecretReplicaTruth>,
}

/// A secret's replica in another region.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecretReplicaTruth {
    pub region: String,
    pub kms_key_id: String,
    /// `InSync`, `Failed` or `InProgress`.
    pub status: String,
    pub status_message: String,
}

/// One version of a secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecretVersionTruth {
    pub version_id: String,
    /// The `ClientRequestToken` that created the version (Secrets Manager uses it as the version id).
    pub client_request_token: String,
    pub stages: Vec<String>,
    pub secret_string: Option<String>,
    /// `SecretBinary`, base64-encoded.
    pub secret_binary: Option<String>,
    pub created_date: DateTime<Utc>,
}

impl Truth {
    /// The secret with this name (the first found: the default account's, if it has one).
    pub fn secret(&self, name: &str) -> Option<&SecretTruth> {
        self.secrets.iter().find(|s| s.name == name)
    }

    /// The secret with this name in this account.
    pub fn secret_in(&self, account_id: &str, name: &str) -> Option<&SecretTruth> {
        self.secrets
            .iter()
            .find(|s| s.account_id == account_id && s.name == name)
    }

    /// The account with this id, with its roles.
    pub fn account(&self, account_id: &str) -> Option<&AccountTruth> {
        self.accounts.iter().find(|a| a.account_id == account_id)
    }

    /// The session `AssumeRole` issued with this access key id.
    pub fn session(&self, access_key_id: &str) -> Option<&SessionTruth> {
        self.sessions
            .iter()
            .find(|s| s.access_key_id == access_key_id)
    }

    /// The bot with these ids.
    pub fn chime_bot(&self, account_id: &str, bot_id: &str) -> Option<&ChimeBotTruth> {
        self.chime_bots
            .iter()
            .find(|b| b.account_id == account_id && b.bot_id == bot_id)
    }

    /// The credential with this id.
    pub fn iam_credential(&self, credential_id: &str) -> Option<&IamCredentialTruth> {
        self.iam_credentials
            .iter()
            .find(|c| c.credential_id == credential_id)
    }

    /// The DynamoDB table with this name.
    pub fn dynamodb_table(&self, name: &str) -> Option<&DynamoTableTruth> {
        self.dynamodb_tables.iter().find(|t| t.name == name)
    }

    /// The stage with this ARN.
    pub fn ivs_stage(&self, arn: &str) -> Option<&IvsStageTruth> {
        self.ivs_stages.iter().find(|s| s.arn == arn)
    }
}

impl SecretTruth {
    /// The version labelled AWSCURRENT.
    pub fn current(&self) -> Option<&SecretVersionTruth> {
        self.stage(AWSCURRENT)
    }

    /// The version holding `label`.
    pub fn stage(&self, label: &str) -> Option<&SecretVersionTruth> {
        self.versions
            .iter()
            .find(|v| v.stages.iter().any(|s| s == label))
    }
}

pub(crate) fn session(s: &Session) -> SessionTruth {
    SessionTruth {
        access_key_id: s.access_key_id.clone(),
        account_id: s.account_id.clone(),
        role_arn: s.role_arn.clone(),
        arn: s.arn.clone(),
        session_name: s.session_name.clone(),
        issued: s.issued,
        expiration: s.expiration,
        assumed_by: s.assumed_by.clone(),
    }
}

pub(crate) fn bot(b: &ChimeBotTruth, account_id: &str) -> ChimeBotTruth {
    ChimeBotTruth {
        aws_account_id: account_id.to_string(),
        ..b.clone()
    }
}

pub(crate) fn table_in(t: &Table, account_id: &str) -> DynamoTableTruth {
    DynamoTableTruth {
        name: t.name.clone(),
        arn: t.arn.clone(),
        partition_key: t.partition_key.name.clone(),
        partition_key_type: t.partition_key.kind.clone(),
        sort_key: t.sort_key.as_ref().map(|k| k.name.clone()),
        account_id: account_id.to_string(),
        items: t.items.values().map(item_to_json).collect(),
    }
}

pub(crate) fn credential_in(c: &ServiceCredential, account_id: &str) -> IamCredentialTruth {
    IamCredentialTruth {
        user_name: c.user_name.clone(),
        service_name: c.service_name.clone(),
        credential_id: c.id.clone(),
        service_user_name: c.service_user_name.clone(),
        service_password: c.password.clone(),
        service_credential_alias: c.alias.clone(),
        service_credential_secret: c.secret.clone(),
        status: c.status.clone(),
        create_date: c.create_date,
        expiration_date: c.expiration_date,
        account_id: account_id.to_string(),
    }
}

pub(crate) fn secret_in(s: &Secret, account_id: &str) -> SecretTruth {
    SecretTruth {
        name: s.name.clone(),
        arn: s.arn.clone(),
        description: s.description.clone(),
        kms_key_id: s.kms_key_id.clone(),
        tags: s.tags.iter().cloned().collect(),
        created_date: s.created,
        last_changed_date: s.last_changed,
        deletion_date: s.deletion_date,
        account_id: account_id.to_string(),
        primary_region: primary_region(s).to_string(),
        replicas: s
            .replicas
            .iter()
            .map(|r| SecretReplicaTruth {
                region: r.region.clone(),
                kms_key_id: r.kms_key_id.clone(),
                status: r.status.clone(),
                status_message: r.status_message.clone(),
            })
            .collect(),
        versions: s
            .versions
            .iter()
            .map(|v| {
                let (string, binary) = match &v.value {
                    SecretValue::String(t) => (Some(t.clone()), None),
                    SecretValue::Binary(b) => (None, Some(STANDARD.encode(b))),
                };
                SecretVersionTruth {
                    version_id: v.id.clone(),
                    client_request_token: v.id.clone(),
                    stages: v.stages.clone(),
                    secret_string: string,
                    secret_binary: binary,
                    created_date: v.created,
                }
            })
            .collect(),
    }
}
