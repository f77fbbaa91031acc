//! Secrets Manager request input: JSON parsing and the model's member constraints.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::SecretValue;
use crate::error::{ApiError, lower_camel};

pub(super) const VALIDATION: &str = "ValidationException";

/// Parses a request body; an empty body is an empty object.
pub(super) fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}".as_slice()
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            400,
            "SerializationException",
            format!("Could not parse request body: {e}"),
        )
    })
}

/// Checks a string member's length (in characters) against the model.
pub(super) fn check_len(field: &str, value: &str, min: usize, max: usize) -> Result<(), ApiError> {
    let n = value.chars().count();
    if n < min {
        return Err(ApiError::constraint(
            400,
            VALIDATION,
            value,
            &lower_camel(field),
            &format!("Member must have length greater than or equal to {min}"),
        ));
    }
    if n > max {
        return Err(ApiError::constraint(
            400,
            VALIDATION,
            "***",
            &lower_camel(field),
            &format!("Member must have length less than or equal to {max}"),
        ));
    }
    Ok(())
}

pub(super) fn required<'a>(field: &str, value: &'a Option<String>) -> Result<&'a str, ApiError> {
    value
        .as_deref()
        .ok_or_else(|| ApiError::missing(400, VALIDATION, &lower_camel(field)))
}

pub(super) fn invalid_parameter(message: impl Into<String>) -> ApiError {
    ApiError::new(400, "InvalidParameterException", message)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct TagIn {
    key: Option<String>,
    value: Option<String>,
}

pub(super) fn tags(input: Option<Vec<TagIn>>) -> Result<Vec<(String, String)>, ApiError> {
    let input = input.unwrap_or_default();
    if input.len() > 50 {
        return Err(invalid_parameter("A secret can have at most 50 tags."));
    }
    input
        .into_iter()
        .map(|t| {
            let key = required("Key", &t.key)?.to_string();
            check_len("Tags.member.Key", &key, 1, 128)?;
            let value = t.value.unwrap_or_default();
            check_len("Tags.member.Value", &value, 0, 256)?;
            Ok((key, value))
        })
        .collect()
}

/// The new value from `SecretString`/`SecretBinary`; at most one of them.
pub(super) fn secret_value(
    string: Option<String>,
    binary: Option<String>,
) -> Result<Option<SecretValue>, ApiError> {
    match (string, binary) {
        (Some(_), Some(_)) => Err(invalid_parameter(
            "You can't specify both a binary secret value and a string secret value in the same secret.",
        )),
        (Some(s), None) => {
            check_len("SecretString", &s, 1, 65536)?;
            Ok(Some(SecretValue::String(s)))
        }
        (None, Some(b)) => {
            let bytes = STANDARD.decode(b.as_bytes()).map_err(|_| {
                ApiError::new(
                    400,
                    "SerializationException",
                    "SecretBinary is not valid base64.",
                )
            })?;
            if bytes.is_empty() || bytes.len() > 65536 {
                return Err(ApiError::new(
                    400,
                    VALIDATION,
                    "SecretBinary must be 1 to 65536 bytes.",
                ));
            }
            Ok(Some(SecretValue::Binary(bytes)))
        }
        (None, None) => Ok(None),
    }
}

pub(super) fn request_token(token: Option<String>) -> Result<String, ApiError> {
    let token = token.ok_or_else(|| {
        ApiError::new(
            400,
            "InvalidRequestException",
            "You must provide a ClientRequestToken value. We recommend a UUID-type value.",
        )
    })?;
    check_len("ClientRequestToken", &token, 32, 64)?;
    Ok(token)
}

pub(super) fn valid_name(name: &str) -> bool {
    name.chars()
        .all(|c| c.is_ascii_alphanumeric() || "/_+=.@-".contains(c))
}
