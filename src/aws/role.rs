//! The credentials of an `[accounts]` role: aws-config's `AssumeRoleProvider`
//! on top of rekeyd's own credentials, behind the clients' identity cache
//! (see [`super::clients`]). A refusal names the role and STS's error code,
//! and a role STS refused is asked again only after [`REFUSAL_PAUSE`], so
//! that a fleet of rotations in a broken account does not flood STS.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::SdkConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_credential_types::provider::{self, ProvideCredentials, error::CredentialsError, future};
use aws_sdk_sts::operation::assume_role::AssumeRoleError;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::http::Response as HttpResponse;
use tokio::time::Instant;
use tracing::{info, warn};

use crate::policy::Account;

/// How long a refused role is not asked again.
pub const REFUSAL_PAUSE: Duration = Duration::from_secs(60);

/// STS would not give rekeyd the role's credentials.
#[derive(Debug, Clone, thiserror::Error)]
#[error("cannot assume role {role_arn} (account {account}): {detail}")]
pub struct AssumeRoleFailed {
    /// The `[accounts]` name.
    pub account: String,
    pub role_arn: String,
    /// STS's error code (`AccessDenied`, ...), or the transport's
    /// (`timeout`, `unreachable`, ...).
    pub code: String,
    /// Code and message, on one line.
    pub detail: String,
    /// Worth another try soon (a timeout, a throttle, a 5xx).
    pub transient: bool,
}

/// One account's role credentials.
#[derive(Debug)]
pub struct RoleCredentials {
    account: Arc<Account>,
    inner: AssumeRoleProvider,
    refused: Mutex<Option<(Instant, AssumeRoleFailed)>>,
}

impl RoleCredentials {
    /// Assumes `account`'s role with `base`'s credentials, STS endpoint
    /// (`sts_endpoint` wins) and the account's region.
    pub async fn new(account: Arc<Account>, base: &SdkConfig, sts_endpoint: Option<&str>) -> Self {
        let mut base = base.clone().into_builder();
        if let Some(url) = sts_endpoint {
            base.set_endpoint_url(Some(url.to_owned()));
        }
        if let Some(region) = &account.region {
            base.set_region(Some(aws_config::Region::new(region.clone())));
        }
        let mut builder = AssumeRoleProvider::builder(account.role_arn.clone())
            .session_name(account.session_name.clone())
            .configure(&base.build());
        if let Some(id) = &account.external_id {
            builder = builder.external_id(id.clone());
        }
        RoleCredentials {
            inner: builder.build().await,
            account,
            refused: Mutex::new(None),
        }
    }

    async fn credentials(&self) -> provider::Result {
        if let Some(failed) = self.recent_refusal() {
            return Err(CredentialsError::provider_error(failed));
        }
        match self.inner.provide_credentials().await {
            Ok(credentials) => {
                info!(account = %self.account.name, role = %self.account.role_arn, "assumed the account's role");
                *self.lock() = None;
                Ok(credentials)
            }
            Err(err) => {
                let failed = self.failure(&err);
                warn!(account = %failed.account, role = %failed.role_arn, code = %failed.code, error = %failed.detail, "cannot assume the account's role");
                if !failed.transient {
                    *self.lock() = Some((Instant::now(), failed.clone()));
                }
                Err(CredentialsError::provider_error(failed))
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(Instant, AssumeRoleFailed)>> {
        self.refused.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// STS's refusal, while it is recent.
    fn recent_refusal(&self) -> Option<AssumeRoleFailed> {
        let refused = self.lock();
        let (at, failed) = refused.as_ref()?;
        (at.elapsed() < REFUSAL_PAUSE).then(|| failed.clone())
    }

    /// The provider's error, with STS's code when STS answered.
    fn failure(&self, err: &CredentialsError) -> AssumeRoleFailed {
        let sts = std::error::Error::source(err)
            .and_then(|s| s.downcast_ref::<SdkError<AssumeRoleError, HttpResponse>>());
        let (code, detail, transient) = match sts {
            Some(sts) => {
                let failure = super::retry::classify(sts);
                (failure.code, super::retry::describe(sts), failure.retryable)
            }
            None => ("credentials".to_owned(), chain(err), false),
        };
        AssumeRoleFailed {
            account: self.account.name.clone(),
            role_arn: self.account.role_arn.clone(),
            code,
            detail,
            transient,
        }
    }
}

/// An error and its sources on one line.
fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut cause = err.source();
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

impl ProvideCredentials for RoleCredentials {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(self.credentials())
    }
}

/// The role failure behind an SDK error, if credentials were what failed.
pub fn assume_role_failure<E, R>(err: &SdkError<E, R>) -> Option<&AssumeRoleFailed> {
    let SdkError::DispatchFailure(failure) = err else {
        return None;
    };
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(failure.as_connector_error()?);
    while let Some(err) = cause {
        if let Some(failed) = err.downcast_ref::<AssumeRoleFailed>() {
            return Some(failed);
        }
        cause = err.source();
    }
    None
}

/// Confirms that `clients`' identity works: GetCallerIdentity through it
/// (for a role: assumed first). `Ok`: the caller's ARN.
pub async fn confirm(clients: &super::AccountClients) -> Result<String, String> {
    match clients.sts.get_caller_identity().send().await {
        Ok(out) => Ok(out.arn.unwrap_or_default()),
        Err(err) => Err(match assume_role_failure(&err) {
            Some(failed) => failed.to_string(),
            None => format!(
                "sts GetCallerIdentity failed: {}",
                super::retry::describe(&err)
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_chime::operation::get_bot::GetBotError;
    use aws_smithy_runtime_api::client::result::ConnectorError;

    use super::*;
    use crate::aws::{classify, describe};

    /// A call that failed because the account's credentials could not be
    /// had, as the SDK reports it (a dispatch failure around the provider's
    /// error).
    fn failed_call(transient: bool) -> SdkError<GetBotError, HttpResponse> {
        let failed = AssumeRoleFailed {
            account: "media".into(),
            role_arn: "arn:aws:iam::111111111111:role/rekeyd".into(),
            code: if transient {
                "Throttling"
            } else {
                "AccessDenied"
            }
            .into(),
            detail: "AccessDenied: not authorized".into(),
            transient,
        };
        let credentials = CredentialsError::provider_error(failed);
        SdkError::dispatch_failure(ConnectorError::other(Box::new(credentials), None))
    }

    #[test]
    fn a_refused_role_is_named_and_not_retried() {
        let err = failed_call(false);
        let failure = classify(&err);
        assert_eq!(failure.code, "AccessDenied");
        assert!(!failure.retryable && !failure.unreachable && !failure.throttled);
        assert_eq!(
            describe(&err),
            "cannot assume role arn:aws:iam::111111111111:role/rekeyd (account media): AccessDenied: not authorized"
        );
    }

    #[test]
    fn a_transient_sts_failure_is_retried() {
        let failure = classify(&failed_call(true));
        assert_eq!(failure.code, "Throttling");
        assert!(failure.retryable);
    }
}
