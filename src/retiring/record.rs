//! Pending retirements in the state directory: `retiring/KEY.json`, one per
//! credential (keyed like the journal, by credential and AWS scope), written
//! durably, mode 0600, never holding a secret. A record exists from just
//! before the old IAM credential is set Inactive until it is deleted, so a
//! restart never forgets one.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::journal::records::{Record, RecordDir, RecordFileError, RecordKind};
use crate::providers::Retire;

/// A record that could not be read or written.
pub type RecordError = RecordFileError;

/// An old IAM credential waiting out its grace before it is deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retirement {
    /// The policy's credential name.
    pub credential: String,
    /// The IAM user holding the old credential.
    pub user_name: String,
    /// The old credential's id.
    pub credential_id: String,
    /// When rekeyd set it Inactive; `None` until that is known to have
    /// happened (then its status says nothing about an operator's intent).
    pub deactivated_at: Option<DateTime<Utc>>,
    /// Deleted from then on.
    pub delete_after: DateTime<Utc>,
    /// The secret version whose `on_rotate` hook must succeed before the
    /// old credential is touched (consumers still use it until then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub awaiting_hook: Option<String>,
}

impl Retirement {
    /// What the provider is asked to retire.
    pub fn target(&self) -> Retire {
        Retire::IamCredential {
            user_name: self.user_name.clone(),
            credential_id: self.credential_id.clone(),
        }
    }
}

impl Record for Retirement {
    const KIND: RecordKind = RecordKind {
        dir: "retiring",
        what: "retirement record",
        if_corrupt: "the credential it named may still await deletion",
    };
}

/// The `retiring/` directory of a state directory.
pub type Retirements = RecordDir<Retirement>;

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::PermissionsExt;
    use std::path::Path;

    use super::*;

    fn record(id: &str) -> Retirement {
        Retirement {
            credential: "codecommit-sofia".into(),
            user_name: "sofia".into(),
            credential_id: id.into(),
            deactivated_at: Some("2026-11-23T10:00:00Z".parse().unwrap()),
            delete_after: "2026-11-23T11:00:00Z".parse().unwrap(),
            awaiting_hook: None,
        }
    }

    #[test]
    fn a_record_survives_a_reopen_and_is_replaced_then_removed() {
        let dir = tempfile::tempdir().unwrap();
        let records = Retirements::at(dir.path());
        assert_eq!(records.get("a.00").unwrap(), None, "none before the first");
        records.put("a.00", &record("ACCAOLD1")).unwrap();
        records.put("b.00", &record("ACCAOTHER")).unwrap();
        records.put("a.00", &record("ACCAOLD2")).unwrap();
        let reopened = Retirements::at(dir.path());
        assert_eq!(reopened.get("a.00").unwrap(), Some(record("ACCAOLD2")));
        reopened.remove("a.00").unwrap();
        reopened.remove("a.00").unwrap();
        assert_eq!(reopened.get("a.00").unwrap(), None);
        assert_eq!(reopened.get("b.00").unwrap(), Some(record("ACCAOTHER")));

        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir.path().join("retiring/b.00.json")), 0o600);
        assert_eq!(mode(&dir.path().join("retiring")), 0o700);
        let leftovers: Vec<_> = fs::read_dir(dir.path().join("retiring"))
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(leftovers, ["b.00.json"], "no temporary files left");
        assert_eq!(reopened.keys(), ["b.00"]);
        assert!(Retirements::at(&dir.path().join("none")).keys().is_empty());
    }

    #[test]
    fn a_record_never_holds_more_than_ids_and_times() {
        let text = serde_json::to_string(&record("ACCAOLD1")).unwrap();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        let mut keys: Vec<_> = value.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "credential",
                "credential_id",
                "deactivated_at",
                "delete_after",
                "user_name"
            ]
        );
    }

    #[test]
    fn a_torn_record_is_reported_once_and_set_aside() {
        let dir = tempfile::tempdir().unwrap();
        let records = Retirements::at(dir.path());
        records.put("a.00", &record("ACCAOLD1")).unwrap();
        fs::write(
            dir.path().join("retiring/a.00.json"),
            b"{\"credential\": \"co",
        )
        .unwrap();
        let err = records.get("a.00").unwrap_err();
        assert!(matches!(err, RecordError::Corrupt { .. }), "{err}");
        assert!(err.to_string().contains("a.00.corrupt"), "{err}");
        assert!(dir.path().join("retiring/a.00.corrupt").exists());
        assert_eq!(records.get("a.00").unwrap(), None, "reported once");
    }

    #[test]
    fn a_record_not_yet_deactivated_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let records = Retirements::at(dir.path());
        let pending = Retirement {
            deactivated_at: None,
            ..record("ACCAOLD1")
        };
        records.put("a.00", &pending).unwrap();
        assert_eq!(records.get("a.00").unwrap(), Some(pending.clone()));
        let waiting = Retirement {
            awaiting_hook: Some("v2".into()),
            ..pending
        };
        records.put("a.00", &waiting).unwrap();
        assert_eq!(records.get("a.00").unwrap(), Some(waiting));
    }
}
