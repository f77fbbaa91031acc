//! DynamoDB item operations: GetItem, PutItem, UpdateItem and DeleteItem, each one atomic
//! under its ConditionExpression.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};

use super::condition::{self, Condition};
use super::path::{Path, Step};
use super::placeholders::Placeholders;
use super::update;
use super::value::{Attr, Item, item_from_json, item_size, item_to_json, validation};
use super::{DynamoState, Table, not_found, required};
use crate::error::ApiError;
use crate::state::Ctx;

/// AWS's item size limit.
const MAX_ITEM_BYTES: usize = 400 * 1024;

/// The members every item operation shares.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ItemInput {
    table_name: Option<String>,
    key: Option<Value>,
    item: Option<Value>,
    consistent_read: Option<bool>,
    projection_expression: Option<String>,
    attributes_to_get: Option<Vec<String>>,
    condition_expression: Option<String>,
    update_expression: Option<String>,
    expression_attribute_names: Option<BTreeMap<String, String>>,
    expression_attribute_values: Option<Value>,
    return_values: Option<String>,
    return_values_on_condition_check_failure: Option<String>,
    return_consumed_capacity: Option<String>,
    expected: Option<Value>,
    attribute_updates: Option<Value>,
    conditional_operator: Option<Value>,
}

/// The parsed expressions of one request.
struct Expressions {
    condition: Option<Condition>,
    update: Option<update::Update>,
    projection: Option<Vec<Path>>,
}

impl ItemInput {
    fn table<'a>(&self, state: &'a mut DynamoState) -> Result<&'a mut Table, ApiError> {
        let name = required("TableName", &self.table_name)?;
        if name.is_empty() {
            return Err(validation("TableName must not be empty"));
        }
        let key = state.name_of(name).ok_or_else(|| not_found(name))?;
        Ok(state.tables.get_mut(&key).expect("found above"))
    }

    fn expressions(&self) -> Result<Expressions, ApiError> {
        if self.expected.is_some()
            || self.attribute_updates.is_some()
            || self.conditional_operator.is_some()
        {
            return Err(validation(
                "The emulator serves only expression parameters (ConditionExpression, UpdateExpression), not the legacy Expected, AttributeUpdates and ConditionalOperator",
            ));
        }
        let values = self
            .expression_attribute_values
            .as_ref()
            .map(item_from_json)
            .transpose()?;
        let any = self.condition_expression.is_some()
            || self.update_expression.is_some()
            || self.projection_expression.is_some();
        let mut p = Placeholders::new(self.expression_attribute_names.clone(), values, any)?;
        let condition = self
            .condition_expression
            .as_deref()
            .map(|text| condition::parse(text, &mut p))
            .transpose()?;
        let update = self
            .update_expression
            .as_deref()
            .map(|text| update::parse(text, &mut p))
            .transpose()?;
        let projection = self
            .projection_expression
            .as_deref()
            .map(|text| projection(text, &mut p))
            .transpose()?;
        p.check_all_used()?;
        Ok(Expressions {
            condition,
            update,
            projection,
        })
    }

    fn return_values(&self, allowed: &[&str]) -> Result<String, ApiError> {
        let value = self.return_values.clone().unwrap_or_else(|| "NONE".into());
        if allowed.contains(&value.as_str()) {
            Ok(value)
        } else if allowed.len() == 2 {
            Err(validation("Return values set to invalid value"))
        } else {
            Err(ApiError::constraint(
                400,
                "ValidationException",
                &value,
                "returnValues",
                "Member must satisfy enum value set: [ALL_NEW, UPDATED_OLD, ALL_OLD, NONE, UPDATED_NEW]",
            ))
        }
    }

    fn old_on_failure(&self) -> Result<bool, ApiError> {
        match self.return_values_on_condition_check_failure.as_deref() {
            None | Some("NONE") => Ok(false),
            Some("ALL_OLD") => Ok(true),
            Some(other) => Err(ApiError::constraint(
                400,
                "ValidationException",
                other,
                "returnValuesOnConditionCheckFailure",
                "Member must satisfy enum value set: [ALL_OLD, NONE]",
            )),
        }
    }

    /// Fails with ConditionalCheckFailedException when the condition does not hold for `old`.
    fn check(&self, condition: &Option<Condition>, old: Option<&Item>) -> Result<(), ApiError> {
        let empty = Item::new();
        let holds = condition
            .as_ref()
            .is_none_or(|c| c.holds(old.unwrap_or(&empty)));
        if holds {
            return Ok(());
        }
        let err = ApiError::new(
            400,
            "ConditionalCheckFailedException",
            "The conditional request failed",
        );
        match old {
            Some(item) if self.old_on_failure()? => {
                Err(err.with_member("Item", item_to_json(item)))
            }
            _ => Err(err),
        }
    }

    fn consumed(&self, out: &mut Value, table: &str, units: f64) {
        match self.return_consumed_capacity.as_deref() {
            Some("TOTAL") => {
                out["ConsumedCapacity"] = json!({"TableName": table, "CapacityUnits": units});
            }
            Some("INDEXES") => {
                out["ConsumedCapacity"] = json!({"TableName": table, "CapacityUnits": units, "Table": {"CapacityUnits": units}});
            }
            _ => {}
        }
    }
}

/// `ProjectionExpression`: a comma-separated list of paths.
fn projection(text: &str, p: &mut Placeholders) -> Result<Vec<Path>, ApiError> {
    let mut cursor = super::lexer::Cursor::new("ProjectionExpression", text)?;
    let mut paths = vec![p.path(&mut cursor)?];
    while cursor.eat(",") {
        paths.push(p.path(&mut cursor)?);
    }
    if !cursor.at_end() {
        return Err(cursor.error());
    }
    Ok(paths)
}

/// The parts of `item` the paths name, in the item's shape (list elements keep their order).
fn project(item: &Item, paths: &[Path]) -> Item {
    fn insert(into: &mut Item, path: &Path, value: Attr) {
        let mut steps = path.0.iter().skip(1).peekable();
        let mut slot = into
            .entry(path.top().to_string())
            .or_insert_with(|| container(path.0.get(1)));
        while let Some(step) = steps.next() {
            let next = steps.peek().copied();
            slot = match (step, slot) {
                (Step::Name(n), Attr::M(m)) => {
                    m.entry(n.clone()).or_insert_with(|| container(next))
                }
                (Step::Index(_), Attr::L(l)) => {
                    l.push(container(next));
                    l.last_mut().expect("pushed")
                }
                _ => return,
            };
        }
        *slot = value;
    }
    fn container(next: Option<&Step>) -> Attr {
        match next {
            Some(Step::Index(_)) => Attr::L(Vec::new()),
            _ => Attr::M(BTreeMap::new()),
        }
    }
    let mut out = Item::new();
    for path in paths {
        if let Some(value) = path.get(item) {
            insert(&mut out, path, value.clone());
        }
    }
    out
}

fn check_size(item: &Item) -> Result<(), ApiError> {
    if item_size(item) > MAX_ITEM_BYTES {
        return Err(validation(
            "Item size has exceeded the maximum allowed size",
        ));
    }
    Ok(())
}

pub(super) fn get_item(state: &mut DynamoState, input: ItemInput) -> Result<Value, ApiError> {
    let key = item_from_json(required("Key", &input.key)?)?;
    if input.projection_expression.is_some() && input.attributes_to_get.is_some() {
        return Err(validation(
            "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {AttributesToGet} Expression parameters: {ProjectionExpression}",
        ));
    }
    let expressions = input.expressions()?;
    let table = input.table(state)?;
    let found = table.items.get(&table.key_of(&key, true)?);
    let mut out = json!({});
    if let Some(item) = found {
        let item = match (&expressions.projection, &input.attributes_to_get) {
            (Some(paths), _) => project(item, paths),
            (None, Some(names)) => item
                .iter()
                .filter(|(k, _)| names.contains(k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            (None, None) => item.clone(),
        };
        out["Item"] = item_to_json(&item);
    }
    let units = if input.consistent_read.unwrap_or(false) {
        1.0
    } else {
        0.5
    };
    input.consumed(&mut out, &table.name, units);
    Ok(out)
}

pub(super) fn put_item(
    state: &mut DynamoState,
    ctx: &mut Ctx,
    input: ItemInput,
) -> Result<Value, ApiError> {
    let item = item_from_json(required("Item", &input.item)?)?;
    let return_values = input.return_values(&["NONE", "ALL_OLD"])?;
    input.old_on_failure()?;
    let expressions = input.expressions()?;
    if expressions.update.is_some() || expressions.projection.is_some() {
        return Err(validation(
            "PutItem takes no UpdateExpression or ProjectionExpression",
        ));
    }
    let table = input.table(state)?;
    let key = table.key_of(&item, false)?;
    check_size(&item)?;
    let old = table.items.get(&key);
    input.check(&expressions.condition, old)?;
    let old = table.items.insert(key, item);
    ctx.mutated = true;
    let mut out = json!({});
    if let (Some(old), "ALL_OLD") = (old, return_values.as_str()) {
        out["Attributes"] = item_to_json(&old);
    }
    input.consumed(&mut out, &table.name, 1.0);
    Ok(out)
}

pub(super) fn update_item(
    state: &mut DynamoState,
    ctx: &mut Ctx,
    input: ItemInput,
) -> Result<Value, ApiError> {
    let key_item = item_from_json(required("Key", &input.key)?)?;
    let return_values =
        input.return_values(&["NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW"])?;
    input.old_on_failure()?;
    let expressions = input.expressions()?;
    if expressions.projection.is_some() {
        return Err(validation("UpdateItem takes no ProjectionExpression"));
    }
    let table = input.table(state)?;
    let key = table.key_of(&key_item, true)?;
    if let Some(update) = &expressions.update
        && let Some(path) = update.paths().find(|p| table.is_key(p.top()))
    {
        return Err(validation(format!(
            "One or more parameter values were invalid: Cannot update attribute {}. This attribute is part of the key",
            path.top()
        )));
    }
    let old = table.items.get(&key);
    input.check(&expressions.condition, old)?;
    let base = old.cloned().unwrap_or_else(|| key_item.clone());
    let new = match &expressions.update {
        Some(update) => update.apply(&base)?,
        None => base,
    };
    check_size(&new)?;
    let touched: Vec<String> = expressions
        .update
        .as_ref()
        .map(|u| u.paths().map(|p| p.top().to_string()).collect())
        .unwrap_or_default();
    let only_touched = |item: &Item| -> Item {
        item.iter()
            .filter(|(k, _)| touched.contains(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    let attributes = match (return_values.as_str(), old) {
        ("ALL_OLD", Some(old)) => Some(old.clone()),
        ("UPDATED_OLD", Some(old)) => Some(only_touched(old)),
        ("ALL_NEW", _) => Some(new.clone()),
        ("UPDATED_NEW", _) => Some(only_touched(&new)),
        _ => None,
    };
    table.items.insert(key, new);
    ctx.mutated = true;
    let mut out = json!({});
    if let Some(attributes) = attributes.filter(|a| !a.is_empty()) {
        out["Attributes"] = item_to_json(&attributes);
    }
    input.consumed(&mut out, &table.name, 1.0);
    Ok(out)
}

pub(super) fn delete_item(
    state: &mut DynamoState,
    ctx: &mut Ctx,
    input: ItemInput,
) -> Result<Value, ApiError> {
    let key_item = item_from_json(required("Key", &input.key)?)?;
    let return_values = input.return_values(&["NONE", "ALL_OLD"])?;
    input.old_on_failure()?;
    let expressions = input.expressions()?;
    if expressions.update.is_some() || expressions.projection.is_some() {
        return Err(validation(
            "DeleteItem takes no UpdateExpression or ProjectionExpression",
        ));
    }
    let table = input.table(state)?;
    let key = table.key_of(&key_item, true)?;
    input.check(&expressions.condition, table.items.get(&key))?;
    let old = table.items.remove(&key);
    ctx.mutated = old.is_some();
    let mut out = json!({});
    if let (Some(old), "ALL_OLD") = (old, return_values.as_str()) {
        out["Attributes"] = item_to_json(&old);
    }
    input.consumed(&mut out, &table.name, 1.0);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dynamodb::handle;
    use crate::state::Config;

    fn call(state: &mut DynamoState, op: &str, body: Value) -> Result<Value, ApiError> {
        let mut ctx = Ctx::new(&Config::default(), None);
        handle(state, &mut ctx, op, body.to_string().as_bytes())
    }

    fn with_table() -> DynamoState {
        let mut state = DynamoState::default();
        call(
            &mut state,
            "CreateTable",
            json!({
                "TableName": "leases",
                "KeySchema": [{"AttributeName": "credential", "KeyType": "HASH"}],
                "AttributeDefinitions": [{"AttributeName": "credential", "AttributeType": "S"}],
                "BillingMode": "PAY_PER_REQUEST"
            }),
        )
        .unwrap();
        state
    }

    #[test]
    fn keys_are_enforced() {
        let mut state = with_table();
        for (item, fragment) in [
            (
                json!({"other": {"S": "x"}}),
                "Missing the key credential in the item",
            ),
            (
                json!({"credential": {"N": "1"}}),
                "Type mismatch for key credential expected: S actual: N",
            ),
            (
                json!({"credential": {"S": ""}}),
                "cannot contain an empty string value",
            ),
        ] {
            let err = call(
                &mut state,
                "PutItem",
                json!({"TableName": "leases", "Item": item}),
            )
            .unwrap_err();
            assert!(err.message.contains(fragment), "{}", err.message);
        }
        let err = call(
            &mut state,
            "GetItem",
            json!({"TableName": "leases", "Key": {"credential": {"S": "a"}, "x": {"S": "b"}}}),
        )
        .unwrap_err();
        assert_eq!(
            err.message,
            "The provided key element does not match the schema"
        );
        let err = call(
            &mut state,
            "GetItem",
            json!({"TableName": "nope", "Key": {"credential": {"S": "a"}}}),
        )
        .unwrap_err();
        assert_eq!(err.code, "ResourceNotFoundException");
    }

    #[test]
    fn failed_conditions_change_nothing_and_can_return_the_item() {
        let mut state = with_table();
        let put = json!({"TableName": "leases", "Item": {"credential": {"S": "a"}, "rvn": {"S": "1"}},
                         "ConditionExpression": "attribute_not_exists(credential)"});
        call(&mut state, "PutItem", put.clone()).unwrap();
        let mut again = put.clone();
        again["Item"]["rvn"] = json!({"S": "2"});
        again["ReturnValuesOnConditionCheckFailure"] = json!("ALL_OLD");
        let err = call(&mut state, "PutItem", again).unwrap_err();
        assert_eq!(err.code, "ConditionalCheckFailedException");
        assert_eq!(err.members.unwrap()["Item"]["rvn"], json!({"S": "1"}));
        let got = call(&mut state, "GetItem", json!({"TableName": "leases", "Key": {"credential": {"S": "a"}}, "ProjectionExpression": "rvn"})).unwrap();
        assert_eq!(got["Item"], json!({"rvn": {"S": "1"}}));
    }

    #[test]
    fn update_creates_and_returns_values() {
        let mut state = with_table();
        let out = call(
            &mut state,
            "UpdateItem",
            json!({"TableName": "leases", "Key": {"credential": {"S": "a"}},
                   "UpdateExpression": "SET fence = if_not_exists(fence, :zero) + :one",
                   "ExpressionAttributeValues": {":zero": {"N": "0"}, ":one": {"N": "1"}},
                   "ReturnValues": "ALL_NEW"}),
        )
        .unwrap();
        assert_eq!(
            out["Attributes"],
            json!({"credential": {"S": "a"}, "fence": {"N": "1"}})
        );
        let err = call(
            &mut state,
            "UpdateItem",
            json!({"TableName": "leases", "Key": {"credential": {"S": "a"}},
                   "UpdateExpression": "SET credential = :v", "ExpressionAttributeValues": {":v": {"S": "b"}}}),
        )
        .unwrap_err();
        assert!(
            err.message.contains("Cannot update attribute credential"),
            "{}",
            err.message
        );
        let err = call(
            &mut state,
            "PutItem",
            json!({"TableName": "leases", "Item": {"credential": {"S": "a"}}, "ReturnValues": "ALL_NEW"}),
        )
        .unwrap_err();
        assert_eq!(err.code, "ValidationException");
    }
}
