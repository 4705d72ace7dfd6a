//! Points in time as records write them, normalised to UTC with milliseconds.
//!
//! This is the one module that names `chrono`. Parsing is hand-written for the few shapes logs use
//! (RFC 3339, ISO 8601 with a space, a comma before the fraction, no offset meaning UTC), because
//! trying a list of format strings per record would cost more than classifying the record.

use std::fmt;

use chrono::{DateTime, Datelike, Months, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};

/// A UTC instant with millisecond precision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(DateTime<Utc>);

/// Epoch numbers above this are milliseconds, below it seconds (10^11 s is the year 5138).
const EPOCH_MILLIS_THRESHOLD: f64 = 1e11;

impl Timestamp {
    pub fn from_unix_millis(millis: i64) -> Option<Timestamp> {
        DateTime::from_timestamp_millis(millis).map(Timestamp)
    }

    pub fn now() -> Timestamp {
        Timestamp(Utc::now())
    }

    pub fn unix_millis(self) -> i64 {
        self.0.timestamp_millis()
    }

    /// Reads an epoch number: seconds, or milliseconds when above 10^11.
    pub fn from_epoch_number(number: f64) -> Option<Timestamp> {
        if !number.is_finite() {
            return None;
        }
        let millis = if number.abs() > EPOCH_MILLIS_THRESHOLD { number } else { number * 1000.0 };
        // Out of chrono's range; the cast saturates, and from_timestamp_millis refuses the extremes.
        if millis.abs() > 8.0e15 {
            return None;
        }
        Timestamp::from_unix_millis(millis.round() as i64)
    }

    /// Reads a whole field value: a date-time stamp, or an epoch number written as a string.
    pub fn parse_field(text: &str) -> Option<Timestamp> {
        let text = text.trim();
        if let Some((stamp, used)) = parse_stamp_prefix(text.as_bytes()) {
            return text.get(used..).filter(|rest| rest.trim().is_empty()).map(|_| stamp);
        }
        if !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit() || byte == b'.') {
            return text.parse::<f64>().ok().and_then(Timestamp::from_epoch_number);
        }
        None
    }

    /// Reads a stamp at the very start of a text line, also inside `[...]`.
    pub fn parse_leading(text: &str) -> Option<Timestamp> {
        let bytes = text.trim_start().as_bytes();
        let bytes = bytes.strip_prefix(b"[").unwrap_or(bytes);
        let (stamp, used) = parse_stamp_prefix(bytes)?;
        // "2026-11-26T10:00:01Z7" is not a stamp followed by text.
        match bytes.get(used) {
            Some(next) if next.is_ascii_alphanumeric() => None,
            _ => Some(stamp),
        }
    }

    /// Reads an HTTP date, as Retry-After may carry, in any of the three forms HTTP allows
    /// (RFC 9110, 5.6.7): `Sun, 06 Nov 1994 08:49:37 GMT`, `Sunday, 06-Nov-94 08:49:37 GMT` and
    /// `Sun Nov  6 08:49:37 1994`.
    pub fn parse_http_date(text: &str) -> Option<HttpDate> {
        let text = text.trim();
        if let Ok(date) = DateTime::parse_from_rfc2822(text) {
            return Some(HttpDate::Whole(Timestamp(date.with_timezone(&Utc))));
        }
        parse_rfc850(text).or_else(|| parse_asctime(text))
    }

    /// `2026-11-26T10:00:01.123Z`, written without the formatting machinery: reports write one
    /// per line.
    pub fn rfc3339_millis(self) -> [u8; 24] {
        use chrono::{Datelike, Timelike};
        let naive = self.0.naive_utc();
        let (date, time) = (naive.date(), naive.time());
        let mut out = *b"0000-00-00T00:00:00.000Z";
        let mut put = |range: std::ops::Range<usize>, mut value: u32| {
            for slot in out.get_mut(range).unwrap_or_default().iter_mut().rev() {
                *slot = b'0' + (value % 10) as u8;
                value /= 10;
            }
        };
        // Years outside 0..=9999 cannot be written in this form; they are clamped.
        put(0..4, date.year().clamp(0, 9999) as u32);
        put(5..7, date.month());
        put(8..10, date.day());
        put(11..13, time.hour());
        put(14..16, time.minute());
        put(17..19, time.second());
        put(20..23, (time.nanosecond() / 1_000_000).min(999));
        out
    }

    /// Seconds from `self` to `later`, as a decimal.
    pub fn seconds_until(self, later: Timestamp) -> f64 {
        (later.0 - self.0).num_milliseconds() as f64 / 1000.0
    }

    /// The IMF-fixdate a `Retry-After` header carries, to the second:
    /// `Wed, 21 Oct 2026 07:28:00 GMT`.
    pub fn http_date(self) -> String {
        self.0.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
    }
}

/// An HTTP date as read. RFC 850's form writes its year with two digits, so the century is
/// decided by when the date was received.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HttpDate {
    Whole(Timestamp),
    TwoDigitYear { year: i32, month: u32, day: u32, time: NaiveTime, weekday: Weekday },
}

/// Years ahead of its receipt beyond which a two-digit year is read in the century before.
const TWO_DIGIT_YEAR_AHEAD: u32 = 50;

impl HttpDate {
    /// The instant, as a recipient reads it at `received`: a two-digit year that would put the
    /// date more than 50 years after `received` is the most recent such year before it. None
    /// when the day does not exist that year or its weekday is another.
    pub fn received_at(self, received: Timestamp) -> Option<Timestamp> {
        let (year, month, day, time, weekday) = match self {
            HttpDate::Whole(at) => return Some(at),
            HttpDate::TwoDigitYear { year, month, day, time, weekday } => (year, month, day, time, weekday),
        };
        let latest = received.0.naive_utc().checked_add_months(Months::new(TWO_DIGIT_YEAR_AHEAD * 12))?;
        let mut full_year = latest.year().div_euclid(100) * 100 + year;
        if (full_year, month, day, time) > (latest.year(), latest.month(), latest.day(), latest.time()) {
            full_year -= 100;
        }
        let date = NaiveDate::from_ymd_opt(full_year, month, day).filter(|date| date.weekday() == weekday)?;
        Some(Timestamp(Utc.from_utc_datetime(&date.and_time(time))))
    }

    /// The HTTP date `text` starts with, in any of its forms, as text.
    pub fn prefix_of(text: &str) -> Option<&str> {
        // RFC 850's weekday is written in full, between six and nine letters, then a comma.
        let rfc850 = text.bytes().take(10).position(|byte| byte == b',').filter(|comma| *comma >= 6);
        let lengths =
            [Some(IMF_FIXDATE_LENGTH), rfc850.map(|comma| comma + RFC850_AFTER_WEEKDAY), Some(ASCTIME_LENGTH)];
        lengths
            .into_iter()
            .flatten()
            .filter_map(|length| text.get(..length))
            .find(|date| Timestamp::parse_http_date(date).is_some())
    }
}

/// `Sun, 06 Nov 1994 08:49:37 GMT`.
const IMF_FIXDATE_LENGTH: usize = 29;
/// `, 06-Nov-94 08:49:37 GMT`.
const RFC850_AFTER_WEEKDAY: usize = 24;
/// `Sun Nov  6 08:49:37 1994`.
const ASCTIME_LENGTH: usize = 24;

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const WEEKDAYS: [(&str, Weekday); 7] = [
    ("Monday", Weekday::Mon),
    ("Tuesday", Weekday::Tue),
    ("Wednesday", Weekday::Wed),
    ("Thursday", Weekday::Thu),
    ("Friday", Weekday::Fri),
    ("Saturday", Weekday::Sat),
    ("Sunday", Weekday::Sun),
];

/// `Sunday, 06-Nov-94 08:49:37 GMT`.
fn parse_rfc850(text: &str) -> Option<HttpDate> {
    let (weekday, rest) = text.split_once(", ")?;
    let weekday = WEEKDAYS.iter().find(|(name, _)| *name == weekday)?.1;
    let mut words = rest.split(' ');
    let (date, time, zone) = (words.next()?, words.next()?, words.next()?);
    if words.next().is_some() || zone != "GMT" {
        return None;
    }
    let mut parts = date.split('-');
    let (day, month, year) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || day.len() != 2 || year.len() != 2 {
        return None;
    }
    Some(HttpDate::TwoDigitYear {
        year: digits(year)? as i32,
        month: month_number(month)?,
        day: digits(day)?,
        time: parse_time(time)?,
        weekday,
    })
}

/// `Sun Nov  6 08:49:37 1994`: a day below ten is padded with a space.
fn parse_asctime(text: &str) -> Option<HttpDate> {
    let (weekday, month, day, time, year) =
        (text.get(..3)?, text.get(3..8)?, text.get(8..10)?, text.get(10..20)?, text.get(20..)?);
    let weekday = WEEKDAYS.iter().find(|(name, _)| name.get(..3) == Some(weekday))?.1;
    let month = month_number(month.strip_prefix(' ')?.strip_suffix(' ')?)?;
    let day = digits(day.strip_prefix(' ').unwrap_or(day))?;
    let time = parse_time(time.strip_prefix(' ')?.strip_suffix(' ')?)?;
    if year.len() != 4 {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(digits(year)? as i32, month, day).filter(|date| date.weekday() == weekday)?;
    Some(HttpDate::Whole(Timestamp(Utc.from_utc_datetime(&date.and_time(time)))))
}

fn month_number(name: &str) -> Option<u32> {
    MONTHS.iter().position(|month| *month == name).map(|index| index as u32 + 1)
}

/// `08:49:37`.
fn parse_time(text: &str) -> Option<NaiveTime> {
    let mut parts = text.split(':');
    let (hour, minute, second) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || [hour, minute, second].iter().any(|part| part.len() != 2) {
        return None;
    }
    NaiveTime::from_hms_opt(digits(hour)?, digits(minute)?, digits(second)?)
}

/// A number written only with ASCII digits: no sign, no spaces.
fn digits(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

impl fmt::Display for Timestamp {
    /// RFC 3339 in UTC with milliseconds: `2026-11-26T10:00:01.123Z`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match std::str::from_utf8(&self.rfc3339_millis()) {
            Ok(text) => f.write_str(text),
            Err(_) => Err(fmt::Error),
        }
    }
}

/// Parses `YYYY-MM-DD[T ]HH:MM[:SS][(.|,)fraction][Z| UTC|±HH[:]MM]` at the start of `bytes` and
/// returns the instant with the number of bytes used. A stamp without a year never matches.
fn parse_stamp_prefix(bytes: &[u8]) -> Option<(Timestamp, usize)> {
    let mut cursor = Cursor { bytes, position: 0 };
    let year = cursor.digits(4)?;
    cursor.expect_one_of(b"-/")?;
    let month = cursor.digits(2)?;
    cursor.expect_one_of(b"-/")?;
    let day = cursor.digits(2)?;
    cursor.expect_one_of(b"T t")?;
    let hour = cursor.digits(2)?;
    cursor.expect_one_of(b":")?;
    let minute = cursor.digits(2)?;
    let second = if cursor.peek() == Some(b':') {
        cursor.position += 1;
        cursor.digits(2)?
    } else {
        0
    };
    let mut nanos: u32 = 0;
    if matches!(cursor.peek(), Some(b'.' | b',')) && cursor.peek_at(1).is_some_and(|b| b.is_ascii_digit()) {
        cursor.position += 1;
        let mut scale = 100_000_000u32;
        while let Some(digit) = cursor.peek().filter(u8::is_ascii_digit) {
            nanos += u32::from(digit - b'0') * scale;
            scale /= 10;
            cursor.position += 1;
        }
    }
    let offset_seconds = cursor.offset()?;
    let date = NaiveDate::from_ymd_opt(year as i32, month, day)?;
    // A leap second (":60") is clamped rather than refused: the record is still worth its minute.
    let time = date.and_hms_nano_opt(hour, minute, second.min(59), nanos)?;
    let local = Utc.from_utc_datetime(&time);
    let utc = if offset_seconds == 0 { local } else { local - chrono::Duration::seconds(i64::from(offset_seconds)) };
    Some((Timestamp(utc), cursor.position))
}

struct Cursor<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.position).copied()
    }

    fn peek_at(&self, ahead: usize) -> Option<u8> {
        self.bytes.get(self.position + ahead).copied()
    }

    fn digits(&mut self, count: usize) -> Option<u32> {
        let slice = self.bytes.get(self.position..self.position + count)?;
        let mut value = 0u32;
        for &byte in slice {
            if !byte.is_ascii_digit() {
                return None;
            }
            value = value * 10 + u32::from(byte - b'0');
        }
        self.position += count;
        Some(value)
    }

    fn expect_one_of(&mut self, allowed: &[u8]) -> Option<()> {
        let byte = self.peek()?;
        if allowed.contains(&byte) {
            self.position += 1;
            Some(())
        } else {
            None
        }
    }

    /// The UTC offset in seconds; no offset at all means UTC.
    fn offset(&mut self) -> Option<i32> {
        match self.peek() {
            Some(b'Z' | b'z') => {
                self.position += 1;
                Some(0)
            }
            Some(sign @ (b'+' | b'-')) if self.peek_at(1).is_some_and(|b| b.is_ascii_digit()) => {
                self.position += 1;
                let hours = self.digits(2)?;
                if self.peek() == Some(b':') {
                    self.position += 1;
                }
                let minutes = self.digits(2).unwrap_or(0);
                if hours > 23 || minutes > 59 {
                    return None;
                }
                let seconds = (hours * 3600 + minutes * 60) as i32;
                Some(if sign == b'-' { -seconds } else { seconds })
            }
            Some(b' ') if self.bytes.get(self.position..self.position + 4) == Some(b" UTC") => {
                self.position += 4;
                Some(0)
            }
            _ => Some(0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_field(input: &str, expected: Option<&str>) {
        let actual = Timestamp::parse_field(input).map(|stamp| stamp.to_string());
        assert_eq!(actual.as_deref(), expected, "input: {input:?}");
    }

    #[track_caller]
    fn check_leading(input: &str, expected: Option<&str>) {
        let actual = Timestamp::parse_leading(input).map(|stamp| stamp.to_string());
        assert_eq!(actual.as_deref(), expected, "input: {input:?}");
    }

    #[test]
    fn field_stamps_are_normalised_to_utc_milliseconds() {
        check_field("2026-11-26T10:00:01Z", Some("2026-11-26T10:00:01.000Z"));
        check_field("2026-11-26T10:00:01.123456Z", Some("2026-11-26T10:00:01.123Z"));
        check_field("2026-11-26 10:00:00Z", Some("2026-11-26T10:00:00.000Z"));
        check_field("2026-11-26T12:00:01+02:00", Some("2026-11-26T10:00:01.000Z"));
        check_field("2026-11-26T05:00:01-0500", Some("2026-11-26T10:00:01.000Z"));
        check_field("2026-11-26 10:00:10,250", Some("2026-11-26T10:00:10.250Z"));
        check_field("2026-11-26T10:00:01", Some("2026-11-26T10:00:01.000Z"));
        check_field("2026/11/26 10:00", Some("2026-11-26T10:00:00.000Z"));
        check_field("2026-11-26 10:00:00 UTC", Some("2026-11-26T10:00:00.000Z"));
    }

    #[test]
    fn epoch_numbers_are_seconds_or_milliseconds() {
        check_field("1795000000", Some("2026-11-18T11:06:40.000Z"));
        check_field("1795000000123", Some("2026-11-18T11:06:40.123Z"));
        check_field("1795000000.5", Some("2026-11-18T11:06:40.500Z"));
        assert_eq!(Timestamp::from_epoch_number(f64::NAN), None);
        assert_eq!(Timestamp::from_epoch_number(1e300), None);
    }

    #[test]
    fn nonsense_is_not_a_time() {
        check_field("", None);
        check_field("Nov 26 10:00:01", None);
        check_field("2026-13-26T10:00:01Z", None);
        check_field("2026-02-30T10:00:01Z", None);
        check_field("2026-11-26T25:00:01Z", None);
        check_field("2026-11-26T10:00:01Z trailing", None);
        check_field("yesterday", None);
    }

    #[test]
    fn leading_stamps_start_a_text_line() {
        check_leading("2026-11-26T10:00:04.123Z ERROR mde_client", Some("2026-11-26T10:00:04.123Z"));
        check_leading("[2022-03-01 12:35:37] [Error] :: failed", Some("2022-03-01T12:35:37.000Z"));
        check_leading("2026-11-26 10:00:10 INFO fetched 25 alerts", Some("2026-11-26T10:00:10.000Z"));
        check_leading("Nov 26 10:00:10 host app[123]: failed", None);
        check_leading("ERROR 2026-11-26 10:00:10", None);
    }

    #[test]
    fn http_dates_and_differences() {
        let base = Timestamp::parse_field("2026-10-21T07:27:48Z").unwrap();
        let later = Timestamp::parse_http_date("Wed, 21 Oct 2026 07:28:00 GMT").unwrap().received_at(base).unwrap();
        assert_eq!(base.seconds_until(later), 12.0);
        assert_eq!(Timestamp::parse_http_date("not a date"), None);
        assert_eq!(later.http_date(), "Wed, 21 Oct 2026 07:28:00 GMT");
        assert_eq!(Timestamp::parse_http_date(&base.http_date()), Some(HttpDate::Whole(base)));
    }

    /// The date read from `text` by a recipient at `received`.
    fn check_http_date(text: &str, received: &str, expected: Option<&str>) {
        let received = Timestamp::parse_field(received).unwrap();
        let read = Timestamp::parse_http_date(text).and_then(|date| date.received_at(received));
        assert_eq!(read.map(|at| at.to_string()).as_deref(), expected, "{text:?} received at {received}");
    }

    #[test]
    fn http_dates_in_every_form() {
        let received = "2026-10-21T07:27:48Z";
        let cases = [
            ("Sun, 06 Nov 1994 08:49:37 GMT", Some("1994-11-06T08:49:37.000Z")),
            ("Sunday, 06-Nov-94 08:49:37 GMT", Some("1994-11-06T08:49:37.000Z")),
            ("Sun Nov  6 08:49:37 1994", Some("1994-11-06T08:49:37.000Z")),
            ("Wed, 21 Oct 2026 07:28:00 GMT", Some("2026-10-21T07:28:00.000Z")),
            ("Wednesday, 21-Oct-26 07:28:00 GMT", Some("2026-10-21T07:28:00.000Z")),
            ("Wed Oct 21 07:28:00 2026", Some("2026-10-21T07:28:00.000Z")),
            (" Wed Oct 21 07:28:00 2026 ", Some("2026-10-21T07:28:00.000Z")),
            // RFC 850: a weekday in short, a four-digit year, a day of one digit, another zone.
            ("Sun, 06-Nov-94 08:49:37 GMT", None),
            ("Sunday, 06-Nov-1994 08:49:37 GMT", None),
            ("Sunday, 6-Nov-94 08:49:37 GMT", None),
            ("Sunday, 06-Nov-94 08:49:37 UTC", None),
            ("Sunday, 06-Nov-94 08:49:37", None),
            ("Sunday, 06-Nov-94 08:49:37 GMT later", None),
            ("Sunday, 06-nov-94 08:49:37 GMT", None),
            ("Sunday, 06-Nov-+4 08:49:37 GMT", None),
            ("Monday, 06-Nov-94 08:49:37 GMT", None),
            ("Sunday, 06-Nov-94 8:49:37 GMT", None),
            // asctime: a day not padded, a two-digit year, a zone, a day or hour that does not exist.
            ("Sun Nov 6 08:49:37 1994", None),
            ("Sun Nov  6 08:49:37 94", None),
            ("Sun Nov  6 08:49:37 1994 GMT", None),
            ("Sun Nov 31 08:49:37 1994", None),
            ("Sun Nov  6 24:49:37 1994", None),
            ("Mon Nov  6 08:49:37 1994", None),
            ("Sunday Nov  6 08:49:37 1994", None),
            ("Sun Nov  6 08:49:37 1994x", None),
            ("", None),
        ];
        for (text, expected) in cases {
            check_http_date(text, received, expected);
        }
    }

    /// RFC 9110, 5.6.7: a two-digit year more than 50 years after the date is received is the
    /// most recent such year before it.
    #[test]
    fn two_digit_years_fall_within_fifty_years_ahead_of_receipt() {
        let cases = [
            ("Wednesday, 21-Oct-76 07:27:48 GMT", "2026-10-21T07:27:48Z", Some("2076-10-21T07:27:48.000Z")),
            ("Friday, 22-Oct-76 07:27:48 GMT", "2026-10-21T07:27:48Z", Some("1976-10-22T07:27:48.000Z")),
            // The weekday of the year it would be without the rule.
            ("Thursday, 22-Oct-76 07:27:48 GMT", "2026-10-21T07:27:48Z", None),
            ("Friday, 31-Dec-99 23:59:59 GMT", "2026-10-21T07:27:48Z", Some("1999-12-31T23:59:59.000Z")),
            ("Saturday, 06-Nov-94 08:49:37 GMT", "2080-01-01T00:00:00Z", Some("2094-11-06T08:49:37.000Z")),
            ("Sunday, 06-Nov-94 08:49:37 GMT", "1990-01-01T00:00:00Z", Some("1994-11-06T08:49:37.000Z")),
            // A day that exists in one century only.
            ("Tuesday, 29-Feb-00 12:00:00 GMT", "2026-10-21T07:27:48Z", Some("2000-02-29T12:00:00.000Z")),
            ("Thursday, 29-Feb-00 12:00:00 GMT", "1900-01-01T00:00:00Z", None),
        ];
        for (text, received, expected) in cases {
            check_http_date(text, received, expected);
        }
    }

    #[test]
    fn http_dates_are_found_at_the_start_of_text() {
        let check = |text: &str, expected: Option<&str>| assert_eq!(HttpDate::prefix_of(text), expected, "{text:?}");
        check("Sun, 06 Nov 1994 08:49:37 GMT, then more", Some("Sun, 06 Nov 1994 08:49:37 GMT"));
        check("Sunday, 06-Nov-94 08:49:37 GMT\nnext", Some("Sunday, 06-Nov-94 08:49:37 GMT"));
        check("Wednesday, 21-Oct-26 07:28:00 GMT body", Some("Wednesday, 21-Oct-26 07:28:00 GMT"));
        check("Sun Nov  6 08:49:37 1994 body", Some("Sun Nov  6 08:49:37 1994"));
        check("Sun Nov  6 08:49:37 199", None);
        check("soon, please", None);
    }
}
