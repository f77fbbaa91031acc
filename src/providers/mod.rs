//! The three providers: each issues a new secret exactly once and returns it
//! as the record to store. A closed set, so an enum and a `match`.

mod chime;
mod iam;
mod iam_overlap;
mod iam_retire;
mod ivs;

pub use chime::{ChimeError, current_token as current_chime_token, get_bot as get_chime_bot};
pub use iam::{IamError, list_credentials as list_iam_credentials};
pub use iam_overlap::OverlapError;
pub use iam_retire::{RetireError, Standing};
pub use ivs::IvsError;

use crate::aws::AccountClients;
use crate::policy::{Credential, IamStrategy, Target};
use crate::record::SecretRecord;

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error(transparent)]
    Chime(#[from] ChimeError),
    #[error(transparent)]
    Iam(#[from] IamError),
    #[error(transparent)]
    Overlap(#[from] OverlapError),
    #[error(transparent)]
    Ivs(#[from] IvsError),
    #[error(transparent)]
    Retire(#[from] RetireError),
}

impl ProviderError {
    /// The provider answered, so it acted, but its answer was unusable: for
    /// Chime and IAM `reset` the old secret is dead and the new one unknown.
    pub fn killed_old_secret(&self) -> bool {
        matches!(
            self,
            ProviderError::Chime(ChimeError::IncompleteAnswer { .. })
                | ProviderError::Iam(IamError::BadAnswer { .. })
        )
    }
}

/// What a rotation must do once the new secret is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Retire {
    /// IAM `overlap`: delete the credential the new one replaces.
    IamCredential {
        user_name: String,
        credential_id: String,
    },
}

/// A new secret, and what to retire once it is stored.
#[derive(Debug)]
pub struct Issued {
    pub record: SecretRecord,
    pub retire: Option<Retire>,
}

/// What the provider needs to know about the credential's current state.
#[derive(Debug, Default, Clone)]
pub struct Current<'a> {
    /// The IAM credential id the stored secret holds (rekeyd's own version).
    pub stored_credential_id: Option<&'a str>,
    /// A credential an interrupted rotation created but never stored.
    pub orphan_credential_id: Option<&'a str>,
    /// When an interrupted rotation (still in the journal) started: a
    /// credential created right then, and not stored, is its orphan even if
    /// the crash came before its id was journaled.
    pub interrupted_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Asks the provider for a new secret. From the moment this returns `Ok`,
/// the secret exists only in the returned record until it is stored.
pub async fn issue(
    aws: &AccountClients,
    credential: &Credential,
    current: Current<'_>,
) -> Result<Issued, ProviderError> {
    let name = credential.name.as_str();
    let (record, retire) = match &credential.target {
        Target::ChimeBot(bot) => (chime::regenerate(aws, name, bot).await?, None),
        Target::IamServiceCredential(iam) => match iam.strategy {
            IamStrategy::Reset => (iam::reset(aws, name, iam).await?, None),
            IamStrategy::Overlap => {
                // The stored secret's id follows each rotation; the policy's
                // only seeds the first.
                let current_id = current.stored_credential_id.unwrap_or(&iam.credential_id);
                let orphans = iam_overlap::Orphans {
                    id: current.orphan_credential_id,
                    created_around: current.interrupted_at,
                };
                let (record, retire) =
                    iam_overlap::create_next(aws, name, iam, current_id, orphans).await?;
                (record, Some(retire))
            }
        },
        Target::IvsParticipantToken(token) => (ivs::create_token(aws, name, token).await?, None),
    };
    Ok(Issued { record, retire })
}

/// Retires what the new secret replaced (after it is stored).
pub async fn retire(aws: &AccountClients, retire: &Retire) -> Result<(), ProviderError> {
    match retire {
        Retire::IamCredential {
            user_name,
            credential_id,
        } => Ok(iam_overlap::delete(aws, user_name, credential_id).await?),
    }
}

/// Sets what the new secret replaced Inactive (the start of a grace).
pub async fn deactivate(aws: &AccountClients, retire: &Retire) -> Result<(), ProviderError> {
    match retire {
        Retire::IamCredential {
            user_name,
            credential_id,
        } => Ok(iam_retire::deactivate(aws, user_name, credential_id).await?),
    }
}

/// Whether what is being retired is still active, inactive, or gone.
pub async fn standing(aws: &AccountClients, retire: &Retire) -> Result<Standing, ProviderError> {
    match retire {
        Retire::IamCredential {
            user_name,
            credential_id,
        } => Ok(iam_retire::standing(aws, user_name, credential_id).await?),
    }
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
                IamStrategy::Overlap if iam.retire_grace.is_zero() => format!(
                    "iam:CreateServiceSpecificCredential user_name={user} (same service as the credential in use, first {}), then iam:DeleteServiceSpecificCredential of the old one once stored",
                    iam.credential_id
                ),
                IamStrategy::Overlap => format!(
                    "iam:CreateServiceSpecificCredential user_name={user} (same service as the credential in use, first {}), then iam:UpdateServiceSpecificCredential Status=Inactive of the old one once stored, and iam:DeleteServiceSpecificCredential of it {} later",
                    iam.credential_id,
                    humantime::format_duration(iam.retire_grace)
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
