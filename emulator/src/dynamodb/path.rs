//! Document paths (`a.b[2].c`): reading, writing and removing the value one names in an item.

use std::fmt;

use super::value::{Attr, Item, validation};
use crate::error::ApiError;

/// One step of a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    Name(String),
    Index(usize),
}

/// A path; the first step is always a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Path(pub Vec<Step>);

impl fmt::Display for Path {
    /// AWS's form in messages: `[a, b, [2]]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let steps: Vec<String> = self
            .0
            .iter()
            .map(|s| match s {
                Step::Name(n) => n.clone(),
                Step::Index(i) => format!("[{i}]"),
            })
            .collect();
        write!(f, "[{}]", steps.join(", "))
    }
}

fn invalid_for_update() -> ApiError {
    validation("The document path provided in the update expression is invalid for update")
}

impl Path {
    /// The top-level attribute name.
    pub(crate) fn top(&self) -> &str {
        match &self.0[0] {
            Step::Name(n) => n,
            Step::Index(_) => unreachable!("paths start with a name"),
        }
    }

    /// True when one path is a prefix of the other (they name overlapping parts of an item).
    pub(crate) fn overlaps(&self, other: &Path) -> bool {
        self.0.iter().zip(&other.0).all(|(a, b)| a == b)
    }

    /// The value the path names, if the item has it.
    pub(crate) fn get<'a>(&self, item: &'a Item) -> Option<&'a Attr> {
        let mut current = item.get(self.top())?;
        for step in &self.0[1..] {
            current = match (step, current) {
                (Step::Name(n), Attr::M(m)) => m.get(n)?,
                (Step::Index(i), Attr::L(l)) => l.get(*i)?,
                _ => return None,
            };
        }
        Some(current)
    }

    /// The container of the last step, which must exist.
    fn parent_mut<'a>(&self, item: &'a mut Item) -> Result<&'a mut Attr, ApiError> {
        let mut current = item.get_mut(self.top()).ok_or_else(invalid_for_update)?;
        for step in &self.0[1..self.0.len() - 1] {
            current = match (step, current) {
                (Step::Name(n), Attr::M(m)) => m.get_mut(n).ok_or_else(invalid_for_update)?,
                (Step::Index(i), Attr::L(l)) => l.get_mut(*i).ok_or_else(invalid_for_update)?,
                _ => return Err(invalid_for_update()),
            };
        }
        Ok(current)
    }

    /// Sets the value; an index past a list's end appends, as AWS does.
    pub(crate) fn set(&self, item: &mut Item, value: Attr) -> Result<(), ApiError> {
        if self.0.len() == 1 {
            item.insert(self.top().to_string(), value);
            return Ok(());
        }
        match (self.0.last().expect("non-empty"), self.parent_mut(item)?) {
            (Step::Name(n), Attr::M(m)) => {
                m.insert(n.clone(), value);
            }
            (Step::Index(i), Attr::L(l)) => match l.get_mut(*i) {
                Some(slot) => *slot = value,
                None => l.push(value),
            },
            _ => return Err(invalid_for_update()),
        }
        Ok(())
    }

    /// Removes the value if present; a list closes the gap.
    pub(crate) fn remove(&self, item: &mut Item) -> Result<(), ApiError> {
        if self.0.len() == 1 {
            item.remove(self.top());
            return Ok(());
        }
        let Ok(parent) = self.parent_mut(item) else {
            return Ok(());
        };
        match (self.0.last().expect("non-empty"), parent) {
            (Step::Name(n), Attr::M(m)) => {
                m.remove(n);
            }
            (Step::Index(i), Attr::L(l)) if *i < l.len() => {
                l.remove(*i);
            }
            (Step::Index(_), Attr::L(_)) => {}
            _ => return Err(invalid_for_update()),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dynamodb::value::item_from_json;
    use serde_json::json;

    fn path(steps: &[Step]) -> Path {
        Path(steps.to_vec())
    }

    fn name(n: &str) -> Step {
        Step::Name(n.into())
    }

    #[test]
    fn reads_writes_and_removes_nested_values() {
        let mut item =
            item_from_json(&json!({"a": {"M": {"b": {"L": [{"N": "1"}, {"N": "2"}]}}}})).unwrap();
        let second = path(&[name("a"), name("b"), Step::Index(1)]);
        assert_eq!(second.get(&item).unwrap().to_json(), json!({"N": "2"}));
        second.set(&mut item, Attr::Bool(true)).unwrap();
        path(&[name("a"), name("b"), Step::Index(9)])
            .set(&mut item, Attr::Null)
            .unwrap();
        path(&[name("a"), name("b"), Step::Index(0)])
            .remove(&mut item)
            .unwrap();
        assert_eq!(
            path(&[name("a"), name("b")]).get(&item).unwrap().to_json(),
            json!({"L": [{"BOOL": true}, {"NULL": true}]})
        );
        assert!(
            path(&[name("x"), name("y")])
                .set(&mut item, Attr::Null)
                .is_err()
        );
        assert!(path(&[name("a")]).overlaps(&second));
        assert!(!path(&[name("b")]).overlaps(&second));
        assert_eq!(second.to_string(), "[a, b, [1]]");
    }
}
