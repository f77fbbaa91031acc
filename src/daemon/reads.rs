//! The daemon's batched reads of what Secrets Manager holds: at start, every
//! credential's secret, 20 per BatchGetSecretValue call through the Secrets
//! Manager gate (the audit's reads, see [`crate::stored`]), each
//! batch handed to the loop as it arrives so that its credentials are
//! scheduled at once, not after the whole fleet was read.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::startup::last_of_record;
use super::timing::Last;
use crate::aws::{AccountClients, Aws};
use crate::policy::{Credential, CredentialName};
use crate::store::StoreError;
use crate::stored::{self as secrets, Read};

/// What one batch call told about its credentials.
pub(super) type Batch = Vec<(CredentialName, Result<Last, StoreError>)>;

/// The loop's end of the readers.
pub(super) struct Reads {
    sender: mpsc::UnboundedSender<Batch>,
    pub(super) receiver: mpsc::UnboundedReceiver<Batch>,
    readers: JoinSet<()>,
    /// Credentials whose read was started and has not arrived yet.
    pending: usize,
}

impl Reads {
    pub(super) fn new() -> Reads {
        let (sender, receiver) = mpsc::unbounded_channel();
        Reads {
            sender,
            receiver,
            readers: JoinSet::new(),
            pending: 0,
        }
    }

    /// Reads the secrets of `credentials` in the background, by name: one
    /// reader per account the secrets live in, each with `concurrency` batch calls in
    /// flight (that account's gate spaces them under a rate limit and slows
    /// them down when Secrets Manager throttles).
    pub(super) fn start(
        &mut self,
        aws: &Arc<Aws>,
        credentials: Vec<Arc<Credential>>,
        concurrency: usize,
    ) {
        if credentials.is_empty() {
            return;
        }
        self.pending += credentials.len();
        let mut by_account: HashMap<Option<String>, Vec<Arc<Credential>>> = HashMap::new();
        for credential in credentials {
            let account = credential.secret_account.as_ref().map(|a| a.name.clone());
            by_account.entry(account).or_default().push(credential);
        }
        for (account, mut credentials) in by_account {
            let aws = Arc::clone(aws);
            let sender = self.sender.clone();
            self.readers.spawn(async move {
                // In name order (the slots keep none), sorted here rather
                // than on the loop, which owes systemd READY=1.
                credentials.sort_unstable_by(|a, b| a.name.cmp(&b.name));
                let clients = aws.account_named(account.as_deref());
                read_group(clients, &credentials, concurrency, &sender).await;
            });
        }
    }

    /// Counts an arrived batch; true when it was the last one pending.
    pub(super) fn arrived(&mut self, batch: &Batch) -> bool {
        self.pending = self.pending.saturating_sub(batch.len());
        self.pending == 0
    }

    /// Stops the readers (at shutdown).
    pub(super) fn stop(&mut self) {
        self.readers.abort_all();
    }
}

/// Reads the secrets of `credentials`, all in one account (`aws`), and
/// sends each batch's outcome per credential.
/// A secret the batch could not read is an error for that credential only
/// (the loop retries it on its own, with backoff).
pub(super) async fn read_group(
    aws: &AccountClients,
    credentials: &[Arc<Credential>],
    concurrency: usize,
    sender: &mpsc::UnboundedSender<Batch>,
) {
    let by_secret: HashMap<&str, &Credential> = credentials
        .iter()
        .map(|c| (c.secret_name.as_str(), c.as_ref()))
        .collect();
    let ids: Vec<String> = credentials.iter().map(|c| c.secret_name.clone()).collect();
    secrets::read_batches(aws, &ids, concurrency, |reads| {
        let batch: Batch = reads
            .into_iter()
            .filter_map(|(secret, read)| {
                let credential = by_secret.get(secret.as_str())?;
                Some((
                    credential.name.clone(),
                    last_of_read(credential, secret, read),
                ))
            })
            .collect();
        // An error: the daemon stopped, and aborts this reader.
        let _ = sender.send(batch);
    })
    .await;
}

/// What one secret's read means for its credential's schedule.
pub fn last_of_read(
    credential: &Credential,
    secret: String,
    read: Read,
) -> Result<Last, StoreError> {
    match read {
        Read::NotFound => Ok(Last::Missing),
        Read::Value(record) => Ok(last_of_record(credential, record.as_ref())),
        Read::Failed {
            operation,
            code,
            detail,
        } => Err(StoreError::Call {
            operation,
            secret,
            code,
            detail,
        }),
    }
}
