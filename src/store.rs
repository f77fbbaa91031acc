//! Secrets Manager: probing, writing and reading back rekeyd's secrets.
//!
//! Writes carry the rotation's `ClientRequestToken`, so a retried write
//! never makes a second version. Writes are fenced: the new version is put
//! with stage `AWSPENDING` only, then `AWSCURRENT` is moved to it from the
//! version that was current when the rotation began (a compare-and-swap, as
//! AWS's own rotation functions finish), so a writer that lost a race never
//! overwrites a newer secret.

use aws_sdk_secretsmanager::types::Tag;
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};

use crate::aws::{Aws, CallError, Gate, RetryPolicy};
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
    #[error(
        "secret {secret}: AWSCURRENT moved from {expected} to {found} while this rotation ran (another writer); nothing was overwritten, the new secret stays under AWSPENDING (version {pending})"
    )]
    Superseded {
        secret: String,
        /// The version current when the rotation began (`none`: no version).
        expected: String,
        /// The version current now (`none`: no version).
        found: String,
        /// The version this rotation wrote, under AWSPENDING.
        pending: String,
    },
}

/// The stage that marks the version consumers read.
const AWSCURRENT: &str = "AWSCURRENT";
/// The stage a new version is written with, before it is made current.
const AWSPENDING: &str = "AWSPENDING";

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

/// What a secret looked like when a rotation began: the fence its write
/// must pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Described {
    pub state: SecretState,
    /// The version holding AWSCURRENT, if any.
    pub current_version: Option<String>,
}

/// Read-only: does the secret exist (and can we see it)?
pub async fn probe(aws: &Aws, secret: &str) -> Result<SecretState, StoreError> {
    Ok(describe(aws, secret).await?.state)
}

/// Read-only: whether the secret exists, and which version is current.
pub async fn describe(aws: &Aws, secret: &str) -> Result<Described, StoreError> {
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
        Ok(out) => Ok(Described {
            state: SecretState::Exists,
            current_version: out.version_ids_to_stages.and_then(|stages| {
                stages
                    .into_iter()
                    .find(|(_, labels)| labels.iter().any(|l| l == AWSCURRENT))
                    .map(|(version, _)| version)
            }),
        }),
        Err(err)
            if err
                .service_error()
                .is_some_and(|e| e.is_resource_not_found_exception()) =>
        {
            Ok(Described {
                state: SecretState::Missing,
                current_version: None,
            })
        }
        Err(err) => Err(StoreError::call("DescribeSecret", secret, err)),
    }
}

/// Stores `value` as the credential's new AWSCURRENT version, creating the
/// secret when `began` says it was missing (or it vanished meanwhile). An
/// existing secret is fenced: the new version is put under AWSPENDING, then
/// AWSCURRENT moves to it only from `began.current_version`; when another
/// writer moved it meanwhile, nothing is overwritten
/// ([`StoreError::Superseded`]).
pub async fn write(
    aws: &Aws,
    credential: &Credential,
    value: &SecretString,
    request_token: &str,
    began: &Described,
) -> Result<StoredVersion, StoreError> {
    let secret = credential.secret_name.as_str();
    if began.state == SecretState::Missing {
        match create(aws, credential, value, request_token).await {
            // Someone created it meanwhile: fence against "no version".
            Err(StoreError::Call { code, .. }) if code == "ResourceExistsException" => {}
            other => return other,
        }
    }
    let version_id = match put_pending(aws, secret, value, request_token).await? {
        Put::Written(version_id) => version_id,
        // It vanished since the rotation began: create it.
        Put::SecretGone(_) if began.state == SecretState::Exists => {
            let missing = Described {
                state: SecretState::Missing,
                current_version: None,
            };
            return Box::pin(write(aws, credential, value, request_token, &missing)).await;
        }
        Put::SecretGone(err) => return Err(err),
    };
    promote(aws, secret, &version_id, began.current_version.as_deref()).await?;
    Ok(StoredVersion {
        version_id,
        created: false,
    })
}

/// Moves the fence: writes the current value again as a new version and
/// makes it current, so that any writer whose rotation began before this
/// (a replica paused past its lease) fails its compare-and-swap. Nothing to
/// fence when the secret or its current version does not exist. The value
/// is held as a secret and never leaves this function.
pub async fn refence(aws: &Aws, secret: &str) -> Result<(), StoreError> {
    let Some(Current {
        version_id: Some(current),
        value: Some(value),
        ..
    }) = get_current(
        &aws.secretsmanager,
        &aws.gates.secretsmanager,
        secret,
        RetryPolicy::STORE,
    )
    .await?
    else {
        return Ok(());
    };
    let token = uuid::Uuid::new_v4().to_string();
    let version = match put_pending(aws, secret, &value, &token).await? {
        Put::Written(version) => version,
        Put::SecretGone(err) => return Err(err),
    };
    match promote(aws, secret, &version, Some(&current)).await {
        // Someone moved it first: the fence has moved all the same.
        Ok(()) | Err(StoreError::Superseded { .. }) => Ok(()),
        Err(err) => Err(err),
    }
}

/// What a PutSecretValue under AWSPENDING did.
enum Put {
    /// The new version's id.
    Written(String),
    /// The secret does not exist (ResourceNotFoundException, as this error).
    SecretGone(StoreError),
}

/// PutSecretValue with stage AWSPENDING only: AWSCURRENT stays where it is.
async fn put_pending(
    aws: &Aws,
    secret: &str,
    value: &SecretString,
    request_token: &str,
) -> Result<Put, StoreError> {
    let put = aws
        .gates
        .secretsmanager
        .call("PutSecretValue", RetryPolicy::STORE, || {
            aws.secretsmanager
                .put_secret_value()
                .secret_id(secret)
                .client_request_token(request_token)
                .secret_string(value.expose_secret())
                .version_stages(AWSPENDING)
                .send()
        })
        .await;
    match put {
        Ok(out) => out
            .version_id
            .map(Put::Written)
            .ok_or_else(|| StoreError::NoVersionId {
                operation: "PutSecretValue",
                secret: secret.to_owned(),
            }),
        Err(err)
            if err
                .service_error()
                .is_some_and(|e| e.is_resource_not_found_exception()) =>
        {
            Ok(Put::SecretGone(StoreError::call(
                "PutSecretValue",
                secret,
                err,
            )))
        }
        Err(err) => Err(StoreError::call("PutSecretValue", secret, err)),
    }
}

/// Moves AWSCURRENT to `version` from `expected` (the compare-and-swap).
/// Refused because AWSCURRENT is elsewhere: fine when it is on `version`
/// already (an earlier attempt of this write got through), else
/// [`StoreError::Superseded`].
async fn promote(
    aws: &Aws,
    secret: &str,
    version: &str,
    expected: Option<&str>,
) -> Result<(), StoreError> {
    let moved = aws
        .gates
        .secretsmanager
        .call("UpdateSecretVersionStage", RetryPolicy::STORE, || {
            aws.secretsmanager
                .update_secret_version_stage()
                .secret_id(secret)
                .version_stage(AWSCURRENT)
                .move_to_version_id(version)
                .set_remove_from_version_id(expected.map(str::to_owned))
                .send()
        })
        .await;
    let refused = match moved {
        Ok(_) => return Ok(()),
        Err(err) if err.code == "InvalidParameterException" => err,
        Err(err) => return Err(StoreError::call("UpdateSecretVersionStage", secret, err)),
    };
    let now = describe(aws, secret).await?;
    if now.current_version.as_deref() == Some(version) {
        return Ok(());
    }
    tracing::debug!(secret, error = %refused.detail, "AWSCURRENT moved while the rotation ran");
    Err(StoreError::Superseded {
        secret: secret.to_owned(),
        expected: expected.unwrap_or("none").to_owned(),
        found: now.current_version.unwrap_or_else(|| "none".to_owned()),
        pending: version.to_owned(),
    })
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
    read_current_via(&aws.secretsmanager, &aws.gates.secretsmanager, secret).await
}

/// [`read_current`] with a given Secrets Manager client and its gate.
pub async fn read_current_via(
    client: &aws_sdk_secretsmanager::Client,
    gate: &Gate,
    secret: &str,
) -> Result<Option<CurrentVersion>, StoreError> {
    let Some(current) = get_current(client, gate, secret, RetryPolicy::PROVIDER).await? else {
        return Ok(None);
    };
    Ok(Some(CurrentVersion {
        version_id: current.version_id,
        created_date: current.created_date,
        record: current
            .value
            .as_ref()
            .and_then(|v| StoredRecord::parse(v.expose_secret())),
    }))
}

/// The AWSCURRENT version as read, its value held as a secret (zeroized
/// when dropped).
struct Current {
    version_id: Option<String>,
    created_date: Option<DateTime<Utc>>,
    value: Option<SecretString>,
}

/// GetSecretValue of AWSCURRENT (always by stage: moto answers a stale
/// default version after a stage move); `None` when the secret does not exist.
async fn get_current(
    client: &aws_sdk_secretsmanager::Client,
    gate: &Gate,
    secret: &str,
    policy: RetryPolicy,
) -> Result<Option<Current>, StoreError> {
    let got = gate
        .call("GetSecretValue", policy, || {
            client
                .get_secret_value()
                .secret_id(secret)
                .version_stage(AWSCURRENT)
                .send()
        })
        .await;
    match got {
        Ok(out) => {
            let value = out.secret_string.map(secret::take);
            secret::discard(out.secret_binary);
            Ok(Some(Current {
                version_id: out.version_id,
                created_date: out
                    .created_date
                    .and_then(|t| DateTime::<Utc>::from_timestamp(t.secs(), t.subsec_nanos())),
                value,
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
