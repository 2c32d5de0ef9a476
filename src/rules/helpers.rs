//! Functions rules call in care work: dates, durations and reference tables.
//!
//! Dates travel as ISO text (`2025-03-31`, or RFC 3339 date-times) because
//! that is how they sit in case data and forms; every helper accepts either.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, NaiveTime};
use rhai::{Dynamic, Engine, EvalAltResult, ImmutableString, Position};

use super::data::ReferenceData;
use crate::engine::Duration;

type RhaiResult<T> = Result<T, Box<EvalAltResult>>;

fn fail<T>(message: String) -> RhaiResult<T> {
    Err(Box::new(EvalAltResult::ErrorRuntime(
        message.into(),
        Position::NONE,
    )))
}

/// Reads `2025-03-31` or an RFC 3339 date-time (its date part in UTC).
/// A plain `YYYY-MM-DD` is read digit by digit first: guards read dates on most moves,
/// and chrono parses its pattern each time.
pub fn parse_date(text: &str) -> Option<NaiveDate> {
    let text = text.trim();
    plain_date(text)
        .or_else(|| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok())
        .or_else(|| {
            DateTime::parse_from_rfc3339(text)
                .ok()
                .map(|at| at.naive_utc().date())
        })
}

fn plain_date(text: &str) -> Option<NaiveDate> {
    let bytes = text.as_bytes();
    let shape = bytes.len() == 10
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes
            .iter()
            .enumerate()
            .all(|(index, byte)| index == 4 || index == 7 || byte.is_ascii_digit());
    if !shape {
        return None;
    }
    let number = |range: std::ops::Range<usize>| text[range].parse::<u32>().ok();
    let year = i32::try_from(number(0..4)?).ok()?;
    NaiveDate::from_ymd_opt(year, number(5..7)?, number(8..10)?)
}

fn date_arg(text: &str) -> RhaiResult<NaiveDate> {
    parse_date(text).map_or_else(
        || fail(format!("`{text}` is not a date (expected YYYY-MM-DD)")),
        Ok,
    )
}

fn time_arg(text: &str) -> RhaiResult<NaiveTime> {
    NaiveTime::parse_from_str(text.trim(), "%H:%M")
        .or_else(|_| NaiveTime::parse_from_str(text.trim(), "%H:%M:%S"))
        .map_or_else(
            |_| fail(format!("`{text}` is not a time (expected HH:MM)")),
            Ok,
        )
}

fn duration_arg(text: &str) -> RhaiResult<Duration> {
    text.parse::<Duration>()
        .map_or_else(|error| fail(error.to_string()), Ok)
}

/// `YYYY-MM-DD`, digit by digit: `format!` took about 1,400 instructions, and `today`
/// is read on most moves (chrono's `%Y-%m-%d` also parses its pattern each time).
pub(super) fn iso(day: NaiveDate) -> String {
    use chrono::Datelike;
    let year = day.year();
    if !(0..=9999).contains(&year) {
        return day.format("%Y-%m-%d").to_string();
    }
    let mut text = String::with_capacity(10);
    for (value, width) in [(year.unsigned_abs(), 4), (day.month(), 2), (day.day(), 2)] {
        if !text.is_empty() {
            text.push('-');
        }
        for place in (0..width).rev() {
            let digit = value / 10_u32.pow(place) % 10;
            text.push(char::from_digit(digit, 10).unwrap_or('0'));
        }
    }
    text
}

/// Whole years from `born` to `on`, as an age is counted.
pub fn age_on(born: NaiveDate, on: NaiveDate) -> i64 {
    use chrono::Datelike;
    let mut years = i64::from(on.year() - born.year());
    if (on.month(), on.day()) < (born.month(), born.day()) {
        years -= 1;
    }
    years
}

pub fn register(engine: &mut Engine, data: Arc<ReferenceData>) {
    engine.register_fn("is_date", |text: ImmutableString| {
        parse_date(&text).is_some()
    });
    engine.register_fn("date", |text: ImmutableString| -> RhaiResult<String> {
        date_arg(&text).map(iso)
    });
    engine.register_fn(
        "days_between",
        |from: ImmutableString, to: ImmutableString| -> RhaiResult<i64> {
            Ok((date_arg(&to)? - date_arg(&from)?).num_days())
        },
    );
    engine.register_fn(
        "age_on",
        |born: ImmutableString, on: ImmutableString| -> RhaiResult<i64> {
            Ok(age_on(date_arg(&born)?, date_arg(&on)?))
        },
    );
    engine.register_fn(
        "add_days",
        |date: ImmutableString, days: i64| -> RhaiResult<String> {
            let start = date_arg(&date)?;
            start
                .checked_add_signed(chrono::TimeDelta::days(days))
                .map_or_else(
                    || fail(format!("`{date}` plus {days} days is out of range")),
                    |d| Ok(iso(d)),
                )
        },
    );
    engine.register_fn(
        "add_duration",
        |date: ImmutableString, duration: ImmutableString| -> RhaiResult<String> {
            let moved = duration_arg(&duration)?.add_to_date(date_arg(&date)?);
            moved.map_or_else(
                || fail(format!("`{date}` plus {duration} is out of range")),
                |d| Ok(iso(d)),
            )
        },
    );
    engine.register_fn(
        "subtract_duration",
        |date: ImmutableString, duration: ImmutableString| -> RhaiResult<String> {
            let moved = duration_arg(&duration)?.subtract_from_date(date_arg(&date)?);
            moved.map_or_else(
                || fail(format!("`{date}` minus {duration} is out of range")),
                |d| Ok(iso(d)),
            )
        },
    );
    engine.register_fn(
        "minutes_between",
        |start: ImmutableString, end: ImmutableString| -> RhaiResult<i64> {
            Ok((time_arg(&end)? - time_arg(&start)?).num_minutes())
        },
    );
    let tables = data.clone();
    engine.register_fn(
        "lookup",
        move |table: ImmutableString, key: ImmutableString| -> RhaiResult<Dynamic> {
            match tables.row(&table, &key) {
                Ok(row) => Ok(row.unwrap_or(Dynamic::UNIT)),
                Err(message) => fail(message),
            }
        },
    );
    let tables = data.clone();
    engine.register_fn(
        "has_key",
        move |table: ImmutableString, key: ImmutableString| -> bool {
            matches!(tables.row(&table, &key), Ok(Some(_)))
        },
    );
    let tables = data.clone();
    engine.register_fn(
        "options",
        move |table: ImmutableString| -> RhaiResult<rhai::Array> {
            match tables.choices(&table) {
                Some(choices) => Ok(choices
                    .iter()
                    .map(|choice| Dynamic::from(choice.value.clone()))
                    .collect()),
                None => fail(format!("no reference table `{table}` in rules/data/")),
            }
        },
    );
    engine.register_fn(
        "label",
        move |table: ImmutableString, key: ImmutableString| -> RhaiResult<Dynamic> {
            match data.choices(&table) {
                Some(choices) => Ok(choices
                    .iter()
                    .find(|choice| choice.value == key.as_str())
                    .map_or(Dynamic::UNIT, |choice| choice.label.clone().into())),
                None => fail(format!("no reference table `{table}` in rules/data/")),
            }
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn age_counts_whole_years() {
        let born = parse_date("2012-04-01").expect("date");
        assert_eq!(age_on(born, parse_date("2025-03-31").expect("date")), 12);
        assert_eq!(age_on(born, parse_date("2025-04-01").expect("date")), 13);
    }

    #[test]
    fn a_date_is_read_as_chrono_reads_it() {
        for text in [
            "2025-03-31",
            "0005-01-01",
            "2024-02-29",
            "2025-02-29",
            "2025-13-01",
            "2025-00-10",
            "2025-3-31",
            "25-03-31",
            "+2025-03-31",
            "2025-03-31 ",
            "2025/03/31",
            "２025-03-31",
            "2025-03-31T23:30:00Z",
            "",
            "abcd-ef-gh",
        ] {
            let chrono_only = NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
                .ok()
                .or_else(|| {
                    DateTime::parse_from_rfc3339(text.trim())
                        .ok()
                        .map(|at| at.naive_utc().date())
                });
            assert_eq!(parse_date(text), chrono_only, "{text:?}");
        }
    }

    #[test]
    fn a_day_is_written_as_chrono_writes_it() {
        for (year, month, day) in [
            (2025, 1, 9),
            (5, 12, 31),
            (9999, 12, 31),
            (10_000, 1, 1),
            (-3, 6, 15),
        ] {
            let date = chrono::NaiveDate::from_ymd_opt(year, month, day).expect("a date");
            assert_eq!(iso(date), date.format("%Y-%m-%d").to_string());
        }
    }

    #[test]
    fn dates_read_date_times_too() {
        assert_eq!(parse_date("2025-03-31T23:30:00Z"), parse_date("2025-03-31"));
        assert_eq!(parse_date("2025-02-30"), None);
        assert_eq!(parse_date("31/03/2025"), None);
    }
}
