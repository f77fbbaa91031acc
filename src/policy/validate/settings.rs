//! `[aws]`, `[daemon]` and `[coordination]`.

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::path::PathBuf;

use toml::Spanned;

use super::Table;
use super::accounts::Accounts;
use crate::policy::model::{AwsSettings, Coordination, DaemonSettings, PerService};
use crate::policy::problems::{Ctx, Sink};
use crate::policy::raw::{RawAws, RawCoordination, RawDaemon, RawPerService};
use crate::policy::values;

/// Most rotations in flight at once.
const MAX_CONCURRENCY: i64 = 1024;

/// `[aws]`; `None` when it has a problem.
pub(super) fn aws(raw: Option<Spanned<RawAws>>, sink: &mut Sink<'_>) -> Option<AwsSettings> {
    let Some(raw) = raw else {
        return Some(AwsSettings::default());
    };
    let header = raw.span().start;
    let raw = raw.into_inner();
    let mut t = Table::new(sink, Ctx::settings("aws.", header));
    let region = t.check("region", &raw.region, |r| {
        values::region(r).map(|()| r.clone())
    });
    let profile = t.check("profile", &raw.profile, |p| values::non_empty(p));
    let endpoint_url = t.check("endpoint_url", &raw.endpoint_url, |u| {
        values::endpoint_url(u).map(|()| u.clone())
    });
    let check_url = |u: &String| values::endpoint_url(u).map(|()| u.clone());
    let raw_endpoints = raw.endpoints.map(Spanned::into_inner).unwrap_or_default();
    let sts_endpoint = t.check("endpoints.sts", &raw_endpoints.sts, check_url);
    let endpoints = per_service(&mut t, "endpoints", raw_endpoints, check_url);
    let raw_rates = raw.rate_limits.map(Spanned::into_inner).unwrap_or_default();
    if let Some(sts) = &raw_rates.sts {
        let message =
            "STS takes no rate limit: rekeyd assumes each role once per credential lifetime";
        t.problem("rate_limits.sts", sts.span().start, message);
    }
    let rate_limits = per_service(&mut t, "rate_limits", raw_rates, |&rate: &f64| {
        if rate.is_finite() && rate > 0.0 {
            Ok(rate)
        } else {
            Err(format!(
                "{rate} is not a rate; requests per second must be more than 0"
            ))
        }
    });
    Some(AwsSettings {
        region: region.optional()?,
        profile: profile.optional()?,
        endpoint_url: endpoint_url.optional()?,
        endpoints: endpoints?,
        rate_limits: rate_limits?,
        sts_endpoint: sts_endpoint.optional()?,
        accounts: Vec::new(),
    })
}

/// `[aws.endpoints]` or `[aws.rate_limits]`: each service's value checked
/// alike (`sts` is not among them: see [`aws`]).
fn per_service<T: Default, U>(
    t: &mut Table<'_, '_>,
    table: &str,
    raw: RawPerService<T>,
    check: impl Fn(&T) -> Result<U, String>,
) -> Option<PerService<Option<U>>> {
    let mut one = |service: &str, value: &Option<Spanned<T>>| {
        t.check(&format!("{table}.{service}"), value, &check)
            .optional()
    };
    let iam = one("iam", &raw.iam);
    let chime = one("chime", &raw.chime);
    let ivs_realtime = one("ivs_realtime", &raw.ivs_realtime);
    let secretsmanager = one("secretsmanager", &raw.secretsmanager);
    let dynamodb = one("dynamodb", &raw.dynamodb);
    Some(PerService {
        iam: iam?,
        chime: chime?,
        ivs_realtime: ivs_realtime?,
        secretsmanager: secretsmanager?,
        dynamodb: dynamodb?,
    })
}

/// `[daemon]`; `None` when it has a problem.
pub(super) fn daemon(
    raw: Option<Spanned<RawDaemon>>,
    sink: &mut Sink<'_>,
) -> Option<DaemonSettings> {
    let defaults = DaemonSettings::default();
    let Some(raw) = raw else {
        return Some(defaults);
    };
    let header = raw.span().start;
    let raw = raw.into_inner();
    let mut t = Table::new(sink, Ctx::settings("daemon.", header));
    let concurrency = t.check("concurrency", &raw.concurrency, |&n| {
        usize::try_from(n)
            .ok()
            .filter(|_| (1..=MAX_CONCURRENCY).contains(&n))
            .and_then(NonZeroUsize::new)
            .ok_or_else(|| format!("{n} is out of range; it must be 1 to {MAX_CONCURRENCY}"))
    });
    let state_dir = t.check("state_dir", &raw.state_dir, |d| {
        values::non_empty(d).map(PathBuf::from)
    });
    let metrics_listen = t.check("metrics_listen", &raw.metrics_listen, |a| {
        a.parse::<SocketAddr>().map_err(|_| {
            format!("{a:?} is not a socket address such as \"127.0.0.1:9464\" or \"[::1]:9464\"")
        })
    });
    let shutdown_timeout = t.check("shutdown_timeout", &raw.shutdown_timeout, |d| {
        values::positive_duration(d)
    });
    Some(DaemonSettings {
        concurrency: concurrency.or_default(defaults.concurrency)?,
        state_dir: state_dir.optional()?,
        metrics_listen: metrics_listen.optional()?,
        shutdown_timeout: shutdown_timeout.or_default(defaults.shutdown_timeout)?,
    })
}

/// `[coordination]`; `Some(None)` when absent, `None` when it has a problem.
pub(super) fn coordination(
    raw: Option<Spanned<RawCoordination>>,
    accounts: &Accounts,
    sink: &mut Sink<'_>,
) -> Option<Option<Coordination>> {
    let Some(raw) = raw else {
        return Some(None);
    };
    let header = raw.span().start;
    let raw = raw.into_inner();
    let mut t = Table::new(sink, Ctx::settings("coordination.", header));
    let table = t.required("dynamodb_table", &raw.dynamodb_table, |name| {
        table_name(name).map(|()| name.clone())
    });
    let lease = t.check("lease", &raw.lease, |d| {
        let lease = values::duration(d)?;
        if (Coordination::MIN_LEASE..=Coordination::MAX_LEASE).contains(&lease) {
            Ok(lease)
        } else {
            Err(format!("{d:?} is out of range; a lease lasts 10s to 10m"))
        }
    });
    let replica_id = t.check("replica_id", &raw.replica_id, |id| {
        values::non_empty(id).map(|_| id.clone())
    });
    let account = accounts.lookup(&mut t, "account", &raw.account);
    let lease = lease.or_default(Coordination::DEFAULT_LEASE);
    let replica_id = replica_id.optional();
    Some(Some(Coordination {
        dynamodb_table: table?,
        lease: lease?,
        replica_id: replica_id?.unwrap_or_else(default_replica_id),
        account: account.optional()?,
    }))
}

/// A DynamoDB table name: 3 to 255 of `[a-zA-Z0-9_.-]`.
fn table_name(name: &str) -> Result<(), String> {
    let valid = (3..=255).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if valid {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not a DynamoDB table name (3 to 255 of letters, digits, `_`, `.`, `-`)"
        ))
    }
}

/// This host's name and this process's id, e.g. `host-a:4242`.
fn default_replica_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned());
    format!("{host}:{}", std::process::id())
}
