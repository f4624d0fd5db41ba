//! The size of the page a session shows.

/// The size of a session's viewport in CSS pixels (the device scale factor is 1), and whether
/// the session behaves as a phone.
///
/// A phone viewport turns on Chromium's mobile emulation: the page is laid out the way a phone
/// lays it out, so a page without `<meta name="viewport">` shows at a desktop layout width,
/// shrunk, as it would on a real phone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Viewport {
    /// Width in CSS pixels.
    pub width: u32,
    /// Height in CSS pixels.
    pub height: u32,
    /// Whether the page is shown as on a phone (mobile emulation).
    pub mobile: bool,
}

impl Viewport {
    /// A phone held upright: 390 × 844, mobile emulation on.
    pub const PHONE: Viewport = Viewport {
        width: 390,
        height: 844,
        mobile: true,
    };
    /// A desktop window: 1280 × 900.
    pub const DESKTOP: Viewport = Viewport {
        width: 1280,
        height: 900,
        mobile: false,
    };

    /// A desktop viewport of the given size.
    pub const fn new(width: u32, height: u32) -> Viewport {
        Viewport {
            width,
            height,
            mobile: false,
        }
    }

    /// The same size, shown as on a phone (or not).
    pub const fn with_mobile(self, mobile: bool) -> Viewport {
        Viewport { mobile, ..self }
    }
}
