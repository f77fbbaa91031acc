//! Secrets Manager over awsJson1_1: the operation dispatcher and the write operations.

use chrono::Duration;
use serde::Deserialize;
use serde_json::{Value, json};

use super::input::{
    TagIn, VALIDATION, check_len, invalid_parameter, parse, request_token, required, secret_value,
    tags, valid_name,
};
use super::replicas::{self, ReplicaRegionIn};
use super::{PutOutcome, Secret, SecretsState, reads};
use crate::context::{Ctx, epoch_seconds};
use crate::error::ApiError;
use crate::random;

/// Serves one Secrets Manager operation.
pub(crate) fn handle(
    state: &mut SecretsState,
    ctx: &mut Ctx,
    op: &str,
    body: &[u8],
) -> Result<Value, ApiError> {
    let replica = replicas::replica_region(state, ctx, op, body)?;
    let out = match op {
        "CreateSecret" => create_secret(state, ctx, parse(body)?),
        "PutSecretValue" => put_secret_value(state, ctx, parse(body)?),
        "UpdateSecretVersionStage" => update_secret_version_stage(state, ctx, parse(body)?),
        "TagResource" => tag_resource(state, ctx, parse(body)?),
        "DeleteSecret" => delete_secret(state, ctx, parse(body)?),
        "GetSecretValue" => reads::get_secret_value(state, parse(body)?),
        "DescribeSecret" => reads::describe_secret(state, parse(body)?),
        "ListSecretVersionIds" => reads::list_secret_version_ids(state, parse(body)?),
        "ListSecrets" => reads::list_secrets(state, parse(body)?),
        "BatchGetSecretValue" => reads::batch_get_secret_value(state, parse(body)?),
        "ReplicateSecretToRegions" => replicas::replicate(state, ctx, parse(body)?),
        "RemoveRegionsFromReplication" => replicas::remove(state, ctx, parse(body)?),
        other => Err(ApiError::new(
            400,
            "UnknownOperationException",
            format!("Unknown operation {other}"),
        )),
    }?;
    Ok(match replica {
        Some(region) => replicas::as_replica(state, out, &region),
        None => out,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct CreateSecretInput {
    name: Option<String>,
    client_request_token: Option<String>,
    description: Option<String>,
    kms_key_id: Option<String>,
    secret_string: Option<String>,
    secret_binary: Option<String>,
    tags: Option<Vec<TagIn>>,
    add_replica_regions: Option<Vec<ReplicaRegionIn>>,
    /// Only matters when a replica region holds another secret of the same name, which
    /// the emulator (one namespace per account) never has.
    #[allow(dead_code)]
    force_overwrite_replica_secret: Option<bool>,
}

fn create_secret(
    state: &mut SecretsState,
    ctx: &mut Ctx,
    input: CreateSecretInput,
) -> Result<Value, ApiError> {
    let name = required("Name", &input.name)?.to_string();
    check_len("Name", &name, 1, 512)?;
    if !valid_name(&name) {
        return Err(invalid_parameter(
            "Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!",
        ));
    }
    if let Some(d) = &input.description {
        check_len("Description", d, 0, 2048)?;
    }
    if let Some(k) = &input.kms_key_id {
        check_len("KmsKeyId", k, 0, 2048)?;
    }
    let value = secret_value(input.secret_string, input.secret_binary)?;
    let token = match (&value, input.client_request_token) {
        (Some(_), token) => Some(request_token(token)?),
        (None, Some(token)) => {
            check_len("ClientRequestToken", &token, 32, 64)?;
            None
        }
        (None, None) => None,
    };
    let tags = tags(input.tags)?;
    let replica_regions = replicas::parse_add(input.add_replica_regions, &ctx.region)?;
    state.replicated |= !replica_regions.is_empty();
    let arn = format!(
        "arn:aws:secretsmanager:{}:{}:secret:{name}-{}",
        ctx.region,
        ctx.account_id,
        random::alnum(6)
    );
    let secret = state.insert(Secret {
        name: name.clone(),
        arn: arn.clone(),
        description: input.description,
        kms_key_id: input.kms_key_id.filter(|k| !k.is_empty()),
        tags,
        created: ctx.now,
        last_changed: ctx.now,
        deletion_date: None,
        versions: Vec::new(),
        replicas: Vec::new(),
    })?;
    ctx.mutated = true;
    let mut out = json!({"ARN": arn, "Name": name});
    if !replica_regions.is_empty() {
        replicas::add(secret, &replica_regions)?;
        out["ReplicationStatus"] = replicas::status_json(secret);
    }
    if let (Some(value), Some(token)) = (value, token) {
        secret.put_version(&token, value, None, ctx.now)?;
        out["VersionId"] = json!(token);
    }
    Ok(out)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct PutSecretValueInput {
    secret_id: Option<String>,
    client_request_token: Option<String>,
    secret_string: Option<String>,
    secret_binary: Option<String>,
    version_stages: Option<Vec<String>>,
}

fn put_secret_value(
    state: &mut SecretsState,
    ctx: &mut Ctx,
    input: PutSecretValueInput,
) -> Result<Value, ApiError> {
    let secret_id = required("SecretId", &input.secret_id)?;
    check_len("SecretId", secret_id, 1, 2048)?;
    let token = request_token(input.client_request_token)?;
    let value = secret_value(input.secret_string, input.secret_binary)?.ok_or_else(|| {
        invalid_parameter("You must provide either SecretString or SecretBinary.")
    })?;
    if let Some(stages) = &input.version_stages {
        if stages.is_empty() || stages.len() > 20 {
            return Err(ApiError::new(
                400,
                VALIDATION,
                "VersionStages must hold 1 to 20 labels.",
            ));
        }
        for stage in stages {
            check_len("VersionStages.member", stage, 1, 256)?;
        }
    }
    let secret = state.find_mut(secret_id)?;
    secret.usable()?;
    if secret.put_version(&token, value, input.version_stages, ctx.now)? == PutOutcome::Created {
        ctx.mutated = true;
    }
    let stages = secret
        .by_id(&token)
        .map(|v| v.stages.clone())
        .unwrap_or_default();
    Ok(json!({"ARN": secret.arn, "Name": secret.name, "VersionId": token, "VersionStages": stages}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct UpdateSecretVersionStageInput {
    secret_id: Option<String>,
    version_stage: Option<String>,
    remove_from_version_id: Option<String>,
    move_to_version_id: Option<String>,
}

fn update_secret_version_stage(
    state: &mut SecretsState,
    ctx: &mut Ctx,
    input: UpdateSecretVersionStageInput,
) -> Result<Value, ApiError> {
    let secret_id = required("SecretId", &input.secret_id)?;
    check_len("SecretId", secret_id, 1, 2048)?;
    let stage = required("VersionStage", &input.version_stage)?;
    check_len("VersionStage", stage, 1, 256)?;
    for (field, id) in [
        ("RemoveFromVersionId", &input.remove_from_version_id),
        ("MoveToVersionId", &input.move_to_version_id),
    ] {
        if let Some(id) = id {
            check_len(field, id, 32, 64)?;
        }
    }
    let secret = state.find_mut(secret_id)?;
    secret.usable()?;
    if secret.move_stage(
        stage,
        input.move_to_version_id.as_deref(),
        input.remove_from_version_id.as_deref(),
        ctx.now,
    )? {
        ctx.mutated = true;
    }
    Ok(json!({"ARN": secret.arn, "Name": secret.name}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct TagResourceInput {
    secret_id: Option<String>,
    tags: Option<Vec<TagIn>>,
}

fn tag_resource(
    state: &mut SecretsState,
    ctx: &mut Ctx,
    input: TagResourceInput,
) -> Result<Value, ApiError> {
    let secret_id = required("SecretId", &input.secret_id)?;
    if input.tags.is_none() {
        return Err(ApiError::missing(400, VALIDATION, "tags"));
    }
    let tags = tags(input.tags)?;
    let secret = state.find_mut(secret_id)?;
    let distinct: std::collections::BTreeSet<&String> =
        secret.tags.iter().chain(&tags).map(|(k, _)| k).collect();
    if distinct.len() > 50 {
        return Err(invalid_parameter("A secret can have at most 50 tags."));
    }
    secret.tag(tags, ctx.now);
    ctx.mutated = true;
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct DeleteSecretInput {
    secret_id: Option<String>,
    recovery_window_in_days: Option<i64>,
    force_delete_without_recovery: Option<bool>,
}

fn delete_secret(
    state: &mut SecretsState,
    ctx: &mut Ctx,
    input: DeleteSecretInput,
) -> Result<Value, ApiError> {
    let secret_id = required("SecretId", &input.secret_id)?;
    let force = input.force_delete_without_recovery.unwrap_or(false);
    if force && input.recovery_window_in_days.is_some() {
        return Err(invalid_parameter(
            "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.",
        ));
    }
    let days = input.recovery_window_in_days.unwrap_or(30);
    if !force && !(7..=30).contains(&days) {
        return Err(invalid_parameter(
            "The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).",
        ));
    }
    let secret = state.find_mut(secret_id)?;
    let (arn, name) = (secret.arn.clone(), secret.name.clone());
    if !secret.replicas.is_empty() {
        let regions: Vec<&str> = secret.replicas.iter().map(|r| r.region.as_str()).collect();
        return Err(invalid_parameter(format!(
            "You can't delete secret {arn} that still has replica regions [{}].",
            regions.join(", ")
        )));
    }
    let deletion_date = if force {
        ctx.now
    } else {
        secret.usable()?;
        let date = ctx.now + Duration::days(days);
        secret.deletion_date = Some(date);
        secret.last_changed = ctx.now;
        date
    };
    if force {
        state.remove(&arn);
    }
    ctx.mutated = true;
    Ok(json!({"ARN": arn, "Name": name, "DeletionDate": epoch_seconds(deletion_date)}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::Config;

    const TOKEN: &str = "00000000-0000-4000-8000-000000000001";

    fn call(state: &mut SecretsState, op: &str, body: Value) -> Result<Value, ApiError> {
        let mut ctx = Ctx::new(&Config::default(), None);
        handle(state, &mut ctx, op, body.to_string().as_bytes())
    }

    #[test]
    fn create_then_put_then_read() {
        let mut s = SecretsState::default();
        let out = call(
            &mut s,
            "CreateSecret",
            json!({"Name": "a", "SecretString": "1", "ClientRequestToken": TOKEN}),
        )
        .unwrap();
        assert_eq!(out["VersionId"], TOKEN);
        assert!(
            out["ARN"]
                .as_str()
                .unwrap()
                .starts_with("arn:aws:secretsmanager:us-east-1:123456789012:secret:a-")
        );
        let err = call(&mut s, "CreateSecret", json!({"Name": "a"})).unwrap_err();
        assert_eq!(err.code, "ResourceExistsException");
        let err = call(
            &mut s,
            "PutSecretValue",
            json!({"SecretId": "a", "SecretString": "2"}),
        )
        .unwrap_err();
        assert_eq!(err.code, "InvalidRequestException");
        let err = call(
            &mut s,
            "PutSecretValue",
            json!({"SecretId": "a", "SecretString": "2", "ClientRequestToken": "short"}),
        )
        .unwrap_err();
        assert_eq!(err.code, VALIDATION);
    }

    #[test]
    fn malformed_input_is_a_serialization_error() {
        let mut s = SecretsState::default();
        let mut ctx = Ctx::new(&Config::default(), None);
        let err = handle(&mut s, &mut ctx, "CreateSecret", b"{not json").unwrap_err();
        assert_eq!((err.status, err.code), (400, "SerializationException"));
        let err = call(&mut s, "CreateSecret", json!({"Name": 5})).unwrap_err();
        assert_eq!(err.code, "SerializationException");
        let err = call(&mut s, "CreateSecret", json!({"Name": "bad name!"})).unwrap_err();
        assert_eq!(err.code, "InvalidParameterException");
    }

    #[test]
    fn delete_schedules_or_forces() {
        let mut s = SecretsState::default();
        call(&mut s, "CreateSecret", json!({"Name": "a"})).unwrap();
        call(&mut s, "DeleteSecret", json!({"SecretId": "a"})).unwrap();
        let err = call(
            &mut s,
            "PutSecretValue",
            json!({"SecretId": "a", "SecretString": "x", "ClientRequestToken": TOKEN}),
        )
        .unwrap_err();
        assert_eq!(err.code, "InvalidRequestException");
        call(
            &mut s,
            "DeleteSecret",
            json!({"SecretId": "a", "ForceDeleteWithoutRecovery": true}),
        )
        .unwrap();
        assert!(s.secrets().is_empty());
    }
}
