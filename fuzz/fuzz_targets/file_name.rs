//! Photo file names on their way out (export folder, zip, downloads): whatever name a device
//! chose, what comes out is one plain, safe file name.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let name = String::from_utf8_lossy(rest);
    // Every accepted type, and one the names code has never heard of.
    let types = imaging::ACCEPTED_TYPES;
    let media_type = types
        .get(usize::from(pick) % (types.len() + 1))
        .copied()
        .unwrap_or("application/octet-stream");
    let out = protocol::names::safe_file_name(Some(&name), media_type, 1);
    assert!(protocol::names::is_safe_file_name(&out), "{name:?} -> {out:?}");
});
