//! Which tags have an actor, and their names: `tag-{name}`, `name` a hashtag as
//! `activitypub_core::hashtag` normalizes it, made of ASCII letters, digits and `_` only (an
//! actor's name is what WebFinger's `acct:` and every server's URLs take without escaping:
//! `instance_state::actors::valid_name`), short enough for an actor name.

use activitypub_core::hashtag;
use instance_state::actors::valid_name;

/// What every tag actor's name starts with.
pub const TAG_PREFIX: &str = "tag-";

/// The name of the actor of hashtag `tag` (`#Climate`, `climate`...), if it can have one.
pub fn actor_name(tag: &str) -> Option<String> {
    let tag = hashtag::received(tag)?;
    let name = format!("{TAG_PREFIX}{tag}");
    (tag.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') && valid_name(&name))
        .then_some(name)
}

/// The tag an actor name is of, when it is a tag actor's name as [`actor_name`] writes it (the
/// normalized form only: `tag-Climate` is no actor's).
pub(crate) fn tag_of(name: &str) -> Option<&str> {
    let tag = name.strip_prefix(TAG_PREFIX)?;
    (actor_name(tag).as_deref() == Some(name)).then_some(tag)
}

#[cfg(test)]
mod tests {
    use super::{actor_name, tag_of};

    #[test]
    fn tag_actors_are_named_by_normalized_ascii_tags() {
        assert_eq!(actor_name("#Climate").as_deref(), Some("tag-climate"));
        assert_eq!(actor_name("ＣＬＩＭＡＴＥ").as_deref(), Some("tag-climate"));
        assert_eq!(actor_name("café"), None);
        assert_eq!(actor_name("two words"), None);
        assert_eq!(actor_name(&"a".repeat(61)), None);
        assert_eq!(tag_of("tag-climate"), Some("climate"));
        assert_eq!(tag_of("tag-Climate"), None);
        assert_eq!(tag_of("tag-"), None);
        assert_eq!(tag_of("relay"), None);
    }
}
