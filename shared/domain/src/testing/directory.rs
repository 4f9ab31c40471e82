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
