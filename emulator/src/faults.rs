//! Fault injection: rules per operation that throttle, fail, delay or drop the next matching calls,
//! or answer them in ways that break a client's expectations (see `hostile.rs`).

use serde::{Deserialize, Serialize};

/// What an injected fault does to a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// Answer the service's own throttling error; no state change.
    Throttle,
    /// Answer the service's 500 (or 503, see [`FaultRule::status`]) error; no state change.
    ServerError,
    /// Sleep [`FaultRule::delay_ms`] before handling the call normally.
    Delay,
    /// Perform the operation, then close the connection without answering.
    MutateThenDrop,
    /// Close the connection without performing the operation.
    Unavailable,
    /// Perform the operation, then answer HTTP 200 with a body that is not the protocol's format.
    Garbage,
    /// Perform the operation (a new secret is issued and held), then answer it well-formed
    /// but with the secret empty. Only operations that issue a secret.
    EmptySecret,
    /// Perform the operation, then answer it well-formed but without the secret field.
    /// Only operations that issue a secret.
    MissingFields,
    /// IVS `CreateParticipantToken` issues (and holds) a token whose expiration time has passed.
    ExpiredToken,
}

/// Operations whose answer carries a newly issued secret.
pub(crate) const ISSUING_OPERATIONS: &[&str] = &[
    "RegenerateSecurityToken",
    "ResetServiceSpecificCredential",
    "CreateServiceSpecificCredential",
    "CreateParticipantToken",
];

impl FaultKind {
    /// Whether this kind can affect `operation`: the answer-shaping kinds pass over
    /// operations that have no secret (or no token) to break, even under `*`.
    pub fn applies_to(self, operation: &str) -> bool {
        match self {
            FaultKind::EmptySecret | FaultKind::MissingFields => {
                ISSUING_OPERATIONS.contains(&operation)
            }
            FaultKind::ExpiredToken => operation == "CreateParticipantToken",
            _ => true,
        }
    }
}

/// One fault rule. JSON: `{"operation": "PutSecretValue", "kind": "throttle", "times": 1}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRule {
    /// Operation name (`PutSecretValue`, `RegenerateSecurityToken`, ...) or `*` for every operation.
    pub operation: String,
    /// What the fault does.
    pub kind: FaultKind,
    /// Apply to the next N matching calls only; unlimited when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u32>,
    /// Apply to each matching call with this probability (0.0–1.0); always when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
    /// For `delay`: how long to sleep, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    /// For `server_error`: 500 (default) or 503.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
}

impl FaultRule {
    /// A rule applying `kind` to every call of `operation` until cleared.
    pub fn new(operation: impl Into<String>, kind: FaultKind) -> Self {
        FaultRule {
            operation: operation.into(),
            kind,
            times: None,
            probability: None,
            delay_ms: None,
            status: None,
        }
    }

    /// Limits the rule to the next `n` matching calls.
    pub fn times(mut self, n: u32) -> Self {
        self.times = Some(n);
        self
    }

    /// Applies the rule to each matching call with probability `p`.
    pub fn probability(mut self, p: f64) -> Self {
        self.probability = Some(p);
        self
    }

    /// A `delay` rule sleeping `ms` milliseconds.
    pub fn delay(operation: impl Into<String>, ms: u64) -> Self {
        let mut rule = FaultRule::new(operation, FaultKind::Delay);
        rule.delay_ms = Some(ms);
        rule
    }

    /// Checks the fields that JSON alone cannot constrain.
    pub fn validate(&self) -> Result<(), InvalidFaultRule> {
        let refuse = |m: String| Err(InvalidFaultRule(m));
        if self.operation.is_empty() {
            return refuse("operation must not be empty".into());
        }
        if let Some(p) = self.probability
            && !(0.0..=1.0).contains(&p)
        {
            return refuse(format!("probability {p} is outside 0.0..=1.0"));
        }
        if self.operation != "*" && !self.kind.applies_to(&self.operation) {
            let kind = serde_json::to_value(self.kind).unwrap_or_default();
            return refuse(format!(
                "kind {} never applies to {}: it needs an operation that issues a {}",
                kind.as_str().unwrap_or("?"),
                self.operation,
                if self.kind == FaultKind::ExpiredToken {
                    "token (CreateParticipantToken)"
                } else {
                    "secret"
                }
            ));
        }
        if self.kind == FaultKind::Delay && self.delay_ms.is_none() {
            return refuse("kind delay needs delay_ms".into());
        }
        if let Some(status) = self.status
            && (self.kind != FaultKind::ServerError || !matches!(status, 500 | 503))
        {
            return refuse(format!(
                "status {status} is only allowed as 500 or 503 with kind server_error"
            ));
        }
        Ok(())
    }

    fn matches(&self, operation: &str) -> bool {
        (self.operation == "*" || self.operation == operation) && self.kind.applies_to(operation)
    }
}

/// Why a fault rule was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidFaultRule(pub String);

impl std::fmt::Display for InvalidFaultRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid fault rule: {}", self.0)
    }
}

impl std::error::Error for InvalidFaultRule {}

/// A fault chosen for one call.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct AppliedFault {
    pub kind: FaultKind,
    pub delay_ms: u64,
    pub status: u16,
}

/// The active rules, in the order they were injected.
#[derive(Debug, Clone, Default)]
pub(crate) struct FaultSet {
    rules: Vec<FaultRule>,
}

impl FaultSet {
    pub(crate) fn push(&mut self, rule: FaultRule) {
        self.rules.push(rule);
    }

    pub(crate) fn clear(&mut self) {
        self.rules.clear();
    }

    pub(crate) fn rules(&self) -> Vec<FaultRule> {
        self.rules.clone()
    }

    /// Picks the first rule that applies to this call, consuming one of its `times`.
    pub(crate) fn take(&mut self, operation: &str) -> Option<AppliedFault> {
        let mut chosen = None;
        for rule in self.rules.iter_mut() {
            if !rule.matches(operation) || rule.times == Some(0) {
                continue;
            }
            if let Some(p) = rule.probability
                && fastrand::f64() >= p
            {
                continue;
            }
            if let Some(n) = rule.times.as_mut() {
                *n -= 1;
            }
            chosen = Some(AppliedFault {
                kind: rule.kind,
                delay_ms: rule.delay_ms.unwrap_or(0),
                status: rule.status.unwrap_or(500),
            });
            break;
        }
        self.rules.retain(|r| r.times != Some(0));
        chosen
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_limits_and_expires_rules() {
        let mut set = FaultSet::default();
        set.push(FaultRule::new("PutSecretValue", FaultKind::Throttle).times(2));
        assert!(set.take("GetSecretValue").is_none());
        assert_eq!(
            set.take("PutSecretValue").unwrap().kind,
            FaultKind::Throttle
        );
        assert!(set.take("PutSecretValue").is_some());
        assert!(set.take("PutSecretValue").is_none());
        assert!(set.rules().is_empty());
    }

    #[test]
    fn wildcard_and_probability() {
        let mut set = FaultSet::default();
        set.push(FaultRule::new("*", FaultKind::Unavailable).probability(0.0));
        assert!(set.take("GetBot").is_none());
        set.push(FaultRule::new("*", FaultKind::Unavailable).probability(1.0));
        assert_eq!(set.take("GetBot").unwrap().kind, FaultKind::Unavailable);
    }

    #[test]
    fn parses_json_and_validates() {
        let rule: FaultRule =
            serde_json::from_str(r#"{"operation":"GetBot","kind":"delay","delay_ms":50}"#).unwrap();
        assert!(rule.validate().is_ok());
        let bad: FaultRule =
            serde_json::from_str(r#"{"operation":"GetBot","kind":"throttle","status":503}"#)
                .unwrap();
        assert!(bad.validate().is_err());
        assert!(serde_json::from_str::<FaultRule>(r#"{"operation":"x","kind":"nope"}"#).is_err());
        for kind in ["garbage", "empty_secret", "missing_fields", "expired_token"] {
            let json = format!(r#"{{"operation":"*","kind":"{kind}"}}"#);
            let rule: FaultRule = serde_json::from_str(&json).unwrap();
            assert!(rule.validate().is_ok(), "{kind}");
            assert_eq!(serde_json::to_value(rule.kind).unwrap(), kind);
        }
    }

    #[test]
    fn answer_shaping_kinds_skip_operations_without_a_secret() {
        let mut set = FaultSet::default();
        set.push(FaultRule::new("*", FaultKind::ExpiredToken).times(1));
        set.push(FaultRule::new("*", FaultKind::EmptySecret).times(1));
        assert!(set.take("PutSecretValue").is_none());
        assert_eq!(
            set.take("RegenerateSecurityToken").unwrap().kind,
            FaultKind::EmptySecret
        );
        assert_eq!(
            set.take("CreateParticipantToken").unwrap().kind,
            FaultKind::ExpiredToken
        );
        assert!(set.rules().is_empty());
        let never = FaultRule::new("GetBot", FaultKind::MissingFields);
        assert!(never.validate().is_err());
        set.push(never);
        assert!(set.take("GetBot").is_none());
        set.push(FaultRule::new("GetBot", FaultKind::Garbage));
        assert_eq!(set.take("GetBot").unwrap().kind, FaultKind::Garbage);
    }
}
