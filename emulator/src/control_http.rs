//! The HTTP face of the test controls under `/_emulator/`, JSON in and out.

use std::collections::BTreeMap;

use http::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::controls::Controls;
use crate::faults::FaultRule;
use crate::quota::Quota;
use crate::wire::{HttpResponse, Incoming, response};

/// True when the request is for the controls.
pub(crate) fn is_control(path: &str) -> bool {
    path == "/_emulator" || path.starts_with("/_emulator/")
}

/// One rule or a list of rules.
#[derive(Deserialize)]
#[serde(untagged)]
enum Rules {
    One(FaultRule),
    Many(Vec<FaultRule>),
}

fn reply(status: u16, body: &Value, request_id: &str) -> HttpResponse {
    response(status, "application/json", body.to_string(), request_id)
}

fn to_json<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or_else(|e| json!({"error": e.to_string()}))
}

/// Serves one control request.
pub(crate) fn handle(controls: &Controls, req: &Incoming, request_id: &str) -> HttpResponse {
    let path = req.path.trim_end_matches('/');
    let bad = |message: String| reply(400, &json!({"error": message}), request_id);
    match (&req.method, path) {
        (&Method::POST, "/_emulator/seed") => {
            let text = String::from_utf8_lossy(&req.body);
            match controls.seed_from_json(&text) {
                Ok(report) => reply(200, &to_json(&report), request_id),
                Err(e) => bad(e.to_string()),
            }
        }
        (&Method::POST, "/_emulator/faults") => {
            let rules = match serde_json::from_slice::<Rules>(&req.body) {
                Ok(Rules::One(rule)) => vec![rule],
                Ok(Rules::Many(rules)) => rules,
                Err(e) => return bad(format!("fault rules are not valid: {e}")),
            };
            match controls.inject_all(rules) {
                Ok(()) => reply(
                    200,
                    &json!({"faults": to_json(&controls.faults())}),
                    request_id,
                ),
                Err(e) => bad(e.to_string()),
            }
        }
        (&Method::GET, "/_emulator/faults") => reply(
            200,
            &json!({"faults": to_json(&controls.faults())}),
            request_id,
        ),
        (&Method::DELETE, "/_emulator/faults") => {
            controls.clear_faults();
            reply(200, &json!({"faults": []}), request_id)
        }
        (&Method::POST | &Method::PUT, "/_emulator/quotas") => {
            let quotas = match serde_json::from_slice::<BTreeMap<String, Quota>>(&req.body) {
                Ok(quotas) => quotas,
                Err(e) => return bad(format!("quotas are not valid: {e}")),
            };
            let result = if req.method == Method::PUT {
                controls.replace_quotas(&quotas)
            } else {
                controls.set_quotas(&quotas)
            };
            match result {
                Ok(()) => reply(200, &to_json(&controls.quotas()), request_id),
                Err(e) => bad(e.to_string()),
            }
        }
        (&Method::GET, "/_emulator/quotas") => reply(200, &to_json(&controls.quotas()), request_id),
        (&Method::DELETE, "/_emulator/quotas") => {
            controls.clear_quotas();
            reply(200, &json!({}), request_id)
        }
        (&Method::GET, "/_emulator/calls/summary") => match req.query_param("by") {
            None => reply(200, &to_json(&controls.call_summary()), request_id),
            Some("account") => reply(
                200,
                &to_json(&controls.call_summary_by_account()),
                request_id,
            ),
            Some(other) => bad(format!("calls/summary?by={other}: only by=account")),
        },
        (&Method::GET, "/_emulator/truth") => reply(200, &to_json(&controls.truth()), request_id),
        (&Method::GET, "/_emulator/calls") => reply(200, &to_json(&controls.calls()), request_id),
        (&Method::DELETE, "/_emulator/calls") => {
            controls.clear_calls();
            reply(200, &json!([]), request_id)
        }
        (&Method::POST, "/_emulator/sessions/expire") => {
            #[derive(Deserialize)]
            #[serde(deny_unknown_fields)]
            struct Expire {
                #[serde(default)]
                account_id: Option<String>,
            }
            let body: &[u8] = if req.body.is_empty() {
                b"{}"
            } else {
                &req.body
            };
            match serde_json::from_slice::<Expire>(body) {
                Ok(e) => {
                    let expired = controls.expire_sessions(e.account_id.as_deref());
                    reply(200, &json!({"expired": expired}), request_id)
                }
                Err(e) => bad(format!("expected {{\"account_id\": ..}} or nothing: {e}")),
            }
        }
        (&Method::POST, "/_emulator/replicas") => {
            #[derive(Deserialize)]
            #[serde(deny_unknown_fields)]
            struct ReplicaStatus {
                #[serde(default)]
                account_id: Option<String>,
                secret_id: String,
                region: String,
                status: String,
                #[serde(default)]
                status_message: Option<String>,
            }
            let r = match serde_json::from_slice::<ReplicaStatus>(&req.body) {
                Ok(r) => r,
                Err(e) => return bad(format!("replica status is not valid: {e}")),
            };
            match controls.set_replica_status(
                r.account_id.as_deref(),
                &r.secret_id,
                &r.region,
                &r.status,
                r.status_message.as_deref(),
            ) {
                Ok(()) => reply(200, &json!({}), request_id),
                Err(e) => bad(e.to_string()),
            }
        }
        (&Method::POST, "/_emulator/reset") => {
            controls.reset();
            reply(200, &json!({}), request_id)
        }
        (method, path) => reply(
            404,
            &json!({"error": format!("no control {method} {path}; see the emulator README")}),
            request_id,
        ),
    }
}
