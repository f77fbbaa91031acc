//! Retiring what an IAM `overlap` rotation replaced: at once (`retire_grace`
//! zero), or first set Inactive and deleted once the grace has passed. The
//! pending retirement is recorded in the state directory ([`record`]), and
//! settled by the daemon when due, or by the credential's next rotation
//! (which needs the slot) at once. An old credential an operator re-activated
//! during its grace is left alone. With an `on_rotate` hook, the retirement
//! is recorded as awaiting it ([`defer`]) and starts only once the hook
//! succeeded ([`after_hook`]): until then consumers may still use the old
//! credential, so it stays Active.

mod record;

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tracing::{error, info, warn};

pub use record::{RecordError, Retirement, Retirements};

use crate::aws::Aws;
use crate::error::error_chain;
use crate::journal::{Journal, JournalError};
use crate::policy::{Credential, CredentialName};
use crate::providers::{self, ProviderError, Retire, Standing};

#[derive(Debug, thiserror::Error)]
pub enum RetiringError {
    #[error(transparent)]
    Record(#[from] RecordError),
    #[error(transparent)]
    Lock(#[from] JournalError),
    #[error("cannot retire the old credential {credential_id}: {source}")]
    Provider {
        credential_id: String,
        #[source]
        source: ProviderError,
    },
}

/// What happened to a pending retirement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    /// There was none.
    Nothing,
    /// Its grace has not passed yet: due then.
    NotYet(DateTime<Utc>),
    /// The old credential is deleted (or was already gone).
    Deleted { credential_id: String },
    /// An operator re-activated it during its grace: left alone, forgotten.
    KeptActive { credential_id: String },
    /// It waits for the `on_rotate` hook of the rotation that replaced it.
    AwaitingHook,
}

/// What retiring after a store did.
#[derive(Debug, Default)]
pub struct AfterStore {
    /// The old credential is Inactive (or awaits deletion) until then.
    pub delete_after: Option<DateTime<Utc>>,
    /// Something went wrong; the new secret is stored and works regardless.
    pub warning: Option<String>,
}

/// Retires `old` right after the new secret is stored: deleted at once with
/// no grace; otherwise recorded, then set Inactive. A retirement that cannot
/// be finished now stays recorded, so the daemon finishes it later.
pub async fn after_store(
    aws: &Aws,
    journal: &Journal,
    credential: &Credential,
    old: &Retire,
    grace: Duration,
) -> AfterStore {
    let records = Retirements::of(journal);
    let key = journal.key(credential);
    let Retire::IamCredential {
        user_name,
        credential_id,
    } = old;
    let now = Utc::now();
    let mut retirement = Retirement {
        credential: credential.name.to_string(),
        user_name: user_name.clone(),
        credential_id: credential_id.clone(),
        deactivated_at: None,
        delete_after: now + chrono::TimeDelta::from_std(grace).unwrap_or(chrono::TimeDelta::MAX),
        awaiting_hook: None,
    };
    if grace.is_zero() {
        let Err(err) = providers::retire(aws.provider(credential), old).await else {
            return AfterStore::default();
        };
        let text = error_chain(&err);
        error!(credential_id = %credential_id, error = %text, "the new secret is stored, but the old credential was not deleted");
        // Recorded, the daemon (or the next rotation) tries again.
        let retry = match records.put(&key, &retirement) {
            Ok(()) => "the deletion will be retried",
            Err(_) => "delete it by hand",
        };
        return AfterStore {
            delete_after: Some(retirement.delete_after),
            warning: Some(format!("old credential not deleted ({retry}): {text}")),
        };
    }
    // Recorded before it is touched: never an Inactive credential nobody
    // remembers.
    if let Err(err) = records.put(&key, &retirement) {
        let text = error_chain(&err);
        warn!(credential_id = %credential_id, error = %text, "cannot record the retirement: deleting the old credential at once instead");
        let deleted = providers::retire(aws.provider(credential), old)
            .await
            .map_err(|e| error_chain(&e));
        return AfterStore {
            delete_after: None,
            warning: Some(match deleted {
                Ok(()) => {
                    format!("retirement not recorded, old credential deleted at once: {text}")
                }
                Err(e) => {
                    format!("retirement not recorded and old credential not deleted: {text}; {e}")
                }
            }),
        };
    }
    if let Err(err) = providers::deactivate(aws.provider(credential), old).await {
        let text = error_chain(&err);
        error!(credential_id = %credential_id, error = %text, delete_after = %retirement.delete_after, "the new secret is stored, but the old credential was not set Inactive; it is still deleted once the grace has passed");
        return AfterStore {
            delete_after: Some(retirement.delete_after),
            warning: Some(format!("old credential not set Inactive: {text}")),
        };
    }
    retirement.deactivated_at = Some(Utc::now());
    let warning = records.put(&key, &retirement).err().map(|err| {
        let text = error_chain(&err);
        warn!(error = %text, "cannot note the deactivation in the retirement record");
        format!("deactivation not recorded: {text}")
    });
    info!(credential_id = %credential_id, delete_after = %retirement.delete_after, "the old credential is Inactive until its grace has passed");
    AfterStore {
        delete_after: Some(retirement.delete_after),
        warning,
    }
}

/// Records that `old` is retired only once the `on_rotate` hook of the
/// rotation that stored `version_id` succeeded; until then it stays Active.
pub fn defer(
    journal: &Journal,
    credential: &Credential,
    old: &Retire,
    version_id: &str,
) -> Result<(), RecordError> {
    let Retire::IamCredential {
        user_name,
        credential_id,
    } = old;
    let retirement = Retirement {
        credential: credential.name.to_string(),
        user_name: user_name.clone(),
        credential_id: credential_id.clone(),
        deactivated_at: None,
        delete_after: Utc::now(),
        awaiting_hook: Some(version_id.to_owned()),
    };
    Retirements::of(journal).put(&journal.key(credential), &retirement)?;
    info!(credential_id = %credential_id, "the old credential stays Active until the on_rotate hook succeeded");
    Ok(())
}

/// The `on_rotate` hook of the rotation that stored `version_id` succeeded
/// (or was skipped): the retirement deferred for it starts now, as
/// [`after_store`] does. `None` when nothing waited for it, or when another
/// rekeyd process holds the credential (its rotation settles the retirement).
pub async fn after_hook(
    aws: &Aws,
    journal: &Journal,
    credential: &Credential,
    version_id: &str,
) -> Option<(String, AfterStore)> {
    let records = Retirements::of(journal);
    let key = journal.key(credential);
    let _lock = match journal.lock(credential) {
        Ok(lock) => lock,
        Err(err) => {
            warn!(error = %error_chain(&err), "the retirement that waited for the on_rotate hook is left to the rotation running elsewhere");
            return None;
        }
    };
    let waiting = match records.get(&key) {
        Ok(Some(waiting)) if waiting.awaiting_hook.as_deref() == Some(version_id) => waiting,
        Ok(_) => return None,
        Err(err) => {
            error!(error = %error_chain(&err), "pending retirement unreadable");
            return None;
        }
    };
    let old = waiting.target();
    let after = after_store(aws, journal, credential, &old, grace(credential)).await;
    Some((waiting.credential_id, after))
}

/// The `retire_grace` of an IAM credential (zero for every other kind).
pub fn grace(credential: &Credential) -> Duration {
    match &credential.target {
        crate::policy::Target::IamServiceCredential(iam) => iam.retire_grace,
        _ => Duration::ZERO,
    }
}

/// Settles the pending retirement of `credential`, if any: when its grace
/// has passed, or at once with `now_anyway` (a new rotation needs the slot).
/// The caller holds the credential's lock.
pub async fn settle(
    aws: &Aws,
    journal: &Journal,
    credential: &Credential,
    now_anyway: bool,
) -> Result<Settled, RetiringError> {
    let records = Retirements::of(journal);
    let key = journal.key(credential);
    let Some(pending) = records.get(&key)? else {
        return Ok(Settled::Nothing);
    };
    if !now_anyway && pending.awaiting_hook.is_some() {
        return Ok(Settled::AwaitingHook);
    }
    if !now_anyway && pending.delete_after > Utc::now() {
        return Ok(Settled::NotYet(pending.delete_after));
    }
    let credential_id = pending.credential_id.clone();
    let failed = |source| RetiringError::Provider {
        credential_id: credential_id.clone(),
        source,
    };
    let old = pending.target();
    match providers::standing(aws.provider(credential), &old)
        .await
        .map_err(failed)?
    {
        Standing::Gone => {
            info!(credential_id = %credential_id, "the retired credential is already gone");
        }
        Standing::Active if pending.deactivated_at.is_some() => {
            warn!(credential_id = %credential_id, user = %pending.user_name, "the retired credential was re-activated during its grace (by an operator?): NOT deleting it, and forgetting its retirement");
            records.remove(&key)?;
            return Ok(Settled::KeptActive { credential_id });
        }
        _ => {
            providers::retire(aws.provider(credential), &old)
                .await
                .map_err(failed)?;
            if pending.awaiting_hook.is_some() {
                warn!(credential = %credential.name, credential_id = %credential_id, user = %pending.user_name, "deleted the old credential although the on_rotate hook it waited for never succeeded: a new overlap rotation needs its slot (IAM allows two per service and user); consumers still using it now fail");
            } else if pending.delete_after > Utc::now() {
                info!(credential_id = %credential_id, grace_until = %pending.delete_after, "deleted the pending, inactive old credential before its grace ended: a new overlap rotation needs its slot");
            } else {
                info!(credential_id = %credential_id, "deleted the old credential: its grace has passed");
            }
        }
    }
    records.remove(&key)?;
    Ok(Settled::Deleted { credential_id })
}

/// The daemon's retirement run: takes the credential's lock, then settles
/// its pending retirement if the grace has passed.
pub async fn when_due(
    aws: &Aws,
    journal: &Journal,
    credential: &Credential,
) -> Result<Settled, RetiringError> {
    let _lock = journal.lock(credential)?;
    settle(aws, journal, credential, false).await
}

/// The pending retirements of `credentials`, read-only (for `plan`), by
/// credential name (an unreadable record counts as none).
pub fn pending_of<'c>(
    journal: &Journal,
    credentials: &'c [Credential],
) -> HashMap<&'c CredentialName, Retirement> {
    Retirements::of(journal)
        .claimed(journal, credentials)
        .into_iter()
        .filter_map(|(credential, read)| Some((&credential.name, read.ok()?)))
        .collect()
}
