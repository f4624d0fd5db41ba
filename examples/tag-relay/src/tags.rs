//! Which tags have an actor, and their names: `tag-{name}`, `name` a hashtag as
//! `activitypub_core::hashtag` normalizes it, written in ASCII by
//! `activitypub_core::hashtag::ascii_name` (itself when it is ASCII, `xn--` and its Punycode
//! otherwise: an actor's name is what WebFinger's `acct:` and every server's URLs take without
//! escaping, `instance_state::actors::valid_name`), short enough for an actor name.

use activitypub_core::hashtag;
use instance_state::actors::valid_name;

/// What every tag actor's name starts with.
pub const TAG_PREFIX: &str = "tag-";

/// The name of the actor of hashtag `tag` (`#Climate`, `climate`, `#Café`...), if it can have
/// one.
pub fn actor_name(tag: &str) -> Option<String> {
    let tag = hashtag::received(tag)?;
    let name = format!("{TAG_PREFIX}{}", hashtag::ascii_name(&tag)?);
    valid_name(&name).then_some(name)
}

/// The tag an actor name is of, when it is a tag actor's name as [`actor_name`] writes it (the
/// normalized form only: `tag-Climate` is no actor's).
pub(crate) fn tag_of(name: &str) -> Option<String> {
    let tag = hashtag::from_ascii_name(name.strip_prefix(TAG_PREFIX)?)?;
    (actor_name(&tag).as_deref() == Some(name)).then_some(tag)
}

#[cfg(test)]
mod tests {
    use super::{actor_name, tag_of};

    #[test]
    fn tag_actors_are_named_by_normalized_tags_in_ascii() {
        assert_eq!(actor_name("#Climate").as_deref(), Some("tag-climate"));
        assert_eq!(actor_name("ＣＬＩＭＡＴＥ").as_deref(), Some("tag-climate"));
        assert_eq!(actor_name("#Café").as_deref(), Some("tag-xn--caf-dma"));
        assert_eq!(
            actor_name("CAFE\u{301}").as_deref(),
            Some("tag-xn--caf-dma")
        );
        assert_eq!(actor_name("東京").as_deref(), Some("tag-xn--1lqs71d"));
        assert_eq!(actor_name("two words"), None);
        assert_eq!(actor_name(&"a".repeat(61)), None);
        assert_eq!(
            actor_name("東京大阪名古屋札幌福岡神戸京都横浜川崎広島仙台千葉埼玉静岡新潟熊本"),
            None
        );
        assert_eq!(tag_of("tag-climate").as_deref(), Some("climate"));
        assert_eq!(tag_of("tag-xn--caf-dma").as_deref(), Some("café"));
        assert_eq!(tag_of("tag-xn--1lqs71d").as_deref(), Some("東京"));
        // Only the names actor_name writes.
        assert_eq!(tag_of("tag-Climate"), None);
        assert_eq!(tag_of("tag-xn--climate-"), None);
        assert_eq!(tag_of("tag-xn--CAF-dma"), None);
        assert_eq!(tag_of("tag-xn--"), None);
        assert_eq!(tag_of("tag-xn--zzzzzzzzzzzzzz"), None);
        assert_eq!(tag_of("tag-"), None);
        assert_eq!(tag_of("relay"), None);
    }
}
