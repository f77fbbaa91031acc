//! Secrets Manager: probing, writing and reading back rekeyd's secrets.
//!
//! Writes carry the rotation's `ClientRequestToken`, so a retried write
//! never makes a second version.

use aws_sdk_secretsmanager::types::Tag;
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};

use crate::aws::{Aws, CallError, RetryPolicy};
use crate::policy::Credential;
use crate::record::StoredRecord;
use crate::secret;

/// Tag naming the credential a secret holds.
pub const TAG_CREDENTIAL: &str = "rekeyd:credential";
/// Tag naming the credential's kind.
pub const TAG_KIND: &str = "rekeyd:kind";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("secretsmanager {operation} on secret {secret} failed: {detail}")]
    Call {
        operation: &'static str,
        secret: String,
        /// The failure's code (service code, `timeout`, `unreachable`, ...).
        code: String,
        detail: String,
    },
    #[error(
        "secret {secret} is scheduled for deletion: restore it (aws secretsmanager restore-secret) or set another `secret` name"
    )]
    ScheduledForDeletion { secret: String },
    #[error("secretsmanager {operation} on secret {secret} answered without a version id")]
    NoVersionId {
        operation: &'static str,
        secret: String,
    },
}

impl StoreError {
    fn call<E: std::error::Error + 'static>(
        operation: &'static str,
        secret: &str,
        err: CallError<E>,
    ) -> Self {
        StoreError::Call {
            operation,
            secret: secret.to_owned(),
            code: err.code,
            detail: err.detail,
        }
    }
}

/// Whether the secret exists yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretState {
    Missing,
    Exists,
}

/// A version rekeyd wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredVersion {
    pub version_id: String,
    /// True when this write created the secret.
    pub created: bool,
}

/// The secret's AWSCURRENT version, read back (secret fields never parsed).
#[derive(Debug, Clone, PartialEq)]
pub struct CurrentVersion {
    pub version_id: Option<String>,
    pub created_date: Option<DateTime<Utc>>,
    /// `None` when the value is not rekeyd's JSON format.
    pub record: Option<StoredRecord>,
}

/// Read-only: does the secret exist (and can we see it)?
pub async fn probe(aws: &Aws, secret: &str) -> Result<SecretState, StoreError> {
    let described = aws
        .gates
        .secretsmanager
        .call("DescribeSecret", RetryPolicy::PROVIDER, || {
            aws.secretsmanager
                .describe_secret()
                .secret_id(secret)
                .send()
        })
        .await;
    match described {
        Ok(out) if out.deleted_date.is_some() => Err(StoreError::ScheduledForDeletion {
            secret: secret.to_owned(),
        }),
        Ok(_) => Ok(SecretState::Exists),
        Err(err)
            if err
                .service_error()
                .is_some_and(|e| e.is_resource_not_found_exception()) =>
        {
            Ok(SecretState::Missing)
        }
        Err(err) => Err(StoreError::call("DescribeSecret", secret, err)),
    }
}

/// Stores `value` as the credential's new AWSCURRENT version, creating the
/// secret when `state` says it is missing (or it vanished meanwhile).
pub async fn write(
    aws: &Aws,
    credential: &Credential,
    value: &SecretString,
    request_token: &str,
    state: SecretState,
) -> Result<StoredVersion, StoreError> {
    let secret = credential.secret_name.as_str();
    if state == SecretState::Missing {
        match create(aws, credential, value, request_token).await {
            Err(StoreError::Call { code, .. }) if code == "ResourceExistsException" => {}
            other => return other,
        }
    }
    let put = aws
        .gates
        .secretsmanager
        .call("PutSecretValue", RetryPolicy::STORE, || {
            aws.secretsmanager
                .put_secret_value()
                .secret_id(secret)
                .client_request_token(request_token)
                .secret_string(value.expose_secret())
                .send()
        })
        .await;
    match put {
        Ok(out) => Ok(StoredVersion {
            version_id: out.version_id.ok_or_else(|| StoreError::NoVersionId {
                operation: "PutSecretValue",
                secret: secret.to_owned(),
            })?,
            created: false,
        }),
        Err(err)
            if state == SecretState::Exists
                && err
                    .service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) =>
        {
            Box::pin(write(
                aws,
                credential,
                value,
                request_token,
                SecretState::Missing,
            ))
            .await
        }
        Err(err) => Err(StoreError::call("PutSecretValue", secret, err)),
    }
}

async fn create(
    aws: &Aws,
    credential: &Credential,
    value: &SecretString,
    request_token: &str,
) -> Result<StoredVersion, StoreError> {
    let secret = credential.secret_name.as_str();
    let tags = [
        (TAG_CREDENTIAL, credential.name.as_str()),
        (TAG_KIND, credential.kind().as_str()),
    ]
    .map(|(key, value)| Tag::builder().key(key).value(value).build());
    let description = format!(
        "Managed by rekeyd: {} credential {}",
        credential.kind(),
        credential.name
    );
    let out = aws
        .gates
        .secretsmanager
        .call("CreateSecret", RetryPolicy::STORE, || {
            aws.secretsmanager
                .create_secret()
                .name(secret)
                .description(&description)
                .client_request_token(request_token)
                .secret_string(value.expose_secret())
                .set_kms_key_id(credential.kms_key_id.clone())
                .set_tags(Some(tags.to_vec()))
                .send()
        })
        .await
        .map_err(|err| StoreError::call("CreateSecret", secret, err))?;
    Ok(StoredVersion {
        version_id: out.version_id.ok_or_else(|| StoreError::NoVersionId {
            operation: "CreateSecret",
            secret: secret.to_owned(),
        })?,
        created: true,
    })
}

/// Reads the AWSCURRENT version; `None` when the secret does not exist.
pub async fn read_current(aws: &Aws, secret: &str) -> Result<Option<CurrentVersion>, StoreError> {
    let got = aws
        .gates
        .secretsmanager
        .call("GetSecretValue", RetryPolicy::PROVIDER, || {
            aws.secretsmanager
                .get_secret_value()
                .secret_id(secret)
                .version_stage("AWSCURRENT")
                .send()
        })
        .await;
    match got {
        Ok(out) => {
            // Held as a secret so that it is zeroized once parsed.
            let value = out.secret_string.map(secret::take);
            secret::discard(out.secret_binary);
            Ok(Some(CurrentVersion {
                version_id: out.version_id,
                created_date: out
                    .created_date
                    .and_then(|t| DateTime::<Utc>::from_timestamp(t.secs(), t.subsec_nanos())),
                record: value
                    .as_ref()
                    .and_then(|v| StoredRecord::parse(v.expose_secret())),
            }))
        }
        Err(err)
            if err
                .service_error()
                .is_some_and(|e| e.is_resource_not_found_exception()) =>
        {
            Ok(None)
        }
        Err(err) => Err(StoreError::call("GetSecretValue", secret, err)),
    }
}
