//! The DynamoDB lock client's calls, as rekeyd will make them, through aws-sdk-dynamodb. Each
//! scenario takes a client, so `moto.rs` runs the same ones against moto.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ReturnValue,
    ReturnValuesOnConditionCheckFailure, ScalarAttributeType, TableStatus,
};

use crate::util::{TestEnv, within};

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: &str) -> AttributeValue {
    AttributeValue::N(v.into())
}

/// A fresh table name, so scenarios can share one moto server.
pub fn table_name(prefix: &str) -> String {
    format!("{prefix}-{}", fastrand::u32(..))
}

/// Creates an on-demand table keyed by `credential` (S), as rekeyd's docs tell operators to.
pub async fn create_leases_table(ddb: &Client, name: &str) {
    leases_table_request(ddb, name)
        .send()
        .await
        .expect("create the leases table");
}

/// The CreateTable request of [`create_leases_table`], not sent.
fn leases_table_request(
    ddb: &Client,
    name: &str,
) -> aws_sdk_dynamodb::operation::create_table::builders::CreateTableFluentBuilder {
    ddb.create_table()
        .table_name(name)
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
}

/// The attribute names the lock client uses; `owner` is a reserved word, hence `#owner`.
fn names() -> HashMap<String, String> {
    [
        ("#pk", "credential"),
        ("#owner", "owner"),
        ("#rvn", "rvn"),
        ("#ld", "lease_duration"),
        ("#fence", "fence"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn only(keys: &[&str]) -> HashMap<String, String> {
    names()
        .into_iter()
        .filter(|(k, _)| keys.contains(&k.as_str()))
        .collect()
}

fn lease(owner: &str, rvn: &str, fence: &str) -> HashMap<String, AttributeValue> {
    [
        ("credential", s("support-bot")),
        ("owner", s(owner)),
        ("rvn", s(rvn)),
        ("lease_duration", n("30000")),
        ("fence", n(fence)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// Acquire: succeeds only when no item exists.
async fn acquire(
    ddb: &Client,
    table: &str,
    owner: &str,
    rvn: &str,
) -> Result<(), SdkError<PutItemError>> {
    ddb.put_item()
        .table_name(table)
        .set_item(Some(lease(owner, rvn, "1")))
        .condition_expression("attribute_not_exists(#pk)")
        .set_expression_attribute_names(Some(only(&["#pk"])))
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .send()
        .await
        .map(drop)
}

/// Take over a lease whose record version stayed `observed`.
async fn take_over(
    ddb: &Client,
    table: &str,
    owner: &str,
    observed: &str,
    rvn: &str,
    fence: &str,
) -> Result<(), SdkError<PutItemError>> {
    ddb.put_item()
        .table_name(table)
        .set_item(Some(lease(owner, rvn, fence)))
        .condition_expression("attribute_exists(#pk) AND #rvn = :observed")
        .set_expression_attribute_names(Some(only(&["#pk", "#rvn"])))
        .expression_attribute_values(":observed", s(observed))
        .send()
        .await
        .map(drop)
}

/// Heartbeat: new record version, fence + 1, under `#rvn = :rvn AND #owner = :me`.
async fn heartbeat(
    ddb: &Client,
    table: &str,
    me: &str,
    rvn: &str,
    new: &str,
) -> Result<HashMap<String, AttributeValue>, String> {
    ddb.update_item()
        .table_name(table)
        .key("credential", s("support-bot"))
        .update_expression("SET #ld = :ld, #rvn = :new, #fence = #fence + :one")
        .condition_expression("#rvn = :rvn AND #owner = :me")
        .set_expression_attribute_names(Some(only(&["#ld", "#rvn", "#fence", "#owner"])))
        .expression_attribute_values(":ld", n("30000"))
        .expression_attribute_values(":new", s(new))
        .expression_attribute_values(":one", n("1"))
        .expression_attribute_values(":rvn", s(rvn))
        .expression_attribute_values(":me", s(me))
        .return_values(ReturnValue::AllNew)
        .send()
        .await
        .map(|out| out.attributes.unwrap_or_default())
        .map_err(|e| e.code().unwrap_or("no code").to_string())
}

async fn release(ddb: &Client, table: &str, me: &str, rvn: &str) -> Result<(), String> {
    ddb.delete_item()
        .table_name(table)
        .key("credential", s("support-bot"))
        .condition_expression("#rvn = :rvn AND #owner = :me")
        .set_expression_attribute_names(Some(only(&["#rvn", "#owner"])))
        .expression_attribute_values(":rvn", s(rvn))
        .expression_attribute_values(":me", s(me))
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .send()
        .await
        .map(drop)
        .map_err(|e| e.code().unwrap_or("no code").to_string())
}

async fn current(ddb: &Client, table: &str) -> Option<HashMap<String, AttributeValue>> {
    ddb.get_item()
        .table_name(table)
        .key("credential", s("support-bot"))
        .consistent_read(true)
        .send()
        .await
        .expect("read the lease")
        .item
}

fn failed_condition<E: ProvideErrorMetadata>(result: Result<impl std::fmt::Debug, E>) {
    let err = result.expect_err("the condition must fail");
    assert_eq!(err.code(), Some("ConditionalCheckFailedException"));
}

/// Acquire, contend, heartbeat, a stale takeover, a takeover, a fenced-out heartbeat, release.
pub async fn lock_client_sequence(ddb: &Client) {
    let table = table_name("leases");
    create_leases_table(ddb, &table).await;
    let described = ddb
        .describe_table()
        .table_name(&table)
        .send()
        .await
        .unwrap()
        .table
        .unwrap();
    assert_eq!(described.table_status(), Some(&TableStatus::Active));
    let key = &described.key_schema()[0];
    assert_eq!(
        (key.attribute_name(), key.key_type()),
        ("credential", &KeyType::Hash)
    );

    acquire(ddb, &table, "host-a", "r1").await.unwrap();
    // A second replica loses, and sees who holds the lease in the same answer.
    let err = acquire(ddb, &table, "host-b", "x1").await.unwrap_err();
    let SdkError::ServiceError(service) = &err else {
        panic!("expected a service error, got {err:?}");
    };
    let PutItemError::ConditionalCheckFailedException(failed) = service.err() else {
        panic!("expected ConditionalCheckFailedException, got {service:?}");
    };
    let holder = failed.item().expect("ALL_OLD returns the item");
    assert_eq!(holder["owner"], s("host-a"));
    assert_eq!(holder["rvn"], s("r1"));

    let renewed = heartbeat(ddb, &table, "host-a", "r1", "r2").await.unwrap();
    assert_eq!(renewed["rvn"], s("r2"));
    assert_eq!(renewed["fence"], n("2"));
    assert_eq!(
        heartbeat(ddb, &table, "host-b", "r2", "x2")
            .await
            .unwrap_err(),
        "ConditionalCheckFailedException",
        "another owner cannot heartbeat"
    );
    // host-b saw r1 long ago: its takeover is refused because the owner heartbeated.
    failed_condition(take_over(ddb, &table, "host-b", "r1", "x3", "3").await);
    take_over(ddb, &table, "host-b", "r2", "x3", "3")
        .await
        .unwrap();
    let item = current(ddb, &table).await.unwrap();
    assert_eq!(item["owner"], s("host-b"));
    assert_eq!(item["fence"], n("3"));
    // host-a, paused past its lease, wakes up: its heartbeat and release are fenced out.
    assert_eq!(
        heartbeat(ddb, &table, "host-a", "r2", "r3")
            .await
            .unwrap_err(),
        "ConditionalCheckFailedException"
    );
    assert_eq!(
        release(ddb, &table, "host-a", "r2").await.unwrap_err(),
        "ConditionalCheckFailedException"
    );
    assert_eq!(current(ddb, &table).await.unwrap()["owner"], s("host-b"));

    release(ddb, &table, "host-b", "x3").await.unwrap();
    assert!(current(ddb, &table).await.is_none());
    assert_eq!(
        release(ddb, &table, "host-b", "x3").await.unwrap_err(),
        "ConditionalCheckFailedException",
        "nothing to release"
    );
    acquire(ddb, &table, "host-a", "r9").await.unwrap();
}

/// Conditions beyond the lock client's: OR, NOT, parentheses, comparisons, missing attributes.
pub async fn condition_grammar(ddb: &Client) {
    let table = table_name("conditions");
    create_leases_table(ddb, &table).await;
    ddb.put_item()
        .table_name(&table)
        .set_item(Some(lease("host-a", "r1", "5")))
        .send()
        .await
        .unwrap();
    let cases = [
        ("#fence > :low AND #fence < :high", true),
        ("#fence >= :five AND #fence <= :five", true),
        ("#fence <> :five", false),
        ("NOT (#fence = :five)", false),
        ("#fence = :high OR #owner = :a", true),
        (
            "(#fence = :high OR #owner = :b) AND attribute_exists(#pk)",
            false,
        ),
        ("NOT #fence = :high AND NOT #owner = :b", true),
        ("#missing <> :a", true),
        ("#missing = :a", false),
        ("#missing < :high OR #missing >= :low", false),
        (
            "attribute_not_exists(#missing) AND #owner IN (:b, :a)",
            true,
        ),
        ("#fence BETWEEN :low AND :five", true),
        ("begins_with(#owner, :host)", true),
    ];
    let all_names: HashMap<&str, &str> = [
        ("#fence", "fence"),
        ("#owner", "owner"),
        ("#pk", "credential"),
        ("#missing", "missing"),
        ("#touched", "touched"),
    ]
    .into();
    let all_values: HashMap<&str, AttributeValue> = [
        (":low", n("1")),
        (":high", n("10")),
        (":five", n("5.0")),
        (":a", s("host-a")),
        (":b", s("host-b")),
        (":host", s("host-")),
        (":t", AttributeValue::Bool(true)),
    ]
    .into();
    for (expr, holds) in cases {
        // Exactly the placeholders the expressions use: AWS refuses unused ones.
        let used = |sigil: char| -> Vec<String> {
            format!("{expr} SET #touched = :t")
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == sigil))
                .filter(|w| w.starts_with(sigil))
                .map(str::to_owned)
                .collect()
        };
        let names: HashMap<String, String> = used('#')
            .into_iter()
            .map(|k| (k.clone(), all_names[k.as_str()].to_string()))
            .collect();
        let values: HashMap<String, AttributeValue> = used(':')
            .into_iter()
            .map(|k| (k.clone(), all_values[k.as_str()].clone()))
            .collect();
        let result = ddb
            .update_item()
            .table_name(&table)
            .key("credential", s("support-bot"))
            .update_expression("SET #touched = :t")
            .condition_expression(expr)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .send()
            .await;
        match (holds, result) {
            (true, Ok(_)) => {}
            (false, Err(e)) if e.code() == Some("ConditionalCheckFailedException") => {}
            (_, other) => panic!("{expr}: expected holds={holds}, got {other:?}"),
        }
    }
}

/// What AWS refuses, by error code: reserved words, undefined and unused placeholders, keys.
pub async fn refusals(ddb: &Client) {
    let table = table_name("refusals");
    create_leases_table(ddb, &table).await;
    let code = |r: Result<_, SdkError<PutItemError>>| r.unwrap_err().code().map(str::to_owned);
    let put = || {
        ddb.put_item()
            .table_name(&table)
            .set_item(Some(lease("host-a", "r1", "1")))
    };
    let validation = Some("ValidationException".to_string());
    // `owner` is a reserved word: it needs ExpressionAttributeNames.
    let r = put()
        .condition_expression("owner = :me")
        .expression_attribute_values(":me", s("a"))
        .send()
        .await;
    assert_eq!(code(r), validation, "reserved word");
    let mut keyless = lease("host-a", "r1", "1");
    keyless.remove("credential");
    let r = ddb
        .put_item()
        .table_name(&table)
        .set_item(Some(keyless))
        .send()
        .await;
    assert_eq!(code(r), validation, "item without its key");
    let mut wrong = lease("host-a", "r1", "1");
    wrong.insert("credential".into(), n("7"));
    let r = ddb
        .put_item()
        .table_name(&table)
        .set_item(Some(wrong))
        .send()
        .await;
    assert_eq!(code(r), validation, "key of the wrong type");
    let r = ddb
        .put_item()
        .table_name(table_name("no-such-table"))
        .set_item(Some(lease("host-a", "r1", "1")))
        .send()
        .await;
    assert_eq!(
        code(r).as_deref(),
        Some("ResourceNotFoundException"),
        "unknown table"
    );
    let err = ddb
        .update_item()
        .table_name(&table)
        .key("credential", s("support-bot"))
        .update_expression("SET credential = :v")
        .expression_attribute_values(":v", s("other"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ValidationException"), "updating the key");
    put().send().await.unwrap();
    let err = ddb
        .update_item()
        .table_name(&table)
        .key("credential", s("support-bot"))
        .update_expression("SET #owner = #owner + :one")
        .expression_attribute_names("#owner", "owner")
        .expression_attribute_values(":one", n("1"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Some("ValidationException"),
        "adding to a string"
    );
    let err = leases_table_request(ddb, &table).send().await.unwrap_err();
    assert_eq!(err.code(), Some("ResourceInUseException"));
}

/// Refusals moto 5.2 does not make (it fails with a 500, or accepts).
async fn refusals_moto_lacks(ddb: &Client) {
    let table = table_name("strict");
    create_leases_table(ddb, &table).await;
    let put = || {
        ddb.put_item()
            .table_name(&table)
            .set_item(Some(lease("host-a", "r1", "1")))
    };
    let r = put()
        .condition_expression("#o = :me")
        .expression_attribute_values(":me", s("a"))
        .send()
        .await;
    assert_eq!(
        r.unwrap_err().code(),
        Some("ValidationException"),
        "undefined name"
    );
    let r = put()
        .condition_expression("attribute_not_exists(credential)")
        .expression_attribute_values(":me", s("a"))
        .send()
        .await;
    assert_eq!(
        r.unwrap_err().code(),
        Some("ValidationException"),
        "unused value"
    );
    let r = put().condition_expression("rvn = ").send().await;
    assert_eq!(
        r.unwrap_err().code(),
        Some("ValidationException"),
        "syntax error"
    );
    let r = put()
        .condition_expression("#rvn = :v")
        .expression_attribute_names("#rvn", "rvn")
        .expression_attribute_names("#unused", "x")
        .expression_attribute_values(":v", s("r1"))
        .send()
        .await;
    assert_eq!(
        r.unwrap_err().code(),
        Some("ValidationException"),
        "unused name"
    );
}

#[tokio::test]
async fn lock_client_sequence_on_the_emulator() {
    within(async {
        let env = TestEnv::start().await;
        lock_client_sequence(&env.ddb()).await;
        env.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn condition_grammar_on_the_emulator() {
    within(async {
        let env = TestEnv::start().await;
        condition_grammar(&env.ddb()).await;
        env.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn refusals_on_the_emulator() {
    within(async {
        let env = TestEnv::start().await;
        refusals(&env.ddb()).await;
        refusals_moto_lacks(&env.ddb()).await;
        // Nothing refused was written.
        let truth = env.emulator.truth();
        let table = truth
            .dynamodb_tables
            .iter()
            .find(|t| t.name.starts_with("refusals-"))
            .unwrap();
        assert_eq!(table.items.len(), 1, "only the one valid put: {table:?}");
        assert_eq!(table.item("support-bot").unwrap()["owner"]["S"], "host-a");
        env.shutdown().await;
    })
    .await;
}
