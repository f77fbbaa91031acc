//! The members every DynamoDB item operation shares: the table, the parsed expressions,
//! return-value options, the condition check and the projection.

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

/// AWS's item size limit.
pub(super) const MAX_ITEM_BYTES: usize = 400 * 1024;

/// The members every item operation shares.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ItemInput {
    table_name: Option<String>,
    pub key: Option<Value>,
    pub item: Option<Value>,
    pub consistent_read: Option<bool>,
    pub projection_expression: Option<String>,
    pub attributes_to_get: Option<Vec<String>>,
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
pub(super) struct Expressions {
    pub condition: Option<Condition>,
    pub update: Option<update::Update>,
    pub projection: Option<Vec<Path>>,
}

impl ItemInput {
    pub(super) fn table<'a>(&self, state: &'a mut DynamoState) -> Result<&'a mut Table, ApiError> {
        let name = required("TableName", &self.table_name)?;
        if name.is_empty() {
            return Err(validation("TableName must not be empty"));
        }
        let key = state.name_of(name).ok_or_else(|| not_found(name))?;
        Ok(state.tables.get_mut(&key).expect("found above"))
    }

    pub(super) fn expressions(&self) -> Result<Expressions, ApiError> {
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

    pub(super) fn return_values(&self, allowed: &[&str]) -> Result<String, ApiError> {
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

    pub(super) fn old_on_failure(&self) -> Result<bool, ApiError> {
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
    pub(super) fn check(
        &self,
        condition: &Option<Condition>,
        old: Option<&Item>,
    ) -> Result<(), ApiError> {
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

    pub(super) fn consumed(&self, out: &mut Value, table: &str, units: f64) {
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
pub(super) fn project(item: &Item, paths: &[Path]) -> Item {
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

pub(super) fn check_size(item: &Item) -> Result<(), ApiError> {
    if item_size(item) > MAX_ITEM_BYTES {
        return Err(validation(
            "Item size has exceeded the maximum allowed size",
        ));
    }
    Ok(())
}
