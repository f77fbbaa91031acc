//! IAM users' lifecycle: CreateUser, DeleteUser and TagUser, with IAM's rules
//! (unique names, at most 50 tags with case-insensitive keys, no deleting a
//! user who still holds service-specific credentials).

use chrono::{DateTime, Utc};

use super::{IamState, IamUser, no_such_user};
use crate::error::ApiError;
use crate::random;

/// Tags one IAM resource may carry.
pub(crate) const MAX_TAGS: usize = 50;

impl IamState {
    /// `CreateUser`: EntityAlreadyExists when the name is taken.
    pub(crate) fn create_user(
        &mut self,
        name: &str,
        path: &str,
        tags: Vec<(String, String)>,
        account: &str,
        now: DateTime<Utc>,
    ) -> Result<IamUser, ApiError> {
        if self.users.contains_key(name) {
            return Err(ApiError::new(
                409,
                "EntityAlreadyExists",
                format!("User with name {name} already exists."),
            ));
        }
        let user = IamUser {
            name: name.to_string(),
            user_id: random::user_id(),
            arn: format!("arn:aws:iam::{account}:user{path}{name}"),
            path: path.to_string(),
            create_date: now,
            tags,
        };
        self.users.insert(name.to_string(), user.clone());
        Ok(user)
    }

    /// `DeleteUser`: DeleteConflict while the user holds service-specific
    /// credentials (IAM wants every attached entity removed first).
    pub(crate) fn delete_user(&mut self, name: &str) -> Result<(), ApiError> {
        self.user(name)?;
        if !self.held_by(name).is_empty() {
            return Err(ApiError::new(
                409,
                "DeleteConflict",
                "Cannot delete entity, must delete service specific credentials first.",
            ));
        }
        self.users.remove(name);
        Ok(())
    }

    /// `TagUser`: adds the tags, replacing the value of a key the user has
    /// (keys compare case-insensitively); LimitExceeded past 50 in all.
    pub(crate) fn tag_user(
        &mut self,
        name: &str,
        tags: Vec<(String, String)>,
    ) -> Result<(), ApiError> {
        let user = self.users.get_mut(name).ok_or_else(|| no_such_user(name))?;
        let mut merged = user.tags.clone();
        for (key, value) in tags {
            match merged
                .iter_mut()
                .find(|(k, _)| k.eq_ignore_ascii_case(&key))
            {
                Some(existing) => existing.1 = value,
                None => merged.push((key, value)),
            }
        }
        if merged.len() > MAX_TAGS {
            return Err(ApiError::new(
                409,
                "LimitExceeded",
                format!("The number of tags has reached the maximum limit of {MAX_TAGS}."),
            ));
        }
        user.tags = merged;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn create_tag_delete() {
        let mut iam = IamState::default();
        let now = Utc::now();
        let user = iam
            .create_user("ana", "/ops/", tags(&[("team", "a")]), "123456789012", now)
            .unwrap();
        assert_eq!(user.arn, "arn:aws:iam::123456789012:user/ops/ana");
        let again = iam.create_user("ana", "/", vec![], "123456789012", now);
        assert_eq!(again.unwrap_err().code, "EntityAlreadyExists");
        iam.tag_user("ana", tags(&[("TEAM", "b"), ("x", "y")]))
            .unwrap();
        assert_eq!(
            iam.user("ana").unwrap().tags,
            tags(&[("team", "b"), ("x", "y")])
        );
        let many: Vec<_> = (0..MAX_TAGS)
            .map(|n| (format!("k{n}"), String::new()))
            .collect();
        assert_eq!(iam.tag_user("ana", many).unwrap_err().code, "LimitExceeded");
        iam.create_credential(
            "ana",
            "codecommit.amazonaws.com",
            None,
            None,
            "123456789012",
            now,
        )
        .unwrap();
        assert_eq!(iam.delete_user("ana").unwrap_err().code, "DeleteConflict");
        let id = iam.credentials().next().unwrap().id.clone();
        iam.delete("ana", &id).unwrap();
        iam.delete_user("ana").unwrap();
        assert_eq!(iam.user("ana").unwrap_err().code, "NoSuchEntity");
    }
}
