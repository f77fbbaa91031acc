//! A large valid policy read a piece at a time, so that reading it costs
//! memory in proportion to a piece, not to the file.
//!
//! The TOML parser lexes a whole document into tokens and events before
//! building its tree: for 100,000 credentials (15 MB) that was about 150 MB
//! on top of the tree. Here the text is cut before `[[chime_bot]]`-style
//! headers into pieces of about [`PIECE`] bytes, and each piece is parsed
//! and read on its own. Each value's span is then moved to the piece's place
//! in the file, so every span, line and message is the whole file's (a
//! piece used to be parsed behind as many spaces as bytes came before it,
//! which lexed the file's length once per piece).
//!
//! Only for policies that read without a problem: at the first syntax error,
//! problem, or top-level key that two pieces both define (which only a
//! whole-file parse judges correctly), [`read_valid`] gives up and the
//! caller reads the whole file as before, reporting exactly what it did.

use std::collections::HashSet;
use std::ops::Range;
use std::path::Path;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::model::{Kind, Policy};
use super::problems::Sink;
use super::raw::RawPolicy;
use super::read::{Counts, entry};
use super::validate::Settings;

/// The size of a piece; smaller files are read whole.
const PIECE: usize = 1 << 20;

/// `text` read and checked piece by piece: each piece's credential tables
/// are checked as soon as it is read, so that the raw tables of one piece
/// live at a time, not the whole file's (about 700 bytes per credential).
/// `None` (and `sink` as it was) when `text` is too small to cut, when a
/// piece has a problem, or when a settings table (or any top-level key but
/// the credential tables) comes after the first piece: the credentials
/// before it were checked without it, so [`read_valid`] reads those.
pub(super) fn check_valid(text: &str, source: &Path, sink: &mut Sink<'_>) -> Option<Policy> {
    in_pieces(text, sink, |pieces, sink| {
        check_pieces(text, pieces, source, sink)
    })
}

fn check_pieces(
    text: &str,
    pieces: &[Range<usize>],
    source: &Path,
    sink: &mut Sink<'_>,
) -> Option<Policy> {
    // About one credential per `[[` header: room for all of them at once.
    let expected = text.matches("\n[[").count() + 1;
    let mut counts = Counts::default();
    let mut settings: Option<Settings> = None;
    let mut credentials = Vec::with_capacity(expected);
    let mut fixed = HashSet::new();
    for_each_piece(text, pieces, |index, root| {
        let mut raw = RawPolicy::default();
        for (key, value) in root {
            let settings_before = fixed.len();
            if !in_one_piece(text, &key, &value, &mut fixed) {
                return None;
            }
            // A settings table after the first piece: the credentials before
            // it were checked without it.
            if index > 0 && fixed.len() > settings_before {
                return None;
            }
            entry(key, value, &mut raw, &mut counts, sink);
        }
        if !sink.is_empty() {
            return None;
        }
        let checked = settings.get_or_insert_with(|| Settings::check(&mut raw, expected, sink));
        raw.credentials.sort_by_key(|c| c.header);
        for credential in raw.credentials {
            credentials.push(checked.credential(credential, sink)?);
        }
        sink.is_empty().then_some(())
    })?;
    settings?.finish(credentials, source, sink)
}

/// `text` read piece by piece; `None` (and `sink` as it was) when a piece
/// has a problem, or when `text` is too small to cut.
pub(super) fn read_valid(text: &str, sink: &mut Sink<'_>) -> Option<RawPolicy> {
    in_pieces(text, sink, |pieces, sink| read_pieces(text, pieces, sink))
}

/// `read` of `text` cut into pieces; `None` when `text` is too small to cut,
/// or when `read` gives up (then `sink` is as it was).
fn in_pieces<'a, T>(
    text: &str,
    sink: &mut Sink<'a>,
    read: impl FnOnce(&[Range<usize>], &mut Sink<'a>) -> Option<T>,
) -> Option<T> {
    let pieces = pieces(text, PIECE);
    if pieces.len() < 2 {
        return None;
    }
    let read = read(&pieces, sink);
    if read.is_none() {
        sink.reset();
    }
    read
}

fn read_pieces(text: &str, pieces: &[Range<usize>], sink: &mut Sink<'_>) -> Option<RawPolicy> {
    let mut raw = RawPolicy::default();
    let mut counts = Counts::default();
    let mut fixed = HashSet::new();
    for_each_piece(text, pieces, |_, root| {
        for (key, value) in root {
            if !in_one_piece(text, &key, &value, &mut fixed) {
                return None;
            }
            entry(key, value, &mut raw, &mut counts, sink);
        }
        sink.is_empty().then_some(())
    })?;
    raw.credentials.sort_by_key(|c| c.header);
    Some(raw)
}

/// Parses each piece and hands its top-level keys to `each` with the
/// piece's index, every value's span moved to its place in the whole file;
/// stops at the first syntax error, or when `each` answers `None`.
fn for_each_piece(
    text: &str,
    pieces: &[Range<usize>],
    mut each: impl for<'t> FnMut(usize, DeTable<'t>) -> Option<()>,
) -> Option<()> {
    for (index, piece) in pieces.iter().enumerate() {
        let (root, errors) = DeTable::parse_recoverable(&text[piece.clone()]);
        if !errors.is_empty() {
            return None;
        }
        let mut root = root.into_inner();
        if piece.start > 0 {
            for (_, value) in root.iter_mut() {
                shift(value, piece.start);
            }
        }
        each(index, root)?;
    }
    Some(())
}

/// Moves the spans of `value` and of everything in it `by` bytes later.
/// Keys keep the piece's spans: only a problem names a key's place, and at
/// the first problem the pieces are given up.
fn shift(value: &mut Spanned<DeValue<'_>>, by: usize) {
    match value.get_mut() {
        DeValue::Array(items) => items.iter_mut().for_each(|item| shift(item, by)),
        DeValue::Table(table) => table.iter_mut().for_each(|(_, item)| shift(item, by)),
        _ => {}
    }
    let span = value.span();
    let inner = std::mem::replace(value.get_mut(), DeValue::Boolean(false));
    *value = Spanned::new(span.start + by..span.end + by, inner);
}

/// Whether top-level `key` of a piece is as a whole-file parse would take
/// it: a credential kind's array of `[[...]]` tables, which later pieces may
/// add to, unless an earlier one defined it otherwise (an inline array);
/// any other key (settings tables, unknown keys) in one piece only. Records
/// the latter in `fixed`.
fn in_one_piece(
    text: &str,
    key: &Spanned<std::borrow::Cow<'_, str>>,
    value: &Spanned<DeValue<'_>>,
    fixed: &mut HashSet<String>,
) -> bool {
    let name = key.get_ref().as_ref();
    if appendable(text, name, value) {
        !fixed.contains(name)
    } else {
        fixed.insert(name.to_owned())
    }
}

/// Whether top-level `key` is a credential kind's array of `[[...]]`
/// tables.
fn appendable(text: &str, key: &str, value: &Spanned<DeValue<'_>>) -> bool {
    Kind::ALL.iter().any(|k| k.as_str() == key)
        && matches!(value.get_ref(), DeValue::Array(_))
        && is_header(text, value.span().start)
}

/// Whether an array starting at `at` is made of `[[table]]` headers (which
/// later pieces may add to), not an inline array after `key =`.
fn is_header(text: &str, at: usize) -> bool {
    let line_start = text[..at].rfind('\n').map_or(0, |newline| newline + 1);
    text[line_start..at].trim().is_empty() && text[at..].starts_with("[[")
}

/// `text` cut into consecutive ranges of at least `size` bytes (the last
/// may be shorter), each after the first starting at a line that is a
/// credential kind's `[[...]]` header. A line that only looks like one
/// (inside a multi-line string or array) leaves the piece before it
/// unfinished: a syntax error there, and the whole file is read instead.
fn pieces(text: &str, size: usize) -> Vec<Range<usize>> {
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        if at - start >= size && is_kind_header(line) {
            pieces.push(start..at);
            start = at;
        }
        at += line.len();
    }
    pieces.push(start..text.len());
    pieces
}

/// `[[chime_bot]]` (or another kind), alone on its line.
fn is_kind_header(line: &str) -> bool {
    let Some(name) = (line.trim_end())
        .strip_prefix("[[")
        .and_then(|rest| rest.strip_suffix("]]"))
    else {
        return false;
    };
    Kind::ALL.iter().any(|kind| kind.as_str() == name)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn fleet(n: usize) -> String {
        let mut text = String::from("[defaults]\nevery = \"30d\"\n\n");
        for i in 0..n {
            text.push_str(&format!(
                "[[chime_bot]]\nname = \"bot-{i}\"\naccount_id = \"a0000000-0000-4000-8000-000000000000\"\nbot_id = \"b-{i}\"\n\n[[ivs_participant_token]]\nname = \"token-{i}\"\nstage_arn = \"arn:aws:ivs:us-east-1:123456789012:stage/st{i}\"\nduration = \"12h\"\n[ivs_participant_token.attributes]\nroom = \"r{i}\"\n\n"
            ));
        }
        text
    }

    #[test]
    fn pieces_cover_the_text_and_start_at_kind_headers() {
        let text = fleet(50);
        let pieces = pieces(&text, 500);
        assert!(pieces.len() > 5, "{}", pieces.len());
        assert_eq!(pieces[0].start, 0);
        assert_eq!(pieces.last().unwrap().end, text.len());
        for pair in pieces.windows(2) {
            assert_eq!(pair[0].end, pair[1].start);
            assert!(text[pair[1].clone()].starts_with("[["), "{pair:?}");
        }
    }

    /// The policy read in pieces of `size` bytes, and read whole.
    fn both(text: &str, size: usize) -> (Option<RawPolicy>, RawPolicy) {
        let mut sink = Sink::new(text);
        let pieced = read_pieces(text, &pieces(text, size), &mut sink);
        let mut sink = Sink::new(text);
        let whole = crate::policy::read::read(text, &mut sink);
        (pieced, whole)
    }

    #[test]
    fn a_valid_policy_read_in_pieces_is_the_policy_read_whole() {
        let text = fleet(40);
        let (pieced, whole) = both(&text, 300);
        let pieced = pieced.expect("a valid policy reads in pieces");
        assert_eq!(format!("{pieced:?}"), format!("{whole:?}"));
        assert_eq!(pieced.credentials.len(), 80);
        // And it validates to the same policy, spans and all.
        let file = Path::new("p.toml");
        let parsed = crate::policy::parse(file, &text).unwrap();
        assert_eq!(parsed.credentials.len(), 80);
    }

    /// The policy checked as it is read in pieces of `size` bytes.
    fn checked(text: &str, size: usize) -> (Option<Policy>, Vec<String>) {
        let mut sink = Sink::new(text);
        let file = Path::new("p.toml");
        let policy = check_pieces(text, &pieces(text, size), file, &mut sink);
        let warnings = sink.warnings(file);
        (policy, warnings)
    }

    #[test]
    fn a_valid_policy_checked_piece_by_piece_is_the_policy_read_whole() {
        let mut text = String::from(
            "[aws]\nregion = \"eu-west-1\"\n[defaults]\njitter = \"5m\"\non_rotate = [\"/nonexistent/reload\"]\n\n",
        );
        text.push_str(&fleet(40)["[defaults]\nevery = \"30d\"\n\n".len()..]);
        text = text.replace("[[chime_bot]]\n", "[[chime_bot]]\nevery = \"30d\"\n");
        // A warning in the last piece names its line in the whole file.
        text.push_str("[[chime_bot]]\nname = \"late\"\naccount_id = \"a\"\nbot_id = \"b\"\nevery = \"1d\"\non_rotate = [\"/nonexistent/late\"]\n");
        let late_line = text.lines().count();
        assert!(pieces(&text, 300).len() > 3);
        let (pieced, warnings) = checked(&text, 300);
        let pieced = pieced.expect("a valid policy is checked in pieces");
        let mut sink = Sink::new(&text);
        let raw = crate::policy::read::read(&text, &mut sink);
        let whole = crate::policy::validate::validate(raw, Path::new("p.toml"), &mut sink)
            .expect("valid read whole");
        assert_eq!(pieced.credentials.len(), 81);
        assert_eq!(format!("{pieced:?}"), format!("{whole:?}"));
        assert_eq!(pieced.aws.region.as_deref(), Some("eu-west-1"));
        assert!(
            pieced.credentials.iter().all(|c| c.jitter.as_secs() == 300),
            "[defaults] applies to every piece"
        );
        // Each missing hook program is warned about once, at its line, as
        // when read whole.
        assert_eq!(warnings, sink.warnings(Path::new("p.toml")));
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(
            warnings[1].starts_with(&format!("p.toml:{late_line}:")),
            "{warnings:?}"
        );
    }

    #[test]
    fn settings_after_the_first_piece_are_left_to_the_read_of_every_piece() {
        // `[defaults]` at the end: the credentials of the pieces before it
        // were checked without it, so checking as read gives up, and the
        // policy is read whole (in pieces), with the defaults applied.
        let mut text = fleet(40).replace("[defaults]\nevery = \"30d\"\n", "");
        text.push_str("[defaults]\nevery = \"30d\"\njitter = \"1m\"\n");
        let (pieced, _) = checked(&text, 300);
        assert!(pieced.is_none());
        let policy = crate::policy::parse(Path::new("p.toml"), &text).unwrap();
        assert_eq!(policy.credentials.len(), 80);
        assert!(policy.credentials.iter().all(|c| c.jitter.as_secs() == 60));
    }

    #[test]
    fn a_problem_in_a_later_piece_stops_checking_as_read() {
        let mut text = fleet(40);
        text.push_str("[[chime_bot]]\nname = \"bot-3\"\naccount_id = \"a\"\nbot_id = \"b\"\n");
        let (pieced, warnings) = checked(&text, 300);
        assert!(pieced.is_none());
        assert!(warnings.is_empty());
        let problems = crate::policy::parse(Path::new("p.toml"), &text).unwrap_err();
        assert!(
            problems.to_string().contains("duplicate name \"bot-3\""),
            "{problems}"
        );
    }

    #[test]
    fn problems_in_a_policy_read_in_pieces_name_their_lines_in_the_whole_file() {
        let mut text = fleet(4500);
        assert!(pieces(&text, PIECE).len() > 1, "{}", text.len());
        let bad_id = text.lines().count() + 4;
        text.push_str("[[chime_bot]]\nname = \"late\"\naccount_id = \"a\"\nbot_id = \"b c\"\n");
        let file = Path::new("p.toml");
        let problems = crate::policy::parse(file, &text).unwrap_err().problems;
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].line, bad_id);
        assert_eq!(problems[0].key.as_deref(), Some("bot_id"));
        // A problem found while reading: the whole file is read again, and
        // the problem is reported once, at its line.
        let unknown = text.lines().count() + 1;
        text.push_str("colour = \"blue\"\n");
        let problems = crate::policy::parse(file, &text).unwrap_err().problems;
        let lines: Vec<usize> = problems.iter().map(|p| p.line).collect();
        assert_eq!(lines, [bad_id, unknown], "{problems:?}");
    }

    #[test]
    fn a_table_defined_in_two_pieces_is_left_to_the_whole_file_parse() {
        // `[defaults]` twice: only a whole-file parse reports the duplicate
        // (and where); each piece alone is valid.
        let mut text = fleet(20);
        text.push_str("[defaults]\njitter = \"1m\"\n");
        let (pieced, _) = both(&text, 300);
        assert!(pieced.is_none());
        let problems = crate::policy::parse(Path::new("p.toml"), &text).unwrap_err();
        assert!(problems.to_string().contains("duplicate key"), "{problems}");
    }

    #[test]
    fn an_inline_array_of_a_kind_is_not_extended_by_a_later_piece() {
        // A whole-file parse refuses `[[chime_bot]]` after `chime_bot = [...]`.
        let mut text = String::from(
            "chime_bot = [{name = \"a\", account_id = \"x\", bot_id = \"y\"}]\n[defaults]\nevery = \"30d\"\n",
        );
        text.push_str(&fleet(20)["[defaults]\nevery = \"30d\"\n\n".len()..]);
        let (checked, _) = checked(&text, 300);
        assert!(checked.is_none());
        let (pieced, _) = both(&text, 300);
        assert!(pieced.is_none());
        let problems = crate::policy::parse(Path::new("p.toml"), &text).unwrap_err();
        assert!(problems.to_string().contains("duplicate key"), "{problems}");
    }

    #[test]
    fn a_header_inside_a_multiline_string_makes_the_piece_before_it_invalid() {
        let mut text = fleet(10);
        text.push_str("[[chime_bot]]\nname = \"odd\"\naccount_id = \"a\"\nbot_id = \"\"\"\n");
        text.push_str(&"x\n".repeat(200));
        text.push_str("[[chime_bot]]\n\"\"\"\n");
        let (pieced, _) = both(&text, 300);
        assert!(pieced.is_none());
        let problems = crate::policy::parse(Path::new("p.toml"), &text).unwrap_err();
        assert!(problems.to_string().contains("bot_id"), "{problems}");
    }
}
