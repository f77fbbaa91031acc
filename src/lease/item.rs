//! The lease item: attribute names, and the item to and from DynamoDB's form.
//! The intent names the rotation in flight, never a secret.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};

/// Placeholders and the attributes they stand for (`owner` is a reserved
/// word, so every name goes through `ExpressionAttributeNames`).
pub(super) const PK: (&str, &str) = ("#pk", "credential");
pub(super) const OWNER: (&str, &str) = ("#owner", "owner");
pub(super) const LEASE_MS: (&str, &str) = ("#ld", "lease_duration_ms");
pub(super) const RVN: (&str, &str) = ("#rvn", "record_version_number");
pub(super) const FENCE: (&str, &str) = ("#fence", "fence");
pub(super) const RELEASED: (&str, &str) = ("#rel", "released");
pub(super) const INTENT: (&str, &str) = ("#intent", "intent");
pub(super) const LAST: (&str, &str) = ("#last", "last_rotation");

/// `ExpressionAttributeNames` for the placeholders `used`.
pub(super) fn names(used: &[(&str, &str)]) -> HashMap<String, String> {
    used.iter()
        .map(|(placeholder, name)| ((*placeholder).to_owned(), (*name).to_owned()))
        .collect()
}

/// A lease item as read.
#[derive(Debug, Clone, PartialEq)]
pub struct LeaseItem {
    pub owner: String,
    /// The owner's lease duration (a duration, never a timestamp).
    pub lease: Duration,
    pub rvn: String,
    /// Incremented by every acquisition.
    pub fence: u64,
    /// Released by its owner: free to acquire at once.
    pub released: bool,
    /// The rotation in flight, if one is.
    pub intent: Option<LeaseIntent>,
    /// The last rotation stored under this lease (never a secret): the next
    /// holder schedules from it without reading the secret again.
    pub last: Option<LastRotation>,
}

/// A rotation stored under the lease: its version and times.
#[derive(Debug, Clone, PartialEq)]
pub struct LastRotation {
    pub version_id: String,
    pub rotated_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
}

impl LastRotation {
    pub(super) fn to_attribute(&self) -> AttributeValue {
        let mut map = HashMap::from([
            ("version_id".to_owned(), s(&self.version_id)),
            ("rotated_at".to_owned(), s(&self.rotated_at.to_rfc3339())),
        ]);
        if let Some(expires) = self.expires_at {
            map.insert("expires_at".to_owned(), s(&expires.to_rfc3339()));
        }
        AttributeValue::M(map)
    }

    fn from_attribute(value: &AttributeValue) -> Result<LastRotation, String> {
        let map = value
            .as_m()
            .map_err(|_| "last_rotation is not a map".to_owned())?;
        let text = |key: &str| map.get(key).and_then(|v| v.as_s().ok()).cloned();
        let time = |key: &str| -> Result<Option<DateTime<Utc>>, String> {
            text(key)
                .map(|t| {
                    DateTime::parse_from_rfc3339(&t)
                        .map(|t| t.with_timezone(&Utc))
                        .map_err(|e| format!("last_rotation {key} {t:?}: {e}"))
                })
                .transpose()
        };
        Ok(LastRotation {
            version_id: text("version_id").ok_or("last_rotation has no version_id")?,
            rotated_at: time("rotated_at")?.ok_or("last_rotation has no rotated_at")?,
            expires_at: time("expires_at")?,
        })
    }
}

/// The rotation in flight on a credential (never a secret).
#[derive(Debug, Clone, PartialEq)]
pub struct LeaseIntent {
    pub rotation: String,
    pub replica: String,
    pub started_at: DateTime<Utc>,
    /// IAM: the id of the credential the provider issued.
    pub issued_credential_id: Option<String>,
    /// IAM: the id of the credential it replaces.
    pub replaces_credential_id: Option<String>,
}

impl LeaseIntent {
    pub(super) fn to_attribute(&self) -> AttributeValue {
        let mut map = HashMap::from([
            ("rotation".to_owned(), s(&self.rotation)),
            ("replica".to_owned(), s(&self.replica)),
            ("started_at".to_owned(), s(&self.started_at.to_rfc3339())),
        ]);
        if let Some(id) = &self.issued_credential_id {
            map.insert("issued_credential_id".to_owned(), s(id));
        }
        if let Some(id) = &self.replaces_credential_id {
            map.insert("replaces_credential_id".to_owned(), s(id));
        }
        AttributeValue::M(map)
    }

    fn from_attribute(value: &AttributeValue) -> Result<LeaseIntent, String> {
        let map = value.as_m().map_err(|_| "intent is not a map".to_owned())?;
        let text = |key: &str| map.get(key).and_then(|v| v.as_s().ok()).cloned();
        let started = text("started_at").ok_or("intent has no started_at")?;
        Ok(LeaseIntent {
            rotation: text("rotation").ok_or("intent has no rotation")?,
            replica: text("replica").unwrap_or_default(),
            started_at: DateTime::parse_from_rfc3339(&started)
                .map_err(|e| format!("intent started_at {started:?}: {e}"))?
                .with_timezone(&Utc),
            issued_credential_id: text("issued_credential_id"),
            replaces_credential_id: text("replaces_credential_id"),
        })
    }
}

pub(super) fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

pub(super) fn n(value: u128) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

impl LeaseItem {
    /// Reads an item; `Err` names what is wrong.
    pub(super) fn parse(item: &HashMap<String, AttributeValue>) -> Result<LeaseItem, String> {
        let text = |name: &str| {
            item.get(name)
                .and_then(|v| v.as_s().ok())
                .cloned()
                .ok_or_else(|| format!("no string attribute {name}"))
        };
        let number = |name: &str| {
            item.get(name)
                .and_then(|v| v.as_n().ok())
                .ok_or_else(|| format!("no number attribute {name}"))
                .and_then(|n| n.parse::<u64>().map_err(|e| format!("{name} {n:?}: {e}")))
        };
        Ok(LeaseItem {
            owner: text(OWNER.1)?,
            lease: Duration::from_millis(number(LEASE_MS.1)?),
            rvn: text(RVN.1)?,
            fence: number(FENCE.1).unwrap_or(0),
            released: item
                .get(RELEASED.1)
                .and_then(|v| v.as_bool().ok())
                .copied()
                .unwrap_or(false),
            intent: item
                .get(INTENT.1)
                .map(LeaseIntent::from_attribute)
                .transpose()?,
            last: item
                .get(LAST.1)
                .map(LastRotation::from_attribute)
                .transpose()?,
        })
    }
}
