//! What follows a rotation for the credential's consumers: after a store,
//! its `on_rotate` hook, then the IAM `overlap` retirement that waited for
//! it; after a failure, its `on_failure` hook. Also the `on_rotate` runs a
//! crash (or a hook failing every attempt) left owed, run again by the
//! daemon, and a warning for owed runs no credential of the policy claims.
//! The rotation itself is never undone: a failed hook leaves the new secret
//! stored and the old IAM credential Active.

use chrono::{DateTime, Utc};
use tracing::{info, warn};

use crate::aws::Aws;
use crate::error::error_chain;
use crate::hooks::{self, Context, Event, Hook, HookResult, PendingHook, PendingHooks};
use crate::journal::Journal;
use crate::policy::{Credential, Policy};
use crate::retiring;
use crate::rotation::{Retiring, Rotated, RotationError};

/// Whether hooks run (`rotate --no-hooks` skips them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookMode {
    Run,
    Skip,
}

/// Runs the hook that follows `result`: `on_rotate` after a store (its
/// result also lands in [`Rotated::hook`]), `on_failure` after a failure.
/// `None` when no hook ran.
pub async fn follow(
    aws: &Aws,
    journal: &Journal,
    credential: &Credential,
    result: &mut Result<Rotated, RotationError>,
    mode: HookMode,
) -> Option<HookResult> {
    match result {
        Ok(rotated) => {
            after_rotation(aws, journal, credential, rotated, mode).await;
            rotated.hook.clone()
        }
        Err(err) => after_failure(credential, err, mode).await,
    }
}

/// `on_rotate` for a stored rotation; once it succeeded (or was skipped),
/// the owed record goes and a deferred retirement starts.
async fn after_rotation(
    aws: &Aws,
    journal: &Journal,
    credential: &Credential,
    rotated: &mut Rotated,
    mode: HookMode,
) {
    let Some((argv, timeout)) = credential.on_rotate() else {
        return;
    };
    let result = match mode {
        HookMode::Skip => {
            info!(credential = %credential.name, "hooks skipped (--no-hooks): on_rotate not run");
            None
        }
        HookMode::Run => {
            let context = Context {
                event: Event::Rotated,
                credential: credential.name.to_string(),
                kind: credential.kind().as_str().to_owned(),
                secret: rotated.secret.clone(),
                secret_arn: rotated.secret_arn.clone(),
                version_id: Some(rotated.version_id.clone()),
                rotated_at: Some(rotated.rotated_at),
                expires_at: rotated.expires_at,
                error: None,
            };
            Some(hooks::run(Hook::OnRotate, argv, timeout, &context).await)
        }
    };
    if result.as_ref().is_none_or(HookResult::succeeded) {
        if let Some((credential_id, delete_after, warning)) =
            settle(aws, journal, credential, &rotated.version_id).await
        {
            rotated.retiring = delete_after.map(|delete_after| Retiring {
                credential_id,
                delete_after,
            });
            rotated.warning = warning.or(rotated.warning.take());
        }
    } else {
        warn!(credential = %credential.name, secret = %rotated.secret, "on_rotate failed: the new secret is stored; the hook stays owed and the daemon runs it again later (an old IAM credential stays Active until it succeeds)");
    }
    rotated.hook = result;
}

/// `on_failure` after a rotation that failed or is in doubt (not after one
/// that was not due, or left to another replica).
async fn after_failure(
    credential: &Credential,
    err: &RotationError,
    mode: HookMode,
) -> Option<HookResult> {
    if matches!(
        err,
        RotationError::NotDue { .. } | RotationError::LeaseHeld { .. }
    ) || mode == HookMode::Skip
    {
        return None;
    }
    let (argv, timeout) = credential.on_failure()?;
    let context = Context {
        event: if err.is_in_doubt() {
            Event::InDoubt
        } else {
            Event::Failed
        },
        credential: credential.name.to_string(),
        kind: credential.kind().as_str().to_owned(),
        secret: credential.secret_name.clone(),
        secret_arn: None,
        version_id: None,
        rotated_at: None,
        expires_at: None,
        error: Some(error_chain(err)),
    };
    Some(hooks::run(Hook::OnFailure, argv, timeout, &context).await)
}

/// The `on_rotate` run owed for `credential` (recorded by a rotation whose
/// hook did not succeed), if any.
pub fn owed(journal: &Journal, credential: &Credential) -> Option<PendingHook> {
    match PendingHooks::at(journal.state_dir()).get(&journal.key(credential)) {
        Ok(owed) => owed,
        Err(err) => {
            warn!(credential = %credential.name, error = %error_chain(&err), "pending hook record unreadable");
            None
        }
    }
}

/// How an owed `on_rotate` run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwedRun {
    /// It succeeded (or the policy has no `on_rotate` now): nothing is owed;
    /// the retirement that waited for it is due then, if any.
    Done(Option<DateTime<Utc>>),
    /// Every attempt failed: still owed.
    Failed,
}

/// Runs an owed `on_rotate` (the policy's current argv; none left: it is
/// dropped). When it succeeds, the retirement that waited for it starts.
pub async fn run_owed(
    aws: &Aws,
    journal: &Journal,
    credential: &Credential,
    owed: PendingHook,
) -> OwedRun {
    let succeeded = match credential.on_rotate() {
        Some((argv, timeout)) => {
            info!(credential = %credential.name, version = %owed.version_id, since = %owed.rotated_at, "running the on_rotate hook a previous run owed");
            hooks::run(Hook::OnRotate, argv, timeout, &owed.context())
                .await
                .succeeded()
        }
        None => {
            info!(credential = %credential.name, "an owed on_rotate run is dropped: the policy has no on_rotate for it now");
            true
        }
    };
    if !succeeded {
        return OwedRun::Failed;
    }
    OwedRun::Done(
        settle(aws, journal, credential, &owed.version_id)
            .await
            .and_then(|(_, delete_after, _)| delete_after),
    )
}

/// Warns about owed `on_rotate` runs that no credential of `policy` claims
/// (its credential was removed from the policy, or its AWS scope changed):
/// nobody will run them, so an operator must.
pub fn warn_unclaimed(journal: &Journal, policy: &Policy) {
    let records = PendingHooks::at(journal.state_dir());
    for (record, read) in records.unclaimed(journal, &policy.credentials) {
        match read {
            Ok(owed) => warn!(
                credential = %owed.credential,
                secret = %owed.secret,
                version = %owed.version_id,
                since = %owed.rotated_at,
                record = %record.display(),
                "an on_rotate hook is owed, but no credential of this policy (in this AWS scope) claims it, so it will not run: \
                 restore the credential to the policy, or make its consumers read the secret yourself and remove the record"
            ),
            Err(err) => warn!(error = %error_chain(&err), "pending hook record unreadable"),
        }
    }
}

/// The hook for `version_id` is done: its owed record goes, and the
/// retirement deferred for it starts (credential id, deletion time, warning).
async fn settle(
    aws: &Aws,
    journal: &Journal,
    credential: &Credential,
    version_id: &str,
) -> Option<(String, Option<DateTime<Utc>>, Option<String>)> {
    if let Err(err) =
        PendingHooks::at(journal.state_dir()).settle(&journal.key(credential), version_id)
    {
        warn!(credential = %credential.name, error = %error_chain(&err), "cannot clear the owed hook record: the hook runs once more at the next start");
    }
    let (credential_id, after) = retiring::after_hook(aws, journal, credential, version_id).await?;
    Some((credential_id, after.delete_after, after.warning))
}
