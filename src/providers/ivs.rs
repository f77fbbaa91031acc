//! `ivs_participant_token`: CreateParticipantToken in the stage's region.
//! Older tokens live until their own expiry.

use aws_sdk_ivsrealtime::operation::create_participant_token::CreateParticipantTokenError;
use aws_sdk_ivsrealtime::types::ParticipantTokenCapability;
use chrono::{DateTime, Utc};

use crate::aws::{AccountClients, CallError, RetryPolicy};
use crate::policy::{Capability, IvsParticipantToken};
use crate::record::{IvsParticipantTokenRecord, SecretRecord};
use crate::secret;

#[derive(Debug, thiserror::Error)]
pub enum IvsError {
    #[error("ivs stage {stage_arn} does not exist (ResourceNotFoundException): check stage_arn")]
    StageNotFound { stage_arn: String },
    #[error("ivs CreateParticipantToken on stage {stage_arn} failed: {source}")]
    Create {
        stage_arn: String,
        #[source]
        source: CallError<CreateParticipantTokenError>,
    },
    #[error("ivs CreateParticipantToken on stage {stage_arn} answered {problem}")]
    BadAnswer { stage_arn: String, problem: String },
}

/// Creates a fresh participant token.
pub async fn create_token(
    aws: &AccountClients,
    name: &str,
    token: &IvsParticipantToken,
) -> Result<SecretRecord, IvsError> {
    let stage_arn = token.stage_arn.as_str();
    let ivs = aws.ivs(token.stage_arn.region());
    let capabilities: Vec<ParticipantTokenCapability> = token
        .capabilities
        .iter()
        .map(|c| match c {
            Capability::Publish => ParticipantTokenCapability::Publish,
            Capability::Subscribe => ParticipantTokenCapability::Subscribe,
        })
        .collect();
    let attributes =
        (!token.attributes.is_empty()).then(|| token.attributes.clone().into_iter().collect());
    let answer = ivs
        .gate
        .call("CreateParticipantToken", RetryPolicy::PROVIDER, || {
            ivs.client
                .create_participant_token()
                .stage_arn(stage_arn)
                .duration(token.duration_minutes())
                .set_user_id(token.user_id.clone())
                .set_attributes(attributes.clone())
                .set_capabilities(Some(capabilities.clone()))
                .send()
        })
        .await
        .map_err(|source| {
            if source
                .service_error()
                .is_some_and(CreateParticipantTokenError::is_resource_not_found_exception)
            {
                IvsError::StageNotFound {
                    stage_arn: stage_arn.to_owned(),
                }
            } else {
                IvsError::Create {
                    stage_arn: stage_arn.to_owned(),
                    source,
                }
            }
        })?;
    let rotated_at = Utc::now();
    let bad = |problem: &str| IvsError::BadAnswer {
        stage_arn: stage_arn.to_owned(),
        problem: problem.to_owned(),
    };
    let issued = answer
        .participant_token
        .ok_or_else(|| bad("without a participant token"))?;
    // Wrapped at once, so that a bad answer below drops it wiped.
    let secret = issued
        .token
        .filter(|t| !t.is_empty())
        .map(secret::take)
        .ok_or_else(|| bad("without a token"))?;
    let participant_id = issued
        .participant_id
        .filter(|p| !p.is_empty())
        .ok_or_else(|| bad("without a participant id"))?;
    let expiration_time = issued
        .expiration_time
        .and_then(|t| DateTime::<Utc>::from_timestamp(t.secs(), t.subsec_nanos()))
        .ok_or_else(|| bad("without an expiration time"))?;
    if expiration_time <= rotated_at {
        return Err(bad(&format!(
            "with a token that already expired at {expiration_time}"
        )));
    }
    Ok(SecretRecord::IvsParticipantToken(
        IvsParticipantTokenRecord {
            name: name.to_owned(),
            stage_arn: stage_arn.to_owned(),
            participant_id,
            user_id: issued.user_id.or_else(|| token.user_id.clone()),
            token: secret,
            capabilities: issued
                .capabilities
                .map(|caps| caps.iter().map(|c| c.as_str().to_owned()).collect())
                .unwrap_or_else(|| {
                    token
                        .capabilities
                        .iter()
                        .map(|c| c.as_str().into())
                        .collect()
                }),
            attributes: issued
                .attributes
                .map(|a| a.into_iter().collect())
                .unwrap_or_else(|| token.attributes.clone()),
            expiration_time,
            rotated_at,
        },
    ))
}
