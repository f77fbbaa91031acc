//! `rekeyd audit`: the state of every credential, read-only and stateless.
//!
//! Secrets Manager is read in batches (`secrets`), providers are probed once
//! per resource unless offline (`probe`, `verdict`), and each credential is
//! judged by a pure function of schedule, stored record and clock (`status`).
//! `report` and `table` shape the result.

pub mod probe;
mod replicas;
pub mod report;
pub mod status;
pub mod table;
pub mod verdict;

#[cfg(test)]
mod status_tests;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;

use crate::aws::Aws;
use crate::policy::{Credential, Policy};
use crate::stored::{self as secrets, Read};
use report::{Entry, Report, Unmanaged};
use status::{ProviderView, SecretView, Status};

/// Default time past a scheduled rotation (beyond its jitter) before it is overdue.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(15 * 60);

/// How to audit.
#[derive(Debug, Clone)]
pub struct Options {
    /// Ask no provider: Secrets Manager only.
    pub offline: bool,
    /// Time past a scheduled rotation, beyond its jitter, before it counts as overdue.
    pub grace: Duration,
    /// Judge times as of this instant (the demo: when its daemons stopped);
    /// `None`: now.
    pub at: Option<chrono::DateTime<Utc>>,
}

/// Audits every credential of `policy`.
pub async fn audit(aws: Arc<Aws>, policy: &Policy, options: &Options) -> Report {
    let concurrency = policy.daemon.concurrency.get();
    let listing = tokio::spawn({
        let aws = Arc::clone(&aws);
        let accounts = secret_accounts(&policy.credentials);
        async move {
            let mut tagged = Vec::new();
            for account in accounts {
                tagged.extend(secrets::list_tagged(aws.account_named(account.as_deref())).await?);
            }
            Ok::<_, secrets::SecretsError>(tagged)
        }
    });
    let reads = secrets::read_all(&aws, &policy.credentials, concurrency).await;
    let views: Vec<SecretView> = policy
        .credentials
        .iter()
        .map(|c| view(c, reads.get(&c.secret_name)))
        .collect();

    let answers = if options.offline {
        HashMap::new()
    } else {
        let resources = policy
            .credentials
            .iter()
            .zip(&views)
            .filter(|(_, v)| matches!(v, SecretView::Rekeyd(_)))
            .map(|(c, _)| probe::Located::of(c));
        probe::look_all(&aws, resources, concurrency).await
    };

    let replica_states = replicas::read_all(&aws, &policy.credentials, &views, concurrency).await;
    let now = options.at.unwrap_or_else(Utc::now);
    let entries = policy
        .credentials
        .iter()
        .zip(&views)
        .map(|(credential, secret)| {
            let provider = match secret {
                SecretView::Rekeyd(record) if !options.offline => {
                    let stored_id = record.credential_id.as_deref();
                    let view = verdict::judge(
                        credential,
                        verdict::Stored {
                            credential_id: stored_id,
                            token: record.security_token.as_ref(),
                        },
                        &answers,
                        now,
                    );
                    let waiting = (view == ProviderView::Fine && credential.on_rotate().is_some())
                        .then(|| verdict::retirement_waiting(credential, stored_id, &answers))
                        .flatten();
                    waiting.map_or(view, ProviderView::Drift)
                }
                _ => ProviderView::NotChecked,
            };
            let assessment = status::assess(credential, secret, &provider, now, options.grace);
            let assessment = match replica_states.get(&credential.secret_name) {
                Some(states) => replicas::judge(credential, assessment, states),
                None => assessment,
            };
            Entry::new(credential, assessment)
        })
        .collect();

    let unmanaged = match listing.await {
        Ok(Ok(tagged)) => orphans(policy, tagged),
        Ok(Err(err)) => vec![listing_failed(err.to_string())],
        Err(err) => vec![listing_failed(format!("the listing task failed: {err}"))],
    };
    Report::new(now, options.offline, entries, unmanaged)
}

/// The accounts the credentials' secrets live in, each once (`None`:
/// rekeyd's own), for the listing of tagged secrets.
fn secret_accounts(credentials: &[Credential]) -> Vec<Option<String>> {
    let mut accounts: Vec<Option<String>> = credentials
        .iter()
        .map(|c| c.secret_account.as_ref().map(|a| a.name.clone()))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    if accounts.is_empty() {
        accounts.push(None);
    }
    accounts.sort();
    accounts
}

/// What one read means for `credential`.
fn view(credential: &Credential, read: Option<&Read>) -> SecretView {
    let secret = &credential.secret_name;
    match read {
        None => SecretView::Unreadable(format!("secret {secret} was not read")),
        Some(Read::NotFound) => SecretView::NotFound,
        Some(Read::Failed { code, detail, .. }) => SecretView::Unreadable(format!(
            "cannot read secret {secret} ({code}): {detail}; the audit needs secretsmanager:GetSecretValue and BatchGetSecretValue on it"
        )),
        Some(Read::Value(record)) => SecretView::from_record(credential, record.clone()),
    }
}

/// Tagged secrets that no policy credential's secret is.
fn orphans(policy: &Policy, tagged: Vec<secrets::Tagged>) -> Vec<Unmanaged> {
    let claimed: HashSet<&str> = policy
        .credentials
        .iter()
        .map(|c| c.secret_name.as_str())
        .collect();
    let mut found: Vec<Unmanaged> = tagged
        .into_iter()
        .filter(|t| {
            !claimed.contains(t.secret.as_str())
                && !t.arn.as_deref().is_some_and(|a| claimed.contains(a))
        })
        .map(|t| Unmanaged {
            detail: format!(
                "secret {} is tagged rekeyd:credential={} but no credential in {} uses it: add it to the policy, or delete the secret if it is no longer needed",
                t.secret,
                t.credential,
                policy.source.display()
            ),
            secret: Some(t.secret),
            credential: Some(t.credential),
            kind: t.kind,
            status: Status::Unmanaged,
        })
        .collect();
    found.sort_by(|a, b| a.secret.cmp(&b.secret));
    found
}

fn listing_failed(detail: String) -> Unmanaged {
    Unmanaged {
        secret: None,
        credential: None,
        kind: None,
        status: Status::Error,
        detail: format!(
            "cannot look for unmanaged secrets: {detail}; the audit needs secretsmanager:ListSecrets"
        ),
    }
}
