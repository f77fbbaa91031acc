//! `iam_service_credential`, strategy `reset`: ResetServiceSpecificCredential.
//! The old password dies at once; the credential id stays.

use aws_sdk_iam::operation::list_service_specific_credentials::ListServiceSpecificCredentialsError;
use aws_sdk_iam::operation::reset_service_specific_credential::ResetServiceSpecificCredentialError;
use aws_sdk_iam::types::{ServiceSpecificCredential, ServiceSpecificCredentialMetadata};
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};

use crate::aws::{AccountClients, CallError, RetryPolicy};
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
    aws: &AccountClients,
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
    // Wrapped at once, so that a bad answer below drops them wiped.
    let secrets = IssuedSecrets::take(&mut issued);
    if secrets.is_empty() {
        return Err(bad("with neither a password nor an API key secret"));
    }
    if issued.service_specific_credential_id != credential.credential_id {
        return Err(bad(&format!(
            "with another credential id, {}",
            issued.service_specific_credential_id
        )));
    }
    Ok(record(name, issued, secrets, rotated_at))
}

/// Every service-specific credential of `user_name` (the caller when
/// `None`), all pages: metadata only, never a password.
pub async fn list_credentials(
    aws: &AccountClients,
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

/// The secrets of IAM's answer, taken out of it (its strings wiped): a
/// password (CodeCommit, Keyspaces) or an API key's secret (Bedrock,
/// CloudWatch Logs); empty ones are none.
pub(super) struct IssuedSecrets {
    password: Option<SecretString>,
    api_secret: Option<SecretString>,
}

impl IssuedSecrets {
    pub(super) fn take(issued: &mut ServiceSpecificCredential) -> IssuedSecrets {
        let password = secret::take(std::mem::take(&mut issued.service_password));
        let api_secret = issued.service_credential_secret.take().map(secret::take);
        IssuedSecrets {
            password: Some(password).filter(|p| !p.expose_secret().is_empty()),
            api_secret: api_secret.filter(|s| !s.expose_secret().is_empty()),
        }
    }

    /// Neither a password nor a secret: an unusable answer.
    pub(super) fn is_empty(&self) -> bool {
        self.password.is_none() && self.api_secret.is_none()
    }
}

/// The record to store for a credential IAM just issued: whichever secret
/// it holds, with the API key's alias and expiry when it has them.
pub(super) fn record(
    name: &str,
    issued: ServiceSpecificCredential,
    secrets: IssuedSecrets,
    rotated_at: DateTime<Utc>,
) -> SecretRecord {
    let IssuedSecrets {
        password,
        api_secret,
    } = secrets;
    let user_name = Some(issued.service_user_name).filter(|u| !u.is_empty());
    SecretRecord::IamServiceCredential(IamServiceCredentialRecord {
        name: name.to_owned(),
        user_name: issued.user_name,
        service_name: issued.service_name,
        // The old shape keeps both fields, as consumers read them.
        service_user_name: user_name.or_else(|| password.is_some().then(String::new)),
        service_password: password,
        service_credential_alias: issued.service_credential_alias.filter(|a| !a.is_empty()),
        service_credential_secret: api_secret,
        credential_id: issued.service_specific_credential_id,
        rotated_at,
        expiration_date: issued
            .expiration_date
            .and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos())),
    })
}
