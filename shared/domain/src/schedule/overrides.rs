//! The user's "keep running until" override.

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::serde_error;
use crate::DomainError;

/// Longest override a user may set by default: long enough to finish a day's work late, short
/// enough that a forgotten machine is stopped by the next evening.
pub const DEFAULT_MAX_OVERRIDE: SignedDuration = SignedDuration::from_hours(24);

/// An override on the wire: `{"until":"2026-11-23T20:00:00+01:00"}` (RFC 3339).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OverrideSpec {
    /// The instant the machine may be stopped again, RFC 3339 with an offset.
    pub until: String,
}

/// "Keep my machine running until `until`": while it lasts, the schedule's desired state is
/// [`super::Desired::Running`]; from `until` on the windows apply again.
///
/// It is not part of the schedule's wire format: it is validated against the current time
/// when set, and so is stored and exchanged on its own (`{"until": ...}`) and attached with
/// [`super::Schedule::with_override`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Override {
    until: Timestamp,
}

impl Override {
    /// An override ending at `until`, which must be after `now` and at most `max` after it.
    /// Errors are [`DomainError::Unprocessable`] on field `until`.
    pub fn new(until: Timestamp, now: Timestamp, max: SignedDuration) -> Result<Self, DomainError> {
        if until <= now {
            return Err(DomainError::unprocessable("until", format!("{until} is not in the future")));
        }
        if now.duration_until(until) > max {
            return Err(DomainError::unprocessable(
                "until",
                format!("an override may last at most {max:#} from now; {until} is too far"),
            ));
        }
        Ok(Self { until })
    }

    /// Parses and validates a wire override (see [`OverrideSpec`] and [`Override::new`]).
    pub fn parse<'de, D: Deserializer<'de>>(
        input: D,
        now: Timestamp,
        max: SignedDuration,
    ) -> Result<Self, DomainError> {
        let spec: OverrideSpec =
            serde_path_to_error::deserialize(input).map_err(|error| serde_error(error, "until"))?;
        let until: Timestamp = spec.until.parse().map_err(|_| {
            DomainError::unprocessable(
                "until",
                format!("\"{}\" is not an instant; expected RFC 3339 such as 2026-11-23T20:00:00+01:00", spec.until),
            )
        })?;
        Self::new(until, now, max)
    }

    /// An override read back from storage, without the checks against "now": those were made
    /// when it was set, and an expired override is harmless (it no longer applies).
    pub fn restore(until: Timestamp) -> Self {
        Self { until }
    }

    /// The instant from which the windows apply again.
    pub fn until(&self) -> Timestamp {
        self.until
    }

    /// Whether the override keeps the machine running at `at`.
    pub fn is_active(&self, at: Timestamp) -> bool {
        at < self.until
    }
}

impl From<Override> for OverrideSpec {
    fn from(value: Override) -> Self {
        Self { until: value.until.to_string() }
    }
}

impl Serialize for Override {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        OverrideSpec::from(*self).serialize(serializer)
    }
}
