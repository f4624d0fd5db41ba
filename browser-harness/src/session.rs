//! One person's browser: a headless Chromium session and the helpers that use its pages as a
//! person does.

use std::{
    path::Path,
    time::{Duration, Instant},
};

use base64::Engine as _;
use fantoccini::{
    Client, Locator,
    actions::{InputSource as _, KeyAction, KeyActions},
    cookies::Cookie,
    elements::{Element, ElementRef},
    key::Key,
    wd::WebDriverCompatibleCommand,
};
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::{Browser, Error, Viewport};

/// How long a wait lasts before it fails, unless [`Session::with_deadline`] says otherwise.
/// Generous: two cores may be compiling beside the test. A passing test never waits this long.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(20);
/// How often a wait looks again.
const POLL_INTERVAL: Duration = Duration::from_millis(50);
/// How much of the page an [`Error::Timeout`] quotes.
const QUOTED_PAGE: usize = 4000;
/// The key under which WebDriver returns an element from a script (WebDriver §6.6).
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Shared by the scripts below: whitespace collapsed as a reader sees it, and a label's own
/// text (without the text of a control nested in it, such as a `<select>`'s options).
const SCRIPT_PRELUDE: &str = "
    const norm = s => (s || '').replace(/\\s+/g, ' ').trim();
    const labelText = l => {
        const c = l.cloneNode(true);
        c.querySelectorAll('input, select, textarea, button').forEach(x => x.remove());
        return norm(c.textContent);
    };
    const nameOf = e => norm(e.innerText) || norm(e.value) || norm(e.getAttribute('aria-label'));
";

/// One person's browser: a headless Chromium with its own fresh profile, opened by
/// [`Browser::session`].
///
/// The helpers find things as a person does (a field by its `<label>`, a button or a link by
/// its text), so a test that passes also shows that the page is usable that way; they fail
/// with an [`Error`] that names what was missing and on which page. Waits poll with a deadline
/// ([`DEFAULT_DEADLINE`]); nothing sleeps a fixed time. For anything else, [`Session::client`]
/// is the underlying WebDriver client.
///
/// [`Session::close`] ends the session and stops its Chromium; dropping the session instead
/// asks chromedriver to end it in the background.
#[derive(Debug)]
pub struct Session {
    // Dropped in this order: the client (ends the WebDriver session), the profile directory,
    // then this handle on chromedriver.
    client: Client,
    deadline: Duration,
    viewport: Viewport,
    _profile: TempDir,
    _browser: Browser,
}

impl Session {
    pub(crate) fn new(
        client: Client,
        profile: TempDir,
        browser: Browser,
        viewport: Viewport,
    ) -> Session {
        Session {
            client,
            deadline: DEFAULT_DEADLINE,
            viewport,
            _profile: profile,
            _browser: browser,
        }
    }

    /// Sizes the window so that the layout viewport is exactly [`Session::viewport`]: headless
    /// Chromium takes `--window-size` as the outer size, and its viewport is smaller by the
    /// height of the browser's (invisible) toolbars. Phone viewports are exact already, through
    /// mobile emulation.
    pub(crate) async fn fit_window(&self) -> Result<(), Error> {
        if self.viewport.mobile {
            return Ok(());
        }
        let doing = "sizing the window";
        let (width, height) = (self.viewport.width, self.viewport.height);
        let (outer_width, outer_height) = self
            .client
            .get_window_size()
            .await
            .map_err(Error::command(doing))?;
        let inner = self
            .script(
                doing,
                "return [window.innerWidth, window.innerHeight];",
                vec![],
            )
            .await?;
        let inner_of = |at: usize| inner.get(at).and_then(Value::as_u64);
        let (Some(inner_width), Some(inner_height)) = (inner_of(0), inner_of(1)) else {
            return Err(Error::Unexpected {
                doing: doing.to_owned(),
                answer: inner.to_string(),
            });
        };
        let fit = |wanted: u32, outer: u64, inner: u64| {
            u32::try_from((u64::from(wanted) + outer).saturating_sub(inner)).unwrap_or(wanted)
        };
        if (inner_width, inner_height) != (u64::from(width), u64::from(height)) {
            self.client
                .set_window_size(
                    fit(width, outer_width, inner_width),
                    fit(height, outer_height, inner_height),
                )
                .await
                .map_err(Error::command(doing))?;
        }
        Ok(())
    }

    /// The same session, its waits lasting `deadline`.
    pub fn with_deadline(self, deadline: Duration) -> Session {
        Session { deadline, ..self }
    }

    /// How long a wait lasts before it fails.
    pub fn deadline(&self) -> Duration {
        self.deadline
    }

    /// The viewport the session was opened with.
    pub fn viewport(&self) -> Viewport {
        self.viewport
    }

    /// The underlying WebDriver client, for what the helpers do not cover.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Ends the session: chromedriver stops this session's Chromium, then the profile directory
    /// is deleted.
    pub async fn close(self) -> Result<(), Error> {
        let Session {
            client, _profile, ..
        } = self;
        client
            .close()
            .await
            .map_err(Error::command("closing the session"))
    }

    /// Goes to `url` and waits until the page has loaded.
    pub async fn goto(&self, url: &str) -> Result<(), Error> {
        self.client
            .goto(url)
            .await
            .map_err(Error::command(format!("going to {url}")))
    }

    /// The address of the page shown.
    pub async fn current_url(&self) -> Result<url::Url, Error> {
        self.client
            .current_url()
            .await
            .map_err(Error::command("reading the address"))
    }

    /// The page's `<title>`.
    pub async fn title(&self) -> Result<String, Error> {
        self.client
            .title()
            .await
            .map_err(Error::command("reading the title"))
    }

    /// The page's visible text (`document.body.innerText`), whitespace as the browser renders it.
    pub async fn text(&self) -> Result<String, Error> {
        let text = self
            .script(
                "reading the page text",
                "return document.body ? document.body.innerText : '';",
                vec![],
            )
            .await?;
        Ok(text.as_str().unwrap_or_default().to_owned())
    }

    /// Types `value` into the form field whose `<label>` reads `label` (whitespace collapsed),
    /// after clearing it. Fails when no label or more than one reads so, or the label labels no
    /// control: finding fields by label is how a person (and a screen reader) finds them.
    pub async fn fill(&self, label: &str, value: &str) -> Result<(), Error> {
        let field = self.labelled(label).await?;
        let doing = || format!("filling the field labelled {label:?}");
        field.clear().await.map_err(Error::command(doing()))?;
        field
            .send_keys(value)
            .await
            .map_err(Error::command(doing()))
    }

    /// The current value of the form field whose `<label>` reads `label`.
    pub async fn field_value(&self, label: &str) -> Result<String, Error> {
        let field = self.labelled(label).await?;
        let value = field.prop("value").await.map_err(Error::command(format!(
            "reading the field labelled {label:?}"
        )))?;
        Ok(value.unwrap_or_default())
    }

    /// Chooses the option reading `option` in the `<select>` whose `<label>` reads `label`.
    pub async fn select(&self, label: &str, option: &str) -> Result<(), Error> {
        let field = self.labelled(label).await?;
        let doing = || format!("choosing {option:?} in the field labelled {label:?}");
        let options = field
            .find_all(Locator::Css("option"))
            .await
            .map_err(Error::command(doing()))?;
        let wanted = normalize(option);
        let mut matching = Vec::new();
        for candidate in options {
            let text = candidate.text().await.map_err(Error::command(doing()))?;
            if normalize(&text) == wanted {
                matching.push(candidate);
            }
        }
        let chosen = self.single(matching, "option", option).await?;
        chosen.click().await.map_err(Error::command(doing()))
    }

    /// Chooses the file at `path` in the file input whose `<label>` reads `label`, as a person
    /// picking it in the file dialog would (WebDriver sends the path to the input).
    pub async fn choose_file(&self, label: &str, path: impl AsRef<Path>) -> Result<(), Error> {
        let field = self.labelled(label).await?;
        // chromedriver takes only canonical absolute paths.
        let path =
            std::fs::canonicalize(path.as_ref()).unwrap_or_else(|_| path.as_ref().to_owned());
        let doing = || {
            format!(
                "choosing {} in the field labelled {label:?}",
                path.display()
            )
        };
        field
            .send_keys(&path.to_string_lossy())
            .await
            .map_err(Error::command(doing()))
    }

    /// Waits until `script` (a function body returning a boolean, as WebDriver runs it) returns
    /// `true`, polling within the session's deadline: for what the page shows only through
    /// scripts' eyes, such as a `<video>` element's `readyState`.
    pub async fn wait_until_script(&self, what: &str, script: &str) -> Result<(), Error> {
        self.poll(what.to_owned(), async || {
            let answer = self.script(what, script, Vec::new()).await.ok()?;
            (answer.as_bool() == Some(true)).then_some(())
        })
        .await
    }

    /// Ticks (`true`) or clears (`false`) the checkbox or radio button whose `<label>` reads
    /// `label`, by clicking it when it is not already so.
    pub async fn set_checked(&self, label: &str, checked: bool) -> Result<(), Error> {
        let field = self.labelled(label).await?;
        let doing = || format!("setting the box labelled {label:?}");
        if field.is_selected().await.map_err(Error::command(doing()))? != checked {
            field.click().await.map_err(Error::command(doing()))?;
        }
        Ok(())
    }

    /// Clicks the visible button (`<button>`, or an `<input>` of type submit, button or reset)
    /// whose text, value or `aria-label` reads `text`, and waits for the navigation it starts.
    pub async fn click_button(&self, text: &str) -> Result<(), Error> {
        let button = self
            .by_name(
                "button",
                text,
                "button, input[type=submit], input[type=button], input[type=reset]",
            )
            .await?;
        button
            .click()
            .await
            .map_err(Error::command(format!("clicking the button {text:?}")))
    }

    /// Clicks the visible link whose text (or `aria-label`) reads `text`.
    pub async fn click_link(&self, text: &str) -> Result<(), Error> {
        let link = self.by_name("link", text, "a[href]").await?;
        link.click()
            .await
            .map_err(Error::command(format!("clicking the link {text:?}")))
    }

    /// Waits until the page's visible text contains `text` (whitespace collapsed on both sides).
    pub async fn wait_for_text(&self, text: &str) -> Result<(), Error> {
        let wanted = normalize(text);
        self.poll(format!("the text {text:?}"), async || {
            let page = self.text().await.ok()?;
            normalize(&page).contains(&wanted).then_some(())
        })
        .await
    }

    /// Waits until the page's visible text no longer contains `text`.
    pub async fn wait_for_text_gone(&self, text: &str) -> Result<(), Error> {
        let wanted = normalize(text);
        self.poll(format!("the text {text:?} to go"), async || {
            let page = self.text().await.ok()?;
            (!normalize(&page).contains(&wanted)).then_some(())
        })
        .await
    }

    /// Waits until an element matches the CSS `selector`, and returns the first one.
    pub async fn wait_for_element(&self, selector: &str) -> Result<Element, Error> {
        self.poll(format!("an element matching {selector:?}"), async || {
            self.client.find(Locator::Css(selector)).await.ok()
        })
        .await
    }

    /// Waits until the address's path is `path` (after a redirect, say).
    pub async fn wait_for_path(&self, path: &str) -> Result<(), Error> {
        self.poll(format!("the address path {path:?}"), async || {
            let url = self.client.current_url().await.ok()?;
            (url.path() == path).then_some(())
        })
        .await
    }

    /// The cookies the browser holds for the page shown, with their attributes (WebDriver
    /// shows `HttpOnly` cookies too).
    pub async fn cookies(&self) -> Result<Vec<Cookie<'static>>, Error> {
        self.client
            .get_all_cookies()
            .await
            .map_err(Error::command("reading the cookies"))
    }

    /// The cookie named `name` for the page shown, if the browser holds one.
    pub async fn cookie(&self, name: &str) -> Result<Option<Cookie<'static>>, Error> {
        Ok(self
            .cookies()
            .await?
            .into_iter()
            .find(|cookie| cookie.name() == name))
    }

    /// Presses `key` and lets it go, wherever the focus is ([`Key::Tab`], [`Key::Enter`], ...).
    pub async fn press(&self, key: Key) -> Result<(), Error> {
        self.press_chord(&[key]).await
    }

    /// Holds the keys down in order and lets them go in reverse: `&[Key::Shift, Key::Tab]`.
    pub async fn press_chord(&self, keys: &[Key]) -> Result<(), Error> {
        let mut actions = KeyActions::new("keyboard".to_owned());
        for key in keys {
            actions = actions.then(KeyAction::Down {
                value: char::from(*key),
            });
        }
        for key in keys.iter().rev() {
            actions = actions.then(KeyAction::Up {
                value: char::from(*key),
            });
        }
        self.client
            .perform_actions(actions)
            .await
            .map_err(Error::command(format!("pressing {keys:?}")))
    }

    /// Types `text` wherever the focus is, one key at a time.
    pub async fn type_text(&self, text: &str) -> Result<(), Error> {
        let mut actions = KeyActions::new("keyboard".to_owned());
        for value in text.chars() {
            actions = actions
                .then(KeyAction::Down { value })
                .then(KeyAction::Up { value });
        }
        self.client
            .perform_actions(actions)
            .await
            .map_err(Error::command(format!("typing {text:?}")))
    }

    /// The name of the element that has the focus, as a person would read it: a field's label,
    /// a button's or link's text; `None` when nothing in particular has it (the page itself).
    pub async fn focused(&self) -> Result<Option<String>, Error> {
        let script = format!(
            "{SCRIPT_PRELUDE}
            const e = document.activeElement;
            if (!e || e === document.body || e === document.documentElement) return null;
            if (e.labels && e.labels.length) return labelText(e.labels[0]);
            return nameOf(e) || e.tagName.toLowerCase();"
        );
        let name = self
            .script("reading the focused element", &script, vec![])
            .await?;
        Ok(name.as_str().map(str::to_owned))
    }

    /// Writes a PNG of the viewport to `path` (folders made as needed). Tests that take the
    /// screenshots in `docs/screenshots/` call this, so those stay current.
    pub async fn screenshot(&self, path: impl AsRef<Path>) -> Result<(), Error> {
        let png = self
            .client
            .screenshot()
            .await
            .map_err(Error::command("taking a screenshot"))?;
        write_png(path.as_ref(), &png).await
    }

    /// Writes a PNG of the whole page, as tall as its content, at the viewport's width.
    pub async fn screenshot_full_page(&self, path: impl AsRef<Path>) -> Result<(), Error> {
        let height = self
            .script(
                "measuring the page",
                "return Math.max(document.documentElement.scrollHeight, document.body ? document.body.scrollHeight : 0);",
                vec![],
            )
            .await?
            .as_f64()
            .unwrap_or_default()
            .max(f64::from(self.viewport.height));
        let answer = self
            .devtools(
                "Page.captureScreenshot",
                json!({
                    "format": "png",
                    "captureBeyondViewport": true,
                    "clip": { "x": 0, "y": 0, "width": self.viewport.width, "height": height, "scale": 1 },
                }),
            )
            .await?;
        let png = answer
            .get("data")
            .and_then(Value::as_str)
            .and_then(|data| base64::engine::general_purpose::STANDARD.decode(data).ok())
            .ok_or_else(|| Error::Unexpected {
                doing: "taking a full-page screenshot".to_owned(),
                answer: answer.to_string(),
            })?;
        write_png(path.as_ref(), &png).await
    }

    /// The control labelled `label`.
    async fn labelled(&self, label: &str) -> Result<Element, Error> {
        let script = format!(
            "{SCRIPT_PRELUDE}
            const want = norm(arguments[0]);
            const labels = [...document.querySelectorAll('label')].filter(l => labelText(l) === want);
            return {{ count: labels.length, element: labels.length === 1 ? labels[0].control : null }};"
        );
        let answer = self
            .script(
                &format!("finding the label {label:?}"),
                &script,
                vec![json!(label)],
            )
            .await?;
        match answer.get("count").and_then(Value::as_u64) {
            Some(0) => Err(self
                .not_found("label", label, " (every form field needs a <label>)")
                .await),
            Some(1) => match self.element(&answer) {
                Some(element) => Ok(element),
                None => Err(Error::UnattachedLabel {
                    label: label.to_owned(),
                    url: self.url_for_error().await,
                }),
            },
            Some(count) => Err(Error::Ambiguous {
                kind: "label",
                text: label.to_owned(),
                count,
                url: self.url_for_error().await,
            }),
            None => Err(Error::Unexpected {
                doing: format!("finding the label {label:?}"),
                answer: answer.to_string(),
            }),
        }
    }

    /// The one visible element matching `selector` whose name reads `text`.
    async fn by_name(
        &self,
        kind: &'static str,
        text: &str,
        selector: &str,
    ) -> Result<Element, Error> {
        let script = format!(
            "{SCRIPT_PRELUDE}
            const want = norm(arguments[0]);
            const found = [...document.querySelectorAll(arguments[1])]
                .filter(e => e.getClientRects().length > 0 && nameOf(e) === want);
            return {{ count: found.length, element: found.length === 1 ? found[0] : null }};"
        );
        let doing = format!("finding the {kind} {text:?}");
        let answer = self
            .script(&doing, &script, vec![json!(text), json!(selector)])
            .await?;
        match (
            answer.get("count").and_then(Value::as_u64),
            self.element(&answer),
        ) {
            (Some(0), _) => Err(self.not_found(kind, text, "").await),
            (Some(1), Some(element)) => Ok(element),
            (Some(count), None) if count > 1 => Err(Error::Ambiguous {
                kind,
                text: text.to_owned(),
                count,
                url: self.url_for_error().await,
            }),
            _ => Err(Error::Unexpected {
                doing,
                answer: answer.to_string(),
            }),
        }
    }

    /// The only element of `found`, or why not.
    async fn single(
        &self,
        mut found: Vec<Element>,
        kind: &'static str,
        text: &str,
    ) -> Result<Element, Error> {
        match found.len() {
            0 => Err(self.not_found(kind, text, "").await),
            1 => found.pop().ok_or_else(|| Error::Unexpected {
                doing: format!("finding the {kind} {text:?}"),
                answer: String::new(),
            }),
            count => Err(Error::Ambiguous {
                kind,
                text: text.to_owned(),
                count: count as u64,
                url: self.url_for_error().await,
            }),
        }
    }

    /// The element a script returned in its answer's `element` field.
    fn element(&self, answer: &Value) -> Option<Element> {
        let id = answer.get("element")?.get(ELEMENT_KEY)?.as_str()?;
        Some(Element::from_element_id(
            self.client.clone(),
            ElementRef::from(id.to_owned()),
        ))
    }

    /// Runs `script` in the page.
    async fn script(&self, doing: &str, script: &str, args: Vec<Value>) -> Result<Value, Error> {
        self.client
            .execute(script, args)
            .await
            .map_err(Error::command(doing))
    }

    /// Sends a Chrome DevTools Protocol command through chromedriver.
    async fn devtools(&self, cmd: &'static str, params: Value) -> Result<Value, Error> {
        self.client
            .issue_cmd(DevTools { cmd, params })
            .await
            .map_err(Error::command(format!(
                "sending the DevTools command {cmd}"
            )))
    }

    /// Asks `check` until it answers, or the deadline passes.
    async fn poll<T>(
        &self,
        what: String,
        mut check: impl AsyncFnMut() -> Option<T>,
    ) -> Result<T, Error> {
        let started = Instant::now();
        loop {
            if let Some(found) = check().await {
                return Ok(found);
            }
            if started.elapsed() >= self.deadline {
                let page = self.text().await.unwrap_or_default();
                let page = page.chars().take(QUOTED_PAGE).collect();
                return Err(Error::Timeout {
                    what,
                    waited: started.elapsed(),
                    url: self.url_for_error().await,
                    page,
                });
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    async fn not_found(&self, kind: &'static str, text: &str, hint: &'static str) -> Error {
        Error::NotFound {
            kind,
            text: text.to_owned(),
            url: self.url_for_error().await,
            hint,
        }
    }

    /// The page's address for an error message, or a placeholder when even that fails.
    async fn url_for_error(&self) -> String {
        self.client
            .current_url()
            .await
            .map_or_else(|_| "(unknown page)".to_owned(), String::from)
    }
}

/// chromedriver's `POST /session/{id}/goog/cdp/execute`: a DevTools command on the page.
#[derive(Debug)]
struct DevTools {
    cmd: &'static str,
    params: Value,
}

impl WebDriverCompatibleCommand for DevTools {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/goog/cdp/execute",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        (
            http::Method::POST,
            Some(json!({ "cmd": self.cmd, "params": self.params }).to_string()),
        )
    }
}

/// Whitespace collapsed to single spaces, trimmed: text as a reader compares it.
fn normalize(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

async fn write_png(path: &Path, png: &[u8]) -> Result<(), Error> {
    let error = |source| Error::Screenshot {
        path: path.to_owned(),
        source,
    };
    if let Some(parent) = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
    {
        tokio::fs::create_dir_all(parent).await.map_err(error)?;
    }
    tokio::fs::write(path, png).await.map_err(error)
}
