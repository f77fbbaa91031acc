//! Secrets Manager state: secrets, their versions and staging labels, and the rules that move them.

mod input;
mod listing;
mod ops;
mod reads;

use chrono::{DateTime, Duration, Utc};
use std::collections::HashMap;

use crate::error::ApiError;

pub(crate) use ops::handle;

/// The label of the version readers get by default.
pub(crate) const AWSCURRENT: &str = "AWSCURRENT";
/// The label the previous current version gets.
pub(crate) const AWSPREVIOUS: &str = "AWSPREVIOUS";
/// Versions Secrets Manager keeps before it removes unlabeled ones.
pub(crate) const MAX_VERSIONS: usize = 100;

/// A version's secret data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SecretValue {
    String(String),
    Binary(Vec<u8>),
}

/// One version of a secret; its id is the `ClientRequestToken` that created it.
#[derive(Debug, Clone)]
pub(crate) struct Version {
    pub id: String,
    pub stages: Vec<String>,
    pub value: SecretValue,
    pub created: DateTime<Utc>,
}

/// A secret and its versions, oldest first.
#[derive(Debug, Clone)]
pub(crate) struct Secret {
    pub name: String,
    pub arn: String,
    pub description: Option<String>,
    pub kms_key_id: Option<String>,
    pub tags: Vec<(String, String)>,
    pub created: DateTime<Utc>,
    pub last_changed: DateTime<Utc>,
    /// When a scheduled deletion takes effect; the secret is unusable meanwhile.
    pub deletion_date: Option<DateTime<Utc>>,
    pub versions: Vec<Version>,
}

/// What [`Secret::put_version`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PutOutcome {
    Created,
    /// Same token, same value: nothing changed.
    AlreadyThere,
}

pub(crate) fn not_found() -> ApiError {
    ApiError::new(
        400,
        "ResourceNotFoundException",
        "Secrets Manager can't find the specified secret.",
    )
}

pub(crate) fn marked_for_deletion() -> ApiError {
    ApiError::new(
        400,
        "InvalidRequestException",
        "You can't perform this operation on the secret because it was marked for deletion.",
    )
}

impl Secret {
    /// The version holding `label`.
    pub(crate) fn by_stage(&self, label: &str) -> Option<&Version> {
        self.versions
            .iter()
            .find(|v| v.stages.iter().any(|s| s == label))
    }

    pub(crate) fn by_id(&self, id: &str) -> Option<&Version> {
        self.versions.iter().find(|v| v.id == id)
    }

    /// Fails when the secret is scheduled for deletion.
    pub(crate) fn usable(&self) -> Result<(), ApiError> {
        match self.deletion_date {
            Some(_) => Err(marked_for_deletion()),
            None => Ok(()),
        }
    }

    /// Adds a version, or recognises a retry of the same one.
    ///
    /// Without `stages` the new version takes AWSCURRENT; the version that loses
    /// AWSCURRENT gets AWSPREVIOUS. The first version always gets AWSCURRENT.
    pub(crate) fn put_version(
        &mut self,
        id: &str,
        value: SecretValue,
        stages: Option<Vec<String>>,
        now: DateTime<Utc>,
    ) -> Result<PutOutcome, ApiError> {
        if let Some(existing) = self.by_id(id) {
            return if existing.value == value {
                Ok(PutOutcome::AlreadyThere)
            } else {
                Err(ApiError::new(
                    400,
                    "ResourceExistsException",
                    "You can't modify an existing version, you can only create new versions.",
                ))
            };
        }
        self.prune(now);
        if self.versions.len() >= MAX_VERSIONS {
            return Err(ApiError::new(
                400,
                "LimitExceededException",
                format!(
                    "You can't create more than {MAX_VERSIONS} versions of secret {}; unlabeled versions younger than 24 hours are kept.",
                    self.name
                ),
            ));
        }
        let mut labels = stages.unwrap_or_else(|| vec![AWSCURRENT.to_string()]);
        if self.versions.is_empty() && !labels.iter().any(|l| l == AWSCURRENT) {
            labels.push(AWSCURRENT.to_string());
        }
        labels.dedup();
        if labels.iter().any(|l| l == AWSCURRENT)
            && let Some(old) = self
                .versions
                .iter()
                .position(|v| v.stages.iter().any(|s| s == AWSCURRENT))
        {
            self.remove_label(AWSPREVIOUS);
            self.versions[old].stages.push(AWSPREVIOUS.to_string());
        }
        for label in &labels {
            self.remove_label(label);
        }
        self.versions.push(Version {
            id: id.to_string(),
            stages: labels,
            value,
            created: now,
        });
        self.last_changed = now;
        Ok(PutOutcome::Created)
    }

    /// UpdateSecretVersionStage: moves `label` to `move_to`, removing it from `remove_from`.
    ///
    /// AWS's rules: a label attached to another version moves only when `remove_from` names
    /// that version (a compare-and-swap); `remove_from` must hold the label; without
    /// `move_to` the label is only removed (never AWSCURRENT, which can only move); moving
    /// AWSCURRENT moves AWSPREVIOUS to the version that held it. A version left without
    /// labels stays (deprecated: listed only with `IncludeDeprecated`). Answers whether
    /// anything changed.
    pub(crate) fn move_stage(
        &mut self,
        label: &str,
        move_to: Option<&str>,
        remove_from: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<bool, ApiError> {
        let invalid = |m: String| ApiError::new(400, "InvalidParameterException", m);
        for id in move_to.iter().chain(remove_from.iter()) {
            if self.by_id(id).is_none() {
                return Err(invalid(format!(
                    "Secrets Manager can't find version {id} of secret {}.",
                    self.name
                )));
            }
        }
        let holder = self.by_stage(label).map(|v| v.id.clone());
        if let Some(from) = remove_from
            && holder.as_deref() != Some(from)
        {
            // AWS's message for a move; the held version is named too, as a hint.
            let held = holder
                .as_deref()
                .map(|h| format!(" (version {h})"))
                .unwrap_or_default();
            return Err(invalid(if move_to.is_some() {
                format!(
                    "When you move staging label {label}, if you specify RemoveFromVersionId, it must be set to the version that currently has the staging label {label}{held}."
                )
            } else {
                format!(
                    "The staging label {label} is not attached to version {from} of secret {}{held}.",
                    self.name
                )
            }));
        }
        let Some(to) = move_to else {
            let Some(from) = remove_from else {
                return Err(invalid(
                    "You must specify MoveToVersionId, RemoveFromVersionId or both.".into(),
                ));
            };
            if label == AWSCURRENT {
                return Err(invalid(format!(
                    "The staging label {AWSCURRENT} can't be removed from version {from}, only moved to another version with MoveToVersionId."
                )));
            }
            self.versions
                .iter_mut()
                .filter(|v| v.id == from)
                .for_each(|v| v.stages.retain(|s| s != label));
            self.last_changed = now;
            return Ok(true);
        };
        match (holder.as_deref(), remove_from) {
            (Some(h), _) if h == to => return Ok(false),
            (Some(h), None) => {
                return Err(invalid(format!(
                    "The parameter RemoveFromVersionId can't be empty. Staging label {label} is currently attached to version {h}, so you must explicitly reference that version in RemoveFromVersionId."
                )));
            }
            _ => {}
        }
        let count = self.by_id(to).map_or(0, |v| v.stages.len());
        if count >= 20 {
            return Err(ApiError::new(
                400,
                "LimitExceededException",
                format!(
                    "Version {to} of secret {} already has 20 staging labels.",
                    self.name
                ),
            ));
        }
        self.remove_label(label);
        if label == AWSCURRENT
            && let Some(old) = &holder
        {
            self.remove_label(AWSPREVIOUS);
            for v in self.versions.iter_mut().filter(|v| v.id == *old) {
                v.stages.push(AWSPREVIOUS.to_string());
            }
        }
        for v in self.versions.iter_mut().filter(|v| v.id == to) {
            v.stages.push(label.to_string());
        }
        self.last_changed = now;
        Ok(true)
    }

    fn remove_label(&mut self, label: &str) {
        for version in &mut self.versions {
            version.stages.retain(|s| s != label);
        }
    }

    /// Removes unlabeled versions older than 24 hours, oldest first, while there are too many.
    fn prune(&mut self, now: DateTime<Utc>) {
        while self.versions.len() >= MAX_VERSIONS {
            let old = self
                .versions
                .iter()
                .position(|v| v.stages.is_empty() && now - v.created > Duration::hours(24));
            match old {
                Some(i) => {
                    self.versions.remove(i);
                }
                None => break,
            }
        }
    }

    /// Adds or replaces tags.
    pub(crate) fn tag(&mut self, tags: Vec<(String, String)>, now: DateTime<Utc>) {
        for (key, value) in tags {
            match self.tags.iter_mut().find(|(k, _)| *k == key) {
                Some(slot) => slot.1 = value,
                None => self.tags.push((key, value)),
            }
        }
        self.last_changed = now;
    }
}

/// Every secret, in creation order, with indexes by name, by ARN and by
/// partial ARN (fleets of thousands are looked up on every call).
#[derive(Debug, Clone, Default)]
pub(crate) struct SecretsState {
    secrets: Vec<Secret>,
    by_name: HashMap<String, usize>,
    /// Full ARNs, and ARNs without their random six-character suffix.
    by_arn: HashMap<String, usize>,
}

/// The ARN without its `-XXXXXX` suffix (what a partial ARN names).
fn partial_arn(arn: &str) -> Option<&str> {
    arn.get(..arn.len().checked_sub(7)?)
}

impl SecretsState {
    pub(crate) fn secrets(&self) -> &[Secret] {
        &self.secrets
    }

    fn position(&self, secret_id: &str) -> Option<usize> {
        if secret_id.starts_with("arn:") {
            // A full ARN, or a partial one without the random six-character suffix.
            self.by_arn.get(secret_id).copied()
        } else {
            self.by_name.get(secret_id).copied()
        }
    }

    /// The secret named by name or ARN.
    pub(crate) fn find(&self, secret_id: &str) -> Result<&Secret, ApiError> {
        self.position(secret_id)
            .map(|i| &self.secrets[i])
            .ok_or_else(not_found)
    }

    pub(crate) fn find_mut(&mut self, secret_id: &str) -> Result<&mut Secret, ApiError> {
        match self.position(secret_id) {
            Some(i) => Ok(&mut self.secrets[i]),
            None => Err(not_found()),
        }
    }

    /// Adds a new secret without versions; fails when the name is taken.
    pub(crate) fn insert(&mut self, secret: Secret) -> Result<&mut Secret, ApiError> {
        if let Some(existing) = self.position(&secret.name).map(|i| &self.secrets[i]) {
            return Err(if existing.deletion_date.is_some() {
                ApiError::new(
                    400,
                    "InvalidRequestException",
                    "You can't create this secret because a secret with this name is already scheduled for deletion.",
                )
            } else {
                ApiError::new(
                    400,
                    "ResourceExistsException",
                    format!(
                        "The operation failed because the secret {} already exists.",
                        secret.name
                    ),
                )
            });
        }
        let last = self.secrets.len();
        self.index(&secret, last);
        self.secrets.push(secret);
        Ok(&mut self.secrets[last])
    }

    /// Removes a secret at once.
    pub(crate) fn remove(&mut self, arn: &str) {
        self.secrets.retain(|s| s.arn != arn);
        self.by_name.clear();
        self.by_arn.clear();
        let secrets = std::mem::take(&mut self.secrets);
        for (i, secret) in secrets.iter().enumerate() {
            self.index(secret, i);
        }
        self.secrets = secrets;
    }

    fn index(&mut self, secret: &Secret, position: usize) {
        self.by_name.insert(secret.name.clone(), position);
        self.by_arn.insert(secret.arn.clone(), position);
        if let Some(partial) = partial_arn(&secret.arn) {
            self.by_arn.entry(partial.to_owned()).or_insert(position);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> Secret {
        let now = Utc::now();
        Secret {
            name: "s".into(),
            arn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:s-AbCdEf".into(),
            description: None,
            kms_key_id: None,
            tags: vec![],
            created: now,
            last_changed: now,
            deletion_date: None,
            versions: vec![],
        }
    }

    fn text(s: &str) -> SecretValue {
        SecretValue::String(s.into())
    }

    #[test]
    fn current_moves_and_previous_follows() {
        let mut s = secret();
        let now = Utc::now();
        s.put_version("v1", text("a"), None, now).unwrap();
        s.put_version("v2", text("b"), None, now).unwrap();
        s.put_version("v3", text("c"), None, now).unwrap();
        assert_eq!(s.by_stage(AWSCURRENT).unwrap().id, "v3");
        assert_eq!(s.by_stage(AWSPREVIOUS).unwrap().id, "v2");
        assert!(s.by_id("v1").unwrap().stages.is_empty());
    }

    #[test]
    fn same_token_is_idempotent_or_conflicts() {
        let mut s = secret();
        let now = Utc::now();
        s.put_version("v1", text("a"), None, now).unwrap();
        assert_eq!(
            s.put_version("v1", text("a"), None, now).unwrap(),
            PutOutcome::AlreadyThere
        );
        let err = s.put_version("v1", text("b"), None, now).unwrap_err();
        assert_eq!(err.code, "ResourceExistsException");
        assert_eq!(s.versions.len(), 1);
    }

    #[test]
    fn first_version_is_current_even_with_custom_stages() {
        let mut s = secret();
        s.put_version("v1", text("a"), Some(vec!["PENDING".into()]), Utc::now())
            .unwrap();
        assert_eq!(s.by_stage(AWSCURRENT).unwrap().id, "v1");
        s.put_version("v2", text("b"), Some(vec!["PENDING".into()]), Utc::now())
            .unwrap();
        assert_eq!(s.by_stage(AWSCURRENT).unwrap().id, "v1");
        assert_eq!(s.by_stage("PENDING").unwrap().id, "v2");
    }

    fn stages(s: &Secret) -> Vec<(String, Vec<String>)> {
        s.versions
            .iter()
            .map(|v| (v.id.clone(), v.stages.clone()))
            .collect()
    }

    fn labels(list: &[&str]) -> Vec<String> {
        list.iter().map(|l| l.to_string()).collect()
    }

    #[test]
    fn pending_then_compare_and_swap_of_current() {
        let mut s = secret();
        let now = Utc::now();
        s.put_version("v1", text("a"), None, now).unwrap();
        s.put_version("v2", text("b"), None, now).unwrap();
        s.put_version("v3", text("c"), Some(labels(&["AWSPENDING"])), now)
            .unwrap();
        assert_eq!(s.by_stage(AWSCURRENT).unwrap().id, "v2");
        // A stale RemoveFromVersionId: nothing moves.
        let err = s
            .move_stage(AWSCURRENT, Some("v3"), Some("v1"), now)
            .unwrap_err();
        assert_eq!(err.code, "InvalidParameterException");
        assert!(
            err.message
                .contains("currently has the staging label AWSCURRENT (version v2)"),
            "{}",
            err.message
        );
        let err = s.move_stage(AWSCURRENT, Some("v3"), None, now).unwrap_err();
        assert!(err.message.contains("RemoveFromVersionId can't be empty"));
        assert_eq!(
            stages(&s),
            [
                ("v1".into(), labels(&["AWSPREVIOUS"])),
                ("v2".into(), labels(&["AWSCURRENT"])),
                ("v3".into(), labels(&["AWSPENDING"])),
            ]
        );
        assert!(
            s.move_stage(AWSCURRENT, Some("v3"), Some("v2"), now)
                .unwrap()
        );
        assert_eq!(
            stages(&s),
            [
                ("v1".into(), labels(&[])),
                ("v2".into(), labels(&["AWSPREVIOUS"])),
                ("v3".into(), labels(&["AWSPENDING", "AWSCURRENT"])),
            ]
        );
        // Moving to where it already is changes nothing.
        assert!(!s.move_stage(AWSCURRENT, Some("v3"), None, now).unwrap());
    }

    #[test]
    fn custom_labels_follow_the_same_rules_and_can_be_removed() {
        let mut s = secret();
        let now = Utc::now();
        s.put_version("v1", text("a"), None, now).unwrap();
        s.put_version("v2", text("b"), Some(labels(&["blue"])), now)
            .unwrap();
        assert!(s.move_stage("blue", Some("v1"), None, now).is_err());
        assert!(s.move_stage("blue", Some("v1"), Some("v2"), now).unwrap());
        assert_eq!(s.by_stage("blue").unwrap().id, "v1");
        assert!(s.move_stage("blue", None, Some("v1"), now).unwrap());
        assert!(s.by_stage("blue").is_none());
        // A label held by no version is attached without RemoveFromVersionId.
        assert!(s.move_stage("green", Some("v2"), None, now).unwrap());
        let err = s.move_stage(AWSCURRENT, None, Some("v1"), now).unwrap_err();
        assert!(err.message.contains("only moved"), "{}", err.message);
        let err = s.move_stage("green", Some("nope"), None, now).unwrap_err();
        assert_eq!(err.code, "InvalidParameterException");
        assert!(s.move_stage("green", None, None, now).is_err());
    }

    #[test]
    fn version_limit_keeps_young_versions_and_prunes_old_unlabeled_ones() {
        let mut s = secret();
        let day_ago = Utc::now() - Duration::hours(25);
        for i in 0..MAX_VERSIONS {
            s.put_version(&format!("v{i}"), text(&i.to_string()), None, day_ago)
                .unwrap();
        }
        // All but two are old and unlabeled: the next put prunes the oldest.
        s.put_version("new", text("n"), None, Utc::now()).unwrap();
        assert_eq!(s.versions.len(), MAX_VERSIONS);
        assert!(s.by_id("v0").is_none());

        let mut young = secret();
        for i in 0..MAX_VERSIONS {
            young
                .put_version(&format!("v{i}"), text(&i.to_string()), None, Utc::now())
                .unwrap();
        }
        let err = young
            .put_version("x", text("x"), None, Utc::now())
            .unwrap_err();
        assert_eq!(err.code, "LimitExceededException");
    }

    #[test]
    fn finds_by_name_full_and_partial_arn() {
        let mut state = SecretsState::default();
        state.insert(secret()).unwrap();
        assert!(state.find("s").is_ok());
        assert!(
            state
                .find("arn:aws:secretsmanager:us-east-1:123456789012:secret:s-AbCdEf")
                .is_ok()
        );
        assert!(
            state
                .find("arn:aws:secretsmanager:us-east-1:123456789012:secret:s")
                .is_ok()
        );
        assert_eq!(
            state.find("t").unwrap_err().code,
            "ResourceNotFoundException"
        );
        assert_eq!(
            state.insert(secret()).unwrap_err().code,
            "ResourceExistsException"
        );
    }
}
