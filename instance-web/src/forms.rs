//! The pieces of forms: labelled fields with their errors ([`Field`], [`Errors`]), which the
//! account pages use and an app's own forms can use too, and the checks of names and
//! passwords.

use maud::{Markup, html};

use crate::config::{MAX_PASSWORD_BYTES, WebConfig};

/// The longest display name, in characters.
pub(crate) const MAX_DISPLAY_NAME: usize = 100;

/// The longest email address, in bytes (RFC 5321's path limit).
const MAX_EMAIL: usize = 254;

/// What a name may be: instance-state's actor-name rule (`InstanceState::create_actor` and
/// `create_account` enforce it too; checking here first keeps the person's values in the
/// form and says which rule failed).
pub(crate) const NAME_RULE: &str =
    "1 to 64 characters: letters a to z, digits, and the signs _ - and . only.";

/// The errors of a form, by field (`""`: the form as a whole), in the order they were found.
/// A form that comes back with errors keeps what was typed and says beside each field what
/// is wrong with it ([`Field::render`]), with a [summary](Errors::summary) at the top.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Errors(Vec<(&'static str, String)>);

impl Errors {
    /// Says that `field` is wrong, and why (for people). The first message of a field is the
    /// one shown.
    pub fn add(&mut self, field: &'static str, message: impl Into<String>) {
        self.0.push((field, message.into()));
    }

    /// The message of `field`, if it is wrong.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, m)| m.as_str())
    }

    /// Whether every field is right.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The wrong fields and their messages, in the order found.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.0
            .iter()
            .map(|(field, message)| (*field, message.as_str()))
    }

    /// The summary at the top of a form: announced by screen readers when the page comes back.
    pub fn summary(&self) -> Markup {
        html! {
            @if !self.0.is_empty() {
                div class="error" role="alert" {
                    @if let Some(general) = self.get("") {
                        p { (general) }
                    } @else {
                        p { "Please correct the fields marked below." }
                    }
                }
            }
        }
    }
}

/// A labelled input named and identified `name`, with its hint and error tied to it
/// (`aria-describedby`, `aria-invalid`): how every form of the instances asks for a value.
#[derive(Debug, Clone)]
pub struct Field<'a> {
    name: &'static str,
    label: &'a str,
    kind: &'static str,
    value: &'a str,
    autocomplete: &'static str,
    hint: Option<&'a str>,
    required: bool,
    max_length: Option<usize>,
}

impl<'a> Field<'a> {
    /// A text input holding `value`.
    pub fn text(name: &'static str, label: &'a str, value: &'a str) -> Self {
        Self {
            name,
            label,
            kind: "text",
            value,
            autocomplete: "off",
            hint: None,
            required: false,
            max_length: None,
        }
    }

    /// A password field: its value is never sent back.
    pub fn password(name: &'static str, label: &'a str, autocomplete: &'static str) -> Self {
        Self {
            kind: "password",
            autocomplete,
            required: true,
            ..Self::text(name, label, "")
        }
    }

    /// Another input type (`email`, `url`, `number`, `datetime-local`...).
    pub fn kind(mut self, kind: &'static str) -> Self {
        self.kind = kind;
        self
    }

    /// The `autocomplete` token (`off` unless set).
    pub fn autocomplete(mut self, autocomplete: &'static str) -> Self {
        self.autocomplete = autocomplete;
        self
    }

    /// A hint shown under the label.
    pub fn hint(mut self, hint: &'a str) -> Self {
        self.hint = Some(hint);
        self
    }

    /// Marks the field required.
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }

    /// The most characters the browser lets a person type (the server checks again).
    pub fn max_length(mut self, max: usize) -> Self {
        self.max_length = Some(max);
        self
    }

    /// The label, the hint, the error from `errors` if any, and the input.
    pub fn render(&self, errors: &Errors) -> Markup {
        let error = errors.get(self.name);
        let hint_id = format!("{}-hint", self.name);
        let error_id = format!("{}-error", self.name);
        let described: Vec<&str> = [
            self.hint.map(|_| hint_id.as_str()),
            error.map(|_| error_id.as_str()),
        ]
        .into_iter()
        .flatten()
        .collect();
        let described = (!described.is_empty()).then(|| described.join(" "));
        html! {
            label for=(self.name) { (self.label) }
            @if let Some(hint) = self.hint {
                span class="hint" id=(hint_id) { (hint) }
            }
            @if let Some(error) = error {
                span class="error" id=(error_id) { (error) }
            }
            input type=(self.kind) id=(self.name) name=(self.name) value=(self.value)
                autocomplete=(self.autocomplete) required[self.required] maxlength=[self.max_length]
                aria-invalid=[error.map(|_| "true")] aria-describedby=[described];
        }
    }
}

/// A name as it is kept: trimmed, lowercase.
pub(crate) fn normalize_name(name: &str) -> String {
    name.trim().to_lowercase()
}

/// Whether `name` (normalized) follows [`NAME_RULE`]: instance-state's rule.
pub(crate) use instance_state::actors::valid_name;

/// Checks a new password and its repetition into `errors`.
pub(crate) fn check_new_password(
    config: &WebConfig,
    field: &'static str,
    password: &str,
    again: &str,
    errors: &mut Errors,
) {
    if password.chars().count() < config.min_password_chars {
        errors.add(
            field,
            format!("At least {} characters, please.", config.min_password_chars),
        );
    } else if password.len() > MAX_PASSWORD_BYTES {
        errors.add(field, "That is too long for a password.");
    } else if password != again {
        errors.add(field, "The two passwords differ.");
    }
}

/// Checks a display name into `errors`; the name kept (trimmed).
pub(crate) fn check_display_name(
    field: &'static str,
    display_name: &str,
    errors: &mut Errors,
) -> String {
    let display_name = display_name.trim();
    if display_name.chars().count() > MAX_DISPLAY_NAME {
        errors.add(
            field,
            format!("At most {MAX_DISPLAY_NAME} characters, please."),
        );
    }
    if display_name.chars().any(char::is_control) {
        errors.add(field, "A name cannot hold control characters.");
    }
    display_name.to_owned()
}

/// Checks an optional email address into `errors`; `None` when empty.
pub(crate) fn check_email(field: &'static str, email: &str, errors: &mut Errors) -> Option<String> {
    let email = email.trim();
    if email.is_empty() {
        return None;
    }
    let plausible = email.len() <= MAX_EMAIL
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if !plausible {
        errors.add(field, "This does not look like an email address.");
    }
    Some(email.to_owned())
}
