//! Uploaded images (avatars, banners and the photos of posts): what an upload is, and its
//! size in pixels when its header says it plainly, from its bytes. Pure: no I/O.
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

    /// The width and height `bytes` (the start of a file of this type) declare, when the
    /// header holds them at a fixed place: PNG (IHDR) and GIF (the logical screen). JPEG and
    /// WebP keep them further in, and are left unmeasured.
    pub(crate) fn dimensions(self, bytes: &[u8]) -> Option<(u32, u32)> {
        match self {
            Self::Png => {
                let width = u32::from_be_bytes(bytes.get(16..20)?.try_into().ok()?);
                let height = u32::from_be_bytes(bytes.get(20..24)?.try_into().ok()?);
                (bytes.get(12..16)? == b"IHDR" && width > 0 && height > 0)
                    .then_some((width, height))
            }
            Self::Gif => {
                let width = u16::from_le_bytes(bytes.get(6..8)?.try_into().ok()?);
                let height = u16::from_le_bytes(bytes.get(8..10)?.try_into().ok()?);
                (width > 0 && height > 0).then_some((u32::from(width), u32::from(height)))
            }
            Self::Jpeg | Self::WebP => None,
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

    #[test]
    fn png_and_gif_sizes_are_read_from_their_headers() {
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\x01\x2c\0\0\0\xc8\x08\x06";
        assert_eq!(ImageType::Png.dimensions(png), Some((300, 200)));
        assert_eq!(ImageType::Png.dimensions(&png[..20]), None);
        assert_eq!(
            ImageType::Gif.dimensions(b"GIF89a\x40\x01\xf0\x00"),
            Some((320, 240))
        );
        assert_eq!(ImageType::Gif.dimensions(b"GIF89a\0\0\x01\0"), None);
        assert_eq!(ImageType::Jpeg.dimensions(&[0xFF, 0xD8, 0xFF]), None);
    }
}
