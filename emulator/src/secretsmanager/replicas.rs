//! Multi-Region secrets: replicas of a secret in other regions (`AddReplicaRegions`,
//! `ReplicateSecretToRegions`, `RemoveRegionsFromReplication`), their status, and what a call
//! signed for a replica's region may do (read, never write).

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::input::{VALIDATION, check_len, invalid_parameter, parse, required};
use super::{Secret, SecretsState};
use crate::context::{Ctx, epoch_seconds};
use crate::error::ApiError;

/// The KMS key a replica uses when none is given.
pub(crate) const DEFAULT_KMS_KEY: &str = "alias/aws/secretsmanager";

/// A replica's `Status`.
pub(crate) const STATUSES: [&str; 3] = ["InSync", "Failed", "InProgress"];

/// One replica of a secret.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Replica {
    pub region: String,
    pub kms_key_id: String,
    /// `InSync`, `Failed` or `InProgress`.
    pub status: String,
    pub status_message: String,
    /// Set (to the day) when the replica's value is read in its region.
    pub last_accessed: Option<DateTime<Utc>>,
}

impl Replica {
    /// A replica in sync (the emulator replicates at once; a control can say otherwise).
    pub(crate) fn new(region: &str, kms_key_id: Option<&str>) -> Replica {
        Replica {
            region: region.to_string(),
            kms_key_id: kms_key_id.unwrap_or(DEFAULT_KMS_KEY).to_string(),
            status: "InSync".into(),
            status_message: "Replication succeeded".into(),
            last_accessed: None,
        }
    }
}

/// `ReplicationStatus` as the answers carry it.
pub(crate) fn status_json(secret: &Secret) -> Value {
    secret
        .replicas
        .iter()
        .map(|r| {
            let mut out = json!({
                "Region": r.region,
                "KmsKeyId": r.kms_key_id,
                "Status": r.status,
                "StatusMessage": r.status_message,
            });
            if let Some(t) = r.last_accessed {
                out["LastAccessedDate"] = json!(epoch_seconds(t));
            }
            out
        })
        .collect()
}

/// The secret's primary region: its ARN's.
pub(crate) fn primary_region(secret: &Secret) -> &str {
    secret.arn.split(':').nth(3).unwrap_or_default()
}

/// The secret's ARN as seen in `region` (a replica's ARN differs only by region).
fn arn_in(secret: &Secret, region: &str) -> String {
    let primary = primary_region(secret);
    secret
        .arn
        .replacen(&format!(":{primary}:"), &format!(":{region}:"), 1)
}

/// `AddReplicaRegions` as sent.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ReplicaRegionIn {
    region: Option<String>,
    kms_key_id: Option<String>,
}

fn check_region(region: &str, field: &str) -> Result<(), ApiError> {
    // `^([a-z]+-)+\d+$`, 1..128.
    let ok = region.len() <= 128
        && region.rsplit_once('-').is_some_and(|(words, digits)| {
            !digits.is_empty()
                && digits.bytes().all(|b| b.is_ascii_digit())
                && words
                    .split('-')
                    .all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase()))
        });
    if ok {
        Ok(())
    } else {
        Err(ApiError::constraint(
            400,
            VALIDATION,
            region,
            field,
            "Member must satisfy regular expression pattern: ^([a-z]+-)+\\d+$",
        ))
    }
}

/// Checks `AddReplicaRegions` (present: at least one; each region well-formed, not the
/// primary, not twice) into (region, KMS key) pairs.
pub(crate) fn parse_add(
    regions: Option<Vec<ReplicaRegionIn>>,
    primary: &str,
) -> Result<Vec<(String, Option<String>)>, ApiError> {
    let Some(regions) = regions else {
        return Ok(Vec::new());
    };
    if regions.is_empty() {
        return Err(ApiError::constraint(
            400,
            VALIDATION,
            "[]",
            "addReplicaRegions",
            "Member must have length greater than or equal to 1",
        ));
    }
    let mut out: Vec<(String, Option<String>)> = Vec::new();
    for r in regions {
        let region = required("Region", &r.region)?.to_string();
        check_region(&region, "addReplicaRegions.member.region")?;
        if let Some(k) = &r.kms_key_id {
            check_len("KmsKeyId", k, 0, 2048)?;
        }
        if region == primary || out.iter().any(|(seen, _)| *seen == region) {
            return Err(invalid_parameter("Invalid replica region."));
        }
        out.push((region, r.kms_key_id.filter(|k| !k.is_empty())));
    }
    Ok(out)
}

/// Adds replicas, refusing a region the secret already has one in.
pub(crate) fn add(
    secret: &mut Secret,
    regions: &[(String, Option<String>)],
) -> Result<(), ApiError> {
    if let Some((region, _)) = regions
        .iter()
        .find(|(r, _)| secret.replicas.iter().any(|have| have.region == *r))
    {
        return Err(invalid_parameter(format!(
            "Secret {} is already replicated to region {region}.",
            secret.name
        )));
    }
    secret.replicas.extend(
        regions
            .iter()
            .map(|(region, key)| Replica::new(region, key.as_deref())),
    );
    Ok(())
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ReplicateInput {
    secret_id: Option<String>,
    add_replica_regions: Option<Vec<ReplicaRegionIn>>,
    /// Only matters when the region holds another secret of the same name, which the
    /// emulator (one namespace per account) never has.
    #[allow(dead_code)]
    force_overwrite_replica_secret: Option<bool>,
}

/// `ReplicateSecretToRegions`.
pub(super) fn replicate(
    state: &mut SecretsState,
    ctx: &mut Ctx,
    input: ReplicateInput,
) -> Result<Value, ApiError> {
    let secret_id = required("SecretId", &input.secret_id)?;
    check_len("SecretId", secret_id, 1, 2048)?;
    if input.add_replica_regions.is_none() {
        return Err(ApiError::missing(400, VALIDATION, "addReplicaRegions"));
    }
    let secret = state.find_mut(secret_id)?;
    secret.usable()?;
    let regions = parse_add(input.add_replica_regions, primary_region(secret))?;
    add(secret, &regions)?;
    secret.last_changed = ctx.now;
    state.replicated = true;
    ctx.mutated = true;
    let secret = state.find(secret_id)?;
    Ok(json!({"ARN": secret.arn, "ReplicationStatus": status_json(secret)}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct RemoveInput {
    secret_id: Option<String>,
    remove_replica_regions: Option<Vec<String>>,
}

/// `RemoveRegionsFromReplication`.
pub(super) fn remove(
    state: &mut SecretsState,
    ctx: &mut Ctx,
    input: RemoveInput,
) -> Result<Value, ApiError> {
    let secret_id = required("SecretId", &input.secret_id)?;
    check_len("SecretId", secret_id, 1, 2048)?;
    let regions = input
        .remove_replica_regions
        .ok_or_else(|| ApiError::missing(400, VALIDATION, "removeReplicaRegions"))?;
    if regions.is_empty() {
        return Err(ApiError::constraint(
            400,
            VALIDATION,
            "[]",
            "removeReplicaRegions",
            "Member must have length greater than or equal to 1",
        ));
    }
    for region in &regions {
        check_region(region, "removeReplicaRegions.member")?;
    }
    let secret = state.find_mut(secret_id)?;
    if let Some(missing) = regions
        .iter()
        .find(|r| !secret.replicas.iter().any(|have| have.region == **r))
    {
        return Err(invalid_parameter(format!(
            "Secret {} has no replica in region {missing}.",
            secret.name
        )));
    }
    secret.replicas.retain(|r| !regions.contains(&r.region));
    secret.last_changed = ctx.now;
    ctx.mutated = true;
    Ok(json!({"ARN": secret.arn, "ReplicationStatus": status_json(secret)}))
}

/// Operations a replica refuses: everything that writes.
fn writes(op: &str) -> bool {
    matches!(
        op,
        "PutSecretValue"
            | "UpdateSecretVersionStage"
            | "TagResource"
            | "DeleteSecret"
            | "ReplicateSecretToRegions"
            | "RemoveRegionsFromReplication"
    )
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SecretIdOnly {
    secret_id: Option<String>,
}

/// For a call signed for a region where the secret it names is a replica: refuses writes,
/// and answers which region the read is served in (see [`as_replica`]).
pub(super) fn replica_region(
    state: &mut SecretsState,
    ctx: &Ctx,
    op: &str,
    body: &[u8],
) -> Result<Option<String>, ApiError> {
    if !state.replicated {
        return Ok(None);
    }
    let Ok(SecretIdOnly {
        secret_id: Some(id),
    }) = parse::<SecretIdOnly>(body)
    else {
        return Ok(None);
    };
    let Ok(secret) = state.find_mut(&id) else {
        return Ok(None);
    };
    let Some(replica) = secret.replicas.iter_mut().find(|r| r.region == ctx.region) else {
        return Ok(None);
    };
    if writes(op) {
        return Err(invalid_parameter(
            "Operation not permitted on a replica secret. Call must be made in primary secret's region.",
        ));
    }
    if op == "GetSecretValue" {
        replica.last_accessed = ctx
            .now
            .date_naive()
            .and_hms_opt(0, 0, 0)
            .map(|d| d.and_utc());
    }
    Ok(Some(replica.region.clone()))
}

/// A read's answer as the replica in `region` gives it: its ARN, and the primary region.
pub(super) fn as_replica(state: &SecretsState, mut out: Value, region: &str) -> Value {
    let Some(arn) = out["ARN"].as_str().map(str::to_owned) else {
        return out;
    };
    if let Ok(secret) = state.find(&arn) {
        out["ARN"] = json!(arn_in(secret, region));
        if out.get("VersionIdsToStages").is_some() {
            out["PrimaryRegion"] = json!(primary_region(secret));
        }
    }
    out
}

/// Sets a replica's status (a control for fault tests).
pub(crate) fn set_status(
    secret: &mut Secret,
    region: &str,
    status: &str,
    message: Option<&str>,
) -> Result<(), ApiError> {
    if !STATUSES.contains(&status) {
        return Err(invalid_parameter(format!(
            "status {status} is not one of InSync, Failed, InProgress"
        )));
    }
    let name = secret.name.clone();
    let replica = secret
        .replicas
        .iter_mut()
        .find(|r| r.region == region)
        .ok_or_else(|| {
            invalid_parameter(format!("Secret {name} has no replica in region {region}."))
        })?;
    replica.status = status.to_string();
    replica.status_message = message.map(str::to_owned).unwrap_or_else(|| {
        match status {
            "InSync" => "Replication succeeded",
            "InProgress" => "Replication in progress",
            _ => "Replication failed",
        }
        .to_string()
    });
    Ok(())
}
