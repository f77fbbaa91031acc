//! What a provider's answer means for one credential: fine, drifted (gone,
//! disabled, inactive, expired) or unknown. Pure, shared by `audit` and
//! `check --online`.

use chrono::{DateTime, Utc};

use super::probe::{Answers, Found, Located, owner};
use super::status::ProviderView;
use crate::error::error_chain;
use crate::policy::{Credential, IamStrategy, Target};
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

/// IAM `overlap` retires the old credential only once `on_rotate`
/// succeeded: another credential of the stored one's service, still
/// Active, is that retirement waiting for the hook.
pub fn retirement_waiting(
    credential: &Credential,
    stored_id: Option<&str>,
    answers: &Answers,
) -> Option<String> {
    let Target::IamServiceCredential(iam) = &credential.target else {
        return None;
    };
    if iam.strategy != IamStrategy::Overlap {
        return None;
    }
    let Some(Ok(Found::IamCredentials(all))) = answers.get(&Located::of(credential)) else {
        return None;
    };
    let stored_id = stored_id?;
    let stored = all.iter().find(|c| c.id == stored_id)?;
    let old = all
        .iter()
        .find(|c| c.id != stored_id && c.active && c.service_name == stored.service_name)?;
    Some(format!(
        "retirement waiting for the on_rotate hook: the old iam service-specific credential {} {} is still Active (rekeyd retires it once on_rotate succeeds; fix the hook, then restart the daemon or run `rekeyd rotate` for it)",
        old.id,
        owner(iam.user_name.as_deref())
    ))
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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::audit::probe::IamCredentialState;

    fn target(strategy: &str) -> Credential {
        let text = format!(
            "[[iam_service_credential]]\nname = \"i\"\nuser_name = \"sofia\"\ncredential_id = \"ACCAEXAMPLE123EXAMPLE\"\nstrategy = \"{strategy}\"\nevery = \"1d\"\n"
        );
        crate::policy::parse(Path::new("p.toml"), &text)
            .unwrap()
            .credentials
            .remove(0)
    }

    fn held(credential: &Credential, creds: &[(&str, &str, bool)]) -> Answers {
        let states = creds
            .iter()
            .map(|(id, service, active)| IamCredentialState {
                id: (*id).to_owned(),
                service_name: (*service).to_owned(),
                active: *active,
                expired: false,
                expires_at: None,
            })
            .collect();
        Answers::from([(Located::of(credential), Ok(Found::IamCredentials(states)))])
    }

    #[test]
    fn an_old_credential_still_active_beside_the_stored_one_waits_for_the_hook() {
        let overlap = target("overlap");
        let cc = "codecommit.amazonaws.com";
        let both = held(&overlap, &[("ACCAOLD", cc, true), ("ACCANEW", cc, true)]);
        let waiting = retirement_waiting(&overlap, Some("ACCANEW"), &both).unwrap();
        assert!(
            waiting.starts_with("retirement waiting for the on_rotate hook")
                && waiting.contains("ACCAOLD")
                && waiting.contains("of user sofia"),
            "{waiting}"
        );
        let inactive = held(&overlap, &[("ACCAOLD", cc, false), ("ACCANEW", cc, true)]);
        assert_eq!(
            retirement_waiting(&overlap, Some("ACCANEW"), &inactive),
            None
        );
        let other_service = held(
            &overlap,
            &[
                ("ACCAOLD", "cassandra.amazonaws.com", true),
                ("ACCANEW", cc, true),
            ],
        );
        assert_eq!(
            retirement_waiting(&overlap, Some("ACCANEW"), &other_service),
            None
        );
        let reset = target("reset");
        assert_eq!(
            retirement_waiting(
                &reset,
                Some("ACCANEW"),
                &held(&reset, &[("ACCAOLD", cc, true), ("ACCANEW", cc, true)])
            ),
            None
        );
    }
}
