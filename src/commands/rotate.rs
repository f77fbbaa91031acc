//! `rekeyd rotate NAME... | --all [--dry-run]`: rotate now, one line each.

use std::collections::{BTreeSet, HashSet};
use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Result;
use tokio::task::JoinSet;
use tracing::info;

use crate::aws::{Aws, AwsOverrides};
use crate::cli::RotateArgs;
use crate::consumers::{self, HookMode};
use crate::error::error_chain;
use crate::exit::{self, UsageError};
use crate::hooks::HookResult;
use crate::journal::Journal;
use crate::lease::Leases;
use crate::policy::{Credential, Policy};
use crate::providers::planned_call;
use crate::rotation::{self, Coordinated, Rotated, RotationError};

pub async fn run(policy: Policy, args: &RotateArgs) -> Result<ExitCode> {
    let chosen = select(&policy, args)?;
    if args.dry_run {
        let mut out = std::io::stdout().lock();
        for credential in &chosen {
            writeln!(out, "{}", dry_run_line(credential, args.no_hooks))?;
        }
        return Ok(ExitCode::from(exit::SUCCESS));
    }
    let journal = Journal::open(policy.daemon.state_dir.as_deref(), &policy.aws.scope())?;
    report_in_doubt(&journal, &policy, &chosen);
    let aws = Arc::new(Aws::build(&policy.aws, AwsOverrides::default()).await);
    let leases = (policy.coordination.as_ref()).map(|c| Leases::new(Arc::clone(&aws), c));
    let hooks = if args.no_hooks {
        HookMode::Skip
    } else {
        HookMode::Run
    };
    let all_ok = rotate_all(
        aws,
        journal,
        leases,
        chosen,
        policy.daemon.concurrency.get(),
        hooks,
    )
    .await?;
    Ok(exit::from_success(all_ok))
}

/// The credentials named on the command line, in policy order; every unknown
/// name is a usage error naming them all.
fn select(policy: &Policy, args: &RotateArgs) -> Result<Vec<Arc<Credential>>, UsageError> {
    if args.all {
        return Ok(policy.credentials.iter().cloned().map(Arc::new).collect());
    }
    let wanted: BTreeSet<&str> = args.names.iter().map(String::as_str).collect();
    // One set of the policy's names: a lookup per name, not a scan.
    let known: HashSet<&str> = policy.credentials.iter().map(|c| c.name.as_str()).collect();
    let unknown: Vec<&str> = wanted
        .iter()
        .copied()
        .filter(|name| !known.contains(name))
        .collect();
    if !unknown.is_empty() {
        return Err(UsageError(format!(
            "{} has no credential named {} (it has: {})",
            policy.source.display(),
            unknown.join(", "),
            some_names(policy)
        )));
    }
    Ok(policy
        .credentials
        .iter()
        .filter(|c| wanted.contains(c.name.as_str()))
        .cloned()
        .map(Arc::new)
        .collect())
}

/// The policy's credential names for a message: all of them, or the first
/// [`LISTED_NAMES`] and how many more (a large fleet's would fill screens).
fn some_names(policy: &Policy) -> String {
    let names = &policy.credentials;
    if names.is_empty() {
        return "none".to_owned();
    }
    let listed: Vec<&str> = names
        .iter()
        .take(LISTED_NAMES)
        .map(|c| c.name.as_str())
        .collect();
    match names.len().saturating_sub(LISTED_NAMES) {
        0 => listed.join(", "),
        more => format!(
            "{}, and {more} more: `rekeyd plan` lists them",
            listed.join(", ")
        ),
    }
}

/// How many names a usage error lists.
const LISTED_NAMES: usize = 20;

/// Rotates each credential, `concurrency` at a time, then runs its hook,
/// printing a line as each finishes. True when all succeeded (their
/// `on_rotate` too). A task is spawned only when a place is free: a
/// rotation's future is large (the SDK calls it awaits), and 100,000 of them
/// waiting at once cost memory, page faults and cache misses that made each
/// rotation slower the larger the fleet.
async fn rotate_all(
    aws: Arc<Aws>,
    journal: Journal,
    leases: Option<Leases>,
    chosen: Vec<Arc<Credential>>,
    concurrency: usize,
    hooks: HookMode,
) -> Result<bool> {
    let mut waiting = chosen.into_iter();
    let mut tasks = JoinSet::new();
    let (mut rotated, mut failed) = (0usize, 0usize);
    loop {
        while tasks.len() < concurrency.max(1) {
            let Some(credential) = waiting.next() else {
                break;
            };
            let aws = Arc::clone(&aws);
            let journal = journal.clone();
            let leases = leases.clone();
            tasks.spawn(async move {
                // A lease held elsewhere is waited for up to one lease
                // duration (a dead holder's goes stale in that time).
                let coordinated = leases.as_ref().map(|leases| Coordinated {
                    leases,
                    wait: leases.lease() + leases.lease() / 10,
                    still_due: None,
                });
                let mut result = rotation::rotate(&aws, &journal, &credential, coordinated).await;
                let hook = consumers::follow(&aws, &journal, &credential, &mut result, hooks).await;
                (credential, result, hook)
            });
        }
        let Some(joined) = tasks.join_next().await else {
            break;
        };
        let (credential, result, hook) = joined?;
        match (&result, &hook) {
            (Ok(_), Some(HookResult::Failed { .. })) | (Err(_), _) => failed += 1,
            (Ok(_), _) => rotated += 1,
        }
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}", result_line(&credential, &result, hook.as_ref()))?;
        out.flush()?;
    }
    info!(rotated, failed, "rotate finished");
    Ok(failed == 0)
}

/// Says which of the policy's in-doubt rotations this run does not redo.
fn report_in_doubt(journal: &Journal, policy: &Policy, chosen: &[Arc<Credential>]) {
    let recovered = journal.recover();
    for corrupt in recovered.corrupt {
        tracing::error!(entry = %corrupt, "unreadable journal entry");
    }
    if recovered.in_doubt.is_empty() {
        return;
    }
    let chosen: HashSet<&str> = chosen.iter().map(|c| c.name.as_str()).collect();
    let claims = journal.claims(&policy.credentials);
    for (key, intent) in recovered.in_doubt {
        let Some(credential) = claims.get(key.as_str()) else {
            continue;
        };
        if !chosen.contains(credential.name.as_str()) {
            tracing::warn!(
                credential = %credential.name,
                since = %intent.started_at,
                "an earlier rotation is in doubt: `rekeyd rotate {}` or a daemon start redoes it",
                credential.name
            );
        }
    }
}

/// `NAME: rotated kind=K secret=S version=V` or `NAME: failed kind=K
/// error=...`, then `hook=ok|failed` when a hook ran.
pub fn result_line(
    credential: &Credential,
    result: &Result<Rotated, RotationError>,
    hook: Option<&HookResult>,
) -> String {
    let mut line = outcome_line(credential, result);
    if let Some(hook) = hook {
        line.push_str(" hook=");
        line.push_str(hook.label());
    }
    line
}

fn outcome_line(credential: &Credential, result: &Result<Rotated, RotationError>) -> String {
    let name = &credential.name;
    let kind = credential.kind();
    match result {
        Ok(done) => {
            let mut line = format!(
                "{name}: rotated kind={kind} secret={} version={}",
                done.secret, done.version_id
            );
            if done.created {
                line.push_str(" created=true");
            }
            if let Some(retiring) = &done.retiring {
                line.push_str(&format!(
                    " retiring={} delete_after={}",
                    retiring.credential_id,
                    crate::record::format_time(retiring.delete_after)
                ));
            }
            if let Some(warning) = &done.warning {
                line.push_str(&format!(" warning={warning:?}"));
            }
            if let Some(expires) = done.expires_at {
                line.push_str(&format!(
                    " expires_at={}",
                    crate::record::format_time(expires)
                ));
            }
            line
        }
        Err(err) => {
            let status = if err.is_in_doubt() {
                "in-doubt"
            } else {
                "failed"
            };
            format!("{name}: {status} kind={kind} error={}", error_chain(err))
        }
    }
}

fn dry_run_line(credential: &Credential, no_hooks: bool) -> String {
    let mut line = format!(
        "{}: dry-run kind={} would call {}, then store the new secret in {} (secretsmanager:PutSecretValue, or CreateSecret when missing)",
        credential.name,
        credential.kind(),
        planned_call(credential),
        credential.secret_name
    );
    for (hook, when, argv) in [
        ("on_rotate", "then", credential.on_rotate()),
        ("on_failure", "if it fails", credential.on_failure()),
    ] {
        let Some((argv, timeout)) = argv else {
            continue;
        };
        if no_hooks {
            line.push_str(&format!(", skip {hook} (--no-hooks)"));
        } else {
            line.push_str(&format!(
                ", {when} run {hook} {argv:?} (timeout {})",
                humantime::format_duration(timeout)
            ));
        }
    }
    if credential.account.is_none() && credential.secret_account.is_none() {
        return line;
    }
    // With [accounts]: the roles the calls run as.
    let role = |account: Option<&crate::policy::Account>| {
        account.map_or("rekeyd's own credentials".to_owned(), |a| {
            format!("account {} (role {})", a.name, a.role_arn)
        })
    };
    format!(
        "{line}; provider call as {}, secret in {}",
        role(credential.account.as_deref()),
        role(credential.secret_account.as_deref())
    )
}
