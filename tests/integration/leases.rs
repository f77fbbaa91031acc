//! The lease module through aws-sdk-dynamodb against the emulator: acquire,
//! contention, release, takeover of a stale lease (with the intent it left),
//! and a lost lease cancelling the work. Short leases: the module takes any
//! duration (the policy allows 10s..10m).

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use aws_sdk_secretsmanager::config::Credentials;
use chrono::Utc;
use rekeyd::aws::{Aws, AwsOverrides};
use rekeyd::lease::{Acquired, Held, LeaseError, LeaseIntent, Leases};
use rekeyd::policy::{AwsSettings, Coordination};
use rekeyd_emulator::Emulator;
use tokio::time::Instant;

use crate::moto::Moto;

const LEASE: Duration = Duration::from_millis(1500);

/// A DynamoDB endpoint with a fresh lease table.
struct Target {
    endpoint: String,
    table: String,
}

impl Target {
    async fn new(endpoint: String) -> Target {
        let table = format!("rekeyd-leases-{}", fastrand::u32(..));
        create_lease_table(&aws(&endpoint).await.own().dynamodb, &table).await;
        Target { endpoint, table }
    }
}

/// Creates `table` as operators do: partition key `credential` (String),
/// on demand.
pub(crate) async fn create_lease_table(dynamodb: &aws_sdk_dynamodb::Client, table: &str) {
    dynamodb
        .create_table()
        .table_name(table)
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("credential")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("credential")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .expect("create the lease table");
}

async fn aws(endpoint: &str) -> Arc<Aws> {
    let settings = AwsSettings {
        region: Some("us-east-1".into()),
        endpoint_url: Some(endpoint.to_owned()),
        ..AwsSettings::default()
    };
    let overrides = AwsOverrides {
        credentials: Some(Credentials::new("AKIDEXAMPLE", "x", None, None, "test")),
    };
    Arc::new(Aws::build(&settings, overrides).await)
}

async fn replica(target: &Target, id: &str) -> Leases {
    let coordination = Coordination {
        dynamodb_table: target.table.clone(),
        lease: LEASE,
        replica_id: id.into(),
        account: None,
    };
    Leases::new(aws(&target.endpoint).await, &coordination)
}

async fn held(leases: &Leases, credential: &str, wait: Duration) -> Held {
    match leases.acquire(credential, wait).await.expect("acquire") {
        Acquired::Held(held) => held,
        Acquired::Elsewhere { holder } => panic!("{credential} held by {holder}"),
    }
}

async fn holder(leases: &Leases, credential: &str) -> String {
    match leases
        .acquire(credential, Duration::ZERO)
        .await
        .expect("acquire")
    {
        Acquired::Held(_) => panic!("{credential} was free"),
        Acquired::Elsewhere { holder } => holder,
    }
}

async fn a_held_lease_is_refused_to_others_until_released(target: Target) {
    let (a, b) = (replica(&target, "a").await, replica(&target, "b").await);
    let lease = held(&a, "bot", Duration::ZERO).await;
    assert!(lease.previous.is_none());
    assert_eq!(holder(&b, "bot").await, "a");
    // Other credentials are independent.
    held(&b, "other", Duration::ZERO).await.release().await;

    lease.release().await;
    let taken = held(&b, "bot", Duration::ZERO).await;
    let previous = taken.previous.clone().expect("the released item");
    assert!(previous.released);
    assert_eq!(previous.owner, "a");
    assert!(taken.left_in_doubt().is_none());
    let item = b.read("bot").await.unwrap().unwrap();
    assert_eq!((item.owner.as_str(), item.fence), ("b", 2));
}

async fn heartbeats_keep_a_lease_from_going_stale(target: Target) {
    let (a, b) = (replica(&target, "a").await, replica(&target, "b").await);
    let lease = held(&a, "bot", Duration::ZERO).await;
    // Two whole lease durations of waiting: the holder's heartbeats win.
    let found = b.acquire("bot", LEASE * 2).await.unwrap();
    assert!(matches!(found, Acquired::Elsewhere { holder } if holder == "a"));
    assert!(!lease.lost().is_cancelled());
    assert!(lease.remaining() > Duration::ZERO);
    lease.release().await;
}

async fn a_dead_holders_lease_is_taken_over_after_a_whole_lease_with_its_intent(target: Target) {
    let (a, b) = (replica(&target, "a").await, replica(&target, "b").await);
    let lease = held(&a, "bot", Duration::ZERO).await;
    let intent = LeaseIntent {
        rotation: "7f0c6a43-0000-4000-8000-000000000001".into(),
        replica: "a".into(),
        started_at: Utc::now(),
        issued_credential_id: Some("ACCAEXAMPLE123EXAMPLE".into()),
        replaces_credential_id: None,
    };
    lease.record_intent(&intent).await.unwrap();
    // The holder dies: no heartbeat, no release.
    drop(lease);

    let waiting = Instant::now();
    let taken = held(&b, "bot", LEASE * 3).await;
    assert!(
        waiting.elapsed() >= LEASE,
        "taken over after {:?}, before a whole lease",
        waiting.elapsed()
    );
    let left = taken
        .left_in_doubt()
        .expect("the intent the dead holder left");
    assert_eq!(left.rotation, intent.rotation);
    assert_eq!(left.issued_credential_id, intent.issued_credential_id);
    assert_eq!(
        left.started_at.timestamp_millis(),
        intent.started_at.timestamp_millis()
    );
    let done = rekeyd::lease::LastRotation {
        version_id: intent.rotation.clone(),
        rotated_at: intent.started_at,
        expires_at: None,
    };
    taken.clear_intent(&done).await.unwrap();
    let item = b.read("bot").await.unwrap().unwrap();
    assert_eq!(item.intent, None);
    // The next holder finds the rotation, to schedule from without a read.
    let last = item.last.expect("the last rotation");
    assert_eq!(
        (last.version_id, last.rotated_at.timestamp()),
        (done.version_id, done.rotated_at.timestamp())
    );
}

async fn a_lease_taken_over_is_lost_and_its_work_cancelled(target: Target) {
    let (a, c) = (replica(&target, "a").await, replica(&target, "c").await);
    let lease = held(&a, "bot", Duration::ZERO).await;
    let lost = lease.lost();
    // As if `a` were paused past its lease: another writer took the item.
    aws(&target.endpoint)
        .await
        .own()
        .dynamodb
        .update_item()
        .table_name(&target.table)
        .key("credential", AttributeValue::S("bot".into()))
        .update_expression("SET #owner = :b, record_version_number = :rvn")
        .expression_attribute_names("#owner", "owner")
        .expression_attribute_values(":b", AttributeValue::S("b".into()))
        .expression_attribute_values(":rvn", AttributeValue::S("taken".into()))
        .send()
        .await
        .unwrap();
    assert_eq!(holder(&c, "bot").await, "b");

    let cancelled = tokio::time::timeout(LEASE, lost.cancelled()).await;
    assert!(cancelled.is_ok(), "the lost lease was not noticed");
    assert!(matches!(
        lease.ensure_half_left().await,
        Err(LeaseError::Lost { .. })
    ));
    assert!(matches!(
        lease
            .record_intent(&LeaseIntent {
                rotation: "r".into(),
                replica: "a".into(),
                started_at: Utc::now(),
                issued_credential_id: None,
                replaces_credential_id: None,
            })
            .await,
        Err(LeaseError::Lost { .. })
    ));
}

async fn half_a_lease_is_required_before_a_provider_call(target: Target) {
    let a = replica(&target, "a").await;
    let lease = held(&a, "bot", Duration::ZERO).await;
    lease.ensure_half_left().await.unwrap();
    assert!(lease.remaining() >= LEASE / 2);
    lease.release().await;
}

/// Runs each scenario against the emulator and against moto.
macro_rules! on_both {
    ($($scenario:ident),* $(,)?) => {
        mod emulator {
            $(
                #[tokio::test(flavor = "multi_thread")]
                async fn $scenario() {
                    let emulator = super::Emulator::start("127.0.0.1:0".parse().unwrap())
                        .await
                        .expect("start emulator");
                    super::$scenario(super::Target::new(emulator.endpoint_url()).await).await;
                }
            )*
        }
        mod moto {
            $(
                #[tokio::test(flavor = "multi_thread")]
                async fn $scenario() {
                    let moto = super::Moto::start().await;
                    super::$scenario(super::Target::new(moto.endpoint.clone()).await).await;
                }
            )*
        }
    };
}

on_both!(
    a_held_lease_is_refused_to_others_until_released,
    heartbeats_keep_a_lease_from_going_stale,
    a_dead_holders_lease_is_taken_over_after_a_whole_lease_with_its_intent,
    a_lease_taken_over_is_lost_and_its_work_cancelled,
    half_a_lease_is_required_before_a_provider_call,
);
