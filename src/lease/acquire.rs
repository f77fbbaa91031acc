//! Taking a credential's lease: a free (absent or released) item at once, a
//! held one only once it is stale (see [`super::observed`]), with the
//! lock client's conditions.

use std::time::Duration;

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{ReturnValue, ReturnValuesOnConditionCheckFailure};
use tokio::time::Instant;
use tracing::{debug, info};
use uuid::Uuid;

use super::held::Held;
use super::item::{self, FENCE, LEASE_MS, LeaseItem, OWNER, PK, RELEASED, RVN, n, names, s};
use super::{LEASE_CALLS, LeaseError, Leases};

/// What an acquisition found.
pub enum Acquired {
    /// This replica holds the lease now.
    Held(Held),
    /// Another replica holds it (and it is not stale).
    Elsewhere { holder: String },
}

/// What one conditional write did.
enum Wrote {
    /// Held now, with the RVN written and the item as it was before.
    Held {
        rvn: String,
        previous: Option<LeaseItem>,
    },
    /// The condition failed on this item (`None`: no item).
    Refused(Option<LeaseItem>),
}

/// How the next write conditions on the item.
enum Attempt {
    /// Absent or released.
    Free,
    /// Held, with this RVN unchanged for a whole lease.
    Stale { rvn: String },
}

impl Leases {
    /// Takes `credential`'s lease, waiting up to `wait` for a holder to
    /// release it or for its lease to go stale (zero: one look, though a
    /// lease this replica has watched go stale is still taken over).
    pub async fn acquire(&self, credential: &str, wait: Duration) -> Result<Acquired, LeaseError> {
        let deadline = Instant::now() + wait;
        let poll =
            (self.shared.lease / 10).clamp(Duration::from_millis(200), Duration::from_secs(2));
        let mut attempt = Attempt::Free;
        loop {
            let started = Instant::now();
            match self.try_write(credential, &attempt).await? {
                Wrote::Held { rvn, previous: old } => {
                    self.observations().forget(credential);
                    if let Some(old) = &old
                        && !old.released
                    {
                        info!(credential, previous_owner = %old.owner, "took over a stale lease");
                    }
                    crate::metrics::registry().lease_acquired();
                    return Ok(Acquired::Held(Held::start(
                        self.clone(),
                        credential,
                        rvn,
                        started,
                        old,
                    )));
                }
                Wrote::Refused(Some(current)) if current.released => attempt = Attempt::Free,
                Wrote::Refused(Some(current)) => {
                    let now = Instant::now();
                    let stale =
                        self.observations()
                            .stale(credential, &current.rvn, current.lease, now);
                    if stale {
                        attempt = Attempt::Stale { rvn: current.rvn };
                        continue;
                    }
                    if now >= deadline {
                        crate::metrics::registry().lease_contended();
                        debug!(credential, holder = %current.owner, "lease held elsewhere");
                        return Ok(Acquired::Elsewhere {
                            holder: current.owner,
                        });
                    }
                    attempt = Attempt::Free;
                    tokio::time::sleep(poll.min(deadline - now)).await;
                }
                // Gone between the write and its answer: try again.
                Wrote::Refused(None) => attempt = Attempt::Free,
            }
        }
    }

    fn observations(&self) -> std::sync::MutexGuard<'_, super::observed::Observations> {
        self.shared.observed.lock().expect("observations lock")
    }

    /// One conditional write.
    async fn try_write(&self, credential: &str, attempt: &Attempt) -> Result<Wrote, LeaseError> {
        let shared = &self.shared;
        let rvn = Uuid::new_v4().to_string();
        let mut request = shared
            .clients()
            .dynamodb
            .update_item()
            .table_name(&shared.table)
            .key(PK.1, s(credential))
            .update_expression(
                "SET #owner = :me, #ld = :ld, #rvn = :new, #rel = :false, \
                 #fence = if_not_exists(#fence, :zero) + :one",
            )
            .expression_attribute_values(":me", s(&shared.replica))
            .expression_attribute_values(":ld", n(shared.lease.as_millis()))
            .expression_attribute_values(":new", s(&rvn))
            .expression_attribute_values(
                ":false",
                aws_sdk_dynamodb::types::AttributeValue::Bool(false),
            )
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":one", n(1))
            .return_values(ReturnValue::AllOld)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        request = match attempt {
            Attempt::Free => request
                .condition_expression("attribute_not_exists(#pk) OR #rel = :true")
                .set_expression_attribute_names(Some(names(&[
                    PK, OWNER, LEASE_MS, RVN, RELEASED, FENCE,
                ])))
                .expression_attribute_values(
                    ":true",
                    aws_sdk_dynamodb::types::AttributeValue::Bool(true),
                ),
            Attempt::Stale { rvn: observed } => request
                .condition_expression("attribute_exists(#pk) AND #rvn = :observed")
                .set_expression_attribute_names(Some(names(&[
                    PK, OWNER, LEASE_MS, RVN, RELEASED, FENCE,
                ])))
                .expression_attribute_values(":observed", s(observed)),
        };
        let result = shared
            .clients()
            .gates
            .dynamodb
            .call("UpdateItem", LEASE_CALLS, || request.clone().send())
            .await;
        match result {
            Ok(output) => {
                let old = match output.attributes() {
                    Some(old) if !old.is_empty() => {
                        Some(LeaseItem::parse(old).map_err(|e| shared.malformed(credential, e))?)
                    }
                    _ => None,
                };
                Ok(Wrote::Held { rvn, previous: old })
            }
            Err(err) => match err.service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(failed)) => {
                    let current = failed
                        .item()
                        .map(LeaseItem::parse)
                        .transpose()
                        .map_err(|e| shared.malformed(credential, e))?;
                    Ok(Wrote::Refused(current))
                }
                _ => Err(shared.call_error(credential, "UpdateItem", err.detail)),
            },
        }
    }
}

impl Leases {
    /// Reads `credential`'s lease item (consistent), for `plan`.
    pub async fn read(&self, credential: &str) -> Result<Option<LeaseItem>, LeaseError> {
        let shared = &self.shared;
        let request = shared
            .clients()
            .dynamodb
            .get_item()
            .table_name(&shared.table)
            .key(PK.1, s(credential))
            .consistent_read(true);
        let output = shared
            .clients()
            .gates
            .dynamodb
            .call("GetItem", LEASE_CALLS, || request.clone().send())
            .await
            .map_err(|err| shared.call_error(credential, "GetItem", err.detail))?;
        output
            .item()
            .map(item::LeaseItem::parse)
            .transpose()
            .map_err(|e| shared.malformed(credential, e))
    }
}
