//! TOML text to [`RawPolicy`], reporting every syntax and type error.
//!
//! serde stops at the first error, so each table is deserialized on its own,
//! and when that fails, the key the error points into is reported, removed,
//! and the table deserialized again, until it succeeds.

use std::borrow::Cow;
use std::ops::Range;

use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeTable, DeValue, Deserializer};

use super::model::Kind;
use super::problems::{Ctx, Sink};
use super::raw::{
    RawBody, RawCredential, RawIamServiceCredential, RawIvsParticipantToken, RawPolicy,
};

/// How deep [`locate`] looks into nested tables and arrays.
const MAX_DEPTH: usize = 16;

/// The top-level keys, for the "unknown key" message.
const TOP_LEVEL: &str = "`aws`, `accounts`, `defaults`, `daemon`, `coordination`, `chime_bot`, \
                         `iam_service_credential`, `ivs_participant_token`";

/// Parses `text`; every problem goes to `sink`, and what could be read is returned.
pub(crate) fn read(text: &str, sink: &mut Sink<'_>) -> RawPolicy {
    if let Some(raw) = super::chunks::read_valid(text, sink) {
        return raw;
    }
    let (root, errors) = DeTable::parse_recoverable(text);
    for error in &errors {
        sink.syntax(error);
    }
    let mut root = root.into_inner();
    if !errors.is_empty() {
        drop_made_up(&mut root, 0);
        let mut starts = Vec::new();
        headers(text, &root, &mut starts, 0);
        sink.set_headers(starts);
    }
    let mut raw = RawPolicy::default();
    let mut counts = Counts::default();
    for (key, value) in root {
        entry(key, value, &mut raw, &mut counts, sink);
    }
    raw.credentials.sort_by_key(|c| c.header);
    raw
}

/// How many tables of each credential kind were read so far: an entry
/// without a valid name is labelled by its place (`chime_bot #2`).
pub(super) type Counts = [usize; Kind::ALL.len()];

/// Reads one top-level key of the policy into `raw`.
pub(super) fn entry(
    key: Spanned<Cow<'_, str>>,
    value: Spanned<DeValue<'_>>,
    raw: &mut RawPolicy,
    counts: &mut Counts,
    sink: &mut Sink<'_>,
) {
    let header = value.span().start;
    match key.get_ref().as_ref() {
        "aws" => raw.aws = table(value, &Ctx::settings("aws.", header), sink, no_hint),
        "defaults" => {
            raw.defaults = table(value, &Ctx::settings("defaults.", header), sink, no_hint);
        }
        "daemon" => raw.daemon = table(value, &Ctx::settings("daemon.", header), sink, no_hint),
        "accounts" => {
            raw.accounts = table(value, &Ctx::settings("accounts.", header), sink, no_hint);
        }
        "coordination" => {
            raw.coordination = table(
                value,
                &Ctx::settings("coordination.", header),
                sink,
                no_hint,
            );
        }
        name => match Kind::ALL.into_iter().position(|k| k.as_str() == name) {
            Some(at) => {
                let kind = Kind::ALL[at];
                counts[at] += credentials(kind, value, counts[at], &mut raw.credentials, sink);
            }
            None => {
                let message = format!("unknown key; the policy's tables are {TOP_LEVEL}");
                sink.push(&Ctx::root(), key.span().start, name, message);
            }
        },
    }
}

/// Removes the values the parser made up to recover from a syntax error
/// (they span nothing), so they are not checked as if the user wrote them.
fn drop_made_up(table: &mut DeTable<'_>, depth: usize) {
    let made_up: Vec<String> = (table.iter())
        .filter(|(_, value)| value.span().is_empty())
        .map(|(key, _)| key.get_ref().to_string())
        .collect();
    for key in made_up {
        table.remove(key.as_str());
    }
    if depth >= MAX_DEPTH {
        return;
    }
    for (_, value) in table.iter_mut() {
        match value.get_mut() {
            DeValue::Table(inner) => drop_made_up(inner, depth + 1),
            DeValue::Array(items) => {
                for item in items.iter_mut() {
                    if let DeValue::Table(inner) = item.get_mut() {
                        drop_made_up(inner, depth + 1);
                    }
                }
            }
            _ => {}
        }
    }
}

/// The byte offsets of the `[table]` and `[[table]]` headers in `table`.
fn headers(text: &str, table: &DeTable<'_>, out: &mut Vec<usize>, depth: usize) {
    if depth >= MAX_DEPTH {
        return;
    }
    let visit = |value: &Spanned<DeValue<'_>>, out: &mut Vec<usize>| {
        if let DeValue::Table(inner) = value.get_ref() {
            let start = value.span().start;
            // Not inline tables (`{`) nor tables implied by dotted keys.
            if text.get(start..).is_some_and(|t| t.starts_with('[')) {
                out.push(start);
            }
            headers(text, inner, out, depth + 1);
        }
    };
    for (_, value) in table {
        match value.get_ref() {
            DeValue::Array(items) => items.iter().for_each(|item| visit(item, out)),
            _ => visit(value, out),
        }
    }
}

/// The entries of one `[[kind]]` array of tables, the first being the
/// kind's `first`; how many there were.
fn credentials(
    kind: Kind,
    value: Spanned<DeValue<'_>>,
    first: usize,
    out: &mut Vec<RawCredential>,
    sink: &mut Sink<'_>,
) -> usize {
    let span = value.span();
    let items = match value.into_inner() {
        DeValue::Array(items) => items,
        other => {
            let message = match other {
                DeValue::Table(_) => {
                    format!("write `[[{kind}]]` (an array of tables), not `[{kind}]`")
                }
                other => format!("expected an array of tables, found {}", other.type_str()),
            };
            sink.push(&Ctx::root(), span.start, kind.as_str(), message);
            return 0;
        }
    };
    let count = items.len();
    for (index, item) in (first..).zip(items) {
        let header = item.span().start;
        let label = label(kind, index, item.get_ref());
        let ctx = Ctx::credential(label.clone(), header);
        let body = match kind {
            Kind::ChimeBot => {
                table(item, &ctx, sink, no_hint).map(|b| RawBody::ChimeBot(b.into_inner()))
            }
            Kind::IamServiceCredential => {
                table::<RawIamServiceCredential>(item, &ctx, sink, no_hint)
                    .map(|c| RawBody::IamServiceCredential(c.into_inner()))
            }
            Kind::IvsParticipantToken => {
                table::<RawIvsParticipantToken>(item, &ctx, sink, ivs_hint)
                    .map(|t| RawBody::IvsParticipantToken(t.into_inner()))
            }
        };
        if let Some(body) = body {
            out.push(RawCredential {
                label,
                header,
                body: Box::new(body),
            });
        }
    }
    count
}

/// `chime_bot "support-bot"` when the entry has a valid name, else `chime_bot #2`.
fn label(kind: Kind, index: usize, item: &DeValue<'_>) -> String {
    let name = item
        .as_table()
        .and_then(|t| t.get("name"))
        .and_then(|n| n.get_ref().as_str())
        .filter(|n| super::model::CredentialName::new(n).is_some());
    match name {
        Some(name) => format!("{kind} \"{name}\""),
        None => format!("{kind} #{}", index + 1),
    }
}

/// A better message for a key that is unknown in this table.
type Hint = fn(&str) -> Option<&'static str>;

fn no_hint(_: &str) -> Option<&'static str> {
    None
}

fn ivs_hint(key: &str) -> Option<&'static str> {
    matches!(key, "schedule" | "every").then_some(
        "IVS tokens take neither `schedule` nor `every`: they are refreshed \
         `refresh_before` ahead of their expiry",
    )
}

/// Deserializes one table; a key serde rejects is reported and dropped, and
/// the rest deserialized again. `None` when `value` is not a table at all.
fn table<T: DeserializeOwned>(
    value: Spanned<DeValue<'_>>,
    ctx: &Ctx,
    sink: &mut Sink<'_>,
    hint: Hint,
) -> Option<Spanned<T>> {
    let span = value.span();
    let mut table = match value.into_inner() {
        DeValue::Table(table) => table,
        other => {
            let message = format!("expected a table, found {}", other.type_str());
            match ctx.credential {
                Some(_) => sink.push(ctx, span.start, "", message),
                None => {
                    let key = ctx.prefix.trim_end_matches('.');
                    sink.push(&Ctx::root(), span.start, key, message);
                }
            }
            return None;
        }
    };
    loop {
        let de = Deserializer::from(Spanned::new(span.clone(), table.clone()));
        let error = match T::deserialize(de) {
            Ok(value) => return Some(Spanned::new(span, value)),
            Err(error) => error,
        };
        let Some((path, offset)) = error.span().and_then(|s| locate(&table, &s, 0)) else {
            // Not expected: every serde error here points into a key.
            sink.push(ctx, span.start, "", tomlish(error.message()));
            return None;
        };
        let message = match (path.as_slice(), unknown_key(error.message())) {
            ([key], Some(expected)) => hint(key).map_or(expected, str::to_owned),
            (_, Some(expected)) => expected,
            (_, None) if is_datetime(&table, &path) => tomlish(error.message()).replacen(
                "invalid type: table",
                "invalid type: datetime",
                1,
            ),
            (_, None) => tomlish(error.message()),
        };
        sink.push(ctx, offset, &path.join("."), message);
        if !remove(&mut table, &path) {
            return None;
        }
    }
}

/// The key path (and the leaf key's offset) whose key or value holds `error`.
fn locate(table: &DeTable<'_>, error: &Range<usize>, depth: usize) -> Option<(Vec<String>, usize)> {
    for (key, value) in table {
        if depth < MAX_DEPTH
            && let DeValue::Table(inner) = value.get_ref()
            && let Some((mut path, offset)) = locate(inner, error, depth + 1)
        {
            path.insert(0, key.get_ref().to_string());
            return Some((path, offset));
        }
        if contains(&key.span(), error) || holds(value, error, depth) {
            return Some((vec![key.get_ref().to_string()], key.span().start));
        }
    }
    None
}

/// Whether `value`, or anything nested in it, spans `error`.
fn holds(value: &Spanned<DeValue<'_>>, error: &Range<usize>, depth: usize) -> bool {
    if contains(&value.span(), error) {
        return true;
    }
    if depth >= MAX_DEPTH {
        return false;
    }
    match value.get_ref() {
        DeValue::Array(items) => items.iter().any(|item| holds(item, error, depth + 1)),
        DeValue::Table(table) => table
            .iter()
            .any(|(k, v)| contains(&k.span(), error) || holds(v, error, depth + 1)),
        _ => false,
    }
}

fn contains(outer: &Range<usize>, inner: &Range<usize>) -> bool {
    !outer.is_empty() && outer.start <= inner.start && inner.end <= outer.end
}

/// Removes the key at `path`; `false` when there is none.
fn remove(table: &mut DeTable<'_>, path: &[String]) -> bool {
    match path {
        [] => false,
        [key] => table.remove(key.as_str()).is_some(),
        [key, rest @ ..] => match table.get_mut(key.as_str()).map(|v| v.get_mut()) {
            Some(DeValue::Table(inner)) => remove(inner, rest),
            _ => false,
        },
    }
}

/// Whether the value at `path` is a TOML datetime (serde sees it as a table).
fn is_datetime(table: &DeTable<'_>, path: &[String]) -> bool {
    match path {
        [] => false,
        [key] => matches!(
            table.get(key.as_str()).map(|v| v.get_ref()),
            Some(DeValue::Datetime(_))
        ),
        [key, rest @ ..] => match table.get(key.as_str()).map(|v| v.get_ref()) {
            Some(DeValue::Table(inner)) => is_datetime(inner, rest),
            _ => false,
        },
    }
}

/// serde's "unknown field `x`, expected one of ..." as our message.
fn unknown_key(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    let expected = rest.split_once("`, ").map_or("", |(_, e)| e);
    Some(match expected {
        "" | "there are no fields" => "unknown key".to_owned(),
        expected => format!("unknown key ({expected})"),
    })
}

/// serde's Rust type names in TOML terms.
fn tomlish(message: &str) -> String {
    // An integer beyond 64 bits reaches serde as i128.
    if let Some(rest) = message.strip_prefix("invalid type: integer `")
        && let Some((number, _)) = rest.split_once("` as i128")
    {
        return format!("{number} is out of range");
    }
    let mut message = message.to_owned();
    if let Some(at) = message.find("expected struct ") {
        message.replace_range(at.., "expected a table");
    }
    for (rust, toml) in [
        ("expected a sequence", "expected an array"),
        ("expected a map", "expected a table"),
        ("expected f64", "expected a number"),
        ("expected i64", "expected an integer"),
        ("invalid type: map", "invalid type: table"),
        ("invalid type: sequence", "invalid type: array"),
    ] {
        message = message.replace(rust, toml);
    }
    message
}
