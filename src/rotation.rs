//! One rotation of one credential: check the secret can be written, have the
//! provider issue a new secret, store it under a fixed request token.

use chrono::{DateTime, Utc};
use tracing::{Instrument, error, info, info_span};
use uuid::Uuid;

use crate::aws::Aws;
use crate::policy::Credential;
use crate::providers::{self, ProviderError};
use crate::store::{self, StoreError};

/// A successful rotation.
#[derive(Debug, Clone, PartialEq)]
pub struct Rotated {
    pub secret: String,
    pub version_id: String,
    /// The secret did not exist before this rotation.
    pub created: bool,
    pub rotated_at: DateTime<Utc>,
    /// When the new secret stops working by itself (IVS).
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, thiserror::Error)]
pub enum RotationError {
    /// Nothing was rotated: the secret cannot be written, so the provider was
    /// not asked (its old secret still works).
    #[error("not rotated, secret {secret} cannot be written: {source}")]
    SecretUnusable {
        secret: String,
        #[source]
        source: StoreError,
    },
    /// The provider did not issue a new secret; the old one is untouched.
    #[error(transparent)]
    Provider(#[from] ProviderError),
    /// The provider issued a new secret but it could not be stored: the
    /// rotation is in doubt and must be done again.
    #[error(
        "new secret NOT stored, rotation in doubt (it will be done again): the provider issued it but writing secret {secret} failed: {source}"
    )]
    InDoubt {
        secret: String,
        #[source]
        source: StoreError,
    },
}

impl RotationError {
    /// True when the provider may have killed the old secret without the new
    /// one reaching Secrets Manager.
    pub fn is_in_doubt(&self) -> bool {
        matches!(self, RotationError::InDoubt { .. })
    }
}

/// Rotates `credential` now.
pub async fn rotate(aws: &Aws, credential: &Credential) -> Result<Rotated, RotationError> {
    let rotation_id = Uuid::new_v4();
    let span = info_span!(
        "rotation",
        credential = %credential.name,
        kind = %credential.kind(),
        rotation = %rotation_id,
    );
    let started = std::time::Instant::now();
    let result = rotate_as(aws, credential, rotation_id)
        .instrument(span)
        .await;
    let outcome = match &result {
        Ok(_) => "success",
        Err(err) if err.is_in_doubt() => "in_doubt",
        Err(_) => "failure",
    };
    crate::metrics::registry().rotation_finished(
        credential.kind().as_str(),
        outcome,
        started.elapsed(),
    );
    result
}

async fn rotate_as(
    aws: &Aws,
    credential: &Credential,
    rotation_id: Uuid,
) -> Result<Rotated, RotationError> {
    let secret = credential.secret_name.clone();
    let state =
        store::probe(aws, &secret)
            .await
            .map_err(|source| RotationError::SecretUnusable {
                secret: secret.clone(),
                source,
            })?;
    let record = providers::issue(aws, credential).await?;
    info!(secret = %secret, "provider issued a new secret, storing it");
    let value = record.to_secret_json();
    // The request token is fixed for this rotation: retries of the write are
    // idempotent and never add a second version.
    let request_token = rotation_id.to_string();
    match store::write(aws, credential, &value, &request_token, state).await {
        Ok(stored) => {
            info!(
                secret = %secret,
                version = %stored.version_id,
                created = stored.created,
                "rotation finished"
            );
            Ok(Rotated {
                secret,
                version_id: stored.version_id,
                created: stored.created,
                rotated_at: record.rotated_at(),
                expires_at: record.expires_at(),
            })
        }
        Err(source) => {
            error!(secret = %secret, error = %source, "new secret not stored: rotation in doubt");
            Err(RotationError::InDoubt { secret, source })
        }
    }
}
