//! Random identifiers and secrets in the shapes AWS uses.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

const UPPER_ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

fn pick(alphabet: &[u8], len: usize) -> String {
    (0..len)
        .map(|_| alphabet[fastrand::usize(..alphabet.len())] as char)
        .collect()
}

fn random_bytes(len: usize) -> Vec<u8> {
    (0..len).map(|_| fastrand::u8(..)).collect()
}

/// `ACCA` followed by 17 uppercase letters or digits, like an IAM service-specific credential id.
pub(crate) fn credential_id() -> String {
    format!("ACCA{}", pick(UPPER_ALNUM, 17))
}

/// `AIDA` followed by 17 uppercase letters or digits, like an IAM user id.
pub(crate) fn user_id() -> String {
    format!("AIDA{}", pick(UPPER_ALNUM, 17))
}

/// `ASIA` followed by 16 uppercase letters or digits, like a temporary access key id from STS.
pub(crate) fn session_access_key_id() -> String {
    format!("ASIA{}", pick(UPPER_ALNUM, 16))
}

/// `AROA` followed by 17 uppercase letters or digits, like an IAM role id.
pub(crate) fn role_id() -> String {
    format!("AROA{}", pick(UPPER_ALNUM, 17))
}

/// A 40-character secret access key.
pub(crate) fn secret_access_key() -> String {
    STANDARD.encode(random_bytes(30))
}

/// An STS session token (long, opaque base64).
pub(crate) fn session_token() -> String {
    format!("IQoJb3JpZ2luX2Vj{}", STANDARD.encode(random_bytes(240)))
}

/// A 44-character base64 string, like an IAM service password.
pub(crate) fn service_password() -> String {
    STANDARD.encode(random_bytes(32))
}

/// An API key's secret: for Bedrock `ABSK` and the base64 of
/// `ALIAS:RANDOM`, the shape of a Bedrock long-term API key; for other
/// services the same without the prefix.
pub(crate) fn api_key_secret(service_name: &str, alias: &str) -> String {
    let body = format!("{alias}:{}", STANDARD.encode(random_bytes(32)));
    let prefix = if service_name == "bedrock.amazonaws.com" {
        "ABSK"
    } else {
        ""
    };
    format!("{prefix}{}", STANDARD.encode(body))
}

/// A random mixed-case alphanumeric string.
pub(crate) fn alnum(len: usize) -> String {
    pick(ALNUM, len)
}

/// A random version 4 UUID in its hyphenated form.
pub(crate) fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A Chime bot security token.
pub(crate) fn bot_token() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes(36))
}

/// An opaque, JWT-shaped IVS participant token.
pub(crate) fn participant_token(participant_id: &str, expires_epoch: i64) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"ES384","typ":"JWT"}"#);
    let claims = format!(
        r#"{{"jti":"{participant_id}","exp":{expires_epoch},"nonce":"{}"}}"#,
        alnum(16)
    );
    let payload = URL_SAFE_NO_PAD.encode(claims.as_bytes());
    let signature = URL_SAFE_NO_PAD.encode(random_bytes(96));
    format!("{header}.{payload}.{signature}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_match_aws() {
        let id = credential_id();
        assert_eq!(id.len(), 21);
        assert!(id.starts_with("ACCA") && id.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_eq!(service_password().len(), 44);
        assert_eq!(participant_token("p", 1).split('.').count(), 3);
        assert_ne!(bot_token(), bot_token());
    }
}
