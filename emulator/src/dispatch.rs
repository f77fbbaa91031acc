//! One request end to end: route it, apply any fault, run the operation, log the call, answer or drop.

use std::time::Duration;

use chrono::Utc;
use serde_json::json;

use crate::calls::{CallRecord, Service};
use crate::context::Ctx;
use crate::control_http;
use crate::controls::Controls;
use crate::dynamodb;
use crate::error::ApiError;
use crate::faults::FaultKind;
use crate::hostile;
use crate::iam_wire::{self, Params};
use crate::router::{self, Route};
use crate::secretsmanager;
use crate::state::State;
use crate::wire::{self, HttpResponse, Incoming};

/// What the connection does with a request.
pub(crate) enum Reply {
    /// Send this response.
    Answer(HttpResponse),
    /// Close the connection without a response.
    Drop,
}

/// Serves one buffered request.
pub(crate) async fn handle(controls: &Controls, req: Incoming) -> Reply {
    let request_id = wire::request_id();
    let (service, op, chime_ids) = match router::classify(&req) {
        Route::Control => return Reply::Answer(control_http::handle(controls, &req, &request_id)),
        Route::Unknown => {
            let body = json!({"message": format!("no emulated operation for {} {}", req.method, req.path)});
            let mut resp = wire::response(404, "application/json", body.to_string(), &request_id);
            resp.headers_mut().insert(
                "x-amzn-ErrorType",
                http::HeaderValue::from_static("UnknownOperationException"),
            );
            return Reply::Answer(resp);
        }
        Route::Api {
            service,
            op,
            chime_ids,
        } => (service, op, chime_ids),
    };
    let mut record = CallRecord {
        seq: 0,
        at: Utc::now(),
        service,
        mutating: service.is_mutating(&op),
        operation: op.clone(),
        resource: resource_of(service, &req, chime_ids.as_ref()),
        mutated: false,
        fault: None,
        throttled: false,
        status: None,
        error_code: None,
        request_id: request_id.clone(),
    };
    let fault = {
        let mut state = controls.shared().lock();
        // Quotas come first, as AWS's front end throttles before anything else: a throttled
        // call uses up no fault rule.
        if !state
            .quotas
            .admit(service, &op, tokio::time::Instant::now())
        {
            record.throttled = true;
            return answer(
                &mut state,
                record,
                service,
                Err(wire::throttle_error(service)),
            );
        }
        state.faults.take(&op)
    };
    record.fault = fault.map(|f| f.kind);
    record.throttled = record.fault == Some(FaultKind::Throttle);
    if let Some(f) = fault.filter(|f| f.kind == FaultKind::Delay) {
        tokio::time::sleep(Duration::from_millis(f.delay_ms)).await;
    }
    let injected = match fault {
        Some(f) if f.kind == FaultKind::Throttle => Some(wire::throttle_error(service)),
        Some(f) if f.kind == FaultKind::ServerError => Some(wire::server_error(service, f.status)),
        _ => None,
    };
    let mut state = controls.shared().lock();
    if let Some(err) = injected {
        return answer(&mut state, record, service, Err(err));
    }
    if record.fault == Some(FaultKind::Unavailable) {
        state.calls.push(record);
        return Reply::Drop;
    }
    let mut ctx = Ctx::new(&state.config, req.signed_region());
    ctx.fault = record.fault;
    let result = execute(
        &mut state,
        &mut ctx,
        service,
        &op,
        chime_ids,
        &req,
        &request_id,
    );
    record.mutated = ctx.mutated;
    match record.fault {
        Some(FaultKind::MutateThenDrop) => {
            state.calls.push(record);
            Reply::Drop
        }
        Some(FaultKind::Garbage) => answer(
            &mut state,
            record,
            service,
            Ok(hostile::garbage(service, &request_id)),
        ),
        _ => answer(&mut state, record, service, result),
    }
}

/// The one thing a request addresses, for the call log (see
/// [`CallRecord::resource`]).
fn resource_of(
    service: Service,
    req: &Incoming,
    chime_ids: Option<&(String, String)>,
) -> Option<String> {
    let json = || serde_json::from_slice::<serde_json::Value>(&req.body).ok();
    let text = |value: &serde_json::Value| value.as_str().map(str::to_owned);
    match service {
        Service::Chime => chime_ids.map(|(_, bot)| bot.clone()),
        Service::Iam => {
            let params = Params::parse(req);
            params
                .get("ServiceSpecificCredentialId")
                .or_else(|| params.get("UserName"))
                .map(str::to_owned)
        }
        Service::IvsRealtime => {
            json().and_then(|b| text(&b["stageArn"]).or_else(|| text(&b["arn"])))
        }
        Service::Secretsmanager => json().and_then(|b| {
            text(&b["SecretId"])
                .or_else(|| text(&b["Name"]))
                .or_else(|| id_list(&b["SecretIdList"]))
        }),
        Service::Dynamodb => json().and_then(|b| {
            let key = b["Key"].as_object().and_then(|k| {
                k.values()
                    .find_map(|v| v.as_object().and_then(|v| v.values().find_map(text)))
            });
            key.or_else(|| text(&b["TableName"]))
        }),
    }
}

/// A BatchGetSecretValue's `SecretIdList`, comma-separated (secret names
/// and ARNs hold no comma).
fn id_list(value: &serde_json::Value) -> Option<String> {
    let ids: Vec<&str> = value
        .as_array()?
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    (!ids.is_empty()).then(|| ids.join(","))
}

fn answer(
    state: &mut State,
    mut record: CallRecord,
    service: Service,
    result: Result<HttpResponse, ApiError>,
) -> Reply {
    let resp = match result {
        Ok(resp) => resp,
        Err(err) => {
            record.error_code = Some(err.code.to_string());
            wire::error_response(service, &err, &record.request_id)
        }
    };
    record.status = Some(resp.status().as_u16());
    tracing::debug!(
        service = ?record.service,
        operation = %record.operation,
        status = record.status,
        mutated = record.mutated,
        "emulator call"
    );
    state.calls.push(record);
    Reply::Answer(resp)
}

/// Runs the operation; `ctx.fault` may bend a successful answer (see [`hostile`]).
fn execute(
    state: &mut State,
    ctx: &mut Ctx,
    service: Service,
    op: &str,
    chime_ids: Option<(String, String)>,
    req: &Incoming,
    request_id: &str,
) -> Result<HttpResponse, ApiError> {
    let fault = ctx.fault;
    let json = |mut value: serde_json::Value| {
        hostile::bend_json(fault, op, &mut value);
        wire::json_ok(service, &value, request_id)
    };
    match service {
        Service::Iam => {
            let params = Params::parse(req);
            let xml = iam_wire::handle(&mut state.iam, ctx, &params, op, request_id)?;
            let xml = hostile::bend_iam_xml(fault, xml);
            Ok(wire::response(200, "text/xml", xml, request_id))
        }
        Service::Chime => {
            let (account, bot) = chime_ids.unwrap_or_default();
            match op {
                "GetBot" => state.chime.get_bot(&account, &bot).map(json),
                "RegenerateSecurityToken" => state.chime.regenerate(ctx, &account, &bot).map(json),
                _ => Err(ApiError::new(
                    404,
                    "UnknownOperationException",
                    "The emulator serves only GetBot and RegenerateSecurityToken for bots.",
                )),
            }
        }
        Service::IvsRealtime => match op {
            "CreateParticipantToken" => state.ivs.create_token(ctx, &req.body).map(json),
            "CreateStage" => state.ivs.create_stage(ctx, &req.body).map(json),
            "DeleteStage" => state.ivs.delete_stage(ctx, &req.body).map(json),
            _ => state.ivs.get_stage(&req.body).map(json),
        },
        Service::Secretsmanager => {
            secretsmanager::handle(&mut state.secrets, ctx, op, &req.body).map(json)
        }
        Service::Dynamodb => dynamodb::handle(&mut state.dynamodb, ctx, op, &req.body).map(json),
    }
}
