//! Durations as people write them in definitions: `90s`, `30m`, `12h`, `2d`, `3w`, `6mo`, `7y`.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Days, Months, NaiveDate, TimeDelta, Utc};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Unit {
    Seconds,
    Minutes,
    Hours,
    Days,
    Weeks,
    Months,
    Years,
}

/// Calendar-aware: `1mo` from 31 January is the last day of February, `1y` from
/// 29 February is 28 February, as retention and review periods are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Duration {
    pub amount: u32,
    pub unit: Unit,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not a duration (write a whole number and a unit: 90s, 30m, 12h, 2d, 3w, 6mo or 7y)"
)]
pub struct DurationError(pub String);

impl FromStr for Duration {
    type Err = DurationError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let trimmed = text.trim();
        let split = trimmed
            .find(|c: char| !c.is_ascii_digit())
            .ok_or_else(|| DurationError(text.to_owned()))?;
        let (number, unit) = trimmed.split_at(split);
        let amount: u32 = number.parse().map_err(|_| DurationError(text.to_owned()))?;
        let unit = match unit.trim() {
            "s" | "sec" | "second" | "seconds" => Unit::Seconds,
            "m" | "min" | "minute" | "minutes" => Unit::Minutes,
            "h" | "hour" | "hours" => Unit::Hours,
            "d" | "day" | "days" => Unit::Days,
            "w" | "week" | "weeks" => Unit::Weeks,
            "mo" | "month" | "months" => Unit::Months,
            "y" | "year" | "years" => Unit::Years,
            _ => return Err(DurationError(text.to_owned())),
        };
        Ok(Self { amount, unit })
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match self.unit {
            Unit::Seconds => "s",
            Unit::Minutes => "m",
            Unit::Hours => "h",
            Unit::Days => "d",
            Unit::Weeks => "w",
            Unit::Months => "mo",
            Unit::Years => "y",
        };
        write!(f, "{}{unit}", self.amount)
    }
}

impl Duration {
    pub const fn years(amount: u32) -> Self {
        Self {
            amount,
            unit: Unit::Years,
        }
    }

    /// `None` only when the result leaves chrono's range (year 262143).
    pub fn add_to(self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.shift(at, true)
    }

    pub fn subtract_from(self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.shift(at, false)
    }

    pub fn add_to_date(self, date: NaiveDate) -> Option<NaiveDate> {
        let at = date.and_hms_opt(0, 0, 0)?.and_utc();
        self.add_to(at).map(|moved| moved.date_naive())
    }

    pub fn subtract_from_date(self, date: NaiveDate) -> Option<NaiveDate> {
        let at = date.and_hms_opt(0, 0, 0)?.and_utc();
        self.subtract_from(at).map(|moved| moved.date_naive())
    }

    fn shift(self, at: DateTime<Utc>, forward: bool) -> Option<DateTime<Utc>> {
        let amount = i64::from(self.amount);
        let exact = |delta: TimeDelta| {
            if forward {
                at.checked_add_signed(delta)
            } else {
                at.checked_sub_signed(delta)
            }
        };
        match self.unit {
            Unit::Seconds => exact(TimeDelta::seconds(amount)),
            Unit::Minutes => exact(TimeDelta::minutes(amount)),
            Unit::Hours => exact(TimeDelta::hours(amount)),
            Unit::Days | Unit::Weeks => {
                let days = if self.unit == Unit::Weeks {
                    Days::new(u64::from(self.amount) * 7)
                } else {
                    Days::new(u64::from(self.amount))
                };
                if forward {
                    at.checked_add_days(days)
                } else {
                    at.checked_sub_days(days)
                }
            }
            Unit::Months | Unit::Years => {
                let months = if self.unit == Unit::Years {
                    Months::new(self.amount.checked_mul(12)?)
                } else {
                    Months::new(self.amount)
                };
                if forward {
                    at.checked_add_months(months)
                } else {
                    at.checked_sub_months(months)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("test date")
    }

    #[test]
    fn parses_every_unit() {
        for (text, amount, unit) in [
            ("90s", 90, Unit::Seconds),
            ("30m", 30, Unit::Minutes),
            ("12h", 12, Unit::Hours),
            ("2d", 2, Unit::Days),
            ("3w", 3, Unit::Weeks),
            ("6mo", 6, Unit::Months),
            ("7y", 7, Unit::Years),
            ("14 days", 14, Unit::Days),
        ] {
            assert_eq!(text.parse(), Ok(Duration { amount, unit }), "{text}");
        }
    }

    #[test]
    fn refuses_what_is_not_a_duration() {
        for text in ["", "d", "14", "2x", "-3d", "1.5d", "fortnight"] {
            assert!(text.parse::<Duration>().is_err(), "{text} should not parse");
        }
    }

    #[test]
    fn months_and_years_follow_the_calendar() {
        let month: Duration = "1mo".parse().expect("duration");
        assert_eq!(
            month.add_to_date(date("2025-01-31")),
            Some(date("2025-02-28"))
        );
        let year: Duration = "1y".parse().expect("duration");
        assert_eq!(
            year.add_to_date(date("2024-02-29")),
            Some(date("2025-02-28"))
        );
        let fortnight: Duration = "2w".parse().expect("duration");
        assert_eq!(
            fortnight.subtract_from_date(date("2025-03-01")),
            Some(date("2025-02-15"))
        );
    }
}
