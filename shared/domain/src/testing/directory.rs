//! [`FakeDirectory`]: the user directory (Cognito) as each test sets it.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;

use crate::costs::KnownUsers;
use crate::datasets::GroupDirectory;
use crate::kernel::{Profile, UpstreamError, UserDirectory};

#[derive(Default, Clone)]
struct User {
    profile: Profile,
    groups: Vec<String>,
    /// [`GroupDirectory::groups`] fails for this user (Cognito throttling, say).
    unreachable: bool,
    /// Their `sub`: `sub-<username>` unless set.
    sub: Option<String>,
    /// Disabled in the pool.
    disabled: bool,
}

/// The users a test names, each with a profile and groups. A user it does not know is
/// what Cognito answers for a deleted one: [`UserDirectory::profile`] fails definitively
/// (`UserNotFoundException`, not retryable), [`KnownUsers::exists`] is false and
/// [`GroupDirectory::groups`] is empty.
#[derive(Default)]
pub struct FakeDirectory {
    users: Mutex<HashMap<String, User>>,
}

impl FakeDirectory {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, User>> {
        self.users.lock().expect("fake directory lock")
    }

    /// The same directory, knowing `username` with `profile` (builder style).
    pub fn with_user(self, username: &str, profile: Profile) -> Self {
        self.put_user(username, profile);
        self
    }

    /// Adds `username` with `profile`, or replaces their profile (their groups stay).
    pub fn put_user(&self, username: &str, profile: Profile) {
        self.lock().entry(username.to_owned()).or_default().profile = profile;
    }

    /// Makes `username` (known from now on) a member of exactly `groups`.
    pub fn set_groups(&self, username: &str, groups: &[&str]) {
        self.lock().entry(username.to_owned()).or_default().groups = groups.iter().map(|g| (*g).to_owned()).collect();
    }

    /// From now on, asking for `username`'s groups fails (retryable), as when Cognito
    /// throttles.
    pub fn fail_groups(&self, username: &str) {
        self.lock().entry(username.to_owned()).or_default().unreachable = true;
    }

    /// Disables `username` (known from now on), as an admin does in the pool.
    pub fn disable(&self, username: &str) {
        self.lock().entry(username.to_owned()).or_default().disabled = true;
    }

    /// Gives `username` (known from now on) the `sub` the pool issued them (a recreated
    /// user has a new one).
    pub fn set_sub(&self, username: &str, sub: &str) {
        self.lock().entry(username.to_owned()).or_default().sub = Some(sub.to_owned());
    }

    /// Forgets `username`, as when the user is deleted from the pool.
    pub fn forget(&self, username: &str) {
        self.lock().remove(username);
    }
}

#[async_trait]
impl UserDirectory for FakeDirectory {
    async fn profile(&self, username: &str) -> Result<Profile, UpstreamError> {
        self.lock()
            .get(username)
            .map(|u| u.profile.clone())
            .ok_or_else(|| UpstreamError::new("cognito-idp", "AdminGetUser", false, "UserNotFoundException"))
    }
}

#[async_trait]
impl KnownUsers for FakeDirectory {
    async fn exists(&self, username: &str) -> Result<bool, UpstreamError> {
        Ok(self.lock().contains_key(username))
    }
}

#[async_trait]
impl GroupDirectory for FakeDirectory {
    async fn groups(&self, username: &str) -> Result<Vec<String>, UpstreamError> {
        match self.lock().get(username) {
            Some(u) if u.unreachable => {
                Err(UpstreamError::new("cognito-idp", "AdminListGroupsForUser", true, "TooManyRequestsException"))
            }
            user => Ok(user.map(|u| u.groups.clone()).unwrap_or_default()),
        }
    }
}

/// A known user stands with their groups and `sub` (`sub-<username>` unless set), active
/// unless disabled; an unknown one is inactive.
#[async_trait]
impl crate::apps::Standings for FakeDirectory {
    async fn standing(&self, username: &str) -> Result<crate::apps::Standing, UpstreamError> {
        Ok(match self.lock().get(username) {
            Some(u) => crate::apps::Standing {
                active: !u.disabled,
                sub: Some(u.sub.clone().unwrap_or_else(|| format!("sub-{username}"))),
                groups: u.groups.clone(),
            },
            None => crate::apps::Standing { active: false, sub: None, groups: Vec::new() },
        })
    }
}

#[async_trait]
impl crate::notifications::Recipients for FakeDirectory {
    /// The users whose groups include `admins`, by username.
    async fn admins(&self) -> Result<Vec<crate::notifications::Recipient>, UpstreamError> {
        let mut admins: Vec<String> = self
            .lock()
            .iter()
            .filter(|(_, u)| u.groups.iter().any(|g| g == "admins"))
            .map(|(n, _)| n.clone())
            .collect();
        admins.sort();
        Ok(admins.into_iter().map(|username| crate::notifications::Recipient { username }).collect())
    }
}
