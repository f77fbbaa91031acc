//! What a provider's answer means for one credential: fine, drifted (gone,
//! disabled, inactive, expired) or unknown. Pure, shared by `audit` and
//! `check --online`.

use chrono::{DateTime, Utc};

use super::probe::{Answers, Found, Located, owner};
use super::status::ProviderView;
use crate::error::error_chain;
use crate::policy::{Credential, Target};
use crate::record::format_time;
use crate::token::Token;

/// The resource a credential's target names, for messages.
pub fn describe(target: &Target) -> String {
    match target {
        Target::ChimeBot(bot) => format!("chime bot {} in account {}", bot.bot_id, bot.account_id),
        Target::IamServiceCredential(iam) => format!(
            "iam service-specific credential {} {}",
            iam.credential_id,
            owner(iam.user_name.as_deref())
        ),
        Target::IvsParticipantToken(token) => format!("ivs stage {}", token.stage_arn),
    }
}

/// What the stored secret holds that the provider's answer is checked against.
#[derive(Debug, Clone, Copy, Default)]
pub struct Stored<'a> {
    /// The IAM credential id to look for (the stored one when known, else
    /// the policy's).
    pub credential_id: Option<&'a str>,
    /// A Chime bot's stored token, to compare with the bot's current one.
    pub token: Option<&'a Token>,
}

/// Judges `credential`'s target from the probes' `answers` and what is `stored`.
pub fn judge(
    credential: &Credential,
    stored: Stored<'_>,
    answers: &Answers,
    now: DateTime<Utc>,
) -> ProviderView {
    let target = &credential.target;
    let credential_id = stored.credential_id;
    let found = match answers.get(&Located::of(credential)) {
        None => return ProviderView::Unreachable("the provider was not asked".to_owned()),
        Some(Err(err)) => return ProviderView::Unreachable(error_chain(err.as_ref())),
        Some(Ok(found)) => found,
    };
    match (target, found) {
        (Target::ChimeBot(bot), Found::NotFound) => ProviderView::Drift(format!(
            "chime bot {} does not exist in account {} (GetBot: NotFound): check account_id and bot_id",
            bot.bot_id, bot.account_id
        )),
        (Target::ChimeBot(bot), Found::Bot { disabled: true, .. }) => ProviderView::Drift(format!(
            "chime bot {} in account {} is disabled: its token does not work until it is enabled",
            bot.bot_id, bot.account_id
        )),
        (
            Target::ChimeBot(bot),
            Found::Bot {
                token: Some(current),
                ..
            },
        ) if stored.token.is_some_and(|token| token != current) => ProviderView::Drift(format!(
            "the stored token is no longer chime bot {}'s current one (it was regenerated outside rekeyd, or by another host after this secret was written): run `rekeyd rotate` for it",
            bot.bot_id
        )),
        (Target::IamServiceCredential(iam), Found::NotFound) => {
            ProviderView::Drift(match &iam.user_name {
                Some(user) => format!("iam user {user} does not exist: check user_name"),
                None => "the calling iam user does not exist".to_owned(),
            })
        }
        (Target::IamServiceCredential(iam), Found::IamCredentials(all)) => {
            let id = credential_id.unwrap_or(&iam.credential_id);
            let whose = owner(iam.user_name.as_deref());
            match all.iter().find(|c| c.id == id) {
                None => ProviderView::Drift(format!(
                    "iam service-specific credential {id} {whose} no longer exists: check credential_id in the policy"
                )),
                Some(c) if c.expired || c.expires_at.is_some_and(|at| at <= now) => {
                    let when = c
                        .expires_at
                        .map_or_else(String::new, |at| format!(" at {}", format_time(at)));
                    ProviderView::Expired(format!(
                        "iam service-specific credential {id} {whose} expired{when}: IAM no longer accepts the stored key; rotate with strategy = \"overlap\" (which creates a new key) or create one and set credential_id"
                    ))
                }
                Some(c) if !c.active => ProviderView::Drift(format!(
                    "iam service-specific credential {id} {whose} is Inactive: the stored password does not work; reactivate it (aws iam update-service-specific-credential --status Active) or fix the policy"
                )),
                Some(_) => ProviderView::Fine,
            }
        }
        (Target::IvsParticipantToken(token), Found::NotFound) => ProviderView::Drift(format!(
            "ivs stage {} does not exist (GetStage: ResourceNotFoundException): its tokens no longer work; check stage_arn",
            token.stage_arn
        )),
        (Target::ChimeBot(_), Found::Bot { .. })
        | (Target::IvsParticipantToken(_), Found::Stage) => ProviderView::Fine,
        (_, other) => ProviderView::Unreachable(format!(
            "unexpected provider answer for {}: {other:?}",
            describe(target)
        )),
    }
}
