//! The server's check of a HEIC, from its container alone (no pixel decoded), on every file
//! of the HEIC corpus: the accepted ones with their upright size, the others refused each
//! with its own code.

use imaging::structure::{self, FileAt};
use testkit::heic_corpus;

#[test]
fn every_heic_of_the_corpus_is_judged_from_its_structure_as_the_desktop_judges_it() {
    for case in heic_corpus::cases() {
        let mut file = FileAt::open(&case.path).expect("corpus file");
        let got = structure::check(&mut file, imaging::PixelLimits::DEFAULT);
        match (&case.accepted, &case.code) {
            (Some((content_type, width, height)), _) => {
                let s = got.unwrap_or_else(|r| panic!("{}: {r:?}", case.name));
                assert_eq!(
                    (s.content_type, s.width, s.height),
                    (content_type.as_str(), *width, *height),
                    "{}",
                    case.name
                );
            }
            (None, Some(code)) => {
                let r = got
                    .err()
                    .unwrap_or_else(|| panic!("{} was accepted", case.name));
                assert_eq!(r.code.as_str(), code, "{}: {}", case.name, r.message);
            }
            (None, None) => panic!("{}: the corpus says nothing of it", case.name),
        }
    }
}
