//! Checks for single values: durations, cron, names, URLs, ARNs' parts.
//!
//! Each returns the parsed value or a lowercase message for the key's problem.
//! The patterns are checked by hand (no regex).

use std::str::FromStr;
use std::time::Duration;

use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

use super::model::RefreshBefore;

/// A humantime duration (`90s`, `15m`, `12h`, `30d`).
pub(crate) fn duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text).map_err(|e| {
        format!("{text:?} is not a duration ({e}); write e.g. \"90s\", \"15m\", \"12h\", \"30d\"")
    })
}

/// A duration that must not be zero.
pub(crate) fn positive_duration(text: &str) -> Result<Duration, String> {
    match duration(text)? {
        Duration::ZERO => Err(format!("{text:?} is zero; it must be longer than that")),
        d => Ok(d),
    }
}

/// A six-field cron expression, seconds first.
pub(crate) fn cron(text: &str) -> Result<Cron, String> {
    const SIX_FIELDS: &str = "rekeyd's have six, seconds first \
                              (sec min hour day-of-month month day-of-week)";
    let fields = text.split_whitespace().count();
    if fields == 5 {
        let hint = format!("try \"0 {}\"", text.trim());
        return Err(format!("cron {text:?} has 5 fields; {SIX_FIELDS}: {hint}"));
    }
    if fields != 6 && !text.trim_start().starts_with('@') {
        let plural = if fields == 1 { "" } else { "s" };
        return Err(format!(
            "cron {text:?} has {fields} field{plural}; {SIX_FIELDS}"
        ));
    }
    CronParser::builder()
        .seconds(Seconds::Required)
        .year(Year::Disallowed)
        .build()
        .parse(text)
        .map_err(|e| format!("cron {text:?} is invalid: {e}"))
}

/// An IANA time zone name.
pub(crate) fn timezone(text: &str) -> Result<chrono_tz::Tz, String> {
    chrono_tz::Tz::from_str(text)
        .map_err(|_| format!("{text:?} is not an IANA time zone name such as \"Europe/Berlin\""))
}

/// A Secrets Manager secret name: 1–512 characters of `[A-Za-z0-9/_+=.@-]`.
pub(crate) fn secret_name(text: &str) -> Result<(), String> {
    if let Some(c) = text.chars().find(|&c| !is_secret_char(c)) {
        return Err(format!(
            "secret name {text:?} has {c:?}; allowed are letters, digits and /_+=.@-"
        ));
    }
    if text.is_empty() || text.len() > 512 {
        return Err(format!(
            "secret name must be 1 to 512 characters, not {}",
            text.len()
        ));
    }
    Ok(())
}

/// Characters Secrets Manager allows in a secret name.
pub(crate) fn is_secret_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "/_+=.@-".contains(c)
}

/// An IAM user name: 1–64 characters of `[\w+=,.@-]`.
pub(crate) fn iam_user_name(text: &str) -> Result<(), String> {
    let chars_ok = text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c));
    if text.is_empty() || text.len() > 64 || !chars_ok {
        return Err(format!(
            "{text:?} is not an IAM user name: 1 to 64 letters, digits and _+=,.@-"
        ));
    }
    Ok(())
}

/// An IAM service-specific credential id: 20–128 characters of `[\w]`.
pub(crate) fn credential_id(text: &str) -> Result<(), String> {
    let chars_ok = text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !(20..=128).contains(&text.len()) || !chars_ok {
        return Err(format!(
            "{text:?} is not a service-specific credential id: 20 to 128 letters, digits and _"
        ));
    }
    Ok(())
}

/// An AWS region name, `[a-z0-9-]+`.
pub(crate) fn region(text: &str) -> Result<(), String> {
    let ok = !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{text:?} is not a region name such as \"us-east-1\""
        ))
    }
}

/// An absolute http(s) URL with a host, e.g. `http://127.0.0.1:4566`.
pub(crate) fn endpoint_url(text: &str) -> Result<(), String> {
    let rest = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"));
    let host = rest.map(|r| r.split(['/', '?', '#']).next().unwrap_or(""));
    let ok = host.is_some_and(|h| !h.is_empty() && !h.starts_with(':'))
        && !text.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{text:?} is not an absolute http or https URL such as \"http://127.0.0.1:4566\""
        ))
    }
}

/// A string that must have something in it.
pub(crate) fn non_empty(text: &str) -> Result<String, String> {
    if text.trim().is_empty() {
        Err("must not be empty".to_owned())
    } else {
        Ok(text.to_owned())
    }
}

/// `N%` with N a whole number 1–99; `None` when `text` is not a percentage.
pub(crate) fn percentage(text: &str) -> Option<Result<u32, String>> {
    let number = text.trim().strip_suffix('%')?;
    Some(match number.trim().parse::<u32>() {
        Ok(n @ 1..=99) => Ok(n),
        _ => Err(format!(
            "{text:?} is not a percentage from 1% to 99% (whole numbers)"
        )),
    })
}

/// `refresh_before`: a duration, or a percentage (`N%`) of the secret's
/// lifetime.
pub(crate) fn refresh_before(text: &str) -> Result<RefreshBefore, String> {
    match percentage(text) {
        Some(percent) => percent.map(RefreshBefore::Percent),
        None => positive_duration(text).map(RefreshBefore::Fixed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        assert!(secret_name("rekeyd/a_b+c=d.e@f-g").is_ok());
        assert!(secret_name("").is_err());
        assert!(secret_name("a b").is_err());
        assert!(secret_name(&"a".repeat(513)).is_err());
        assert!(iam_user_name("sofia+ops@example.com").is_ok());
        assert!(iam_user_name(&"a".repeat(65)).is_err());
        assert!(iam_user_name("söfia").is_err());
        assert!(credential_id("ACCAEXAMPLE123EXAMPLE").is_ok());
        assert!(credential_id("ACCA-EXAMPLE123EXAMPLE").is_err());
        assert!(credential_id("SHORT").is_err());
        assert!(region("eu-central-1").is_ok());
        assert!(region("EU").is_err());
        assert!(endpoint_url("http://127.0.0.1:4566").is_ok());
        assert!(endpoint_url("https://iam.amazonaws.com/").is_ok());
        assert!(endpoint_url("127.0.0.1:4566").is_err());
        assert!(endpoint_url("http://").is_err());
        assert!(endpoint_url("http://a b").is_err());
        assert_eq!(percentage("25%"), Some(Ok(25)));
        assert!(percentage("0%").unwrap().is_err());
        assert!(percentage("100%").unwrap().is_err());
        assert!(percentage("2.5%").unwrap().is_err());
        assert_eq!(percentage("1h"), None);
    }

    #[test]
    fn cron_and_durations() {
        assert!(cron("0 0 3 * * *").is_ok());
        assert!(cron("0 3 * * *").unwrap_err().contains("5 fields"));
        assert!(cron("0 0 3 * * * 2030").is_err());
        assert!(cron("0 0 25 * * *").is_err());
        assert_eq!(duration("15m"), Ok(Duration::from_secs(900)));
        assert!(duration("15").is_err());
        assert!(duration("99999999999999999999999d").is_err());
        assert!(positive_duration("0s").is_err());
        assert!(timezone("Europe/Berlin").is_ok());
        assert!(timezone("Mars/Olympus").is_err());
    }
}
