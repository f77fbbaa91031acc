//! Per-account state: one value of a service's state for each AWS account, the default
//! account's first.

use std::collections::BTreeMap;
use std::ops::{Deref, DerefMut};

/// One `T` per AWS account. Derefs to the default account's, so code that knows of one
/// account only (seeding without `account`, unit tests) works unchanged.
#[derive(Debug, Clone)]
pub(crate) struct ByAccount<T> {
    default_account: String,
    default: T,
    others: BTreeMap<String, T>,
}

impl<T: Default> ByAccount<T> {
    /// Empty state, `default_account`'s included.
    pub(crate) fn new(default_account: &str) -> Self {
        ByAccount {
            default_account: default_account.to_string(),
            default: T::default(),
            others: BTreeMap::new(),
        }
    }

    /// The account's state, if it has any.
    pub(crate) fn account(&self, account_id: &str) -> Option<&T> {
        if account_id == self.default_account {
            Some(&self.default)
        } else {
            self.others.get(account_id)
        }
    }

    /// The account's state, created empty when missing.
    pub(crate) fn account_mut(&mut self, account_id: &str) -> &mut T {
        if account_id == self.default_account {
            &mut self.default
        } else {
            self.others.entry(account_id.to_string()).or_default()
        }
    }

    /// Every account's state, the default account's first, then by account id.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &T)> {
        std::iter::once((self.default_account.as_str(), &self.default))
            .chain(self.others.iter().map(|(id, t)| (id.as_str(), t)))
    }
}

impl<T> Deref for ByAccount<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.default
    }
}

impl<T> DerefMut for ByAccount<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.default
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_are_apart_and_the_default_is_the_deref() {
        let mut by: ByAccount<Vec<u8>> = ByAccount::new("123456789012");
        by.push(1);
        by.account_mut("111111111111").push(2);
        assert_eq!(by.account("123456789012"), Some(&vec![1]));
        assert_eq!(by.account("111111111111"), Some(&vec![2]));
        assert_eq!(by.account("222222222222"), None);
        let ids: Vec<&str> = by.iter().map(|(id, _)| id).collect();
        assert_eq!(ids, ["123456789012", "111111111111"]);
    }
}
