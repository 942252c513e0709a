//! Seal benchmark (scripts/bench-seal.sh): a 50-photo, 300 MB capsule sealed file by file
//! as the desktop seals it (age, a time-lock stanza and an escrow stanza, written to disk
//! and synced), beside copying the same files (also synced) in the same run; then opened
//! with the round's beacon, verified for each file as the server and the desktop do.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use rand::RngCore;
use seal::{EscrowKey, open_with_beacon, seal};
use testkit::beacon::LocalChain;

const PHOTOS: usize = 50;
const PHOTO_BYTES: usize = 6 * 1024 * 1024;

fn synced_write(path: &Path, f: impl FnOnce(&mut std::io::BufWriter<std::fs::File>)) {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).expect("create"));
    f(&mut out);
    out.flush().expect("flush");
    out.get_ref().sync_all().expect("sync");
}

fn main() {
    let root = tempfile::tempdir().expect("tmp");
    let (src, copies, sealed, opened) = (
        root.path().join("photos"),
        root.path().join("copies"),
        root.path().join("sealed"),
        root.path().join("opened"),
    );
    for d in [&src, &copies, &sealed, &opened] {
        std::fs::create_dir(d).expect("dir");
    }
    // Photos do not compress; random bytes of the same size stand for them.
    let mut rng = rand::thread_rng();
    let files: Vec<PathBuf> = (0..PHOTOS)
        .map(|i| {
            let mut buf = vec![0u8; PHOTO_BYTES];
            rng.fill_bytes(&mut buf);
            let p = src.join(format!("photo-{i:02}.jpg"));
            std::fs::write(&p, &buf).expect("write");
            p
        })
        .collect();
    let total_mb = (PHOTOS * PHOTO_BYTES) as f64 / 1e6;
    let local = LocalChain::new(chrono::Utc::now().timestamp() - 10_000, 3);
    let round = local.chain.current_round(chrono::Utc::now()) + 100;
    let escrow = EscrowKey::generate().public();

    let t = Instant::now();
    for f in &files {
        let dest = copies.join(f.file_name().expect("name"));
        synced_write(&dest, |w| {
            std::io::copy(&mut std::fs::File::open(f).expect("open"), w).expect("copy");
        });
    }
    let copy = t.elapsed().as_secs_f64();

    let t = Instant::now();
    for f in &files {
        let dest = sealed.join(f.file_name().expect("name"));
        synced_write(&dest, |w| {
            let input = std::io::BufReader::new(std::fs::File::open(f).expect("open"));
            seal(input, w, &local.chain, round, Some(&escrow)).expect("seal");
        });
    }
    let sealing = t.elapsed().as_secs_f64();

    let beacon = local.sign(round);
    let t = Instant::now();
    for f in &files {
        let name = f.file_name().expect("name");
        synced_write(&opened.join(name), |w| {
            let input =
                std::io::BufReader::new(std::fs::File::open(sealed.join(name)).expect("open"));
            open_with_beacon(input, w, &local.chain, &beacon).expect("open");
        });
    }
    let opening = t.elapsed().as_secs_f64();
    for f in &files {
        let name = f.file_name().expect("name");
        assert_eq!(
            std::fs::read(f).expect("read"),
            std::fs::read(opened.join(name)).expect("read"),
            "opened byte for byte"
        );
    }

    println!("capsule: {PHOTOS} photos, {total_mb:.1} MB");
    println!("copy (baseline): {copy:.2} s, {:.0} MB/s", total_mb / copy);
    println!(
        "seal (time lock + escrow stanza per file): {sealing:.2} s, {:.0} MB/s",
        total_mb / sealing
    );
    println!(
        "open after the round (beacon verified per file): {opening:.2} s, {:.0} MB/s",
        total_mb / opening
    );
    println!("seal/copy ratio: {:.2}", sealing / copy);
}
