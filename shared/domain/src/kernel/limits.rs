//! Per-caller request limits on the expensive routes: one person looping the cost report
//! must not starve everyone else of the table and the functions' concurrency. (Creating
//! workspaces needs no such limit: the active-workspace cap bounds it.) A limit is a
//! number of requests per fixed window, counted per caller (`sub`) and per class of
//! requests in the table, so every function instance shares the count; past it the API
//! answers 429 with `Retry-After` (docs/adr/0004-auth.md, "Per-caller limits").

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};

use crate::kernel::StoreError;

/// A class of expensive requests and the share one caller may have of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// What the requests have in common, as the count's key and the problem's detail say it.
    pub class: &'static str,
    /// The most requests a caller may make in one window.
    pub requests: u32,
    /// The window's length (whole seconds).
    pub per: SignedDuration,
}

/// The reports that read a whole month or the whole data-access trace (`GET /v1/costs/users`,
/// `GET /v1/costs/export.csv`, `POST /v1/costs/exports`, `GET /v1/datasets/access.csv`):
/// 30 a minute per person, together. A screen reads one at a time.
pub const REPORTS: Limit = Limit { class: "reports", requests: 30, per: SignedDuration::from_secs(60) };

/// One window of a limit: from `start` (included) to `end` (excluded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Where the window starts: a multiple of the limit's length since the epoch.
    pub start: Timestamp,
    /// Where the next one starts.
    pub end: Timestamp,
}

impl Limit {
    /// The window holding `at`.
    pub fn window(&self, at: Timestamp) -> Window {
        let length = self.per.as_secs().max(1);
        let start_second = at.as_second().div_euclid(length) * length;
        let start = Timestamp::from_second(start_second).unwrap_or(at);
        let end = Timestamp::from_second(start_second + length).unwrap_or(at);
        Window { start, end }
    }
}

impl Window {
    /// Whole seconds from `at` until the window ends, at least 1: what `Retry-After` says.
    pub fn retry_after(&self, at: Timestamp) -> u64 {
        let left = self.end.duration_since(at);
        let seconds = left.as_secs() + i64::from(left.subsec_nanos() > 0);
        u64::try_from(seconds.max(1)).unwrap_or(1)
    }
}

/// Whether a request goes ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Counted; go ahead.
    Admitted,
    /// The caller's window is full: nothing was counted; retry after this many seconds.
    Refused {
        /// Seconds until the window ends.
        retry_after: u64,
    },
}

/// Where requests are counted (the table: one conditional update per request).
#[async_trait]
pub trait RequestCounter: Send + Sync {
    /// Counts one request of `caller` against `limit` in `window`, unless `limit.requests`
    /// are counted there already: true when counted, false when the window is full.
    async fn count(&self, caller: &str, limit: &Limit, window: &Window) -> Result<bool, StoreError>;
}

/// Counts a request of `caller` (their `sub`) made at `at` against `limit`.
pub async fn admit(
    counter: &dyn RequestCounter,
    caller: &str,
    limit: &Limit,
    at: Timestamp,
) -> Result<Admission, StoreError> {
    let window = limit.window(at);
    if counter.count(caller, limit, &window).await? {
        Ok(Admission::Admitted)
    } else {
        Ok(Admission::Refused { retry_after: window.retry_after(at) })
    }
}

#[cfg(test)]
mod tests {
    use std::{collections::HashMap, sync::Mutex};

    use proptest::prelude::*;

    use super::*;

    /// Counts in memory, as the table does (the window's key, refused past the limit).
    #[derive(Default)]
    struct Counts(Mutex<HashMap<(String, &'static str, Timestamp), u32>>);

    #[async_trait]
    impl RequestCounter for Counts {
        async fn count(&self, caller: &str, limit: &Limit, window: &Window) -> Result<bool, StoreError> {
            let mut counts = self.0.lock().expect("lock");
            let n = counts.entry((caller.to_owned(), limit.class, window.start)).or_default();
            if *n >= limit.requests {
                return Ok(false);
            }
            *n += 1;
            Ok(true)
        }
    }

    fn at(s: &str) -> Timestamp {
        s.parse().expect("an instant")
    }

    #[tokio::test]
    async fn the_request_past_the_limit_waits_for_the_next_window_and_others_are_not_held() {
        let counts = Counts::default();
        let now = at("2026-12-03T10:00:48.250Z");
        for _ in 0..REPORTS.requests {
            assert_eq!(admit(&counts, "sub-ada", &REPORTS, now).await.expect("counted"), Admission::Admitted);
        }
        assert_eq!(
            admit(&counts, "sub-ada", &REPORTS, now).await.expect("counted"),
            Admission::Refused { retry_after: 12 }
        );
        assert_eq!(admit(&counts, "sub-bob", &REPORTS, now).await.expect("counted"), Admission::Admitted);
        let other = Limit { class: "other", ..REPORTS };
        assert_eq!(admit(&counts, "sub-ada", &other, now).await.expect("counted"), Admission::Admitted);
        let next = at("2026-12-03T10:01:00Z");
        assert_eq!(admit(&counts, "sub-ada", &REPORTS, next).await.expect("counted"), Admission::Admitted);
    }

    proptest! {
        #[test]
        fn an_instant_is_in_its_window_and_retry_after_reaches_its_end(
            seconds in 0i64..4_000_000_000,
            nanos in 0i32..1_000_000_000,
        ) {
            let t = Timestamp::new(seconds, nanos).expect("an instant");
            let w = REPORTS.window(t);
            prop_assert!(w.start <= t && t < w.end);
            prop_assert_eq!(w.end.duration_since(w.start), REPORTS.per);
            let retry = w.retry_after(t);
            prop_assert!((1..=60).contains(&retry));
            prop_assert!(t + SignedDuration::from_secs(i64::try_from(retry).expect("small")) >= w.end);
        }
    }
}
