//! Answers that break a client's expectations, for the fault kinds `garbage`, `empty_secret`,
//! `missing_fields` and `expired_token`: the operation runs as the real service would have run
//! it, and only what is sent back is bent.

use serde_json::Value;

use crate::calls::Service;
use crate::faults::FaultKind;
use crate::wire::{self, HttpResponse};

/// The body of a `garbage` answer: neither JSON nor well-formed XML, with bytes that are not UTF-8.
pub(crate) const GARBAGE: &[u8] =
    b"<html><body><h1>It works!</h1>\xff\xfe not JSON, not XML: {\"SecurityToken\": [</body";

/// The `garbage` answer: HTTP 200 with the service's usual content type and [`GARBAGE`].
pub(crate) fn garbage(service: Service, request_id: &str) -> HttpResponse {
    wire::response(200, wire::content_type(service), GARBAGE, request_id)
}

/// The secret member inside a JSON answer of `operation`: (object path, member).
fn json_secret(operation: &str) -> Option<(&'static [&'static str], &'static str)> {
    match operation {
        "RegenerateSecurityToken" => Some((&["Bot"], "SecurityToken")),
        "CreateParticipantToken" => Some((&["participantToken"], "token")),
        _ => None,
    }
}

/// Empties or removes the secret of a successful JSON answer, as `kind` says.
pub(crate) fn bend_json(kind: Option<FaultKind>, operation: &str, answer: &mut Value) {
    let Some((path, member)) = json_secret(operation) else {
        return;
    };
    let Some(object) = path
        .iter()
        .try_fold(answer, |v, key| v.get_mut(*key))
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    match kind {
        Some(FaultKind::EmptySecret) => {
            object.insert(member.to_string(), Value::String(String::new()));
        }
        Some(FaultKind::MissingFields) => {
            object.remove(member);
        }
        _ => {}
    }
}

/// Empties or removes the secret (`<ServicePassword>`, or an API key's
/// `<ServiceCredentialSecret>`) in a successful IAM answer, as `kind` says.
pub(crate) fn bend_iam_xml(kind: Option<FaultKind>, xml: String) -> String {
    let empty = match kind {
        Some(FaultKind::EmptySecret) => true,
        Some(FaultKind::MissingFields) => false,
        _ => return xml,
    };
    ["ServicePassword", "ServiceCredentialSecret"]
        .into_iter()
        .fold(xml, |xml, element| bend_element(xml, element, empty))
}

/// Empties (`empty`) or removes `<element>...</element>`, when present.
fn bend_element(xml: String, element: &str, empty: bool) -> String {
    let open = format!("<{element}>");
    let close = format!("</{element}>");
    let Some(start) = xml.find(&open) else {
        return xml;
    };
    let Some(end) = xml[start..].find(&close).map(|i| start + i + close.len()) else {
        return xml;
    };
    let replacement = if empty {
        format!("{open}{close}")
    } else {
        String::new()
    };
    format!("{}{replacement}{}", &xml[..start], &xml[end..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn empties_or_removes_the_secret_member() {
        let mut answer = json!({"Bot": {"BotId": "b", "SecurityToken": "t"}});
        bend_json(
            Some(FaultKind::EmptySecret),
            "RegenerateSecurityToken",
            &mut answer,
        );
        assert_eq!(answer, json!({"Bot": {"BotId": "b", "SecurityToken": ""}}));
        let mut answer = json!({"participantToken": {"token": "t", "participantId": "p"}});
        bend_json(
            Some(FaultKind::MissingFields),
            "CreateParticipantToken",
            &mut answer,
        );
        assert_eq!(answer, json!({"participantToken": {"participantId": "p"}}));
        let mut other = json!({"Bot": {"SecurityToken": "t"}});
        bend_json(Some(FaultKind::EmptySecret), "GetBot", &mut other);
        assert_eq!(other["Bot"]["SecurityToken"], "t");
    }

    #[test]
    fn bends_the_iam_password_element() {
        let xml = "<R><ServiceUserName>u</ServiceUserName><ServicePassword>p+/=</ServicePassword><Status>Active</Status></R>".to_string();
        assert_eq!(
            bend_iam_xml(Some(FaultKind::EmptySecret), xml.clone()),
            "<R><ServiceUserName>u</ServiceUserName><ServicePassword></ServicePassword><Status>Active</Status></R>"
        );
        assert_eq!(
            bend_iam_xml(Some(FaultKind::MissingFields), xml.clone()),
            "<R><ServiceUserName>u</ServiceUserName><Status>Active</Status></R>"
        );
        assert_eq!(bend_iam_xml(None, xml.clone()), xml);
    }

    #[test]
    fn garbage_is_neither_json_nor_text() {
        assert!(serde_json::from_slice::<Value>(GARBAGE).is_err());
        assert!(GARBAGE.contains(&0xff), "not UTF-8");
        let resp = garbage(Service::Iam, "rid");
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["content-type"], "text/xml");
    }
}
