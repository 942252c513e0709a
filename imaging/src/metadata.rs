//! Capture time and camera from EXIF (orientation is applied by the shared decoder).

use std::path::Path;

use chrono::{NaiveDateTime, TimeZone, Utc};
use exif::{In, Tag};

/// What a photo's EXIF says about when and with what it was taken.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Metadata {
    /// Unix milliseconds. EXIF times carry no zone unless an offset tag is present; without
    /// one the local clock reading is kept as if it were UTC, so the day shown is right.
    pub taken_at: Option<i64>,
    pub camera: Option<String>,
}

fn text(exif: &exif::Exif, tag: Tag) -> Option<String> {
    let f = exif.get_field(tag, In::PRIMARY)?;
    let s = f.display_value().to_string();
    let s = s.trim().trim_matches('"').trim().to_owned();
    (!s.is_empty()).then_some(s)
}

/// Reads what it can from a file; a file without EXIF (or with broken EXIF) has none.
pub fn read(path: &Path) -> Metadata {
    match std::fs::File::open(path) {
        Ok(file) => read_from(&mut std::io::BufReader::new(file)),
        Err(_) => Metadata::default(),
    }
}

/// The same from any readable bytes (a photo in memory, a fuzzer's input).
pub fn read_from<R: std::io::BufRead + std::io::Seek>(r: &mut R) -> Metadata {
    let Ok(exif) = exif::Reader::new().read_from_container(r) else {
        return Metadata::default();
    };
    let taken_at = [Tag::DateTimeOriginal, Tag::DateTime]
        .into_iter()
        .find_map(|t| exif.get_field(t, In::PRIMARY))
        .and_then(|f| match &f.value {
            exif::Value::Ascii(v) => v.first().cloned(),
            _ => None,
        })
        .and_then(|raw| {
            let s = String::from_utf8_lossy(&raw).into_owned();
            NaiveDateTime::parse_from_str(s.trim(), "%Y:%m:%d %H:%M:%S").ok()
        })
        .map(|naive| {
            let offset = text(&exif, Tag::OffsetTimeOriginal)
                .and_then(|o| chrono::FixedOffset::from_str_offset(&o));
            match offset.and_then(|o| o.from_local_datetime(&naive).single()) {
                Some(t) => t.timestamp_millis(),
                None => Utc.from_utc_datetime(&naive).timestamp_millis(),
            }
        });
    let camera = match (text(&exif, Tag::Make), text(&exif, Tag::Model)) {
        (Some(make), Some(model)) if model.starts_with(&make) => Some(model),
        (Some(make), Some(model)) => Some(format!("{make} {model}")),
        (a, b) => a.or(b),
    };
    Metadata { taken_at, camera }
}

trait FromStrOffset: Sized {
    fn from_str_offset(s: &str) -> Option<Self>;
}

impl FromStrOffset for chrono::FixedOffset {
    /// Parses "+02:00" / "-05:30".
    fn from_str_offset(s: &str) -> Option<Self> {
        let s = s.trim();
        let (sign, rest) = match s.as_bytes().first()? {
            b'+' => (1, &s[1..]),
            b'-' => (-1, &s[1..]),
            _ => return None,
        };
        let (h, m) = rest.split_once(':')?;
        let secs = sign * (h.parse::<i32>().ok()? * 3600 + m.parse::<i32>().ok()? * 60);
        chrono::FixedOffset::east_opt(secs)
    }
}
