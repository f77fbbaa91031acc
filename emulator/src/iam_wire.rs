//! IAM over awsQuery: form parameters in, `<OpResponse><OpResult>` XML out.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::context::{Ctx, iso8601};
use crate::error::ApiError;
use crate::iam::{self, IamState, ServiceCredential};
use crate::wire::{IAM_NAMESPACE, Incoming};
use crate::xml::XmlWriter;

mod users;

const VALIDATION: &str = "ValidationError";

/// The form parameters of an awsQuery request (body, then query string).
pub(crate) struct Params(HashMap<String, String>);

impl Params {
    pub(crate) fn parse(req: &Incoming) -> Params {
        let mut map: HashMap<String, String> = req.query.iter().cloned().collect();
        for (k, v) in form_urlencoded::parse(&req.body) {
            map.insert(k.into_owned(), v.into_owned());
        }
        Params(map)
    }

    pub(crate) fn action(&self) -> Option<&str> {
        self.get("Action")
    }

    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    fn required(&self, name: &str) -> Result<&str, ApiError> {
        self.get(name)
            .ok_or_else(|| ApiError::missing(400, VALIDATION, &crate::error::lower_camel(name)))
    }

    fn user_name(&self, max: usize) -> Result<Option<&str>, ApiError> {
        match self.get("UserName") {
            Some(name) if !iam::valid_user_name(name, max) => Err(ApiError::constraint(
                400,
                VALIDATION,
                name,
                "userName",
                "Member must satisfy regular expression pattern: [\\w+=,.@-]+",
            )),
            other => Ok(other),
        }
    }

    fn credential_id(&self) -> Result<&str, ApiError> {
        let id = self.required("ServiceSpecificCredentialId")?;
        if iam::valid_credential_id(id) {
            Ok(id)
        } else {
            Err(ApiError::constraint(
                400,
                VALIDATION,
                id,
                "serviceSpecificCredentialId",
                "Member must satisfy regular expression pattern: [\\w]+ and have length between 20 and 128",
            ))
        }
    }

    fn integer(&self, name: &str, min: u32, max: u32) -> Result<Option<u32>, ApiError> {
        let Some(raw) = self.get(name) else {
            return Ok(None);
        };
        match raw.parse::<u32>() {
            Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
            _ => Err(ApiError::constraint(
                400,
                VALIDATION,
                raw,
                &crate::error::lower_camel(name),
                &format!("Member must have value between {min} and {max}"),
            )),
        }
    }
}

/// Serves one IAM action and renders its XML answer.
pub(crate) fn handle(
    iam: &mut IamState,
    ctx: &mut Ctx,
    params: &Params,
    action: &str,
    request_id: &str,
) -> Result<String, ApiError> {
    if let Some(answer) = users::handle(iam, ctx, params, action, request_id) {
        return answer;
    }
    let defaults_to_caller = matches!(
        action,
        "ResetServiceSpecificCredential"
            | "DeleteServiceSpecificCredential"
            | "UpdateServiceSpecificCredential"
            | "GetUser"
    ) || (action == "ListServiceSpecificCredentials"
        && !params
            .get("AllUsers")
            .is_some_and(|v| v.eq_ignore_ascii_case("true")));
    if defaults_to_caller && ctx.caller.role_arn.is_some() && params.get("UserName").is_none() {
        // A role's session is no IAM user to default to.
        return Err(ApiError::new(
            400,
            VALIDATION,
            "Must specify userName when calling with non-User credentials",
        ));
    }
    let caller = ctx.caller_user_name.clone();
    match action {
        "ResetServiceSpecificCredential" => {
            let id = params.credential_id()?;
            let user = params.user_name(64)?.unwrap_or(&caller);
            let credential = iam.reset(user, id)?;
            ctx.mutated = true;
            Ok(render(action, request_id, |w| {
                write_credential(w, &credential, true, ctx.now)
            }))
        }
        "CreateServiceSpecificCredential" => {
            let user = params
                .user_name(64)?
                .ok_or_else(|| ApiError::missing(400, VALIDATION, "userName"))?;
            let service = params.required("ServiceName")?;
            let age = params.integer("CredentialAgeDays", 1, 36600)?;
            let credential =
                iam.create_credential(user, service, None, age, &ctx.account_id, ctx.now)?;
            ctx.mutated = true;
            Ok(render(action, request_id, |w| {
                write_credential(w, &credential, true, ctx.now)
            }))
        }
        "DeleteServiceSpecificCredential" => {
            let id = params.credential_id()?;
            let user = params.user_name(64)?.unwrap_or(&caller);
            iam.delete(user, id)?;
            ctx.mutated = true;
            Ok(render_empty(action, request_id))
        }
        "UpdateServiceSpecificCredential" => {
            let id = params.credential_id()?;
            let status = params.required("Status")?;
            if !matches!(status, "Active" | "Inactive") {
                return Err(ApiError::constraint(
                    400,
                    VALIDATION,
                    status,
                    "status",
                    "Member must satisfy enum value set: [Active, Inactive]",
                ));
            }
            let user = params.user_name(64)?.unwrap_or(&caller);
            iam.update(user, id, status)?;
            ctx.mutated = true;
            Ok(render_empty(action, request_id))
        }
        "ListServiceSpecificCredentials" => list(iam, params, &caller, request_id, ctx.now),
        "GetUser" => {
            let name = params.user_name(128)?.unwrap_or(&caller);
            let user = iam.user(name)?;
            Ok(render(action, request_id, |w| users::write_user(w, user)))
        }
        "MissingAction" if params.action().is_none() => Err(ApiError::new(
            400,
            "MissingAction",
            "The request must contain the parameter Action.",
        )),
        other => Err(ApiError::new(
            400,
            "InvalidAction",
            format!("Could not find operation {other} for version 2010-05-08"),
        )),
    }
}

fn list(
    iam: &IamState,
    params: &Params,
    caller: &str,
    request_id: &str,
    now: DateTime<Utc>,
) -> Result<String, ApiError> {
    let all_users = params
        .get("AllUsers")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let user = params.user_name(64)?;
    let user = if all_users && user.is_none() {
        None
    } else {
        Some(user.unwrap_or(caller))
    };
    let service = params.get("ServiceName");
    let max = params.integer("MaxItems", 1, 1000)?.unwrap_or(100) as usize;
    let start = match params.get("Marker") {
        None => 0,
        Some(m) => m
            .parse::<usize>()
            .map_err(|_| ApiError::new(400, VALIDATION, format!("Invalid Marker: {m}")))?,
    };
    let all = iam.list(user, service)?;
    let page: Vec<_> = all.iter().skip(start).take(max).collect();
    let next = start + page.len();
    let truncated = next < all.len();
    Ok(render("ListServiceSpecificCredentials", request_id, |w| {
        w.start("ServiceSpecificCredentials");
        for credential in &page {
            w.start("member");
            write_credential(w, credential, false, now);
            w.end();
        }
        w.end();
        w.text("IsTruncated", if truncated { "true" } else { "false" });
        if truncated {
            w.text("Marker", &next.to_string());
        }
    }))
}

/// Writes the credential's members in the model's order; the password or
/// secret only in full credentials (not metadata). A password credential
/// has a user name and password, an API key an alias and secret instead.
fn write_credential(w: &mut XmlWriter, c: &ServiceCredential, full: bool, now: DateTime<Utc>) {
    if full {
        w.start("ServiceSpecificCredential");
    }
    w.text("CreateDate", &iso8601(c.create_date));
    w.opt_text("ExpirationDate", c.expiration_date.map(iso8601).as_deref());
    w.text("ServiceName", &c.service_name);
    if c.alias.is_none() {
        w.text("ServiceUserName", &c.service_user_name);
        if full {
            w.text("ServicePassword", &c.password);
        }
    }
    w.opt_text("ServiceCredentialAlias", c.alias.as_deref());
    if full {
        w.opt_text("ServiceCredentialSecret", c.secret.as_deref());
    }
    w.text("ServiceSpecificCredentialId", &c.id);
    w.text("UserName", &c.user_name);
    w.text("Status", c.status_at(now));
    if full {
        w.end();
    }
}

fn render(action: &str, request_id: &str, result: impl FnOnce(&mut XmlWriter)) -> String {
    crate::xml::query_response(IAM_NAMESPACE, action, request_id, result)
}

fn render_empty(action: &str, request_id: &str) -> String {
    let mut w = XmlWriter::document(&format!("{action}Response"), IAM_NAMESPACE);
    w.start("ResponseMetadata")
        .text("RequestId", request_id)
        .end();
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::Config;
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
    fn result_is_the_first_child_and_text_is_escaped() {
        let mut iam = IamState::default();
        let mut ctx = Ctx::new(&Config::default(), None);
        iam.ensure_user("a<b", "1", ctx.now);
        iam.ensure_user("rekeyd-caller", "1", ctx.now);
        let xml = handle(
            &mut iam,
            &mut ctx,
            &params("Action=GetUser"),
            "GetUser",
            "rid",
        )
        .unwrap();
        assert!(xml.contains(
            "<GetUserResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><GetUserResult>"
        ));
        let err = handle(
            &mut iam,
            &mut ctx,
            &params("UserName=a%3Cb"),
            "GetUser",
            "rid",
        )
        .unwrap_err();
        assert_eq!(err.code, VALIDATION);
    }

    #[test]
    fn bad_ids_and_unknown_actions_are_sender_errors() {
        let mut iam = IamState::default();
        let mut ctx = Ctx::new(&Config::default(), None);
        let p = params("ServiceSpecificCredentialId=short");
        let err = handle(
            &mut iam,
            &mut ctx,
            &p,
            "ResetServiceSpecificCredential",
            "r",
        )
        .unwrap_err();
        assert_eq!((err.status, err.code), (400, VALIDATION));
        let err = handle(&mut iam, &mut ctx, &p, "DeleteRole", "r").unwrap_err();
        assert_eq!(err.code, "InvalidAction");
        assert!(!ctx.mutated);
    }
}
