//! Our retry policy over every AWS call: which failures are worth another
//! try, exponential backoff with full jitter, and a deadline.
//!
//! The SDK's own retries are switched off (see [`super::clients`]) so that one
//! policy covers all four services, including what the SDK does not retry
//! (Chime's `ThrottledClientException`, dropped connections).

use std::time::Duration;

use aws_sdk_secretsmanager::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::http::Response as HttpResponse;

/// How hard to try one AWS operation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// First backoff; doubled per attempt.
    pub base: Duration,
    /// Largest single backoff.
    pub cap: Duration,
    /// Give up once the next try would start after this much time.
    pub deadline: Duration,
    /// Tries when the endpoint cannot be reached at all (nothing was sent).
    pub max_unreachable_attempts: u32,
}

impl RetryPolicy {
    /// For provider calls: a failed rotation is retried on its own schedule.
    pub const PROVIDER: RetryPolicy = RetryPolicy {
        base: Duration::from_millis(100),
        cap: Duration::from_secs(5),
        deadline: Duration::from_secs(30),
        max_unreachable_attempts: 3,
    };

    /// For Secrets Manager writes that hold a freshly issued secret: losing it
    /// locks users out, so these try much longer.
    pub const STORE: RetryPolicy = RetryPolicy {
        base: Duration::from_millis(100),
        cap: Duration::from_secs(10),
        deadline: Duration::from_secs(120),
        max_unreachable_attempts: 12,
    };

    /// Backoff before try number `attempt + 1` (attempt counts from 1): full
    /// jitter over an exponentially growing, capped window.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let window = self
            .base
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(20))
            .min(self.cap);
        // Never below a tenth of the window, so retries are not a tight loop.
        let floor = window / 10;
        floor + window.mul_f64(fastrand::f64() * 0.9)
    }
}

/// What went wrong with one call, as far as retrying is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Error code for logs and metrics: the service's code, `http_NNN`,
    /// `timeout`, `unreachable`, `connection` or `response`.
    pub code: String,
    pub retryable: bool,
    /// The endpoint could not be reached: nothing was sent.
    pub unreachable: bool,
    /// The service refused the call for its request rate (a throttling code or
    /// HTTP 429): the sending rate should drop.
    pub throttled: bool,
}

/// Service error codes that mean "too many requests": worth another try,
/// and the sending rate drops (see [`super::adaptive`]). The SDK's standard
/// list, plus Chime's and IVS's throttling codes the SDK does not retry.
const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "ThrottledClientException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "RequestThrottledException",
    "SlowDown",
];

/// Other service error codes worth another try (transient failures).
const TRANSIENT_CODES: &[&str] = &[
    "RequestTimeout",
    "RequestTimeoutException",
    "PriorRequestNotComplete",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "ServiceFailure",
    "ServiceFailureException",
    "InternalFailure",
    "InternalServerException",
    "InternalServiceError",
    "InternalServiceErrorException",
];

/// Classifies an SDK error.
pub fn classify<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> Failure {
    if let Some(failed) = super::role::assume_role_failure(err) {
        // The account's credentials, not the call, failed: retried only
        // when STS's own failure was transient.
        return Failure {
            code: failed.code.clone(),
            retryable: failed.transient,
            unreachable: false,
            throttled: false,
        };
    }
    match err {
        SdkError::ConstructionFailure(_) => Failure {
            code: "construction".into(),
            retryable: false,
            unreachable: false,
            throttled: false,
        },
        SdkError::TimeoutError(_) => Failure {
            code: "timeout".into(),
            retryable: true,
            unreachable: false,
            throttled: false,
        },
        SdkError::DispatchFailure(failure) => {
            let connect = failure
                .as_connector_error()
                .is_some_and(|e| e.is_io() && !e.is_timeout());
            Failure {
                code: if failure.is_timeout() {
                    "timeout".into()
                } else if connect {
                    "unreachable".into()
                } else {
                    "connection".into()
                },
                retryable: failure.is_io() || failure.is_timeout() || failure.is_other(),
                unreachable: connect,
                throttled: false,
            }
        }
        SdkError::ResponseError(_) => Failure {
            code: "response".into(),
            retryable: true,
            unreachable: false,
            throttled: false,
        },
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            let code = service.err().code().map(str::to_owned);
            let listed = |codes: &[&str]| code.as_deref().is_some_and(|c| codes.contains(&c));
            let throttled = status == 429 || listed(THROTTLING_CODES);
            let retryable =
                throttled || listed(TRANSIENT_CODES) || matches!(status, 500 | 502 | 503 | 504);
            Failure {
                code: code.unwrap_or_else(|| format!("http_{status}")),
                retryable,
                unreachable: false,
                throttled,
            }
        }
        _ => Failure {
            code: "unknown".into(),
            retryable: false,
            unreachable: false,
            throttled: false,
        },
    }
}

/// A one-line, human description of an SDK error: the service's code and
/// message when there is one, else the transport failure's chain.
pub fn describe<E>(err: &SdkError<E, HttpResponse>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    if let Some(failed) = super::role::assume_role_failure(err) {
        return failed.to_string();
    }
    match err {
        SdkError::ServiceError(service) => {
            let inner = service.err();
            let status = service.raw().status();
            match (inner.code(), inner.message()) {
                (Some(code), Some(message)) if !message.is_empty() => format!("{code}: {message}"),
                (Some(code), _) => code.to_owned(),
                // A success status reaches the error path only when its body
                // could not be read as the operation's answer.
                _ if status.is_success() => format!(
                    "http {} with an answer that could not be parsed",
                    status.as_u16()
                ),
                _ => format!("http {}", status.as_u16()),
            }
        }
        other => {
            // The transport's own chain, without the SDK's Debug dump.
            let mut text = other.to_string();
            let mut cause = std::error::Error::source(other);
            while let Some(err) = cause {
                let part = err.to_string();
                if !text.contains(&part) {
                    text.push_str(": ");
                    text.push_str(&part);
                }
                cause = err.source();
            }
            text
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_stays_under_the_cap() {
        let policy = RetryPolicy::PROVIDER;
        for attempt in 1..40 {
            let delay = policy.backoff(attempt);
            assert!(delay <= policy.cap, "attempt {attempt}: {delay:?}");
            let window = policy
                .base
                .saturating_mul(1 << (attempt - 1).min(20))
                .min(policy.cap);
            assert!(delay >= window / 10, "attempt {attempt}: {delay:?}");
        }
    }
}
