//! What Secrets Manager holds, as the daemon's start and `audit` read it:
//! AWSCURRENT of every credential's secret in batches of 20
//! (BatchGetSecretValue), and the secrets tagged
//! `rekeyd:credential` (ListSecrets with a `tag-key` filter), through the
//! rate-limited gate. Values are wrapped in [`secrecy::SecretString`] at once and
//! parsed into [`StoredRecord`] only.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Poll;

use aws_sdk_secretsmanager::types::{Filter, FilterNameStringType, SecretValueEntry};
use secrecy::ExposeSecret;

use crate::aws::{AccountClients, Aws, RetryPolicy};
use crate::policy::Credential;
use crate::record::StoredRecord;
use crate::secret;
use crate::store::{self, TAG_CREDENTIAL, TAG_KIND};

/// BatchGetSecretValue takes at most this many ids per call.
pub const BATCH_SIZE: usize = 20;
/// ListSecrets' largest page.
const LIST_PAGE: i32 = 100;

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("secretsmanager ListSecrets (tag-key {TAG_CREDENTIAL}) failed: {detail}")]
    List { code: String, detail: String },
}

/// One secret's AWSCURRENT, as far as the audit needs it.
#[derive(Debug, Clone, PartialEq)]
pub enum Read {
    /// No such secret (or no AWSCURRENT version).
    NotFound,
    /// The value: `None` when it is not rekeyd's JSON (or is binary).
    Value(Option<StoredRecord>),
    /// This secret could not be read: by which call, its code and message.
    Failed {
        operation: &'static str,
        code: String,
        detail: String,
    },
}

/// A secret tagged `rekeyd:credential`, as ListSecrets describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tagged {
    pub secret: String,
    pub arn: Option<String>,
    /// The `rekeyd:credential` tag's value.
    pub credential: String,
    /// The `rekeyd:kind` tag's value, if any.
    pub kind: Option<String>,
}

/// Reads every credential's secret in its account, [`BATCH_SIZE`] per call
/// and `concurrency` calls at a time: the value read by secret name (every
/// one of them is there, read or failed).
pub async fn read_all(
    aws: &Aws,
    credentials: &[Credential],
    concurrency: usize,
) -> HashMap<String, Read> {
    // Secret names are unique in the policy; each is read in its account.
    let mut seen = HashSet::new();
    let mut by_account: HashMap<Option<String>, Vec<String>> = HashMap::new();
    for credential in credentials {
        if seen.insert(credential.secret_name.as_str()) {
            let account = credential.secret_account.as_ref().map(|a| a.name.clone());
            (by_account.entry(account).or_default()).push(credential.secret_name.clone());
        }
    }
    let mut reads = HashMap::with_capacity(seen.len());
    for (account, ids) in &by_account {
        read_batches(
            aws.account_named(account.as_deref()),
            ids,
            concurrency,
            |batch| reads.extend(batch),
        )
        .await;
    }
    reads
}

/// Reads the AWSCURRENT value of every secret in `ids`, [`BATCH_SIZE`] per
/// call and `concurrency` calls in flight, through `aws`' Secrets Manager
/// client and its gate (one account's);
/// hands each batch's reads to `each` as it arrives (in no particular order).
pub async fn read_batches(
    aws: &AccountClients,
    ids: &[String],
    concurrency: usize,
    each: impl FnMut(HashMap<String, Read>) + Send,
) {
    let batches: Vec<&[String]> = ids.chunks(BATCH_SIZE).collect();
    let next = AtomicUsize::new(0);
    let each = Mutex::new(each);
    let worker = || async {
        while let Some(batch) = batches.get(next.fetch_add(1, Ordering::Relaxed)) {
            let reads = read_batch(aws, batch).await;
            (each.lock().expect("batch sink lock"))(reads);
        }
    };
    join_all(
        (0..concurrency.clamp(1, batches.len().max(1)))
            .map(|_| worker())
            .collect(),
    )
    .await;
}

/// Runs `futures` concurrently on the calling task until all are done (a
/// handful, each polled on every wake-up).
async fn join_all<F: Future<Output = ()>>(futures: Vec<F>) {
    let mut futures: Vec<Option<Pin<Box<F>>>> =
        futures.into_iter().map(|f| Some(Box::pin(f))).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for slot in &mut futures {
            if let Some(future) = slot {
                if future.as_mut().poll(cx).is_ready() {
                    *slot = None;
                } else {
                    pending = true;
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
}

/// Reads the AWSCURRENT value of up to [`BATCH_SIZE`] secrets in one call.
/// When the batch call itself fails (no permission for it, say), each secret
/// is read on its own with GetSecretValue, so one bad id never hides others.
pub async fn read_batch(aws: &AccountClients, ids: &[String]) -> HashMap<String, Read> {
    let answer = aws
        .gates
        .secretsmanager
        .call("BatchGetSecretValue", RetryPolicy::PROVIDER, || {
            aws.secretsmanager
                .batch_get_secret_value()
                .set_secret_id_list(Some(ids.to_vec()))
                .send()
        })
        .await;
    let out = match answer {
        Ok(out) => out,
        Err(err) => {
            tracing::debug!(code = %err.code, error = %err.detail, secrets = ids.len(), "BatchGetSecretValue failed; reading one by one");
            return read_each(aws, ids).await;
        }
    };
    let mut found = HashMap::with_capacity(ids.len());
    let mut not_current = Vec::new();
    for entry in out.secret_values.unwrap_or_default() {
        let current = entry
            .version_stages
            .as_ref()
            .is_none_or(|stages| stages.iter().any(|s| s == "AWSCURRENT"));
        let (names, record) = parse_entry(entry);
        if let Some(id) = ids.iter().find(|id| names.iter().any(|n| n == *id)) {
            if current {
                found.insert(id.clone(), Read::Value(record));
            } else {
                not_current.push(id.clone());
            }
        }
    }
    // The batch answers each secret's AWSCURRENT version on AWS; an answer
    // of another version (moto after a stage move) is read again by stage.
    if !not_current.is_empty() {
        tracing::debug!(
            secrets = not_current.len(),
            "BatchGetSecretValue answered versions that are not AWSCURRENT; reading those by stage"
        );
        found.extend(read_each(aws, &not_current).await);
    }
    for error in out.errors.unwrap_or_default() {
        let Some(id) = error.secret_id else { continue };
        let code = error.error_code.unwrap_or_else(|| "unknown".to_owned());
        let read = if code == "ResourceNotFoundException" {
            Read::NotFound
        } else {
            Read::Failed {
                operation: "BatchGetSecretValue",
                code,
                detail: error.message.unwrap_or_default(),
            }
        };
        found.insert(id, read);
    }
    for id in ids {
        found.entry(id.clone()).or_insert_with(|| Read::Failed {
            operation: "BatchGetSecretValue",
            code: "unanswered".to_owned(),
            detail: "BatchGetSecretValue returned neither a value nor an error for it".to_owned(),
        });
    }
    found
}

/// The secret's name and ARN, and its value parsed; the raw value is held as
/// a [`secrecy::SecretString`] (zeroized when dropped) and never leaves this function.
fn parse_entry(mut entry: SecretValueEntry) -> (Vec<String>, Option<StoredRecord>) {
    let value = entry.secret_string.take().map(secret::take);
    secret::discard(entry.secret_binary.take());
    let record = value
        .as_ref()
        .and_then(|v| StoredRecord::parse(v.expose_secret()));
    let names = [entry.name, entry.arn].into_iter().flatten().collect();
    (names, record)
}

async fn read_each(aws: &AccountClients, ids: &[String]) -> HashMap<String, Read> {
    let mut found = HashMap::with_capacity(ids.len());
    for id in ids {
        let read = match store::read_current(aws, id).await {
            Ok(None) => Read::NotFound,
            Ok(Some(current)) => Read::Value(current.record),
            Err(store::StoreError::Call {
                operation,
                code,
                detail,
                ..
            }) => Read::Failed {
                operation,
                code,
                detail,
            },
            Err(err) => Read::Failed {
                operation: "GetSecretValue",
                code: "error".to_owned(),
                detail: err.to_string(),
            },
        };
        found.insert(id.clone(), read);
    }
    found
}

/// Every secret tagged `rekeyd:credential` (not those scheduled for deletion).
pub async fn list_tagged(aws: &AccountClients) -> Result<Vec<Tagged>, SecretsError> {
    let filter = Filter::builder()
        .key(FilterNameStringType::TagKey)
        .values(TAG_CREDENTIAL)
        .build();
    let mut tagged = Vec::new();
    let mut next_token: Option<String> = None;
    loop {
        let page = aws
            .gates
            .secretsmanager
            .call("ListSecrets", RetryPolicy::PROVIDER, || {
                aws.secretsmanager
                    .list_secrets()
                    .filters(filter.clone())
                    .max_results(LIST_PAGE)
                    .set_next_token(next_token.clone())
                    .send()
            })
            .await
            .map_err(|err| SecretsError::List {
                code: err.code.clone(),
                detail: err.detail.clone(),
            })?;
        for entry in page.secret_list.unwrap_or_default() {
            let tags = entry.tags.unwrap_or_default();
            let tag = |key: &str| {
                tags.iter()
                    .find(|t| t.key.as_deref() == Some(key))
                    .and_then(|t| t.value.clone())
            };
            // The filter matches key prefixes: keep the exact key only.
            let (Some(name), Some(credential)) = (entry.name, tag(TAG_CREDENTIAL)) else {
                continue;
            };
            tagged.push(Tagged {
                secret: name,
                arn: entry.arn,
                credential,
                kind: tag(TAG_KIND),
            });
        }
        match page.next_token {
            Some(token) if !token.is_empty() => next_token = Some(token),
            _ => return Ok(tagged),
        }
    }
}
