//! Everything between rekeyd and the AWS SDK: clients, rate limits, retries.

mod adaptive;
mod clients;
mod gate;
mod https;
mod retry;

pub use clients::{Aws, AwsOverrides};
pub use gate::{CallError, Gate};
pub use https::client as https_client;
pub use retry::{Failure, RetryPolicy, classify, describe};
