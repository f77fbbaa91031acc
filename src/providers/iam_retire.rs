//! Retiring the IAM credential an `overlap` rotation replaced, when
//! `retire_grace` keeps it around: set it Inactive, later look at its status
//! (an operator may have re-activated it), then delete it.

use aws_sdk_iam::operation::update_service_specific_credential::UpdateServiceSpecificCredentialError;
use aws_sdk_iam::types::StatusType;

use super::iam_overlap::{self, OverlapError};
use crate::aws::{AccountClients, CallError, RetryPolicy};

#[derive(Debug, thiserror::Error)]
pub enum RetireError {
    #[error(
        "iam UpdateServiceSpecificCredential {credential_id} of {user} to Inactive failed: {source}"
    )]
    Deactivate {
        user: String,
        credential_id: String,
        #[source]
        source: CallError<UpdateServiceSpecificCredentialError>,
    },
    #[error(transparent)]
    Overlap(#[from] OverlapError),
}

/// What IAM says about a credential being retired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    Active,
    Inactive,
    /// No longer among the user's credentials.
    Gone,
}

/// Sets a credential of `user` Inactive.
pub async fn deactivate(
    aws: &AccountClients,
    user: &str,
    credential_id: &str,
) -> Result<(), RetireError> {
    aws.gates
        .iam
        .call(
            "UpdateServiceSpecificCredential",
            RetryPolicy::PROVIDER,
            || {
                aws.iam
                    .update_service_specific_credential()
                    .user_name(user)
                    .service_specific_credential_id(credential_id)
                    .status(StatusType::Inactive)
                    .send()
            },
        )
        .await
        .map(|_| ())
        .map_err(|source| RetireError::Deactivate {
            user: user.to_owned(),
            credential_id: credential_id.to_owned(),
            source,
        })
}

/// The status of a credential of `user`.
pub async fn standing(
    aws: &AccountClients,
    user: &str,
    credential_id: &str,
) -> Result<Standing, RetireError> {
    let listed = iam_overlap::list(aws, Some(user), user).await?;
    Ok(
        match listed
            .iter()
            .find(|c| c.service_specific_credential_id == credential_id)
        {
            None => Standing::Gone,
            Some(c) if c.status == StatusType::Inactive => Standing::Inactive,
            Some(_) => Standing::Active,
        },
    )
}
