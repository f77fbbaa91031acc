//! Request-rate quotas as AWS applies them: a token bucket per service (and optionally per
//! operation), account and region, refilled at a fixed rate; a call that finds a bucket empty
//! gets the service's own throttling error and changes nothing.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::calls::Service;

/// One quota: `rate` requests per second, bursts of up to `burst` requests.
///
/// JSON: a bare number (the rate; the burst is the same, at least 1) or
/// `{"rate": 50, "burst": 10}`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "QuotaJson")]
pub struct Quota {
    /// Requests per second refilled into the bucket.
    pub rate: f64,
    /// The bucket's size: how many requests may go at once after a quiet spell.
    pub burst: f64,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum QuotaJson {
    Rate(f64),
    Full {
        rate: f64,
        #[serde(default)]
        burst: Option<f64>,
    },
}

impl TryFrom<QuotaJson> for Quota {
    type Error = InvalidQuota;

    fn try_from(json: QuotaJson) -> Result<Self, InvalidQuota> {
        let quota = match json {
            QuotaJson::Rate(rate) => Quota::per_second(rate),
            QuotaJson::Full { rate, burst: None } => Quota::per_second(rate),
            QuotaJson::Full {
                rate,
                burst: Some(burst),
            } => Quota { rate, burst },
        };
        quota.validate()?;
        Ok(quota)
    }
}

impl Quota {
    /// `rate` requests per second with a burst of the same size (at least 1), as AWS's
    /// per-account API quotas behave.
    pub fn per_second(rate: f64) -> Self {
        Quota {
            rate,
            burst: rate.max(1.0),
        }
    }

    /// The same rate with another burst.
    pub fn burst(self, burst: f64) -> Self {
        Quota { burst, ..self }
    }

    fn validate(&self) -> Result<(), InvalidQuota> {
        if !(self.rate.is_finite() && self.rate > 0.0) {
            return Err(InvalidQuota(format!(
                "rate {} must be a positive number of requests per second",
                self.rate
            )));
        }
        if !(self.burst.is_finite() && self.burst >= 1.0) {
            return Err(InvalidQuota(format!(
                "burst {} must be at least 1",
                self.burst
            )));
        }
        Ok(())
    }
}

/// Why a quota was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidQuota(pub String);

impl fmt::Display for InvalidQuota {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid quota: {}", self.0)
    }
}

impl std::error::Error for InvalidQuota {}

/// What a quota applies to: a whole service, or one of its operations.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Scope {
    service: Service,
    operation: Option<String>,
}

impl Scope {
    /// `secretsmanager`, `chime`, `iam`, `ivs-realtime` (or `ivs_realtime`), `dynamodb`, optionally
    /// followed by `:Operation`.
    fn parse(key: &str) -> Result<Scope, InvalidQuota> {
        let (service, operation) = match key.split_once(':') {
            Some((service, operation)) => (service, Some(operation)),
            None => (key, None),
        };
        let service = match service {
            "iam" => Service::Iam,
            "chime" => Service::Chime,
            "ivs-realtime" | "ivs_realtime" => Service::IvsRealtime,
            "secretsmanager" => Service::Secretsmanager,
            "dynamodb" => Service::Dynamodb,
            "sts" => Service::Sts,
            other => {
                return Err(InvalidQuota(format!(
                    "unknown service {other:?} (iam, chime, ivs-realtime, secretsmanager, dynamodb, sts)"
                )));
            }
        };
        if operation.is_some_and(str::is_empty) {
            return Err(InvalidQuota(format!("{key:?} names no operation")));
        }
        Ok(Scope {
            service,
            operation: operation.map(str::to_owned),
        })
    }

    fn key(&self) -> String {
        let service = serde_json::to_value(self.service)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        match &self.operation {
            Some(op) => format!("{service}:{op}"),
            None => service,
        }
    }

    fn covers(&self, service: Service, operation: &str) -> bool {
        self.service == service && self.operation.as_deref().is_none_or(|op| op == operation)
    }
}

#[derive(Debug, Clone)]
struct Bucket {
    quota: Quota,
    tokens: f64,
    updated: Instant,
}

impl Bucket {
    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.quota.rate).min(self.quota.burst);
        self.updated = now;
    }
}

/// A bucket's key: the quota's scope, the account and the region it counts.
type BucketKey = (Scope, String, String);

/// The active quotas and their buckets: as on AWS, each quota applies to every account and
/// region separately, with a bucket of its own (made full on first use).
#[derive(Debug, Clone, Default)]
pub(crate) struct QuotaSet {
    quotas: BTreeMap<Scope, Quota>,
    buckets: HashMap<BucketKey, Bucket>,
}

impl QuotaSet {
    /// Parses and checks `{"secretsmanager": 50, "chime:GetBot": {"rate": 5, "burst": 1}}`.
    pub(crate) fn check(
        quotas: &BTreeMap<String, Quota>,
    ) -> Result<Vec<(String, Quota)>, InvalidQuota> {
        quotas
            .iter()
            .map(|(key, quota)| {
                quota.validate()?;
                Scope::parse(key).map(|_| (key.clone(), *quota))
            })
            .collect()
    }

    /// Sets (or replaces) the quota of each key; its buckets start full.
    pub(crate) fn set(&mut self, quotas: &BTreeMap<String, Quota>) {
        for (key, quota) in quotas {
            let Ok(scope) = Scope::parse(key) else {
                continue;
            };
            self.buckets.retain(|(s, _, _), _| *s != scope);
            self.quotas.insert(scope, *quota);
        }
    }

    pub(crate) fn clear(&mut self) {
        self.quotas.clear();
        self.buckets.clear();
    }

    /// The quotas by key (`secretsmanager`, `chime:GetBot`, ...).
    pub(crate) fn quotas(&self) -> BTreeMap<String, Quota> {
        self.quotas
            .iter()
            .map(|(scope, quota)| (scope.key(), *quota))
            .collect()
    }

    /// Takes one token from every bucket of `account` and `region` covering the call; when
    /// any is short of one, takes none and answers false (the call is throttled).
    pub(crate) fn admit(
        &mut self,
        service: Service,
        operation: &str,
        (account, region): (&str, &str),
        now: Instant,
    ) -> bool {
        for (scope, quota) in &self.quotas {
            if scope.covers(service, operation) {
                let key = (scope.clone(), account.to_string(), region.to_string());
                self.buckets.entry(key).or_insert(Bucket {
                    quota: *quota,
                    tokens: quota.burst,
                    updated: now,
                });
            }
        }
        let mut covering: Vec<&mut Bucket> = self
            .buckets
            .iter_mut()
            .filter(|((scope, a, r), _)| {
                a == account && r == region && scope.covers(service, operation)
            })
            .map(|(_, bucket)| bucket)
            .collect();
        covering.iter_mut().for_each(|b| b.refill(now));
        // (The tolerance absorbs rounding in the refill sums.)
        if covering.iter().any(|b| b.tokens < 1.0 - 1e-9) {
            return false;
        }
        covering
            .iter_mut()
            .for_each(|b| b.tokens = (b.tokens - 1.0).max(0.0));
        true
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const HOME: (&str, &str) = ("123456789012", "us-east-1");

    fn set(pairs: &[(&str, Quota)]) -> QuotaSet {
        let map: BTreeMap<String, Quota> = pairs.iter().map(|(k, q)| (k.to_string(), *q)).collect();
        QuotaSet::check(&map).unwrap();
        let mut set = QuotaSet::default();
        set.set(&map);
        set
    }

    #[test]
    fn a_full_bucket_serves_its_burst_then_the_rate() {
        let start = Instant::now();
        let mut quotas = set(&[("secretsmanager", Quota::per_second(10.0))]);
        let served = (0..25)
            .filter(|_| quotas.admit(Service::Secretsmanager, "PutSecretValue", HOME, start))
            .count();
        assert_eq!(served, 10);
        // Other services are not limited.
        assert!(quotas.admit(Service::Chime, "GetBot", HOME, start));
        // One second later, ten more; a thousand calls over the next 10 s get 100.
        let later = start + Duration::from_secs(1);
        let served = (0..25)
            .filter(|_| quotas.admit(Service::Secretsmanager, "GetSecretValue", HOME, later))
            .count();
        assert_eq!(served, 10);
        let served = (0..1000)
            .filter(|i| {
                let at = later + Duration::from_millis(10 * (i + 1));
                quotas.admit(Service::Secretsmanager, "GetSecretValue", HOME, at)
            })
            .count();
        assert_eq!(served, 100);
    }

    #[test]
    fn each_account_and_region_has_its_own_buckets() {
        let now = Instant::now();
        let mut quotas = set(&[("chime", Quota::per_second(2.0))]);
        let media = ("111111111111", "us-east-1");
        let west = ("123456789012", "eu-west-1");
        for who in [HOME, media, west] {
            let served = (0..5)
                .filter(|_| quotas.admit(Service::Chime, "GetBot", who, now))
                .count();
            assert_eq!(served, 2, "{who:?}");
        }
        // Setting the quota again refills every account's bucket.
        quotas.set(&BTreeMap::from([(
            "chime".to_string(),
            Quota::per_second(2.0),
        )]));
        assert!(quotas.admit(Service::Chime, "GetBot", media, now));
    }

    #[test]
    fn operation_quotas_apply_with_the_service_quota() {
        let now = Instant::now();
        let mut quotas = set(&[
            ("chime", Quota::per_second(5.0)),
            ("chime:GetBot", Quota::per_second(2.0).burst(2.0)),
        ]);
        assert!(quotas.admit(Service::Chime, "GetBot", HOME, now));
        assert!(quotas.admit(Service::Chime, "GetBot", HOME, now));
        assert!(!quotas.admit(Service::Chime, "GetBot", HOME, now));
        // A refused call took nothing from the service bucket: three left.
        let served = (0..5)
            .filter(|_| quotas.admit(Service::Chime, "RegenerateSecurityToken", HOME, now))
            .count();
        assert_eq!(served, 3);
    }

    #[test]
    fn parses_and_refuses() {
        let map: BTreeMap<String, Quota> =
            serde_json::from_str(r#"{"secretsmanager": 50, "ivs_realtime": {"rate": 0.5}, "iam:GetUser": {"rate": 2, "burst": 4}}"#)
                .unwrap();
        assert_eq!(map["secretsmanager"], Quota::per_second(50.0));
        assert_eq!(map["ivs_realtime"].burst, 1.0);
        assert_eq!(map["iam:GetUser"].burst, 4.0);
        let mut quotas = QuotaSet::default();
        quotas.set(&map);
        let keys: Vec<String> = quotas.quotas().into_keys().collect();
        assert_eq!(keys, ["iam:GetUser", "ivs-realtime", "secretsmanager"]);
        for bad in [r#"{"s3": 5}"#, r#"{"iam:": 5}"#] {
            let map: BTreeMap<String, Quota> = serde_json::from_str(bad).unwrap();
            assert!(QuotaSet::check(&map).is_err(), "{bad}");
        }
        for bad in [
            r#"{"iam": 0}"#,
            r#"{"iam": {"rate": 5, "burst": 0.5}}"#,
            r#"{"iam": "x"}"#,
        ] {
            assert!(
                serde_json::from_str::<BTreeMap<String, Quota>>(bad).is_err(),
                "{bad}"
            );
        }
    }
}
