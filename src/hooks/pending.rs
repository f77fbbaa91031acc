//! `on_rotate` runs still owed, in the state directory: `hooks/KEY.json`,
//! one per credential (keyed like the journal), written durably, mode 0600,
//! holding names, ids and times only. A record exists from the store of a
//! rotation until its `on_rotate` succeeded, so a crash (or a hook that
//! failed every attempt) leaves it for the next start.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Context, Event};
use crate::journal::records::{Record, RecordDir, RecordFileError, RecordKind};

/// A record that could not be read or written.
pub type PendingError = RecordFileError;

/// A stored rotation whose `on_rotate` has not succeeded yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingHook {
    pub credential: String,
    pub kind: String,
    /// The secret's name.
    pub secret: String,
    pub secret_arn: Option<String>,
    /// The version the rotation stored: the record is settled only by a
    /// hook run for it.
    pub version_id: String,
    pub rotated_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
}

impl PendingHook {
    /// What the hook is told.
    pub fn context(&self) -> Context {
        Context {
            event: Event::Rotated,
            credential: self.credential.clone(),
            kind: self.kind.clone(),
            secret: self.secret.clone(),
            secret_arn: self.secret_arn.clone(),
            version_id: Some(self.version_id.clone()),
            rotated_at: Some(self.rotated_at),
            expires_at: self.expires_at,
            error: None,
        }
    }
}

impl Record for PendingHook {
    const KIND: RecordKind = RecordKind {
        dir: "hooks",
        what: "pending hook record",
        if_corrupt: "run the credential's on_rotate by hand if it did not run",
    };
}

/// The `hooks/` directory of a state directory: one record per credential
/// whose `on_rotate` is owed (a newer rotation replaces it).
pub type PendingHooks = RecordDir<PendingHook>;

impl PendingHooks {
    /// The hook for `version_id` succeeded: its record goes, unless a newer
    /// rotation replaced it meanwhile.
    pub fn settle(&self, key: &str, version_id: &str) -> Result<(), PendingError> {
        match self.get(key)? {
            Some(record) if record.version_id == version_id => {}
            _ => return Ok(()),
        }
        self.remove(key)
    }
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn record(version: &str) -> PendingHook {
        PendingHook {
            credential: "support-bot".into(),
            kind: "chime_bot".into(),
            secret: "rekeyd/support-bot".into(),
            secret_arn: Some(
                "arn:aws:secretsmanager:us-east-1:1:secret:rekeyd/support-bot-a1".into(),
            ),
            version_id: version.into(),
            rotated_at: "2026-11-30T10:00:00Z".parse().unwrap(),
            expires_at: None,
        }
    }

    #[test]
    fn a_record_is_settled_only_by_its_own_version() {
        let dir = tempfile::tempdir().unwrap();
        let pending = PendingHooks::at(dir.path());
        assert_eq!(pending.get("a.00").unwrap(), None);
        pending.put("a.00", &record("v1")).unwrap();
        pending.put("a.00", &record("v2")).unwrap();
        pending.settle("a.00", "v1").unwrap();
        assert_eq!(
            PendingHooks::at(dir.path()).get("a.00").unwrap(),
            Some(record("v2")),
            "a newer rotation's record stays"
        );
        let mode = fs::metadata(dir.path().join("hooks/a.00.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(pending.keys(), ["a.00"]);
        pending.settle("a.00", "v2").unwrap();
        assert_eq!(pending.get("a.00").unwrap(), None);
        assert!(pending.keys().is_empty());
        pending.settle("a.00", "v2").unwrap();
    }

    #[test]
    fn a_torn_record_is_reported_once_and_set_aside() {
        let dir = tempfile::tempdir().unwrap();
        let pending = PendingHooks::at(dir.path());
        pending.put("a.00", &record("v1")).unwrap();
        fs::write(dir.path().join("hooks/a.00.json"), b"{\"credential\"").unwrap();
        let err = pending.get("a.00").unwrap_err();
        assert!(err.to_string().contains("a.00.corrupt"), "{err}");
        assert_eq!(pending.get("a.00").unwrap(), None);
    }
}
