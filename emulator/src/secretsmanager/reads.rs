//! Secrets Manager read operations: GetSecretValue, DescribeSecret, the two listings and BatchGetSecretValue.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::input::{VALIDATION, check_len, required};
use super::listing::{self, Filter};
use super::{AWSCURRENT, Secret, SecretValue, SecretsState, Version};
use crate::context::epoch_seconds;
use crate::error::ApiError;

fn tags_json(secret: &Secret) -> Value {
    secret
        .tags
        .iter()
        .map(|(k, v)| json!({"Key": k, "Value": v}))
        .collect()
}

fn stages_map(secret: &Secret) -> Value {
    let map: Map<String, Value> = secret
        .versions
        .iter()
        .filter(|v| !v.stages.is_empty())
        .map(|v| (v.id.clone(), json!(v.stages)))
        .collect();
    Value::Object(map)
}

/// The members DescribeSecret and ListSecrets share; `versions_key` differs between them.
fn metadata(secret: &Secret, versions_key: &str) -> Value {
    let mut out = json!({
        "ARN": secret.arn,
        "Name": secret.name,
        "RotationEnabled": false,
        "LastChangedDate": epoch_seconds(secret.last_changed),
        "CreatedDate": epoch_seconds(secret.created),
    });
    if let Some(d) = &secret.description {
        out["Description"] = json!(d);
    }
    if let Some(k) = &secret.kms_key_id {
        out["KmsKeyId"] = json!(k);
    }
    if !secret.tags.is_empty() {
        out["Tags"] = tags_json(secret);
    }
    if let Some(d) = secret.deletion_date {
        out["DeletedDate"] = json!(epoch_seconds(d));
    }
    out[versions_key] = stages_map(secret);
    out
}

/// A version's value and identity, as GetSecretValue and BatchGetSecretValue answer.
fn value_entry(secret: &Secret, version: &Version) -> Value {
    let mut out = json!({
        "ARN": secret.arn,
        "Name": secret.name,
        "VersionId": version.id,
        "VersionStages": version.stages,
        "CreatedDate": epoch_seconds(version.created),
    });
    match &version.value {
        SecretValue::String(s) => out["SecretString"] = json!(s),
        SecretValue::Binary(b) => out["SecretBinary"] = json!(STANDARD.encode(b)),
    }
    out
}

fn max_results(value: Option<i64>, max: i64, default: i64) -> Result<usize, ApiError> {
    let n = value.unwrap_or(default);
    if (1..=max).contains(&n) {
        Ok(n as usize)
    } else {
        Err(ApiError::constraint(
            400,
            VALIDATION,
            &n.to_string(),
            "maxResults",
            &format!("Member must have value between 1 and {max}"),
        ))
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct GetSecretValueInput {
    secret_id: Option<String>,
    version_id: Option<String>,
    version_stage: Option<String>,
}

pub(super) fn get_secret_value(
    state: &SecretsState,
    input: GetSecretValueInput,
) -> Result<Value, ApiError> {
    let secret_id = required("SecretId", &input.secret_id)?;
    check_len("SecretId", secret_id, 1, 2048)?;
    if let Some(id) = &input.version_id {
        check_len("VersionId", id, 32, 64)?;
    }
    if let Some(stage) = &input.version_stage {
        check_len("VersionStage", stage, 1, 256)?;
    }
    let secret = state.find(secret_id)?;
    secret.usable()?;
    let version = match (&input.version_id, &input.version_stage) {
        (Some(id), stage) => secret
            .by_id(id)
            .filter(|v| stage.as_ref().is_none_or(|s| v.stages.contains(s))),
        (None, stage) => secret.by_stage(stage.as_deref().unwrap_or(AWSCURRENT)),
    };
    let version = version.ok_or_else(|| {
        let what = match (&input.version_id, &input.version_stage) {
            (Some(id), _) => format!("VersionId: {id}"),
            (None, stage) => format!("staging label: {}", stage.as_deref().unwrap_or(AWSCURRENT)),
        };
        ApiError::new(
            400,
            "ResourceNotFoundException",
            format!("Secrets Manager can't find the specified secret value for {what}"),
        )
    })?;
    Ok(value_entry(secret, version))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct DescribeSecretInput {
    secret_id: Option<String>,
}

pub(super) fn describe_secret(
    state: &SecretsState,
    input: DescribeSecretInput,
) -> Result<Value, ApiError> {
    let secret_id = required("SecretId", &input.secret_id)?;
    check_len("SecretId", secret_id, 1, 2048)?;
    Ok(metadata(state.find(secret_id)?, "VersionIdsToStages"))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ListSecretVersionIdsInput {
    secret_id: Option<String>,
    max_results: Option<i64>,
    next_token: Option<String>,
    include_deprecated: Option<bool>,
}

pub(super) fn list_secret_version_ids(
    state: &SecretsState,
    input: ListSecretVersionIdsInput,
) -> Result<Value, ApiError> {
    let secret_id = required("SecretId", &input.secret_id)?;
    let max = max_results(input.max_results, 100, 100)?;
    let offset = listing::offset(input.next_token.as_deref())?;
    let secret = state.find(secret_id)?;
    let deprecated = input.include_deprecated.unwrap_or(false);
    let versions: Vec<Value> = secret
        .versions
        .iter()
        .filter(|v| deprecated || !v.stages.is_empty())
        .map(|v| json!({"VersionId": v.id, "VersionStages": v.stages, "CreatedDate": epoch_seconds(v.created)}))
        .collect();
    let (page, next) = listing::page(versions, offset, max);
    let mut out = json!({"ARN": secret.arn, "Name": secret.name, "Versions": page});
    if let Some(next) = next {
        out["NextToken"] = json!(next);
    }
    Ok(out)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ListSecretsInput {
    include_planned_deletion: Option<bool>,
    max_results: Option<i64>,
    next_token: Option<String>,
    filters: Option<Vec<Filter>>,
    sort_order: Option<String>,
    sort_by: Option<String>,
}

pub(super) fn list_secrets(
    state: &SecretsState,
    input: ListSecretsInput,
) -> Result<Value, ApiError> {
    let max = max_results(input.max_results, 100, 100)?;
    let filters = input.filters.unwrap_or_default();
    listing::validate(&filters)?;
    let planned = input.include_planned_deletion.unwrap_or(false);
    let keep = |s: &Secret| (planned || s.deletion_date.is_none()) && listing::matches(s, &filters);
    let descending = match input.sort_order.as_deref() {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(other) => {
            return Err(ApiError::constraint(
                400,
                VALIDATION,
                other,
                "sortOrder",
                "Member must satisfy enum value set: [asc, desc]",
            ));
        }
    };
    let (page, next) = match input.sort_by.as_deref() {
        // Creation order is storage order: page without sorting, resuming
        // where the last page ended.
        None | Some("created-date") if !descending => {
            let start = listing::resume_at(input.next_token.as_deref())?;
            listing::page_in_storage_order(state.secrets(), start, max, keep)
        }
        sort_by => {
            let offset = listing::offset(input.next_token.as_deref())?;
            let mut found: Vec<&Secret> = state.secrets().iter().filter(|s| keep(s)).collect();
            match sort_by {
                Some("name") => found.sort_by(|a, b| a.name.cmp(&b.name)),
                Some("last-changed-date") => found.sort_by_key(|s| s.last_changed),
                _ => found.sort_by_key(|s| s.created),
            }
            if descending {
                found.reverse();
            }
            listing::page(found, offset, max)
        }
    };
    let page: Vec<Value> = page
        .into_iter()
        .map(|s| metadata(s, "SecretVersionsToStages"))
        .collect();
    let mut out = json!({"SecretList": page});
    if let Some(next) = next {
        out["NextToken"] = json!(next);
    }
    Ok(out)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct BatchGetSecretValueInput {
    secret_id_list: Option<Vec<String>>,
    filters: Option<Vec<Filter>>,
    max_results: Option<i64>,
    next_token: Option<String>,
}

fn batch_error(secret_id: &str, err: &ApiError) -> Value {
    json!({"SecretId": secret_id, "ErrorCode": err.code, "Message": err.message})
}

pub(super) fn batch_get_secret_value(
    state: &SecretsState,
    input: BatchGetSecretValueInput,
) -> Result<Value, ApiError> {
    let (values, errors, next) = match (input.secret_id_list, input.filters) {
        (Some(ids), None) => {
            if input.max_results.is_some() {
                return Err(ApiError::new(
                    400,
                    "InvalidParameterException",
                    "MaxResults can be used only with Filters.",
                ));
            }
            if ids.is_empty() || ids.len() > 20 {
                return Err(ApiError::new(
                    400,
                    VALIDATION,
                    "SecretIdList must hold 1 to 20 secret ids.",
                ));
            }
            let mut values = Vec::new();
            let mut errors = Vec::new();
            for id in &ids {
                match current_value(state.find(id)) {
                    Ok(v) => values.push(v),
                    Err(e) => errors.push(batch_error(id, &e)),
                }
            }
            (values, errors, None)
        }
        (None, Some(filters)) => {
            listing::validate(&filters)?;
            let max = max_results(input.max_results, 20, 20)?;
            let start = listing::resume_at(input.next_token.as_deref())?;
            let (page, next) = listing::page_in_storage_order(state.secrets(), start, max, |s| {
                s.deletion_date.is_none() && listing::matches(s, &filters)
            });
            let mut values = Vec::new();
            let mut errors = Vec::new();
            for secret in page {
                match current_value(Ok(secret)) {
                    Ok(v) => values.push(v),
                    Err(e) => errors.push(batch_error(&secret.name, &e)),
                }
            }
            (values, errors, next)
        }
        _ => {
            return Err(ApiError::new(
                400,
                "InvalidParameterException",
                "You must include Filters or SecretIdList, but not both.",
            ));
        }
    };
    let mut out = json!({"SecretValues": values, "Errors": errors});
    if let Some(next) = next {
        out["NextToken"] = json!(next);
    }
    Ok(out)
}

fn current_value(found: Result<&Secret, ApiError>) -> Result<Value, ApiError> {
    let secret = found?;
    secret.usable()?;
    let version = secret.by_stage(AWSCURRENT).ok_or_else(|| {
        ApiError::new(
            400,
            "ResourceNotFoundException",
            "Secrets Manager can't find the specified secret value for staging label: AWSCURRENT",
        )
    })?;
    Ok(value_entry(secret, version))
}
