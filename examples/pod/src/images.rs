//! Profile images (avatars and banners): what an upload is, from its bytes. Pure: no I/O.
//!
//! The type a browser or client declares is not believed; the first bytes say what the file
//! is, and only the four image formats every fediverse server shows are taken.

/// An image format the pod takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ImageType {
    Jpeg,
    Png,
    WebP,
    Gif,
}

impl ImageType {
    /// What `bytes` (the start of a file) are, from their magic numbers: JPEG (`FF D8 FF`),
    /// PNG (its 8-byte signature), WebP (`RIFF....WEBP`) or GIF (`GIF87a`/`GIF89a`).
    pub(crate) fn sniff(bytes: &[u8]) -> Option<Self> {
        if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(Self::Jpeg)
        } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(Self::Png)
        } else if bytes.starts_with(b"RIFF") && bytes.get(8..12) == Some(b"WEBP".as_slice()) {
            Some(Self::WebP)
        } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
            Some(Self::Gif)
        } else {
            None
        }
    }

    /// Its media type.
    pub(crate) fn media_type(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
            Self::WebP => "image/webp",
            Self::Gif => "image/gif",
        }
    }

    /// The file name extension of its files.
    pub(crate) fn extension(self) -> &'static str {
        match self {
            Self::Jpeg => "jpg",
            Self::Png => "png",
            Self::WebP => "webp",
            Self::Gif => "gif",
        }
    }
}

/// What the person is told when a file is none of these.
pub(crate) const ACCEPTED: &str = "JPEG, PNG, WebP or GIF";

#[cfg(test)]
mod tests {
    use super::ImageType;

    #[test]
    fn image_types_are_recognised_from_their_bytes() {
        let cases: &[(&[u8], Option<ImageType>)] = &[
            (&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10], Some(ImageType::Jpeg)),
            (b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", Some(ImageType::Png)),
            (b"RIFF\x24\0\0\0WEBPVP8 ", Some(ImageType::WebP)),
            (b"GIF89a\x01\0\x01\0", Some(ImageType::Gif)),
            (b"GIF87a", Some(ImageType::Gif)),
            (b"RIFF\x24\0\0\0WAVEfmt ", None),
            (b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>", None),
            (b"\x89PNG", None),
            (b"", None),
            (b"%PDF-1.7", None),
        ];
        for (bytes, expected) in cases {
            assert_eq!(ImageType::sniff(bytes), *expected, "{bytes:?}");
        }
    }
}
