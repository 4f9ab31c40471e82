//! Bounded authority: what a token says is checked against the directory for every request
//! that can change something or read beyond the caller's own (docs/adr/0004-auth.md,
//! "Bounded authority").
//!
//! An access token is verified offline and lasts 15 minutes: without this check, a user
//! disabled, deleted or removed from `admins` would keep their rights until it expires. For
//! a mutating request (any method but `GET`, `HEAD`, `OPTIONS`) and for any request whose
//! token carries `admins` or `finance`, the caller's standing (Cognito `AdminGetUser` and
//! `AdminListGroupsForUser`) is read at most [`STANDING_MAX_AGE`] ago:
//!
//! - a disabled or deleted account answers 401, and so does a token whose `sub` is not the
//!   account's any more (the username was deleted and created again: someone else);
//! - the caller's groups become those both the token and the directory list: removal from a
//!   group takes effect within the window, an addition waits for the next token (a token is
//!   what a sign-in granted, never more);
//! - when the directory cannot answer, the request fails (503 or 502), never passes on the
//!   token alone.
//!
//! The cache lives in one function instance; each instance reads a user's standing once per
//! window at most, and the lock is never held across the directory call.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use atelier_domain::{
    Caller, DomainError, Role,
    apps::{STANDING_MAX_AGE, Standing, Standings},
};
use http::Method;

use crate::ApiError;

/// Standings kept per instance before the expired ones are dropped (and, if all are fresh,
/// all of them): memory stays bounded whatever the number of users.
const MAX_CACHED: usize = 4096;

/// True when `method` by `caller` is decided on the caller's current standing rather than on
/// the token alone: anything but a read, and every request of an admin or finance token.
pub fn needs_standing(method: &Method, caller: &Caller) -> bool {
    let read = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    !read || caller.has(Role::Admin) || caller.has(Role::Finance)
}

/// The caller as the directory stands now, read at most `max_age` ago.
pub struct StandingCheck {
    standings: Arc<dyn Standings>,
    max_age: Duration,
    cache: Mutex<HashMap<String, (Instant, Standing)>>,
}

impl StandingCheck {
    /// A check reading `standings`, trusting an answer for `max_age` (at most
    /// [`STANDING_MAX_AGE`]; zero reads the directory on every request).
    pub fn new(standings: Arc<dyn Standings>, max_age: Duration) -> Self {
        Self { standings, max_age: max_age.min(STANDING_MAX_AGE), cache: Mutex::new(HashMap::new()) }
    }

    /// `caller` with the rights the directory still grants them, or 401.
    pub async fn current(&self, caller: Caller) -> Result<Caller, ApiError> {
        let standing = self.standing(&caller.username).await?;
        if !standing.active {
            tracing::info!(user = %caller.username, "refused: the account is disabled or deleted");
            return Err(ApiError::Unauthorized("the account is disabled or deleted".into()));
        }
        if standing.sub.as_deref() != Some(caller.sub.as_str()) {
            tracing::info!(user = %caller.username, "refused: the token's account was deleted, the username is someone else's");
            return Err(ApiError::Unauthorized("the token was issued to an account that no longer exists".into()));
        }
        let groups = caller.groups.iter().filter(|g| standing.groups.contains(g)).cloned().collect();
        Ok(Caller { groups, ..caller })
    }

    async fn standing(&self, username: &str) -> Result<Standing, ApiError> {
        if let Some((at, standing)) = self.cache().get(username)
            && at.elapsed() < self.max_age
        {
            return Ok(standing.clone());
        }
        // The answer is as old as the question: the window counts from before the call.
        let asked = Instant::now();
        let standing =
            self.standings.standing(username).await.map_err(|e| ApiError::Domain(DomainError::Upstream(e)))?;
        let mut cache = self.cache();
        if cache.len() >= MAX_CACHED {
            cache.retain(|_, (at, _)| at.elapsed() < self.max_age);
            if cache.len() >= MAX_CACHED {
                cache.clear();
            }
        }
        cache.insert(username.to_owned(), (asked, standing.clone()));
        Ok(standing)
    }

    /// The cache; a panic elsewhere while it was held leaves whole entries (each write is one
    /// insert), so a poisoned lock is used as is.
    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Instant, Standing)>> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    //! The check's rules against a directory the test sets, counting what it is asked.

    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    use async_trait::async_trait;
    use atelier_domain::UpstreamError;

    use super::*;

    struct Directory {
        now: Mutex<Standing>,
        /// Answers a throttling error while set.
        failing: AtomicBool,
        asked: AtomicUsize,
    }

    #[async_trait]
    impl Standings for Directory {
        async fn standing(&self, _username: &str) -> Result<Standing, UpstreamError> {
            self.asked.fetch_add(1, Ordering::SeqCst);
            if self.failing.load(Ordering::SeqCst) {
                return Err(UpstreamError::new("cognito-idp", "AdminGetUser", true, "throttled"));
            }
            Ok(self.now.lock().expect("lock").clone())
        }
    }

    fn standing(active: bool, sub: &str, groups: &[&str]) -> Standing {
        Standing { active, sub: Some(sub.into()), groups: groups.iter().map(|g| (*g).to_owned()).collect() }
    }

    fn directory(now: Standing) -> Arc<Directory> {
        Arc::new(Directory { now: Mutex::new(now), failing: AtomicBool::new(false), asked: AtomicUsize::new(0) })
    }

    fn ada() -> Caller {
        Caller { sub: "sub-ada".into(), username: "ada".into(), groups: vec!["admins".into(), "scientists".into()] }
    }

    #[test]
    fn reads_of_ones_own_pass_on_the_token_and_the_rest_are_checked() {
        let alice = Caller { sub: "s".into(), username: "alice".into(), groups: vec!["scientists".into()] };
        let fiona = Caller { sub: "s".into(), username: "fiona".into(), groups: vec!["finance".into()] };
        assert!(!needs_standing(&Method::GET, &alice));
        assert!(!needs_standing(&Method::HEAD, &alice));
        for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
            assert!(needs_standing(&method, &alice), "{method}");
        }
        assert!(needs_standing(&Method::GET, &ada()));
        assert!(needs_standing(&Method::GET, &fiona));
    }

    #[tokio::test]
    async fn a_standing_is_read_once_per_window_and_again_after_it() {
        let dir = directory(standing(true, "sub-ada", &["admins", "scientists"]));
        let check = StandingCheck::new(dir.clone(), Duration::from_millis(200));
        for _ in 0..3 {
            assert_eq!(check.current(ada()).await.expect("standing").groups, ["admins", "scientists"]);
        }
        assert_eq!(dir.asked.load(Ordering::SeqCst), 1);
        *dir.now.lock().expect("lock") = standing(true, "sub-ada", &["scientists"]);
        assert!(check.current(ada()).await.expect("cached").is_admin(), "inside the window the cached standing holds");
        tokio::time::sleep(Duration::from_millis(250)).await;
        let demoted = check.current(ada()).await.expect("standing");
        assert_eq!(demoted.groups, ["scientists"], "removed from admins once the window is over");
        assert_eq!(dir.asked.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_disabled_or_recreated_account_is_refused() {
        let check = StandingCheck::new(directory(standing(false, "sub-ada", &["admins"])), Duration::ZERO);
        assert!(matches!(check.current(ada()).await, Err(ApiError::Unauthorized(_))));
        let gone = Standing { active: false, sub: None, groups: Vec::new() };
        let check = StandingCheck::new(directory(gone), Duration::ZERO);
        assert!(matches!(check.current(ada()).await, Err(ApiError::Unauthorized(_))));
        let recreated = standing(true, "sub-of-the-new-ada", &["admins"]);
        let check = StandingCheck::new(directory(recreated), Duration::ZERO);
        assert!(
            matches!(check.current(ada()).await, Err(ApiError::Unauthorized(why)) if why.contains("no longer exists"))
        );
    }

    #[tokio::test]
    async fn a_group_added_since_the_token_is_not_granted_by_it() {
        let scientist = Caller { sub: "sub-ada".into(), username: "ada".into(), groups: vec!["scientists".into()] };
        let check = StandingCheck::new(directory(standing(true, "sub-ada", &["scientists", "admins"])), Duration::ZERO);
        assert_eq!(check.current(scientist).await.expect("standing").groups, ["scientists"]);
    }

    #[tokio::test]
    async fn an_unanswering_directory_fails_the_request_and_is_asked_again_next_time() {
        let dir = directory(standing(true, "sub-ada", &["admins"]));
        dir.failing.store(true, Ordering::SeqCst);
        let check = StandingCheck::new(dir.clone(), STANDING_MAX_AGE);
        assert!(matches!(check.current(ada()).await, Err(ApiError::Domain(DomainError::Upstream(_)))));
        dir.failing.store(false, Ordering::SeqCst);
        assert!(check.current(ada()).await.expect("answered now").is_admin());
        assert_eq!(dir.asked.load(Ordering::SeqCst), 2, "a failure is not cached");
    }

    #[test]
    fn the_window_is_never_longer_than_a_minute() {
        let check = StandingCheck::new(directory(standing(true, "s", &[])), Duration::from_secs(3600));
        assert_eq!(check.max_age, STANDING_MAX_AGE);
    }
}
