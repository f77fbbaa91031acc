//! Amazon Chime bots: GetBot and RegenerateSecurityToken over restJson1.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::context::{Ctx, iso8601};
use crate::error::ApiError;
use crate::random;

/// A Chime bot and its current security token: the state is the truth
/// controls report, so it is kept in that public type.
pub(crate) type Bot = crate::truth::ChimeBotTruth;

/// Every bot, keyed by (account id, bot id).
#[derive(Debug, Clone, Default)]
pub(crate) struct ChimeState {
    bots: BTreeMap<(String, String), Bot>,
}

/// True for Chime's id shape: five hyphen-separated groups of 8-4-4-4-12 letters or digits.
pub(crate) fn valid_id(id: &str) -> bool {
    let groups: Vec<&str> = id.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_alphanumeric()))
}

fn check_id(kind: &str, id: &str) -> Result<(), ApiError> {
    if valid_id(id) {
        Ok(())
    } else {
        Err(ApiError::new(
            400,
            "BadRequestException",
            format!("The {kind} id {id} is not a valid id."),
        ))
    }
}

impl ChimeState {
    /// Adds a bot (seeding); a missing bot id or display name is generated.
    pub(crate) fn add_bot(
        &mut self,
        account_id: &str,
        bot_id: Option<&str>,
        display_name: Option<&str>,
        security_token: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Bot, ApiError> {
        check_id("account", account_id)?;
        let bot_id = bot_id.map(str::to_string).unwrap_or_else(random::uuid);
        check_id("bot", &bot_id)?;
        let key = (account_id.to_string(), bot_id.clone());
        if self.bots.contains_key(&key) {
            return Err(ApiError::new(
                409,
                "ConflictException",
                format!("The bot {bot_id} already exists in account {account_id}."),
            ));
        }
        let display_name = display_name
            .map(str::to_string)
            .unwrap_or_else(|| format!("bot-{}", &bot_id[..8]));
        let bot = Bot {
            account_id: account_id.to_string(),
            bot_email: format!(
                "{}-{}@{}.bot.chime.aws",
                display_name.to_lowercase(),
                &bot_id[..8],
                &account_id[..8]
            ),
            user_id: random::uuid(),
            display_name,
            security_token: security_token
                .map(str::to_string)
                .unwrap_or_else(random::bot_token),
            disabled: false,
            created: now,
            updated: now,
            bot_id,
            // Filled in by the truth and the seed report, which know the account.
            aws_account_id: String::new(),
        };
        self.bots.insert(key, bot.clone());
        Ok(bot)
    }

    pub(crate) fn bots(&self) -> impl Iterator<Item = &Bot> {
        self.bots.values()
    }

    fn find_mut(&mut self, account_id: &str, bot_id: &str) -> Result<&mut Bot, ApiError> {
        check_id("account", account_id)?;
        check_id("bot", bot_id)?;
        if !self.bots.keys().any(|(a, _)| a == account_id) {
            return Err(ApiError::new(
                404,
                "NotFoundException",
                format!("The requested account {account_id} was not found."),
            ));
        }
        self.bots
            .get_mut(&(account_id.to_string(), bot_id.to_string()))
            .ok_or_else(|| {
                ApiError::new(
                    404,
                    "NotFoundException",
                    format!("The requested bot {bot_id} was not found in account {account_id}."),
                )
            })
    }

    /// `GetBot`.
    pub(crate) fn get_bot(&mut self, account_id: &str, bot_id: &str) -> Result<Value, ApiError> {
        let bot = self.find_mut(account_id, bot_id)?;
        Ok(json!({ "Bot": bot_json(bot) }))
    }

    /// `RegenerateSecurityToken`: the old token dies at once.
    pub(crate) fn regenerate(
        &mut self,
        ctx: &mut Ctx,
        account_id: &str,
        bot_id: &str,
    ) -> Result<Value, ApiError> {
        let bot = self.find_mut(account_id, bot_id)?;
        bot.security_token = random::bot_token();
        bot.updated = ctx.now;
        ctx.mutated = true;
        Ok(json!({ "Bot": bot_json(bot) }))
    }
}

fn bot_json(bot: &Bot) -> Value {
    json!({
        "BotId": bot.bot_id,
        "UserId": bot.user_id,
        "DisplayName": bot.display_name,
        "BotType": "ChatBot",
        "Disabled": bot.disabled,
        "CreatedTimestamp": iso8601(bot.created),
        "UpdatedTimestamp": iso8601(bot.updated),
        "BotEmail": bot.bot_email,
        "SecurityToken": bot.security_token,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::Config;

    const ACCOUNT: &str = "12a3456b-7c89-012d-3456-78901e23fg45";

    #[test]
    fn regenerate_replaces_the_token() {
        let mut s = ChimeState::default();
        let bot = s
            .add_bot(ACCOUNT, None, Some("Support"), None, Utc::now())
            .unwrap();
        let mut ctx = Ctx::new(&Config::default(), None);
        let out = s.regenerate(&mut ctx, ACCOUNT, &bot.bot_id).unwrap();
        assert_ne!(out["Bot"]["SecurityToken"], bot.security_token.as_str());
        assert_eq!(out["Bot"]["BotType"], "ChatBot");
        assert!(ctx.mutated);
    }

    #[test]
    fn malformed_and_unknown_ids() {
        let mut s = ChimeState::default();
        assert_eq!(s.get_bot("nope", ACCOUNT).unwrap_err().status, 400);
        let err = s
            .get_bot(ACCOUNT, "123abcd4-5ef6-789g-0h12-34j56789012k")
            .unwrap_err();
        assert_eq!((err.status, err.code), (404, "NotFoundException"));
    }
}
