//! UpdateExpression: `SET` (with `+`, `-`, `if_not_exists`, `list_append`), `REMOVE`, `ADD`
//! and `DELETE` clauses, parsed and applied to an item as one change.

use super::lexer::{Cursor, Token};
use super::path::Path;
use super::placeholders::Placeholders;
use super::value::{Attr, Item, validation};
use crate::error::ApiError;

const WHAT: &str = "UpdateExpression";

/// A value on the right of `SET path =`.
#[derive(Debug, Clone)]
enum Operand {
    Path(Path),
    Value(Attr),
    IfNotExists(Path, Box<Operand>),
    ListAppend(Box<Operand>, Box<Operand>),
}

#[derive(Debug, Clone)]
enum SetValue {
    One(Operand),
    Plus(Operand, Operand),
    Minus(Operand, Operand),
}

/// A parsed update.
#[derive(Debug, Clone, Default)]
pub(crate) struct Update {
    set: Vec<(Path, SetValue)>,
    remove: Vec<Path>,
    add: Vec<(Path, Attr)>,
    delete: Vec<(Path, Attr)>,
}

fn incorrect_type(operator: &str, value: &Attr) -> ApiError {
    validation(format!(
        "Invalid {WHAT}: Incorrect operand type for operator or function; operator: {operator}, operand type: {}",
        value.type_name()
    ))
}

/// Parses `text`, resolving placeholders through `p`.
pub(crate) fn parse(text: &str, p: &mut Placeholders) -> Result<Update, ApiError> {
    let mut c = Cursor::new(WHAT, text)?;
    let mut update = Update::default();
    let mut seen: Vec<String> = Vec::new();
    while !c.at_end() {
        let Some(Token::Word(clause)) = c.peek().cloned() else {
            return Err(c.error());
        };
        let clause = clause.to_ascii_uppercase();
        if !matches!(clause.as_str(), "SET" | "REMOVE" | "ADD" | "DELETE") {
            return Err(c.error());
        }
        if seen.contains(&clause) {
            return Err(validation(format!(
                "Invalid {WHAT}: The \"{clause}\" section can only be used once in an update expression;"
            )));
        }
        seen.push(clause.clone());
        c.next();
        loop {
            let path = p.path(&mut c)?;
            match clause.as_str() {
                "SET" => {
                    c.expect("=")?;
                    let first = operand(&mut c, p)?;
                    let value = if c.eat("+") {
                        SetValue::Plus(first, operand(&mut c, p)?)
                    } else if c.eat("-") {
                        SetValue::Minus(first, operand(&mut c, p)?)
                    } else {
                        SetValue::One(first)
                    };
                    update.set.push((path, value));
                }
                "REMOVE" => update.remove.push(path),
                _ => {
                    let Some(Token::Value(key)) = c.next() else {
                        return Err(c.error());
                    };
                    let value = p.value(WHAT, &key)?;
                    if clause == "ADD" {
                        if !matches!(value, Attr::N(_) | Attr::Ss(_) | Attr::Ns(_) | Attr::Bs(_)) {
                            return Err(incorrect_type("ADD", &value));
                        }
                        update.add.push((path, value));
                    } else {
                        if !matches!(value, Attr::Ss(_) | Attr::Ns(_) | Attr::Bs(_)) {
                            return Err(incorrect_type("DELETE", &value));
                        }
                        update.delete.push((path, value));
                    }
                }
            }
            if !c.eat(",") {
                break;
            }
        }
    }
    update.check_overlaps()?;
    Ok(update)
}

fn operand(c: &mut Cursor, p: &mut Placeholders) -> Result<Operand, ApiError> {
    match (c.peek().cloned(), c.peek_at(1)) {
        (Some(Token::Value(key)), _) => {
            c.next();
            Ok(Operand::Value(p.value(WHAT, &key)?))
        }
        (Some(Token::Word(f)), Some(Token::Punct("("))) => {
            c.next();
            c.next();
            let result = match f.as_str() {
                "if_not_exists" => {
                    let path = p.path(c)?;
                    c.expect(",")?;
                    Operand::IfNotExists(path, Box::new(operand(c, p)?))
                }
                "list_append" => {
                    let a = operand(c, p)?;
                    c.expect(",")?;
                    Operand::ListAppend(Box::new(a), Box::new(operand(c, p)?))
                }
                other => {
                    return Err(validation(format!(
                        "Invalid {WHAT}: Invalid function name; function: {other}"
                    )));
                }
            };
            c.expect(")")?;
            Ok(result)
        }
        (Some(Token::Word(_) | Token::Alias(_)), _) => Ok(Operand::Path(p.path(c)?)),
        _ => Err(c.error()),
    }
}

fn missing_attribute() -> ApiError {
    validation("The provided expression refers to an attribute that does not exist in the item")
}

fn eval(operand: &Operand, old: &Item) -> Result<Attr, ApiError> {
    match operand {
        Operand::Path(path) => path.get(old).cloned().ok_or_else(missing_attribute),
        Operand::Value(v) => Ok(v.clone()),
        Operand::IfNotExists(path, fallback) => match path.get(old) {
            Some(v) => Ok(v.clone()),
            None => eval(fallback, old),
        },
        Operand::ListAppend(a, b) => match (eval(a, old)?, eval(b, old)?) {
            (Attr::L(mut a), Attr::L(b)) => {
                a.extend(b);
                Ok(Attr::L(a))
            }
            (Attr::L(_), other) | (other, _) => Err(incorrect_type("list_append", &other)),
        },
    }
}

fn arithmetic(a: Attr, b: Attr, minus: bool) -> Result<Attr, ApiError> {
    let symbol = if minus { "-" } else { "+" };
    match (a, b) {
        (Attr::N(a), Attr::N(b)) => Ok(Attr::N(a.add(if minus { b.negate() } else { b })?)),
        (Attr::N(_), other) | (other, _) => Err(incorrect_type(symbol, &other)),
    }
}

/// Members of `b` appended to `a` when missing (ADD), or removed from it (DELETE); `None`
/// when the result is empty.
fn combine_sets(a: Attr, b: &Attr, add: bool, operator: &str) -> Result<Option<Attr>, ApiError> {
    fn merge<T: Clone + PartialEq>(mut a: Vec<T>, b: &[T], add: bool) -> Vec<T> {
        if add {
            b.iter().for_each(|x| {
                if !a.contains(x) {
                    a.push(x.clone());
                }
            });
        } else {
            a.retain(|x| !b.contains(x));
        }
        a
    }
    let out = match (a, b) {
        (Attr::Ss(a), Attr::Ss(b)) => Attr::Ss(merge(a, b, add)),
        (Attr::Bs(a), Attr::Bs(b)) => Attr::Bs(merge(a, b, add)),
        (Attr::Ns(a), Attr::Ns(b)) => Attr::Ns(merge(a, b, add)),
        (other, _) => return Err(incorrect_type(operator, &other)),
    };
    let empty = match &out {
        Attr::Ss(s) | Attr::Bs(s) => s.is_empty(),
        Attr::Ns(n) => n.is_empty(),
        _ => false,
    };
    Ok((!empty).then_some(out))
}

impl Update {
    /// Every path the update writes or removes.
    pub(crate) fn paths(&self) -> impl Iterator<Item = &Path> {
        self.set
            .iter()
            .map(|(p, _)| p)
            .chain(&self.remove)
            .chain(self.add.iter().map(|(p, _)| p))
            .chain(self.delete.iter().map(|(p, _)| p))
    }

    fn check_overlaps(&self) -> Result<(), ApiError> {
        let paths: Vec<&Path> = self.paths().collect();
        for (i, a) in paths.iter().enumerate() {
            if let Some(b) = paths[i + 1..].iter().find(|b| a.overlaps(b)) {
                return Err(validation(format!(
                    "Invalid {WHAT}: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: {a}, path two: {b}"
                )));
            }
        }
        Ok(())
    }

    /// The item after the update; every right-hand side reads the item as it was before.
    pub(crate) fn apply(&self, old: &Item) -> Result<Item, ApiError> {
        let mut new = old.clone();
        let mut values = Vec::new();
        for (path, value) in &self.set {
            let v = match value {
                SetValue::One(o) => eval(o, old)?,
                SetValue::Plus(a, b) => arithmetic(eval(a, old)?, eval(b, old)?, false)?,
                SetValue::Minus(a, b) => arithmetic(eval(a, old)?, eval(b, old)?, true)?,
            };
            values.push((path, v));
        }
        for (path, v) in values {
            path.set(&mut new, v)?;
        }
        for path in &self.remove {
            path.remove(&mut new)?;
        }
        for (path, value) in &self.add {
            let result = match (path.get(old).cloned(), value) {
                (None, v) => Some(v.clone()),
                (Some(Attr::N(a)), Attr::N(b)) => Some(Attr::N(a.add(*b)?)),
                (Some(current), v) => combine_sets(current, v, true, "ADD")?,
            };
            if let Some(v) = result {
                path.set(&mut new, v)?;
            }
        }
        for (path, value) in &self.delete {
            if let Some(current) = path.get(old).cloned() {
                match combine_sets(current, value, false, "DELETE")? {
                    Some(v) => path.set(&mut new, v)?,
                    None => path.remove(&mut new)?,
                }
            }
        }
        Ok(new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dynamodb::value::{item_from_json, item_to_json};
    use serde_json::{Value, json};
    use std::collections::BTreeMap;

    fn run(expr: &str, names: Value, values: Value, item: Value) -> Result<Value, ApiError> {
        let names: Option<BTreeMap<String, String>> = serde_json::from_value(names).unwrap();
        let values = match values {
            Value::Null => None,
            v => Some(item_from_json(&v).unwrap()),
        };
        let mut p = Placeholders::new(names, values, true)?;
        let update = parse(expr, &mut p)?;
        p.check_all_used()?;
        Ok(item_to_json(
            &update.apply(&item_from_json(&item).unwrap())?,
        ))
    }

    #[test]
    fn the_lock_client_heartbeat() {
        let item = json!({"credential": {"S": "bot"}, "rvn": {"S": "r1"}, "fence": {"N": "7"}, "ld": {"N": "30000"}});
        let out = run(
            "SET #ld = :ld, #rvn = :new, #fence = #fence + :one",
            json!({"#ld": "ld", "#rvn": "rvn", "#fence": "fence"}),
            json!({":ld": {"N": "20000"}, ":new": {"S": "r2"}, ":one": {"N": "1"}}),
            item,
        )
        .unwrap();
        assert_eq!(
            out,
            json!({"credential": {"S": "bot"}, "rvn": {"S": "r2"}, "fence": {"N": "8"}, "ld": {"N": "20000"}})
        );
    }

    #[test]
    fn set_functions_remove_add_delete() {
        let item = json!({"a": {"N": "5"}, "l": {"L": [{"N": "1"}]}, "s": {"SS": ["x", "y"]}, "gone": {"S": "g"}});
        let out = run(
            "set c = if_not_exists(c, :z), a = a - :one, l = list_append(l, :l) remove gone ADD n :one, s :t DELETE s2 :t",
            Value::Null,
            json!({":z": {"N": "0"}, ":one": {"N": "1"}, ":l": {"L": [{"N": "2"}]}, ":t": {"SS": ["z"]}}),
            item,
        )
        .unwrap();
        assert_eq!(
            out,
            json!({"a": {"N": "4"}, "c": {"N": "0"}, "l": {"L": [{"N": "1"}, {"N": "2"}]}, "n": {"N": "1"}, "s": {"SS": ["x", "y", "z"]}})
        );
        let out = run(
            "DELETE s :t",
            Value::Null,
            json!({":t": {"SS": ["x", "y"]}}),
            json!({"s": {"SS": ["x", "y"]}}),
        )
        .unwrap();
        assert_eq!(out, json!({}));
    }

    #[test]
    fn refuses_what_aws_refuses() {
        let item = json!({"a": {"S": "text"}});
        let one = json!({":one": {"N": "1"}});
        for (expr, values, fragment) in [
            ("SET a = a + :one", one.clone(), "operand type: S"),
            (
                "SET b = b + :one",
                one.clone(),
                "does not exist in the item",
            ),
            (
                "SET a = :one, a = :one",
                one.clone(),
                "Two document paths overlap",
            ),
            (
                "SET a = :one REMOVE a",
                one.clone(),
                "Two document paths overlap",
            ),
            (
                "SET a = :one SET b = :one",
                one.clone(),
                "can only be used once",
            ),
            ("SET a :one", one.clone(), "Syntax error"),
            ("UPSERT a = :one", one.clone(), "Syntax error"),
            ("SET status = :one", one.clone(), "reserved keyword: status"),
            (
                "ADD a :s",
                json!({":s": {"S": "x"}}),
                "operator: ADD, operand type: S",
            ),
            ("REMOVE a", one, "unused in expressions: keys: {:one}"),
        ] {
            let err = run(expr, Value::Null, values, item.clone()).unwrap_err();
            assert!(err.message.contains(fragment), "{expr}: {}", err.message);
        }
    }
}
