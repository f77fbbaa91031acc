//! The log of operations served: which service, which operation, whether it changed state, which fault hit it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::faults::FaultKind;

/// One of the emulated services.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Service {
    /// IAM (awsQuery).
    Iam,
    /// Amazon Chime (restJson1).
    Chime,
    /// Amazon IVS real-time (restJson1).
    IvsRealtime,
    /// AWS Secrets Manager (awsJson1_1).
    Secretsmanager,
    /// Amazon DynamoDB (awsJson1_0).
    Dynamodb,
}

impl Service {
    /// True when `operation` of this service writes state when it succeeds.
    pub fn is_mutating(self, operation: &str) -> bool {
        match self {
            Service::Iam => matches!(
                operation,
                "ResetServiceSpecificCredential"
                    | "CreateServiceSpecificCredential"
                    | "DeleteServiceSpecificCredential"
                    | "UpdateServiceSpecificCredential"
                    | "CreateUser"
                    | "DeleteUser"
                    | "TagUser"
            ),
            Service::Chime => operation == "RegenerateSecurityToken",
            Service::IvsRealtime => matches!(
                operation,
                "CreateParticipantToken" | "CreateStage" | "DeleteStage"
            ),
            Service::Secretsmanager => matches!(
                operation,
                "CreateSecret"
                    | "PutSecretValue"
                    | "UpdateSecretVersionStage"
                    | "TagResource"
                    | "DeleteSecret"
            ),
            Service::Dynamodb => matches!(
                operation,
                "CreateTable" | "DeleteTable" | "PutItem" | "UpdateItem" | "DeleteItem"
            ),
        }
    }
}

/// One request the emulator answered (or dropped).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallRecord {
    /// Position in the log, from 1.
    pub seq: u64,
    /// When the request arrived.
    pub at: DateTime<Utc>,
    /// The service addressed.
    pub service: Service,
    /// The operation name (`PutSecretValue`, ...); unknown operations keep the name asked for.
    pub operation: String,
    /// What the call addressed, where the request names one thing: the Chime
    /// bot id, the IAM credential id (else user name), the IVS stage ARN, the
    /// Secrets Manager secret id (BatchGetSecretValue: every id of its
    /// `SecretIdList`, comma-separated), the DynamoDB item's key (else table).
    #[serde(default)]
    pub resource: Option<String>,
    /// The operation is a write (whether or not it succeeded).
    pub mutating: bool,
    /// The call actually changed state.
    pub mutated: bool,
    /// The injected fault that applied to this call, if any.
    pub fault: Option<FaultKind>,
    /// The answer was the service's throttling error: a quota ran out, or a `throttle` fault.
    #[serde(default)]
    pub throttled: bool,
    /// HTTP status sent; `None` when the connection was dropped without an answer.
    pub status: Option<u16>,
    /// AWS error code sent, if the answer was an error.
    pub error_code: Option<String>,
    /// The request id sent in `x-amzn-RequestId`.
    pub request_id: String,
}

/// Calls per service, for harnesses that only count (`GET /_emulator/calls/summary`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceCalls {
    /// Every call logged, throttled or not.
    pub calls: u64,
    /// Calls answered with the service's throttling error (quota or `throttle` fault).
    pub throttled: u64,
    /// When the first and the last of these calls arrived.
    pub first_at: Option<DateTime<Utc>>,
    pub last_at: Option<DateTime<Utc>>,
}

/// The append-only call log.
#[derive(Debug, Clone, Default)]
pub(crate) struct CallLog {
    records: Vec<CallRecord>,
}

impl CallLog {
    /// Appends a record, numbering it.
    pub(crate) fn push(&mut self, mut record: CallRecord) {
        record.seq = self.records.len() as u64 + 1;
        self.records.push(record);
    }

    pub(crate) fn records(&self) -> Vec<CallRecord> {
        self.records.clone()
    }

    pub(crate) fn clear(&mut self) {
        self.records.clear();
    }

    /// Counts by service.
    pub(crate) fn summary(&self) -> BTreeMap<Service, ServiceCalls> {
        let mut summary: BTreeMap<Service, ServiceCalls> = BTreeMap::new();
        for record in &self.records {
            let entry = summary.entry(record.service).or_default();
            entry.calls += 1;
            entry.throttled += u64::from(record.throttled);
            entry.first_at.get_or_insert(record.at);
            entry.last_at = Some(record.at);
        }
        summary
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_writes() {
        assert!(Service::Secretsmanager.is_mutating("PutSecretValue"));
        assert!(!Service::Secretsmanager.is_mutating("GetSecretValue"));
        assert!(Service::Chime.is_mutating("RegenerateSecurityToken"));
        assert!(!Service::Iam.is_mutating("ListServiceSpecificCredentials"));
        assert!(Service::Dynamodb.is_mutating("UpdateItem"));
        assert!(!Service::Dynamodb.is_mutating("GetItem"));
        assert_eq!(
            serde_json::to_string(&Service::Dynamodb).unwrap(),
            "\"dynamodb\""
        );
        assert_eq!(
            serde_json::to_string(&Service::IvsRealtime).unwrap(),
            "\"ivs-realtime\""
        );
    }
}
