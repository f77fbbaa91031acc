//! The Prometheus text exposition format (version 0.0.4).

use std::fmt::Write;

use chrono::{DateTime, Utc};

use super::{CredentialGauges, DURATION_BUCKETS, Inner};

/// A per-credential gauge: name, help, and how to read it.
type Gauge = (
    &'static str,
    &'static str,
    fn(&CredentialGauges) -> Option<f64>,
);

pub(super) fn render(m: &Inner) -> String {
    let mut out = String::new();
    header(
        &mut out,
        "rekeyd_rotations_total",
        "counter",
        "Rotations finished, by credential kind and result (success, failure, in_doubt).",
    );
    for ((kind, result), count) in &m.rotations {
        line(
            &mut out,
            "rekeyd_rotations_total",
            &[("kind", kind), ("result", result)],
            *count as f64,
        );
    }
    header(
        &mut out,
        "rekeyd_rotation_duration_seconds",
        "histogram",
        "Time from the start of a rotation to its secret being stored (or the rotation failing).",
    );
    for (kind, histogram) in &m.durations {
        for (bound, count) in DURATION_BUCKETS.iter().zip(histogram.buckets) {
            let le = bound.to_string();
            line(
                &mut out,
                "rekeyd_rotation_duration_seconds_bucket",
                &[("kind", kind), ("le", &le)],
                count as f64,
            );
        }
        line(
            &mut out,
            "rekeyd_rotation_duration_seconds_bucket",
            &[("kind", kind), ("le", "+Inf")],
            histogram.count as f64,
        );
        line(
            &mut out,
            "rekeyd_rotation_duration_seconds_sum",
            &[("kind", kind)],
            histogram.sum,
        );
        line(
            &mut out,
            "rekeyd_rotation_duration_seconds_count",
            &[("kind", kind)],
            histogram.count as f64,
        );
    }
    header(
        &mut out,
        "rekeyd_hook_runs_total",
        "counter",
        "Runs of consumer hooks, by hook (on_rotate, on_failure) and outcome (success, failure, signalled, timeout, not_started).",
    );
    for ((hook, outcome), count) in &m.hook_runs {
        line(
            &mut out,
            "rekeyd_hook_runs_total",
            &[("hook", hook), ("outcome", outcome)],
            *count as f64,
        );
    }
    header(
        &mut out,
        "rekeyd_aws_retries_total",
        "counter",
        "AWS calls retried, by service, account (empty: rekeyd's own identity), region and the error code that caused the retry.",
    );
    for (((service, account, region), code), count) in &m.retries {
        line(
            &mut out,
            "rekeyd_aws_retries_total",
            &[
                ("service", service),
                ("account", account),
                ("region", region),
                ("code", code),
            ],
            *count as f64,
        );
    }
    if let Some(leases) = &m.leases {
        for (name, kind, help, value) in [
            (
                "rekeyd_leases_held",
                "gauge",
                "Credential leases this replica holds now.",
                leases.held as f64,
            ),
            (
                "rekeyd_leases_acquired_total",
                "counter",
                "Credential leases this replica acquired (taken over included).",
                leases.acquired as f64,
            ),
            (
                "rekeyd_leases_lost_total",
                "counter",
                "Held leases lost: a heartbeat refused, or none accepted before expiry.",
                leases.lost as f64,
            ),
            (
                "rekeyd_leases_contended_total",
                "counter",
                "Lease acquisitions that found another replica holding the lease.",
                leases.contended as f64,
            ),
        ] {
            header(&mut out, name, kind, help);
            line(&mut out, name, &[], value);
        }
    }
    let gauges: [Gauge; 4] = [
        (
            "rekeyd_credential_last_rotation_timestamp_seconds",
            "When the credential's current secret was issued (Unix time).",
            |g| g.last_success.seconds(),
        ),
        (
            "rekeyd_credential_renewal_timestamp_seconds",
            "When the credential is next due for rotation (Unix time).",
            |g| g.next_due.seconds(),
        ),
        (
            "rekeyd_credential_expiration_timestamp_seconds",
            "When the stored secret stops working by itself: IVS participant tokens and expiring IAM API keys (Unix time).",
            |g| g.expires.seconds(),
        ),
        (
            "rekeyd_credential_consecutive_failures",
            "Rotation attempts that failed since the last success.",
            |g| Some(g.consecutive_failures as f64),
        ),
    ];
    for (name, help, value) in gauges {
        header(&mut out, name, "gauge", help);
        for (credential, g) in &m.credentials {
            if let Some(v) = value(g) {
                let kind = m.kinds.get(usize::from(g.kind)).copied().unwrap_or("");
                line(&mut out, name, &[("name", credential), ("kind", kind)], v);
            }
        }
    }
    header(
        &mut out,
        "rekeyd_aws_send_rate",
        "gauge",
        "Requests per second rekeyd spaces its calls to an AWS service in an account (empty: rekeyd's own identity) and region at: adapted to the service's throttling, never above [aws.rate_limits]; absent while unlimited.",
    );
    for ((service, account, region), rate) in &m.send_rates {
        line(
            &mut out,
            "rekeyd_aws_send_rate",
            &[
                ("service", service),
                ("account", account),
                ("region", region),
            ],
            *rate,
        );
    }
    header(
        &mut out,
        "rekeyd_scheduler_last_tick_timestamp_seconds",
        "gauge",
        "When the scheduler last proved alive (Unix time).",
    );
    if let Some(tick) = seconds(m.scheduler_tick) {
        line(
            &mut out,
            "rekeyd_scheduler_last_tick_timestamp_seconds",
            &[],
            tick,
        );
    }
    out
}

fn seconds(time: Option<DateTime<Utc>>) -> Option<f64> {
    time.map(|t| t.timestamp_millis() as f64 / 1000.0)
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn line(out: &mut String, name: &str, labels: &[(&str, &str)], value: f64) {
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        for (i, (key, val)) in labels.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{key}=\"{}\"", escape(val));
        }
        out.push('}');
    }
    let _ = writeln!(out, " {value}");
}

/// Label values escape backslash, double quote and newline.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::{AwsLabels, Registry};

    #[test]
    fn lease_metrics_appear_once_leases_are_used() {
        let registry = Registry::default();
        assert!(!registry.render().contains("rekeyd_leases"));
        registry.lease_acquired();
        registry.lease_held(1);
        registry.lease_acquired();
        registry.lease_held(1);
        registry.lease_held(-1);
        registry.lease_contended();
        registry.lease_lost();
        let text = registry.render();
        for line in [
            "rekeyd_leases_held 1\n",
            "rekeyd_leases_acquired_total 2\n",
            "rekeyd_leases_lost_total 1\n",
            "rekeyd_leases_contended_total 1\n",
            "# TYPE rekeyd_leases_held gauge\n",
            "# TYPE rekeyd_leases_lost_total counter\n",
        ] {
            assert!(text.contains(line), "{line:?} missing from:\n{text}");
        }
    }

    #[test]
    fn renders_counters_histograms_and_gauges() {
        let registry = Registry::default();
        registry.rotation_finished("chime_bot", "success", Duration::from_millis(300));
        registry.rotation_finished("chime_bot", "failure", Duration::from_secs(3));
        let own = |service| AwsLabels {
            service,
            account: "",
            region: "us-east-1",
        };
        registry.retry(own("chime"), "ThrottledClientException");
        registry.credential(&std::sync::Arc::from("bot\"1"), "chime_bot");
        registry.rotated("bot\"1", "2026-11-23T10:00:00Z".parse().unwrap(), None);
        registry.aws_send_rate(own("secretsmanager"), Some(35.5));
        let media = AwsLabels {
            service: "secretsmanager",
            account: "media",
            region: "eu-west-1",
        };
        registry.aws_send_rate(media, Some(12.0));
        registry.aws_send_rate(own("iam"), Some(1.0));
        registry.aws_send_rate(own("iam"), None);
        let text = registry.render();
        assert!(
            text.contains("rekeyd_aws_send_rate{service=\"secretsmanager\",account=\"\",region=\"us-east-1\"} 35.5\n"),
            "{text}"
        );
        assert!(
            text.contains("rekeyd_aws_send_rate{service=\"secretsmanager\",account=\"media\",region=\"eu-west-1\"} 12\n"),
            "{text}"
        );
        assert!(
            !text.contains("rekeyd_aws_send_rate{service=\"iam\""),
            "unlimited again: {text}"
        );
        assert!(
            text.contains("rekeyd_rotations_total{kind=\"chime_bot\",result=\"success\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "rekeyd_rotation_duration_seconds_bucket{kind=\"chime_bot\",le=\"0.5\"} 1\n"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "rekeyd_rotation_duration_seconds_bucket{kind=\"chime_bot\",le=\"+Inf\"} 2\n"
            ),
            "{text}"
        );
        assert!(text.contains(
            "rekeyd_aws_retries_total{service=\"chime\",account=\"\",region=\"us-east-1\",code=\"ThrottledClientException\"} 1\n"
        ));
        assert!(text.contains("rekeyd_credential_last_rotation_timestamp_seconds{name=\"bot\\\"1\",kind=\"chime_bot\"} 1795428000\n"), "{text}");
    }
}
