//! DynamoDB item operations: GetItem, PutItem, UpdateItem and DeleteItem, each one atomic
//! under its ConditionExpression.

use serde_json::{Value, json};

use super::request::{ItemInput, check_size, project};
use super::value::{Item, item_from_json, item_to_json, validation};
use super::{DynamoState, required};
use crate::context::Ctx;
use crate::error::ApiError;

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
    use crate::context::Config;
    use crate::dynamodb::handle;

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
