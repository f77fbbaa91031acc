//! ListSecrets/BatchGetSecretValue helpers: filters (prefix match, `!` negation) and NextToken pages.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;

use super::Secret;
use crate::error::ApiError;

/// One `Filters` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Filter {
    pub key: Option<String>,
    pub values: Option<Vec<String>>,
}

fn invalid_parameter(message: impl Into<String>) -> ApiError {
    ApiError::new(400, "InvalidParameterException", message)
}

/// Checks filter keys and values against the model.
pub(crate) fn validate(filters: &[Filter]) -> Result<(), ApiError> {
    if filters.len() > 10 {
        return Err(invalid_parameter("You can specify at most 10 filters."));
    }
    for filter in filters {
        let key = filter.key.as_deref().unwrap_or("");
        if !matches!(
            key,
            "description"
                | "name"
                | "tag-key"
                | "tag-value"
                | "primary-region"
                | "owning-service"
                | "all"
        ) {
            return Err(ApiError::constraint(
                400,
                "ValidationException",
                key,
                "filters.member.key",
                "Member must satisfy enum value set: [description, name, tag-key, tag-value, primary-region, owning-service, all]",
            ));
        }
        let values = filter.values.as_deref().unwrap_or(&[]);
        if values.is_empty() || values.len() > 10 {
            return Err(invalid_parameter(
                "Each filter needs between 1 and 10 values.",
            ));
        }
        for value in values {
            let ok = value.len() <= 512
                && value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || " :_@/+=.-!".contains(c));
            if !ok {
                return Err(invalid_parameter(format!("Invalid filter value: {value}")));
            }
        }
    }
    Ok(())
}

/// True when the secret passes every filter (values within a filter are alternatives).
pub(crate) fn matches(secret: &Secret, filters: &[Filter]) -> bool {
    filters.iter().all(|filter| {
        let key = filter.key.as_deref().unwrap_or("");
        filter.values.as_deref().unwrap_or(&[]).iter().any(|value| {
            let (negate, needle) = match value.strip_prefix('!') {
                Some(rest) => (true, rest),
                None => (false, value.as_str()),
            };
            field_matches(secret, key, needle) != negate
        })
    })
}

fn field_matches(secret: &Secret, key: &str, needle: &str) -> bool {
    let lower = needle.to_lowercase();
    match key {
        "name" => secret.name.starts_with(needle),
        "tag-key" => secret.tags.iter().any(|(k, _)| k.starts_with(needle)),
        "tag-value" => secret.tags.iter().any(|(_, v)| v.starts_with(needle)),
        "description" => secret
            .description
            .as_deref()
            .is_some_and(|d| d.to_lowercase().starts_with(&lower)),
        "primary-region" | "owning-service" => false,
        // `all`: any word of the value found in name, description or tags.
        _ => lower.split_whitespace().any(|word| {
            let fields = std::iter::once(secret.name.as_str())
                .chain(secret.description.as_deref())
                .chain(
                    secret
                        .tags
                        .iter()
                        .flat_map(|(k, v)| [k.as_str(), v.as_str()]),
                );
            fields.into_iter().any(|f| f.to_lowercase().contains(word))
        }),
    }
}

/// Tokens of [`page`]: an offset into the listing.
const OFFSET_PREFIX: &str = "rekeyd-emulator:";

/// Encodes a page's starting offset as an opaque NextToken.
pub(crate) fn next_token(offset: usize) -> String {
    encode_token(OFFSET_PREFIX, offset)
}

/// Decodes a NextToken into an offset.
pub(crate) fn offset(token: Option<&str>) -> Result<usize, ApiError> {
    decode_token(OFFSET_PREFIX, token)
}

/// `prefix` and `number`, as an opaque NextToken.
fn encode_token(prefix: &str, number: usize) -> String {
    STANDARD.encode(format!("{prefix}{number}"))
}

/// The number in a NextToken made by [`encode_token`] with `prefix` (0
/// without a token); any other token is AWS's InvalidNextTokenException.
fn decode_token(prefix: &str, token: Option<&str>) -> Result<usize, ApiError> {
    let Some(token) = token else {
        return Ok(0);
    };
    STANDARD
        .decode(token)
        .ok()
        .and_then(|raw| String::from_utf8(raw).ok())
        .and_then(|s| s.strip_prefix(prefix).and_then(|n| n.parse().ok()))
        .ok_or_else(|| {
            ApiError::new(
                400,
                "InvalidNextTokenException",
                "The NextToken value is invalid.",
            )
        })
}

/// The first page of up to `max` secrets passing `keep`, in storage
/// (creation) order, starting at storage position `start`, and the token of
/// the next page ([`resume_at`] reads it back). Each page costs what it
/// returns and skips, not the whole fleet: a full listing of N secrets is
/// O(N), where an offset into the filtered list would make it O(N²/page).
pub(crate) fn page_in_storage_order(
    secrets: &[Secret],
    start: usize,
    max: usize,
    keep: impl Fn(&Secret) -> bool,
) -> (Vec<&Secret>, Option<String>) {
    let mut page = Vec::with_capacity(max.min(secrets.len()));
    let mut position = start;
    while position < secrets.len() && page.len() < max {
        if keep(&secrets[position]) {
            page.push(&secrets[position]);
        }
        position += 1;
    }
    let more = secrets[position.min(secrets.len())..].iter().any(keep);
    (page, more.then(|| encode_token(AT_PREFIX, position)))
}

/// Tokens of [`page_in_storage_order`]: a storage position, not an offset.
const AT_PREFIX: &str = "rekeyd-emulator-at:";

/// The storage position a [`page_in_storage_order`] token resumes at
/// (0 without one).
pub(crate) fn resume_at(token: Option<&str>) -> Result<usize, ApiError> {
    decode_token(AT_PREFIX, token)
}

/// Splits `items` into the page starting at `offset` and the token of the next one.
pub(crate) fn page<T>(items: Vec<T>, offset: usize, max: usize) -> (Vec<T>, Option<String>) {
    let total = items.len();
    let page: Vec<T> = items.into_iter().skip(offset).take(max).collect();
    let next = offset + page.len();
    (page, (next < total).then(|| next_token(next)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn secret(name: &str, tags: &[(&str, &str)]) -> Secret {
        Secret {
            name: name.into(),
            arn: format!("arn:{name}"),
            description: Some("Database creds".into()),
            kms_key_id: None,
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            created: Utc::now(),
            last_changed: Utc::now(),
            deletion_date: None,
            versions: vec![],
            replicas: vec![],
        }
    }

    fn filter(key: &str, values: &[&str]) -> Filter {
        Filter {
            key: Some(key.into()),
            values: Some(values.iter().map(|v| v.to_string()).collect()),
        }
    }

    #[test]
    fn prefix_negation_and_conjunction() {
        let s = secret("rekeyd/bot", &[("rekeyd:kind", "chime_bot")]);
        assert!(matches(&s, &[filter("name", &["rekeyd/"])]));
        assert!(!matches(&s, &[filter("name", &["Rekeyd/"])]));
        assert!(matches(&s, &[filter("name", &["!other"])]));
        assert!(matches(
            &s,
            &[
                filter("tag-key", &["rekeyd:"]),
                filter("tag-value", &["chime"])
            ]
        ));
        assert!(!matches(
            &s,
            &[
                filter("tag-key", &["rekeyd:"]),
                filter("tag-value", &["iam"])
            ]
        ));
        assert!(matches(&s, &[filter("description", &["database"])]));
        assert!(validate(&[filter("colour", &["x"])]).is_err());
        assert!(validate(&[filter("name", &["a*"])]).is_err());
    }

    #[test]
    fn storage_order_pages_resume_where_the_last_one_ended() {
        let secrets: Vec<Secret> = (0..7).map(|i| secret(&format!("s{i}"), &[])).collect();
        let even = |s: &Secret| s.name[1..].parse::<usize>().unwrap() % 2 == 0;
        let names = |page: Vec<&Secret>| page.iter().map(|s| s.name.clone()).collect::<Vec<_>>();
        let (first, token) = page_in_storage_order(&secrets, 0, 2, even);
        assert_eq!(names(first), ["s0", "s2"]);
        let start = resume_at(token.as_deref()).unwrap();
        let (second, token) = page_in_storage_order(&secrets, start, 2, even);
        assert_eq!(names(second), ["s4", "s6"]);
        assert_eq!(token, None, "nothing passes after s6");
        assert!(resume_at(Some("garbage")).is_err());
        // An offset token of the sorted listings is not a position.
        assert!(resume_at(Some(&next_token(2))).is_err());
    }

    #[test]
    fn pages_round_trip() {
        let (first, token) = page((0..5).collect(), 0, 2);
        assert_eq!(first, vec![0, 1]);
        let start = offset(token.as_deref()).unwrap();
        let (second, _) = page((0..5).collect::<Vec<_>>(), start, 2);
        assert_eq!(second, vec![2, 3]);
        assert!(offset(Some("garbage")).is_err());
    }
}
