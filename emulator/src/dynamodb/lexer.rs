//! Tokens of DynamoDB's condition and update expressions, and the cursor the parsers walk them with.

use crate::error::ApiError;

use super::value::validation;

/// One token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Token {
    /// An identifier or keyword (`attribute_exists`, `AND`, a bare attribute name).
    Word(String),
    /// `#name`, an ExpressionAttributeNames placeholder.
    Alias(String),
    /// `:value`, an ExpressionAttributeValues placeholder.
    Value(String),
    /// Digits, as inside `[0]`.
    Index(String),
    /// `(`, `)`, `[`, `]`, `,`, `.`, `=`, `<>`, `<`, `<=`, `>`, `>=`, `+`, `-`.
    Punct(&'static str),
}

impl Token {
    pub(crate) fn text(&self) -> String {
        match self {
            Token::Word(w) | Token::Index(w) => w.clone(),
            Token::Alias(a) => format!("#{a}"),
            Token::Value(v) => format!(":{v}"),
            Token::Punct(p) => (*p).to_string(),
        }
    }

    /// True for this keyword, in any case (`AND`, `and`).
    pub(crate) fn is_keyword(&self, keyword: &str) -> bool {
        matches!(self, Token::Word(w) if w.eq_ignore_ascii_case(keyword))
    }
}

const PUNCTUATION: [&str; 14] = [
    "<>", "<=", ">=", "(", ")", "[", "]", ",", ".", "=", "<", ">", "+", "-",
];

fn word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Splits an expression into tokens; `what` names it in errors (`ConditionExpression`).
pub(crate) fn tokenize(what: &str, text: &str) -> Result<Vec<Token>, ApiError> {
    let mut tokens = Vec::new();
    let mut rest = text;
    loop {
        rest = rest.trim_start();
        let Some(c) = rest.chars().next() else {
            return Ok(tokens);
        };
        let taken = |s: &str, pred: fn(char) -> bool| {
            s.char_indices()
                .find(|&(_, c)| !pred(c))
                .map_or(s.len(), |(i, _)| i)
        };
        if c == '#' || c == ':' {
            let n = taken(&rest[1..], word_char);
            if n == 0 {
                return Err(syntax(what, &c.to_string(), rest));
            }
            let name = rest[1..=n].to_string();
            tokens.push(if c == '#' {
                Token::Alias(name)
            } else {
                Token::Value(name)
            });
            rest = &rest[1 + n..];
        } else if c.is_ascii_digit() {
            let n = taken(rest, |c| c.is_ascii_digit());
            tokens.push(Token::Index(rest[..n].to_string()));
            rest = &rest[n..];
        } else if word_char(c) {
            let n = taken(rest, word_char);
            tokens.push(Token::Word(rest[..n].to_string()));
            rest = &rest[n..];
        } else if let Some(p) = PUNCTUATION.iter().find(|p| rest.starts_with(**p)) {
            tokens.push(Token::Punct(p));
            rest = &rest[p.len()..];
        } else {
            return Err(validation(format!(
                "Invalid {what}: Invalid token in expression; token: \"{c}\""
            )));
        }
    }
}

/// AWS's syntax error message.
pub(crate) fn syntax(what: &str, token: &str, near: &str) -> ApiError {
    let near: String = near.chars().take(24).collect();
    validation(format!(
        "Invalid {what}: Syntax error; token: \"{token}\", near: \"{near}\""
    ))
}

/// A position in a token list.
pub(crate) struct Cursor {
    pub what: &'static str,
    tokens: Vec<Token>,
    at: usize,
}

impl Cursor {
    pub(crate) fn new(what: &'static str, text: &str) -> Result<Cursor, ApiError> {
        if text.trim().is_empty() {
            return Err(validation(format!(
                "Invalid {what}: The expression can not be empty;"
            )));
        }
        Ok(Cursor {
            what,
            tokens: tokenize(what, text)?,
            at: 0,
        })
    }

    pub(crate) fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    pub(crate) fn peek_at(&self, ahead: usize) -> Option<&Token> {
        self.tokens.get(self.at + ahead)
    }

    pub(crate) fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.at).cloned();
        self.at += usize::from(token.is_some());
        token
    }

    pub(crate) fn at_end(&self) -> bool {
        self.at >= self.tokens.len()
    }

    /// Consumes `punct` if it comes next.
    pub(crate) fn eat(&mut self, punct: &str) -> bool {
        if matches!(self.peek(), Some(Token::Punct(p)) if *p == punct) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    /// Consumes the keyword if it comes next.
    pub(crate) fn eat_keyword(&mut self, keyword: &str) -> bool {
        if self.peek().is_some_and(|t| t.is_keyword(keyword)) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    pub(crate) fn expect(&mut self, punct: &str) -> Result<(), ApiError> {
        if self.eat(punct) {
            Ok(())
        } else {
            Err(self.error())
        }
    }

    /// A syntax error at the current token (or at the end).
    pub(crate) fn error(&self) -> ApiError {
        let token = self.peek().map_or_else(|| "<EOF>".to_string(), Token::text);
        let near: Vec<String> = self.tokens
            [self.at.saturating_sub(1)..(self.at + 1).min(self.tokens.len())]
            .iter()
            .map(Token::text)
            .collect();
        syntax(self.what, &token, &near.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_placeholders_operators_and_words() {
        let tokens = tokenize("ConditionExpression", "#rvn = :v AND a[10].b <> c").unwrap();
        let texts: Vec<String> = tokens.iter().map(Token::text).collect();
        assert_eq!(
            texts,
            [
                "#rvn", "=", ":v", "AND", "a", "[", "10", "]", ".", "b", "<>", "c"
            ]
        );
        assert!(tokens[3].is_keyword("and"));
        let err = tokenize("ConditionExpression", "a = :v ; b").unwrap_err();
        assert!(err.message.contains("Invalid token"), "{}", err.message);
        assert!(tokenize("ConditionExpression", "a = :").is_err());
        assert!(Cursor::new("UpdateExpression", "  ").is_err());
    }
}
