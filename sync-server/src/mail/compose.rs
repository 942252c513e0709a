//! The email a recipient gets when a capsule opens. User text (title, note, addresses)
//! appears only in the bodies, escaped for HTML; headers carry only what the server made.

use chrono::{DateTime, Utc};
use lettre::Message;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};

use super::MailError;
use super::headers::{ListUnsubscribe, OneClick};
use crate::escape;

/// Most thumbnails placed inline in one email; the page shows them all.
pub const MAX_INLINE_PHOTOS: usize = 12;

/// Everything one email says.
#[derive(Debug, Clone)]
pub struct CapsuleEmail<'a> {
    pub delivery_id: &'a str,
    pub from: &'a Mailbox,
    pub to: &'a str,
    pub to_owner: bool,
    pub owner_email: &'a str,
    pub title: &'a str,
    pub note: &'a str,
    pub sealed_at: Option<DateTime<Utc>>,
    pub opened_at: DateTime<Utc>,
    pub photo_count: usize,
    /// JPEG thumbnails (server-made, no metadata), at most [`MAX_INLINE_PHOTOS`].
    pub thumbnails: Vec<Vec<u8>>,
    pub link: &'a str,
    pub link_expires_at: DateTime<Utc>,
    /// The one-click link that stops reminders to this address.
    pub unsubscribe: &'a str,
}

pub(super) fn day(t: DateTime<Utc>) -> String {
    t.format("%-d %B %Y").to_string()
}

/// Builds the message.
pub fn build(e: &CapsuleEmail<'_>) -> Result<Message, MailError> {
    let to: Mailbox =
        e.to.parse()
            .map_err(|err| MailError::Build(format!("recipient address: {err}")))?;
    let sealed = e.sealed_at.map_or_else(|| "some time ago".to_owned(), day);
    // No user text in the subject: only the server's own words and a date.
    let subject = if e.to_owner {
        format!("Your time capsule sealed on {sealed} has opened")
    } else {
        format!("A time capsule sealed on {sealed} has opened for you")
    };
    let intro = if e.to_owner {
        format!("The time capsule you sealed on {sealed} has opened.")
    } else {
        format!(
            "{} sealed a time capsule for you on {sealed}. Today it opened.",
            e.owner_email
        )
    };
    let photos_line = match e.photo_count {
        0 => "It holds a note.".to_owned(),
        1 => "It holds 1 photo.".to_owned(),
        n => format!("It holds {n} photos."),
    };
    let expires = day(e.link_expires_at);
    let text = format!(
        "{intro}\n\n“{title}”\n\n{note}\n\n{photos_line}\nSee and download everything here \
         (link valid until {expires}):\n{link}\n\n— Image Time Capsule\n",
        title = e.title,
        note = e.note,
        link = e.link
    );
    let mut figures = String::new();
    for i in 0..e.thumbnails.len() {
        figures.push_str(&format!(
            "<img src=\"cid:photo{i}\" alt=\"Photo {n}\" width=\"160\" \
             style=\"width:160px;height:auto;margin:4px;border-radius:6px\">",
            n = i + 1
        ));
    }
    let more = e.photo_count.saturating_sub(e.thumbnails.len());
    let more = if more > 0 {
        format!("<p style=\"color:#555\">and {more} more on the capsule's page.</p>")
    } else {
        String::new()
    };
    let html = format!(
        "<!doctype html><html><body style=\"font-family:-apple-system,Segoe UI,Roboto,sans-serif;\
         color:#1d1d1f;max-width:640px;margin:auto;padding:24px\">\
         <p>{intro}</p>\
         <h1 style=\"font-size:24px;margin:16px 0\">{title}</h1>\
         <p style=\"white-space:pre-wrap;line-height:1.5\">{note}</p>\
         <div>{figures}</div>{more}\
         <p>{photos_line}</p>\
         <p><a href=\"{link}\" style=\"display:inline-block;background:#3b5bdb;color:#fff;\
         padding:12px 20px;border-radius:8px;text-decoration:none\">Open the capsule</a></p>\
         <p style=\"color:#777;font-size:13px\">The link works until {expires}. \
         Opened on {opened}.</p></body></html>",
        intro = escape::html(&intro),
        title = escape::html(e.title),
        note = escape::html(e.note),
        photos_line = escape::html(&photos_line),
        link = escape::html(e.link),
        opened = day(e.opened_at),
    );
    let mut related = MultiPart::related().singlepart(SinglePart::html(html));
    for (i, bytes) in e.thumbnails.iter().enumerate() {
        related = related.singlepart(Attachment::new_inline(format!("photo{i}")).body(
            bytes.clone(),
            ContentType::parse("image/jpeg").map_err(|err| MailError::Build(err.to_string()))?,
        ));
    }
    let body = MultiPart::alternative()
        .singlepart(SinglePart::plain(text))
        .multipart(related);
    let domain = e.from.email.domain().to_owned();
    Message::builder()
        .from(e.from.clone())
        .to(to)
        .subject(subject)
        // Stable per delivery, so a receiving server can drop a duplicate.
        .message_id(Some(format!("<{}@{domain}>", e.delivery_id)))
        .header(ListUnsubscribe(e.unsubscribe.to_owned()))
        .header(OneClick)
        .multipart(body)
        .map_err(|err| MailError::Build(err.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed_boundary(raw: &[u8]) -> String {
        let parsed = mailparse::parse_mail(raw).expect("parse");
        parsed
            .ctype
            .params
            .get("boundary")
            .cloned()
            .expect("a multipart message has a boundary")
    }

    #[test]
    fn user_text_stays_out_of_headers_and_is_escaped_in_html() {
        let from: Mailbox = "Image Time Capsule <capsules@example.com>"
            .parse()
            .expect("from");
        let e = CapsuleEmail {
            delivery_id: "d1",
            from: &from,
            to: "friend@example.com",
            to_owner: false,
            owner_email: "owner@example.com",
            title: "Hi\r\nBcc: victim@example.com <script>",
            note: "<b>bold</b>",
            sealed_at: Some(Utc::now()),
            opened_at: Utc::now(),
            photo_count: 0,
            thumbnails: vec![],
            link: "https://x.example/c/t",
            link_expires_at: Utc::now(),
            unsubscribe: "https://x.example/unsubscribe/abc.def",
        };
        let raw = build(&e).expect("build").formatted();
        let text = String::from_utf8_lossy(&raw);
        let (headers, _) = text.split_once("\r\n\r\n").expect("headers");
        // The multipart boundary is random letters and may spell anything; it is not user text.
        let boundary = parsed_boundary(&raw);
        let headers = headers.replace(&boundary, "");
        assert!(!headers.to_lowercase().contains("bcc"));
        assert!(!headers.contains("Hi"));
        let parsed = mailparse::parse_mail(&raw).expect("parse");
        let mut bodies = Vec::new();
        let mut stack = vec![&parsed];
        while let Some(p) = stack.pop() {
            if p.ctype.mimetype.starts_with("text/") {
                bodies.push((p.ctype.mimetype.clone(), p.get_body().expect("body")));
            }
            stack.extend(p.subparts.iter());
        }
        let html = bodies
            .iter()
            .find(|(t, _)| t == "text/html")
            .expect("html")
            .1
            .clone();
        let plain = bodies
            .iter()
            .find(|(t, _)| t == "text/plain")
            .expect("text")
            .1
            .clone();
        assert!(html.contains("&lt;b&gt;bold&lt;/b&gt;") && !html.contains("<b>bold"));
        assert!(html.contains("&lt;script&gt;") && !html.contains("<script>"));
        assert!(
            plain.contains("<b>bold</b>"),
            "plain text keeps the note as typed"
        );
    }
}
