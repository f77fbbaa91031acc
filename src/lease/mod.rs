//! Leases on DynamoDB (`[coordination]`), after AWS's DynamoDB lock client:
//! one item per credential, a random record version number (RVN) rewritten
//! on every write, takeover only of a record whose RVN stayed unchanged for
//! a whole lease duration on the taker's monotonic clock.

mod acquire;
mod held;
mod item;
mod observed;
mod table;
#[cfg(test)]
mod tests;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::aws::{AccountClients, Aws, RetryPolicy};
use crate::policy::{Account, Coordination};

pub use acquire::Acquired;
pub use held::Held;
pub use item::{LastRotation, LeaseIntent, LeaseItem};
use observed::Observations;
pub use table::TableState;

/// How hard one lease call is tried: well within a heartbeat period.
const LEASE_CALLS: RetryPolicy = RetryPolicy {
    base: Duration::from_millis(50),
    cap: Duration::from_secs(1),
    deadline: Duration::from_secs(3),
    max_unreachable_attempts: 3,
};

/// This replica's view of the lease table, shared by all its rotations.
#[derive(Clone)]
pub struct Leases {
    shared: Arc<Shared>,
}

struct Shared {
    aws: Arc<Aws>,
    /// The table's account (`[coordination] account`; `None`: rekeyd's own).
    account: Option<Arc<Account>>,
    table: String,
    lease: Duration,
    replica: String,
    /// What this replica last saw of each lease held elsewhere.
    observed: Mutex<Observations>,
}

/// A lease call that failed.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    /// DynamoDB refused or could not be reached.
    #[error(
        "lease of credential {credential}: dynamodb {operation} on table {table} failed: {detail}"
    )]
    Call {
        credential: String,
        table: String,
        operation: &'static str,
        detail: String,
    },
    /// Another replica holds the lease now: the work on it must stop.
    #[error("lease of credential {credential} lost: another replica took it over")]
    Lost { credential: String },
    /// Too little of the lease is left to start a provider call.
    #[error(
        "lease of credential {credential} has only {remaining_ms} ms left, less than half a lease: the provider is not asked"
    )]
    TooShort {
        credential: String,
        remaining_ms: u128,
    },
    /// The lease item cannot be read.
    #[error("lease of credential {credential}: the item in table {table} is malformed: {detail}")]
    Malformed {
        credential: String,
        table: String,
        detail: String,
    },
}

impl Shared {
    /// The clients of the table's account.
    fn clients(&self) -> &AccountClients {
        self.aws.account(self.account.as_deref())
    }
}

impl Leases {
    pub fn new(aws: Arc<Aws>, coordination: &Coordination) -> Leases {
        Leases {
            shared: Arc::new(Shared {
                aws,
                account: coordination.account.clone(),
                table: coordination.dynamodb_table.clone(),
                lease: coordination.lease,
                replica: coordination.replica_id.clone(),
                observed: Mutex::new(Observations::default()),
            }),
        }
    }

    /// This replica's id, as written in the items it owns.
    pub fn replica(&self) -> &str {
        &self.shared.replica
    }

    /// The lease duration this replica writes.
    pub fn lease(&self) -> Duration {
        self.shared.lease
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        &self.shared.table
    }
}

impl Shared {
    fn call_error(
        &self,
        credential: &str,
        operation: &'static str,
        detail: impl Into<String>,
    ) -> LeaseError {
        LeaseError::Call {
            credential: credential.to_owned(),
            table: self.table.clone(),
            operation,
            detail: detail.into(),
        }
    }

    fn malformed(&self, credential: &str, detail: impl Into<String>) -> LeaseError {
        LeaseError::Malformed {
            credential: credential.to_owned(),
            table: self.table.clone(),
            detail: detail.into(),
        }
    }
}
