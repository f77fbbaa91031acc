//! `[accounts.NAME]`, and the references to them: `account` and
//! `secret_account` on credentials and in `[defaults]`, `[coordination]
//! account`. An unknown name is a problem of the key that holds it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use toml::Spanned;

use super::{Table, Val};
use crate::policy::model::Account;
use crate::policy::problems::{Ctx, Sink};
use crate::policy::raw::{RawAccount, Str};
use crate::policy::values;

/// The default session name is this + the account's name.
const SESSION_PREFIX: &str = "rekeyd-";
/// STS's limits on `RoleSessionName`.
const SESSION_NAME_LEN: std::ops::RangeInclusive<usize> = 2..=64;
/// STS's limits on `ExternalId`.
const EXTERNAL_ID_LEN: std::ops::RangeInclusive<usize> = 2..=1224;

/// The checked `[accounts]`: the good ones, and every name the file has
/// (a bad account is reported once, at its table, not again where used).
#[derive(Debug, Default)]
pub(super) struct Accounts {
    valid: BTreeMap<String, Arc<Account>>,
    named: BTreeSet<String>,
}

impl Accounts {
    /// The good accounts, by name.
    pub fn into_list(self) -> Vec<Arc<Account>> {
        self.valid.into_values().collect()
    }

    /// The account `key` names, reporting a name the policy does not have.
    pub fn lookup(&self, t: &mut Table<'_, '_>, key: &str, raw: &Str) -> Val<Arc<Account>> {
        if let Some(name) = raw
            && self.named.contains(name.get_ref())
            && !self.valid.contains_key(name.get_ref())
        {
            // Its own table's problem is reported already.
            return Val::Bad;
        }
        t.check(key, raw, |name| match self.valid.get(name) {
            Some(account) => Ok(Arc::clone(account)),
            None if self.named.is_empty() => Err(format!(
                "unknown account {name:?}: the policy has no [accounts.{name}] table"
            )),
            None => Err(format!(
                "unknown account {name:?}; the policy's accounts are {}",
                self.named
                    .iter()
                    .map(|n| format!("{n:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        })
    }
}

/// `[accounts.NAME]` tables, each checked.
pub(super) fn accounts(
    raw: Option<Spanned<BTreeMap<String, Spanned<RawAccount>>>>,
    sink: &mut Sink<'_>,
) -> Accounts {
    let mut accounts = Accounts::default();
    let Some(raw) = raw else {
        return accounts;
    };
    for (name, table) in raw.into_inner() {
        let header = table.span().start;
        accounts.named.insert(name.clone());
        let mut t = Table::new(sink, Ctx::settings("accounts.", header));
        if let Some(account) = account(&mut t, &name, header, table.get_ref()) {
            accounts.valid.insert(name, Arc::new(account));
        }
    }
    accounts
}

/// One `[accounts.NAME]`; `None` when it has a problem.
fn account(t: &mut Table<'_, '_>, name: &str, header: usize, raw: &RawAccount) -> Option<Account> {
    let key = |k: &str| format!("{name}.{k}");
    let name_ok = !name.is_empty() && name.chars().all(is_session_char);
    if !name_ok {
        let message =
            format!("{name:?} is not an account name: use letters, digits and _+=,.@- only");
        t.problem(name, header, message);
    }
    let role_arn = t.required(&key("role_arn"), &raw.role_arn, |arn| {
        role_arn(arn).map(|()| arn.clone())
    });
    let external_id = t.check(&key("external_id"), &raw.external_id, |id| {
        external_id(id).map(|()| id.clone())
    });
    let session_name = t.check(&key("session_name"), &raw.session_name, |s| {
        session_name(s).map(|()| s.clone())
    });
    let region = t.check(&key("region"), &raw.region, |r| {
        values::region(r).map(|()| r.clone())
    });
    let session_name = match session_name {
        Val::Unset if name_ok => {
            let default = format!("{SESSION_PREFIX}{name}");
            if session_name_ok(&default) {
                Some(default)
            } else {
                let message = format!(
                    "the default session name {default:?} is longer than 64 characters: set `session_name`"
                );
                t.problem(name, header, message);
                None
            }
        }
        other => other.optional()?,
    };
    if !name_ok {
        return None;
    }
    Some(Account {
        name: name.to_owned(),
        role_arn: role_arn?,
        external_id: external_id.optional()?,
        session_name: session_name?,
        region: region.optional()?,
    })
}

/// An IAM role ARN: `arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME`.
pub(crate) fn role_arn(arn: &str) -> Result<(), String> {
    let bad = || {
        format!(
            "{arn:?} is not an IAM role ARN such as \"arn:aws:iam::111111111111:role/rekeyd-rotator\""
        )
    };
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(partition), Some("iam"), Some(""), Some(account), Some(resource)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(bad());
    };
    let partition_ok = partition.starts_with("aws")
        && partition
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b == b'-');
    let account_ok = account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit());
    let role = resource.strip_prefix("role/").unwrap_or_default();
    let role_name = role.rsplit('/').next().unwrap_or_default();
    let role_ok = !role_name.is_empty()
        && role_name.len() <= 64
        && arn.len() <= 2048
        && role.chars().all(|c| c == '/' || is_session_char(c));
    if partition_ok && account_ok && role_ok {
        Ok(())
    } else {
        Err(bad())
    }
}

/// `[\w+=,.@-]`, what STS allows in a session name.
fn is_session_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_+=,.@-".contains(c)
}

fn session_name_ok(name: &str) -> bool {
    SESSION_NAME_LEN.contains(&name.len()) && name.chars().all(is_session_char)
}

/// A role session name: 2 to 64 of `[\w+=,.@-]`.
fn session_name(name: &str) -> Result<(), String> {
    if session_name_ok(name) {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not a session name: 2 to 64 letters, digits and _+=,.@-"
        ))
    }
}

/// An external id: 2 to 1224 of `[\w+=,.@:/-]`.
fn external_id(id: &str) -> Result<(), String> {
    let chars_ok = id
        .chars()
        .all(|c| is_session_char(c) || c == ':' || c == '/');
    if EXTERNAL_ID_LEN.contains(&id.chars().count()) && chars_ok {
        Ok(())
    } else {
        Err(
            "is not an external id: 2 to 1224 letters, digits and _+=,.@:/- (the value is not shown)"
                .to_owned(),
        )
    }
}

/// `replica_regions`: region names, each once.
pub(super) fn replica_regions(regions: &[String]) -> Result<Arc<[String]>, String> {
    let mut seen = BTreeSet::new();
    for region in regions {
        values::region(region)?;
        if !seen.insert(region.as_str()) {
            return Err(format!("region {region:?} is listed twice"));
        }
    }
    Ok(regions.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_arns_are_checked() {
        for good in [
            "arn:aws:iam::111111111111:role/rekeyd-rotator",
            "arn:aws:iam::111111111111:role/path/to/rekeyd",
            "arn:aws-cn:iam::111111111111:role/x",
        ] {
            assert_eq!(role_arn(good), Ok(()), "{good}");
        }
        for bad in [
            "arn:aws:iam::11111111111:role/x",
            "arn:aws:iam::111111111111:user/x",
            "arn:aws:iam::111111111111:role/",
            "arn:aws:sts::111111111111:role/x",
            "arn:aws:iam:us-east-1:111111111111:role/x",
            "role/x",
        ] {
            assert!(role_arn(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn session_names_and_external_ids_follow_sts_limits() {
        assert!(session_name("rekeyd-media").is_ok());
        assert!(session_name("x").is_err());
        assert!(session_name(&"x".repeat(65)).is_err());
        assert!(session_name("a b").is_err());
        assert!(external_id("ab").is_ok());
        assert!(external_id("a").is_err());
        assert!(external_id(&"x".repeat(1225)).is_err());
    }
}
