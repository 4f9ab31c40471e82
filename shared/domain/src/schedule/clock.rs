//! Wall-clock times versus instants, across DST changes.
//!
//! A window bound is a wall-clock time; it takes effect at the **first instant at which the
//! zone's wall clock reads that time or later**. For ordinary times that is the one instant
//! with that reading. In a fold (the repeated hour in autumn) it is the first of the two,
//! as with jiff's `compatible` disambiguation. In a gap (the skipped hour in spring) it is
//! the instant the clocks jump: a window starting at 02:30 on the day Europe/Paris skips
//! 02:00-03:00 opens at 03:00 local time. (jiff's `compatible` would say 03:30 there, which
//! would needlessly cut half an hour from the window, so gaps are handled here.)
//!
//! The same rule answers "is instant `t` past bound `b`?" without converting `b`: that holds
//! iff the highest wall-clock reading shown up to `t` (its *high-water mark*) is at least `b`.
//! Deciding thus needs one zone lookup per decision, whatever the number of windows.

use jiff::civil::DateTime;
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::{SignedDuration, Timestamp};

/// How far back a backward transition can still hold the high-water mark above the current
/// reading: jiff bounds offsets to ±25:59:59, so clocks never go back by 52 hours or more,
/// and 52 hours after a transition the reading has climbed past any mark it left.
const FOLD_LOOKBACK_SECS: i64 = 2 * 26 * 3600;

const ONE_NANO: SignedDuration = SignedDuration::from_nanos(1);

/// The highest wall-clock reading `tz` showed at or before `at`.
///
/// That is the reading at `at` itself, except during the second pass through a repeated
/// hour, where the clock already showed the later readings before being set back.
pub(crate) fn wall_high_water(tz: &TimeZone, at: Timestamp) -> DateTime {
    let mut high = tz.to_datetime(at);
    // A transition exactly at `at` still counts: the instants just before it precede `at`.
    let probe = at.checked_add(ONE_NANO).unwrap_or(at);
    for transition in tz.preceding(probe) {
        let when = transition.timestamp();
        if at.as_second() - when.as_second() > FOLD_LOOKBACK_SECS {
            break;
        }
        let Ok(just_before) = when.checked_sub(ONE_NANO) else { break };
        let before = tz.to_offset(just_before);
        if before > transition.offset() {
            // Clocks went back here: the reading just before the transition is a mark.
            high = high.max(before.to_datetime(just_before));
        }
    }
    high
}

/// The first instant at which `tz`'s wall clock reads `wall` or later (see the module
/// documentation), or `None` only near the ends of the representable range.
pub(crate) fn first_instant_at_or_after(tz: &TimeZone, wall: DateTime) -> Option<Timestamp> {
    match tz.to_ambiguous_timestamp(wall).offset() {
        AmbiguousOffset::Unambiguous { offset } | AmbiguousOffset::Fold { before: offset, .. } => {
            offset.to_timestamp(wall).ok()
        }
        AmbiguousOffset::Gap { before, .. } => {
            // Read with the offset in force before the gap, `wall` lands just after the jump
            // (by less than the gap's length), so the latest transition up to there is it.
            let past_the_jump = before.to_timestamp(wall).ok()?;
            let probe = past_the_jump.checked_add(ONE_NANO).ok()?;
            Some(tz.preceding(probe).next().map_or(past_the_jump, |transition| transition.timestamp()))
        }
    }
}
