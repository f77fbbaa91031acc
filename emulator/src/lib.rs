//! In-memory emulator of the AWS APIs rekeyd uses — IAM service-specific credentials, Chime bots,
//! IVS real-time participant tokens, Secrets Manager and DynamoDB (for leases), and STS for
//! many accounts — on one HTTP port, with fault injection and test controls. See `README.md` for the control API and the seed format.

// Layered, lowest floor first, one group per floor: a module imports only
// from floors listed before its own (`scripts/import-cycles` finds any
// cycle). The per-service state (iam, chime, ivs, secretsmanager) never
// imports its container (`state`); what they share lives in `context`.

// Nothing from the crate.
mod by_account;
mod error;
mod faults;
mod random;
mod xml;

// One request's context, the call log, IAM's state.
mod calls;
mod context;
mod iam;

// Accounts, roles and sessions.
mod sts;

mod dynamodb;
mod quota;
mod secretsmanager;
mod wire;

mod hostile;
mod iam_wire;
mod truth;

mod sts_wire;

mod chime;
mod ivs;

// The container of every service's state.
mod state;

// Seeding, controls and the HTTP server on top.
mod seed;

mod controls;

mod control_http;

mod router;

mod dispatch;

mod server;

mod emulator;

pub use calls::{CallRecord, Service, ServiceCalls};
pub use context::{ACCOUNT_ID, DEFAULT_CALLER, DEFAULT_REGION};
pub use controls::{Controls, InvalidControl};
pub use emulator::Emulator;
pub use faults::{FaultKind, FaultRule, InvalidFaultRule};
pub use quota::{InvalidQuota, Quota};
pub use seed::{
    SeedAccount, SeedChimeBot, SeedDoc, SeedDynamoTable, SeedError, SeedIamCredential,
    SeedIvsStage, SeedReport, SeedRole, SeedSecret,
};
pub use truth::{
    AccountTruth, ChimeBotTruth, DynamoTableTruth, IamCredentialTruth, IvsStageTruth,
    IvsTokenTruth, RoleTruth, SecretTruth, SecretVersionTruth, SessionTruth, Truth,
};
