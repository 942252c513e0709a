//! Drafts made, edited and deleted with no network.

use std::path::PathBuf;

use chrono::Utc;
use desktop_core::{CancelToken, DraftError, ImportProgress, Library, import};
use protocol::{CapsuleState, CapsuleWrite};

fn fields(title: &str, recipients: &[&str]) -> CapsuleWrite {
    CapsuleWrite {
        title: title.into(),
        note: "Dear future us,\nremember the lake.".into(),
        open_at: Some(Utc::now() + chrono::Duration::days(365)),
        time_zone: "Europe/Paris".into(),
        recipients: recipients.iter().map(|r| (*r).to_owned()).collect(),
    }
}

fn photo(dir: &std::path::Path, name: &str, seed: u8) -> PathBuf {
    let img = image::RgbImage::from_fn(64, 48, |x, y| image::Rgb([x as u8, y as u8, seed]));
    let p = dir.join(name);
    img.save(&p).expect("save");
    p
}

#[test]
fn a_draft_is_made_edited_filled_and_deleted_offline() {
    let dir = tempfile::tempdir().expect("tmp");
    let library = Library::open(dir.path().join("lib")).expect("library");
    let d = library
        .create_draft(
            &fields(
                " Summer ",
                &["Ann@Example.com", "ann@example.com", "bo@example.com"],
            ),
            Utc::now(),
        )
        .expect("draft");
    assert_eq!(d.title, "Summer");
    assert_eq!(d.recipients, ["ann@example.com", "bo@example.com"]);
    assert_eq!(d.state, CapsuleState::Draft);

    let src = dir.path().join("src");
    std::fs::create_dir_all(&src).expect("mkdir");
    let paths = [photo(&src, "a.png", 1), photo(&src, "b.png", 2)];
    let report = import(
        &library,
        &paths,
        &|_: ImportProgress| {},
        &CancelToken::default(),
    );
    let picked: Vec<(String, Option<String>)> = report
        .imported
        .iter()
        .map(|p| (p.photo.sha256.clone(), p.file_name.clone()))
        .collect();
    let photos = library.add_photos(d.id, &picked, Utc::now()).expect("add");
    assert_eq!(photos.len(), 2);
    // Adding the same photo again does not add it twice.
    assert_eq!(
        library
            .add_photos(d.id, &picked[..1], Utc::now())
            .expect("add")
            .len(),
        2
    );
    library
        .remove_photo(d.id, photos[0].id, Utc::now())
        .expect("remove");

    let edited = library
        .update_draft(
            d.id,
            &fields("Summer at the lake", &["bo@example.com"]),
            Utc::now(),
        )
        .expect("edit");
    assert_eq!(edited.title, "Summer at the lake");
    assert_eq!(edited.recipients, ["bo@example.com"]);
    assert_eq!(edited.photos.len(), 1);
    assert_eq!(edited.photos[0].file_name.as_deref(), Some("b.png"));

    // It survives closing and reopening the library.
    drop(library);
    let library = Library::open(dir.path().join("lib")).expect("reopen");
    assert_eq!(library.draft(d.id).expect("db").as_ref(), Some(&edited));
    assert_eq!(library.capsule_ids().expect("ids"), [d.id]);

    library.delete_capsule(d.id, Utc::now()).expect("delete");
    assert!(library.draft(d.id).expect("db").is_none());
    assert!(matches!(
        library.delete_capsule(d.id, Utc::now()),
        Err(DraftError::NotFound)
    ));
    // The photos stay in the library for other capsules.
    assert_eq!(library.photo_count().expect("count"), 2);
}

#[test]
fn bad_fields_are_refused_with_the_servers_words() {
    let dir = tempfile::tempdir().expect("tmp");
    let library = Library::open(dir.path()).expect("library");
    for (title, recipients, words) in [
        ("", vec![], "title"),
        ("ok", vec!["not-an-address"], "not a valid email"),
        (
            "ok",
            (0..21).map(|_| "a@example.com").collect(),
            "at most 20",
        ),
    ] {
        match library.create_draft(&fields(title, &recipients), Utc::now()) {
            Err(DraftError::Invalid(m)) => assert!(m.contains(words), "{m}"),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }
    assert!(library.capsule_ids().expect("ids").is_empty());
}
