//! Photo file names on their way out (export folder, zip, downloads): whatever name a device
//! chose, what comes out is one plain, safe file name.

#![no_main]

use libfuzzer_sys::fuzz_target;

const TYPES: [&str; 7] = [
    "image/jpeg",
    "image/png",
    "image/webp",
    "image/gif",
    "image/tiff",
    "image/bmp",
    "application/octet-stream",
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let name = String::from_utf8_lossy(rest);
    let out = protocol::names::safe_file_name(Some(&name), TYPES[usize::from(pick) % TYPES.len()], 1);
    assert!(protocol::names::is_safe_file_name(&out), "{name:?} -> {out:?}");
});
