//! The one door every AWS call goes through: the sending rate of the
//! service in one account and region (adapted to its throttling, under any
//! configured rate limit), our retry policy, and a log line per retry.

use std::future::Future;

use aws_sdk_secretsmanager::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::http::Response as HttpResponse;
use tokio::time::Instant;
use tracing::warn;

use super::adaptive::AdaptiveLimiter;
use super::retry::{RetryPolicy, classify, describe};

/// One AWS service in one account and region, as rekeyd calls it.
#[derive(Debug)]
pub struct Gate {
    /// `iam`, `chime`, `ivs_realtime`, `secretsmanager` or `dynamodb` (as in the policy).
    pub service: &'static str,
    /// The `[accounts]` name; empty for rekeyd's own identity.
    pub account: String,
    /// The region the client signs for (empty: none configured).
    pub region: String,
    limiter: AdaptiveLimiter,
}

/// An AWS call that failed for good.
#[derive(Debug, thiserror::Error)]
#[error("{detail}")]
pub struct CallError<E: std::error::Error + 'static> {
    /// The failure's code (see [`super::retry::Failure::code`]).
    pub code: String,
    /// The endpoint could not be reached at all.
    pub unreachable: bool,
    /// How many tries were made.
    pub attempts: u32,
    /// A readable one-line description.
    pub detail: String,
    /// The last SDK error (boxed: SDK errors are large).
    #[source]
    pub source: Box<SdkError<E, HttpResponse>>,
}

impl<E: std::error::Error + 'static> CallError<E> {
    /// The typed service error, when the service answered with one.
    pub fn service_error(&self) -> Option<&E> {
        self.source.as_service_error()
    }
}

impl Gate {
    /// `rate_limit` (requests per second, from `[aws.rate_limits]`) is a ceiling:
    /// below it the rate adapts to the service's throttling.
    pub fn new(
        service: &'static str,
        account: &str,
        region: &str,
        rate_limit: Option<f64>,
    ) -> Self {
        let gate = Gate {
            service,
            account: account.to_owned(),
            region: region.to_owned(),
            limiter: AdaptiveLimiter::new(rate_limit),
        };
        gate.report_rate();
        gate
    }

    /// Publishes the current rate (`rekeyd_aws_send_rate`).
    fn report_rate(&self) {
        crate::metrics::registry().aws_send_rate(self.labels(), self.limiter.rate());
    }

    /// Its metric labels.
    fn labels(&self) -> crate::metrics::AwsLabels<'_> {
        crate::metrics::AwsLabels {
            service: self.service,
            account: &self.account,
            region: &self.region,
        }
    }

    /// The limiter heard a success: the rate may have climbed (nothing to
    /// report while unlimited, which keeps the fast path free of the
    /// registry's lock).
    fn succeeded(&self) {
        self.limiter.succeeded(Instant::now());
        if self.limiter.rate().is_some() {
            self.report_rate();
        }
    }

    /// Runs `call` (a fresh request each time) until it succeeds, fails for
    /// good, or `policy` says stop.
    pub async fn call<T, E, F, Fut>(
        &self,
        operation: &'static str,
        policy: RetryPolicy,
        mut call: F,
    ) -> Result<T, CallError<E>>
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    {
        let deadline = Instant::now() + policy.deadline;
        let mut attempts = 0;
        let mut unreachable_attempts = 0;
        loop {
            let round = self.limiter.acquire().await;
            attempts += 1;
            let err = match call().await {
                Ok(value) => {
                    self.succeeded();
                    return Ok(value);
                }
                Err(err) => err,
            };
            let failure = classify(&err);
            if failure.throttled {
                self.limiter.throttled(round, Instant::now());
                self.report_rate();
            } else if matches!(err, SdkError::ServiceError(_)) {
                // The service answered (with another error): not a throttle.
                self.succeeded();
            }
            unreachable_attempts += u32::from(failure.unreachable);
            let delay = policy.backoff(attempts);
            let give_up = !failure.retryable
                || Instant::now() + delay > deadline
                || (failure.unreachable && unreachable_attempts >= policy.max_unreachable_attempts);
            let detail = describe(&err);
            if give_up {
                return Err(CallError {
                    code: failure.code,
                    unreachable: failure.unreachable,
                    attempts,
                    detail,
                    source: Box::new(err),
                });
            }
            crate::metrics::registry().retry(self.labels(), &failure.code);
            warn!(
                service = self.service,
                account = %self.account,
                region = %self.region,
                operation,
                code = %failure.code,
                attempt = attempts,
                delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                error = %detail,
                "aws call failed, retrying"
            );
            tokio::time::sleep(delay).await;
        }
    }
}
