//! The lease table as `check --online` sees it: present, keyed right, or the
//! command that creates it.

use aws_sdk_dynamodb::operation::describe_table::DescribeTableError;
use aws_sdk_dynamodb::types::{KeyType, ScalarAttributeType};

use super::item::PK;
use super::{LEASE_CALLS, LeaseError, Leases};

/// What DescribeTable says about the lease table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TableState {
    /// Partition key `credential` (String), no sort key.
    Ready,
    /// No such table.
    Missing,
    /// The table's key is not what rekeyd writes: what it is.
    WrongKey(String),
}

impl Leases {
    /// DescribeTable of the lease table.
    pub async fn check_table(&self) -> Result<TableState, LeaseError> {
        let shared = &self.shared;
        let request = shared
            .clients()
            .dynamodb
            .describe_table()
            .table_name(&shared.table);
        let answer = shared
            .clients()
            .gates
            .dynamodb
            .call("DescribeTable", LEASE_CALLS, || request.clone().send())
            .await;
        let output = match answer {
            Ok(output) => output,
            Err(err) => {
                return match err.service_error() {
                    Some(DescribeTableError::ResourceNotFoundException(_)) => {
                        Ok(TableState::Missing)
                    }
                    _ => Err(LeaseError::Call {
                        credential: "(all)".to_owned(),
                        table: shared.table.clone(),
                        operation: "DescribeTable",
                        detail: err.detail,
                    }),
                };
            }
        };
        let Some(table) = output.table() else {
            return Ok(TableState::Missing);
        };
        let keys: Vec<String> = (table.key_schema())
            .iter()
            .map(|k| format!("{} ({})", k.attribute_name(), k.key_type().as_str()))
            .collect();
        let hash_ok = matches!(
            table.key_schema(),
            [key] if key.attribute_name() == PK.1 && *key.key_type() == KeyType::Hash
        );
        let type_ok = (table.attribute_definitions())
            .iter()
            .any(|d| d.attribute_name() == PK.1 && *d.attribute_type() == ScalarAttributeType::S);
        Ok(if hash_ok && type_ok {
            TableState::Ready
        } else {
            TableState::WrongKey(format!(
                "its key is {}; rekeyd needs the partition key `credential` (String) and no sort key",
                keys.join(", ")
            ))
        })
    }

    /// The AWS CLI command that creates the lease table.
    pub fn create_table_command(&self) -> String {
        format!(
            "aws dynamodb create-table --table-name {} --attribute-definitions AttributeName=credential,AttributeType=S --key-schema AttributeName=credential,KeyType=HASH --billing-mode PAY_PER_REQUEST",
            self.shared.table
        )
    }
}
