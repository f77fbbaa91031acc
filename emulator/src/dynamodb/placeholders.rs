//! ExpressionAttributeNames and ExpressionAttributeValues: resolving `#name` and `:value`,
//! refusing reserved words used bare, and the check that every placeholder given was used.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::LazyLock;

use super::lexer::{Cursor, Token};
use super::path::{Path, Step};
use super::value::{Attr, Item, validation};
use crate::error::ApiError;

/// AWS's published list of DynamoDB reserved words (573 of them).
static RESERVED: LazyLock<HashSet<&'static str>> =
    LazyLock::new(|| include_str!("reserved_words.txt").lines().collect());

/// True when `word` may not be used bare in an expression.
pub(crate) fn is_reserved(word: &str) -> bool {
    RESERVED.contains(word.to_ascii_uppercase().as_str())
}

/// The placeholders of one request and which of them its expressions used.
#[derive(Debug, Default)]
pub(crate) struct Placeholders {
    names: BTreeMap<String, String>,
    values: Item,
    used_names: BTreeSet<String>,
    used_values: BTreeSet<String>,
}

impl Placeholders {
    /// `names` and `values` as the request gave them (`None` when absent).
    pub(crate) fn new(
        names: Option<BTreeMap<String, String>>,
        values: Option<Item>,
        has_expression: bool,
    ) -> Result<Placeholders, ApiError> {
        for (given, member) in [
            (
                names.as_ref().map(BTreeMap::len),
                "ExpressionAttributeNames",
            ),
            (
                values.as_ref().map(BTreeMap::len),
                "ExpressionAttributeValues",
            ),
        ] {
            match given {
                Some(_) if !has_expression => {
                    return Err(validation(format!(
                        "{member} can only be specified when using expressions"
                    )));
                }
                Some(0) => return Err(validation(format!("{member} must not be empty"))),
                _ => {}
            }
        }
        Ok(Placeholders {
            names: names.unwrap_or_default(),
            values: values.unwrap_or_default(),
            ..Default::default()
        })
    }

    fn name(&mut self, what: &str, token: &Token) -> Result<String, ApiError> {
        match token {
            Token::Alias(alias) => {
                let key = format!("#{alias}");
                let name = self.names.get(&key).cloned().ok_or_else(|| {
                    validation(format!(
                        "Invalid {what}: An expression attribute name used in the document path is not defined; attribute name: {key}"
                    ))
                })?;
                self.used_names.insert(key);
                Ok(name)
            }
            Token::Word(word) if is_reserved(word) => Err(validation(format!(
                "Invalid {what}: Attribute name is a reserved keyword; reserved keyword: {word}"
            ))),
            Token::Word(word) => Ok(word.clone()),
            _ => unreachable!("callers pass names only"),
        }
    }

    /// The value of `:key`.
    pub(crate) fn value(&mut self, what: &str, key: &str) -> Result<Attr, ApiError> {
        let key = format!(":{key}");
        let value = self.values.get(&key).cloned().ok_or_else(|| {
            validation(format!(
                "Invalid {what}: An expression attribute value used in expression is not defined; attribute value: {key}"
            ))
        })?;
        self.used_values.insert(key);
        Ok(value)
    }

    /// Parses a document path at the cursor: `name`, `#alias`, then `.name`/`[index]` steps.
    pub(crate) fn path(&mut self, cursor: &mut Cursor) -> Result<Path, ApiError> {
        let first = match cursor.peek() {
            Some(t @ (Token::Word(_) | Token::Alias(_))) => t.clone(),
            _ => return Err(cursor.error()),
        };
        cursor.next();
        let mut steps = vec![Step::Name(self.name(cursor.what, &first)?)];
        loop {
            if cursor.eat(".") {
                match cursor.next() {
                    Some(t @ (Token::Word(_) | Token::Alias(_))) => {
                        steps.push(Step::Name(self.name(cursor.what, &t)?));
                    }
                    _ => return Err(cursor.error()),
                }
            } else if cursor.eat("[") {
                let Some(Token::Index(digits)) = cursor.next() else {
                    return Err(cursor.error());
                };
                let index = digits.parse().map_err(|_| cursor.error())?;
                cursor.expect("]")?;
                steps.push(Step::Index(index));
            } else {
                return Ok(Path(steps));
            }
        }
    }

    /// Fails when a name or value given was used by no expression, as AWS does.
    pub(crate) fn check_all_used(&self) -> Result<(), ApiError> {
        let unused = |given: Vec<&String>, used: &BTreeSet<String>| {
            let left: Vec<&str> = given
                .into_iter()
                .filter(|k| !used.contains(*k))
                .map(String::as_str)
                .collect();
            (!left.is_empty()).then(|| left.join(", "))
        };
        if let Some(keys) = unused(self.names.keys().collect(), &self.used_names) {
            return Err(validation(format!(
                "Value provided in ExpressionAttributeNames unused in expressions: keys: {{{keys}}}"
            )));
        }
        if let Some(keys) = unused(self.values.keys().collect(), &self.used_values) {
            return Err(validation(format!(
                "Value provided in ExpressionAttributeValues unused in expressions: keys: {{{keys}}}"
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_the_reserved_words_in_any_case() {
        for word in ["owner", "NAME", "Data", "status", "key", "value", "token"] {
            assert!(is_reserved(word), "{word}");
        }
        for word in ["credential", "fence", "rvn", "lease_duration"] {
            assert!(!is_reserved(word), "{word}");
        }
    }

    #[test]
    fn resolves_and_tracks_placeholders() {
        let names = BTreeMap::from([("#o".to_string(), "owner".to_string())]);
        let values = Item::from([
            (":v".to_string(), Attr::Null),
            (":w".to_string(), Attr::Null),
        ]);
        let mut p = Placeholders::new(Some(names), Some(values), true).unwrap();
        let mut cursor = Cursor::new("ConditionExpression", "#o.x[3]").unwrap();
        let path = p.path(&mut cursor).unwrap();
        assert_eq!(path.to_string(), "[owner, x, [3]]");
        p.value("ConditionExpression", "v").unwrap();
        let err = p.check_all_used().unwrap_err();
        assert!(err.message.ends_with("keys: {:w}"), "{}", err.message);
        let err = p.value("ConditionExpression", "nope").unwrap_err();
        assert!(err.message.contains("not defined; attribute value: :nope"));
        let mut cursor = Cursor::new("ConditionExpression", "owner").unwrap();
        let err = p.path(&mut cursor).unwrap_err();
        assert!(
            err.message.contains("reserved keyword: owner"),
            "{}",
            err.message
        );
        assert!(Placeholders::new(Some(BTreeMap::new()), None, true).is_err());
        assert!(Placeholders::new(None, Some(Item::new()), false).is_err());
    }
}
