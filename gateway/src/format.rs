//! How the Archive shows values: dates as `dd.mm.yyyy HH:MM` in the tenant's
//! time zone, durations as `m:ss`, access points as `81511569 (Main Demo
//! Number)`, and the deletion sentence of the seed.

use chrono::{DateTime, Datelike, Timelike, Utc};
use chrono_tz::Tz;

// A page of rows formats a few hundred timestamps and durations: their
// digits are written straight into a string of the final size, where
// `format!` interpreted a pattern and grew the string for each one (the
// gateway's CPU per search page in `cargo bench -p gateway --bench export`).

/// `08.02.2021 12:09`.
pub fn start(at: DateTime<Utc>, tz: Tz) -> String {
    let t = at.with_timezone(&tz);
    let mut out = String::with_capacity(16);
    date_and_minutes(&mut out, &t);
    out
}

/// `09.02.2021 12:26:15` (the Recording tab shows seconds).
pub fn start_seconds(at: DateTime<Utc>, tz: Tz) -> String {
    let t = at.with_timezone(&tz);
    let mut out = String::with_capacity(19);
    date_and_minutes(&mut out, &t);
    out.push(':');
    two_digits(&mut out, t.second());
    out
}

fn date_and_minutes(out: &mut String, t: &DateTime<Tz>) {
    two_digits(out, t.day());
    out.push('.');
    two_digits(out, t.month());
    out.push('.');
    match u32::try_from(t.year()) {
        Ok(year) if year <= 9999 => {
            two_digits(out, year / 100);
            two_digits(out, year % 100);
        }
        _ => out.push_str(&format!("{:04}", t.year())),
    }
    out.push(' ');
    two_digits(out, t.hour());
    out.push(':');
    two_digits(out, t.minute());
}

/// `n` (below 100) as two digits.
fn two_digits(out: &mut String, n: u32) {
    out.push(char::from(b'0' + (n / 10 % 10) as u8));
    out.push(char::from(b'0' + (n % 10) as u8));
}

/// `2:37`; minutes are not wrapped into hours (`75:00`), as the Archive shows them.
pub fn minutes_seconds(ms: i64) -> String {
    let total = ms.max(0) / 1000;
    let mut out = String::with_capacity(8);
    let minutes = total / 60;
    if minutes < 100 {
        if minutes >= 10 {
            out.push(char::from(b'0' + (minutes / 10) as u8));
        }
        out.push(char::from(b'0' + (minutes % 10) as u8));
    } else {
        out.push_str(&minutes.to_string());
    }
    out.push(':');
    two_digits(&mut out, (total % 60) as u32);
    out
}

/// `81511569 (Main Demo Number)`, or the number alone when it has no name.
pub fn access_point(number: &str, name: &str) -> String {
    if name.is_empty() {
        return number.to_owned();
    }
    let mut out = String::with_capacity(number.len() + name.len() + 3);
    out.push_str(number);
    out.push_str(" (");
    out.push_str(name);
    out.push(')');
    out
}

/// `This recording is deleted by customer: 10009, user: Paal Admin(paal), on 15.12.2022 08:45`.
pub fn deletion_text(
    customer: &str,
    display_name: &str,
    user_id: &str,
    at: DateTime<Utc>,
    tz: Tz,
) -> String {
    format!(
        "This recording is deleted by customer: {customer}, user: {display_name}({user_id}), on {}",
        start(at, tz)
    )
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn seed_formats() {
        let oslo: Tz = "Europe/Oslo".parse().unwrap();
        // 15.12.2022 08:45 in Oslo is 07:45 UTC (winter time).
        let at = Utc.with_ymd_and_hms(2022, 12, 15, 7, 45, 0).unwrap();
        assert_eq!(start(at, oslo), "15.12.2022 08:45");
        assert_eq!(
            deletion_text("10009", "Paal Admin", "paal", at, oslo),
            "This recording is deleted by customer: 10009, user: Paal Admin(paal), on 15.12.2022 08:45"
        );
        // Summer time: 09.06.2021 10:26:15 UTC is 12:26:15 in Oslo.
        let summer = Utc.with_ymd_and_hms(2021, 6, 9, 10, 26, 15).unwrap();
        assert_eq!(start_seconds(summer, oslo), "09.06.2021 12:26:15");
        assert_eq!(minutes_seconds(157_000), "2:37");
        assert_eq!(minutes_seconds(41_999), "0:41");
        assert_eq!(minutes_seconds(4_500_000), "75:00");
        assert_eq!(minutes_seconds(599_000), "9:59");
        assert_eq!(minutes_seconds(600_000), "10:00");
        assert_eq!(minutes_seconds(6_000_000), "100:00");
        assert_eq!(minutes_seconds(-5), "0:00");
        // Years before 1000 keep four digits; midnight and single digits are padded.
        let early = Utc.with_ymd_and_hms(999, 1, 2, 23, 4, 5).unwrap();
        assert_eq!(start_seconds(early, chrono_tz::UTC), "02.01.0999 23:04:05");
        let late = Utc.with_ymd_and_hms(2099, 12, 31, 23, 59, 59).unwrap();
        assert_eq!(start(late, oslo), "01.01.2100 00:59");
        assert_eq!(
            access_point("81511569", "Main Demo Number"),
            "81511569 (Main Demo Number)"
        );
        assert_eq!(access_point("81511569", ""), "81511569");
    }
}
