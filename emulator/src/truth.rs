//! The ground truth tests assert on: every live secret, token and password the emulator holds,
//! and every DynamoDB item.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::dynamodb::{Table, item_to_json};
use crate::iam::ServiceCredential;
use crate::secretsmanager::{AWSCURRENT, Secret, SecretValue};

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
}

/// An IVS stage and every participant token issued for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IvsStageTruth {
    pub arn: String,
    pub name: String,
    pub tokens: Vec<IvsTokenTruth>,
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
    /// The secret with this name.
    pub fn secret(&self, name: &str) -> Option<&SecretTruth> {
        self.secrets.iter().find(|s| s.name == name)
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

pub(crate) fn table(t: &Table) -> DynamoTableTruth {
    DynamoTableTruth {
        name: t.name.clone(),
        arn: t.arn.clone(),
        partition_key: t.partition_key.name.clone(),
        partition_key_type: t.partition_key.kind.clone(),
        sort_key: t.sort_key.as_ref().map(|k| k.name.clone()),
        items: t.items.values().map(item_to_json).collect(),
    }
}

pub(crate) fn credential(c: &ServiceCredential) -> IamCredentialTruth {
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
    }
}

pub(crate) fn secret(s: &Secret) -> SecretTruth {
    SecretTruth {
        name: s.name.clone(),
        arn: s.arn.clone(),
        description: s.description.clone(),
        kms_key_id: s.kms_key_id.clone(),
        tags: s.tags.iter().cloned().collect(),
        created_date: s.created,
        last_changed_date: s.last_changed,
        deletion_date: s.deletion_date,
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
