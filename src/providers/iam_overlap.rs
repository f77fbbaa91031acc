//! `iam_service_credential`, strategy `overlap` (zero downtime): create a
//! second credential for the same user and service, store it, then delete the
//! old one. Never deletes a credential it cannot account for.

use aws_sdk_iam::operation::create_service_specific_credential::CreateServiceSpecificCredentialError;
use aws_sdk_iam::operation::delete_service_specific_credential::DeleteServiceSpecificCredentialError;
use aws_sdk_iam::operation::list_service_specific_credentials::ListServiceSpecificCredentialsError;
use aws_sdk_iam::types::ServiceSpecificCredentialMetadata;
use chrono::{DateTime, TimeDelta, Utc};
use tracing::warn;

use super::Retire;
use crate::aws::{AccountClients, CallError, RetryPolicy};
use crate::policy::IamServiceCredential;
use crate::record::SecretRecord;

#[derive(Debug, thiserror::Error)]
pub enum OverlapError {
    #[error("iam ListServiceSpecificCredentials for {user} failed: {source}")]
    List {
        user: String,
        #[source]
        source: CallError<ListServiceSpecificCredentialsError>,
    },
    #[error(
        "iam service-specific credential {credential_id} is not among {user}'s credentials: check credential_id (or the stored secret's credential_id)"
    )]
    CurrentMissing { user: String, credential_id: String },
    #[error(
        "user {user} already holds two {service} credentials ({first} and {second}); overlap rotation needs a free slot and deletes nothing it did not create: delete the one not in use, then rotate again"
    )]
    NoFreeSlot {
        user: String,
        service: String,
        first: String,
        second: String,
    },
    #[error("iam CreateServiceSpecificCredential for {user} ({service}) failed: {source}")]
    Create {
        user: String,
        service: String,
        #[source]
        source: CallError<CreateServiceSpecificCredentialError>,
    },
    #[error("iam CreateServiceSpecificCredential for {user} answered {problem}")]
    BadAnswer { user: String, problem: String },
    #[error("iam DeleteServiceSpecificCredential {credential_id} of {user} failed: {source}")]
    Delete {
        user: String,
        credential_id: String,
        #[source]
        source: CallError<DeleteServiceSpecificCredentialError>,
    },
}

/// How long after an interrupted rotation started its credential may have
/// been created (its provider retries end well before this).
const ORPHAN_WINDOW: TimeDelta = TimeDelta::minutes(5);
/// Clock skew allowed between this host and IAM.
const CLOCK_SKEW: TimeDelta = TimeDelta::minutes(1);

/// What an interrupted rotation may have left: a credential whose password
/// was never stored, so nobody can be using it.
#[derive(Debug, Default, Clone, Copy)]
pub struct Orphans<'a> {
    /// Its id, when the journal got to record it.
    pub id: Option<&'a str>,
    /// When that rotation started.
    pub created_around: Option<DateTime<Utc>>,
}

impl Orphans<'_> {
    fn claims(&self, credential: &ServiceSpecificCredentialMetadata) -> bool {
        let id = credential.service_specific_credential_id.as_str();
        if self.id == Some(id) {
            return true;
        }
        let Some(started) = self.created_around else {
            return false;
        };
        let created = DateTime::<Utc>::from_timestamp(credential.create_date.secs(), 0);
        created.is_some_and(|c| c >= started - CLOCK_SKEW && c <= started + ORPHAN_WINDOW)
    }
}

/// Creates the next credential. `current_id` is the credential in use (the
/// stored secret's, or the policy's for the first rotation). A second
/// credential that an interrupted rotation created is deleted first; any
/// other second credential stops the rotation.
pub async fn create_next(
    aws: &AccountClients,
    name: &str,
    credential: &IamServiceCredential,
    current_id: &str,
    orphans: Orphans<'_>,
) -> Result<(SecretRecord, Retire), OverlapError> {
    let who = credential
        .user_name
        .clone()
        .unwrap_or_else(|| "the calling user".into());
    let listed = list(aws, credential.user_name.as_deref(), &who).await?;
    let current = listed
        .iter()
        .find(|c| c.service_specific_credential_id == current_id)
        .ok_or_else(|| OverlapError::CurrentMissing {
            user: who.clone(),
            credential_id: current_id.to_owned(),
        })?;
    let user = current.user_name.clone();
    let service = current.service_name.clone();
    let mut others = Vec::new();
    for other in listed
        .iter()
        .filter(|c| c.service_name == service && c.service_specific_credential_id != current_id)
    {
        let id = other.service_specific_credential_id.as_str();
        if orphans.claims(other) {
            warn!(
                credential_id = id,
                "deleting the credential an interrupted rotation created but never stored"
            );
            delete(aws, &user, id).await?;
        } else {
            others.push(id);
        }
    }
    if let Some(second) = others.first() {
        return Err(OverlapError::NoFreeSlot {
            user,
            service,
            first: current_id.to_owned(),
            second: (*second).to_owned(),
        });
    }
    let started = Utc::now();
    let created = match create(aws, &user, &service, credential.credential_age_days).await {
        // An earlier try of this very call may have created a credential
        // whose answer was lost: that one is ours and unused, so delete it
        // and try once more.
        Err(OverlapError::Create { source, .. })
            if source.attempts > 1
                && source.service_error().is_some_and(
                    CreateServiceSpecificCredentialError::is_limit_exceeded_exception,
                ) =>
        {
            let lost = Orphans {
                id: None,
                created_around: Some(started),
            };
            for other in list(aws, Some(&user), &who).await? {
                let id = other.service_specific_credential_id.as_str();
                if other.service_name == service && id != current_id && lost.claims(&other) {
                    warn!(
                        credential_id = id,
                        "deleting the credential whose creation answer was lost"
                    );
                    delete(aws, &user, id).await?;
                }
            }
            create(aws, &user, &service, credential.credential_age_days).await?
        }
        other => other?,
    };
    let rotated_at = Utc::now();
    let mut issued =
        created
            .service_specific_credential
            .ok_or_else(|| OverlapError::BadAnswer {
                user: user.clone(),
                problem: "without a credential".into(),
            })?;
    let secrets = super::iam::IssuedSecrets::take(&mut issued);
    if secrets.is_empty() {
        return Err(OverlapError::BadAnswer {
            user,
            problem: "with neither a password nor an API key secret".into(),
        });
    }
    let record = super::iam::record(name, issued, secrets, rotated_at);
    let retire = Retire::IamCredential {
        user_name: user,
        credential_id: current_id.to_owned(),
    };
    Ok((record, retire))
}

/// CreateServiceSpecificCredential; `age_days` makes an API key that
/// expires (`credential_age_days`).
async fn create(
    aws: &AccountClients,
    user: &str,
    service: &str,
    age_days: Option<u32>,
) -> Result<aws_sdk_iam::operation::create_service_specific_credential::CreateServiceSpecificCredentialOutput, OverlapError>{
    aws.gates
        .iam
        .call(
            "CreateServiceSpecificCredential",
            RetryPolicy::PROVIDER,
            || {
                aws.iam
                    .create_service_specific_credential()
                    .user_name(user)
                    .service_name(service)
                    .set_credential_age_days(age_days.and_then(|d| i32::try_from(d).ok()))
                    .send()
            },
        )
        .await
        .map_err(|source| OverlapError::Create {
            user: user.to_owned(),
            service: service.to_owned(),
            source,
        })
}

/// Deletes a credential of `user`; one already gone counts as deleted.
pub async fn delete(
    aws: &AccountClients,
    user: &str,
    credential_id: &str,
) -> Result<(), OverlapError> {
    let deleted = aws
        .gates
        .iam
        .call(
            "DeleteServiceSpecificCredential",
            RetryPolicy::PROVIDER,
            || {
                aws.iam
                    .delete_service_specific_credential()
                    .user_name(user)
                    .service_specific_credential_id(credential_id)
                    .send()
            },
        )
        .await;
    match deleted {
        Ok(_) => Ok(()),
        Err(err)
            if err
                .service_error()
                .is_some_and(DeleteServiceSpecificCredentialError::is_no_such_entity_exception) =>
        {
            Ok(())
        }
        Err(source) => Err(OverlapError::Delete {
            user: user.to_owned(),
            credential_id: credential_id.to_owned(),
            source,
        }),
    }
}

pub(super) async fn list(
    aws: &AccountClients,
    user_name: Option<&str>,
    who: &str,
) -> Result<Vec<ServiceSpecificCredentialMetadata>, OverlapError> {
    super::iam::list_credentials(aws, user_name)
        .await
        .map_err(|source| OverlapError::List {
            user: who.to_owned(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use aws_sdk_iam::types::StatusType;
    use aws_smithy_types::DateTime as SmithyTime;

    use super::*;

    fn credential(id: &str, created: &str) -> ServiceSpecificCredentialMetadata {
        let created: DateTime<Utc> = created.parse().unwrap();
        ServiceSpecificCredentialMetadata::builder()
            .user_name("sofia")
            .status(StatusType::Active)
            .service_user_name("sofia-at-1")
            .create_date(SmithyTime::from_secs(created.timestamp()))
            .service_specific_credential_id(id)
            .service_name("codecommit.amazonaws.com")
            .build()
            .unwrap()
    }

    #[test]
    fn an_orphan_is_the_journaled_id_or_one_created_right_after_the_interrupted_start() {
        let started: DateTime<Utc> = "2026-11-23T10:00:00Z".parse().unwrap();
        let by_id = Orphans {
            id: Some("ACCANEW"),
            created_around: None,
        };
        assert!(by_id.claims(&credential("ACCANEW", "2020-01-01T00:00:00Z")));
        assert!(!by_id.claims(&credential("ACCAOTHER", "2026-11-23T10:00:05Z")));

        let by_time = Orphans {
            id: None,
            created_around: Some(started),
        };
        assert!(by_time.claims(&credential("ACCAX", "2026-11-23T10:00:05Z")));
        assert!(
            by_time.claims(&credential("ACCAX", "2026-11-23T09:59:30Z")),
            "clock skew"
        );
        assert!(
            !by_time.claims(&credential("ACCAX", "2026-11-23T09:50:00Z")),
            "older: someone else's"
        );
        assert!(
            !by_time.claims(&credential("ACCAX", "2026-11-23T10:30:00Z")),
            "much later: someone else's"
        );
        assert!(!Orphans::default().claims(&credential("ACCAX", "2026-11-23T10:00:05Z")));
    }
}
