//! DynamoDB through aws-sdk-dynamodb: every operation, the data types, return values, seeding,
//! the call log, quotas and faults, and the raw awsJson1_0 error shape.

use std::collections::HashMap;

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ProvisionedThroughput, ReturnConsumedCapacity, ReturnValue, ScalarAttributeType, TableStatus,
};
use rekeyd_emulator::{FaultKind, FaultRule, Quota, Service};

use crate::leases::create_leases_table;
use crate::util::{TestEnv, within};

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: &str) -> AttributeValue {
    AttributeValue::N(v.into())
}

fn key(credential: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([("credential".to_string(), s(credential))])
}

#[tokio::test]
async fn tables_are_created_described_and_deleted() {
    within(async {
        let env = TestEnv::start().await;
        let ddb = env.ddb();
        let created = ddb
            .create_table()
            .table_name("events")
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name("pk")
                    .key_type(KeyType::Hash)
                    .build()
                    .unwrap(),
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name("at")
                    .key_type(KeyType::Range)
                    .build()
                    .unwrap(),
            )
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name("pk")
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .unwrap(),
            )
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name("at")
                    .attribute_type(ScalarAttributeType::N)
                    .build()
                    .unwrap(),
            )
            .provisioned_throughput(
                ProvisionedThroughput::builder()
                    .read_capacity_units(5)
                    .write_capacity_units(2)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap()
            .table_description
            .unwrap();
        assert_eq!(
            created.table_arn(),
            Some("arn:aws:dynamodb:us-east-1:123456789012:table/events")
        );
        assert_eq!(
            created
                .provisioned_throughput()
                .unwrap()
                .read_capacity_units(),
            Some(5)
        );

        ddb.put_item()
            .table_name("events")
            .item("pk", s("a"))
            .item("at", n("1"))
            .send()
            .await
            .unwrap();
        // The sort key is part of the key: another `at` is another item.
        ddb.put_item()
            .table_name("events")
            .item("pk", s("a"))
            .item("at", n("2"))
            .send()
            .await
            .unwrap();
        let table = ddb
            .describe_table()
            .table_name("events")
            .send()
            .await
            .unwrap()
            .table
            .unwrap();
        assert_eq!(table.table_status(), Some(&TableStatus::Active));
        assert_eq!(table.item_count(), Some(2));
        assert_eq!(table.key_schema().len(), 2);
        assert_eq!(
            table.attribute_definitions()[1].attribute_type(),
            &ScalarAttributeType::N
        );
        assert!(table.creation_date_time().is_some() && table.table_id().is_some());
        // Data-plane calls also accept the table's ARN.
        let by_arn = ddb
            .get_item()
            .table_name(table.table_arn().unwrap())
            .key("pk", s("a"))
            .key("at", n("2.0"))
            .send()
            .await
            .unwrap();
        assert_eq!(by_arn.item().unwrap()["at"], n("2"));
        let err = ddb
            .get_item()
            .table_name("events")
            .key("pk", s("a"))
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            err.code(),
            Some("ValidationException"),
            "a key without its sort key"
        );

        let deleted = ddb
            .delete_table()
            .table_name("events")
            .send()
            .await
            .unwrap();
        assert_eq!(
            deleted.table_description().unwrap().table_status(),
            Some(&TableStatus::Deleting)
        );
        let err = ddb
            .describe_table()
            .table_name("events")
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some("ResourceNotFoundException"));
        let err = ddb
            .delete_table()
            .table_name("events")
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some("ResourceNotFoundException"));
        let err = ddb
            .create_table()
            .table_name("x")
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name("pk")
                    .key_type(KeyType::Hash)
                    .build()
                    .unwrap(),
            )
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name("pk")
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .unwrap(),
            )
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            err.code(),
            Some("ValidationException"),
            "a name under 3 characters"
        );
        env.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn every_data_type_round_trips() {
    within(async {
        let env = TestEnv::start().await;
        let ddb = env.ddb();
        create_leases_table(&ddb, "types").await;
        let item: HashMap<String, AttributeValue> = [
            ("credential", s("t")),
            ("s", s("")),
            ("n", n("-12.50")),
            ("b", AttributeValue::B(Blob::new(vec![0, 1, 255]))),
            ("bool", AttributeValue::Bool(false)),
            ("null", AttributeValue::Null(true)),
            (
                "m",
                AttributeValue::M(HashMap::from([("deep".to_string(), n("1"))])),
            ),
            ("l", AttributeValue::L(vec![s("x"), n("2")])),
            ("ss", AttributeValue::Ss(vec!["a".into(), "b".into()])),
            ("ns", AttributeValue::Ns(vec!["1".into(), "2".into()])),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        ddb.put_item()
            .table_name("types")
            .set_item(Some(item.clone()))
            .send()
            .await
            .unwrap();
        let got = ddb
            .get_item()
            .table_name("types")
            .set_key(Some(key("t")))
            .consistent_read(true)
            .send()
            .await
            .unwrap();
        let mut expected = item;
        expected.insert("n".into(), n("-12.5"));
        assert_eq!(got.item().unwrap(), &expected);
        let projected = ddb
            .get_item()
            .table_name("types")
            .set_key(Some(key("t")))
            .projection_expression("m.deep, l[1], #n")
            .expression_attribute_names("#n", "null")
            .send()
            .await
            .unwrap();
        let projected = projected.item().unwrap();
        assert_eq!(projected.len(), 3, "{projected:?}");
        assert_eq!(projected["l"], AttributeValue::L(vec![n("2")]));
        assert_eq!(
            projected["m"],
            AttributeValue::M(HashMap::from([("deep".to_string(), n("1"))]))
        );
        let missing = ddb
            .get_item()
            .table_name("types")
            .set_key(Some(key("none")))
            .send()
            .await
            .unwrap();
        assert!(missing.item().is_none());
        env.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn writes_return_what_was_asked() {
    within(async {
        let env = TestEnv::start().await;
        let ddb = env.ddb();
        create_leases_table(&ddb, "retvals").await;
        let first = ddb
            .put_item()
            .table_name("retvals")
            .set_item(Some(key("a")))
            .item("v", n("1"))
            .return_values(ReturnValue::AllOld)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .unwrap();
        assert!(first.attributes().is_none(), "nothing was there");
        assert_eq!(
            first.consumed_capacity().unwrap().capacity_units(),
            Some(1.0)
        );
        let second = ddb
            .put_item()
            .table_name("retvals")
            .set_item(Some(key("a")))
            .item("v", n("2"))
            .item("gone", s("soon"))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .unwrap();
        assert_eq!(second.attributes().unwrap()["v"], n("1"));

        let update = |expr: &'static str, rv: ReturnValue| {
            ddb.update_item()
                .table_name("retvals")
                .set_key(Some(key("a")))
                .update_expression(expr)
                .return_values(rv)
        };
        let old = update("SET v = v + :d REMOVE gone", ReturnValue::UpdatedOld)
            .expression_attribute_values(":d", n("40"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            old.attributes().unwrap(),
            &HashMap::from([("v".to_string(), n("2")), ("gone".to_string(), s("soon"))])
        );
        let new = update(
            "SET c = if_not_exists(c, :z), v = v - :d",
            ReturnValue::UpdatedNew,
        )
        .expression_attribute_values(":z", n("0"))
        .expression_attribute_values(":d", n("0.5"))
        .send()
        .await
        .unwrap();
        assert_eq!(
            new.attributes().unwrap(),
            &HashMap::from([("v".to_string(), n("41.5")), ("c".to_string(), n("0"))])
        );
        let all = update("ADD tags :t", ReturnValue::AllNew)
            .expression_attribute_values(":t", AttributeValue::Ss(vec!["x".into()]))
            .send()
            .await
            .unwrap();
        assert_eq!(all.attributes().unwrap().len(), 4, "credential, v, c, tags");
        // UpdateItem on a missing item creates it from the key.
        ddb.update_item()
            .table_name("retvals")
            .set_key(Some(key("fresh")))
            .update_expression("SET fence = :one")
            .expression_attribute_values(":one", n("1"))
            .send()
            .await
            .unwrap();
        let deleted = ddb
            .delete_item()
            .table_name("retvals")
            .set_key(Some(key("fresh")))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .unwrap();
        assert_eq!(deleted.attributes().unwrap()["fence"], n("1"));
        let err = ddb
            .delete_item()
            .table_name("retvals")
            .set_key(Some(key("a")))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some("ValidationException"));
        env.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn seeded_tables_calls_quotas_and_faults() {
    within(async {
        let env = TestEnv::start_with_attempts(1).await;
        env.emulator
            .seed_from_json(
                r#"{"dynamodb_tables": [{"name": "rekeyd-leases", "partition_key": "credential",
                     "items": [{"credential": {"S": "support-bot"}, "owner": {"S": "host-a"}, "fence": {"N": "4"}}]}]}"#,
            )
            .unwrap();
        let ddb = env.ddb();
        let item = ddb
            .get_item()
            .table_name("rekeyd-leases")
            .set_key(Some(key("support-bot")))
            .send()
            .await
            .unwrap();
        assert_eq!(item.item().unwrap()["fence"], n("4"));
        ddb.delete_item()
            .table_name("rekeyd-leases")
            .set_key(Some(key("support-bot")))
            .condition_expression("fence = :f")
            .expression_attribute_values(":f", n("3"))
            .send()
            .await
            .unwrap_err();
        ddb.delete_item()
            .table_name("rekeyd-leases")
            .set_key(Some(key("support-bot")))
            .send()
            .await
            .unwrap();
        assert!(env.emulator.truth().dynamodb_table("rekeyd-leases").unwrap().items.is_empty());
        let calls: Vec<(Service, String, bool, Option<String>)> = env
            .emulator
            .calls()
            .into_iter()
            .map(|c| (c.service, c.operation, c.mutated, c.error_code))
            .collect();
        assert_eq!(
            calls,
            [
                (Service::Dynamodb, "GetItem".into(), false, None),
                (Service::Dynamodb, "DeleteItem".into(), false, Some("ConditionalCheckFailedException".into())),
                (Service::Dynamodb, "DeleteItem".into(), true, None),
            ]
        );

        env.emulator.set_quota("dynamodb", Quota::per_second(1.0)).unwrap();
        let put = || ddb.put_item().table_name("rekeyd-leases").set_item(Some(key("b")));
        put().send().await.unwrap();
        let err = put().send().await.unwrap_err();
        assert_eq!(err.code(), Some("ThrottlingException"));
        env.emulator.clear_quotas();
        env.emulator.inject(FaultRule::new("PutItem", FaultKind::ServerError).times(1)).unwrap();
        let err = put().send().await.unwrap_err();
        assert_eq!(err.code(), Some("InternalServerError"));
        put().send().await.unwrap();
        assert_eq!(env.emulator.call_summary()[&Service::Dynamodb].throttled, 1);
        env.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn sdk_retries_throttled_calls() {
    within(async {
        let env = TestEnv::start().await;
        let ddb = env.ddb();
        create_leases_table(&ddb, "retry").await;
        env.emulator
            .inject(FaultRule::new("UpdateItem", FaultKind::Throttle).times(2))
            .unwrap();
        ddb.update_item()
            .table_name("retry")
            .set_key(Some(key("a")))
            .update_expression("SET fence = :one")
            .expression_attribute_values(":one", n("1"))
            .send()
            .await
            .expect("the SDK retries ThrottlingException");
        let updates = env
            .emulator
            .calls()
            .into_iter()
            .filter(|c| c.operation == "UpdateItem")
            .count();
        assert_eq!(updates, 3);
        env.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn errors_on_the_wire_carry_type_header_and_namespace() {
    within(async {
        let env = TestEnv::start().await;
        create_leases_table(&env.ddb(), "wire").await;
        let headers = [
            ("X-Amz-Target", "DynamoDB_20120810.PutItem"),
            ("Content-Type", "application/x-amz-json-1.0"),
        ];
        let body = r#"{"TableName": "wire", "Item": {"credential": {"S": "a"}, "rvn": {"S": "1"}},
                       "ConditionExpression": "attribute_not_exists(credential)",
                       "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}"#;
        let ok = env.raw("POST", "/", &headers, body).await;
        assert_eq!(ok.status, 200);
        assert_eq!(ok.header("content-type"), Some("application/x-amz-json-1.0"));
        assert_eq!(ok.json(), serde_json::json!({}));
        let failed = env.raw("POST", "/", &headers, body).await;
        assert_eq!(failed.status, 400);
        assert_eq!(failed.header("x-amzn-errortype"), Some("ConditionalCheckFailedException"));
        let json = failed.json();
        assert_eq!(json["__type"], "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException");
        assert_eq!(json["Item"]["rvn"]["S"], "1");
        let reserved = env
            .raw("POST", "/", &headers, r#"{"TableName": "wire", "Item": {"credential": {"S": "b"}}, "ConditionExpression": "attribute_not_exists(status)"}"#)
            .await;
        assert_eq!(reserved.status, 400);
        assert_eq!(reserved.json()["__type"], "com.amazon.coral.validate#ValidationException");
        assert!(reserved.body.contains("reserved keyword: status"), "{}", reserved.body);
        env.shutdown().await;
    })
    .await;
}
