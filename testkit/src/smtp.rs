//! A real SMTP server for the tests (aiosmtpd from PyPI, writing a Maildir), and the parsed
//! messages it received.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn wait_for_port(port: u16) {
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("nothing listens on port {port}");
}

/// Where mail to [`REFUSED_DOMAIN`] is refused at RCPT TO, as a receiving server refuses
/// an address that does not exist.
pub const REFUSED_DOMAIN: &str = "no-such-mailbox.example";

/// aiosmtpd's Maildir handler, refusing mail to REFUSED_DOMAIN for good.
const HANDLER: &str = r#"
from aiosmtpd.handlers import Mailbox

class RefusingMailbox(Mailbox):
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower().endswith("@no-such-mailbox.example"):
            return "550 5.1.1 <%s>: Recipient address rejected: User unknown" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"
"#;

/// One SMTP server process; killed when dropped.
pub struct SmtpServer {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

/// A received message, decoded.
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub message_id: String,
    pub text: String,
    pub html: String,
    pub inline_images: Vec<Vec<u8>>,
    pub raw_headers: String,
}

impl Mail {
    /// The value of the first header of that name (unfolded), or empty.
    pub fn header(&self, name: &str) -> String {
        mailparse::parse_headers(self.raw_headers.as_bytes())
            .ok()
            .and_then(|(headers, _)| {
                mailparse::MailHeaderMap::get_first_value(headers.as_slice(), name)
            })
            .unwrap_or_default()
    }
}

impl SmtpServer {
    /// Waits for one email per expected (capsule title, recipient), then a little longer
    /// for any duplicate, and asserts each arrived exactly once and nothing else did.
    pub async fn assert_each_once(&self, expected: impl IntoIterator<Item = (String, String)>) {
        let mut counts: std::collections::HashMap<(String, String), usize> =
            expected.into_iter().map(|k| (k, 0)).collect();
        let mails = self.wait_for(counts.len(), Duration::from_secs(180)).await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        let mails = if self.count() > mails.len() {
            self.messages()
        } else {
            mails
        };
        for m in &mails {
            let title = m
                .text
                .lines()
                .find_map(|l| l.strip_prefix('“').and_then(|l| l.strip_suffix('”')))
                .expect("title line")
                .to_owned();
            *counts
                .get_mut(&(title.clone(), m.to.clone()))
                .unwrap_or_else(|| panic!("unexpected email {title} to {}", m.to)) += 1;
        }
        let wrong: Vec<_> = counts.iter().filter(|(_, n)| **n != 1).collect();
        assert!(
            wrong.is_empty(),
            "{} recipients did not get exactly one email: {:?}",
            wrong.len(),
            wrong.iter().take(5).collect::<Vec<_>>()
        );
        assert_eq!(mails.len(), counts.len());
    }

    /// Starts a server on a free port.
    pub fn start() -> Self {
        Self::start_on(free_port())
    }

    /// Starts a server on the given port (to bring one back after a stop).
    pub fn start_on(port: u16) -> Self {
        let dir = tempfile::tempdir().expect("tmp");
        let mut s = Self {
            port,
            dir,
            child: None,
        };
        s.restart();
        s
    }

    /// Starts the process again (same port, same mailbox).
    pub fn restart(&mut self) {
        std::fs::write(self.dir.path().join("itc_smtp.py"), HANDLER).expect("handler");
        let child = Command::new("python3")
            .env("PYTHONPATH", self.dir.path())
            .args([
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                &format!("127.0.0.1:{}", self.port),
            ])
            .args(["-c", "itc_smtp.RefusingMailbox"])
            .arg(self.maildir())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 -m aiosmtpd (pip install aiosmtpd; scripts/test.sh does)");
        self.child = Some(child);
        wait_for_port(self.port);
    }

    /// Stops the process (the SMTP server goes down).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    fn maildir(&self) -> PathBuf {
        self.dir.path().join("maildir")
    }

    /// How many messages arrived.
    pub fn count(&self) -> usize {
        std::fs::read_dir(self.maildir().join("new"))
            .map(|d| d.count())
            .unwrap_or(0)
    }

    /// Every message that arrived, parsed.
    pub fn messages(&self) -> Vec<Mail> {
        let Ok(dir) = std::fs::read_dir(self.maildir().join("new")) else {
            return Vec::new();
        };
        dir.filter_map(Result::ok)
            .map(|e| parse(&std::fs::read(e.path()).expect("read mail")))
            .collect()
    }

    /// Waits until at least `n` messages arrived (or panics after `timeout`).
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Mail> {
        let deadline = Instant::now() + timeout;
        while self.count() < n {
            assert!(
                Instant::now() < deadline,
                "only {} of {n} emails arrived",
                self.count()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.messages()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn parse(raw: &[u8]) -> Mail {
    let m = mailparse::parse_mail(raw).expect("a parsable email");
    let header = |name: &str| {
        m.headers
            .iter()
            .find(|h| h.get_key().eq_ignore_ascii_case(name))
            .map(|h| h.get_value())
            .unwrap_or_default()
    };
    let mut mail = Mail {
        to: header("To"),
        subject: header("Subject"),
        message_id: header("Message-ID"),
        text: String::new(),
        html: String::new(),
        inline_images: Vec::new(),
        raw_headers: String::new(),
    };
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .or_else(|| raw.windows(2).position(|w| w == b"\n\n"))
        .unwrap_or(raw.len());
    mail.raw_headers = String::from_utf8_lossy(&raw[..end]).into_owned();
    walk(&m, &mut mail);
    mail
}

fn walk(part: &mailparse::ParsedMail<'_>, mail: &mut Mail) {
    let ct = part.ctype.mimetype.to_ascii_lowercase();
    if ct == "text/plain" {
        mail.text.push_str(&part.get_body().unwrap_or_default());
    } else if ct == "text/html" {
        mail.html.push_str(&part.get_body().unwrap_or_default());
    } else if ct.starts_with("image/") {
        mail.inline_images
            .push(part.get_body_raw().unwrap_or_default());
    }
    for sub in &part.subparts {
        walk(sub, mail);
    }
}

/// The recipient link in a message's text.
pub fn link_in(mail: &Mail) -> String {
    mail.text
        .split_whitespace()
        .find(|w| w.contains("/c/"))
        .expect("a link in the email")
        .to_owned()
}
