//! Secrets Manager replicas of a credential's secret (`replica_regions`):
//! requested when rekeyd creates the secret, added to an existing secret
//! that lacks one, and read back for `audit`, where a replica that is not
//! `InSync` is drift.

use aws_sdk_secretsmanager::types::{ReplicaRegionType, StatusType};

use crate::aws::{AccountClients, RetryPolicy};
use crate::policy::Credential;

#[derive(Debug, thiserror::Error)]
pub enum ReplicaError {
    #[error("secretsmanager {operation} on secret {secret} failed: {detail}")]
    Call {
        operation: &'static str,
        secret: String,
        detail: String,
    },
}

/// One replica, as DescribeSecret reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaState {
    pub region: String,
    /// `InSync`, `InProgress` or `Failed`.
    pub status: String,
    pub message: Option<String>,
}

/// The replicas `CreateSecret` asks for; `None` without `replica_regions`.
pub fn for_create(credential: &Credential) -> Option<Vec<ReplicaRegionType>> {
    (!credential.replica_regions.is_empty())
        .then(|| regions(credential, &credential.replica_regions))
}

/// Each region as a replica request. A KMS alias names a key in each
/// region; any other key id is the primary region's, so replicas then use
/// the region's default key.
fn regions(credential: &Credential, wanted: &[String]) -> Vec<ReplicaRegionType> {
    let kms_key_id = (credential.kms_key_id.as_deref()).filter(|k| k.starts_with("alias/"));
    wanted
        .iter()
        .map(|region| {
            ReplicaRegionType::builder()
                .region(region)
                .set_kms_key_id(kms_key_id.map(str::to_owned))
                .build()
        })
        .collect()
}

/// The configured regions the secret has no replica in yet.
pub fn missing<'a>(credential: &'a Credential, present: &[String]) -> Vec<&'a str> {
    (credential.replica_regions.iter())
        .filter(|wanted| !present.contains(wanted))
        .map(String::as_str)
        .collect()
}

/// Adds the replicas `credential`'s existing secret lacks (ReplicateSecretToRegions);
/// returns the regions added.
pub async fn add_missing(
    aws: &AccountClients,
    credential: &Credential,
    present: &[String],
) -> Result<Vec<String>, ReplicaError> {
    let missing: Vec<String> = missing(credential, present)
        .into_iter()
        .map(str::to_owned)
        .collect();
    if missing.is_empty() {
        return Ok(missing);
    }
    let secret = credential.secret_name.as_str();
    let requests = regions(credential, &missing);
    aws.gates
        .secretsmanager
        .call("ReplicateSecretToRegions", RetryPolicy::PROVIDER, || {
            aws.secretsmanager
                .replicate_secret_to_regions()
                .secret_id(secret)
                .set_add_replica_regions(Some(requests.clone()))
                .send()
        })
        .await
        .map_err(|err| ReplicaError::Call {
            operation: "ReplicateSecretToRegions",
            secret: secret.to_owned(),
            detail: err.detail,
        })?;
    tracing::info!(secret = %secret, regions = %missing.join(","), "replicas added");
    Ok(missing)
}

/// The secret's replicas (DescribeSecret's ReplicationStatus).
pub async fn read(aws: &AccountClients, secret: &str) -> Result<Vec<ReplicaState>, ReplicaError> {
    let out = aws
        .gates
        .secretsmanager
        .call("DescribeSecret", RetryPolicy::PROVIDER, || {
            aws.secretsmanager
                .describe_secret()
                .secret_id(secret)
                .send()
        })
        .await
        .map_err(|err| ReplicaError::Call {
            operation: "DescribeSecret",
            secret: secret.to_owned(),
            detail: err.detail,
        })?;
    Ok(out
        .replication_status
        .unwrap_or_default()
        .into_iter()
        .filter_map(|r| {
            Some(ReplicaState {
                region: r.region?,
                status: r
                    .status
                    .as_ref()
                    .map_or("unknown", StatusType::as_str)
                    .to_owned(),
                message: r.status_message,
            })
        })
        .collect())
}

/// What is wrong with the replicas of `credential`'s secret: a configured
/// region without a replica, or a replica that is not `InSync`, each named.
pub fn drift(credential: &Credential, replicas: &[ReplicaState]) -> Option<String> {
    let mut problems = Vec::new();
    for wanted in credential.replica_regions.iter() {
        match replicas.iter().find(|r| &r.region == wanted) {
            None => problems.push(format!(
                "no replica in region {wanted} (the next rotation adds it)"
            )),
            Some(replica) if replica.status != StatusType::InSync.as_str() => {
                problems.push(format!(
                    "the replica in region {wanted} is {}{}",
                    replica.status,
                    replica
                        .message
                        .as_deref()
                        .map(|m| format!(": {m}"))
                        .unwrap_or_default()
                ));
            }
            Some(_) => {}
        }
    }
    (!problems.is_empty())
        .then(|| format!("secret {}: {}", credential.secret_name, problems.join("; ")))
}
