//! A lease this replica holds: its expiry as the owner believes it (the
//! clock starts before each write), heartbeats every lease/3, the intent of
//! the rotation in flight, release, and the lost-lease signal.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::AttributeValue;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{error, warn};
use uuid::Uuid;

use super::item::{
    INTENT, LAST, LEASE_MS, LastRotation, LeaseIntent, LeaseItem, OWNER, RELEASED, RVN, n, names, s,
};
use super::{LEASE_CALLS, LeaseError, Leases};

/// A held lease; dropped without [`Held::release`], it simply expires (its
/// intent, if any, stays for whoever takes it over).
pub struct Held {
    inner: Arc<Inner>,
    heartbeat: JoinHandle<()>,
    /// What the item held before this replica took it (a released or stale
    /// lease); its intent means a rotation was left in doubt.
    pub previous: Option<Box<LeaseItem>>,
}

struct Inner {
    leases: Leases,
    credential: String,
    /// The RVN this replica last wrote; held across each write.
    rvn: tokio::sync::Mutex<String>,
    /// When the lease ends, as the owner believes.
    expires: Mutex<Instant>,
    /// Cancelled when the lease is lost.
    lost: CancellationToken,
}

impl Held {
    pub(super) fn start(
        leases: Leases,
        credential: &str,
        rvn: String,
        started: Instant,
        previous: Option<LeaseItem>,
    ) -> Held {
        let lease = leases.lease();
        let inner = Arc::new(Inner {
            leases,
            credential: credential.to_owned(),
            rvn: tokio::sync::Mutex::new(rvn),
            expires: Mutex::new(started + lease),
            lost: CancellationToken::new(),
        });
        crate::metrics::registry().lease_held(1);
        let heartbeat = tokio::spawn(heartbeats(Arc::clone(&inner)));
        Held {
            inner,
            heartbeat,
            previous: previous.map(Box::new),
        }
    }

    /// The intent a previous holder left: its rotation is in doubt.
    pub fn left_in_doubt(&self) -> Option<&LeaseIntent> {
        self.previous.as_ref().and_then(|p| p.intent.as_ref())
    }

    /// This replica's id.
    pub fn replica(&self) -> &str {
        self.inner.leases.replica()
    }

    /// Time left of the lease, as this replica believes.
    pub fn remaining(&self) -> Duration {
        self.inner.remaining()
    }

    /// Cancelled once the lease is lost (a heartbeat failed).
    pub fn lost(&self) -> CancellationToken {
        self.inner.lost.clone()
    }

    /// Right before a provider call: at least half a lease must be left
    /// (renewed now if it is not), and the lease must not be lost.
    pub async fn ensure_half_left(&self) -> Result<(), LeaseError> {
        let half = self.inner.leases.lease() / 2;
        if self.inner.lost.is_cancelled() {
            return Err(self.inner.lost_error());
        }
        if self.remaining() < half {
            // A failed renewal leaves the expiry as it was: checked below.
            let _ = self
                .inner
                .write("SET #ld = :ld, #rvn = :new", &[], Vec::new())
                .await;
        }
        if self.inner.lost.is_cancelled() {
            return Err(self.inner.lost_error());
        }
        let remaining = self.remaining();
        if remaining < half {
            return Err(LeaseError::TooShort {
                credential: self.inner.credential.clone(),
                remaining_ms: remaining.as_millis(),
            });
        }
        Ok(())
    }

    /// Writes the rotation in flight into the item.
    pub async fn record_intent(&self, intent: &LeaseIntent) -> Result<(), LeaseError> {
        self.inner
            .write(
                "SET #ld = :ld, #rvn = :new, #intent = :intent",
                &[INTENT],
                vec![(":intent", intent.to_attribute())],
            )
            .await
    }

    /// Removes the intent and notes the rotation `done`: its secret is
    /// stored (and, for a Chime bot, confirmed live).
    pub async fn clear_intent(&self, done: &LastRotation) -> Result<(), LeaseError> {
        self.inner
            .write(
                "SET #ld = :ld, #rvn = :new, #last = :last REMOVE #intent",
                &[INTENT, LAST],
                vec![(":last", done.to_attribute())],
            )
            .await
    }

    /// Marks the lease released (its intent, if any, stays). A flag rather
    /// than a DeleteItem, so that the fence counter keeps growing across
    /// holders and a released rotation left in doubt is still seen.
    pub async fn release(self) {
        self.heartbeat.abort();
        if self.inner.lost.is_cancelled() {
            return;
        }
        let result = self
            .inner
            .write(
                "SET #ld = :ld, #rvn = :new, #rel = :true",
                &[RELEASED],
                vec![(":true", AttributeValue::Bool(true))],
            )
            .await;
        if let Err(err) = result {
            warn!(credential = %self.inner.credential, error = %err, "cannot release the lease; it expires by itself");
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.heartbeat.abort();
        crate::metrics::registry().lease_held(-1);
    }
}

impl Inner {
    fn remaining(&self) -> Duration {
        let expires = *self.expires.lock().expect("expiry lock");
        expires.saturating_duration_since(Instant::now())
    }

    fn lost_error(&self) -> LeaseError {
        LeaseError::Lost {
            credential: self.credential.clone(),
        }
    }

    /// One write under `#rvn = :rvn AND #owner = :me`, always with a new RVN
    /// and the lease duration; the expiry clock starts before it.
    async fn write(
        &self,
        update: &str,
        extra_names: &[(&str, &str)],
        extra_values: Vec<(&str, AttributeValue)>,
    ) -> Result<(), LeaseError> {
        let shared = &self.leases.shared;
        let mut rvn = self.rvn.lock().await;
        if self.lost.is_cancelled() {
            return Err(self.lost_error());
        }
        let new = Uuid::new_v4().to_string();
        let mut used = vec![LEASE_MS, RVN, OWNER];
        used.extend_from_slice(extra_names);
        let mut values: HashMap<String, AttributeValue> = HashMap::from([
            (":ld".to_owned(), n(shared.lease.as_millis())),
            (":new".to_owned(), s(&new)),
            (":rvn".to_owned(), s(&rvn)),
            (":me".to_owned(), s(&shared.replica)),
        ]);
        values.extend(extra_values.into_iter().map(|(k, v)| (k.to_owned(), v)));
        let request = shared
            .clients()
            .dynamodb
            .update_item()
            .table_name(&shared.table)
            .key(super::item::PK.1, s(&self.credential))
            .update_expression(update)
            .condition_expression("#rvn = :rvn AND #owner = :me")
            .set_expression_attribute_names(Some(names(&used)))
            .set_expression_attribute_values(Some(values));
        let started = Instant::now();
        let result = shared
            .clients()
            .gates
            .dynamodb
            .call("UpdateItem", LEASE_CALLS, || request.clone().send())
            .await;
        match result {
            Ok(_) => {
                *rvn = new;
                *self.expires.lock().expect("expiry lock") = started + shared.lease;
                Ok(())
            }
            Err(err) => match err.service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(_)) => {
                    self.lose();
                    Err(self.lost_error())
                }
                _ => Err(shared.call_error(&self.credential, "UpdateItem", err.detail)),
            },
        }
    }

    fn lose(&self) {
        if !self.lost.is_cancelled() {
            error!(credential = %self.credential, "lease lost: stopping the work on this credential");
            crate::metrics::registry().lease_lost();
            self.lost.cancel();
        }
    }
}

/// Renews the lease every lease/3 until it is lost (a refused heartbeat, or
/// none accepted before it expired).
async fn heartbeats(inner: Arc<Inner>) {
    let period = inner.leases.lease() / 3;
    loop {
        tokio::select! {
            () = inner.lost.cancelled() => return,
            () = tokio::time::sleep(period) => {}
        }
        match inner
            .write("SET #ld = :ld, #rvn = :new", &[], Vec::new())
            .await
        {
            Ok(()) => {}
            Err(LeaseError::Lost { .. }) => return,
            Err(err) => {
                warn!(credential = %inner.credential, error = %err, "lease heartbeat failed");
                if inner.remaining().is_zero() {
                    inner.lose();
                    return;
                }
            }
        }
    }
}
