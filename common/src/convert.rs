//! Conversions between chrono and the protobuf well-known types.

use chrono::{DateTime, TimeDelta, Utc};
use prost_types::{Duration, Timestamp};

use crate::FieldViolation;

pub fn timestamp(at: DateTime<Utc>) -> Timestamp {
    Timestamp {
        seconds: at.timestamp(),
        nanos: at.timestamp_subsec_nanos() as i32,
    }
}

/// Reads a timestamp field; `field` names it in the error.
pub fn from_timestamp(ts: &Timestamp, field: &str) -> Result<DateTime<Utc>, FieldViolation> {
    if !(0..1_000_000_000).contains(&ts.nanos) {
        return Err(FieldViolation::new(field, "nanos must be within 0..1e9"));
    }
    DateTime::from_timestamp(ts.seconds, ts.nanos as u32)
        .ok_or_else(|| FieldViolation::new(field, "timestamp out of range"))
}

/// Reads an optional timestamp field that must be set.
pub fn required_timestamp(
    ts: Option<&Timestamp>,
    field: &str,
) -> Result<DateTime<Utc>, FieldViolation> {
    from_timestamp(ts.ok_or_else(|| FieldViolation::missing(field))?, field)
}

pub fn duration(d: TimeDelta) -> Duration {
    Duration {
        seconds: d.num_seconds(),
        nanos: d.subsec_nanos(),
    }
}

pub fn duration_ms(ms: i64) -> Duration {
    duration(TimeDelta::milliseconds(ms))
}

/// Reads a non-negative duration field as whole milliseconds.
pub fn from_duration_ms(d: &Duration, field: &str) -> Result<i64, FieldViolation> {
    if d.seconds < 0 || d.nanos < 0 || d.nanos >= 1_000_000_000 {
        return Err(FieldViolation::new(
            field,
            "must be a non-negative duration",
        ));
    }
    d.seconds
        .checked_mul(1000)
        .and_then(|ms| ms.checked_add(i64::from(d.nanos / 1_000_000)))
        .ok_or_else(|| FieldViolation::new(field, "duration out of range"))
}

pub fn micros(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

pub fn from_micros(us: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(us).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip() {
        let at = DateTime::from_timestamp(1_700_000_000, 123_000_000).unwrap();
        assert_eq!(from_timestamp(&timestamp(at), "t").unwrap(), at);
    }

    #[test]
    fn bad_nanos_name_the_field() {
        let err = from_timestamp(
            &Timestamp {
                seconds: 0,
                nanos: -1,
            },
            "filter.start_time_from",
        )
        .unwrap_err();
        assert_eq!(err.field, "filter.start_time_from");
    }

    #[test]
    fn negative_durations_are_refused() {
        let err = from_duration_ms(
            &Duration {
                seconds: -1,
                nanos: 0,
            },
            "d",
        )
        .unwrap_err();
        assert_eq!(err.field, "d");
        assert_eq!(from_duration_ms(&duration_ms(41_500), "d").unwrap(), 41_500);
    }
}
