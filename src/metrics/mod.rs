//! Prometheus metrics: a process-wide registry that the rotation, the AWS
//! gate and the daemon write to, rendered in the text exposition format.
//! Names follow cert-manager's certificate metrics
//! (`..._expiration_timestamp_seconds`, `..._renewal_timestamp_seconds`).

mod http;
mod render;

pub use http::serve;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use chrono::{DateTime, Utc};

/// Upper bounds of the rotation duration histogram, in seconds.
pub const DURATION_BUCKETS: [f64; 11] =
    [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0];

/// The scheduler counts as stalled when it has not ticked for this long.
pub const STALL_AFTER: Duration = Duration::from_secs(15);

/// The labels of an AWS call's metrics. `account` is the `[accounts]` name,
/// empty (`account=""`) for rekeyd's own identity; quotas are per service,
/// account and region, and so are these metrics.
#[derive(Debug, Clone, Copy)]
pub struct AwsLabels<'a> {
    pub service: &'a str,
    pub account: &'a str,
    pub region: &'a str,
}

/// (service, account, region).
type AwsKey = (String, String, String);

impl AwsLabels<'_> {
    fn key(self) -> AwsKey {
        (self.service.into(), self.account.into(), self.region.into())
    }
}

/// Every metric rekeyd keeps.
#[derive(Debug, Default)]
pub struct Registry {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// (kind, result) → count; result is success, failure or in_doubt.
    rotations: BTreeMap<(String, String), u64>,
    durations: BTreeMap<String, Histogram>,
    /// ((service, account, region), error code) → count.
    retries: BTreeMap<(AwsKey, String), u64>,
    /// (service, account, region) → requests per second calls are spaced at
    /// (absent: unlimited).
    send_rates: BTreeMap<AwsKey, f64>,
    /// By credential name, shared with the daemon's own copy of it.
    credentials: BTreeMap<Arc<str>, CredentialGauges>,
    /// The credential kinds' names that [`CredentialGauges::kind`] indexes.
    kinds: Vec<&'static str>,
    scheduler_tick: Option<DateTime<Utc>>,
    /// (hook, outcome) → runs.
    hook_runs: BTreeMap<(String, String), u64>,
    /// `[coordination]` only: set by the first lease event.
    leases: Option<LeaseCounters>,
}

impl Inner {
    /// The gauges of credential `name`, made on first use (the name is
    /// copied only then, not at each update).
    fn gauges(&mut self, name: &str) -> &mut CredentialGauges {
        if !self.credentials.contains_key(name) {
            let kind = self.kind_index("");
            let gauges = CredentialGauges {
                kind,
                ..CredentialGauges::default()
            };
            self.credentials.insert(Arc::from(name), gauges);
        }
        self.credentials.get_mut(name).expect("inserted above")
    }

    /// The index of `kind` in [`Inner::kinds`] (added if new).
    fn kind_index(&mut self, kind: &'static str) -> u8 {
        let at = match self.kinds.iter().position(|k| *k == kind) {
            Some(at) => at,
            None => {
                self.kinds.push(kind);
                self.kinds.len() - 1
            }
        };
        u8::try_from(at).expect("a handful of credential kinds")
    }
}

#[derive(Debug, Default, Clone)]
struct LeaseCounters {
    held: i64,
    acquired: u64,
    lost: u64,
    contended: u64,
}

#[derive(Debug, Default, Clone)]
struct Histogram {
    /// Cumulative counts per bucket of [`DURATION_BUCKETS`].
    buckets: [u64; DURATION_BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// One credential's gauges: 32 bytes, kept for every credential (100,000
/// on a large host).
#[derive(Debug, Default, Clone)]
struct CredentialGauges {
    /// The policy table's name (`chime_bot`), as an index into
    /// [`Inner::kinds`]: a byte, not a string per credential.
    kind: u8,
    consecutive_failures: u32,
    last_success: Stamp,
    next_due: Stamp,
    expires: Stamp,
}

/// A time to the millisecond (as the gauges expose it), or none: eight
/// bytes where `Option<DateTime<Utc>>` takes sixteen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp(i64);

impl Stamp {
    const NONE: Stamp = Stamp(i64::MIN);

    fn of(time: Option<DateTime<Utc>>) -> Stamp {
        time.map_or(Stamp::NONE, |t| Stamp(t.timestamp_millis()))
    }

    /// Unix time in seconds.
    fn seconds(self) -> Option<f64> {
        (self != Stamp::NONE).then(|| self.0 as f64 / 1000.0)
    }
}

impl Default for Stamp {
    fn default() -> Self {
        Stamp::NONE
    }
}

/// The process-wide registry.
pub fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(Registry::default)
}

impl Registry {
    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        f(&mut self.inner.lock().expect("metrics lock"))
    }

    /// A rotation ended with `result` (`success`, `failure`, `in_doubt`).
    pub fn rotation_finished(&self, kind: &str, result: &str, took: Duration) {
        self.with(|m| {
            *m.rotations.entry((kind.into(), result.into())).or_default() += 1;
            let histogram = m.durations.entry(kind.into()).or_default();
            let seconds = took.as_secs_f64();
            histogram.count += 1;
            histogram.sum += seconds;
            for (bucket, bound) in histogram.buckets.iter_mut().zip(DURATION_BUCKETS) {
                if seconds <= bound {
                    *bucket += 1;
                }
            }
        });
    }

    /// An AWS call is being retried after failing with `code`.
    pub fn retry(&self, labels: AwsLabels<'_>, code: &str) {
        self.with(|m| *m.retries.entry((labels.key(), code.into())).or_default() += 1);
    }

    /// A run of a consumer hook ended with `outcome` (`success`, `failure`,
    /// `signalled`, `timeout`, `not_started`).
    pub fn hook_run(&self, hook: &str, outcome: &str) {
        self.with(|m| {
            *m.hook_runs
                .entry((hook.into(), outcome.into()))
                .or_default() += 1
        });
    }

    /// The rate calls to a service in an account and region are spaced at
    /// now (adapted to throttling, under `[aws.rate_limits]`), `None` while
    /// unlimited.
    pub fn aws_send_rate(&self, labels: AwsLabels<'_>, rate: Option<f64>) {
        self.with(|m| match rate {
            Some(rate) => {
                m.send_rates.insert(labels.key(), rate);
            }
            None => {
                m.send_rates.remove(&labels.key());
            }
        });
    }

    /// The credential is under the daemon's care (or its kind changed);
    /// `name` is shared, not copied.
    pub fn credential(&self, name: &Arc<str>, kind: &'static str) {
        self.with(|m| {
            let kind = m.kind_index(kind);
            match m.credentials.get_mut(name.as_ref()) {
                Some(gauges) => gauges.kind = kind,
                None => {
                    let gauges = CredentialGauges {
                        kind,
                        ..CredentialGauges::default()
                    };
                    m.credentials.insert(Arc::clone(name), gauges);
                }
            }
        });
    }

    /// The credential left the policy.
    pub fn forget_credential(&self, name: &str) {
        self.with(|m| m.credentials.remove(name));
    }

    pub fn next_due(&self, name: &str, at: DateTime<Utc>) {
        self.with(|m| m.gauges(name).next_due = Stamp::of(Some(at)));
    }

    /// The last successful rotation, from a rotation or read back at start.
    pub fn rotated(&self, name: &str, at: DateTime<Utc>, expires: Option<DateTime<Utc>>) {
        self.with(|m| {
            let gauges = m.gauges(name);
            gauges.last_success = Stamp::of(Some(at));
            gauges.expires = Stamp::of(expires);
            gauges.consecutive_failures = 0;
        });
    }

    pub fn failed(&self, name: &str) {
        self.with(|m| m.gauges(name).consecutive_failures += 1);
    }

    /// A lease was taken (`delta` 1) or let go (-1).
    pub fn lease_held(&self, delta: i64) {
        self.with(|m| m.leases.get_or_insert_default().held += delta);
    }

    pub fn lease_acquired(&self) {
        self.with(|m| m.leases.get_or_insert_default().acquired += 1);
    }

    /// A held lease was lost (a heartbeat refused or none accepted in time).
    pub fn lease_lost(&self) {
        self.with(|m| m.leases.get_or_insert_default().lost += 1);
    }

    /// A lease was found held by another replica.
    pub fn lease_contended(&self) {
        self.with(|m| m.leases.get_or_insert_default().contended += 1);
    }

    /// The scheduler proved it is alive.
    pub fn scheduler_tick(&self, now: DateTime<Utc>) {
        self.with(|m| m.scheduler_tick = Some(now));
    }

    /// `Ok` when the scheduler ticked within [`STALL_AFTER`]; else why not.
    pub fn health(&self, now: DateTime<Utc>) -> Result<(), String> {
        match self.with(|m| m.scheduler_tick) {
            None => Err("the scheduler has not started".into()),
            Some(tick) => {
                let age = (now - tick).to_std().unwrap_or_default();
                if age <= STALL_AFTER {
                    Ok(())
                } else {
                    Err(format!(
                        "the scheduler stalled: last tick {}s ago",
                        age.as_secs()
                    ))
                }
            }
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        self.with(|m| render::render(m))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_fails_once_the_scheduler_stops_ticking() {
        let registry = Registry::default();
        let now: DateTime<Utc> = "2026-11-23T10:00:00Z".parse().unwrap();
        assert!(registry.health(now).is_err(), "not started yet");
        registry.scheduler_tick(now);
        assert!(registry.health(now + chrono::TimeDelta::seconds(5)).is_ok());
        let stalled = registry
            .health(now + chrono::TimeDelta::seconds(60))
            .unwrap_err();
        assert!(stalled.contains("stalled"), "{stalled}");
    }
}
