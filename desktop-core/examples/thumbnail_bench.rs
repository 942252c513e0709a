//! Makes the app's two thumbnails (1280 and 256 px) for every photo in a folder exactly as
//! import does, and the same two sizes with `vipsthumbnail` (one batch process per size) in
//! the same run; prints photos/s and peak memory of each, and last `ratio_vs_vips: R`.
//!
//! With `--heic`, the folder holds HEICs, which vips cannot read here: the baseline is
//! `heif-convert` (libheif) to a JPEG and then `vipsthumbnail` of it, for each photo, as many
//! at once as there are cores; the last line is `heic_ratio_vs_heif_convert_vips: R`. The
//! largest photo is also made alone in a process of its own, and its peak memory printed.
//!
//! cargo run --release -p desktop-core --example thumbnail_bench -- FOLDER [--out DIR]
//! cargo run --release -p desktop-core --example thumbnail_bench -- --heic FOLDER
//! cargo run --release -p desktop-core --example thumbnail_bench -- --one PHOTO

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow_free::Result;
use rayon::prelude::*;

mod anyhow_free {
    pub type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;
}

fn peak_rss_mb(pid: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<f64>().ok())
            })
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Runs a command, sampling its peak resident memory until it exits.
fn run_measured(cmd: &mut Command) -> Result<(Duration, f64)> {
    let start = Instant::now();
    let mut child = cmd.spawn()?;
    let pid = child.id().to_string();
    let mut peak: f64 = 0.0;
    loop {
        peak = peak.max(peak_rss_mb(&pid));
        if let Some(status) = child.try_wait()? {
            if !status.success() {
                return Err(format!("{cmd:?} failed: {status}").into());
            }
            return Ok((start.elapsed(), peak));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1).peekable();
    match args.peek().map(String::as_str) {
        Some("--one") => {
            let photo = PathBuf::from(args.nth(1).ok_or("usage: --one PHOTO")?);
            return make(&photo, &std::env::temp_dir());
        }
        Some("--heic") => {
            let folder = PathBuf::from(args.nth(1).ok_or("usage: --heic FOLDER")?);
            return heic(&folder);
        }
        _ => {}
    }
    let folder = PathBuf::from(
        args.next()
            .ok_or("usage: thumbnail_bench FOLDER [--out DIR]")?,
    );
    let out = match (args.next().as_deref(), args.next()) {
        (Some("--out"), Some(dir)) => Some(PathBuf::from(dir)),
        (None, _) => None,
        _ => return Err("usage: thumbnail_bench FOLDER [--out DIR]".into()),
    };
    let files = files_in(&folder)?;
    let ours_dir = out
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join("itc-thumb-bench-ours"));
    let vips_dir = std::env::temp_dir().join("itc-thumb-bench-vips");
    for d in [&ours_dir, &vips_dir] {
        std::fs::create_dir_all(d)?;
    }

    let start = Instant::now();
    let failures: Vec<String> = files
        .par_iter()
        .filter_map(|path| match make(path, &ours_dir) {
            Ok(()) => None,
            Err(e) => Some(format!("{}: {e}", path.display())),
        })
        .collect();
    let ours = start.elapsed();
    let ours_peak = peak_rss_mb("self");
    let n = files.len() - failures.len();
    for f in &failures {
        eprintln!("skipped {f}");
    }

    let mut vips_time = Duration::ZERO;
    let mut vips_peak: f64 = 0.0;
    for (size, q) in [(1280, 85), (256, 82)] {
        let mut cmd = Command::new("vipsthumbnail");
        cmd.arg("--size")
            .arg(format!("{size}x{size}"))
            .arg("-o")
            .arg(vips_dir.join(format!("%s-{size}.jpg[Q={q},strip]")))
            .args(&files);
        let (t, peak) = run_measured(&mut cmd)?;
        vips_time += t;
        vips_peak = vips_peak.max(peak);
    }
    let ours_rate = n as f64 / ours.as_secs_f64();
    let vips_rate = files.len() as f64 / vips_time.as_secs_f64();
    println!(
        "photos: {n} of {} ({} skipped)",
        files.len(),
        failures.len()
    );
    println!(
        "ours: {:.2} s, {ours_rate:.1} photos/s, peak RSS {ours_peak:.0} MB",
        ours.as_secs_f64()
    );
    println!(
        "vipsthumbnail: {:.2} s, {vips_rate:.1} photos/s, peak RSS {vips_peak:.0} MB",
        vips_time.as_secs_f64()
    );
    // Sharpness: mean absolute Laplacian of the luma of each 1280 px preview, ours over
    // vips's, averaged over the photos (1.0 = as sharp, below = softer).
    let mut ratios = Vec::new();
    for path in &files {
        let stem = path
            .file_stem()
            .map_or_else(|| "photo".into(), |s| s.to_string_lossy().into_owned());
        let (Ok(a), Ok(b)) = (
            image::open(ours_dir.join(format!("{stem}-1280.jpg"))),
            image::open(vips_dir.join(format!("{stem}-1280.jpg"))),
        ) else {
            continue;
        };
        let (sa, sb) = (sharpness(&a.to_luma8()), sharpness(&b.to_luma8()));
        if sb > 0.0 {
            ratios.push(sa / sb);
        }
    }
    if !ratios.is_empty() {
        println!(
            "sharpness_vs_vips: {:.2} (mean over {} previews)",
            ratios.iter().sum::<f64>() / ratios.len() as f64,
            ratios.len()
        );
    }
    println!("ratio_vs_vips: {:.2}", ours_rate / vips_rate);
    Ok(())
}

fn files_in(folder: &Path) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(folder)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(format!("no files in {}", folder.display()).into());
    }
    Ok(files)
}

/// HEICs: ours beside heif-convert and vipsthumbnail, then the largest alone for its memory.
fn heic(folder: &Path) -> Result<()> {
    let files = files_in(folder)?;
    let ours_dir = std::env::temp_dir().join("itc-thumb-bench-heic-ours");
    let base_dir = std::env::temp_dir().join("itc-thumb-bench-heic-base");
    for d in [&ours_dir, &base_dir] {
        std::fs::create_dir_all(d)?;
    }
    let pixels = |f: &PathBuf| -> u64 {
        imaging::structure::FileAt::open(f)
            .ok()
            .and_then(|mut f| imaging::structure::check(&mut f, imaging::PixelLimits::DEFAULT).ok())
            .map_or(0, |s| u64::from(s.width) * u64::from(s.height))
    };
    let megapixels = files.iter().map(pixels).sum::<u64>() as f64 / 1e6;

    let start = Instant::now();
    files
        .par_iter()
        .try_for_each(|p| make(p, &ours_dir).map_err(|e| e.to_string()))?;
    let ours = start.elapsed();

    let start = Instant::now();
    files.par_iter().try_for_each(|p| baseline(p, &base_dir))?;
    let base = start.elapsed();

    let n = files.len() as f64;
    let (ours_rate, base_rate) = (n / ours.as_secs_f64(), n / base.as_secs_f64());
    println!(
        "heic photos: {} ({megapixels:.0} megapixels in all)",
        files.len()
    );
    println!(
        "heic ours: {:.2} s, {ours_rate:.2} photos/s",
        ours.as_secs_f64()
    );
    println!(
        "heic heif-convert + vipsthumbnail: {:.2} s, {base_rate:.2} photos/s",
        base.as_secs_f64()
    );
    let largest = files.iter().max_by_key(|f| pixels(f)).ok_or("no files")?;
    let (took, peak) = run_measured(
        Command::new(std::env::current_exe()?)
            .arg("--one")
            .arg(largest),
    )?;
    println!(
        "heic largest alone ({}, {:.0} MP): {:.2} s, peak RSS {peak:.0} MB",
        largest
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
        pixels(largest) as f64 / 1e6,
        took.as_secs_f64()
    );
    println!(
        "heic_ratio_vs_heif_convert_vips: {:.2}",
        ours_rate / base_rate
    );
    Ok(())
}

/// libheif's converter to a JPEG, then vips's two thumbnails of that JPEG.
fn baseline(path: &Path, out: &Path) -> std::result::Result<(), String> {
    let stem = path
        .file_stem()
        .map_or_else(|| "photo".into(), |s| s.to_string_lossy().into_owned());
    let full = out.join(format!("{stem}.jpg"));
    let run = |c: &mut Command| -> std::result::Result<(), String> {
        let o = c.output().map_err(|e| format!("{c:?}: {e}"))?;
        if o.status.success() {
            Ok(())
        } else {
            Err(format!("{c:?}: {}", String::from_utf8_lossy(&o.stderr)))
        }
    };
    run(Command::new("heif-convert")
        .arg("-q")
        .arg("92")
        .arg(path)
        .arg(&full))?;
    for (size, q) in [(1280, 85), (256, 82)] {
        run(Command::new("vipsthumbnail")
            .arg("--size")
            .arg(format!("{size}x{size}"))
            .arg("-o")
            .arg(out.join(format!("%s-{size}.jpg[Q={q},strip]")))
            .arg(&full))?;
    }
    Ok(())
}

/// Mean absolute 4-neighbour Laplacian: higher is crisper detail.
fn sharpness(img: &image::GrayImage) -> f64 {
    let (w, h) = img.dimensions();
    if w < 3 || h < 3 {
        return 0.0;
    }
    let mut sum = 0.0;
    for y in 1..h - 1 {
        for x in 1..w - 1 {
            let c = 4.0 * f64::from(img.get_pixel(x, y).0[0]);
            let n = f64::from(img.get_pixel(x - 1, y).0[0])
                + f64::from(img.get_pixel(x + 1, y).0[0])
                + f64::from(img.get_pixel(x, y - 1).0[0])
                + f64::from(img.get_pixel(x, y + 1).0[0]);
            sum += (c - n).abs();
        }
    }
    sum / f64::from((w - 2) * (h - 2))
}

/// One photo, exactly as import makes its thumbnails.
fn make(path: &Path, out: &Path) -> Result<()> {
    let t = desktop_core::thumbs::make(path, desktop_core::MAX_PIXELS)
        .map_err(|r| r.message)?
        .thumbnails;
    let stem = path
        .file_stem()
        .map_or_else(|| "photo".into(), |s| s.to_string_lossy().into_owned());
    std::fs::write(out.join(format!("{stem}-1280.jpg")), t.preview)?;
    std::fs::write(out.join(format!("{stem}-256.jpg")), t.grid)?;
    Ok(())
}
