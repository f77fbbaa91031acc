//! STS over awsQuery (version 2011-06-15): `AssumeRole` and `GetCallerIdentity`.

use crate::context::{Ctx, iso8601};
use crate::error::{ApiError, lower_camel};
use crate::iam_wire::Params;
use crate::sts::{AssumeRequest, StsState};
use crate::wire::STS_NAMESPACE;
use crate::xml::XmlWriter;

const VALIDATION: &str = "ValidationError";

/// Serves one STS action and renders its XML answer.
pub(crate) fn handle(
    sts: &mut StsState,
    ctx: &mut Ctx,
    params: &Params,
    action: &str,
    request_id: &str,
) -> Result<String, ApiError> {
    match action {
        "AssumeRole" => {
            let req = assume_request(params)?;
            let session = sts.assume_role(&ctx.caller, &req, ctx.now)?;
            ctx.mutated = true;
            Ok(render(action, request_id, |w| {
                w.start("Credentials")
                    .text("AccessKeyId", &session.access_key_id)
                    .text("SecretAccessKey", &session.secret_access_key)
                    .text("SessionToken", &session.session_token)
                    .text("Expiration", &iso8601(session.expiration))
                    .end();
                w.start("AssumedRoleUser")
                    .text("AssumedRoleId", &session.assumed_role_id)
                    .text("Arn", &session.arn)
                    .end();
                if let Some(size) = packed_policy_size(params) {
                    w.text("PackedPolicySize", &size.to_string());
                }
            }))
        }
        "GetCallerIdentity" => {
            let caller = &ctx.caller;
            Ok(render(action, request_id, |w| {
                w.text("UserId", &caller.user_id)
                    .text("Account", &caller.account_id)
                    .text("Arn", &caller.arn);
            }))
        }
        "MissingAction" if params.action().is_none() => Err(ApiError::new(
            400,
            "MissingAction",
            "The request must contain the parameter Action.",
        )),
        other => Err(ApiError::new(
            400,
            "InvalidAction",
            format!("Could not find operation {other} for version 2011-06-15"),
        )),
    }
}

/// True for the characters of `[\w+=,.@-]` plus `extra`.
fn word_chars(text: &str, extra: &str) -> bool {
    text.chars()
        .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c) || extra.contains(c))
}

fn text_member<'a>(
    params: &'a Params,
    name: &str,
    required: bool,
    (min, max): (usize, usize),
    pattern: Option<(&str, &str)>,
) -> Result<Option<&'a str>, ApiError> {
    let field = lower_camel(name);
    let Some(value) = params.get(name) else {
        return if required {
            Err(ApiError::missing(400, VALIDATION, &field))
        } else {
            Ok(None)
        };
    };
    let len = value.chars().count();
    if len < min || len > max {
        return Err(ApiError::constraint(
            400,
            VALIDATION,
            value,
            &field,
            &format!("Member must have length between {min} and {max}"),
        ));
    }
    if let Some((extra, shown)) = pattern
        && !word_chars(value, extra)
    {
        return Err(ApiError::constraint(
            400,
            VALIDATION,
            value,
            &field,
            &format!("Member must satisfy regular expression pattern: {shown}"),
        ));
    }
    Ok(Some(value))
}

fn assume_request(params: &Params) -> Result<AssumeRequest, ApiError> {
    let role_arn = text_member(params, "RoleArn", true, (20, 2048), None)?.unwrap_or_default();
    let session_name = text_member(
        params,
        "RoleSessionName",
        true,
        (2, 64),
        Some(("", "[\\w+=,.@-]*")),
    )?
    .unwrap_or_default();
    let external_id = text_member(
        params,
        "ExternalId",
        false,
        (2, 1224),
        Some((":/", "[\\w+=,.@:\\/-]*")),
    )?;
    let duration_seconds = match params.get("DurationSeconds") {
        None => None,
        Some(raw) => match raw.parse::<u32>() {
            Ok(n) if (900..=43200).contains(&n) => Some(n),
            _ => {
                return Err(ApiError::constraint(
                    400,
                    VALIDATION,
                    raw,
                    "durationSeconds",
                    "Member must have value between 900 and 43200",
                ));
            }
        },
    };
    if let Some(policy) = params.get("Policy")
        && serde_json::from_str::<serde_json::Value>(policy)
            .map(|p| !p.is_object())
            .unwrap_or(true)
    {
        return Err(ApiError::new(
            400,
            "MalformedPolicyDocument",
            "The policy is not in the valid JSON format.",
        ));
    }
    let tags = (1..)
        .take_while(|i| params.get(&format!("Tags.member.{i}.Key")).is_some())
        .count();
    if tags > 50 {
        return Err(ApiError::constraint(
            400,
            VALIDATION,
            &tags.to_string(),
            "tags",
            "Member must have length less than or equal to 50",
        ));
    }
    Ok(AssumeRequest {
        role_arn: role_arn.to_string(),
        session_name: session_name.to_string(),
        external_id: external_id.map(str::to_owned),
        duration_seconds,
    })
}

/// A session policy's share of the packed size limit, in percent, as AWS reports it
/// when a `Policy` is passed.
fn packed_policy_size(params: &Params) -> Option<usize> {
    let policy = params.get("Policy")?;
    Some((policy.len() * 100 / 2048).clamp(1, 100))
}

fn render(action: &str, request_id: &str, result: impl FnOnce(&mut XmlWriter)) -> String {
    crate::xml::query_response(STS_NAMESPACE, action, request_id, result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::Config;
    use crate::sts::RoleSpec;
    use crate::wire::Incoming;
    use bytes::Bytes;
    use http::{HeaderMap, Method};

    fn params(body: &str) -> Params {
        Params::parse(&Incoming {
            method: Method::POST,
            path: "/".into(),
            query: vec![],
            headers: HeaderMap::new(),
            body: Bytes::from(body.to_string()),
        })
    }

    #[test]
    fn validates_members_per_the_model() {
        let mut sts = StsState::default();
        sts.declare_account("111111111111").unwrap();
        sts.add_role(
            "111111111111",
            &RoleSpec {
                name: "r".into(),
                trust: vec!["*".into()],
                ..Default::default()
            },
        )
        .unwrap();
        let mut ctx = Ctx::new(&Config::default(), None);
        let arn = "RoleArn=arn%3Aaws%3Aiam%3A%3A111111111111%3Arole%2Fr";
        for (body, code) in [
            ("RoleSessionName=ok", VALIDATION),
            (&format!("{arn}&RoleSessionName=x") as &str, VALIDATION),
            (&format!("{arn}&RoleSessionName=a%20b"), VALIDATION),
            (
                &format!("{arn}&RoleSessionName=ok&ExternalId=x"),
                VALIDATION,
            ),
            (
                &format!("{arn}&RoleSessionName=ok&DurationSeconds=899"),
                VALIDATION,
            ),
            (
                &format!("{arn}&RoleSessionName=ok&Policy=nope"),
                "MalformedPolicyDocument",
            ),
        ] {
            let err = handle(&mut sts, &mut ctx, &params(body), "AssumeRole", "r").unwrap_err();
            assert_eq!(err.code, code, "{body}");
        }
        let ok = format!("{arn}&RoleSessionName=a.b%40c&Policy=%7B%7D&ExternalId=a%3Ab%2Fc");
        let xml = handle(&mut sts, &mut ctx, &params(&ok), "AssumeRole", "r").unwrap();
        assert!(xml.contains("<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><AssumeRoleResult><Credentials><AccessKeyId>ASIA"), "{xml}");
        assert!(
            xml.contains("<Arn>arn:aws:sts::111111111111:assumed-role/r/a.b@c</Arn>"),
            "{xml}"
        );
        assert!(xml.contains("<PackedPolicySize>"), "{xml}");
    }
}
