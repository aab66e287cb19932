//! The `Range` request header (RFC 9110 §14.2), for a single byte range: what
//! a browser's `<audio>` sends when it starts (`bytes=0-`) and when the user
//! seeks (`bytes=N-`). Multiple ranges are answered with the whole file, which
//! the RFC allows; other units are ignored, as it requires.

use std::ops::Range;

/// What to send for a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// No (usable) range: 200 with the whole file.
    Whole,
    /// 206 with these bytes.
    Partial(Range<u64>),
    /// 416: the range is malformed or starts past the end.
    Unsatisfiable,
}

/// Chooses the bytes to send from the `Range` header value for a file of `size` bytes.
pub fn select(header: Option<&str>, size: u64) -> Selection {
    let Some(value) = header.map(str::trim) else {
        return Selection::Whole;
    };
    let Some((unit, specs)) = value.split_once('=') else {
        return Selection::Unsatisfiable;
    };
    if !unit.trim().eq_ignore_ascii_case("bytes") {
        return Selection::Whole;
    }
    let mut specs = specs.split(',').map(str::trim).filter(|s| !s.is_empty());
    let (Some(spec), None) = (specs.next(), specs.next()) else {
        // No range at all is malformed; several are served whole.
        return if value.contains(',') {
            Selection::Whole
        } else {
            Selection::Unsatisfiable
        };
    };
    spec_range(spec, size).map_or(Selection::Unsatisfiable, Selection::Partial)
}

fn number(digits: &str) -> Option<u64> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // More digits than u64 holds: larger than any file, which is what it means.
    Some(digits.parse().unwrap_or(u64::MAX))
}

fn spec_range(spec: &str, size: u64) -> Option<Range<u64>> {
    let (first, last) = spec.split_once('-')?;
    match (first, last) {
        ("", suffix) => {
            let n = number(suffix)?;
            (n > 0 && size > 0).then(|| size.saturating_sub(n)..size)
        }
        (first, "") => {
            let start = number(first)?;
            (start < size).then_some(start..size)
        }
        (first, last) => {
            let (start, last) = (number(first)?, number(last)?);
            (start <= last && start < size).then(|| start..last.saturating_add(1).min(size))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Selection::*, *};

    #[test]
    fn ranges() {
        let size = 1000;
        let cases: &[(Option<&str>, Selection)] = &[
            (None, Whole),
            (Some("bytes=0-"), Partial(0..1000)),
            (Some("bytes=0-99"), Partial(0..100)),
            (Some("bytes=500-"), Partial(500..1000)),
            (Some("bytes=999-999"), Partial(999..1000)),
            (Some("bytes=900-5000"), Partial(900..1000)),
            (Some("bytes=-100"), Partial(900..1000)),
            (Some("bytes=-5000"), Partial(0..1000)),
            (Some("Bytes = 10-19"), Partial(10..20)),
            (Some("bytes=0-99999999999999999999999"), Partial(0..1000)),
            (Some("bytes=1000-"), Unsatisfiable),
            (Some("bytes=1000-1001"), Unsatisfiable),
            (Some("bytes=-0"), Unsatisfiable),
            (Some("bytes=5-2"), Unsatisfiable),
            (Some("bytes=abc"), Unsatisfiable),
            (Some("bytes=-"), Unsatisfiable),
            (Some("bytes=1-2-3"), Unsatisfiable),
            (Some("bytes=+1-2"), Unsatisfiable),
            (Some("bytes= 1 - 2"), Unsatisfiable),
            (Some("bytes="), Unsatisfiable),
            (Some("bytes"), Unsatisfiable),
            (Some("garbage"), Unsatisfiable),
            (Some("items=0-5"), Whole),
            (Some("bytes=0-1,5-6"), Whole),
        ];
        for (header, want) in cases {
            assert_eq!(&select(*header, size), want, "{header:?}");
        }
    }

    #[test]
    fn empty_file_has_no_satisfiable_range() {
        assert_eq!(select(Some("bytes=-10"), 0), Unsatisfiable);
        assert_eq!(select(Some("bytes=0-"), 0), Unsatisfiable);
    }
}
