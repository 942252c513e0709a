//! The photo path of import: the format told from the bytes, the bomb guard, the truncation
//! check, the (DCT-scaled) upright decode and the EXIF reading, on any bytes at all. Each
//! either answers or refuses with a reason; none may panic, hang or allocate without bound.

#![no_main]

use std::io::Write;

use libfuzzer_sys::fuzz_target;

/// Small enough that a hostile header cannot make the fuzzer allocate gigabytes.
const MAX_PIXELS: u64 = 4_000_000;
const LIMITS: imaging::PixelLimits = imaging::PixelLimits {
    reduced: MAX_PIXELS,
    whole: MAX_PIXELS,
};

fuzz_target!(|data: &[u8]| {
    let _ = imaging::sniff(&data[..data.len().min(32)]);
    let _ = imaging::metadata::read_from(&mut std::io::Cursor::new(data));
    if imaging::check_jpeg_complete(data).is_err() && data.starts_with(&[0xFF, 0xD8]) {
        return;
    }
    // The decoders read files, as import does; one file per fuzzing process, in memory.
    let path = std::env::temp_dir().join(format!("itc-fuzz-photo-{}", std::process::id()));
    let Ok(mut f) = std::fs::File::create(&path) else {
        return;
    };
    if f.write_all(data).is_err() {
        return;
    }
    drop(f);
    if let Ok(r) = imaging::decode_reduced(&path, LIMITS, 256) {
        assert!(u64::from(r.width) * u64::from(r.height) <= MAX_PIXELS);
        let thumb = imaging::jpeg_thumbnail(&r.image, 64, 80);
        assert!(thumb.is_ok(), "a decoded photo always gets a thumbnail");
    }
});
