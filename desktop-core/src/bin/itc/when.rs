//! Dates as people type them: a day (midnight where they are), a day and a time, an exact
//! RFC 3339 instant, or a span from now; and instants shown back in a capsule's own zone.

use chrono::{DateTime, Duration, LocalResult, Months, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

/// The zone this computer is set to, as an IANA name (UTC where it cannot be told).
pub fn local_zone() -> String {
    iana_time_zone::get_timezone()
        .ok()
        .filter(|z| z.parse::<Tz>().is_ok())
        .unwrap_or_else(|| "UTC".into())
}

/// An IANA zone by name.
pub fn zone(name: &str) -> Result<Tz, String> {
    name.trim().parse::<Tz>().map_err(|_| {
        format!("“{name}” is not a time zone; use an IANA name such as Europe/Paris or UTC.")
    })
}

/// `when` as an instant: `YYYY-MM-DD` is midnight in `tz`, `YYYY-MM-DDTHH:MM` that time in
/// `tz`, an RFC 3339 string that instant, `+N<unit>` that long after `now`.
pub fn parse(when: &str, tz: Tz, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let w = when.trim();
    if let Some(span) = w.strip_prefix('+') {
        return after(span, now, tz).ok_or_else(|| {
            format!(
                "“{w}” is not a span from now; write it like +30d, +2w, +6mo, +5y, +12h, +90min or +45s."
            )
        });
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(w) {
        return Ok(t.with_timezone(&Utc));
    }
    let naive = if let Ok(d) = NaiveDate::parse_from_str(w, "%Y-%m-%d") {
        d.and_hms_opt(0, 0, 0)
    } else {
        ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"]
            .iter()
            .find_map(|f| NaiveDateTime::parse_from_str(w, f).ok())
    };
    let naive = naive.ok_or_else(|| {
        format!("“{w}” is not a date; write it like 2030-01-01, 2030-01-01T09:30 or +5y.")
    })?;
    in_zone(naive, tz).ok_or_else(|| format!("{w} does not exist in {tz} (the clocks skip it)."))
}

/// A wall-clock time in `tz`; on a clock change that repeats an hour, the first of the two.
fn in_zone(naive: NaiveDateTime, tz: Tz) -> Option<DateTime<Utc>> {
    match tz.from_local_datetime(&naive) {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => Some(t.with_timezone(&Utc)),
        LocalResult::None => None,
    }
}

fn after(span: &str, now: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
    let split = span.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = span.split_at(split);
    let n: u32 = n.parse().ok()?;
    let exact = |d: Duration| now.checked_add_signed(d);
    // Months and years follow the calendar where the person is (the same day next year).
    let calendar = |months: u32| {
        let local = now.with_timezone(&tz).naive_local();
        in_zone(local.checked_add_months(Months::new(months))?, tz)
    };
    match unit {
        "s" => exact(Duration::seconds(n.into())),
        "min" => exact(Duration::minutes(n.into())),
        "h" => exact(Duration::hours(n.into())),
        "d" => exact(Duration::days(n.into())),
        "w" => exact(Duration::weeks(n.into())),
        "mo" => calendar(n),
        "y" => calendar(n.checked_mul(12)?),
        _ => None,
    }
}

/// An instant as a person reads it in `zone`: `2030-01-01 00:00 (Europe/Paris)`.
pub fn show(at: DateTime<Utc>, zone_name: &str) -> String {
    match zone(zone_name) {
        Ok(tz) => format!(
            "{} ({zone_name})",
            at.with_timezone(&tz).format("%Y-%m-%d %H:%M")
        ),
        Err(_) => format!("{} (UTC)", at.format("%Y-%m-%d %H:%M")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-12-02T10:15:00Z".parse().expect("instant")
    }

    #[test]
    fn a_day_is_midnight_in_the_zone() {
        let paris = zone("Europe/Paris").expect("zone");
        let t = parse("2030-01-01", paris, now()).expect("date");
        assert_eq!(t.to_rfc3339(), "2029-12-31T23:00:00+00:00");
    }

    #[test]
    fn a_day_and_time_and_an_exact_instant() {
        let ny = zone("America/New_York").expect("zone");
        assert_eq!(
            parse("2030-07-04T09:30", ny, now())
                .expect("time")
                .to_rfc3339(),
            "2030-07-04T13:30:00+00:00"
        );
        assert_eq!(
            parse("2030-07-04T09:30:00+02:00", ny, now())
                .expect("rfc3339")
                .to_rfc3339(),
            "2030-07-04T07:30:00+00:00"
        );
    }

    #[test]
    fn spans_from_now_follow_the_calendar_for_months_and_years() {
        let utc = zone("UTC").expect("zone");
        assert_eq!(
            parse("+30d", utc, now()).expect("days"),
            now() + Duration::days(30)
        );
        assert_eq!(
            parse("+45s", utc, now()).expect("secs"),
            now() + Duration::seconds(45)
        );
        assert_eq!(
            parse("+5y", utc, now()).expect("years").to_rfc3339(),
            "2031-12-02T10:15:00+00:00"
        );
        assert_eq!(
            parse("+2mo", utc, now()).expect("months").to_rfc3339(),
            "2027-02-02T10:15:00+00:00"
        );
    }

    #[test]
    fn nonsense_gets_a_sentence_that_shows_the_forms() {
        let utc = zone("UTC").expect("zone");
        for bad in ["tomorrow", "+5m", "+d", "2030-13-01", "+99999999999y"] {
            let e = parse(bad, utc, now()).expect_err(bad);
            assert!(e.contains("like"), "{bad}: {e}");
        }
        assert!(zone("Mars/Olympus").is_err());
    }

    #[test]
    fn a_time_the_clocks_skip_is_refused() {
        let paris = zone("Europe/Paris").expect("zone");
        let e = parse("2030-03-31T02:30", paris, now()).expect_err("gap");
        assert!(e.contains("does not exist"), "{e}");
    }
}
