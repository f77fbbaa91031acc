//! DynamoDB (awsJson1_0) subset: tables with a partition key and an optional sort key, and
//! single-item reads and writes with condition and update expressions.

mod condition;
mod items;
mod lexer;
mod number;
mod path;
mod placeholders;
mod request;
mod tables;
mod update;
mod value;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::context::Ctx;
use crate::error::ApiError;

pub(crate) use tables::seed_table;
pub(crate) use value::{Attr, Item, item_from_json, item_to_json};

impl Table {
    /// Adds (or replaces) an item as seeding does: key attributes checked, no condition.
    pub(crate) fn put_seed_item(&mut self, item: Item) -> Result<(), ApiError> {
        let key = self.key_of(&item, false)?;
        self.items.insert(key, item);
        Ok(())
    }
}

/// A key attribute: its name and scalar type (`S`, `N` or `B`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyAttr {
    pub name: String,
    pub kind: String,
}

/// A table and its items, keyed by their primary key.
#[derive(Debug, Clone)]
pub(crate) struct Table {
    pub name: String,
    pub arn: String,
    pub id: String,
    pub partition_key: KeyAttr,
    pub sort_key: Option<KeyAttr>,
    /// `PROVISIONED` with read and write capacity, or `PAY_PER_REQUEST`.
    pub provisioned: Option<(u64, u64)>,
    pub deletion_protection: bool,
    pub created: DateTime<Utc>,
    pub items: BTreeMap<String, Item>,
}

/// Every table, by name.
#[derive(Debug, Clone, Default)]
pub(crate) struct DynamoState {
    tables: BTreeMap<String, Table>,
}

impl DynamoState {
    pub(crate) fn tables(&self) -> impl Iterator<Item = &Table> {
        self.tables.values()
    }

    fn name_of(&self, name_or_arn: &str) -> Option<String> {
        if name_or_arn.starts_with("arn:") {
            self.tables
                .values()
                .find(|t| t.arn == name_or_arn)
                .map(|t| t.name.clone())
        } else {
            self.tables
                .contains_key(name_or_arn)
                .then(|| name_or_arn.to_string())
        }
    }
}

impl Table {
    /// The storage key of an item or `Key`: its key attributes, which must be exactly the
    /// schema's (for `Key`) or at least the schema's (for an item), with the right types.
    fn key_of(&self, item: &Item, exact: bool) -> Result<String, ApiError> {
        let schema: Vec<&KeyAttr> = std::iter::once(&self.partition_key)
            .chain(self.sort_key.as_ref())
            .collect();
        let mut parts = Vec::new();
        for key in &schema {
            let mismatch = || {
                value::validation(if exact {
                    "The provided key element does not match the schema".to_string()
                } else {
                    format!(
                        "One or more parameter values were invalid: Missing the key {} in the item",
                        key.name
                    )
                })
            };
            let value = item.get(&key.name).ok_or_else(mismatch)?;
            if value.type_name() != key.kind {
                return Err(value::validation(if exact {
                    "The provided key element does not match the schema".to_string()
                } else {
                    format!(
                        "One or more parameter values were invalid: Type mismatch for key {} expected: {} actual: {}",
                        key.name,
                        key.kind,
                        value.type_name()
                    )
                }));
            }
            if matches!(value, Attr::S(s) | Attr::B(s) if s.is_empty()) {
                return Err(value::validation(format!(
                    "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty {} value. Key: {}",
                    if key.kind == "S" { "string" } else { "binary" },
                    key.name
                )));
            }
            parts.push(value.to_json());
        }
        if exact && item.len() != schema.len() {
            return Err(value::validation(
                "The provided key element does not match the schema",
            ));
        }
        Ok(Value::Array(parts).to_string())
    }

    fn is_key(&self, attribute: &str) -> bool {
        self.partition_key.name == attribute
            || self.sort_key.as_ref().is_some_and(|k| k.name == attribute)
    }
}

pub(crate) fn not_found(table: &str) -> ApiError {
    ApiError::new(
        400,
        "ResourceNotFoundException",
        format!("Requested resource not found: Table: {table} not found"),
    )
}

/// Parses a request body; an empty body is an empty object.
fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}".as_slice()
    } else {
        body
    };
    serde_json::from_slice(body)
        .map_err(|e| value::serialization(&format!("Could not parse request body: {e}")))
}

/// A required member, or AWS's "must not be null" ValidationException.
fn required<'a, T>(field: &str, value: &'a Option<T>) -> Result<&'a T, ApiError> {
    value.as_ref().ok_or_else(|| {
        ApiError::missing(
            400,
            "ValidationException",
            &crate::error::lower_camel(field),
        )
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TableNameInput {
    table_name: Option<String>,
}

/// Serves one DynamoDB operation.
pub(crate) fn handle(
    state: &mut DynamoState,
    ctx: &mut Ctx,
    op: &str,
    body: &[u8],
) -> Result<Value, ApiError> {
    match op {
        "CreateTable" => tables::create_table(state, ctx, parse(body)?),
        "DescribeTable" => {
            let input: TableNameInput = parse(body)?;
            tables::describe_table(state, required("TableName", &input.table_name)?)
        }
        "DeleteTable" => {
            let input: TableNameInput = parse(body)?;
            tables::delete_table(state, ctx, required("TableName", &input.table_name)?)
        }
        "GetItem" => items::get_item(state, parse(body)?),
        "PutItem" => items::put_item(state, ctx, parse(body)?),
        "UpdateItem" => items::update_item(state, ctx, parse(body)?),
        "DeleteItem" => items::delete_item(state, ctx, parse(body)?),
        other => Err(ApiError::new(
            400,
            "UnknownOperationException",
            format!("Unknown operation {other}"),
        )),
    }
}
