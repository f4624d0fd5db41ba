//! The pieces of the account forms: labelled fields with their errors, and the checks of
//! names and passwords.

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

/// The errors of a form, by field (`""`: the form as a whole).
#[derive(Debug, Default)]
pub(crate) struct Errors(Vec<(&'static str, String)>);

impl Errors {
    pub(crate) fn add(&mut self, field: &'static str, message: impl Into<String>) {
        self.0.push((field, message.into()));
    }

    pub(crate) fn get(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, m)| m.as_str())
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The summary at the top of a form: announced by screen readers when the page comes back.
    pub(crate) fn summary(&self) -> Markup {
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

/// A labelled input named and identified `name`, with its hint and error tied to it.
pub(crate) struct Field<'a> {
    pub(crate) name: &'static str,
    pub(crate) label: &'a str,
    pub(crate) kind: &'static str,
    pub(crate) value: &'a str,
    pub(crate) autocomplete: &'static str,
    pub(crate) hint: Option<&'a str>,
    pub(crate) required: bool,
}

impl<'a> Field<'a> {
    pub(crate) fn text(name: &'static str, label: &'a str, value: &'a str) -> Self {
        Self {
            name,
            label,
            kind: "text",
            value,
            autocomplete: "off",
            hint: None,
            required: false,
        }
    }

    /// A password field: its value is never sent back.
    pub(crate) fn password(name: &'static str, label: &'a str, autocomplete: &'static str) -> Self {
        Self {
            kind: "password",
            autocomplete,
            required: true,
            ..Self::text(name, label, "")
        }
    }

    pub(crate) fn kind(mut self, kind: &'static str) -> Self {
        self.kind = kind;
        self
    }

    pub(crate) fn autocomplete(mut self, autocomplete: &'static str) -> Self {
        self.autocomplete = autocomplete;
        self
    }

    pub(crate) fn hint(mut self, hint: &'a str) -> Self {
        self.hint = Some(hint);
        self
    }

    pub(crate) fn required(mut self) -> Self {
        self.required = true;
        self
    }

    pub(crate) fn render(&self, errors: &Errors) -> Markup {
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
                autocomplete=(self.autocomplete) required[self.required]
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
