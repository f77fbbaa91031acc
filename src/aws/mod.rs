//! Everything between rekeyd and the AWS SDK: clients, rate limits, retries.

mod adaptive;
mod clients;
mod gate;
mod retry;

pub use adaptive::AdaptiveLimiter;
pub use clients::{Aws, AwsOverrides};
pub use gate::{CallError, Gate};
pub use retry::{Failure, RetryPolicy, classify, describe};
