//! The secret value consumers read: one JSON object per credential kind
//! (SPEC.md, "Secret value"), and the non-secret view rekeyd reads back.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize, Serializer};

use crate::policy::Kind;
use crate::token::Token;

/// What a rotation writes to Secrets Manager. Secret fields are
/// [`SecretString`]s: redacted when printed, zeroized when dropped.
#[derive(Debug, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SecretRecord {
    ChimeBot(ChimeBotRecord),
    IamServiceCredential(IamServiceCredentialRecord),
    IvsParticipantToken(IvsParticipantTokenRecord),
}

#[derive(Debug, Serialize)]
pub struct ChimeBotRecord {
    pub name: String,
    pub account_id: String,
    pub bot_id: String,
    #[serde(serialize_with = "expose")]
    pub security_token: SecretString,
    pub bot_email: Option<String>,
    pub user_id: Option<String>,
    #[serde(serialize_with = "rfc3339")]
    pub rotated_at: DateTime<Utc>,
}

/// A user name and password (CodeCommit, Keyspaces), or an API key's alias
/// and secret (Bedrock, CloudWatch Logs): whichever IAM issued.
#[derive(Debug, Serialize)]
pub struct IamServiceCredentialRecord {
    pub name: String,
    pub user_name: String,
    pub service_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_user_name: Option<String>,
    #[serde(
        serialize_with = "expose_some",
        skip_serializing_if = "Option::is_none"
    )]
    pub service_password: Option<SecretString>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_credential_alias: Option<String>,
    #[serde(
        serialize_with = "expose_some",
        skip_serializing_if = "Option::is_none"
    )]
    pub service_credential_secret: Option<SecretString>,
    pub credential_id: String,
    #[serde(serialize_with = "rfc3339")]
    pub rotated_at: DateTime<Utc>,
    /// API keys created with an age only.
    #[serde(
        serialize_with = "rfc3339_some",
        skip_serializing_if = "Option::is_none"
    )]
    pub expiration_date: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize)]
pub struct IvsParticipantTokenRecord {
    pub name: String,
    pub stage_arn: String,
    pub participant_id: String,
    pub user_id: Option<String>,
    #[serde(serialize_with = "expose")]
    pub token: SecretString,
    pub capabilities: Vec<String>,
    pub attributes: BTreeMap<String, String>,
    #[serde(serialize_with = "rfc3339")]
    pub expiration_time: DateTime<Utc>,
    #[serde(serialize_with = "rfc3339")]
    pub rotated_at: DateTime<Utc>,
}

impl SecretRecord {
    pub fn kind(&self) -> Kind {
        match self {
            SecretRecord::ChimeBot(_) => Kind::ChimeBot,
            SecretRecord::IamServiceCredential(_) => Kind::IamServiceCredential,
            SecretRecord::IvsParticipantToken(_) => Kind::IvsParticipantToken,
        }
    }

    pub fn rotated_at(&self) -> DateTime<Utc> {
        match self {
            SecretRecord::ChimeBot(r) => r.rotated_at,
            SecretRecord::IamServiceCredential(r) => r.rotated_at,
            SecretRecord::IvsParticipantToken(r) => r.rotated_at,
        }
    }

    /// When the secret stops working by itself (IVS tokens, expiring API keys).
    pub fn expires_at(&self) -> Option<DateTime<Utc>> {
        match self {
            SecretRecord::IvsParticipantToken(r) => Some(r.expiration_time),
            SecretRecord::IamServiceCredential(r) => r.expiration_date,
            SecretRecord::ChimeBot(_) => None,
        }
    }

    /// A Chime bot's token, for comparing with the bot's current one.
    pub fn security_token(&self) -> Option<Token> {
        match self {
            SecretRecord::ChimeBot(r) => Some(Token::of(&r.security_token)),
            _ => None,
        }
    }

    /// The IAM credential id this record holds, if any.
    pub fn credential_id(&self) -> Option<&str> {
        match self {
            SecretRecord::IamServiceCredential(r) => Some(&r.credential_id),
            _ => None,
        }
    }

    /// The `SecretString` to store: the JSON, itself kept secret (and built
    /// without leaving copies: see `secret::to_json`).
    pub fn to_secret_json(&self) -> SecretString {
        crate::secret::to_json(self).expect("a record always serializes")
    }
}

fn expose<S: Serializer>(secret: &SecretString, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(secret.expose_secret())
}

fn expose_some<S: Serializer>(
    secret: &Option<SecretString>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match secret {
        Some(secret) => expose(secret, serializer),
        None => serializer.serialize_none(),
    }
}

fn rfc3339_some<S: Serializer>(
    time: &Option<DateTime<Utc>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match time {
        Some(time) => rfc3339(time, serializer),
        None => serializer.serialize_none(),
    }
}

fn rfc3339<S: Serializer>(time: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&format_time(*time))
}

/// RFC 3339 in UTC with a `Z`, to the second.
pub fn format_time(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The non-secret fields of a stored value, as rekeyd reads it back for
/// scheduling and audits. Secret fields are never deserialized, but for a
/// Chime bot's token, held as a [`Token`] to prove it is the bot's.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct StoredRecord {
    pub kind: String,
    pub name: String,
    pub rotated_at: DateTime<Utc>,
    /// IVS tokens.
    #[serde(default)]
    pub expiration_time: Option<DateTime<Utc>>,
    /// Expiring IAM API keys.
    #[serde(default)]
    pub expiration_date: Option<DateTime<Utc>>,
    #[serde(default)]
    pub credential_id: Option<String>,
    /// A Chime bot's stored token, only to compare with the bot's current
    /// one (constant time, never shown).
    #[serde(default)]
    pub security_token: Option<Token>,
}

impl StoredRecord {
    /// Parses a stored `SecretString`; `None` when it is not rekeyd's format.
    pub fn parse(value: &str) -> Option<StoredRecord> {
        serde_json::from_str(value).ok()
    }

    /// When the stored secret stops working by itself: an IVS token's
    /// `expiration_time`, an API key's `expiration_date`.
    pub fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.expiration_time.or(self.expiration_date)
    }

    /// Whether this version is one rekeyd wrote for `kind`/`name`.
    pub fn is_written_for(&self, kind: Kind, name: &str) -> bool {
        self.kind == kind.as_str() && self.name == name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ivs_record() -> SecretRecord {
        SecretRecord::IvsParticipantToken(IvsParticipantTokenRecord {
            name: "stage-host-bob".into(),
            stage_arn: "arn:aws:ivs:us-west-2:123456789012:stage/abcd".into(),
            participant_id: "p1".into(),
            user_id: Some("bob".into()),
            token: SecretString::from("tok-123"),
            capabilities: vec!["PUBLISH".into()],
            attributes: BTreeMap::from([("role".into(), "host".into())]),
            expiration_time: "2026-11-23T12:00:00Z".parse().unwrap(),
            rotated_at: "2026-11-23T00:00:00Z".parse().unwrap(),
        })
    }

    #[test]
    fn json_has_every_spec_field() {
        let json = ivs_record().to_secret_json();
        let value: serde_json::Value = serde_json::from_str(json.expose_secret()).unwrap();
        let keys: Vec<&str> = value
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        for key in [
            "kind",
            "name",
            "stage_arn",
            "participant_id",
            "user_id",
            "token",
            "capabilities",
            "attributes",
            "expiration_time",
            "rotated_at",
        ] {
            assert!(keys.contains(&key), "{key} missing from {keys:?}");
        }
        assert_eq!(value["kind"], "ivs_participant_token");
        assert_eq!(value["token"], "tok-123");
        assert_eq!(value["expiration_time"], "2026-11-23T12:00:00Z");
    }

    fn iam_record(api_key: bool) -> SecretRecord {
        let (password, secret) = if api_key {
            (None, Some(SecretString::from("ABSK-secret")))
        } else {
            (Some(SecretString::from("pw-123")), None)
        };
        SecretRecord::IamServiceCredential(IamServiceCredentialRecord {
            name: "bedrock-app".into(),
            user_name: "ana".into(),
            service_name: "bedrock.amazonaws.com".into(),
            service_user_name: (!api_key).then(|| "ana-at-1".into()),
            service_password: password,
            service_credential_alias: api_key.then(|| "ana-at-1".into()),
            service_credential_secret: secret,
            credential_id: "ACCAEXAMPLE123EXAMPLE".into(),
            rotated_at: "2026-11-23T00:00:00Z".parse().unwrap(),
            expiration_date: api_key.then(|| "2027-02-21T00:00:00Z".parse().unwrap()),
        })
    }

    #[test]
    fn iam_json_holds_whichever_secret_iam_issued() {
        let key = iam_record(true);
        let json: serde_json::Value =
            serde_json::from_str(key.to_secret_json().expose_secret()).unwrap();
        assert_eq!(json["service_credential_alias"], "ana-at-1");
        assert_eq!(json["service_credential_secret"], "ABSK-secret");
        assert_eq!(json["expiration_date"], "2027-02-21T00:00:00Z");
        assert!(json.get("service_password").is_none(), "{json}");
        assert!(json.get("service_user_name").is_none(), "{json}");
        let stored = StoredRecord::parse(key.to_secret_json().expose_secret()).unwrap();
        assert_eq!(stored.expires_at(), key.expires_at());
        assert!(!format!("{key:?}").contains("ABSK-secret"));

        let password = iam_record(false);
        let json: serde_json::Value =
            serde_json::from_str(password.to_secret_json().expose_secret()).unwrap();
        assert_eq!(json["service_password"], "pw-123");
        assert_eq!(json["service_user_name"], "ana-at-1");
        for absent in [
            "service_credential_alias",
            "service_credential_secret",
            "expiration_date",
        ] {
            assert!(json.get(absent).is_none(), "{absent} in {json}");
        }
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let debug = format!("{:?}", ivs_record());
        assert!(!debug.contains("tok-123"), "{debug}");
    }

    #[test]
    fn stored_record_reads_back_without_secrets() {
        let json = ivs_record().to_secret_json();
        let stored = StoredRecord::parse(json.expose_secret()).unwrap();
        assert!(stored.is_written_for(Kind::IvsParticipantToken, "stage-host-bob"));
        assert_eq!(
            stored.expiration_time,
            Some("2026-11-23T12:00:00Z".parse().unwrap())
        );
        assert!(StoredRecord::parse("{\"password\": \"x\"}").is_none());
    }
}
