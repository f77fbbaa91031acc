//! `[[ivs_participant_token]]`'s own keys.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{Table, Val};
use crate::policy::model::{
    Capability, DEFAULT_REFRESH_PERCENT, IvsParticipantToken, RefreshBefore, StageArn, Target,
};
use crate::policy::raw::RawIvsParticipantToken;
use crate::policy::values;

/// Shortest token lifetime IVS issues.
const MIN_DURATION: Duration = Duration::from_secs(60);
/// Longest token lifetime IVS issues: 14 days.
const MAX_DURATION: Duration = Duration::from_secs(14 * 24 * 60 * 60);
/// Most UTF-8 bytes of all attribute keys and values together.
const MAX_ATTRIBUTE_BYTES: usize = 1024;
/// Longest `user_id`, in characters.
const MAX_USER_ID_CHARS: usize = 128;

/// The token's target and its `refresh_before`; `None` when it has a problem.
pub(super) fn token(
    t: &mut Table<'_, '_>,
    raw: &RawIvsParticipantToken,
) -> Option<(Target, Duration)> {
    let stage_arn = t.required("stage_arn", &raw.stage_arn, |a| {
        StageArn::parse(a).ok_or_else(|| {
            format!("{a:?} is not an IVS stage ARN (arn:aws:ivs:REGION:ACCOUNT:stage/ID)")
        })
    });
    let duration = t.required("duration", &raw.duration, |d| token_duration(d));
    let refresh_before = refresh_before(t, raw, duration);
    let user_id = t.check("user_id", &raw.user_id, |u| {
        let chars = u.chars().count();
        if (1..=MAX_USER_ID_CHARS).contains(&chars) {
            Ok(u.clone())
        } else {
            Err(format!(
                "user_id has {chars} characters; it must have 1 to {MAX_USER_ID_CHARS}"
            ))
        }
    });
    let attributes = t.check("attributes", &raw.attributes, attributes);
    let capabilities = t.check("capabilities", &raw.capabilities, |c| capabilities(c));
    let refresh_before = refresh_before?;
    let token = IvsParticipantToken {
        stage_arn: stage_arn?,
        duration: duration?,
        refresh_before,
        user_id: user_id.optional()?,
        attributes: attributes.or_default(BTreeMap::new())?,
        capabilities: capabilities.or_default(vec![Capability::Publish, Capability::Subscribe])?,
    };
    Some((Target::IvsParticipantToken(token), refresh_before))
}

/// Whole minutes, 1 minute to 14 days.
fn token_duration(text: &str) -> Result<Duration, String> {
    let duration = values::duration(text)?;
    if !(MIN_DURATION..=MAX_DURATION).contains(&duration) {
        return Err(format!(
            "{text:?} is out of range; it must be 1 minute to 14 days"
        ));
    }
    if duration.subsec_nanos() != 0 || duration.as_secs() % 60 != 0 {
        return Err(format!("{text:?} is not a whole number of minutes"));
    }
    Ok(duration)
}

/// `refresh_before`: a duration or a percentage of `duration`, shorter than it.
/// `None` when it (or `duration`, which it needs) has a problem.
fn refresh_before(
    t: &mut Table<'_, '_>,
    raw: &RawIvsParticipantToken,
    duration: Option<Duration>,
) -> Option<Duration> {
    let checked = t.check("refresh_before", &raw.refresh_before, |r| {
        values::refresh_before(r)
    });
    let (refresh, at) = match checked {
        Val::Unset => (RefreshBefore::Percent(DEFAULT_REFRESH_PERCENT), None),
        Val::Bad => return None,
        Val::Set(refresh, at) => (refresh, Some(at)),
    };
    let duration = duration?;
    match refresh {
        RefreshBefore::Percent(_) => Some(refresh.of(duration)),
        RefreshBefore::Fixed(fixed) if fixed < duration => Some(fixed),
        RefreshBefore::Fixed(fixed) => {
            let message = format!(
                "{} is not shorter than duration ({}); the token would be refreshed \
                 before it was made",
                humantime::format_duration(fixed),
                humantime::format_duration(duration),
            );
            t.problem("refresh_before", at.unwrap_or(0), message);
            None
        }
    }
}

/// At most 1024 UTF-8 bytes of keys and values together.
fn attributes(attributes: &BTreeMap<String, String>) -> Result<BTreeMap<String, String>, String> {
    let bytes: usize = attributes.iter().map(|(k, v)| k.len() + v.len()).sum();
    if bytes > MAX_ATTRIBUTE_BYTES {
        return Err(format!(
            "attributes are {bytes} bytes (keys and values, UTF-8); at most {MAX_ATTRIBUTE_BYTES} are allowed"
        ));
    }
    Ok(attributes.clone())
}

/// Non-empty, no duplicates, only `PUBLISH` and `SUBSCRIBE`.
fn capabilities(names: &[String]) -> Result<Vec<Capability>, String> {
    if names.is_empty() {
        return Err("must not be empty: give \"PUBLISH\", \"SUBSCRIBE\" or both".to_owned());
    }
    let mut capabilities = Vec::with_capacity(names.len());
    for name in names {
        let capability = match name.as_str() {
            "PUBLISH" => Capability::Publish,
            "SUBSCRIBE" => Capability::Subscribe,
            other => {
                return Err(format!(
                    "{other:?} is not a capability: use \"PUBLISH\" and/or \"SUBSCRIBE\""
                ));
            }
        };
        if capabilities.contains(&capability) {
            return Err(format!("{name:?} is listed twice"));
        }
        capabilities.push(capability);
    }
    Ok(capabilities)
}
