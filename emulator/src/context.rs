//! What every handler may use without the state's container: the emulated
//! account's settings, who signed one request and its context, and the wire timestamp formats.

use chrono::{DateTime, SecondsFormat, Utc};

use crate::faults::FaultKind;

/// The account every emulated resource belongs to.
pub const ACCOUNT_ID: &str = "123456789012";
/// The region used when a request carries no SigV4 scope.
pub const DEFAULT_REGION: &str = "us-east-1";
/// The IAM user that requests without `UserName` act as.
pub const DEFAULT_CALLER: &str = "rekeyd-caller";

/// Settings fixed at start or by seeding.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub account_id: String,
    pub default_region: String,
    pub caller_user_name: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            account_id: ACCOUNT_ID.to_string(),
            default_region: DEFAULT_REGION.to_string(),
            caller_user_name: DEFAULT_CALLER.to_string(),
        }
    }
}

impl Config {
    /// The default account's caller user, signing with `access_key_id` (any key STS did not
    /// issue); `user_id` is the user's `AIDA...` id.
    pub(crate) fn default_identity(&self, access_key_id: Option<&str>, user_id: &str) -> Identity {
        Identity {
            account_id: self.account_id.clone(),
            access_key_id: access_key_id.map(str::to_owned),
            arn: format!(
                "arn:aws:iam::{}:user/{}",
                self.account_id, self.caller_user_name
            ),
            user_id: user_id.to_string(),
            role_arn: None,
        }
    }
}

/// Who signed a request, and so which account it acts in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Identity {
    pub account_id: String,
    /// The SigV4 access key id, when the request was signed.
    pub access_key_id: Option<String>,
    /// The IAM user's ARN, or the assumed-role session's.
    pub arn: String,
    /// `AIDA...` for a user, `AROA...:SESSION` for a session.
    pub user_id: String,
    /// The role of an assumed-role session.
    pub role_arn: Option<String>,
}

/// What one request's handler knows besides the state.
#[derive(Debug, Clone)]
pub(crate) struct Ctx {
    /// The account the request acts in: the signer's (see [`Ctx::caller`]).
    pub account_id: String,
    /// The region of the request's signature, or the default.
    pub region: String,
    pub caller_user_name: String,
    /// Who signed the request.
    pub caller: Identity,
    pub now: DateTime<Utc>,
    /// Set by handlers that changed state.
    pub mutated: bool,
    /// The injected fault that applies to this call, for the kinds that shape how it is
    /// carried out or answered (`expired_token`, `empty_secret`, ...).
    pub fault: Option<FaultKind>,
}

impl Ctx {
    pub(crate) fn new(config: &Config, signed_region: Option<String>) -> Self {
        Ctx {
            account_id: config.account_id.clone(),
            region: signed_region.unwrap_or_else(|| config.default_region.clone()),
            caller_user_name: config.caller_user_name.clone(),
            caller: config.default_identity(None, ""),
            now: Utc::now(),
            mutated: false,
            fault: None,
        }
    }
}

/// ISO 8601 in UTC with whole seconds, as IAM and Chime print dates.
pub(crate) fn iso8601(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Epoch seconds with millisecond precision, as awsJson1_1 sends timestamps.
pub(crate) fn epoch_seconds(t: DateTime<Utc>) -> f64 {
    t.timestamp_millis() as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn formats_timestamps() {
        let t = Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap();
        assert_eq!(iso8601(t), "2024-05-01T12:00:00Z");
        assert_eq!(epoch_seconds(t), 1714564800.0);
    }
}
