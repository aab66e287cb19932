//! How the Archive shows values: dates as `dd.mm.yyyy HH:MM` in the tenant's
//! time zone, durations as `m:ss`, access points as `81511569 (Main Demo
//! Number)`, and the deletion sentence of the seed.

use chrono::{DateTime, Datelike, Timelike, Utc};
use chrono_tz::Tz;

// A page of rows formats a few hundred timestamps: plain integer formatting
// of the local time's fields costs a fraction of interpreting a strftime
// pattern for each one.

/// `08.02.2021 12:09`.
pub fn start(at: DateTime<Utc>, tz: Tz) -> String {
    let t = at.with_timezone(&tz);
    format!(
        "{:02}.{:02}.{:04} {:02}:{:02}",
        t.day(),
        t.month(),
        t.year(),
        t.hour(),
        t.minute()
    )
}

/// `09.02.2021 12:26:15` (the Recording tab shows seconds).
pub fn start_seconds(at: DateTime<Utc>, tz: Tz) -> String {
    let t = at.with_timezone(&tz);
    format!(
        "{:02}.{:02}.{:04} {:02}:{:02}:{:02}",
        t.day(),
        t.month(),
        t.year(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// `2:37`; minutes are not wrapped into hours (`75:00`), as the Archive shows them.
pub fn minutes_seconds(ms: i64) -> String {
    let total = ms.max(0) / 1000;
    format!("{}:{:02}", total / 60, total % 60)
}

/// `81511569 (Main Demo Number)`, or the number alone when it has no name.
pub fn access_point(number: &str, name: &str) -> String {
    if name.is_empty() {
        number.to_owned()
    } else {
        format!("{number} ({name})")
    }
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
        assert_eq!(
            access_point("81511569", "Main Demo Number"),
            "81511569 (Main Demo Number)"
        );
        assert_eq!(access_point("81511569", ""), "81511569");
    }
}
