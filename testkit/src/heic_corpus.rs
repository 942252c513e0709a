//! The HEIC corpus (`scripts/heic-corpus.py`): real phone and camera HEICs, turned grids,
//! damaged and hostile files, and reference pictures from an independent decoder. Built once
//! per target directory, or taken from `ITC_HEIC_CORPUS`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

/// One file of the corpus and what must happen to it.
#[derive(Debug, Clone)]
pub struct Case {
    pub path: PathBuf,
    pub name: String,
    /// `Some((content type, upright width, upright height))` for a photo to accept; its
    /// reference picture is [`Case::reference`].
    pub accepted: Option<(String, u32, u32)>,
    /// The error code of a refusal.
    pub code: Option<String>,
    /// The largest mean error per sample (0..=255) allowed against the reference.
    pub max_error: f64,
}

impl Case {
    /// The independent decoder's picture, fitted within 1280 pixels, sRGB, on white.
    pub fn reference(&self) -> PathBuf {
        let mut p = self.path.clone().into_os_string();
        p.push(".ref.png");
        PathBuf::from(p)
    }
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// The corpus folder, built on first use (a minute; it downloads the pinned pillow-heif
/// source package from PyPI once, and installs pillow-heif with pip when missing).
pub fn dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        if let Some(d) = std::env::var_os("ITC_HEIC_CORPUS") {
            return PathBuf::from(d);
        }
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| workspace().join("target"));
        let dir = target.join("heic-corpus");
        if !current(&dir) {
            // Several test binaries may get here at once: the script builds in a folder of
            // its own and renames it into place, so the loser's rename replaces an identical
            // corpus.
            let status = Command::new("python3")
                .arg(workspace().join("scripts/heic-corpus.py"))
                .arg(&dir)
                .status()
                .expect("python3 runs scripts/heic-corpus.py");
            assert!(status.success(), "scripts/heic-corpus.py failed");
        }
        dir
    })
}

/// Whether the corpus in `dir` was made by the script as it is now.
fn current(dir: &Path) -> bool {
    use sha2::{Digest, Sha256};
    let Ok(script) = std::fs::read(workspace().join("scripts/heic-corpus.py")) else {
        return false;
    };
    let made_by = std::fs::read_to_string(dir.join("corpus.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        .and_then(|m| m["script_sha256"].as_str().map(str::to_owned));
    made_by.as_deref() == Some(hex::encode(Sha256::digest(&script)).as_str())
}

/// Every case of the corpus.
pub fn cases() -> Vec<Case> {
    let dir = dir();
    let text = std::fs::read_to_string(dir.join("corpus.json")).expect("corpus.json");
    let manifest: Value = serde_json::from_str(&text).expect("corpus.json is JSON");
    let files = manifest["files"].as_array().expect("files");
    files
        .iter()
        .map(|f| {
            let name = f["file"].as_str().expect("file").to_owned();
            let accepted = f["accepted"].as_bool().expect("accepted");
            Case {
                path: dir.join(&name),
                name,
                accepted: accepted.then(|| {
                    (
                        f["content_type"].as_str().expect("type").to_owned(),
                        u32::try_from(f["width"].as_u64().expect("width")).expect("w"),
                        u32::try_from(f["height"].as_u64().expect("height")).expect("h"),
                    )
                }),
                code: f["code"].as_str().map(str::to_owned),
                max_error: f["max_error"].as_f64().unwrap_or(3.0),
            }
        })
        .collect()
}

/// One case by file name.
pub fn case(name: &str) -> Case {
    cases()
        .into_iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("{name} is not in the HEIC corpus"))
}
