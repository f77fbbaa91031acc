//! Problems found in a policy file, and the sink that collects them.
//!
//! Every stage of loading pushes into one [`Sink`] instead of returning at
//! the first error, so a user sees every problem of a file in one run.

use std::fmt;
use std::path::PathBuf;

/// One thing wrong with a policy file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line of the key, or of the table header for a missing key.
    pub line: usize,
    /// The credential, as `chime_bot "support-bot"` (or `chime_bot #2` when
    /// its name is missing or invalid); `None` outside credential tables.
    pub credential: Option<String>,
    /// The key, relative to the credential (`bot_id`) or dotted from the
    /// top of the file (`aws.endpoints.iam`); `None` for syntax errors.
    pub key: Option<String>,
    /// What is wrong, lowercase, on one line.
    pub message: String,
}

impl fmt::Display for Problem {
    /// `chime_bot "support-bot": key `bot_id`: missing` (no file or line).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(credential) = &self.credential {
            write!(f, "{credential}: ")?;
        }
        if let Some(key) = &self.key {
            write!(f, "key `{}`: ", key.escape_debug())?;
        }
        f.write_str(&self.message)
    }
}

/// Every problem of one policy file, sorted by line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problems {
    /// The policy file, as given to [`super::load`] or [`super::parse`].
    pub file: PathBuf,
    /// At least one; sorted by line.
    pub problems: Vec<Problem>,
}

impl fmt::Display for Problems {
    /// One line per problem, `FILE:LINE: ...`, no trailing newline.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{}:{}: {problem}", self.file.display(), problem.line)?;
        }
        Ok(())
    }
}

impl std::error::Error for Problems {}

/// Where a problem is: the credential (if any), the key prefix of the table
/// (`aws.` for `[aws]`) and the byte offset of the table's header.
#[derive(Debug, Clone)]
pub(crate) struct Ctx {
    /// The credential's label, for [`Problem::credential`].
    pub credential: Option<String>,
    /// Prepended to keys: `aws.`, `defaults.`, `daemon.` or nothing.
    pub prefix: &'static str,
    /// Byte offset of the table's header, where missing keys are reported.
    pub header: usize,
}

impl Ctx {
    /// The top of the file.
    pub fn root() -> Self {
        Ctx {
            credential: None,
            prefix: "",
            header: 0,
        }
    }

    /// A settings table such as `[aws]`; `prefix` ends with a dot.
    pub fn settings(prefix: &'static str, header: usize) -> Self {
        Ctx {
            credential: None,
            prefix,
            header,
        }
    }

    /// A credential table, labelled for messages.
    pub fn credential(label: String, header: usize) -> Self {
        Ctx {
            credential: Some(label),
            prefix: "",
            header,
        }
    }
}

/// Collects problems; knows the text so it can turn byte offsets into lines.
pub(crate) struct Sink<'a> {
    text: &'a str,
    /// Byte offsets of the text's newlines, so a line is a binary search:
    /// a text with thousands of problems must not cost a scan per problem.
    newlines: Vec<usize>,
    problems: Vec<Problem>,
    /// Things that work but are probably not what the user meant.
    warnings: Vec<Problem>,
    /// Byte offsets of syntax errors: a key the parser dropped there would
    /// otherwise be reported a second time, as missing.
    syntax_errors: Vec<usize>,
    /// Byte offsets of every table header, sorted: a table runs to the next.
    headers: Vec<usize>,
}

impl<'a> Sink<'a> {
    pub fn new(text: &'a str) -> Self {
        Sink {
            text,
            newlines: text
                .bytes()
                .enumerate()
                .filter_map(|(i, b)| (b == b'\n').then_some(i))
                .collect(),
            problems: Vec::new(),
            warnings: Vec::new(),
            syntax_errors: Vec::new(),
            headers: Vec::new(),
        }
    }

    /// 1-based line of a byte offset (clamped to the text).
    pub fn line(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        1 + self.newlines.partition_point(|&newline| newline < end)
    }

    /// A syntax error from the TOML parser.
    pub fn syntax(&mut self, error: &toml::de::Error) {
        let offset = error.span().map_or(0, |s| s.start);
        let line = self.line(offset);
        let message = match error.message() {
            "duplicate key" => "duplicate key or table: each may be defined once",
            message => message,
        };
        let message = format!("invalid TOML: {}", one_line(message));
        self.problems.push(Problem {
            line,
            credential: None,
            key: None,
            message,
        });
        self.syntax_errors.push(offset);
    }

    /// Where the tables start (see [`Sink::missing`]).
    pub fn set_headers(&mut self, mut headers: Vec<usize>) {
        headers.sort_unstable();
        self.headers = headers;
    }

    /// A problem with `key` (relative to the table of `ctx`; `""`: the table
    /// itself) at byte `offset`.
    pub fn push(&mut self, ctx: &Ctx, offset: usize, key: &str, message: impl Into<String>) {
        let problem = Problem {
            line: self.line(offset),
            credential: ctx.credential.clone(),
            key: Some(format!("{}{key}", ctx.prefix)).filter(|_| !key.is_empty()),
            message: one_line(&message.into()),
        };
        self.problems.push(problem);
    }

    /// A warning about `key` at byte `offset`: the policy is valid, but
    /// probably not what was meant.
    pub fn warn(&mut self, ctx: &Ctx, offset: usize, key: &str, message: impl Into<String>) {
        self.warnings.push(Problem {
            line: self.line(offset),
            credential: ctx.credential.clone(),
            key: Some(format!("{}{key}", ctx.prefix)).filter(|_| !key.is_empty()),
            message: one_line(&message.into()),
        });
    }

    /// The warnings, each as `FILE:LINE: credential: key: message`.
    pub fn warnings(&self, file: &std::path::Path) -> Vec<String> {
        self.warnings
            .iter()
            .map(|w| format!("{}:{}: {w}", file.display(), w.line))
            .collect()
    }

    /// A required `key` is not in the table of `ctx`; silent when the key
    /// already has a problem (say, a wrong type) or the table has a syntax error.
    pub fn missing(&mut self, ctx: &Ctx, key: &str, message: &str) {
        if self.has_problem(ctx, key) || self.has_syntax_error(ctx.header) {
            return;
        }
        self.push(ctx, ctx.header, key, message);
    }

    /// Whether a syntax error lies in the table whose header is at `header`
    /// (or anywhere, when that table is not known).
    fn has_syntax_error(&self, header: usize) -> bool {
        let Some(start) = self.headers.iter().position(|&h| h == header) else {
            return !self.syntax_errors.is_empty();
        };
        let end = self.headers.get(start + 1).copied().unwrap_or(usize::MAX);
        self.syntax_errors
            .iter()
            .any(|&e| (header..end).contains(&e))
    }

    /// Whether `key` of the table of `ctx` already has a problem.
    pub fn has_problem(&self, ctx: &Ctx, key: &str) -> bool {
        self.problems.iter().any(|p| {
            p.credential == ctx.credential
                && p.key.as_deref().and_then(|k| k.strip_prefix(ctx.prefix)) == Some(key)
        })
    }

    /// Forgets every problem and warning, as if nothing had been read yet.
    pub fn reset(&mut self) {
        self.problems.clear();
        self.warnings.clear();
        self.syntax_errors.clear();
        self.headers.clear();
    }

    pub fn is_empty(&self) -> bool {
        self.problems.is_empty()
    }

    /// The problems, sorted by line (stable: same-line problems keep their order).
    /// A line with a syntax error reports only that: what the parser
    /// recovered there is not what the user wrote.
    pub fn finish(mut self, file: PathBuf) -> Problems {
        let syntax: Vec<usize> = (self.problems.iter())
            .filter(|p| p.key.is_none() && p.credential.is_none())
            .map(|p| p.line)
            .collect();
        self.problems
            .retain(|p| p.key.is_none() && p.credential.is_none() || !syntax.contains(&p.line));
        self.problems.sort_by_key(|p| p.line);
        self.problems.dedup();
        Problems {
            file,
            problems: self.problems,
        }
    }
}

/// Messages are one line each: newlines inside become spaces.
fn one_line(message: &str) -> String {
    message.trim().replace(['\n', '\r'], " ")
}
