//! DynamoDB's `AttributeValue`: parsing its JSON wire form, writing it back, comparing values.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use serde_json::{Map, Value, json};

use super::number::Number;
use crate::error::ApiError;

/// One attribute value. Sets keep their members in the order given (AWS does not promise one).
#[derive(Debug, Clone)]
pub(crate) enum Attr {
    S(String),
    N(Number),
    /// Base64 text, as on the wire.
    B(String),
    Bool(bool),
    Null,
    M(BTreeMap<String, Attr>),
    L(Vec<Attr>),
    Ss(Vec<String>),
    Ns(Vec<Number>),
    Bs(Vec<String>),
}

/// An item: attribute name to value.
pub(crate) type Item = BTreeMap<String, Attr>;

pub(crate) fn validation(message: impl Into<String>) -> ApiError {
    ApiError::new(400, "ValidationException", message)
}

fn invalid(message: &str) -> ApiError {
    validation(format!(
        "One or more parameter values were invalid: {message}"
    ))
}

fn set_of<T>(
    members: &Value,
    kind: &str,
    mut each: impl FnMut(&Value) -> Option<T>,
) -> Result<Vec<T>, ApiError> {
    let list = members
        .as_array()
        .ok_or_else(|| serialization(&format!("{kind} must be a list")))?;
    if list.is_empty() {
        return Err(invalid(&format!("An {kind} may not be empty")));
    }
    let mut seen = Vec::new();
    let mut out = Vec::new();
    for member in list {
        if seen.contains(member) {
            return Err(invalid(&format!(
                "Input collection {list:?} contains duplicates."
            )));
        }
        seen.push(member.clone());
        out.push(each(member).ok_or_else(|| serialization(&format!("bad member of {kind}")))?);
    }
    Ok(out)
}

/// The bytes of a binary value (its base64 text was checked when it was parsed).
pub(crate) fn bytes(base64: &str) -> Vec<u8> {
    STANDARD.decode(base64).unwrap_or_default()
}

fn base64_text(text: String) -> Result<String, ApiError> {
    match STANDARD.decode(&text) {
        Ok(_) => Ok(text),
        Err(_) => Err(serialization("a binary value is not valid base64")),
    }
}

pub(crate) fn serialization(message: &str) -> ApiError {
    ApiError::new(400, "SerializationException", message.to_string())
}

impl Attr {
    /// Parses `{"S": "x"}`, `{"N": "1"}`, `{"M": {...}}`, ...: exactly one member set.
    pub(crate) fn from_json(value: &Value) -> Result<Attr, ApiError> {
        let object = value
            .as_object()
            .ok_or_else(|| serialization("an AttributeValue must be an object"))?;
        if object.len() != 1 {
            return Err(validation(
                "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes",
            ));
        }
        let (kind, inner) = object.iter().next().expect("one member");
        let text = || {
            inner
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| serialization(&format!("{kind} must be a string")))
        };
        Ok(match kind.as_str() {
            "S" => Attr::S(text()?),
            "N" => Attr::N(Number::parse(&text()?)?),
            "B" => Attr::B(base64_text(text()?)?),
            "BOOL" => Attr::Bool(
                inner
                    .as_bool()
                    .ok_or_else(|| serialization("BOOL must be a boolean"))?,
            ),
            "NULL" => {
                if inner.as_bool() != Some(true) {
                    return Err(invalid(
                        "Null attribute value types must have the value of true",
                    ));
                }
                Attr::Null
            }
            "M" => Attr::M(item_from_json(inner)?),
            "L" => Attr::L(
                inner
                    .as_array()
                    .ok_or_else(|| serialization("L must be a list"))?
                    .iter()
                    .map(Attr::from_json)
                    .collect::<Result<_, _>>()?,
            ),
            "SS" => Attr::Ss(set_of(inner, "string set", |v| {
                v.as_str().map(str::to_owned)
            })?),
            "BS" => Attr::Bs(set_of(inner, "binary set", |v| {
                v.as_str().map(str::to_owned)
            })?),
            "NS" => {
                let texts = set_of(inner, "number set", |v| v.as_str().map(str::to_owned))?;
                let numbers = texts
                    .iter()
                    .map(|t| Number::parse(t))
                    .collect::<Result<Vec<_>, _>>()?;
                for (i, n) in numbers.iter().enumerate() {
                    if numbers[..i].iter().any(|m| m == n) {
                        return Err(invalid(&format!(
                            "Input collection {texts:?} contains duplicates."
                        )));
                    }
                }
                Attr::Ns(numbers)
            }
            other => {
                return Err(validation(format!(
                    "Supplied AttributeValue has an unsupported datatype {other}"
                )));
            }
        })
    }

    /// The wire form.
    pub(crate) fn to_json(&self) -> Value {
        match self {
            Attr::S(s) => json!({"S": s}),
            Attr::N(n) => json!({"N": n.to_string()}),
            Attr::B(b) => json!({"B": b}),
            Attr::Bool(b) => json!({"BOOL": b}),
            Attr::Null => json!({"NULL": true}),
            Attr::M(m) => json!({"M": item_to_json(m)}),
            Attr::L(l) => json!({"L": l.iter().map(Attr::to_json).collect::<Vec<_>>()}),
            Attr::Ss(s) => json!({"SS": s}),
            Attr::Ns(n) => json!({"NS": n.iter().map(Number::to_string).collect::<Vec<_>>()}),
            Attr::Bs(b) => json!({"BS": b}),
        }
    }

    /// The type descriptor (`S`, `N`, `BOOL`, ...).
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Attr::S(_) => "S",
            Attr::N(_) => "N",
            Attr::B(_) => "B",
            Attr::Bool(_) => "BOOL",
            Attr::Null => "NULL",
            Attr::M(_) => "M",
            Attr::L(_) => "L",
            Attr::Ss(_) => "SS",
            Attr::Ns(_) => "NS",
            Attr::Bs(_) => "BS",
        }
    }

    /// Equality as conditions see it: numbers by value, sets regardless of order.
    pub(crate) fn same(&self, other: &Attr) -> bool {
        fn same_set<T: PartialEq>(a: &[T], b: &[T]) -> bool {
            a.len() == b.len() && a.iter().all(|x| b.contains(x))
        }
        match (self, other) {
            (Attr::S(a), Attr::S(b)) | (Attr::B(a), Attr::B(b)) => a == b,
            (Attr::N(a), Attr::N(b)) => a == b,
            (Attr::Bool(a), Attr::Bool(b)) => a == b,
            (Attr::Null, Attr::Null) => true,
            (Attr::M(a), Attr::M(b)) => {
                a.len() == b.len() && a.iter().all(|(k, v)| b.get(k).is_some_and(|w| v.same(w)))
            }
            (Attr::L(a), Attr::L(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.same(y))
            }
            (Attr::Ss(a), Attr::Ss(b)) | (Attr::Bs(a), Attr::Bs(b)) => same_set(a, b),
            (Attr::Ns(a), Attr::Ns(b)) => same_set(a, b),
            _ => false,
        }
    }

    /// Order for `<`, `<=`, `>`, `>=`: only between two numbers, two strings or two binaries.
    pub(crate) fn order(&self, other: &Attr) -> Option<Ordering> {
        match (self, other) {
            (Attr::S(a), Attr::S(b)) => Some(a.as_bytes().cmp(b.as_bytes())),
            (Attr::N(a), Attr::N(b)) => a.partial_cmp(b),
            (Attr::B(a), Attr::B(b)) => Some(bytes(a).cmp(&bytes(b))),
            _ => None,
        }
    }

    /// True for the types `<` and friends accept.
    pub(crate) fn is_ordered(&self) -> bool {
        matches!(self, Attr::S(_) | Attr::N(_) | Attr::B(_))
    }

    /// An approximation of the stored size in bytes (names plus values), for the 400 KB limit.
    pub(crate) fn size(&self) -> usize {
        match self {
            Attr::S(s) => s.len(),
            Attr::B(b) => bytes(b).len(),
            Attr::N(n) => n.to_string().len(),
            Attr::Bool(_) | Attr::Null => 1,
            Attr::M(m) => 3 + m.iter().map(|(k, v)| k.len() + v.size() + 1).sum::<usize>(),
            Attr::L(l) => 3 + l.iter().map(|v| v.size() + 1).sum::<usize>(),
            Attr::Ss(s) | Attr::Bs(s) => s.iter().map(String::len).sum(),
            Attr::Ns(n) => n.iter().map(|x| x.to_string().len()).sum(),
        }
    }
}

/// Parses an attribute map (`Item`, `Key`, `ExpressionAttributeValues`, `M`).
pub(crate) fn item_from_json(value: &Value) -> Result<Item, ApiError> {
    let object = value
        .as_object()
        .ok_or_else(|| serialization("an attribute map must be an object"))?;
    object
        .iter()
        .map(|(k, v)| Ok((k.clone(), Attr::from_json(v)?)))
        .collect()
}

/// The wire form of an attribute map.
pub(crate) fn item_to_json(item: &Item) -> Value {
    Value::Object(
        item.iter()
            .map(|(k, v)| (k.clone(), v.to_json()))
            .collect::<Map<String, Value>>(),
    )
}

/// The stored size of an item, as the 400 KB limit counts it (approximately).
pub(crate) fn item_size(item: &Item) -> usize {
    item.iter().map(|(k, v)| k.len() + v.size()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(v: Value) -> Attr {
        Attr::from_json(&v).unwrap()
    }

    #[test]
    fn round_trips_every_type() {
        let wire = json!({
            "s": {"S": "x"}, "n": {"N": "42"}, "b": {"B": "AQI="}, "t": {"BOOL": true},
            "z": {"NULL": true}, "m": {"M": {"a": {"S": "y"}}}, "l": {"L": [{"N": "1"}, {"S": "2"}]},
            "ss": {"SS": ["a", "b"]}, "ns": {"NS": ["1", "2.5"]}, "bs": {"BS": ["AQ=="]}
        });
        let item = item_from_json(&wire).unwrap();
        assert_eq!(item_to_json(&item), wire);
    }

    #[test]
    fn refuses_malformed_values() {
        for bad in [
            json!({"S": "a", "N": "1"}),
            json!({}),
            json!({"N": "one"}),
            json!({"NULL": false}),
            json!({"SS": []}),
            json!({"SS": ["a", "a"]}),
            json!({"NS": ["1", "1.0"]}),
            json!({"X": "1"}),
            json!({"B": "not base64!"}),
            json!({"S": 5}),
        ] {
            assert!(Attr::from_json(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn compares_numbers_by_value_and_sets_by_members() {
        assert!(attr(json!({"N": "1.50"})).same(&attr(json!({"N": "1.5"}))));
        assert!(attr(json!({"SS": ["a", "b"]})).same(&attr(json!({"SS": ["b", "a"]}))));
        assert!(!attr(json!({"S": "1"})).same(&attr(json!({"N": "1"}))));
        assert_eq!(
            attr(json!({"N": "9"})).order(&attr(json!({"N": "10"}))),
            Some(Ordering::Less)
        );
        assert_eq!(
            attr(json!({"S": "9"})).order(&attr(json!({"S": "10"}))),
            Some(Ordering::Greater)
        );
        assert_eq!(
            attr(json!({"S": "a"})).order(&attr(json!({"N": "1"}))),
            None
        );
    }
}
