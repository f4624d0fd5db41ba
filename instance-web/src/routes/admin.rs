//! Moderators: approving and rejecting sign-ups.

use axum::extract::State;
use axum::response::Response;
use instance_state::accounts::AccountState;
use maud::html;
use serde::Deserialize;

use super::accounts::create_first_identity;
use super::see_other;
use crate::csrf::{CsrfForm, csrf_field};
use crate::session::Viewer;
use crate::web::{Rejection, RejectionKind, Web};

/// A moderator's decision on one sign-up.
#[derive(Debug, Deserialize)]
pub(super) struct Decision {
    account: String,
    decision: Choice,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Choice {
    Approve,
    Reject,
}

pub(super) async fn page(State(web): State<Web>, viewer: Viewer) -> Result<Response, Rejection> {
    web.require_moderator(&viewer)?;
    let pending = web
        .state()
        .accounts_in_state(AccountState::Pending)
        .await
        .map_err(|e| web.internal("listing sign-ups", &e))?;
    let body = html! {
        h1 { "Sign-ups" }
        @if pending.is_empty() {
            p { "No sign-up waits for approval." }
        } @else {
            p { (pending.len()) " waiting, oldest first." }
            ul class="items" {
                @for account in &pending {
                    li {
                        span {
                            strong { (account.username) }
                            @if let Some(email) = &account.email { " — " (email) }
                        }
                        span {
                            @for (choice, label) in [("approve", "Approve"), ("reject", "Reject")] {
                                form method="post" action="/admin/signups" {
                                    (csrf_field(&viewer))
                                    input type="hidden" name="account" value=(account.id);
                                    input type="hidden" name="decision" value=(choice);
                                    button type="submit" {
                                        (label) " " span class="visually-hidden" { (account.username) }
                                    }
                                }
                                " "
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(web.page(Some(&viewer), "Sign-ups", body))
}

pub(super) async fn decide(
    State(web): State<Web>,
    viewer: Viewer,
    CsrfForm(decision): CsrfForm<Decision>,
) -> Result<Response, Rejection> {
    web.require_moderator(&viewer)?;
    let state = web.state();
    let account = state
        .account(&decision.account)
        .await
        .map_err(|e| web.internal("reading an account", &e))?;
    let Some(account) = account.filter(|a| a.state == AccountState::Pending) else {
        return Err(web.refuse(
            RejectionKind::BadForm,
            Some(&viewer),
            "This sign-up was already decided, or there is no such sign-up.",
        ));
    };
    let (new_state, action) = match decision.decision {
        Choice::Approve => (AccountState::Active, "approve_signup"),
        Choice::Reject => (AccountState::Suspended, "reject_signup"),
    };
    state
        .set_account_state(&account.id, new_state)
        .await
        .map_err(|e| web.internal("deciding a sign-up", &e))?;
    if new_state == AccountState::Active {
        let identities = state
            .identities(&account.id)
            .await
            .map_err(|e| web.internal("listing identities", &e))?;
        let free = state
            .actor(&account.username)
            .await
            .map_err(|e| web.internal("reading an actor", &e))?
            .is_none();
        if identities.is_empty() && free {
            create_first_identity(&web, &account.id, &account.username, &account.username).await?;
        }
    }
    state
        .log_moderation(
            &viewer.account.id,
            action,
            &account.id,
            None,
            &account.username,
        )
        .await
        .map_err(|e| web.internal("logging a moderation", &e))?;
    Ok(see_other("/admin/signups"))
}
