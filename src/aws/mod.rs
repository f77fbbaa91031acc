//! Everything between rekeyd and the AWS SDK: clients, rate limits, retries.

mod clients;
mod gate;
mod retry;

pub use clients::{Aws, AwsOverrides};
pub use gate::{CallError, Gate, RateLimiter};
pub use retry::{Failure, RetryPolicy, classify, describe};
