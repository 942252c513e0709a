//! Import into a real library folder, from real files.

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use desktop_core::{CancelToken, ImportProgress, Library, ThumbSize, import};
use exif::{Field, In, Tag, Value};
use image::{Rgb, RgbImage};
use protocol::ErrorCode;

fn encode(img: &RgbImage, format: image::ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img.clone())
        .write_to(&mut out, format)
        .expect("encode");
    out.into_inner()
}

fn gradient(w: u32, h: u32, seed: u8) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| Rgb([(x % 256) as u8, (y % 256) as u8, seed]))
}

/// A JPEG with the given EXIF fields in an APP1 segment.
fn jpeg_with_exif(img: &RgbImage, fields: &[Field]) -> Vec<u8> {
    let plain = encode(img, image::ImageFormat::Jpeg);
    let mut writer = exif::experimental::Writer::new();
    for f in fields {
        writer.push_field(f);
    }
    let mut tiff = Cursor::new(Vec::new());
    writer.write(&mut tiff, false).expect("exif");
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(&tiff.into_inner());
    let mut out = vec![0xFF, 0xD8, 0xFF, 0xE1];
    out.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&app1);
    out.extend_from_slice(&plain[2..]);
    out
}

fn ascii(tag: Tag, s: &str) -> Field {
    Field {
        tag,
        ifd_num: In::PRIMARY,
        value: Value::Ascii(vec![s.as_bytes().to_vec()]),
    }
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::write(&p, bytes).expect("write");
    p
}

fn quiet(_: ImportProgress) {}

#[test]
fn a_mixed_folder_imports_the_photos_and_gives_each_bad_file_its_reason() {
    let src = tempfile::tempdir().expect("tmp");
    let lib_dir = tempfile::tempdir().expect("tmp");
    let library = Library::open(lib_dir.path()).expect("library");
    let s = src.path();
    let jpeg = encode(&gradient(300, 200, 1), image::ImageFormat::Jpeg);
    write(s, "a.jpg", &jpeg);
    write(
        s,
        "sub/b.png",
        &encode(&gradient(64, 48, 2), image::ImageFormat::Png),
    );
    write(
        s,
        "sub/c.gif",
        &encode(&gradient(40, 40, 3), image::ImageFormat::Gif),
    );
    write(
        s,
        "sub/deeper/d.webp",
        &encode(&gradient(50, 30, 4), image::ImageFormat::WebP),
    );
    write(
        s,
        "e.tiff",
        &encode(&gradient(30, 50, 5), image::ImageFormat::Tiff),
    );
    write(
        s,
        "f.bmp",
        &encode(&gradient(20, 20, 6), image::ImageFormat::Bmp),
    );
    // Told by content, not by name.
    write(
        s,
        "no-extension",
        &encode(&gradient(33, 33, 7), image::ImageFormat::Jpeg),
    );
    write(
        s,
        "really-a-png.txt",
        &encode(&gradient(35, 35, 8), image::ImageFormat::Png),
    );
    let mut heic = vec![0, 0, 0, 24];
    heic.extend_from_slice(b"ftypheic\0\0\0\0mif1heic");
    heic.extend(std::iter::repeat_n(0u8, 200));
    write(s, "bad/IMG_1.HEIC", &heic);
    write(s, "bad/notes.jpg", b"shopping list: milk, eggs, film\n");
    write(s, "bad/empty.jpg", b"");
    write(s, "bad/cut.jpg", &jpeg[..jpeg.len() / 2]);
    write(
        s,
        "bad/bomb.png",
        &imaging::test_images::png_bomb(30000, 30000),
    );

    let report = import(
        &library,
        &[s.to_path_buf()],
        &quiet,
        &CancelToken::default(),
    );
    assert!(!report.cancelled);
    let mut names: Vec<String> = report
        .imported
        .iter()
        .map(|p| p.file_name.clone().expect("name"))
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "a.jpg",
            "b.png",
            "c.gif",
            "d.webp",
            "e.tiff",
            "f.bmp",
            "no-extension",
            "really-a-png.txt"
        ]
    );
    let mut failures: Vec<(String, ErrorCode)> = report
        .failed
        .iter()
        .map(|f| {
            (
                f.path
                    .file_name()
                    .expect("name")
                    .to_string_lossy()
                    .into_owned(),
                f.code,
            )
        })
        .collect();
    failures.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        failures,
        [
            ("IMG_1.HEIC".to_owned(), ErrorCode::CorruptImage),
            ("bomb.png".to_owned(), ErrorCode::ImageTooLarge),
            ("cut.jpg".to_owned(), ErrorCode::CorruptImage),
            ("empty.jpg".to_owned(), ErrorCode::EmptyPhoto),
            ("notes.jpg".to_owned(), ErrorCode::UnsupportedImageFormat),
        ]
    );
    assert!(
        report.failed.iter().all(|f| f.reason.len() > 15),
        "{:?}",
        report.failed
    );
    for p in &report.imported {
        let stored = std::fs::read(library.photo_path(&p.photo.sha256)).expect("original");
        assert_eq!(
            stored,
            std::fs::read(&p.source).expect("source"),
            "stored byte for byte"
        );
        for size in [ThumbSize::Grid, ThumbSize::Preview] {
            let t = image::open(library.thumbnail_path(&p.photo.sha256, size)).expect("thumbnail");
            assert!(t.width().max(t.height()) <= size.pixels());
        }
    }
    let a = report
        .imported
        .iter()
        .find(|p| p.file_name.as_deref() == Some("a.jpg"))
        .expect("a");
    assert_eq!(
        (a.photo.width, a.photo.height, a.photo.content_type.as_str()),
        (300, 200, "image/jpeg")
    );
    let grid = image::open(library.thumbnail_path(&a.photo.sha256, ThumbSize::Grid)).expect("grid");
    assert_eq!((grid.width(), grid.height()), (256, 171));
    assert_eq!(library.photo_count().expect("count"), 8);
    // Nothing was left half-way.
    assert_eq!(
        std::fs::read_dir(lib_dir.path().join("incoming"))
            .expect("dir")
            .count(),
        0
    );
}

#[test]
fn exif_orientations_3_6_and_8_give_upright_thumbnails() {
    // Upright, the photo is 60×40 with a red top half and a blue bottom half.
    let upright = RgbImage::from_fn(60, 40, |_, y| {
        if y < 20 {
            Rgb([220, 20, 20])
        } else {
            Rgb([20, 20, 220])
        }
    });
    let src = tempfile::tempdir().expect("tmp");
    let lib_dir = tempfile::tempdir().expect("tmp");
    let library = Library::open(lib_dir.path()).expect("library");
    // Stored pixels are the upright view turned back by what the tag says to apply.
    let cases = [
        (3u16, image::imageops::rotate180(&upright)),
        (6, image::imageops::rotate270(&upright)),
        (8, image::imageops::rotate90(&upright)),
    ];
    for (orientation, stored) in cases {
        let f = Field {
            tag: Tag::Orientation,
            ifd_num: In::PRIMARY,
            value: Value::Short(vec![orientation]),
        };
        let path = write(
            src.path(),
            &format!("o{orientation}.jpg"),
            &jpeg_with_exif(&stored, &[f]),
        );
        let report = import(&library, &[path], &quiet, &CancelToken::default());
        let p = &report.imported[0];
        assert_eq!(
            (p.photo.width, p.photo.height),
            (60, 40),
            "orientation {orientation}"
        );
        for size in [ThumbSize::Grid, ThumbSize::Preview] {
            let t = image::open(library.thumbnail_path(&p.photo.sha256, size))
                .expect("thumb")
                .to_rgb8();
            assert_eq!(t.dimensions(), (60, 40), "orientation {orientation}");
            let top = t.get_pixel(30, 5).0;
            let bottom = t.get_pixel(30, 35).0;
            assert!(
                top[0] > 150 && top[2] < 100,
                "orientation {orientation}: top {top:?}"
            );
            assert!(
                bottom[2] > 150 && bottom[0] < 100,
                "orientation {orientation}: bottom {bottom:?}"
            );
        }
    }
}

#[test]
fn capture_time_and_camera_come_from_exif() {
    let src = tempfile::tempdir().expect("tmp");
    let lib_dir = tempfile::tempdir().expect("tmp");
    let library = Library::open(lib_dir.path()).expect("library");
    let fields = [
        ascii(Tag::DateTimeOriginal, "2024:07:14 18:30:00"),
        ascii(Tag::OffsetTimeOriginal, "+02:00"),
        ascii(Tag::Make, "Canon"),
        ascii(Tag::Model, "Canon EOS R6"),
    ];
    let path = write(
        src.path(),
        "lake.jpg",
        &jpeg_with_exif(&gradient(80, 60, 9), &fields),
    );
    let report = import(&library, &[path], &quiet, &CancelToken::default());
    let p = &report.imported[0].photo;
    let expected = chrono::DateTime::parse_from_rfc3339("2024-07-14T16:30:00Z").expect("time");
    assert_eq!(p.taken_at, Some(expected.timestamp_millis()));
    assert_eq!(p.camera.as_deref(), Some("Canon EOS R6"));
    assert_eq!(library.photo(&p.sha256).expect("db").as_ref(), Some(p));
}

#[test]
fn the_same_photo_is_stored_once() {
    let src = tempfile::tempdir().expect("tmp");
    let lib_dir = tempfile::tempdir().expect("tmp");
    let library = Library::open(lib_dir.path()).expect("library");
    let bytes = encode(&gradient(120, 80, 10), image::ImageFormat::Jpeg);
    write(src.path(), "one.jpg", &bytes);
    write(src.path(), "copy of one.jpg", &bytes);
    let first = import(
        &library,
        &[src.path().to_path_buf()],
        &quiet,
        &CancelToken::default(),
    );
    assert_eq!(first.imported.len(), 2);
    assert_eq!(first.imported.iter().filter(|p| p.duplicate).count(), 1);
    let again = import(
        &library,
        &[src.path().to_path_buf()],
        &quiet,
        &CancelToken::default(),
    );
    assert!(again.imported.iter().all(|p| p.duplicate));
    assert_eq!(library.photo_count().expect("count"), 1);
    let stored: usize = walk_files(&lib_dir.path().join("photos"));
    assert_eq!(stored, 1);
}

fn walk_files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| {
                    if e.path().is_dir() {
                        walk_files(&e.path())
                    } else {
                        1
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

#[test]
fn a_decompression_bomb_is_refused_without_a_large_allocation() {
    let src = tempfile::tempdir().expect("tmp");
    let lib_dir = tempfile::tempdir().expect("tmp");
    let library = Library::open(lib_dir.path()).expect("library");
    let path = write(
        src.path(),
        "bomb.png",
        &imaging::test_images::png_bomb(30000, 30000),
    );
    let before = peak_rss_kb();
    let report = import(&library, &[path], &quiet, &CancelToken::default());
    let grew_mb = (peak_rss_kb().saturating_sub(before)) / 1024;
    assert_eq!(report.failed[0].code, ErrorCode::ImageTooLarge);
    // Decoding would need 2.7 GB; the refusal comes from the header alone.
    assert!(grew_mb < 100, "peak memory grew by {grew_mb} MB");
}

#[test]
fn progress_counts_every_file_and_cancel_stops_between_files() {
    let src = tempfile::tempdir().expect("tmp");
    let lib_dir = tempfile::tempdir().expect("tmp");
    let library = Library::open(lib_dir.path()).expect("library");
    for i in 0..24 {
        write(
            src.path(),
            &format!("p{i:02}.jpg"),
            &encode(&gradient(400, 300, i), image::ImageFormat::Jpeg),
        );
    }
    let events = Mutex::new(Vec::new());
    let all = import(
        &library,
        &[src.path().to_path_buf()],
        &|p: ImportProgress| events.lock().expect("lock").push((p.done, p.total)),
        &CancelToken::default(),
    );
    assert_eq!(all.imported.len(), 24);
    let mut seen = events.into_inner().expect("events");
    seen.sort();
    assert_eq!(seen, (1..=24).map(|d| (d, 24)).collect::<Vec<_>>());

    let lib2 = tempfile::tempdir().expect("tmp");
    let library = Library::open(lib2.path()).expect("library");
    let cancel = CancelToken::default();
    let stopper = cancel.clone();
    let report = import(
        &library,
        &[src.path().to_path_buf()],
        &|p: ImportProgress| {
            if p.done >= 3 {
                stopper.cancel();
            }
        },
        &cancel,
    );
    assert!(report.cancelled);
    assert!(
        report.imported.len() < 24,
        "{} imported",
        report.imported.len()
    );
    assert_eq!(
        library.photo_count().expect("count") as usize,
        report.imported.len()
    );
    assert_eq!(
        std::fs::read_dir(lib2.path().join("incoming"))
            .expect("dir")
            .count(),
        0
    );
}

#[test]
fn leftovers_of_an_interrupted_import_are_cleared_on_open() {
    let lib_dir = tempfile::tempdir().expect("tmp");
    drop(Library::open(lib_dir.path()).expect("library"));
    std::fs::write(
        lib_dir.path().join("incoming").join("half-written"),
        b"half a photo",
    )
    .expect("write");
    let library = Library::open(lib_dir.path()).expect("library");
    assert_eq!(
        std::fs::read_dir(lib_dir.path().join("incoming"))
            .expect("dir")
            .count(),
        0
    );
    assert_eq!(library.photo_count().expect("count"), 0);
}
