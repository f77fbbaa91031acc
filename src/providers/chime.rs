//! `chime_bot`: RegenerateSecurityToken. The old token dies at once.

use aws_sdk_chime::operation::get_bot::{GetBotError, GetBotOutput};
use aws_sdk_chime::operation::regenerate_security_token::RegenerateSecurityTokenError;
use chrono::Utc;

use crate::aws::{AccountClients, CallError, RetryPolicy};
use crate::policy::ChimeBot;
use crate::record::{ChimeBotRecord, SecretRecord};
use crate::secret;
use crate::token::Token;

/// AWS ended support for the Amazon Chime service on this day.
const END_OF_SUPPORT: &str = "2026-02-20";

#[derive(Debug, thiserror::Error)]
pub enum ChimeError {
    #[error(
        "chime bot {bot_id} does not exist in account {account_id} (NotFoundException): check account_id and bot_id"
    )]
    BotNotFound { account_id: String, bot_id: String },
    #[error(
        "the Amazon Chime endpoint did not answer for bot {bot_id}: Amazon Chime reached end of support on {END_OF_SUPPORT} and its API may be gone for good; remove this chime_bot credential, or set [aws.endpoints] chime if it moved ({source})"
    )]
    ServiceGone {
        bot_id: String,
        #[source]
        source: CallError<RegenerateSecurityTokenError>,
    },
    #[error(
        "chime RegenerateSecurityToken for bot {bot_id} in account {account_id} failed: {source}"
    )]
    Regenerate {
        account_id: String,
        bot_id: String,
        #[source]
        source: CallError<RegenerateSecurityTokenError>,
    },
    #[error("chime RegenerateSecurityToken for bot {bot_id} answered without {field}")]
    IncompleteAnswer { bot_id: String, field: &'static str },
}

impl ChimeError {
    pub fn is_transient(&self) -> bool {
        matches!(self, ChimeError::Regenerate { source, .. } if source.attempts > 1)
    }
}

/// Regenerates the bot's security token.
pub async fn regenerate(
    aws: &AccountClients,
    name: &str,
    bot: &ChimeBot,
) -> Result<SecretRecord, ChimeError> {
    let answer = aws
        .gates
        .chime
        .call("RegenerateSecurityToken", RetryPolicy::PROVIDER, || {
            aws.chime
                .regenerate_security_token()
                .account_id(&bot.account_id)
                .bot_id(&bot.bot_id)
                .send()
        })
        .await
        .map_err(|source| classify(bot, source))?;
    let rotated_at = Utc::now();
    let incomplete = |field| ChimeError::IncompleteAnswer {
        bot_id: bot.bot_id.clone(),
        field,
    };
    let answered = answer.bot.ok_or_else(|| incomplete("a bot"))?;
    let token = answered
        .security_token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| incomplete("a security token"))?;
    Ok(SecretRecord::ChimeBot(ChimeBotRecord {
        name: name.to_owned(),
        account_id: bot.account_id.clone(),
        bot_id: bot.bot_id.clone(),
        security_token: secret::take(token),
        bot_email: answered.bot_email,
        user_id: answered.user_id,
        rotated_at,
    }))
}

/// GetBot: the bot, its current token included (for `audit` and to prove
/// that a stored token is live).
pub async fn get_bot(
    aws: &AccountClients,
    account_id: &str,
    bot_id: &str,
) -> Result<GetBotOutput, CallError<GetBotError>> {
    aws.gates
        .chime
        .call("GetBot", RetryPolicy::PROVIDER, || {
            aws.chime
                .get_bot()
                .account_id(account_id)
                .bot_id(bot_id)
                .send()
        })
        .await
}

/// The bot's current token, to prove that a stored one is live; `None`
/// when the answer holds none.
pub async fn current_token(
    aws: &AccountClients,
    bot: &ChimeBot,
) -> Result<Option<Token>, CallError<GetBotError>> {
    let answer = get_bot(aws, &bot.account_id, &bot.bot_id).await?;
    Ok(answer
        .bot
        .and_then(|b| b.security_token)
        .filter(|t| !t.is_empty())
        .map(Token::new))
}

/// A failure that says the service itself is gone gets its own message.
fn classify(bot: &ChimeBot, source: CallError<RegenerateSecurityTokenError>) -> ChimeError {
    if source
        .service_error()
        .is_some_and(RegenerateSecurityTokenError::is_not_found_exception)
    {
        return ChimeError::BotNotFound {
            account_id: bot.account_id.clone(),
            bot_id: bot.bot_id.clone(),
        };
    }
    let status = source.source.raw_response().map(|r| r.status().as_u16());
    // A 404 that is not Chime's NotFoundException, or a 410: no Chime API here.
    if source.unreachable || matches!(status, Some(404 | 410)) {
        return ChimeError::ServiceGone {
            bot_id: bot.bot_id.clone(),
            source,
        };
    }
    ChimeError::Regenerate {
        account_id: bot.account_id.clone(),
        bot_id: bot.bot_id.clone(),
        source,
    }
}
