//! What every handler may use without the state's container: the emulated
//! account's settings, one request's context, and the wire timestamp formats.

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

/// What one request's handler knows besides the state.
#[derive(Debug, Clone)]
pub(crate) struct Ctx {
    pub account_id: String,
    /// The region of the request's signature, or the default.
    pub region: String,
    pub caller_user_name: String,
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
