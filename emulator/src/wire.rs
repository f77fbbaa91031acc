//! HTTP plumbing shared by the services: the buffered request, response builders, error rendering per protocol.

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode};
use http_body_util::Full;
use serde_json::{Value, json};

use crate::calls::Service;
use crate::error::ApiError;
use crate::xml::XmlWriter;

/// The response type every handler produces.
pub(crate) type HttpResponse = Response<Full<Bytes>>;

/// IAM's XML namespace.
pub(crate) const IAM_NAMESPACE: &str = "https://iam.amazonaws.com/doc/2010-05-08/";

/// STS's XML namespace.
pub(crate) const STS_NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

/// A request with its body read in full.
#[derive(Debug, Clone)]
pub(crate) struct Incoming {
    pub method: Method,
    /// The raw (still percent-encoded) path.
    pub path: String,
    /// Decoded query parameters in order.
    pub query: Vec<(String, String)>,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Incoming {
    /// A header's value, when present and valid text.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The first query parameter with this name.
    pub(crate) fn query_param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Part `index` of the SigV4 credential scope `AKID/DATE/REGION/SERVICE/aws4_request`
    /// of the `Authorization` header.
    fn scope_part(&self, index: usize) -> Option<&str> {
        let auth = self.header("authorization")?;
        let scope = auth.split("Credential=").nth(1)?;
        let scope = scope.split([',', ' ']).next()?;
        scope.split('/').nth(index).filter(|p| !p.is_empty())
    }

    /// The access key id that signed the request (SigV4 `Credential=AKID/...`), if any.
    pub(crate) fn access_key_id(&self) -> Option<String> {
        self.scope_part(0).map(str::to_owned)
    }

    /// The signing name in the SigV4 credential scope (`sts`, `iam`, ...), if any.
    pub(crate) fn signed_service(&self) -> Option<&str> {
        self.scope_part(3)
    }

    /// The region in the SigV4 credential scope of the `Authorization` header, if any.
    pub(crate) fn signed_region(&self) -> Option<String> {
        let region = self.scope_part(2)?;
        let valid = !region.is_empty()
            && region
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        valid.then(|| region.to_string())
    }
}

/// A response with a body, a content type and the request id header.
pub(crate) fn response(
    status: u16,
    content_type: &str,
    body: impl Into<Bytes>,
    request_id: &str,
) -> HttpResponse {
    let mut resp = Response::new(Full::new(body.into()));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(content_type) {
        headers.insert(http::header::CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(request_id) {
        headers.insert("x-amzn-RequestId", v);
    }
    resp
}

/// The content type each service answers with.
pub(crate) fn content_type(service: Service) -> &'static str {
    match service {
        Service::Iam | Service::Sts => "text/xml",
        Service::Chime | Service::IvsRealtime => "application/json",
        Service::Secretsmanager => "application/x-amz-json-1.1",
        Service::Dynamodb => "application/x-amz-json-1.0",
    }
}

/// A successful JSON answer.
pub(crate) fn json_ok(service: Service, body: &Value, request_id: &str) -> HttpResponse {
    response(200, content_type(service), body.to_string(), request_id)
}

/// An error answer in the service's own protocol.
pub(crate) fn error_response(service: Service, err: &ApiError, request_id: &str) -> HttpResponse {
    match service {
        Service::Iam | Service::Sts => {
            let namespace = if service == Service::Sts {
                STS_NAMESPACE
            } else {
                IAM_NAMESPACE
            };
            let mut w = XmlWriter::document("ErrorResponse", namespace);
            w.start("Error")
                .text(
                    "Type",
                    if err.is_sender_fault() {
                        "Sender"
                    } else {
                        "Receiver"
                    },
                )
                .text("Code", err.code)
                .text("Message", &err.message)
                .end()
                .text("RequestId", request_id);
            response(err.status, "text/xml", w.finish(), request_id)
        }
        Service::Chime => {
            let body = json!({"Code": chime_short_code(err.code), "Message": err.message});
            with_error_type(
                json_response(service, err.status, &body, request_id),
                err.code,
            )
        }
        Service::IvsRealtime => {
            let body = json!({"exceptionMessage": err.message});
            with_error_type(
                json_response(service, err.status, &body, request_id),
                err.code,
            )
        }
        Service::Secretsmanager => {
            let body = json!({"__type": err.code, "Message": err.message});
            with_error_type(
                json_response(service, err.status, &body, request_id),
                err.code,
            )
        }
        Service::Dynamodb => {
            let mut body = json!({"__type": dynamodb_type(err.code), "message": err.message});
            if let (Some(members), Some(object)) = (&err.members, body.as_object_mut()) {
                object.extend(members.clone());
            }
            with_error_type(
                json_response(service, err.status, &body, request_id),
                err.code,
            )
        }
    }
}

fn json_response(service: Service, status: u16, body: &Value, request_id: &str) -> HttpResponse {
    response(status, content_type(service), body.to_string(), request_id)
}

fn with_error_type(mut resp: HttpResponse, code: &str) -> HttpResponse {
    if let Ok(v) = HeaderValue::from_str(code) {
        resp.headers_mut().insert("x-amzn-ErrorType", v);
    }
    resp
}

/// DynamoDB's `__type`: the code with the namespace of the layer that raised it.
fn dynamodb_type(code: &str) -> String {
    let namespace = match code {
        "ValidationException" => "com.amazon.coral.validate",
        "SerializationException" | "UnknownOperationException" => "com.amazon.coral.service",
        _ => "com.amazonaws.dynamodb.v20120810",
    };
    format!("{namespace}#{code}")
}

/// Chime's body `Code` member: the exception name without `Exception` (`NotFound`, `Throttled`, ...).
fn chime_short_code(code: &str) -> &str {
    match code {
        "ThrottledClientException" => "Throttled",
        "UnauthorizedClientException" => "Unauthorized",
        other => other.strip_suffix("Exception").unwrap_or(other),
    }
}

/// The service's own throttling error.
pub(crate) fn throttle_error(service: Service) -> ApiError {
    match service {
        Service::Iam | Service::Sts => ApiError::new(400, "Throttling", "Rate exceeded"),
        Service::Chime => ApiError::new(429, "ThrottledClientException", "Rate exceeded"),
        // The IVS real-time model has no throttling shape; this is the code AWS's
        // front end sends, and the SDK retries it as throttling.
        Service::IvsRealtime => ApiError::new(429, "ThrottlingException", "Rate exceeded"),
        Service::Secretsmanager => ApiError::new(400, "ThrottlingException", "Rate exceeded"),
        // DynamoDB also has ProvisionedThroughputExceededException (per table); the SDK
        // retries both as throttling. A quota here is a request rate, hence this one.
        Service::Dynamodb => ApiError::new(400, "ThrottlingException", "Rate exceeded"),
    }
}

/// The answer to a request signed with session credentials past their expiration: the
/// query services' `ExpiredToken`, the JSON services' `ExpiredTokenException`, both 403.
pub(crate) fn expired_token_error(service: Service) -> ApiError {
    let code = match service {
        Service::Iam | Service::Sts => "ExpiredToken",
        _ => "ExpiredTokenException",
    };
    ApiError::new(
        403,
        code,
        "The security token included in the request is expired",
    )
}

/// The answer to a request signed with a session's access key but without its session
/// token (or another one): the query services' `InvalidClientTokenId`, the JSON services'
/// `UnrecognizedClientException`, both 403.
pub(crate) fn invalid_token_error(service: Service) -> ApiError {
    let code = match service {
        Service::Iam | Service::Sts => "InvalidClientTokenId",
        _ => "UnrecognizedClientException",
    };
    ApiError::new(
        403,
        code,
        "The security token included in the request is invalid.",
    )
}

/// The service's own internal error, with status 500 or 503.
pub(crate) fn server_error(service: Service, status: u16) -> ApiError {
    let unavailable = status == 503;
    let code = match (service, unavailable) {
        (Service::Iam, false) => "ServiceFailure",
        (Service::Iam, true) => "ServiceUnavailable",
        (Service::Chime, false) => "ServiceFailureException",
        (Service::Chime, true) => "ServiceUnavailableException",
        (Service::IvsRealtime, false) => "InternalServerException",
        (Service::IvsRealtime, true) => "ServiceUnavailableException",
        (Service::Secretsmanager, false) => "InternalServiceError",
        (Service::Secretsmanager, true) => "ServiceUnavailable",
        (Service::Dynamodb, false) => "InternalServerError",
        (Service::Dynamodb, true) => "ServiceUnavailable",
        (Service::Sts, false) => "InternalFailure",
        (Service::Sts, true) => "ServiceUnavailable",
    };
    let message = if unavailable {
        "Service is unavailable. Please try again later."
    } else {
        "An internal error occurred."
    };
    ApiError::new(if unavailable { 503 } else { 500 }, code, message)
}

/// A new request id in AWS's UUID form.
pub(crate) fn request_id() -> String {
    crate::random::uuid()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incoming_with_auth(auth: &str) -> Incoming {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", HeaderValue::from_str(auth).unwrap());
        Incoming {
            method: Method::POST,
            path: "/".into(),
            query: vec![],
            headers,
            body: Bytes::new(),
        }
    }

    #[test]
    fn reads_region_from_sigv4_scope() {
        let req = incoming_with_auth(
            "AWS4-HMAC-SHA256 Credential=AKID/20240101/eu-west-1/secretsmanager/aws4_request, SignedHeaders=host, Signature=x",
        );
        assert_eq!(req.signed_region().as_deref(), Some("eu-west-1"));
        assert_eq!(req.access_key_id().as_deref(), Some("AKID"));
        assert_eq!(req.signed_service(), Some("secretsmanager"));
        assert_eq!(incoming_with_auth("Bearer x").signed_region(), None);
    }

    #[test]
    fn json_errors_carry_the_error_type_header() {
        let err = ApiError::new(404, "NotFoundException", "gone");
        let resp = error_response(Service::Chime, &err, "rid");
        assert_eq!(resp.status(), 404);
        assert_eq!(resp.headers()["x-amzn-ErrorType"], "NotFoundException");
        assert_eq!(resp.headers()["x-amzn-RequestId"], "rid");
    }

    #[test]
    fn dynamodb_errors_carry_the_namespace_and_extra_members() {
        let err = ApiError::new(
            400,
            "ConditionalCheckFailedException",
            "The conditional request failed",
        )
        .with_member("Item", json!({"k": {"S": "v"}}));
        let resp = error_response(Service::Dynamodb, &err, "rid");
        assert_eq!(
            resp.headers()["x-amzn-ErrorType"],
            "ConditionalCheckFailedException"
        );
        assert_eq!(resp.headers()["content-type"], "application/x-amz-json-1.0");
        let body = futures_body(resp);
        assert_eq!(
            body["__type"],
            "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException"
        );
        assert_eq!(body["Item"]["k"]["S"], "v");
        assert_eq!(body["message"], "The conditional request failed");
    }

    fn futures_body(resp: HttpResponse) -> Value {
        use http_body_util::BodyExt;
        let bytes = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(resp.into_body().collect())
            .unwrap()
            .to_bytes();
        serde_json::from_slice(&bytes).unwrap()
    }
}
