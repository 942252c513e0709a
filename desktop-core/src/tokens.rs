//! Where the refresh token lives: the OS keyring (Keychain, Credential Manager, Secret
//! Service) through the `keyring` crate, or, where no keyring service runs (a bare Linux
//! session, a CI box), a file only its owner can read. Never in the SQLite cache, which is
//! easy to copy around with the photos.

use std::io::Write;
use std::path::PathBuf;

const SERVICE: &str = "image-time-capsule";
const FILE_NAME: &str = "refresh-token";

/// Errors storing or reading a token.
#[derive(Debug, thiserror::Error)]
pub enum TokenStoreError {
    #[error("could not keep the sign-in token: {0}")]
    Io(#[from] std::io::Error),
}

/// Where tokens are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenBackend {
    Keyring,
    File,
}

/// The refresh-token store of one library folder.
#[derive(Debug, Clone)]
pub struct TokenStore {
    folder: PathBuf,
    try_keyring: bool,
}

impl TokenStore {
    /// The OS keyring, with the 0600 file in `folder` where no keyring service exists.
    pub fn system(folder: impl Into<PathBuf>) -> Self {
        Self {
            folder: folder.into(),
            try_keyring: true,
        }
    }

    /// Only the 0600 file in `folder` (tests, portable installs).
    pub fn file_only(folder: impl Into<PathBuf>) -> Self {
        Self {
            folder: folder.into(),
            try_keyring: false,
        }
    }

    fn file(&self) -> PathBuf {
        self.folder.join(FILE_NAME)
    }

    fn entry(&self, account: &str) -> Option<keyring::Entry> {
        if !self.try_keyring {
            return None;
        }
        keyring::Entry::new(SERVICE, account).ok()
    }

    /// Keeps `token` for `account` (server and user); answers where it went.
    pub fn save(&self, account: &str, token: &str) -> Result<TokenBackend, TokenStoreError> {
        if let Some(entry) = self.entry(account) {
            match entry.set_password(token) {
                Ok(()) => {
                    // A file left from a time without a keyring must not outlive this.
                    self.remove_file()?;
                    return Ok(TokenBackend::Keyring);
                }
                Err(e) => {
                    tracing::info!(error = %e, "no usable keyring; keeping the token in a private file")
                }
            }
        }
        write_private(&self.file(), &format!("{account}\n{token}"))?;
        Ok(TokenBackend::File)
    }

    /// The token kept for `account`, if any.
    pub fn load(&self, account: &str) -> Result<Option<String>, TokenStoreError> {
        if let Some(entry) = self.entry(account) {
            match entry.get_password() {
                Ok(t) => return Ok(Some(t)),
                Err(keyring::Error::NoEntry) => {}
                Err(e) => tracing::debug!(error = %e, "keyring unreadable; trying the file"),
            }
        }
        match std::fs::read_to_string(self.file()) {
            Ok(s) => Ok(s
                .split_once('\n')
                .filter(|(who, _)| *who == account)
                .map(|(_, t)| t.trim().to_owned())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Forgets the token of `account` everywhere it may be.
    pub fn delete(&self, account: &str) -> Result<(), TokenStoreError> {
        if let Some(entry) = self.entry(account) {
            match entry.delete_credential() {
                Ok(()) | Err(keyring::Error::NoEntry) => {}
                Err(e) => tracing::debug!(error = %e, "keyring unavailable while forgetting"),
            }
        }
        self.remove_file()
    }

    fn remove_file(&self) -> Result<(), TokenStoreError> {
        match std::fs::remove_file(self.file()) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

/// Writes a file readable by its owner only, atomically (a temporary file renamed over).
fn write_private(path: &std::path::Path, contents: &str) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(&tmp)?;
    #[cfg(unix)]
    {
        // The mode above applies only when the file is new.
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    f.write_all(contents.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}
