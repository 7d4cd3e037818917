//! When a month closes for a wallet: the first instant of the next month in its reporting time
//! zone. `statement.monthly_ready` is announced once per account and month, after that instant.

use time::{Date, Month, OffsetDateTime};

use crate::wallet::zone::ReportingZone;

/// A calendar month, `YYYY-MM` on the wire and in event ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct StatementMonth {
    pub year: i32,
    pub month: Month,
}

impl StatementMonth {
    /// The month `at` falls in, in `zone`.
    pub fn containing(zone: &ReportingZone, at: OffsetDateTime) -> Self {
        let date = zone.date_of(at);
        Self {
            year: date.year(),
            month: date.month(),
        }
    }

    pub fn next(self) -> Self {
        let year = if self.month == Month::December {
            self.year + 1
        } else {
            self.year
        };
        Self {
            year,
            month: self.month.next(),
        }
    }

    /// The instant the month closes in `zone`: the next month's first day begins.
    pub fn closes_at(self, zone: &ReportingZone) -> OffsetDateTime {
        let next = self.next();
        let first = Date::from_calendar_date(next.year, next.month, 1)
            .expect("the first of a month is a date");
        zone.start_of(first)
    }

    pub fn label(self) -> String {
        format!("{:04}-{:02}", self.year, u8::from(self.month))
    }

    pub fn parse(text: &str) -> Option<Self> {
        let (year, month) = text.split_once('-')?;
        if year.len() != 4 || month.len() != 2 {
            return None;
        }
        let month = Month::try_from(month.parse::<u8>().ok()?).ok()?;
        Some(Self {
            year: year.parse().ok()?,
            month,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn a_month_closes_at_the_next_month_s_first_instant_in_the_zone() {
        let tokyo = ReportingZone::parse("Asia/Tokyo").unwrap();
        let january = StatementMonth::containing(&tokyo, datetime!(2026-01-31 14:59:59 UTC));
        assert_eq!(january.label(), "2026-01");
        assert_eq!(january.closes_at(&tokyo), datetime!(2026-01-31 15:00 UTC));
        assert_eq!(
            StatementMonth::containing(&tokyo, datetime!(2026-01-31 15:00 UTC)).label(),
            "2026-02"
        );
        let december = StatementMonth::parse("2026-12").unwrap();
        assert_eq!(december.next().label(), "2027-01");
        assert_eq!(
            december.closes_at(&ReportingZone::utc()),
            datetime!(2027-01-01 0:00 UTC)
        );
        assert_eq!(StatementMonth::parse("2026-13"), None);
        assert_eq!(StatementMonth::parse("26-01"), None);
    }
}
