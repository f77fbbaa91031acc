//! DynamoDB table operations: CreateTable, DescribeTable, DeleteTable, and seeding a table.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::value::validation;
use super::{DynamoState, KeyAttr, Table, not_found, required};
use crate::context::{Ctx, epoch_seconds};
use crate::error::ApiError;
use crate::random;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct KeySchemaElement {
    attribute_name: Option<String>,
    key_type: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct AttributeDefinition {
    attribute_name: Option<String>,
    attribute_type: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct Throughput {
    read_capacity_units: Option<i64>,
    write_capacity_units: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct CreateTableInput {
    table_name: Option<String>,
    key_schema: Option<Vec<KeySchemaElement>>,
    attribute_definitions: Option<Vec<AttributeDefinition>>,
    billing_mode: Option<String>,
    provisioned_throughput: Option<Throughput>,
    local_secondary_indexes: Option<Value>,
    global_secondary_indexes: Option<Value>,
    deletion_protection_enabled: Option<bool>,
}

/// Checks a table name as the model does: 3 to 255 of `[a-zA-Z0-9_.-]`.
pub(crate) fn check_table_name(name: &str) -> Result<(), ApiError> {
    if !(3..=255).contains(&name.len()) {
        return Err(ApiError::constraint(
            400,
            "ValidationException",
            name,
            "tableName",
            "Member must have length between 3 and 255",
        ));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
    {
        return Err(ApiError::constraint(
            400,
            "ValidationException",
            name,
            "tableName",
            "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
        ));
    }
    Ok(())
}

fn invalid(message: &str) -> ApiError {
    validation(format!(
        "One or more parameter values were invalid: {message}"
    ))
}

/// The key schema from `KeySchema` and `AttributeDefinitions`.
fn key_schema(
    schema: &[KeySchemaElement],
    definitions: &[AttributeDefinition],
) -> Result<(KeyAttr, Option<KeyAttr>), ApiError> {
    let mut defined = BTreeMap::new();
    for d in definitions {
        let name = required(
            "AttributeDefinitions.member.AttributeName",
            &d.attribute_name,
        )?;
        let kind = required(
            "AttributeDefinitions.member.AttributeType",
            &d.attribute_type,
        )?;
        if !matches!(kind.as_str(), "S" | "N" | "B") {
            return Err(ApiError::constraint(
                400,
                "ValidationException",
                kind,
                "attributeDefinitions.member.attributeType",
                "Member must satisfy enum value set: [B, N, S]",
            ));
        }
        if defined.insert(name.clone(), kind.clone()).is_some() {
            return Err(invalid(&format!(
                "Duplicate AttributeName in AttributeDefinitions: {name}"
            )));
        }
    }
    let mut keys = Vec::new();
    for (i, element) in schema.iter().enumerate() {
        let name = required("KeySchema.member.AttributeName", &element.attribute_name)?;
        let key_type = required("KeySchema.member.KeyType", &element.key_type)?;
        let expected = if i == 0 { "HASH" } else { "RANGE" };
        if key_type != expected {
            return Err(invalid(&format!(
                "Invalid KeySchema: The {} KeySchemaElement is not a {expected} key type",
                if i == 0 { "first" } else { "second" }
            )));
        }
        let kind = defined.get(name).ok_or_else(|| {
            invalid(&format!(
                "Some index key attributes are not defined in AttributeDefinitions. Keys: [{name}], AttributeDefinitions: [{}]",
                defined.keys().cloned().collect::<Vec<_>>().join(", ")
            ))
        })?;
        keys.push(KeyAttr {
            name: name.clone(),
            kind: kind.clone(),
        });
    }
    if keys.is_empty() || keys.len() > 2 {
        return Err(ApiError::constraint(
            400,
            "ValidationException",
            &format!("{} elements", keys.len()),
            "keySchema",
            "Member must have length between 1 and 2",
        ));
    }
    if defined.len() != keys.len() {
        return Err(invalid(&format!(
            "Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions; the emulator serves no secondary indexes (AttributeDefinitions: [{}])",
            defined.keys().cloned().collect::<Vec<_>>().join(", ")
        )));
    }
    let mut keys = keys.into_iter();
    Ok((keys.next().expect("one key"), keys.next()))
}

fn capacity(throughput: &Option<Throughput>, mode: &str) -> Result<Option<(u64, u64)>, ApiError> {
    match (mode, throughput) {
        ("PROVISIONED", None) => Err(validation(
            "No provisioned throughput specified for the table",
        )),
        ("PROVISIONED", Some(t)) => match (t.read_capacity_units, t.write_capacity_units) {
            (Some(r), Some(w)) if r >= 1 && w >= 1 => Ok(Some((r as u64, w as u64))),
            (Some(_), Some(_)) => Err(invalid(
                "ReadCapacityUnits and WriteCapacityUnits must both be at least 1",
            )),
            _ => Err(invalid(
                "ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED",
            )),
        },
        ("PAY_PER_REQUEST", None) => Ok(None),
        ("PAY_PER_REQUEST", Some(_)) => Err(invalid(
            "Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST",
        )),
        (other, _) => Err(ApiError::constraint(
            400,
            "ValidationException",
            other,
            "billingMode",
            "Member must satisfy enum value set: [PROVISIONED, PAY_PER_REQUEST]",
        )),
    }
}

/// A new, empty table.
fn new_table(
    ctx_region: &str,
    account_id: &str,
    name: &str,
    keys: (KeyAttr, Option<KeyAttr>),
    provisioned: Option<(u64, u64)>,
    now: DateTime<Utc>,
) -> Table {
    Table {
        name: name.to_string(),
        arn: format!("arn:aws:dynamodb:{ctx_region}:{account_id}:table/{name}"),
        id: random::uuid(),
        partition_key: keys.0,
        sort_key: keys.1,
        provisioned,
        deletion_protection: false,
        created: now,
        items: BTreeMap::new(),
    }
}

pub(super) fn create_table(
    state: &mut DynamoState,
    ctx: &mut Ctx,
    input: CreateTableInput,
) -> Result<Value, ApiError> {
    let name = required("TableName", &input.table_name)?;
    check_table_name(name)?;
    let schema = required("KeySchema", &input.key_schema)?;
    let definitions = required("AttributeDefinitions", &input.attribute_definitions)?;
    if input.local_secondary_indexes.is_some() || input.global_secondary_indexes.is_some() {
        return Err(validation(
            "The emulator serves no secondary indexes: create the table without LocalSecondaryIndexes and GlobalSecondaryIndexes",
        ));
    }
    let keys = key_schema(schema, definitions)?;
    let mode = input.billing_mode.as_deref().unwrap_or("PROVISIONED");
    let provisioned = capacity(&input.provisioned_throughput, mode)?;
    if state.tables.contains_key(name.as_str()) {
        return Err(ApiError::new(
            400,
            "ResourceInUseException",
            format!("Table already exists: {name}"),
        ));
    }
    let mut table = new_table(
        &ctx.region,
        &ctx.account_id,
        name,
        keys,
        provisioned,
        ctx.now,
    );
    table.deletion_protection = input.deletion_protection_enabled.unwrap_or(false);
    let out = json!({"TableDescription": description(&table, "ACTIVE")});
    state.tables.insert(name.clone(), table);
    ctx.mutated = true;
    Ok(out)
}

pub(super) fn describe_table(state: &DynamoState, name: &str) -> Result<Value, ApiError> {
    let table = state
        .name_of(name)
        .and_then(|n| state.tables.get(&n))
        .ok_or_else(|| not_found(name))?;
    Ok(json!({"Table": description(table, "ACTIVE")}))
}

pub(super) fn delete_table(
    state: &mut DynamoState,
    ctx: &mut Ctx,
    name: &str,
) -> Result<Value, ApiError> {
    let key = state.name_of(name).ok_or_else(|| not_found(name))?;
    if state.tables[&key].deletion_protection {
        return Err(validation(
            "Resource cannot be deleted as it is currently protected against deletion. Disable deletion protection first.",
        ));
    }
    let table = state.tables.remove(&key).expect("found above");
    ctx.mutated = true;
    Ok(json!({"TableDescription": description(&table, "DELETING")}))
}

/// A `TableDescription` with the members the model defines for a table without indexes.
/// Tables are `ACTIVE` at once, and `ItemCount`/`TableSizeBytes` are live (AWS refreshes
/// them about every six hours).
fn description(table: &Table, status: &str) -> Value {
    let key_schema: Vec<Value> = std::iter::once((&table.partition_key, "HASH"))
        .chain(table.sort_key.as_ref().map(|k| (k, "RANGE")))
        .map(|(k, t)| json!({"AttributeName": k.name, "KeyType": t}))
        .collect();
    let definitions: Vec<Value> = std::iter::once(&table.partition_key)
        .chain(table.sort_key.as_ref())
        .map(|k| json!({"AttributeName": k.name, "AttributeType": k.kind}))
        .collect();
    let (read, write) = table.provisioned.unwrap_or((0, 0));
    let size: usize = table.items.values().map(super::value::item_size).sum();
    let mut out = json!({
        "TableName": table.name,
        "TableArn": table.arn,
        "TableId": table.id,
        "TableStatus": status,
        "KeySchema": key_schema,
        "AttributeDefinitions": definitions,
        "CreationDateTime": epoch_seconds(table.created),
        "ItemCount": table.items.len(),
        "TableSizeBytes": size,
        "ProvisionedThroughput": {
            "NumberOfDecreasesToday": 0,
            "ReadCapacityUnits": read,
            "WriteCapacityUnits": write,
        },
        "DeletionProtectionEnabled": table.deletion_protection,
        "TableClassSummary": {"TableClass": "STANDARD"},
    });
    if table.provisioned.is_none() {
        out["BillingModeSummary"] = json!({
            "BillingMode": "PAY_PER_REQUEST",
            "LastUpdateToPayPerRequestDateTime": epoch_seconds(table.created),
        });
    } else {
        out["BillingModeSummary"] = json!({"BillingMode": "PROVISIONED"});
    }
    out
}

/// Creates an on-demand table with a partition key, as seeding does; fails when it exists.
pub(crate) fn seed_table<'a>(
    state: &'a mut DynamoState,
    region: &str,
    account_id: &str,
    name: &str,
    partition_key: KeyAttr,
    now: DateTime<Utc>,
) -> Result<&'a mut Table, ApiError> {
    check_table_name(name)?;
    if !matches!(partition_key.kind.as_str(), "S" | "N" | "B") {
        return Err(validation(format!(
            "key type {} is not S, N or B",
            partition_key.kind
        )));
    }
    if state.tables.contains_key(name) {
        return Err(ApiError::new(
            400,
            "ResourceInUseException",
            format!("Table already exists: {name}"),
        ));
    }
    let table = new_table(region, account_id, name, (partition_key, None), None, now);
    Ok(state.tables.entry(name.to_string()).or_insert(table))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::Config;

    fn create(state: &mut DynamoState, body: Value) -> Result<Value, ApiError> {
        let mut ctx = Ctx::new(&Config::default(), None);
        super::super::handle(state, &mut ctx, "CreateTable", body.to_string().as_bytes())
    }

    fn leases() -> Value {
        json!({
            "TableName": "rekeyd-leases",
            "KeySchema": [{"AttributeName": "credential", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "credential", "AttributeType": "S"}],
            "BillingMode": "PAY_PER_REQUEST"
        })
    }

    #[test]
    fn creates_describes_and_refuses_duplicates() {
        let mut state = DynamoState::default();
        let out = create(&mut state, leases()).unwrap();
        assert_eq!(out["TableDescription"]["TableStatus"], "ACTIVE");
        assert_eq!(
            out["TableDescription"]["TableArn"],
            "arn:aws:dynamodb:us-east-1:123456789012:table/rekeyd-leases"
        );
        let err = create(&mut state, leases()).unwrap_err();
        assert_eq!(err.code, "ResourceInUseException");
        let described = describe_table(&state, "rekeyd-leases").unwrap();
        assert_eq!(
            described["Table"]["KeySchema"],
            json!([{"AttributeName": "credential", "KeyType": "HASH"}])
        );
        assert_eq!(
            describe_table(&state, "nope").unwrap_err().code,
            "ResourceNotFoundException"
        );
    }

    #[test]
    fn refuses_bad_schemas() {
        let mut state = DynamoState::default();
        let mut cases = Vec::new();
        let mut body = leases();
        body["KeySchema"][0]["KeyType"] = json!("RANGE");
        cases.push((body, "not a HASH key type"));
        let mut body = leases();
        body["AttributeDefinitions"][0]["AttributeName"] = json!("other");
        cases.push((body, "not defined in AttributeDefinitions"));
        let mut body = leases();
        body["BillingMode"] = json!("PROVISIONED");
        cases.push((body, "No provisioned throughput"));
        let mut body = leases();
        body["TableName"] = json!("a b");
        cases.push((body, "regular expression pattern"));
        let mut body = leases();
        body.as_object_mut().unwrap().remove("KeySchema");
        cases.push((
            body,
            "'keySchema' failed to satisfy constraint: Member must not be null",
        ));
        for (body, fragment) in cases {
            let err = create(&mut state, body).unwrap_err();
            assert_eq!(err.code, "ValidationException");
            assert!(err.message.contains(fragment), "{}", err.message);
        }
        assert_eq!(state.tables().count(), 0);
    }
}
