//! `rekeyd check [--online]`: validate the policy; online, also confirm
//! read-only that each bot, IAM credential, stage and secret exists and is
//! reachable with the current AWS identity (the audit's probes), and the
//! `[coordination]` lease table with its key.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Result;
use chrono::Utc;
use tokio::task::JoinSet;

use crate::audit::probe::{self, Located};
use crate::audit::status::ProviderView;
use crate::audit::verdict::{Stored, describe, judge};
use crate::aws::{Aws, AwsOverrides, confirm_identity};
use crate::cli::CheckArgs;
use crate::error::error_chain;
use crate::exit;
use crate::lease::{Leases, TableState};
use crate::policy::{Credential, IamStrategy, Policy, Target};
use crate::store::{self, SecretState};

pub async fn run(policy: Policy, config: &Path, args: &CheckArgs) -> Result<ExitCode> {
    let n = policy.credentials.len();
    println!(
        "{}: ok, {n} credential{}",
        config.display(),
        if n == 1 { "" } else { "s" }
    );
    if !args.online {
        return Ok(ExitCode::from(exit::SUCCESS));
    }
    let aws = Arc::new(Aws::build(&policy.aws, AwsOverrides::default()).await);
    let concurrency = policy.daemon.concurrency.get();
    let mut out = std::io::stdout().lock();
    let mut all_ok = confirm_roles(&aws, &mut out).await?;
    let resources = policy.credentials.iter().map(Located::of);
    let answers = probe::look_all(&aws, resources, concurrency).await;
    let secrets = probe_secrets(&aws, &policy).await;
    let mut stored_ids = Vec::with_capacity(secrets.len());
    for (credential, secret) in policy.credentials.iter().zip(&secrets) {
        stored_ids.push(stored_credential_id(&aws, credential, secret).await);
    }
    let now = Utc::now();
    for ((credential, secret), stored_id) in policy.credentials.iter().zip(secrets).zip(stored_ids)
    {
        let stored = Stored {
            credential_id: stored_id.as_deref(),
            token: None,
        };
        let provider = judge(credential, stored, &answers, now);
        let (ok, line) = line(credential, &provider, &secret);
        all_ok &= ok;
        writeln!(out, "{line}")?;
    }
    if let Some(coordination) = &policy.coordination {
        let leases = Leases::new(Arc::clone(&aws), coordination);
        let table = &coordination.dynamodb_table;
        match leases.check_table().await {
            Ok(TableState::Ready) => writeln!(
                out,
                "coordination: ok dynamodb table {table} (partition key credential, String), replica {}",
                leases.replica()
            )?,
            Ok(TableState::Missing) => {
                all_ok = false;
                writeln!(
                    out,
                    "coordination: missing dynamodb table {table} (rekeyd never creates it); create it with:\n  {}",
                    leases.create_table_command()
                )?;
            }
            Ok(TableState::WrongKey(why)) => {
                all_ok = false;
                writeln!(out, "coordination: wrong dynamodb table {table}: {why}")?;
            }
            Err(err) => {
                all_ok = false;
                writeln!(out, "coordination: unreachable {}", error_chain(&err))?;
            }
        }
    }
    out.flush()?;
    Ok(exit::from_success(all_ok))
}

/// Assumes every `[accounts]` role (GetCallerIdentity through it), one
/// line each; `false` when any cannot be assumed.
async fn confirm_roles(aws: &Aws, out: &mut impl Write) -> Result<bool> {
    let mut all_ok = true;
    for clients in aws.roles() {
        let Some(account) = &clients.account else {
            continue;
        };
        match confirm_identity(clients).await {
            Ok(caller) => writeln!(
                out,
                "account {}: ok role {} assumed (caller {caller})",
                account.name, account.role_arn
            )?,
            Err(why) => {
                all_ok = false;
                writeln!(out, "account {}: failed {why}", account.name)?;
            }
        }
    }
    Ok(all_ok)
}

/// The IAM credential id rekeyd stored last, for `overlap` credentials (whose
/// id changes at each rotation, so the policy's is only the first one).
async fn stored_credential_id(
    aws: &Aws,
    credential: &Credential,
    secret: &Result<SecretState, store::StoreError>,
) -> Option<String> {
    let Target::IamServiceCredential(iam) = &credential.target else {
        return None;
    };
    if iam.strategy != IamStrategy::Overlap || !matches!(secret, Ok(SecretState::Exists)) {
        return None;
    }
    let current = store::read_current(aws.secrets(credential), &credential.secret_name)
        .await
        .ok()??;
    current
        .record
        .filter(|r| r.is_written_for(credential.kind(), credential.name.as_str()))
        .and_then(|r| r.credential_id)
}

/// DescribeSecret of each credential's secret, `concurrency` at a time.
async fn probe_secrets(
    aws: &Arc<Aws>,
    policy: &Policy,
) -> Vec<Result<SecretState, store::StoreError>> {
    // At most `concurrency` tasks at once: one per credential at once held
    // each one's future until its turn.
    let concurrency = policy.daemon.concurrency.get();
    let mut results: Vec<Option<Result<SecretState, store::StoreError>>> =
        (0..policy.credentials.len()).map(|_| None).collect();
    let mut tasks = JoinSet::new();
    for (i, credential) in policy.credentials.iter().enumerate() {
        if tasks.len() >= concurrency
            && let Some(Ok((i, result))) = tasks.join_next().await
        {
            results[i] = Some(result);
        }
        let aws = Arc::clone(aws);
        let secret = credential.secret_name.clone();
        let account = credential.secret_account.clone();
        tasks.spawn(async move {
            let clients = aws.account(account.as_deref());
            (i, store::probe(clients, &secret).await)
        });
    }
    while let Some(joined) = tasks.join_next().await {
        if let Ok((i, result)) = joined {
            results[i] = Some(result);
        }
    }
    results
        .into_iter()
        .zip(&policy.credentials)
        .map(|(result, credential)| {
            result.unwrap_or_else(|| {
                Err(store::StoreError::Call {
                    operation: "DescribeSecret",
                    secret: credential.secret_name.clone(),
                    code: "task".to_owned(),
                    detail: "the probe task failed".to_owned(),
                })
            })
        })
        .collect()
}

/// `NAME: ok kind=K ...`, `NAME: missing kind=K ...` or `NAME: unreachable kind=K ...`.
fn line(
    credential: &Credential,
    provider: &ProviderView,
    secret: &Result<SecretState, store::StoreError>,
) -> (bool, String) {
    let name = &credential.name;
    let kind = credential.kind();
    let what = describe(&credential.target);
    let secret_name = &credential.secret_name;
    let secret_text = match secret {
        Ok(SecretState::Exists) => format!("secret {secret_name} exists"),
        Ok(SecretState::Missing) => format!(
            "secret {secret_name} does not exist yet (rekeyd creates it at the first rotation)"
        ),
        Err(err) => format!("secret {secret_name}: {}", error_chain(err)),
    };
    match (provider, secret) {
        (ProviderView::Drift(why), _) => (
            false,
            format!("{name}: missing kind={kind} {why}; {secret_text}"),
        ),
        (ProviderView::Expired(why), _) => (
            false,
            format!("{name}: expired kind={kind} {why}; {secret_text}"),
        ),
        (ProviderView::Unreachable(why), _) => (
            false,
            format!("{name}: unreachable kind={kind} {what}: {why}; {secret_text}"),
        ),
        (_, Err(_)) => (
            false,
            format!("{name}: unreachable kind={kind} {what} exists; {secret_text}"),
        ),
        _ => (
            true,
            format!("{name}: ok kind={kind} {what} exists; {secret_text}"),
        ),
    }
}
