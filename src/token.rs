//! A secret that can be compared but never shown: the stored Chime token
//! against the bot's current one, in constant time, redacted when printed.

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer};
use subtle::ConstantTimeEq;

/// A token held as a [`SecretString`] (zeroized when dropped); `==` compares
/// in constant time, `Debug` shows nothing of it.
#[derive(Clone)]
pub struct Token(SecretString);

impl Token {
    /// Takes `value`, wiping the `String` it came in.
    pub fn new(value: impl Into<String>) -> Token {
        Token(crate::secret::take(value.into()))
    }

    /// A copy of `secret`, for comparing.
    pub fn of(secret: &SecretString) -> Token {
        Token::new(secret.expose_secret())
    }
}

impl PartialEq for Token {
    fn eq(&self, other: &Token) -> bool {
        let (a, b) = (self.0.expose_secret(), other.0.expose_secret());
        bool::from(a.as_bytes().ct_eq(b.as_bytes()))
    }
}

impl Eq for Token {}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token([REDACTED])")
    }
}

impl<'de> Deserialize<'de> for Token {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Token, D::Error> {
        String::deserialize(deserializer).map(Token::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_tokens_compare_equal_and_nothing_is_shown() {
        assert_eq!(Token::new("abc"), Token::new("abc"));
        assert_ne!(Token::new("abc"), Token::new("abd"));
        assert_ne!(Token::new("abc"), Token::new("abcd"));
        let token: Token = serde_json::from_str("\"s3cr3t\"").unwrap();
        assert_eq!(token, Token::new("s3cr3t"));
        assert!(!format!("{token:?}").contains("s3cr3t"));
    }
}
