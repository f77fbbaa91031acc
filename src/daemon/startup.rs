//! What the daemon does once at start, apart from its loop: recover
//! in-doubt rotations and pending retirements from the state directory, read
//! what Secrets Manager holds, and keep systemd's watchdog fed.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use super::notify::{self, Notifier};
use super::timing::Last;
use crate::aws::Aws;
use crate::journal::Journal;
use crate::metrics;
use crate::policy::{Credential, CredentialName, Policy};
use crate::record::StoredRecord;
use crate::retiring;
use crate::store::{self, CurrentVersion, StoreError};

/// The credentials whose last rotation is in doubt (rotated again at once).
/// Entries of other policies sharing the state directory are left alone;
/// those older than [`STALE_ENTRY`] that no credential claims are dropped.
pub(super) fn recover(journal: &Journal, policy: &Policy) -> Vec<CredentialName> {
    let recovered = journal.recover();
    for corrupt in &recovered.corrupt {
        error!(entry = %corrupt, "unreadable journal entry: set aside; if a rotation was in flight, check that credential");
    }
    let mut in_doubt = Vec::new();
    // A key per credential: only when there is an entry to claim.
    let claims = if recovered.in_doubt.is_empty() {
        HashMap::new()
    } else {
        journal.claims(&policy.credentials)
    };
    for (key, intent) in recovered.in_doubt {
        if let Some(credential) = claims.get(key.as_str()) {
            warn!(credential = %credential.name, since = %intent.started_at, "the last rotation is in doubt: rotating again now");
            in_doubt.push(credential.name.clone());
        } else if Utc::now() - intent.started_at > STALE_ENTRY {
            warn!(entry = %key, since = %intent.started_at, "dropping an old in-doubt journal entry that no credential of this policy claims");
            let _ = journal.clear_key(&key);
        } else {
            info!(entry = %key, "an in-doubt journal entry of another policy or AWS scope: left alone");
        }
    }
    in_doubt
}

/// How old an unclaimed journal entry must be before a daemon drops it.
const STALE_ENTRY: chrono::TimeDelta = chrono::TimeDelta::days(7);

/// Warns about pending retirements that no credential of `policy` claims
/// (its credential was removed from the policy, or its AWS scope changed):
/// nobody will delete that old IAM credential, so an operator must.
pub(super) fn warn_unclaimed_retirements(journal: &Journal, policy: &Policy) {
    let records = retiring::Retirements::of(journal);
    for (record, read) in records.unclaimed(journal, &policy.credentials) {
        match read {
            Ok(pending) => warn!(
                credential = %pending.credential,
                user_name = %pending.user_name,
                credential_id = %pending.credential_id,
                delete_after = %pending.delete_after,
                record = %record.display(),
                "an old IAM credential awaits deletion, but no credential of this policy (in this AWS scope) claims it: \
                 restore the credential to the policy, or delete the old one yourself \
                 (aws iam delete-service-specific-credential) and remove the record"
            ),
            Err(err) => {
                error!(error = %crate::error::error_chain(&err), "pending retirement unreadable")
            }
        }
    }
}

/// The pending retirements recorded in the state directory that
/// `credentials` claim, and when each is due (one directory listing, then
/// one read per record that one of them claims); one that waits for its
/// `on_rotate` is not due yet.
pub(super) fn recorded_retirements<'c>(
    journal: &Journal,
    credentials: impl IntoIterator<Item = &'c Credential>,
) -> Vec<(CredentialName, DateTime<Utc>)> {
    let mut due = Vec::new();
    for (credential, read) in retiring::Retirements::of(journal).claimed(journal, credentials) {
        match read {
            Ok(pending) if pending.awaiting_hook.is_none() => {
                let at = pending.delete_after;
                info!(credential = %credential.name, delete_after = %at, "an old credential awaits deletion");
                due.push((credential.name.clone(), at));
            }
            Ok(_) => {}
            Err(err) => {
                error!(credential = %credential.name, error = %crate::error::error_chain(&err), "pending retirement unreadable");
            }
        }
    }
    due
}

/// Sends WATCHDOG=1 at half `$WATCHDOG_USEC`, but only while the scheduler
/// ticks: a stalled scheduler lets systemd's watchdog fire.
pub(super) fn spawn_watchdog(notifier: &Arc<Notifier>, shutdown: &CancellationToken) {
    let Some(interval) = notify::watchdog_interval() else {
        return;
    };
    let notifier = Arc::clone(notifier);
    let shutdown = shutdown.clone();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(interval) => {}
            }
            match metrics::registry().health(Utc::now()) {
                Ok(()) => notifier.watchdog(),
                Err(why) => error!(reason = %why, "withholding the systemd watchdog ping"),
            }
        }
    });
}

/// What Secrets Manager holds for the credential, as the schedule needs it.
pub async fn read_last(aws: &Aws, credential: &Credential) -> Result<Last, StoreError> {
    let current = store::read_current(aws.secrets(credential), &credential.secret_name).await?;
    Ok(last_of(credential, current.as_ref()))
}

/// The schedule's view of the secret's current version.
pub fn last_of(credential: &Credential, current: Option<&CurrentVersion>) -> Last {
    match current {
        None => Last::Missing,
        Some(current) => last_of_record(credential, current.record.as_ref()),
    }
}

/// The schedule's view of a secret that exists: its current value as parsed
/// (`None`: not rekeyd's JSON).
pub fn last_of_record(credential: &Credential, record: Option<&StoredRecord>) -> Last {
    match record {
        Some(record) if record.is_written_for(credential.kind(), credential.name.as_str()) => {
            Last::Rotated {
                at: record.rotated_at,
                expires_at: record.expires_at(),
            }
        }
        // Not rekeyd's format, or another credential's: drift.
        _ => Last::Foreign,
    }
}
