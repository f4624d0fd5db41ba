//! Sign-up, sign-in, sign-out and the password.

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode};
use instance_state::Error as StateError;
use instance_state::accounts::{AccountState, Login};
use instance_state::actors::{ActorKind, NewActor};
use maud::{Markup, html};
use serde::Deserialize;

use super::{Client, clear_session, see_other, start_session};
use crate::config::{MAX_PASSWORD_BYTES, SignupMode};
use crate::cookies;
use crate::csrf::{CsrfForm, CsrfToken, csrf_field};
use crate::forms::{
    Errors, Field, NAME_RULE, check_display_name, check_email, check_new_password, normalize_name,
    valid_name,
};
use crate::limit::AddressKey;
use crate::session::{MaybeViewer, Viewer};
use crate::web::{Rejection, RejectionKind, Web};

/// `?next=` on the sign-in page.
#[derive(Debug, Default, Deserialize)]
pub(super) struct Next {
    next: Option<String>,
}

/// The sign-up form's fields.
#[derive(Debug, Default, Deserialize)]
pub(super) struct SignupForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_again: String,
}

/// The sign-in form's fields.
#[derive(Debug, Default, Deserialize)]
pub(super) struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

/// The password form's fields.
#[derive(Debug, Default, Deserialize)]
pub(super) struct PasswordForm {
    #[serde(default)]
    current: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_again: String,
}

/// A form with no field but its token.
#[derive(Debug, Deserialize)]
pub(super) struct Empty {}

/// `?changed=1` after a password change.
#[derive(Debug, Default, Deserialize)]
pub(super) struct Changed {
    changed: Option<String>,
}

pub(super) async fn signup_page(
    State(web): State<Web>,
    MaybeViewer(viewer): MaybeViewer,
    token: CsrfToken,
) -> Response {
    if viewer.is_some() {
        return see_other("/");
    }
    if web.config().signup == SignupMode::Closed {
        return web.page(None, "Sign up", closed());
    }
    let body = signup_form(&web, &token, &SignupForm::default(), &Errors::default());
    (token, web.page(None, "Sign up", body)).into_response()
}

fn closed() -> Markup {
    html! {
        h1 { "Sign up" }
        p class="notice" { "Sign-up is closed on this server: its host makes the accounts." }
        p { "Already have an account? " a href="/login" { "Sign in" } "." }
    }
}

fn signup_form(web: &Web, token: &CsrfToken, form: &SignupForm, errors: &Errors) -> Markup {
    let approval = web.config().signup == SignupMode::Approval;
    html! {
        h1 { "Sign up" }
        @if approval {
            p class="notice" { "A moderator approves each new account before it can sign in." }
        }
        (errors.summary())
        form class="stacked" method="post" action="/signup" novalidate {
            (token.field())
            (Field::text("username", "Username", &form.username).autocomplete("username")
                .hint(NAME_RULE).required().render(errors))
            // A pending account has no identity yet to hold a display name.
            @if !approval {
                (Field::text("display_name", "Display name (optional)", &form.display_name)
                    .autocomplete("nickname").render(errors))
            }
            (Field::text("email", "Email (optional)", &form.email).kind("email")
                .autocomplete("email").render(errors))
            (Field::password("password", "Password", "new-password").render(errors))
            (Field::password("password_again", "Password again", "new-password").render(errors))
            button type="submit" { "Sign up" }
        }
        p { "Already have an account? " a href="/login" { "Sign in" } "." }
    }
}

pub(super) async fn signup_submit(
    State(web): State<Web>,
    Client(address): Client,
    headers: HeaderMap,
    token: CsrfToken,
    CsrfForm(form): CsrfForm<SignupForm>,
) -> Result<Response, Rejection> {
    let mode = web.config().signup;
    if mode == SignupMode::Closed {
        return Err(web.refuse(
            RejectionKind::Forbidden,
            None,
            "Sign-up is closed on this server.",
        ));
    }
    let now = web.now();
    let key = AddressKey::of(address);
    if let Some(wait) = web.limits().signup.check(&key, now).await {
        return Err(web.too_many(wait));
    }
    let state = web.state();
    let name = normalize_name(&form.username);
    let mut errors = Errors::default();
    if !valid_name(&name) {
        errors.add("username", NAME_RULE);
    }
    let display_name = check_display_name("display_name", &form.display_name, &mut errors);
    let email = check_email("email", &form.email, &mut errors);
    check_new_password(
        web.config(),
        "password",
        &form.password,
        &form.password_again,
        &mut errors,
    );
    if errors.get("username").is_none() {
        let account = state
            .account_by_username(&name)
            .await
            .map_err(|e| web.internal("reading an account", &e))?;
        let actor = state
            .actor(&name)
            .await
            .map_err(|e| web.internal("reading an actor", &e))?;
        if account.is_some() || actor.is_some() {
            errors.add("username", "This name is taken.");
        }
    }
    let again = |errors: &Errors| {
        let body = signup_form(&web, &token, &form, errors);
        (
            token.clone(),
            web.page_with_status(StatusCode::UNPROCESSABLE_ENTITY, None, "Sign up", body),
        )
            .into_response()
    };
    if !errors.is_empty() {
        return Ok(again(&errors));
    }
    web.limits().signup.record(&key, now).await;
    let account_state = match mode {
        SignupMode::Open => AccountState::Active,
        _ => AccountState::Pending,
    };
    let created = state
        .create_account(
            &name,
            email.as_deref(),
            Some(&form.password),
            instance_state::accounts::Role::User,
            account_state,
        )
        .await;
    let account = match created {
        Ok(account) => account,
        Err(StateError::NameTaken { .. }) => {
            errors.add("username", "This name is taken.");
            return Ok(again(&errors));
        }
        Err(StateError::InvalidName { .. }) => {
            errors.add("username", NAME_RULE);
            return Ok(again(&errors));
        }
        Err(e) => return Err(web.internal("creating an account", &e)),
    };
    if account_state == AccountState::Pending {
        let body = html! {
            h1 { "Thank you" }
            p class="notice" {
                "Your account " strong { (account.username) }
                " waits for a moderator's approval. You can sign in once it is approved."
            }
        };
        return Ok(web.page(None, "Sign-up received", body));
    }
    let display_name = if display_name.is_empty() {
        name.clone()
    } else {
        display_name
    };
    let identity = create_first_identity(&web, &account.id, &name, &display_name).await?;
    start_session(&web, &account, identity.as_deref(), &headers, "/").await
}

/// Makes the first identity of a new account, a `Person` named as the account. `None` (the
/// account keeps no identity, and may make one on `/account/identities`) when another actor
/// took the name meanwhile.
pub(super) async fn create_first_identity(
    web: &Web,
    account: &str,
    name: &str,
    display_name: &str,
) -> Result<Option<String>, Rejection> {
    let new = NewActor::new(name, ActorKind::Person, display_name).with_account(account);
    match web.state().create_actor(new).await {
        Ok(actor) => Ok(Some(actor.name)),
        Err(StateError::NameTaken { name }) => {
            tracing::warn!(%name, "the first identity's name was taken meanwhile");
            Ok(None)
        }
        Err(e) => Err(web.internal("creating an identity", &e)),
    }
}

pub(super) async fn login_page(
    State(web): State<Web>,
    MaybeViewer(viewer): MaybeViewer,
    token: CsrfToken,
    Query(Next { next }): Query<Next>,
) -> Response {
    let next = next
        .as_deref()
        .and_then(crate::local_path)
        .unwrap_or("/")
        .to_owned();
    if viewer.is_some() {
        return see_other(&next);
    }
    let form = LoginForm {
        next,
        ..LoginForm::default()
    };
    let body = login_form(&web, &token, &form, &Errors::default());
    (token, web.page(None, "Sign in", body)).into_response()
}

fn login_form(web: &Web, token: &CsrfToken, form: &LoginForm, errors: &Errors) -> Markup {
    let next = crate::local_path(&form.next).unwrap_or("/");
    html! {
        h1 { "Sign in" }
        (errors.summary())
        form class="stacked" method="post" action="/login" {
            (token.field())
            input type="hidden" name="next" value=(next);
            (Field::text("username", "Username", &form.username).autocomplete("username")
                .required().render(errors))
            (Field::password("password", "Password", "current-password").render(errors))
            button type="submit" { "Sign in" }
        }
        @if web.config().signup != SignupMode::Closed {
            p { "No account yet? " a href="/signup" { "Sign up" } "." }
        }
    }
}

pub(super) async fn login_submit(
    State(web): State<Web>,
    Client(address): Client,
    headers: HeaderMap,
    token: CsrfToken,
    CsrfForm(form): CsrfForm<LoginForm>,
) -> Result<Response, Rejection> {
    let name = normalize_name(&form.username);
    // Only a possible name has an account to protect (and a bounded key).
    let account_key = valid_name(&name).then_some(name);
    let address_key = AddressKey::of(address);
    let limits = web.limits();
    let now = web.now();
    // A limited attempt is refused before anything is looked up or hashed.
    let by_account = match &account_key {
        Some(key) => limits.account.check(key, now).await,
        None => None,
    };
    let wait = [limits.address.check(&address_key, now).await, by_account]
        .into_iter()
        .flatten()
        .max();
    if let Some(wait) = wait {
        return Err(web.too_many(wait));
    }
    let outcome = match account_key.as_deref() {
        Some(name) if form.password.len() <= MAX_PASSWORD_BYTES => web
            .state()
            .login(name, &form.password)
            .await
            .map_err(|e| web.internal("signing in", &e))?,
        _ => Login::Invalid,
    };
    let mut errors = Errors::default();
    let status = match outcome {
        Login::Ok(account) => {
            if let Some(key) = &account_key {
                limits.account.forget(key).await;
            }
            return start_session(&web, &account, None, &headers, &form.next).await;
        }
        Login::NotActive(account) => {
            let why = match account.state {
                AccountState::Pending => "This account waits for a moderator's approval.",
                _ => "This account is suspended.",
            };
            errors.add("", why);
            StatusCode::FORBIDDEN
        }
        _ => {
            limits.address.record(&address_key, now).await;
            if let Some(key) = &account_key {
                limits.account.record(key, now).await;
            }
            errors.add("", "Wrong username or password.");
            StatusCode::UNPROCESSABLE_ENTITY
        }
    };
    let body = login_form(&web, &token, &form, &errors);
    Ok((token, web.page_with_status(status, None, "Sign in", body)).into_response())
}

pub(super) async fn logout(
    State(web): State<Web>,
    headers: HeaderMap,
    CsrfForm(Empty {}): CsrfForm<Empty>,
) -> Result<Response, Rejection> {
    let name = cookies::session_name(web.config());
    if let Some(secret) = cookies::read(&headers, name).filter(|s| !s.is_empty()) {
        web.state()
            .revoke_secret(&secret)
            .await
            .map_err(|e| web.internal("signing out", &e))?;
    }
    let mut response = see_other("/");
    clear_session(&web, &mut response);
    Ok(response)
}

pub(super) async fn password_page(
    State(web): State<Web>,
    viewer: Viewer,
    Query(Changed { changed }): Query<Changed>,
) -> Response {
    let notice = changed.is_some().then_some(
        "Your password was changed, and every other session of this account was signed out.",
    );
    let body = password_form(&viewer, notice, &Errors::default());
    web.page(Some(&viewer), "Change password", body)
}

fn password_form(viewer: &Viewer, notice: Option<&str>, errors: &Errors) -> Markup {
    html! {
        h1 { "Change password" }
        @if let Some(notice) = notice {
            p class="notice" role="status" { (notice) }
        }
        (errors.summary())
        form class="stacked" method="post" action="/account/password" {
            (csrf_field(viewer))
            // For password managers: whose password this is.
            input type="hidden" name="username" autocomplete="username"
                value=(viewer.account.username);
            (Field::password("current", "Current password", "current-password").render(errors))
            (Field::password("password", "New password", "new-password").render(errors))
            (Field::password("password_again", "New password again", "new-password").render(errors))
            button type="submit" { "Change password" }
        }
        p { "Changing it signs out every other session of this account." }
    }
}

pub(super) async fn password_submit(
    State(web): State<Web>,
    viewer: Viewer,
    headers: HeaderMap,
    CsrfForm(form): CsrfForm<PasswordForm>,
) -> Result<Response, Rejection> {
    let limits = web.limits();
    let key = viewer.account.username.clone();
    let now = web.now();
    if let Some(wait) = limits.account.check(&key, now).await {
        return Err(web.too_many(wait));
    }
    let mut errors = Errors::default();
    check_new_password(
        web.config(),
        "password",
        &form.password,
        &form.password_again,
        &mut errors,
    );
    let state = web.state();
    let right = form.current.len() <= MAX_PASSWORD_BYTES
        && matches!(
            state
                .login(&viewer.account.username, &form.current)
                .await
                .map_err(|e| web.internal("checking a password", &e))?,
            Login::Ok(_)
        );
    if !right {
        limits.account.record(&key, now).await;
        errors.add("current", "This is not the current password.");
    }
    if !errors.is_empty() {
        let body = password_form(&viewer, None, &errors);
        return Ok(web.page_with_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(&viewer),
            "Change password",
            body,
        ));
    }
    state
        .set_password(&viewer.account.id, Some(&form.password))
        .await
        .map_err(|e| web.internal("setting a password", &e))?;
    // Whoever else held a session (perhaps the reason for the change) is signed out; this
    // browser gets a new session.
    state
        .revoke_all_credentials(&viewer.account.id)
        .await
        .map_err(|e| web.internal("revoking sessions", &e))?;
    start_session(
        &web,
        &viewer.account,
        viewer.identity_name(),
        &headers,
        "/account/password?changed=1",
    )
    .await
}
