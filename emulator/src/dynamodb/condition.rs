//! ConditionExpression: parsing (comparisons, BETWEEN, IN, the functions, AND/OR/NOT,
//! parentheses) and evaluating against an item, or against no item at all.

use std::cmp::Ordering;

use super::lexer::{Cursor, Token};
use super::number::Number;
use super::path::Path;
use super::placeholders::Placeholders;
use super::value::{Attr, Item, bytes, validation};
use crate::error::ApiError;

const WHAT: &str = "ConditionExpression";

/// What a comparison, function argument or BETWEEN bound refers to.
#[derive(Debug, Clone)]
pub(crate) enum Operand {
    Path(Path),
    Value(Attr),
    Size(Path),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Comparator {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// A parsed condition.
#[derive(Debug, Clone)]
pub(crate) enum Condition {
    Or(Box<Condition>, Box<Condition>),
    And(Box<Condition>, Box<Condition>),
    Not(Box<Condition>),
    Compare(Operand, Comparator, Operand),
    Between(Operand, Operand, Operand),
    In(Operand, Vec<Operand>),
    Exists(Path),
    NotExists(Path),
    Type(Path, Attr),
    BeginsWith(Operand, Operand),
    Contains(Operand, Operand),
}

fn operand_type_error(function: &str, value: &Attr) -> ApiError {
    validation(format!(
        "Invalid {WHAT}: Incorrect operand type for operator or function; operator or function: {function}, operand type: {}",
        value.type_name()
    ))
}

/// Parses `text`, resolving placeholders through `p`.
pub(crate) fn parse(text: &str, p: &mut Placeholders) -> Result<Condition, ApiError> {
    let mut cursor = Cursor::new(WHAT, text)?;
    let condition = or(&mut cursor, p)?;
    if !cursor.at_end() {
        return Err(cursor.error());
    }
    Ok(condition)
}

fn or(c: &mut Cursor, p: &mut Placeholders) -> Result<Condition, ApiError> {
    let mut left = and(c, p)?;
    while c.eat_keyword("OR") {
        left = Condition::Or(Box::new(left), Box::new(and(c, p)?));
    }
    Ok(left)
}

fn and(c: &mut Cursor, p: &mut Placeholders) -> Result<Condition, ApiError> {
    let mut left = not(c, p)?;
    while c.eat_keyword("AND") {
        left = Condition::And(Box::new(left), Box::new(not(c, p)?));
    }
    Ok(left)
}

fn not(c: &mut Cursor, p: &mut Placeholders) -> Result<Condition, ApiError> {
    if c.eat_keyword("NOT") {
        return Ok(Condition::Not(Box::new(not(c, p)?)));
    }
    primary(c, p)
}

fn primary(c: &mut Cursor, p: &mut Placeholders) -> Result<Condition, ApiError> {
    if c.eat("(") {
        let inner = or(c, p)?;
        c.expect(")")?;
        return Ok(inner);
    }
    let function = match (c.peek(), c.peek_at(1)) {
        (Some(Token::Word(w)), Some(Token::Punct("("))) => Some(w.clone()),
        _ => None,
    };
    if let Some(name) = function.filter(|f| f != "size") {
        c.next();
        c.next();
        let condition = match name.as_str() {
            "attribute_exists" => Condition::Exists(p.path(c)?),
            "attribute_not_exists" => Condition::NotExists(p.path(c)?),
            "attribute_type" => {
                let path = p.path(c)?;
                c.expect(",")?;
                let value = match operand(c, p)? {
                    Operand::Value(Attr::S(t)) => t,
                    Operand::Value(other) => {
                        return Err(operand_type_error("attribute_type", &other));
                    }
                    _ => return Err(c.error()),
                };
                Condition::Type(path, Attr::S(value))
            }
            "begins_with" | "contains" => {
                let left = operand(c, p)?;
                c.expect(",")?;
                let right = operand(c, p)?;
                if name == "begins_with" {
                    if let Operand::Value(v) = &right
                        && !matches!(v, Attr::S(_) | Attr::B(_))
                    {
                        return Err(operand_type_error("begins_with", v));
                    }
                    Condition::BeginsWith(left, right)
                } else {
                    Condition::Contains(left, right)
                }
            }
            other => {
                return Err(validation(format!(
                    "Invalid {WHAT}: Invalid function name; function: {other}"
                )));
            }
        };
        c.expect(")")?;
        return Ok(condition);
    }
    let left = operand(c, p)?;
    if c.eat_keyword("BETWEEN") {
        let low = operand(c, p)?;
        if !c.eat_keyword("AND") {
            return Err(c.error());
        }
        let high = operand(c, p)?;
        for bound in [&low, &high] {
            if let Operand::Value(v) = bound
                && !v.is_ordered()
            {
                return Err(operand_type_error("BETWEEN", v));
            }
        }
        return Ok(Condition::Between(left, low, high));
    }
    if c.eat_keyword("IN") {
        c.expect("(")?;
        let mut list = vec![operand(c, p)?];
        while c.eat(",") {
            list.push(operand(c, p)?);
        }
        c.expect(")")?;
        return Ok(Condition::In(left, list));
    }
    let comparator = match c.peek() {
        Some(Token::Punct("=")) => Comparator::Eq,
        Some(Token::Punct("<>")) => Comparator::Ne,
        Some(Token::Punct("<")) => Comparator::Lt,
        Some(Token::Punct("<=")) => Comparator::Le,
        Some(Token::Punct(">")) => Comparator::Gt,
        Some(Token::Punct(">=")) => Comparator::Ge,
        _ => return Err(c.error()),
    };
    c.next();
    let right = operand(c, p)?;
    if !matches!(comparator, Comparator::Eq | Comparator::Ne) {
        for side in [&left, &right] {
            if let Operand::Value(v) = side
                && !v.is_ordered()
            {
                let symbol = match comparator {
                    Comparator::Lt => "<",
                    Comparator::Le => "<=",
                    Comparator::Gt => ">",
                    _ => ">=",
                };
                return Err(operand_type_error(symbol, v));
            }
        }
    }
    Ok(Condition::Compare(left, comparator, right))
}

fn operand(c: &mut Cursor, p: &mut Placeholders) -> Result<Operand, ApiError> {
    match c.peek().cloned() {
        Some(Token::Value(key)) => {
            c.next();
            Ok(Operand::Value(p.value(WHAT, &key)?))
        }
        Some(Token::Word(w)) if w == "size" && c.peek_at(1) == Some(&Token::Punct("(")) => {
            c.next();
            c.next();
            let path = p.path(c)?;
            c.expect(")")?;
            Ok(Operand::Size(path))
        }
        Some(Token::Word(_) | Token::Alias(_)) => Ok(Operand::Path(p.path(c)?)),
        _ => Err(c.error()),
    }
}

fn resolve(operand: &Operand, item: &Item) -> Option<Attr> {
    match operand {
        Operand::Path(path) => path.get(item).cloned(),
        Operand::Value(v) => Some(v.clone()),
        Operand::Size(path) => {
            let n = match path.get(item)? {
                Attr::S(s) => s.len(),
                Attr::B(b) => bytes(b).len(),
                Attr::L(l) => l.len(),
                Attr::M(m) => m.len(),
                Attr::Ss(s) | Attr::Bs(s) => s.len(),
                Attr::Ns(n) => n.len(),
                _ => return None,
            };
            Number::parse(&n.to_string()).ok().map(Attr::N)
        }
    }
}

fn ordered(a: &Option<Attr>, b: &Option<Attr>) -> Option<Ordering> {
    match (a, b) {
        (Some(a), Some(b)) => a.order(b),
        _ => None,
    }
}

impl Condition {
    /// Evaluates against `item` (an empty item when there is none).
    pub(crate) fn holds(&self, item: &Item) -> bool {
        match self {
            Condition::Or(a, b) => a.holds(item) || b.holds(item),
            Condition::And(a, b) => a.holds(item) && b.holds(item),
            Condition::Not(a) => !a.holds(item),
            Condition::Exists(path) => path.get(item).is_some(),
            Condition::NotExists(path) => path.get(item).is_none(),
            Condition::Type(path, Attr::S(t)) => path.get(item).is_some_and(|v| v.type_name() == t),
            Condition::Type(..) => false,
            Condition::Compare(l, op, r) => {
                let (l, r) = (resolve(l, item), resolve(r, item));
                match op {
                    Comparator::Eq => matches!((&l, &r), (Some(a), Some(b)) if a.same(b)),
                    // A missing side is unequal to anything.
                    Comparator::Ne => !matches!((&l, &r), (Some(a), Some(b)) if a.same(b)),
                    Comparator::Lt => ordered(&l, &r) == Some(Ordering::Less),
                    Comparator::Le => ordered(&l, &r).is_some_and(|o| o != Ordering::Greater),
                    Comparator::Gt => ordered(&l, &r) == Some(Ordering::Greater),
                    Comparator::Ge => ordered(&l, &r).is_some_and(|o| o != Ordering::Less),
                }
            }
            Condition::Between(v, low, high) => {
                let v = resolve(v, item);
                ordered(&v, &resolve(low, item)).is_some_and(|o| o != Ordering::Less)
                    && ordered(&v, &resolve(high, item)).is_some_and(|o| o != Ordering::Greater)
            }
            Condition::In(v, list) => resolve(v, item).is_some_and(|v| {
                list.iter()
                    .any(|o| resolve(o, item).is_some_and(|w| v.same(&w)))
            }),
            Condition::BeginsWith(v, prefix) => match (resolve(v, item), resolve(prefix, item)) {
                (Some(Attr::S(s)), Some(Attr::S(p))) => s.starts_with(&p),
                (Some(Attr::B(s)), Some(Attr::B(p))) => s.starts_with(&p),
                _ => false,
            },
            Condition::Contains(v, needle) => match (resolve(v, item), resolve(needle, item)) {
                (Some(Attr::S(s)), Some(Attr::S(n))) => s.contains(&n),
                (Some(Attr::Ss(set)), Some(Attr::S(n))) => set.contains(&n),
                (Some(Attr::Bs(set)), Some(Attr::B(n))) => set.contains(&n),
                (Some(Attr::Ns(set)), Some(Attr::N(n))) => set.contains(&n),
                (Some(Attr::L(list)), Some(n)) => list.iter().any(|x| x.same(&n)),
                _ => false,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dynamodb::value::item_from_json;
    use serde_json::{Value, json};
    use std::collections::BTreeMap;

    fn check(expr: &str, names: Value, values: Value, item: Value) -> Result<bool, ApiError> {
        let names: Option<BTreeMap<String, String>> = serde_json::from_value(names).unwrap();
        let values = match values {
            Value::Null => None,
            v => Some(item_from_json(&v).unwrap()),
        };
        let mut p = Placeholders::new(names, values, true)?;
        let condition = parse(expr, &mut p)?;
        p.check_all_used()?;
        Ok(condition.holds(&item_from_json(&item).unwrap()))
    }

    fn lease() -> Value {
        json!({"credential": {"S": "bot"}, "owner": {"S": "a"}, "rvn": {"S": "r1"}, "fence": {"N": "7"}})
    }

    #[test]
    fn the_lock_client_conditions() {
        let none = json!({});
        let names = json!({"#pk": "credential"});
        assert!(
            check(
                "attribute_not_exists(#pk)",
                names.clone(),
                Value::Null,
                none.clone()
            )
            .unwrap()
        );
        assert!(
            !check(
                "attribute_not_exists(#pk)",
                names.clone(),
                Value::Null,
                lease()
            )
            .unwrap()
        );
        let takeover = "attribute_exists(#pk) AND #rvn = :observed";
        let names = json!({"#pk": "credential", "#rvn": "rvn"});
        let r1 = json!({":observed": {"S": "r1"}});
        let r2 = json!({":observed": {"S": "r2"}});
        assert!(check(takeover, names.clone(), r1.clone(), lease()).unwrap());
        assert!(!check(takeover, names.clone(), r2, lease()).unwrap());
        assert!(!check(takeover, names, r1, none).unwrap());
        let heartbeat = "#rvn = :rvn AND #owner = :me";
        let names = json!({"#rvn": "rvn", "#owner": "owner"});
        let me = json!({":rvn": {"S": "r1"}, ":me": {"S": "a"}});
        let other = json!({":rvn": {"S": "r1"}, ":me": {"S": "b"}});
        assert!(check(heartbeat, names.clone(), me, lease()).unwrap());
        assert!(!check(heartbeat, names, other, lease()).unwrap());
    }

    #[test]
    fn precedence_parentheses_and_comparisons() {
        let v = json!({":a": {"S": "a"}, ":x": {"S": "x"}, ":five": {"N": "5"}});
        let item = lease();
        let n = json!({"#o": "owner", "#f": "fence"});
        // NOT binds tighter than AND, AND tighter than OR.
        assert!(
            check(
                "#o = :x OR #o = :a AND #f > :five",
                n.clone(),
                v.clone(),
                item.clone()
            )
            .unwrap()
        );
        assert!(
            !check(
                "(#o = :x OR #o = :a) AND #f < :five",
                n.clone(),
                v.clone(),
                item.clone()
            )
            .unwrap()
        );
        assert!(
            check(
                "NOT #o = :x AND #f >= :five AND #o = :a",
                n.clone(),
                v.clone(),
                item.clone()
            )
            .unwrap()
        );
        assert!(
            check(
                "#f BETWEEN :five AND :five OR #o IN (:x, :a)",
                n,
                v.clone(),
                item.clone()
            )
            .unwrap()
        );
        // A missing attribute: unequal to everything, never ordered.
        let n2 = json!({"#m": "missing"});
        let v2 = json!({":x": {"S": "x"}});
        assert!(check("#m <> :x", n2.clone(), v2.clone(), item.clone()).unwrap());
        assert!(!check("#m = :x", n2.clone(), v2.clone(), item.clone()).unwrap());
        assert!(!check("#m < :x", n2.clone(), v2.clone(), item.clone()).unwrap());
        assert!(!check("#m >= :x", n2, v2, item.clone()).unwrap());
        let v3 = json!({":p": {"S": "b"}, ":t": {"S": "N"}, ":two": {"N": "2"}});
        assert!(check("begins_with(credential, :p) AND attribute_type(fence, :t) AND size(credential) > :two", Value::Null, v3, item).unwrap());
    }

    #[test]
    fn refuses_what_aws_refuses() {
        let item = lease();
        let v = json!({":v": {"S": "a"}});
        for (expr, names, values, fragment) in [
            (
                "owner = :v",
                Value::Null,
                v.clone(),
                "reserved keyword: owner",
            ),
            ("#o = :v", Value::Null, v.clone(), "attribute name: #o"),
            ("rvn = :w", Value::Null, v.clone(), "attribute value: :w"),
            (
                "rvn = :v AND",
                Value::Null,
                v.clone(),
                "Syntax error; token: \"<EOF>\"",
            ),
            ("rvn = = :v", Value::Null, v.clone(), "Syntax error"),
            ("(rvn = :v", Value::Null, v.clone(), "Syntax error"),
            (
                "rvn = :v",
                json!({"#x": "y"}),
                v.clone(),
                "unused in expressions: keys: {#x}",
            ),
            (
                "attribute_exists(rvn)",
                Value::Null,
                v.clone(),
                "unused in expressions: keys: {:v}",
            ),
            (
                "no_such(rvn)",
                Value::Null,
                Value::Null,
                "Invalid function name",
            ),
            (
                "rvn < :b",
                Value::Null,
                json!({":b": {"BOOL": true}}),
                "operand type: BOOL",
            ),
        ] {
            let err = check(expr, names, values, item.clone()).unwrap_err();
            assert_eq!(err.code, "ValidationException");
            assert!(err.message.contains(fragment), "{expr}: {}", err.message);
        }
    }
}
