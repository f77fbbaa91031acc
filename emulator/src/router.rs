//! Tells which service and operation a request is for, from its shape alone.

use http::Method;
use percent_encoding::percent_decode_str;

use crate::calls::Service;
use crate::control_http;
use crate::iam_wire::Params;
use crate::wire::Incoming;

/// Where a request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    /// `/_emulator/...`.
    Control,
    /// An AWS operation; `op` is the name asked for, possibly unknown to the service.
    Api {
        service: Service,
        op: String,
        /// Chime's path labels: account id and bot id.
        chime_ids: Option<(String, String)>,
    },
    /// Nothing the emulator serves.
    Unknown,
}

fn api(service: Service, op: &str) -> Route {
    Route::Api {
        service,
        op: op.to_string(),
        chime_ids: None,
    }
}

/// Routes by shape: controls by path, Secrets Manager and DynamoDB by `X-Amz-Target`, Chime and IVS by path,
/// STS and IAM by a form body on `POST /` (STS when signed for `sts`, or its version or
/// actions are asked for).
pub(crate) fn classify(req: &Incoming) -> Route {
    if control_http::is_control(&req.path) {
        return Route::Control;
    }
    if let Some(target) = req.header("x-amz-target") {
        return match target.split_once('.') {
            Some(("secretsmanager", op)) => api(Service::Secretsmanager, op),
            Some(("DynamoDB_20120810", op)) => api(Service::Dynamodb, op),
            _ => Route::Unknown,
        };
    }
    let segments: Vec<String> = req
        .path
        .trim_start_matches('/')
        .split('/')
        .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
        .collect();
    match segments.as_slice() {
        [accounts, account, bots, bot] if accounts == "accounts" && bots == "bots" => {
            let op = match (&req.method, req.query_param("operation")) {
                (&Method::GET, None) => "GetBot",
                (&Method::POST, Some("regenerate-security-token")) => "RegenerateSecurityToken",
                _ => "UnknownOperation",
            };
            return Route::Api {
                service: Service::Chime,
                op: op.to_string(),
                chime_ids: Some((account.clone(), bot.clone())),
            };
        }
        [op] if req.method == Method::POST
            && matches!(
                op.as_str(),
                "CreateParticipantToken" | "GetStage" | "CreateStage" | "DeleteStage"
            ) =>
        {
            return api(Service::IvsRealtime, op);
        }
        _ => {}
    }
    if req.path == "/" {
        let params = Params::parse(req);
        let action = params.action().unwrap_or("MissingAction").to_string();
        if params.action().is_some() || req.method == Method::POST {
            let sts = req.signed_service() == Some("sts")
                || params.get("Version") == Some("2011-06-15")
                || matches!(action.as_str(), "AssumeRole" | "GetCallerIdentity");
            return api(if sts { Service::Sts } else { Service::Iam }, &action);
        }
    }
    Route::Unknown
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http::{HeaderMap, HeaderValue};

    fn req(
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        target: Option<&str>,
        body: &str,
    ) -> Incoming {
        let mut headers = HeaderMap::new();
        if let Some(t) = target {
            headers.insert("x-amz-target", HeaderValue::from_str(t).unwrap());
        }
        Incoming {
            method,
            path: path.into(),
            query: query
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            headers,
            body: Bytes::from(body.to_string()),
        }
    }

    #[test]
    fn routes_each_service() {
        let sm = req(
            Method::POST,
            "/",
            &[],
            Some("secretsmanager.PutSecretValue"),
            "{}",
        );
        assert_eq!(
            classify(&sm),
            api(Service::Secretsmanager, "PutSecretValue")
        );
        let ddb = req(
            Method::POST,
            "/",
            &[],
            Some("DynamoDB_20120810.PutItem"),
            "{}",
        );
        assert_eq!(classify(&ddb), api(Service::Dynamodb, "PutItem"));
        let iam = req(
            Method::POST,
            "/",
            &[],
            None,
            "Action=GetUser&Version=2010-05-08",
        );
        assert_eq!(classify(&iam), api(Service::Iam, "GetUser"));
        let sts = req(
            Method::POST,
            "/",
            &[],
            None,
            "Action=GetCallerIdentity&Version=2011-06-15",
        );
        assert_eq!(classify(&sts), api(Service::Sts, "GetCallerIdentity"));
        let ivs = req(Method::POST, "/GetStage", &[], None, "{}");
        assert_eq!(classify(&ivs), api(Service::IvsRealtime, "GetStage"));
        let chime = req(
            Method::POST,
            "/accounts/a%2Db/bots/c",
            &[("operation", "regenerate-security-token")],
            None,
            "",
        );
        assert_eq!(
            classify(&chime),
            Route::Api {
                service: Service::Chime,
                op: "RegenerateSecurityToken".into(),
                chime_ids: Some(("a-b".into(), "c".into())),
            }
        );
        assert_eq!(
            classify(&req(Method::GET, "/_emulator/truth", &[], None, "")),
            Route::Control
        );
        assert_eq!(
            classify(&req(Method::GET, "/favicon.ico", &[], None, "")),
            Route::Unknown
        );
    }
}
