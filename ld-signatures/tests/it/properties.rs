//! Properties: whatever text a post carries, what is signed verifies, and any other text does
//! not.

use ld_signatures::{Error, sign, verify};
use proptest::prelude::*;

use crate::support::{created, mastodon_note, peertube_keys};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn any_content_round_trips_and_any_change_is_caught(
        content in "\\PC*|[\"\\\\\t\n\r\u{0}-\u{1f}\u{7f}\u{2028}é😀<>&]{0,24}",
        other in "[a-z]{1,8}",
    ) {
        let (private, public) = peertube_keys();
        let mut note = mastodon_note();
        note["object"]["content"] = content.clone().into();
        note["object"]["contentMap"]["ja"] = content.clone().into();
        let signed = sign(&note, "https://a.example/u#k", created(), &private).unwrap();
        let verified = verify(&signed, &public).unwrap();
        prop_assert_eq!(&verified.document["object"]["content"], &serde_json::Value::from(content.clone()));

        let mut changed = signed;
        changed["object"]["content"] = format!("{content}{other}").into();
        let refused = matches!(verify(&changed, &public), Err(Error::Mismatch { .. }));
        prop_assert!(refused, "a changed content verified");
    }
}
