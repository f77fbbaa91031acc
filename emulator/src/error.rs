//! The error every emulated operation can answer with: an AWS error code, its HTTP status and a message.

use std::fmt;

/// One AWS error as the wire shows it; each service renders it in its own protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    /// HTTP status code.
    pub status: u16,
    /// The AWS error code (`NoSuchEntity`, `ResourceNotFoundException`, ...).
    pub code: &'static str,
    /// Human-readable message.
    pub message: String,
    /// Members a JSON error body carries besides the message (DynamoDB's
    /// `ConditionalCheckFailedException` returns the current `Item`).
    pub members: Option<serde_json::Map<String, serde_json::Value>>,
}

impl ApiError {
    pub(crate) fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            members: None,
        }
    }

    /// The same error with an extra member in its JSON body.
    pub(crate) fn with_member(mut self, key: &str, value: serde_json::Value) -> Self {
        self.members
            .get_or_insert_with(Default::default)
            .insert(key.to_string(), value);
        self
    }

    /// True for errors that are the caller's fault (4xx).
    pub(crate) fn is_sender_fault(&self) -> bool {
        self.status < 500
    }

    /// The message AWS uses for a violated model constraint.
    pub(crate) fn constraint(
        status: u16,
        code: &'static str,
        value: &str,
        field: &str,
        constraint: &str,
    ) -> Self {
        ApiError::new(
            status,
            code,
            format!(
                "1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: {constraint}"
            ),
        )
    }

    /// The message AWS uses for a missing required member.
    pub(crate) fn missing(status: u16, code: &'static str, field: &str) -> Self {
        ApiError::new(
            status,
            code,
            format!(
                "1 validation error detected: Value null at '{field}' failed to satisfy constraint: Member must not be null"
            ),
        )
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.status, self.message)
    }
}

impl std::error::Error for ApiError {}

/// Lower-camel-case form of a member name, as AWS spells fields in validation messages.
pub(crate) fn lower_camel(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constraint_message_names_field_and_value() {
        let err = ApiError::constraint(
            400,
            "ValidationError",
            "a b",
            "userName",
            "Member must satisfy regular expression pattern: [\\w+=,.@-]+",
        );
        assert!(err.message.contains("'a b' at 'userName'"));
        assert!(err.is_sender_fault());
        assert_eq!(lower_camel("UserName"), "userName");
    }
}
