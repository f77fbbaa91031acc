//! `iam_service_credential`, strategy `reset`: ResetServiceSpecificCredential.
//! The old password dies at once; the credential id stays.

use aws_sdk_iam::operation::list_service_specific_credentials::ListServiceSpecificCredentialsError;
use aws_sdk_iam::operation::reset_service_specific_credential::ResetServiceSpecificCredentialError;
use aws_sdk_iam::types::{ServiceSpecificCredential, ServiceSpecificCredentialMetadata};
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};

use crate::aws::{Aws, CallError, RetryPolicy};
use crate::policy::IamServiceCredential;
use crate::record::{IamServiceCredentialRecord, SecretRecord};
use crate::secret;

#[derive(Debug, thiserror::Error)]
pub enum IamError {
    #[error(
        "iam service-specific credential {credential_id} {owner} does not exist (NoSuchEntity): check user_name and credential_id"
    )]
    NoSuchCredential { credential_id: String, owner: Owner },
    #[error("iam ResetServiceSpecificCredential for {credential_id} {owner} failed: {source}")]
    Reset {
        credential_id: String,
        owner: Owner,
        #[source]
        source: CallError<ResetServiceSpecificCredentialError>,
    },
    #[error("iam ResetServiceSpecificCredential for {credential_id} answered {problem}")]
    BadAnswer {
        credential_id: String,
        problem: String,
    },
}

/// Whose credential it is, for messages: a named user or the caller.
#[derive(Debug, Clone)]
pub struct Owner(Option<String>);

impl std::fmt::Display for Owner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Some(user) => write!(f, "of user {user}"),
            None => f.write_str("of the calling user"),
        }
    }
}

/// Resets the credential's password.
pub async fn reset(
    aws: &Aws,
    name: &str,
    credential: &IamServiceCredential,
) -> Result<SecretRecord, IamError> {
    let owner = Owner(credential.user_name.clone());
    let answer = aws
        .gates
        .iam
        .call(
            "ResetServiceSpecificCredential",
            RetryPolicy::PROVIDER,
            || {
                aws.iam
                    .reset_service_specific_credential()
                    .set_user_name(credential.user_name.clone())
                    .service_specific_credential_id(&credential.credential_id)
                    .send()
            },
        )
        .await
        .map_err(|source| {
            if source
                .service_error()
                .is_some_and(ResetServiceSpecificCredentialError::is_no_such_entity_exception)
            {
                IamError::NoSuchCredential {
                    credential_id: credential.credential_id.clone(),
                    owner: owner.clone(),
                }
            } else {
                IamError::Reset {
                    credential_id: credential.credential_id.clone(),
                    owner: owner.clone(),
                    source,
                }
            }
        })?;
    let rotated_at = Utc::now();
    let bad = |problem: &str| IamError::BadAnswer {
        credential_id: credential.credential_id.clone(),
        problem: problem.to_owned(),
    };
    let mut issued = answer
        .service_specific_credential
        .ok_or_else(|| bad("without a credential"))?;
    // Wrapped at once, so that a bad answer below drops it wiped.
    let password = secret::take(std::mem::take(&mut issued.service_password));
    if password.expose_secret().is_empty() {
        return Err(bad("with an empty password"));
    }
    if issued.service_specific_credential_id != credential.credential_id {
        return Err(bad(&format!(
            "with another credential id, {}",
            issued.service_specific_credential_id
        )));
    }
    Ok(record(name, issued, password, rotated_at))
}

/// Every service-specific credential of `user_name` (the caller when
/// `None`), all pages: metadata only, never a password.
pub async fn list_credentials(
    aws: &Aws,
    user_name: Option<&str>,
) -> Result<Vec<ServiceSpecificCredentialMetadata>, CallError<ListServiceSpecificCredentialsError>>
{
    let mut all = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page = aws
            .gates
            .iam
            .call(
                "ListServiceSpecificCredentials",
                RetryPolicy::PROVIDER,
                || {
                    aws.iam
                        .list_service_specific_credentials()
                        .set_user_name(user_name.map(str::to_owned))
                        .set_marker(marker.clone())
                        .send()
                },
            )
            .await?;
        all.extend(page.service_specific_credentials.unwrap_or_default());
        match page.marker {
            Some(next) if page.is_truncated && !next.is_empty() => marker = Some(next),
            _ => return Ok(all),
        }
    }
}

/// The record to store for a credential IAM just issued.
pub(super) fn record(
    name: &str,
    issued: ServiceSpecificCredential,
    password: SecretString,
    rotated_at: DateTime<Utc>,
) -> SecretRecord {
    SecretRecord::IamServiceCredential(IamServiceCredentialRecord {
        name: name.to_owned(),
        user_name: issued.user_name,
        service_name: issued.service_name,
        service_user_name: issued.service_user_name,
        service_password: password,
        credential_id: issued.service_specific_credential_id,
        rotated_at,
    })
}
