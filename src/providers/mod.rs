//! The three providers: each issues a new secret exactly once and returns it
//! as the record to store. A closed set, so an enum and a `match`.

mod chime;
mod iam;
mod ivs;

pub use chime::ChimeError;
pub use iam::IamError;
pub use ivs::IvsError;

use crate::aws::Aws;
use crate::policy::{Credential, IamStrategy, Target};
use crate::record::SecretRecord;

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error(transparent)]
    Chime(#[from] ChimeError),
    #[error(transparent)]
    Iam(#[from] IamError),
    #[error(transparent)]
    Ivs(#[from] IvsError),
}

/// Asks the provider for a new secret. From the moment this returns `Ok`,
/// the secret exists only in the returned record until it is stored.
pub async fn issue(aws: &Aws, credential: &Credential) -> Result<SecretRecord, ProviderError> {
    let name = credential.name.as_str();
    Ok(match &credential.target {
        Target::ChimeBot(bot) => chime::regenerate(aws, name, bot).await?,
        Target::IamServiceCredential(iam) => iam::reset(aws, name, iam).await?,
        Target::IvsParticipantToken(token) => ivs::create_token(aws, name, token).await?,
    })
}

/// The provider call a rotation makes, for `--dry-run` and logs.
pub fn planned_call(credential: &Credential) -> String {
    match &credential.target {
        Target::ChimeBot(bot) => format!(
            "chime:RegenerateSecurityToken account_id={} bot_id={}",
            bot.account_id, bot.bot_id
        ),
        Target::IamServiceCredential(iam) => {
            let user = iam.user_name.as_deref().unwrap_or("(caller)");
            match iam.strategy {
                IamStrategy::Reset => format!(
                    "iam:ResetServiceSpecificCredential user_name={user} credential_id={}",
                    iam.credential_id
                ),
                IamStrategy::Overlap => format!(
                    "iam:CreateServiceSpecificCredential user_name={user}, then iam:DeleteServiceSpecificCredential credential_id={}",
                    iam.credential_id
                ),
            }
        }
        Target::IvsParticipantToken(token) => format!(
            "ivs-realtime:CreateParticipantToken stage_arn={} duration={}m region={}",
            token.stage_arn,
            token.duration_minutes(),
            token.stage_arn.region()
        ),
    }
}
