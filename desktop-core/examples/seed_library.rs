//! Fills a library folder with capsules and photos for the start-up benchmark
//! (scripts/bench-startup.sh): `--capsules N --photos M` distinct small photos, made here and
//! imported the way the app imports (hashed, decoded, two thumbnails each), spread evenly
//! over the capsules; every `--sealed-every`th capsule is sealed (on this device, offline).
//!
//! `cargo run --release -p desktop-core --example seed_library -- DIR --capsules 1000 --photos 20000`

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, bail};
use chrono::{Duration, Utc};
use desktop_core::{CancelToken, Library};
use protocol::CapsuleWrite;

struct Args {
    dir: PathBuf,
    capsules: usize,
    photos: usize,
    sealed_every: usize,
}

fn args() -> anyhow::Result<Args> {
    let mut it = std::env::args().skip(1);
    let dir = PathBuf::from(
        it.next()
            .context("usage: seed_library DIR [--capsules N] [--photos M] [--sealed-every K]")?,
    );
    let mut a = Args {
        dir,
        capsules: 1000,
        photos: 20_000,
        sealed_every: 3,
    };
    while let Some(flag) = it.next() {
        let v: usize = it
            .next()
            .with_context(|| format!("{flag} needs a number"))?
            .parse()
            .with_context(|| format!("{flag} needs a number"))?;
        match flag.as_str() {
            "--capsules" => a.capsules = v,
            "--photos" => a.photos = v,
            "--sealed-every" => a.sealed_every = v.max(1),
            other => bail!("unknown flag {other}"),
        }
    }
    Ok(a)
}

/// A 160×120 JPEG whose pixels depend on `n`, so every photo has its own hash.
fn photo(dir: &std::path::Path, n: usize) -> anyhow::Result<PathBuf> {
    let (r, g, b) = ((n * 37) % 256, (n * 91) % 256, (n * 13) % 256);
    let img = image::RgbImage::from_fn(160, 120, |x, y| {
        let v = (x as usize * 3 + y as usize * 5 + n) % 256;
        image::Rgb([
            ((r + v) % 256) as u8,
            ((g + x as usize) % 256) as u8,
            ((b + y as usize + n / 256) % 256) as u8,
        ])
    });
    let p = dir.join(format!("p{n:06}.jpg"));
    img.save(&p)?;
    Ok(p)
}

fn main() -> anyhow::Result<()> {
    let a = args()?;
    let started = Instant::now();
    let lib = Library::open(&a.dir)?;
    let scratch = tempfile::tempdir()?;
    let now = Utc::now();
    let per = a.photos.div_ceil(a.capsules.max(1));
    let mut made = 0;
    for c in 0..a.capsules {
        let n = per.min(a.photos - made);
        let files: Vec<PathBuf> = (made..made + n)
            .map(|i| photo(scratch.path(), i))
            .collect::<anyhow::Result<_>>()?;
        made += n;
        let report = desktop_core::import(&lib, &files, &|_| {}, &CancelToken::default());
        if !report.failed.is_empty() {
            bail!("import failed: {:?}", report.failed[0]);
        }
        let d = lib.create_draft(
            &CapsuleWrite {
                title: format!("Capsule {c:04}"),
                note: format!("Note of capsule {c}"),
                open_at: Some(now + Duration::days(1 + (c as i64 * 7) % 3650)),
                time_zone: "Europe/Paris".into(),
                recipients: vec![format!("friend{}@example.com", c % 17)],
            },
            now,
        )?;
        let photos: Vec<_> = report
            .imported
            .iter()
            .map(|p| (p.photo.sha256.clone(), p.file_name.clone()))
            .collect();
        lib.add_photos(d.id, &photos, now)?;
        if c % a.sealed_every == a.sealed_every - 1 {
            lib.seal(d.id, now)?;
        }
        for f in files {
            let _ = std::fs::remove_file(f);
        }
    }
    println!(
        "seeded {} capsules and {} photos in {} in {:.1} s",
        a.capsules,
        lib.photo_count()?,
        a.dir.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
