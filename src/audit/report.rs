//! The audit's result and its stable JSON form (documented in the README):
//! `{"checked_at", "offline", "credentials": [...], "unmanaged": [...],
//! "summary": {status: count}}`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Serialize, Serializer};

use super::status::{Assessment, Status};
use crate::policy::Credential;
use crate::record::format_time;

/// Everything one audit found.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    #[serde(serialize_with = "time")]
    pub checked_at: DateTime<Utc>,
    /// True when no provider was asked (`--offline`).
    pub offline: bool,
    /// One entry per policy credential, in policy order.
    pub credentials: Vec<Entry>,
    /// Secrets tagged `rekeyd:credential` that no policy credential claims.
    pub unmanaged: Vec<Unmanaged>,
    /// How many entries (credentials and unmanaged) have each status.
    pub summary: BTreeMap<Status, usize>,
}

/// One credential's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub name: String,
    pub kind: String,
    pub secret: String,
    /// The `[accounts]` name provider calls run as; null: rekeyd's own identity.
    pub account: Option<String>,
    /// The `[accounts]` name the secret lives in; null: rekeyd's own identity.
    pub secret_account: Option<String>,
    pub status: Status,
    #[serde(serialize_with = "opt_time")]
    pub last_rotated: Option<DateTime<Utc>>,
    #[serde(serialize_with = "opt_time")]
    pub next_due: Option<DateTime<Utc>>,
    #[serde(serialize_with = "opt_time")]
    pub expires_at: Option<DateTime<Utc>>,
    pub detail: String,
}

impl Entry {
    pub fn new(credential: &Credential, assessment: Assessment) -> Entry {
        Entry {
            name: credential.name.to_string(),
            kind: credential.kind().to_string(),
            secret: credential.secret_name.clone(),
            account: credential.account.as_ref().map(|a| a.name.clone()),
            secret_account: credential.secret_account.as_ref().map(|a| a.name.clone()),
            status: assessment.status,
            last_rotated: assessment.last_rotated,
            next_due: assessment.next_due,
            expires_at: assessment.expires_at,
            detail: assessment.detail,
        }
    }
}

/// A tagged secret no credential claims; `status` is `unmanaged`, or
/// `error` (with `secret` null) when the tagged secrets could not be listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unmanaged {
    pub secret: Option<String>,
    /// The `rekeyd:credential` tag's value.
    pub credential: Option<String>,
    /// The `rekeyd:kind` tag's value.
    pub kind: Option<String>,
    pub status: Status,
    pub detail: String,
}

impl Report {
    pub fn new(
        checked_at: DateTime<Utc>,
        offline: bool,
        credentials: Vec<Entry>,
        unmanaged: Vec<Unmanaged>,
    ) -> Report {
        let mut summary = BTreeMap::new();
        let statuses = credentials
            .iter()
            .map(|e| e.status)
            .chain(unmanaged.iter().map(|u| u.status));
        for status in statuses {
            *summary.entry(status).or_insert(0) += 1;
        }
        Report {
            checked_at,
            offline,
            credentials,
            unmanaged,
            summary,
        }
    }

    /// Whether any entry has a status in `failing`.
    pub fn fails(&self, failing: &[Status]) -> bool {
        self.summary.keys().any(|s| failing.contains(s))
    }

    /// The JSON form, pretty-printed.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }

    /// `3 credentials: 2 ok, 1 missing; 1 unmanaged secret`.
    pub fn summary_line(&self) -> String {
        let counts: Vec<String> = self
            .summary
            .iter()
            .filter(|(s, _)| **s != Status::Unmanaged)
            .map(|(s, n)| format!("{n} {s}"))
            .collect();
        let n = self.credentials.len();
        let mut line = format!(
            "{n} credential{}: {}",
            if n == 1 { "" } else { "s" },
            if counts.is_empty() {
                "none".to_owned()
            } else {
                counts.join(", ")
            }
        );
        let orphans = self.summary.get(&Status::Unmanaged).copied().unwrap_or(0);
        if orphans > 0 {
            line.push_str(&format!(
                "; {orphans} unmanaged secret{}",
                if orphans == 1 { "" } else { "s" }
            ));
        }
        if self.offline {
            line.push_str(" (offline: providers not asked)");
        }
        line
    }
}

impl Serialize for Status {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

fn time<S: Serializer>(t: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&format_time(*t))
}

fn opt_time<S: Serializer>(t: &Option<DateTime<Utc>>, serializer: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => serializer.serialize_str(&format_time(*t)),
        None => serializer.serialize_none(),
    }
}
