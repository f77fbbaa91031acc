//! The one door every AWS call goes through: the service's rate limit, our
//! retry policy, and a log line per retry.

use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use aws_sdk_secretsmanager::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::http::Response as HttpResponse;
use tokio::time::Instant;
use tracing::warn;

use super::retry::{RetryPolicy, classify, describe};

/// Spaces calls to at most `rate` per second (no bursts beyond one).
#[derive(Debug)]
pub struct RateLimiter {
    interval: Duration,
    next_slot: Mutex<Instant>,
}

impl RateLimiter {
    /// `per_second` must be positive (the policy validates it).
    pub fn new(per_second: f64) -> Self {
        RateLimiter {
            interval: Duration::from_secs_f64(1.0 / per_second),
            next_slot: Mutex::new(Instant::now()),
        }
    }

    /// Waits for this caller's slot.
    pub async fn acquire(&self) {
        let slot = {
            let mut next = self.next_slot.lock().expect("rate limiter lock");
            let slot = (*next).max(Instant::now());
            *next = slot + self.interval;
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

/// One AWS service as rekeyd calls it.
#[derive(Debug)]
pub struct Gate {
    /// `iam`, `chime`, `ivs_realtime` or `secretsmanager` (as in the policy).
    pub service: &'static str,
    limiter: Option<RateLimiter>,
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
    pub fn new(service: &'static str, rate_limit: Option<f64>) -> Self {
        Gate {
            service,
            limiter: rate_limit.map(RateLimiter::new),
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
            if let Some(limiter) = &self.limiter {
                limiter.acquire().await;
            }
            attempts += 1;
            let err = match call().await {
                Ok(value) => return Ok(value),
                Err(err) => err,
            };
            let failure = classify(&err);
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
            crate::metrics::registry().retry(self.service, &failure.code);
            warn!(
                service = self.service,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn rate_limiter_spaces_calls() {
        let limiter = RateLimiter::new(10.0);
        let start = Instant::now();
        for _ in 0..5 {
            limiter.acquire().await;
        }
        // The first call goes at once, the next four 100 ms apart.
        assert_eq!(start.elapsed(), Duration::from_millis(400));
    }
}
