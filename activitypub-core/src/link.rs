//! Links ([`Link`]): plain links, mentions and hashtags.

use crate::kind::LinkType;
use crate::object::object_type;
use crate::values::{Iri, OneOrMany};

object_type! {
    /// A link of one of the [`LinkType`]s. Its `name`, `mediaType`, `width`, `height`, `preview`
    /// and `tag` are in `props`.
    pub struct Link: LinkType {
        /// `href`: the target.
        "href" => href: Iri,
        /// `rel`: link relations.
        "rel" => rel: OneOrMany<String>,
        /// `hreflang`: the language of the target.
        "hreflang" => hreflang: String,
        /// `fps` (PeerTube): frames per second of a video file.
        "fps" => fps: u64,
        /// `size` (PeerTube): size of the file in bytes.
        "size" => size: u64,
        /// `mimeType`: the media type, as old PeerTube versions spell it.
        "mimeType" => mime_type: String,
    }
}

impl Link {
    /// A link of type `kind` to `href`.
    pub fn to(kind: LinkType, href: Iri) -> Self {
        let mut link = Self::new(kind);
        link.href = Some(href);
        link
    }

    /// The media type, from `mediaType` or the older `mimeType`.
    pub fn media_type(&self) -> Option<&str> {
        self.props
            .media_type
            .as_deref()
            .or(self.mime_type.as_deref())
    }
}
