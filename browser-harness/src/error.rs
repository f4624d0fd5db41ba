//! What can go wrong while driving the browser.

use std::{io, path::PathBuf, time::Duration};

/// An error from the harness: the browser is missing or would not start, a page lacks what a
/// test looked for, or a wait ran out. Each says what was looked for and on which page, so a
/// failing browser test explains itself.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Chromium or chromedriver is not installed where the harness looks. Browser tests never
    /// skip: this error fails the test, in CI and on a developer's machine alike.
    #[error(
        "{program} not found at {}: run the tests through `scripts/with-chromium` (it installs \
         Debian's `chromium` and `chromium-driver`), or `apt-get install chromium chromium-driver`, \
         or point ${variable} at it",
        path.display()
    )]
    Missing {
        /// `chromium` or `chromedriver`.
        program: &'static str,
        /// The environment variable that names its path.
        variable: &'static str,
        /// Where the harness looked.
        path: PathBuf,
    },
    /// chromedriver could not be started, or its log file could not be made.
    #[error("could not start chromedriver ({}): {source}", path.display())]
    Spawn {
        /// The chromedriver binary.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// chromedriver did not say on which port it listens, or did not answer `/status` as ready,
    /// before the deadline.
    #[error("chromedriver was not ready after {waited:?} ({reason}); its log:\n{log}")]
    NotReady {
        /// How long the harness waited.
        waited: Duration,
        /// What was missing.
        reason: String,
        /// chromedriver's standard error.
        log: String,
    },
    /// A temporary directory for a browser profile could not be made.
    #[error("could not make a temporary Chromium profile directory: {0}")]
    Profile(#[source] io::Error),
    /// chromedriver refused to open a Chromium session.
    #[error(
        "chromedriver could not start a Chromium session: {source}; chromedriver's log:\n{log}"
    )]
    NewSession {
        /// What chromedriver answered.
        source: fantoccini::error::NewSessionError,
        /// chromedriver's standard error.
        log: String,
    },
    /// A WebDriver command failed.
    #[error("the browser failed while {doing}: {source}")]
    Command {
        /// What the harness was doing.
        doing: String,
        /// The WebDriver error.
        source: fantoccini::error::CmdError,
    },
    /// Nothing on the page matched (a label, a button, a link).
    #[error("no {kind} reads {text:?} on {url}{hint}")]
    NotFound {
        /// What was looked for: `label`, `button`, `link`.
        kind: &'static str,
        /// The text looked for.
        text: String,
        /// The page.
        url: String,
        /// A hint for the page's author, may be empty.
        hint: &'static str,
    },
    /// More than one element matched, so a click or a fill would be a guess.
    #[error("{count} {kind}s read {text:?} on {url}: the test cannot tell which one is meant")]
    Ambiguous {
        /// What was looked for.
        kind: &'static str,
        /// The text looked for.
        text: String,
        /// How many matched.
        count: u64,
        /// The page.
        url: String,
    },
    /// A `<label>` matched but labels no form control.
    #[error(
        "the label {label:?} on {url} labels no form control: give it `for=` the control's id, \
         or put the control inside it"
    )]
    UnattachedLabel {
        /// The label's text.
        label: String,
        /// The page.
        url: String,
    },
    /// A wait ran out.
    #[error("waited {waited:?} for {what} on {url}; the page reads:\n{page}")]
    Timeout {
        /// What was awaited.
        what: String,
        /// How long.
        waited: Duration,
        /// The page when the wait ran out.
        url: String,
        /// The page's visible text then (cut to a few thousand characters).
        page: String,
    },
    /// A screenshot could not be decoded or written.
    #[error("could not write the screenshot {}: {source}", path.display())]
    Screenshot {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The browser answered something the harness did not expect.
    #[error("unexpected answer from the browser while {doing}: {answer}")]
    Unexpected {
        /// What the harness was doing.
        doing: String,
        /// The answer.
        answer: String,
    },
}

impl Error {
    /// Wraps a WebDriver error with what the harness was doing.
    pub(crate) fn command(
        doing: impl Into<String>,
    ) -> impl FnOnce(fantoccini::error::CmdError) -> Self {
        let doing = doing.into();
        move |source| Error::Command { doing, source }
    }
}
