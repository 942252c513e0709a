//! User text made safe where the server writes it out: HTML element content and attribute
//! values (the email and the recipient page), and file names in `Content-Disposition`.

/// Escapes text for HTML element content and attribute values (shared with the desktop's
/// exported gallery).
pub use protocol::names::html_escape as html;

/// A Content-Disposition value safe for any file name (RFC 6266 with an ASCII fallback).
pub fn content_disposition(kind: &str, name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ' ') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded = percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC);
    format!("{kind}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_disposition_never_carries_quotes_or_newlines_raw() {
        let v = content_disposition("attachment", "a\"b\r\nc.jpg");
        assert!(!v.contains('\n') && !v.contains("a\"b"));
    }
}
