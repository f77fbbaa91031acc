//! IAM users over awsQuery: CreateUser, DeleteUser, TagUser (members and
//! errors as in botocore's iam 2010-05-08 model), and the `User` element
//! GetUser answers too.

use super::{Params, VALIDATION, render, render_empty};
use crate::context::{Ctx, iso8601};
use crate::error::ApiError;
use crate::iam::{IamState, IamUser};
use crate::xml::XmlWriter;

/// Serves the user actions; `None` for any other action.
pub(super) fn handle(
    iam: &mut IamState,
    ctx: &mut Ctx,
    params: &Params,
    action: &str,
    request_id: &str,
) -> Option<Result<String, ApiError>> {
    let result = match action {
        "CreateUser" => create(iam, ctx, params, request_id),
        "DeleteUser" => user_name(params, 128).and_then(|name| {
            iam.delete_user(name)?;
            ctx.mutated = true;
            Ok(render_empty(action, request_id))
        }),
        "TagUser" => user_name(params, 128).and_then(|name| {
            let tags = tags(params)?;
            if tags.is_empty() {
                return Err(ApiError::missing(400, VALIDATION, "tags"));
            }
            iam.tag_user(name, tags)?;
            ctx.mutated = true;
            Ok(render_empty(action, request_id))
        }),
        _ => return None,
    };
    Some(result)
}

fn create(
    iam: &mut IamState,
    ctx: &mut Ctx,
    params: &Params,
    request_id: &str,
) -> Result<String, ApiError> {
    let name = user_name(params, 64)?;
    let path = params.get("Path").unwrap_or("/");
    if !valid_path(path) {
        return Err(ApiError::constraint(
            400,
            VALIDATION,
            path,
            "path",
            "Member must satisfy regular expression pattern: (\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)",
        ));
    }
    if let Some(boundary) = params.get("PermissionsBoundary") {
        // The emulator holds no managed policies, so none can be attached.
        return Err(ApiError::new(
            404,
            "NoSuchEntity",
            format!("Scope ARN: {boundary} does not exist or is not attachable."),
        ));
    }
    let tags = tags(params)?;
    let user = iam.create_user(name, path, tags, &ctx.account_id, ctx.now)?;
    ctx.mutated = true;
    Ok(render("CreateUser", request_id, |w| write_user(w, &user)))
}

/// The required `UserName`, `[\w+=,.@-]+` of at most `max` characters.
fn user_name(params: &Params, max: usize) -> Result<&str, ApiError> {
    params
        .user_name(max)?
        .ok_or_else(|| ApiError::missing(400, VALIDATION, "userName"))
}

/// `/`, or `/` + printable ASCII + `/`, at most 512 characters.
fn valid_path(path: &str) -> bool {
    path == "/"
        || (path.len() >= 2
            && path.len() <= 512
            && path.starts_with('/')
            && path.ends_with('/')
            && path.chars().all(|c| ('\u{21}'..='\u{7e}').contains(&c)))
}

/// `Tags.member.N.Key` / `.Value` from N = 1: at most 50, keys unique
/// (case-insensitively), keys of 1 to 128 and values of up to 256 letters,
/// digits, spaces and `_.:/=+-@`.
fn tags(params: &Params) -> Result<Vec<(String, String)>, ApiError> {
    let mut tags: Vec<(String, String)> = Vec::new();
    for n in 1.. {
        let Some(key) = params.get(&format!("Tags.member.{n}.Key")) else {
            break;
        };
        let value = params
            .get(&format!("Tags.member.{n}.Value"))
            .ok_or_else(|| ApiError::missing(400, VALIDATION, &format!("tags.{n}.member.value")))?;
        let allowed = |c: char| c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c);
        if !(1..=128).contains(&key.chars().count()) || !key.chars().all(allowed) {
            return Err(ApiError::constraint(
                400,
                VALIDATION,
                key,
                &format!("tags.{n}.member.key"),
                "Member must satisfy regular expression pattern: [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+",
            ));
        }
        if value.chars().count() > 256 || !value.chars().all(allowed) {
            return Err(ApiError::constraint(
                400,
                VALIDATION,
                value,
                &format!("tags.{n}.member.value"),
                "Member must satisfy regular expression pattern: [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*",
            ));
        }
        if tags.iter().any(|(k, _)| k.eq_ignore_ascii_case(key)) {
            return Err(ApiError::new(
                400,
                "InvalidInput",
                "Duplicate tag keys found. Please note that Tag keys are case insensitive.",
            ));
        }
        tags.push((key.to_string(), value.to_string()));
    }
    if tags.len() > crate::iam::MAX_TAGS {
        return Err(ApiError::constraint(
            400,
            VALIDATION,
            &tags.len().to_string(),
            "tags",
            "Member must have length less than or equal to 50",
        ));
    }
    Ok(tags)
}

/// The `User` element (CreateUser, GetUser).
pub(super) fn write_user(w: &mut XmlWriter, user: &IamUser) {
    w.start("User")
        .text("Path", &user.path)
        .text("UserName", &user.name)
        .text("UserId", &user.user_id)
        .text("Arn", &user.arn)
        .text("CreateDate", &iso8601(user.create_date));
    if !user.tags.is_empty() {
        w.start("Tags");
        for (key, value) in &user.tags {
            w.start("member")
                .text("Key", key)
                .text("Value", value)
                .end();
        }
        w.end();
    }
    w.end();
}
