//! One rotation of one credential: lock it, check the secret can be written,
//! journal the intent, have the provider issue a new secret, store it under a
//! fixed request token, record the `on_rotate` hook it owes (see
//! [`crate::hooks`]), retire what it replaced (see [`crate::retiring`]; with
//! a hook, once it succeeded), clear the journal. With `[coordination]`, all
//! of it under the credential's lease (see [`crate::lease`]), the intent in
//! the lease item too.

use chrono::{DateTime, Utc};
use tracing::{Instrument, error, info, info_span, warn};
use uuid::Uuid;

use crate::aws::Aws;
use crate::error::error_chain;
use crate::hooks::{HookResult, PendingHook, PendingHooks};
use crate::journal::{Intent, Journal, JournalError, Replaced};
use crate::lease::{Acquired, Held, LastRotation, LeaseError, LeaseIntent, Leases};
use crate::policy::{Credential, IamStrategy, Target};
use crate::providers::{self, Current, ProviderError, Retire};
use crate::replicas;
use crate::retiring::{self, Retirement, Retirements, RetiringError, Settled};
use crate::store::{self, CurrentVersion, StoreError};

/// A successful rotation.
#[derive(Debug, Clone, PartialEq)]
pub struct Rotated {
    pub secret: String,
    pub version_id: String,
    /// The secret did not exist before this rotation.
    pub created: bool,
    pub rotated_at: DateTime<Utc>,
    /// When the new secret stops working by itself (IVS tokens, expiring API keys).
    pub expires_at: Option<DateTime<Utc>>,
    /// Something after the store went wrong (the old IAM credential could
    /// not be deleted); the new secret is stored and works.
    pub warning: Option<String>,
    /// IAM `overlap` with a `retire_grace`: the old credential is Inactive
    /// and deleted from then on.
    pub retiring: Option<Retiring>,
    /// The secret's ARN, when Secrets Manager said it.
    pub secret_arn: Option<String>,
    /// How the `on_rotate` hook went, once run (see [`crate::consumers`]).
    pub hook: Option<HookResult>,
}

/// An old credential awaiting deletion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retiring {
    pub credential_id: String,
    pub delete_after: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum RotationError {
    /// Nothing was rotated: another process is rotating it, or the journal
    /// cannot record the rotation.
    #[error("not rotated: {0}")]
    NotStarted(#[from] JournalError),
    /// Nothing was rotated: another replica holds the credential's lease.
    #[error("not rotated: the lease of credential {credential} is held by replica {holder}")]
    LeaseHeld { credential: String, holder: String },
    /// Nothing was rotated (or, once the provider acted, see
    /// [`RotationError::InDoubt`]): the lease could not be taken or kept.
    #[error("not rotated: {0}")]
    Lease(#[from] LeaseError),
    /// Nothing was rotated: under the lease, the secret shows the credential
    /// was rotated meanwhile (by another replica) and is not due.
    #[error("not rotated: credential {credential} was rotated meanwhile and is not due")]
    NotDue {
        credential: String,
        /// What the secret holds now, to schedule the next rotation from.
        current: Box<Option<CurrentVersion>>,
    },
    /// Nothing was rotated: the pending retirement of the old IAM credential
    /// (which a new `overlap` credential needs the slot of) failed.
    #[error("not rotated, the pending retirement failed: {0}")]
    Retiring(#[from] RetiringError),
    /// Nothing was rotated: the secret cannot be written, so the provider was
    /// not asked (its old secret still works).
    #[error("not rotated, secret {secret} cannot be written: {source}")]
    SecretUnusable {
        secret: String,
        #[source]
        source: StoreError,
    },
    /// The provider did not issue a new secret.
    #[error(transparent)]
    Provider(#[from] ProviderError),
    /// The provider acted (the old secret is dead) but its answer was
    /// unusable: the rotation is in doubt and must be done again.
    #[error(
        "rotation in doubt (it will be done again): the provider acted, so the old secret no longer works, but its answer was unusable: {0}"
    )]
    ProviderInDoubt(#[source] ProviderError),
    /// The provider issued a new secret but it could not be stored: the
    /// rotation is in doubt and must be done again.
    #[error(
        "new secret NOT stored, rotation in doubt (it will be done again): the provider issued it but writing secret {secret} failed: {source}"
    )]
    InDoubt {
        secret: String,
        #[source]
        source: StoreError,
    },
    /// The new secret is stored, but the provider no longer holds it (a
    /// Chime token regenerated again meanwhile, by another host or by
    /// hand): what the secret holds is dead, the rotation must be done again.
    #[error(
        "rotation in doubt (it will be done again): the token stored in secret {secret} is no longer chime bot {bot_id}'s current one (regenerated again after this rotation, by another host or by hand)"
    )]
    Overtaken { secret: String, bot_id: String },
    /// The provider issued a new secret, but the lease was lost before the
    /// store: the replica that took it over redoes the rotation (and may
    /// delete or kill what was issued here), so it is not stored.
    #[error(
        "rotation in doubt (the replica that took the lease over does it again): the lease was lost after the provider issued a new secret, so it was not stored in secret {secret}"
    )]
    LeaseLostBeforeStore { secret: String },
}

impl RotationError {
    /// True when another writer got in between (AWSCURRENT moved during the
    /// store, or the Chime token was regenerated again after it): what is
    /// stored may be dead, so the credential is rotated again at once.
    pub fn lost_a_race(&self) -> bool {
        matches!(
            self,
            RotationError::InDoubt {
                source: StoreError::Superseded { .. },
                ..
            } | RotationError::Overtaken { .. }
        )
    }

    /// True when the provider may have killed the old secret without the new
    /// one reaching Secrets Manager.
    pub fn is_in_doubt(&self) -> bool {
        matches!(
            self,
            RotationError::InDoubt { .. }
                | RotationError::ProviderInDoubt(_)
                | RotationError::Overtaken { .. }
                | RotationError::LeaseLostBeforeStore { .. }
        )
    }
}

/// Whether a credential is still due, given its secret's current version.
pub type StillDue<'a> = &'a (dyn Fn(Option<&CurrentVersion>) -> bool + Sync);

/// How a rotation under `[coordination]` takes its credential's lease.
#[derive(Clone, Copy)]
pub struct Coordinated<'a> {
    pub leases: &'a Leases,
    /// How long to wait for a lease held elsewhere (zero: one look).
    pub wait: std::time::Duration,
    /// The daemon's rotations: asked under the lease, with the secret read
    /// again; `false` skips ([`RotationError::NotDue`]) what another replica
    /// rotated meanwhile.
    pub still_due: Option<StillDue<'a>>,
}

/// Rotates `credential` now (under its lease, with `coordinated`).
pub async fn rotate(
    aws: &Aws,
    journal: &Journal,
    credential: &Credential,
    coordinated: Option<Coordinated<'_>>,
) -> Result<Rotated, RotationError> {
    let rotation_id = Uuid::new_v4();
    let span = info_span!(
        "rotation",
        credential = %credential.name,
        kind = %credential.kind(),
        rotation = %rotation_id,
    );
    let started = std::time::Instant::now();
    let result = rotate_as(aws, journal, credential, rotation_id, coordinated)
        .instrument(span)
        .await;
    let outcome = match &result {
        Err(RotationError::LeaseHeld { .. } | RotationError::NotDue { .. }) => return result,
        Ok(_) => "success",
        Err(err) if err.is_in_doubt() => "in_doubt",
        Err(_) => "failure",
    };
    crate::metrics::registry().rotation_finished(
        credential.kind().as_str(),
        outcome,
        started.elapsed(),
    );
    result
}

async fn rotate_as(
    aws: &Aws,
    journal: &Journal,
    credential: &Credential,
    rotation_id: Uuid,
    coordinated: Option<Coordinated<'_>>,
) -> Result<Rotated, RotationError> {
    let name = credential.name.as_str();
    let _lock = journal.lock(credential)?;
    let Some(coordinated) = coordinated else {
        return rotate_locked(aws, journal, credential, rotation_id, None).await;
    };
    let held = match coordinated.leases.acquire(name, coordinated.wait).await? {
        Acquired::Held(held) => held,
        Acquired::Elsewhere { holder } => {
            return Err(RotationError::LeaseHeld {
                credential: name.to_owned(),
                holder,
            });
        }
    };
    let result = under_lease(aws, journal, credential, rotation_id, coordinated, &held).await;
    held.release().await;
    result
}

/// The rotation once the lease is held: one left in doubt by the previous
/// holder is done at once; otherwise the daemon's skips what is not due.
async fn under_lease(
    aws: &Aws,
    journal: &Journal,
    credential: &Credential,
    rotation_id: Uuid,
    coordinated: Coordinated<'_>,
    held: &Held,
) -> Result<Rotated, RotationError> {
    if let Some(left) = held.left_in_doubt() {
        warn!(previous_rotation = %left.rotation, replica = %left.replica, since = %left.started_at, "the lease held a rotation left in doubt: rotating at once");
        if left.replica != held.replica() {
            // Its holder may only be paused, with a new secret in hand that
            // this rotation kills (a Chime token regenerated, an IAM
            // password reset) or deletes as never stored (IAM `overlap`):
            // move the fence first, so that a late store of it fails rather
            // than land as current just before this rotation kills it.
            store::refence(aws.secrets(credential), &credential.secret_name)
                .await
                .map_err(|source| RotationError::SecretUnusable {
                    secret: credential.secret_name.clone(),
                    source,
                })?;
        }
    } else if let Some(still_due) = coordinated.still_due
        && journal.pending(credential).is_none()
    {
        // The last rotation under this lease says what the secret holds,
        // without reading it again; a lease never used for one: the secret.
        let current = match held.previous.as_ref().and_then(|p| p.last.as_ref()) {
            Some(last) => Some(as_current(credential, last)),
            None => store::read_current(aws.secrets(credential), &credential.secret_name)
                .await
                .map_err(|source| RotationError::SecretUnusable {
                    secret: credential.secret_name.clone(),
                    source,
                })?,
        };
        if !still_due(current.as_ref()) {
            return Err(RotationError::NotDue {
                credential: credential.name.to_string(),
                current: Box::new(current),
            });
        }
    }
    rotate_locked(aws, journal, credential, rotation_id, Some(held)).await
}

async fn rotate_locked(
    aws: &Aws,
    journal: &Journal,
    credential: &Credential,
    rotation_id: Uuid,
    held: Option<&Held>,
) -> Result<Rotated, RotationError> {
    let name = credential.name.as_str();
    let secret = credential.secret_name.clone();
    // The version current now is the fence of this rotation's store.
    let began = store::describe(aws.secrets(credential), &secret)
        .await
        .map_err(|source| RotationError::SecretUnusable {
            secret: secret.clone(),
            source,
        })?;
    // What an interrupted earlier rotation left behind.
    let earlier = journal.pending(credential);
    let stored_id = stored_credential_id(aws, credential).await?;
    if let Some(held) = held
        && held.lost().is_cancelled()
    {
        // Another replica has the credential now: touch nothing of it.
        return Err(LeaseError::Lost {
            credential: name.to_owned(),
        }
        .into());
    }
    settle_retirement(
        aws,
        journal,
        credential,
        earlier.as_ref(),
        stored_id.as_deref(),
    )
    .await?;
    let mut intent = Intent {
        credential: name.to_owned(),
        kind: credential.kind().as_str().to_owned(),
        rotation: rotation_id.to_string(),
        started_at: Utc::now(),
        pid: std::process::id(),
        issued_credential_id: None,
        replaces: None,
    };
    // Durable before the provider is asked: a crash from here on leaves the
    // rotation in doubt for the next start.
    // Dropped without `clear` (an error below, or the rotation cut off), the
    // intent stays in doubt.
    let left = held.and_then(Held::left_in_doubt);
    if let Some(held) = held {
        held.record_intent(&lease_intent(&intent, held)).await?;
        // Never ask the provider with less than half a lease left.
        held.ensure_half_left().await?;
    }
    let mut recorded = journal.record_async(credential, &intent).await?;
    let current = Current {
        stored_credential_id: stored_id.as_deref(),
        orphan_credential_id: earlier
            .as_ref()
            .and_then(|e| e.issued_credential_id.as_deref())
            .or_else(|| left.and_then(|l| l.issued_credential_id.as_deref()))
            .filter(|orphan| Some(*orphan) != stored_id.as_deref()),
        interrupted_at: earlier
            .as_ref()
            .map(|e| e.started_at)
            .or_else(|| left.map(|l| l.started_at)),
    };
    let issued = providers::issue(aws.provider(credential), credential, current)
        .await
        .map_err(|err| {
            if err.killed_old_secret() {
                error!(error = %err, "the provider acted but its answer was unusable: rotation in doubt");
                RotationError::ProviderInDoubt(err)
            } else {
                RotationError::Provider(err)
            }
        })?;
    if let Some(Retire::IamCredential {
        user_name,
        credential_id,
    }) = &issued.retire
    {
        // A new IAM credential exists: note its id (never its password), and
        // the one it replaces.
        intent.issued_credential_id = issued.record.credential_id().map(str::to_owned);
        intent.replaces = Some(Replaced {
            user_name: user_name.clone(),
            credential_id: credential_id.clone(),
        });
        if let Err(err) = recorded.update(&intent).await {
            // Storing the new secret matters more: its credential exists now.
            // A crash before the store then leaves it unknown to the next
            // start, which finds a second credential and says so.
            error!(error = %err, "cannot journal the new IAM credential's id; storing its secret anyway");
        }
        if let Some(held) = held
            && let Err(err) = held.record_intent(&lease_intent(&intent, held)).await
        {
            error!(error = %err, "cannot note the new IAM credential's id in the lease; storing its secret anyway");
        }
    }
    if let Some(held) = held
        && held.lost().is_cancelled()
    {
        // Another replica has the credential now and redoes this rotation;
        // what it deletes or regenerates must not be stored over it.
        error!(secret = %secret, "lease lost before the store: rotation in doubt, not stored");
        return Err(RotationError::LeaseLostBeforeStore { secret });
    }
    info!(secret = %secret, "provider issued a new secret, storing it");
    let value = issued.record.to_secret_json();
    // The request token is fixed for this rotation: retries of the write are
    // idempotent and never add a second version.
    let request_token = rotation_id.to_string();
    let stored = match store::write(
        aws.secrets(credential),
        credential,
        &value,
        &request_token,
        &began,
    )
    .await
    {
        Ok(stored) => stored,
        Err(source) => {
            error!(secret = %secret, error = %source, "new secret not stored: rotation in doubt");
            return Err(RotationError::InDoubt { secret, source });
        }
    };
    let mut warning = verify_live(aws, credential, &issued.record, &secret).await?;
    if !stored.created
        && let Err(err) =
            replicas::add_missing(aws.secrets(credential), credential, &began.replicas).await
    {
        // The secret is stored in its primary region: the rotation is done.
        warn!(error = %err, "cannot add the missing replicas");
        warning = warning.or(Some(format!("stored, but {err}")));
    }
    // Stored (and a Chime token confirmed live): the next holder finds this
    // rotation in the lease, not an intent to redo.
    let done = LastRotation {
        version_id: stored.version_id.clone(),
        rotated_at: issued.record.rotated_at(),
        expires_at: issued.record.expires_at(),
    };
    if let Some(held) = held
        && let Err(err) = held.clear_intent(&done).await
    {
        // The next holder rotates once more: harmless.
        warn!(error = %err, "cannot clear the intent in the lease");
    }
    let mut retiring = None;
    let owes_hook = credential.on_rotate().is_some();
    if owes_hook {
        warning = owe_hook(journal, credential, &stored, &issued.record).or(warning);
    }
    if let Some(old) = &issued.retire {
        // With an on_rotate hook, consumers switch first: the old
        // credential is retired once it succeeded (see crate::consumers).
        let deferred = owes_hook
            && retiring::defer(journal, credential, old, &stored.version_id)
                .inspect_err(|err| {
                    error!(error = %error_chain(err), "cannot defer the retirement until the on_rotate hook: retiring at once");
                })
                .is_ok();
        if !deferred {
            let after =
                retiring::after_store(aws, journal, credential, old, retiring::grace(credential))
                    .await;
            warning = after.warning.or(warning);
            let Retire::IamCredential { credential_id, .. } = old;
            retiring = after.delete_after.map(|delete_after| Retiring {
                credential_id: credential_id.clone(),
                delete_after,
            });
        }
    }
    if let Err(err) = recorded.clear() {
        // Harmless: the next start rotates it once more.
        warn!(error = %err, "cannot clear the journal entry");
    }
    info!(
        secret = %secret,
        version = %stored.version_id,
        created = stored.created,
        "rotation finished"
    );
    Ok(Rotated {
        secret,
        version_id: stored.version_id,
        created: stored.created,
        rotated_at: issued.record.rotated_at(),
        expires_at: issued.record.expires_at(),
        warning,
        retiring,
        secret_arn: stored.arn,
        hook: None,
    })
}

/// Records the `on_rotate` run the stored rotation owes, durably before the
/// journal entry goes: a crash from here on runs the hook at the next start.
/// `Some(warning)` when it cannot be recorded.
fn owe_hook(
    journal: &Journal,
    credential: &Credential,
    stored: &store::StoredVersion,
    record: &crate::record::SecretRecord,
) -> Option<String> {
    let owed = PendingHook {
        credential: credential.name.to_string(),
        kind: credential.kind().as_str().to_owned(),
        secret: credential.secret_name.clone(),
        secret_arn: stored.arn.clone(),
        version_id: stored.version_id.clone(),
        rotated_at: record.rotated_at(),
        expires_at: record.expires_at(),
    };
    let err = PendingHooks::at(journal.state_dir())
        .put(&journal.key(credential), &owed)
        .err()?;
    let text = error_chain(&err);
    error!(error = %text, "cannot record the on_rotate hook as owed: a crash before it runs loses it");
    Some(format!("on_rotate not recorded as owed: {text}"))
}

/// The secret's current version as the last rotation under the lease left
/// it (the fields scheduling reads; never a secret).
fn as_current(credential: &Credential, last: &LastRotation) -> CurrentVersion {
    CurrentVersion {
        version_id: Some(last.version_id.clone()),
        created_date: Some(last.rotated_at),
        record: Some(crate::record::StoredRecord {
            kind: credential.kind().as_str().to_owned(),
            name: credential.name.to_string(),
            rotated_at: last.rotated_at,
            expiration_time: last.expires_at,
            expiration_date: None,
            credential_id: None,
            security_token: None,
        }),
    }
}

/// The journal's intent as the lease item holds it (no pid, no secret).
fn lease_intent(intent: &Intent, held: &Held) -> LeaseIntent {
    LeaseIntent {
        rotation: intent.rotation.clone(),
        replica: held.replica().to_owned(),
        started_at: intent.started_at,
        issued_credential_id: intent.issued_credential_id.clone(),
        replaces_credential_id: intent.replaces.as_ref().map(|r| r.credential_id.clone()),
    }
}

/// The pending retirement of an earlier rotation is settled first: for
/// `overlap`, at once (the new credential needs its slot), else when due. A
/// retirement that an interrupted rotation stored its secret for but never
/// recorded (a crash right after the store) is recovered from the journal.
async fn settle_retirement(
    aws: &Aws,
    journal: &Journal,
    credential: &Credential,
    earlier: Option<&Intent>,
    stored_id: Option<&str>,
) -> Result<(), RotationError> {
    let overlap = is_overlap(credential);
    if let Some(Intent {
        replaces: Some(old),
        issued_credential_id: Some(issued),
        started_at,
        ..
    }) = earlier
        && overlap
        && stored_id == Some(issued.as_str())
    {
        let records = Retirements::of(journal);
        let key = journal.key(credential);
        if records.get(&key).map_err(RetiringError::from)?.is_none() {
            warn!(credential_id = %old.credential_id, since = %started_at, "an interrupted rotation stored its secret but never retired the credential it replaced: retiring it now");
            let retirement = Retirement {
                credential: credential.name.to_string(),
                user_name: old.user_name.clone(),
                credential_id: old.credential_id.clone(),
                deactivated_at: None,
                delete_after: Utc::now(),
                awaiting_hook: None,
            };
            records
                .put(&key, &retirement)
                .map_err(RetiringError::from)?;
        }
    }
    match retiring::settle(aws, journal, credential, overlap).await? {
        Settled::KeptActive { credential_id } => {
            warn!(credential_id = %credential_id, "the old credential is active again, so it stays: an overlap rotation needs a free slot");
        }
        Settled::Nothing | Settled::NotYet(_) | Settled::Deleted { .. } | Settled::AwaitingHook => {
        }
    }
    Ok(())
}

/// A Chime bot's token, once stored, is compared (constant time, never
/// logged) with the bot's current one: a later regeneration elsewhere would
/// have killed it. `Ok(Some(warning))` when the bot could not be read.
async fn verify_live(
    aws: &Aws,
    credential: &Credential,
    record: &crate::record::SecretRecord,
    secret: &str,
) -> Result<Option<String>, RotationError> {
    let (Target::ChimeBot(bot), Some(stored)) = (&credential.target, record.security_token())
    else {
        return Ok(None);
    };
    match providers::current_chime_token(aws.provider(credential), bot).await {
        Ok(Some(live)) if live == stored => Ok(None),
        Ok(_) => {
            error!(secret = %secret, "the stored token is no longer the bot's: rotation in doubt");
            Err(RotationError::Overtaken {
                secret: secret.to_owned(),
                bot_id: bot.bot_id.clone(),
            })
        }
        Err(err) => {
            warn!(error = %err, "cannot read the bot back to confirm the stored token");
            Ok(Some(format!(
                "stored, but chime GetBot failed, so the stored token could not be confirmed as the bot's: {err}"
            )))
        }
    }
}

/// Whether `credential` is an IAM credential rotated with `overlap`.
fn is_overlap(credential: &Credential) -> bool {
    matches!(&credential.target, Target::IamServiceCredential(iam) if iam.strategy == IamStrategy::Overlap)
}

/// For IAM `overlap`: the credential id the stored secret holds, when the
/// current version is rekeyd's own.
async fn stored_credential_id(
    aws: &Aws,
    credential: &Credential,
) -> Result<Option<String>, RotationError> {
    if !is_overlap(credential) {
        return Ok(None);
    }
    let current = store::read_current(aws.secrets(credential), &credential.secret_name)
        .await
        .map_err(|source| RotationError::SecretUnusable {
            secret: credential.secret_name.clone(),
            source,
        })?;
    Ok(current
        .and_then(|c| c.record)
        .filter(|r| r.is_written_for(credential.kind(), credential.name.as_str()))
        .and_then(|r| r.credential_id))
}
