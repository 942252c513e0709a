//! File names of photos on their way out: into an export folder on the desktop, into the
//! recipient page's zip and downloads on the server. The names were chosen on some device
//! (or by anyone holding the account), so they are reduced to one plain file name that can
//! neither climb out of a folder nor name a device, hide as a dot file or break a header.

/// Names Windows reserves for devices, in any case and with any extension.
const RESERVED: &[&str] = &[
    "con", "prn", "aux", "nul", "com1", "com2", "com3", "com4", "com5", "com6", "com7", "com8",
    "com9", "lpt1", "lpt2", "lpt3", "lpt4", "lpt5", "lpt6", "lpt7", "lpt8", "lpt9",
];
/// Longest name answered, in bytes (file systems allow 255).
pub const MAX_NAME_BYTES: usize = 180;

/// The file extension for a photo's media type.
pub fn extension(content_type: &str) -> &'static str {
    match content_type {
        "image/png" => "png",
        "image/webp" => "webp",
        "image/gif" => "gif",
        "image/bmp" => "bmp",
        "image/tiff" => "tiff",
        "image/heic" => "heic",
        "image/heif" => "heif",
        _ => "jpg",
    }
}

/// A safe file name for a photo: the last component of `name` with separators, control
/// characters and the characters Windows refuses taken out, no leading dots or spaces, no
/// trailing dots or spaces, not a device name, at most [`MAX_NAME_BYTES`], and an extension
/// that matches the content. Falls back to `photo-N.ext`.
pub fn safe_file_name(name: Option<&str>, content_type: &str, n: usize) -> String {
    let ext = extension(content_type);
    let raw = name.unwrap_or_default();
    // Both separators, whatever this platform uses: the name may come from another OS.
    let last = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = last
        .chars()
        .filter(|c| {
            !c.is_control()
                && !matches!(c, '<' | '>' | ':' | '"' | '|' | '?' | '*')
                // Bidirectional overrides make "gpj.exe" look like "exe.jpg".
                && !matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        })
        .collect();
    let trimmed = cleaned
        .trim_start_matches(['.', ' '])
        .trim_end_matches(['.', ' ']);
    let (stem, given_ext) = match trimmed.rsplit_once('.') {
        Some((s, e)) if !s.is_empty() => (s, Some(e.to_ascii_lowercase())),
        _ => (trimmed, None),
    };
    let ext = match given_ext.as_deref() {
        // Keep the person's spelling of a matching extension (JPEG, jpeg, jpg).
        Some(e @ ("jpg" | "jpeg")) if ext == "jpg" => e.to_owned(),
        Some(e @ ("tif" | "tiff")) if ext == "tiff" => e.to_owned(),
        _ => ext.to_owned(),
    };
    let mut stem = stem.to_owned();
    while stem.len() + ext.len() + 1 > MAX_NAME_BYTES {
        stem.pop();
    }
    // Checked on the stem as it will be written: shortening can leave "com9" or dots.
    let stem = stem.trim_end_matches(['.', ' ']);
    if stem.is_empty() || RESERVED.contains(&stem.to_ascii_lowercase().as_str()) {
        return format!("photo-{n}.{ext}");
    }
    format!("{stem}.{ext}")
}

/// Whether `name` is one plain file name as [`safe_file_name`] makes them; the fuzz target
/// and the tests hold every answer to this.
pub fn is_safe_file_name(name: &str) -> bool {
    let stem = name.rsplit_once('.').map_or(name, |(s, _)| s);
    !name.is_empty()
        && name.len() <= MAX_NAME_BYTES
        && !name.starts_with(['.', ' '])
        && !name.ends_with(['.', ' '])
        && !name.contains(['/', '\\', '<', '>', ':', '"', '|', '?', '*'])
        && !name.chars().any(char::is_control)
        && !RESERVED.contains(&stem.to_ascii_lowercase().as_str())
        && name != ".."
}

/// Escapes text for HTML element content and attribute values: the server's email and
/// recipient page, and the desktop's exported gallery.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cannot_leave_the_folder_or_name_devices() {
        let cases = [
            ("../../etc/passwd", "image/jpeg", "passwd.jpg"),
            ("..\\..\\Windows\\win.ini", "image/png", "win.png"),
            ("/abs/path/IMG_1.JPG", "image/jpeg", "IMG_1.jpg"),
            ("..", "image/jpeg", "photo-3.jpg"),
            (".hidden.png", "image/png", "hidden.png"),
            ("CON.jpg", "image/jpeg", "photo-3.jpg"),
            ("lpt1", "image/gif", "photo-3.gif"),
            ("what?*.jpeg", "image/jpeg", "what.jpeg"),
            ("trail. . .", "image/webp", "trail.webp"),
            ("a\u{0}b\nc.jpg", "image/jpeg", "abc.jpg"),
            ("evil.exe", "image/jpeg", "evil.jpg"),
            ("gpj\u{202e}.exe", "image/jpeg", "gpj.jpg"),
            ("noext", "image/tiff", "noext.tiff"),
        ];
        for (given, ty, want) in cases {
            let got = safe_file_name(Some(given), ty, 3);
            assert_eq!(got, want, "{given:?}");
            assert!(is_safe_file_name(&got), "{got:?}");
        }
        assert_eq!(safe_file_name(None, "image/jpeg", 7), "photo-7.jpg");
        let long = "x".repeat(400) + ".jpg";
        assert!(safe_file_name(Some(&long), "image/jpeg", 1).len() <= MAX_NAME_BYTES);
        // Found by the fuzzer: a long name that shortens to a device name.
        let shortened = "com9".to_owned() + &" ".repeat(200) + "x";
        assert_eq!(
            safe_file_name(Some(&shortened), "image/tiff", 1),
            "photo-1.tiff"
        );
        let dots = "a".to_owned() + &".".repeat(300) + "b.jpg";
        assert!(is_safe_file_name(&safe_file_name(
            Some(&dots),
            "image/jpeg",
            1
        )));
    }
}
