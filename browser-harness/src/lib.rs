//! Browser tests for the reference instances: a real headless Chromium, driven through
//! chromedriver (WebDriver, with the [`fantoccini`] client), used the way a person uses a page.
//!
//! ```no_run
//! # async fn example() -> Result<(), browser_harness::Error> {
//! use browser_harness::{Browser, Key, Viewport};
//!
//! let browser = Browser::start().await?; // chromedriver on 127.0.0.1, an OS-assigned port
//! let alice = browser.session(Viewport::PHONE).await?; // a Chromium of her own
//! let bob = browser.session(Viewport::DESKTOP).await?; // and one for Bob: no shared cookies
//!
//! alice.goto("http://127.0.0.1:8080/signup").await?;
//! alice.fill("Username", "alice").await?; // the field whose <label> reads "Username"
//! alice.fill("Password", "correct horse battery staple").await?;
//! alice.click_button("Sign up").await?;
//! alice.wait_for_text("Welcome, alice").await?; // polls, with a deadline
//! alice.screenshot("docs/screenshots/welcome.png").await?;
//!
//! bob.goto("http://127.0.0.1:8081/").await?;
//! bob.press(Key::Tab).await?;
//! assert_eq!(bob.focused().await?.as_deref(), Some("Skip to content"));
//! # Ok(()) }
//! ```
//!
//! **Where the browser comes from.** Debian's `chromium` and `chromium-driver` packages, at
//! `/usr/bin/chromium` and `/usr/bin/chromedriver` (or `$CHROMIUM` and `$CHROMEDRIVER`).
//! `scripts/with-chromium` installs them when they are missing, and `scripts/test` runs the
//! tests through it. When they are missing anyway, [`Browser::start`] fails with
//! [`Error::Missing`], which says how to install them: browser tests never skip, in CI or
//! elsewhere.
//!
//! **Processes.** [`Browser::start`] runs `chromedriver --port=0` (it binds a port the OS
//! assigns and prints it) in a process group of its own, and waits, with a deadline, until its
//! `/status` answers ready. Each [`Browser::session`] is a separate headless Chromium with a
//! fresh temporary profile, started with every switch that stops it from reaching the network on
//! its own. When the [`Browser`] and all its sessions are dropped, the process group is killed.
//!
//! **Helpers.** [`Session`] finds fields by their `<label>`, buttons and links by their text,
//! waits for text or elements by polling with a deadline, reads the page's text and cookies,
//! presses keys, names the focused element, and writes PNG screenshots. Each failure is an
//! [`Error`] naming what was looked for and on which page. `docs/browser-tests.md` tells how to
//! run the tests and how the screenshots in `docs/screenshots/` are made.

#![warn(missing_docs)]

mod browser;
mod error;
mod session;
mod viewport;

pub use browser::{Browser, DEFAULT_CHROMEDRIVER, DEFAULT_CHROMIUM};
pub use error::Error;
pub use fantoccini::{self, cookies::Cookie, elements::Element, key::Key};
pub use session::{DEFAULT_DEADLINE, Session};
pub use viewport::Viewport;
