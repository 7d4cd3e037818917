//! The reporting time zone of a wallet: an IANA name, default UTC (see [`crate::reporting`] for
//! what it decides).

use std::fmt;

use time::{Date, OffsetDateTime};

/// Longest zone name accepted (the longest IANA name is 32 bytes).
pub const ZONE_NAME_LEN_MAX: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("time_zone: {0:?} is not an IANA time zone name (e.g. UTC, Europe/Berlin)")]
pub struct ZoneError(pub String);

/// A validated IANA time zone name.
#[derive(Debug, Clone)]
pub struct ReportingZone {
    name: String,
    zone: jiff::tz::TimeZone,
}

impl PartialEq for ReportingZone {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for ReportingZone {}

impl Default for ReportingZone {
    fn default() -> Self {
        Self::utc()
    }
}

impl ReportingZone {
    pub fn utc() -> Self {
        Self {
            name: "UTC".to_owned(),
            zone: jiff::tz::TimeZone::UTC,
        }
    }

    /// Parses an IANA name, as written (`Europe/Berlin`); fixed offsets and POSIX strings are
    /// refused so that a stored name always means a place's rules.
    pub fn parse(name: &str) -> Result<Self, ZoneError> {
        let refused = || ZoneError(name.chars().take(ZONE_NAME_LEN_MAX).collect());
        if name.is_empty()
            || name.len() > ZONE_NAME_LEN_MAX
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-' | b'+'))
        {
            return Err(refused());
        }
        if name == "UTC" {
            return Ok(Self::utc());
        }
        let zone = jiff::tz::db().get(name).map_err(|_| refused())?;
        Ok(Self {
            name: zone.iana_name().unwrap_or(name).to_owned(),
            zone,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The local date `at` falls on.
    pub fn date_of(&self, at: OffsetDateTime) -> Date {
        let seconds = at.unix_timestamp();
        let local = jiff::Timestamp::from_second(seconds)
            .map(|instant| instant.to_zoned(self.zone.clone()).date());
        match local {
            Ok(date) => Date::from_calendar_date(
                i32::from(date.year()),
                time::Month::try_from(date.month().unsigned_abs()).expect("months are 1..=12"),
                date.day().unsigned_abs(),
            )
            .expect("a jiff date is a valid date"),
            // Outside jiff's range (years beyond ±9999): no zone rules there; use UTC.
            Err(_) => at.to_offset(time::UtcOffset::UTC).date(),
        }
    }

    /// The instant `date` begins in this zone (the first instant of the local day; on a day that
    /// starts in a gap, the first instant after it).
    pub fn start_of(&self, date: Date) -> OffsetDateTime {
        let civil = jiff::civil::date(
            i16::try_from(date.year()).expect("dates here are years 1..=9999"),
            i8::try_from(u8::from(date.month())).expect("months fit"),
            i8::try_from(date.day()).expect("days fit"),
        );
        let seconds = civil
            .to_zoned(self.zone.clone())
            .map(|zoned| zoned.timestamp().as_second())
            .unwrap_or_else(|_| date.midnight().assume_utc().unix_timestamp());
        OffsetDateTime::from_unix_timestamp(seconds).expect("a jiff timestamp is in range")
    }
}

impl fmt::Display for ReportingZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    #[test]
    fn names_are_iana_zones_and_days_begin_where_the_zone_says() {
        assert_eq!(ReportingZone::default().name(), "UTC");
        for bad in [
            "",
            "Mars/Base",
            "+05:00",
            "Europe/../etc",
            "UTC ",
            &"A".repeat(65),
        ] {
            assert!(ReportingZone::parse(bad).is_err(), "{bad:?}");
        }
        let berlin = ReportingZone::parse("Europe/Berlin").unwrap();
        assert_eq!(berlin.name(), "Europe/Berlin");
        // 23:30 UTC on 31 Dec is already 1 Jan in Berlin, still 31 Dec in UTC and São Paulo.
        let late = datetime!(2026-12-31 23:30 UTC);
        assert_eq!(berlin.date_of(late), date!(2027 - 01 - 01));
        assert_eq!(ReportingZone::utc().date_of(late), date!(2026 - 12 - 31));
        let sao_paulo = ReportingZone::parse("America/Sao_Paulo").unwrap();
        assert_eq!(
            sao_paulo.date_of(datetime!(2027-01-01 02:00 UTC)),
            date!(2026 - 12 - 31)
        );
        // Kathmandu is 5:45 ahead: whole-hour buckets could not hold its days.
        let kathmandu = ReportingZone::parse("Asia/Kathmandu").unwrap();
        assert_eq!(
            kathmandu.start_of(date!(2026 - 06 - 01)),
            datetime!(2026-05-31 18:15 UTC)
        );
        // A summer day in Berlin begins at 22:00 UTC the day before.
        assert_eq!(
            berlin.start_of(date!(2026 - 07 - 01)),
            datetime!(2026-06-30 22:00 UTC)
        );
    }
}
