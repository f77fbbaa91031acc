//! `rekeyd plan`: every credential's next rotation time and why, from the
//! schedule and what Secrets Manager holds (read-only); with
//! `[coordination]`, each credential's lease holder.

use std::collections::HashMap;
use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Result;
use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::task::{JoinError, JoinSet};

use crate::aws::{Aws, AwsOverrides};
use crate::cli::{OutputFormat, PlanArgs};
use crate::daemon::last_of_read;
use crate::daemon::timing::{self, Last, Reason};
use crate::exit;
use crate::journal::Journal;
use crate::lease::{LeaseError, LeaseItem, Leases};
use crate::policy::{Credential, Policy, Schedule, Target};
use crate::record::format_time;
use crate::retiring;
use crate::stored::{self, Read};

/// One credential's plan.
#[derive(Debug, Serialize)]
struct Planned {
    name: String,
    kind: &'static str,
    secret: String,
    /// The `[accounts]` name provider calls run as; `null`: rekeyd's own identity.
    account: Option<String>,
    /// The `[accounts]` name the secret lives in; `null`: rekeyd's own identity.
    secret_account: Option<String>,
    /// RFC 3339; `null` when the secret could not be read.
    next_rotation: Option<String>,
    /// Why then: cron, interval, token expiry, missing, ...
    reason: String,
    /// The schedule as written.
    schedule: String,
    last_rotated: Option<String>,
    expires_at: Option<String>,
    /// The daemon adds up to this much at random (IVS: takes it off).
    jitter: String,
    error: Option<String>,
    /// IAM `overlap` with `retire_grace`: the old credential awaiting
    /// deletion (from this host's state directory).
    retiring: Option<PlannedRetirement>,
    /// `[coordination]`: the replica holding the credential's lease now
    /// (`null`: free, or no coordination).
    lease_holder: Option<String>,
}

#[derive(Debug, Serialize)]
struct PlannedRetirement {
    credential_id: String,
    delete_after: String,
    /// It starts only once the credential's `on_rotate` hook succeeded
    /// (`delete_after` is then not set yet).
    waiting_for_on_rotate: bool,
}

#[derive(Debug, Serialize)]
struct Plan {
    planned_at: String,
    credentials: Vec<Planned>,
}

pub async fn run(policy: Policy, args: &PlanArgs) -> Result<ExitCode> {
    let aws = Arc::new(Aws::build(&policy.aws, AwsOverrides::default()).await);
    let now = Utc::now();
    let journal = Journal::existing(policy.daemon.state_dir.as_deref(), &policy.aws.scope());
    let concurrency = policy.daemon.concurrency.get();
    // The secrets in batches of 20 per account, as the daemon reads them.
    let mut reads = stored::read_all(&aws, &policy.credentials, concurrency).await;
    let mut retirements = match &journal {
        Some(journal) => retiring::pending_of(journal, &policy.credentials),
        None => HashMap::new(),
    };
    let mut planned: Vec<Planned> = policy
        .credentials
        .iter()
        .map(|credential| {
            let secret = credential.secret_name.clone();
            let read = reads.remove(&secret).unwrap_or(Read::Failed {
                operation: "BatchGetSecretValue",
                code: "unanswered".to_owned(),
                detail: "not read".to_owned(),
            });
            let last = last_of_read(credential, secret, read);
            let mut planned = plan_one(
                credential,
                last.map_err(|e| crate::error::error_chain(&e)),
                now,
            );
            planned.retiring = retirements
                .remove(&credential.name)
                .map(|r| PlannedRetirement {
                    credential_id: r.credential_id,
                    delete_after: format_time(r.delete_after),
                    waiting_for_on_rotate: r.awaiting_hook.is_some(),
                });
            planned
        })
        .collect();
    if let Some(coordination) = &policy.coordination {
        let leases = Leases::new(Arc::clone(&aws), coordination);
        read_lease_holders(&leases, &policy.credentials, &mut planned, concurrency).await?;
    }
    let plan = Plan {
        planned_at: format_time(now),
        credentials: planned,
    };
    let all_read = plan.credentials.iter().all(|p| p.error.is_none());
    // Buffered: stdout alone writes each line on its own.
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    match args.format {
        OutputFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &plan)?;
            writeln!(out)?;
        }
        OutputFormat::Table => write_table(&mut out, &plan, now)?,
    }
    out.flush()?;
    Ok(exit::from_success(all_read))
}

/// Who holds each credential's lease now, `concurrency` reads at a time.
async fn read_lease_holders(
    leases: &Leases,
    credentials: &[Credential],
    planned: &mut [Planned],
    concurrency: usize,
) -> Result<()> {
    let mut reads = JoinSet::new();
    let mut settle = |joined: Result<(usize, Result<Option<LeaseItem>, LeaseError>), JoinError>| {
        let (index, read) = joined?;
        match read {
            Ok(item) => {
                planned[index].lease_holder = item.filter(|i| !i.released).map(|i| i.owner);
            }
            Err(err) => planned[index].error = Some(err.to_string()),
        }
        Ok::<_, JoinError>(())
    };
    for (index, credential) in credentials.iter().enumerate() {
        if reads.len() >= concurrency
            && let Some(joined) = reads.join_next().await
        {
            settle(joined)?;
        }
        let leases = leases.clone();
        let name = credential.name.clone();
        reads.spawn(async move { (index, leases.read(name.as_str()).await) });
    }
    while let Some(joined) = reads.join_next().await {
        settle(joined)?;
    }
    Ok(())
}

fn plan_one(credential: &Credential, last: Result<Last, String>, now: DateTime<Utc>) -> Planned {
    let mut planned = Planned {
        name: credential.name.to_string(),
        kind: credential.kind().as_str(),
        secret: credential.secret_name.clone(),
        account: credential.account.as_ref().map(|a| a.name.clone()),
        secret_account: credential.secret_account.as_ref().map(|a| a.name.clone()),
        next_rotation: None,
        reason: String::new(),
        schedule: describe_schedule(credential),
        last_rotated: None,
        expires_at: None,
        jitter: humantime::format_duration(credential.jitter).to_string(),
        error: None,
        retiring: None,
        lease_holder: None,
    };
    match last {
        Err(error) => {
            planned.reason = "cannot read the secret".into();
            planned.error = Some(error);
        }
        Ok(last) => {
            if let Last::Rotated { at, expires_at } = last {
                planned.last_rotated = Some(format_time(at));
                planned.expires_at = expires_at.map(format_time);
            }
            let due = timing::first_due_for(credential, last, now);
            planned.next_rotation = Some(format_time(due.at));
            planned.reason = match due.reason {
                Reason::Missing => "no secret yet: rotated at daemon start".into(),
                Reason::Foreign => {
                    "the secret holds something rekeyd did not write: rotated at daemon start"
                        .into()
                }
                other => other.to_string(),
            };
        }
    }
    planned
}

/// The rules that set the credential's times: its schedule, and for an
/// `overlap` IAM credential the rotation ahead of its key's expiry.
fn describe_schedule(credential: &Credential) -> String {
    let schedule = describe_timing(&credential.schedule);
    match &credential.target {
        Target::IamServiceCredential(iam) if iam.renews_expiry() => format!(
            "{schedule}, or {} before the key expires, whichever comes first",
            iam.refresh_before
        ),
        _ => schedule,
    }
}

fn describe_timing(schedule: &Schedule) -> String {
    match schedule {
        Schedule::Cron(cron) => format!("cron \"{}\" ({})", cron.expression, cron.timezone),
        Schedule::Every(every) => format!("every {}", humantime::format_duration(*every)),
        Schedule::BeforeExpiry { refresh_before } => {
            format!(
                "{} before token expiry",
                humantime::format_duration(*refresh_before)
            )
        }
    }
}

fn write_table(out: &mut impl Write, plan: &Plan, now: DateTime<Utc>) -> std::io::Result<()> {
    let name_width = plan
        .credentials
        .iter()
        .map(|p| p.name.len())
        .max()
        .unwrap_or(4)
        .max(4);
    // The ACCOUNT column, after KIND, when any credential has one.
    let accounts: Vec<String> = plan.credentials.iter().map(account_cell).collect();
    let account_width = (plan.credentials.iter())
        .any(|p| p.account.is_some() || p.secret_account.is_some())
        .then(|| accounts.iter().map(String::len).max().unwrap_or(0).max(7));
    let account_column = |cell: &str| match account_width {
        Some(width) => format!("{cell:<width$}  "),
        None => String::new(),
    };
    writeln!(
        out,
        "{:<name_width$}  {:<22}  {}{:<20}  {:<12}  WHY",
        "NAME",
        "KIND",
        account_column("ACCOUNT"),
        "NEXT ROTATION",
        "IN"
    )?;
    for (p, account) in plan.credentials.iter().zip(&accounts) {
        let next = p.next_rotation.as_deref().unwrap_or("-");
        let wait = p
            .next_rotation
            .as_deref()
            .and_then(|t| t.parse::<DateTime<Utc>>().ok())
            .map_or("-".to_owned(), |t| until(t, now));
        let why = match &p.error {
            Some(error) => format!("{}: {error}", p.reason),
            None => format!("{} [{}]", p.reason, p.schedule),
        };
        let why = match &p.retiring {
            Some(r) if r.waiting_for_on_rotate => format!(
                "{why}; old credential {} stays Active until on_rotate succeeds",
                r.credential_id
            ),
            Some(r) => format!(
                "{why}; old credential {} deleted after {}",
                r.credential_id, r.delete_after
            ),
            None => why,
        };
        let why = match &p.lease_holder {
            Some(holder) => format!("{why}; lease held by {holder}"),
            None => why,
        };
        writeln!(
            out,
            "{:<name_width$}  {:<22}  {}{:<20}  {:<12}  {why}",
            p.name,
            p.kind,
            account_column(account),
            next,
            wait
        )?;
    }
    Ok(())
}

/// `media`, `media/security` when the secret lives in another account, `-`
/// for rekeyd's own identity.
fn account_cell(planned: &Planned) -> String {
    let provider = planned.account.as_deref().unwrap_or("-");
    match planned.secret_account.as_deref().unwrap_or("-") {
        secrets if secrets == provider => provider.to_owned(),
        secrets => format!("{provider}/{secrets}"),
    }
}

/// `now`, or a rounded humantime span such as `2h 5m`.
fn until(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (at - now).num_seconds();
    if secs <= 0 {
        return "now".into();
    }
    let secs = u64::try_from(secs).unwrap_or(0);
    let rounded = if secs >= 86_400 {
        secs / 3600 * 3600
    } else if secs >= 3600 {
        secs / 60 * 60
    } else {
        secs
    };
    humantime::format_duration(std::time::Duration::from_secs(rounded)).to_string()
}
