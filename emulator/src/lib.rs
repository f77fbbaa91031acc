//! In-memory emulator of the AWS APIs rekeyd uses — IAM service-specific credentials, Chime bots,
//! IVS real-time participant tokens, Secrets Manager and DynamoDB (for leases) — on one HTTP
//! port, with fault injection and test controls. See `README.md` for the control API and the seed format.

mod calls;
mod chime;
mod control_http;
mod controls;
mod dispatch;
mod dynamodb;
mod emulator;
mod error;
mod faults;
mod hostile;
mod iam;
mod iam_wire;
mod ivs;
mod quota;
mod random;
mod router;
mod secretsmanager;
mod seed;
mod server;
mod state;
mod truth;
mod wire;
mod xml;

pub use calls::{CallRecord, Service, ServiceCalls};
pub use controls::Controls;
pub use emulator::Emulator;
pub use faults::{FaultKind, FaultRule, InvalidFaultRule};
pub use quota::{InvalidQuota, Quota};
pub use seed::{
    SeedChimeBot, SeedDoc, SeedDynamoTable, SeedError, SeedIamCredential, SeedIvsStage, SeedReport,
    SeedSecret,
};
pub use state::{ACCOUNT_ID, DEFAULT_CALLER, DEFAULT_REGION};
pub use truth::{
    ChimeBotTruth, DynamoTableTruth, IamCredentialTruth, IvsStageTruth, IvsTokenTruth, SecretTruth,
    SecretVersionTruth, Truth,
};
