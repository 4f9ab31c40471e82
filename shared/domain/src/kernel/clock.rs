//! Where instants come from. The domain never reads the wall clock: every use case and
//! job takes its `now` from the caller (the HTTP layer passes the wall clock, a scheduled
//! function the time of its triggering event), so that any instant can be replayed.

use jiff::Timestamp;

use crate::kernel::DomainError;

/// The instant of a scheduled event's `time` field (RFC 3339), e.g. EventBridge's
/// `"2026-11-23T17:05:00Z"`. `Invalid` on field `time` when it is missing or unparseable.
pub fn event_instant(time: Option<&str>) -> Result<Timestamp, DomainError> {
    let time = time.ok_or_else(|| DomainError::invalid("time", "the scheduled event has no time"))?;
    time.parse().map_err(|_| DomainError::invalid("time", format!("\"{time}\" is not an RFC 3339 instant")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_instants_come_from_the_time_field() {
        let at = event_instant(Some("2026-11-23T17:05:00Z")).unwrap();
        assert_eq!(at.to_string(), "2026-11-23T17:05:00Z");
        assert!(matches!(event_instant(None), Err(DomainError::Invalid { ref field, .. }) if field == "time"));
        assert!(
            matches!(event_instant(Some("monday")), Err(DomainError::Invalid { ref field, .. }) if field == "time")
        );
    }
}
