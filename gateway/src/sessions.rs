//! The sessions this gateway task serves: one per browser session cookie or bearer
//! token, each with the target it was last authorised for, when, and its open tunnels.
//! A session is checked again at least every [`RECHECK`](atelier_domain::apps::RECHECK)
//! (by the next request, or by [`crate::Gateway::watch`] while a WebSocket is open); the
//! first refusal ends it: its tunnels close and its `disconnect` event is written.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use atelier_domain::{Caller, apps::Target};
use jiff::Timestamp;
use tokio_util::sync::CancellationToken;

/// A session with no request and no open WebSocket for this long has ended.
pub const IDLE: Duration = Duration::from_secs(15 * 60);

/// One session.
#[derive(Clone)]
pub struct Session {
    /// Who.
    pub caller: Caller,
    /// What they were last authorised for.
    pub target: Target,
    /// Where they came from.
    pub source: Option<String>,
    /// When it opened.
    pub started_at: Timestamp,
    /// When a cookie session ends regardless (Unix seconds); `None` for a bearer token.
    pub expires_at: Option<i64>,
    /// Cancelled when the session ends: closes its tunnels.
    pub close: CancellationToken,
    checked_at: Instant,
    last_seen: Instant,
    tunnels: usize,
}

/// Why a session is due for attention.
pub enum Due {
    /// Its authorisation is older than the bound: check it again.
    Recheck(String, Session),
    /// Idle or expired: end it with this reason.
    End(String, Session, &'static str),
}

/// The sessions of this task.
#[derive(Default)]
pub struct Sessions(Mutex<HashMap<String, Session>>);

impl Sessions {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Session>> {
        self.0.lock().expect("sessions lock")
    }

    /// The session `sid`'s target and close token when it was authorised less than
    /// `recheck` ago (a use, not a check: the authorisation keeps its age).
    pub fn fresh(&self, sid: &str, recheck: Duration) -> Option<(Target, CancellationToken)> {
        let mut sessions = self.lock();
        let session = sessions.get_mut(sid)?;
        session.last_seen = Instant::now();
        (session.checked_at.elapsed() < recheck && !session.close.is_cancelled())
            .then(|| (session.target.clone(), session.close.clone()))
    }

    /// Whether `sid` is known (its `connect` event was written by this task).
    pub fn known(&self, sid: &str) -> bool {
        self.lock().contains_key(sid)
    }

    /// Records that `sid` was just authorised for `target` (opening it when new).
    pub fn authorised(
        &self,
        sid: &str,
        caller: &Caller,
        target: Target,
        source: Option<String>,
        started_at: Timestamp,
        expires_at: Option<i64>,
    ) -> CancellationToken {
        let now = Instant::now();
        let mut sessions = self.lock();
        let session = sessions.entry(sid.to_owned()).or_insert_with(|| Session {
            caller: caller.clone(),
            target: target.clone(),
            source,
            started_at,
            expires_at,
            close: CancellationToken::new(),
            checked_at: now,
            last_seen: now,
            tunnels: 0,
        });
        session.target = target;
        session.checked_at = now;
        session.last_seen = now;
        session.close.clone()
    }

    /// Removes `sid`, closing its tunnels; the session as it was, if it was open.
    pub fn end(&self, sid: &str) -> Option<Session> {
        let session = self.lock().remove(sid)?;
        session.close.cancel();
        Some(session)
    }

    /// A WebSocket of `sid` opened (`+1`) or closed (`-1`).
    pub fn tunnel(&self, sid: &str, opened: bool) {
        if let Some(session) = self.lock().get_mut(sid) {
            session.tunnels = if opened { session.tunnels + 1 } else { session.tunnels.saturating_sub(1) };
            session.last_seen = Instant::now();
        }
    }

    /// Sessions to check again or to end, at `now` (Unix seconds).
    pub fn due(&self, recheck: Duration, now: i64) -> Vec<Due> {
        let sessions = self.lock();
        let mut due = Vec::new();
        for (sid, s) in sessions.iter() {
            if s.expires_at.is_some_and(|e| now >= e) {
                due.push(Due::End(sid.clone(), s.clone(), "the session reached its end"));
            } else if s.tunnels == 0 && s.last_seen.elapsed() >= IDLE {
                due.push(Due::End(sid.clone(), s.clone(), "idle for 15 minutes"));
            } else if s.tunnels > 0 && s.checked_at.elapsed() >= recheck {
                due.push(Due::Recheck(sid.clone(), s.clone()));
            }
        }
        due
    }

    /// Makes `sid`'s authorisation look `age` old (tests of the re-check bound).
    #[cfg(test)]
    fn age(&self, sid: &str, age: Duration) {
        if let Some(session) = self.lock().get_mut(sid) {
            session.checked_at = Instant::now().checked_sub(age).unwrap_or_else(Instant::now);
        }
    }

    /// Every open session's id.
    pub fn all(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use atelier_domain::{
        WorkspaceId,
        apps::{AppName, Via},
    };

    fn target() -> Target {
        Target {
            workspace_id: WorkspaceId::generate(),
            app: AppName::parse("app", "jupyterlab").expect("an app"),
            upstream: "10.0.0.1:8443".into(),
            via: Via::Owner,
        }
    }

    #[test]
    fn using_a_session_never_extends_its_authorisation() {
        let sessions = Sessions::default();
        let caller = Caller { sub: "s".into(), username: "alice".into(), groups: vec![] };
        sessions.authorised("s-1", &caller, target(), None, Timestamp::now(), None);
        let bound = Duration::from_secs(30);
        assert!(sessions.fresh("s-1", bound).is_some());
        sessions.age("s-1", Duration::from_secs(29));
        for _ in 0..100 {
            assert!(sessions.fresh("s-1", bound).is_some(), "still within the bound");
        }
        sessions.age("s-1", Duration::from_secs(30));
        assert!(sessions.fresh("s-1", bound).is_none(), "a busy session is checked again after the bound");
    }
}
