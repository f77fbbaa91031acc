//! Everything between rekeyd and the AWS SDK: clients per account, rate
//! limits, retries, assumed roles.

mod adaptive;
mod clients;
mod gate;
mod https;
mod retry;
mod role;

pub use clients::{AccountClients, Aws, AwsOverrides, RegionalIvs};
pub use gate::{CallError, Gate};
pub use https::client as https_client;
pub use retry::{Failure, RetryPolicy, classify, describe};
pub use role::{AssumeRoleFailed, assume_role_failure, confirm as confirm_identity};
