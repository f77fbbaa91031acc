//! Secret values on their way in from AWS and out to Secrets Manager, held
//! so that no copy outlives its use un-wiped: each buffer rekeyd owns is
//! zeroized when dropped, and none is grown by reallocation (which would
//! free the old copy as it was).

use std::io::{self, Write};

use aws_smithy_types::Blob;
use secrecy::SecretString;
use serde::Serialize;
use zeroize::{Zeroize, Zeroizing};

/// Takes a secret out of an AWS answer: the value moves into a buffer of
/// exactly its length and the answer's own `String`, spare capacity
/// included, is wiped. (`SecretString::from(String)` would shrink the
/// `String` in place, and a shrink may copy and free the old buffer unwiped.)
pub fn take(mut value: String) -> SecretString {
    let secret = SecretString::from(value.as_str());
    value.zeroize();
    secret
}

/// Wipes a binary secret value (`SecretBinary`) rekeyd does not use.
pub fn discard(blob: Option<Blob>) {
    if let Some(blob) = blob {
        drop(Zeroizing::new(blob.into_inner()));
    }
}

/// `value` as JSON, written once into a buffer sized beforehand (a first
/// pass only counts bytes), so no partly written copy is left behind.
pub fn to_json<T: Serialize>(value: &T) -> serde_json::Result<SecretString> {
    let mut counter = Counter(0);
    serde_json::to_writer(&mut counter, value)?;
    let mut json = Zeroizing::new(Vec::with_capacity(counter.0));
    serde_json::to_writer(&mut *json, value)?;
    debug_assert_eq!(json.len(), json.capacity(), "the JSON grew after counting");
    let text = std::str::from_utf8(&json).expect("serde_json writes UTF-8");
    Ok(SecretString::from(text))
}

/// Counts the bytes written to it.
struct Counter(usize);

impl Write for Counter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0 += bytes.len();
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    #[test]
    fn take_keeps_the_value() {
        let mut answer = String::with_capacity(64);
        answer.push_str("tok-123");
        assert_eq!(take(answer).expose_secret(), "tok-123");
    }

    #[test]
    fn to_json_writes_what_serde_json_writes() {
        let value =
            serde_json::json!({"kind": "chime_bot", "security_token": "s3cr\"et", "n": [1, 2]});
        let json = to_json(&value).unwrap();
        assert_eq!(json.expose_secret(), serde_json::to_string(&value).unwrap());
    }
}
