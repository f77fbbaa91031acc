//! Read-only provider probes, shared by `audit` and `check --online`: does
//! the bot, the IAM credential, the stage still exist, and is it usable?
//! Each resource is asked about once however many credentials share it (an
//! IAM user's credentials, a stage's tokens), at most `concurrency` at a time,
//! through the rate-limited gates. No probe reads a secret value.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use aws_sdk_chime::operation::get_bot::GetBotError;
use aws_sdk_iam::operation::list_service_specific_credentials::ListServiceSpecificCredentialsError;
use aws_sdk_iam::types::StatusType;
use aws_sdk_ivsrealtime::operation::get_stage::GetStageError;
use chrono::{DateTime, Utc};
use tokio::task::JoinSet;

use crate::aws::{Aws, CallError, RetryPolicy};
use crate::policy::Target;
use crate::token::Token;

/// AWS ended support for the Amazon Chime service on this day.
const CHIME_END_OF_SUPPORT: &str = "2026-02-20";

#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("chime GetBot for bot {bot_id} in account {account_id} failed: {source}")]
    GetBot {
        account_id: String,
        bot_id: String,
        #[source]
        source: CallError<GetBotError>,
    },
    #[error(
        "the Amazon Chime endpoint did not answer GetBot for bot {bot_id}: Amazon Chime reached end of support on {CHIME_END_OF_SUPPORT} and its API may be gone for good ({source})"
    )]
    ChimeGone {
        bot_id: String,
        #[source]
        source: CallError<GetBotError>,
    },
    #[error("iam ListServiceSpecificCredentials {owner} failed: {source}")]
    ListCredentials {
        owner: String,
        #[source]
        source: CallError<ListServiceSpecificCredentialsError>,
    },
    #[error("ivs GetStage for {stage_arn} failed: {source}")]
    GetStage {
        stage_arn: String,
        #[source]
        source: CallError<GetStageError>,
    },
}

/// A provider-side resource; several credentials may share one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Resource {
    ChimeBot {
        account_id: String,
        bot_id: String,
    },
    /// An IAM user's service-specific credentials (`None`: the caller's).
    IamUser {
        user_name: Option<String>,
    },
    IvsStage {
        arn: String,
        region: String,
    },
}

impl Resource {
    pub fn of(target: &Target) -> Resource {
        match target {
            Target::ChimeBot(bot) => Resource::ChimeBot {
                account_id: bot.account_id.clone(),
                bot_id: bot.bot_id.clone(),
            },
            Target::IamServiceCredential(iam) => Resource::IamUser {
                user_name: iam.user_name.clone(),
            },
            Target::IvsParticipantToken(token) => Resource::IvsStage {
                arn: token.stage_arn.as_str().to_owned(),
                region: token.stage_arn.region().to_owned(),
            },
        }
    }
}

/// What a provider answered about a resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    Bot {
        disabled: bool,
        /// The bot's current token (compared in constant time, never shown).
        token: Option<Token>,
    },
    IamCredentials(Vec<IamCredentialState>),
    Stage,
    /// The bot, user or stage does not exist.
    NotFound,
}

/// One service-specific credential's metadata (never its password).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IamCredentialState {
    pub id: String,
    pub service_name: String,
    pub active: bool,
    /// IAM reports it `Expired` (an API key past its expiration date).
    pub expired: bool,
    pub expires_at: Option<DateTime<Utc>>,
}

/// The answers, by resource.
pub type Answers = HashMap<Resource, Result<Found, Arc<ProbeError>>>;

/// Asks about every distinct resource once, `concurrency` at a time.
pub async fn look_all(
    aws: &Arc<Aws>,
    resources: impl IntoIterator<Item = Resource>,
    concurrency: usize,
) -> Answers {
    let unique: HashSet<Resource> = resources.into_iter().collect();
    let mut waiting = unique.into_iter();
    let mut tasks = JoinSet::new();
    let mut answers = HashMap::new();
    loop {
        // Spawned only when a place is free: 100,000 waiting probe tasks
        // would cost memory for nothing.
        while tasks.len() < concurrency.max(1) {
            let Some(resource) = waiting.next() else {
                break;
            };
            let aws = Arc::clone(aws);
            tasks.spawn(async move {
                let found = look(&aws, &resource).await.map_err(Arc::new);
                (resource, found)
            });
        }
        match tasks.join_next().await {
            None => break,
            Some(Ok((resource, found))) => {
                answers.insert(resource, found);
            }
            Some(Err(err)) => tracing::error!(error = %err, "a provider probe task failed"),
        }
    }
    answers
}

/// Asks the provider about one resource, read-only.
pub async fn look(aws: &Aws, resource: &Resource) -> Result<Found, ProbeError> {
    match resource {
        Resource::ChimeBot { account_id, bot_id } => get_bot(aws, account_id, bot_id).await,
        Resource::IamUser { user_name } => list_credentials(aws, user_name.as_deref()).await,
        Resource::IvsStage { arn, region } => get_stage(aws, arn, region).await,
    }
}

async fn get_bot(aws: &Aws, account_id: &str, bot_id: &str) -> Result<Found, ProbeError> {
    match crate::providers::get_chime_bot(aws, account_id, bot_id).await {
        Ok(out) => {
            let Some(mut bot) = out.bot else {
                return Ok(Found::NotFound);
            };
            // GetBot answers with the token: held as a secret, only compared.
            Ok(Found::Bot {
                disabled: bot.disabled.unwrap_or(false),
                token: bot.security_token.take().map(Token::new),
            })
        }
        Err(err)
            if err
                .service_error()
                .is_some_and(GetBotError::is_not_found_exception) =>
        {
            Ok(Found::NotFound)
        }
        Err(source) => {
            let status = source.source.raw_response().map(|r| r.status().as_u16());
            if source.unreachable || matches!(status, Some(404 | 410)) {
                Err(ProbeError::ChimeGone {
                    bot_id: bot_id.to_owned(),
                    source,
                })
            } else {
                Err(ProbeError::GetBot {
                    account_id: account_id.to_owned(),
                    bot_id: bot_id.to_owned(),
                    source,
                })
            }
        }
    }
}

async fn list_credentials(aws: &Aws, user_name: Option<&str>) -> Result<Found, ProbeError> {
    match crate::providers::list_iam_credentials(aws, user_name).await {
        Ok(listed) => Ok(Found::IamCredentials(
            listed
                .into_iter()
                .map(|c| IamCredentialState {
                    active: c.status == StatusType::Active,
                    expired: c.status == StatusType::Expired,
                    expires_at: c
                        .expiration_date
                        .and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos())),
                    id: c.service_specific_credential_id,
                    service_name: c.service_name,
                })
                .collect(),
        )),
        Err(err)
            if err
                .service_error()
                .is_some_and(ListServiceSpecificCredentialsError::is_no_such_entity_exception) =>
        {
            Ok(Found::NotFound)
        }
        Err(source) => Err(ProbeError::ListCredentials {
            owner: owner(user_name),
            source,
        }),
    }
}

async fn get_stage(aws: &Aws, arn: &str, region: &str) -> Result<Found, ProbeError> {
    let client = aws.ivs(region);
    let answer = aws
        .gates
        .ivs_realtime
        .call("GetStage", RetryPolicy::PROVIDER, || {
            client.get_stage().arn(arn).send()
        })
        .await;
    match answer {
        Ok(out) if out.stage.is_some() => Ok(Found::Stage),
        Ok(_) => Ok(Found::NotFound),
        Err(err)
            if err
                .service_error()
                .is_some_and(GetStageError::is_resource_not_found_exception) =>
        {
            Ok(Found::NotFound)
        }
        Err(source) => Err(ProbeError::GetStage {
            stage_arn: arn.to_owned(),
            source,
        }),
    }
}

/// `of user NAME` or `of the calling user`, for messages.
pub fn owner(user_name: Option<&str>) -> String {
    match user_name {
        Some(user) => format!("of user {user}"),
        None => "of the calling user".to_owned(),
    }
}
