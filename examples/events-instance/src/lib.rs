//! The events instance: a minimal Mobilizon-like server built on the toolkit.
//!
//! Identities (Person actors) with bearer tokens, groups (Group actors with administrators,
//! moderators and members), events in Mobilizon's shape, participation (Join, Accept or Reject,
//! Leave, with capacity), comments with replies, Update and Delete, and an instance actor that
//! follows other instances and announces public events. Storage is SQLite (a file) or
//! PostgreSQL; deliveries go through `federation-queue` on the same database.
//!
//! [`start`] runs one instance (the `serve` command, the demo and the tests all use it);
//! [`admin`] holds the administration commands.

mod activities;
pub mod admin;
mod app;
mod backfill;
mod db;
pub mod demo;
mod groups;
mod html;
mod ics;
mod pages;
mod upgrade;
mod web;

use std::sync::Arc;

use anyhow::Result;
use federation::inbox::Inbox;
use federation::routes::{Server, router};
use instance_server::{Application, Parts};
use instance_state::InstanceState;
use url::Url;

pub use app::Instance;
pub use instance_server::{INSTANCE_ACTOR, MIN_DELIVERY_LEASE};
pub use instance_web::SignupMode;

use crate::app::{InstanceStore, Settings};
use crate::db::{Db, Signing};

/// The events instance's own options, beside the server's.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct EventsOptions {
    /// The time zone new events start in, in the event form (an IANA name). Default: `UTC`.
    pub default_time_zone: String,
}

impl Default for EventsOptions {
    fn default() -> Self {
        Self {
            default_time_zone: "UTC".to_owned(),
        }
    }
}

impl EventsOptions {
    /// Sets the time zone new events start in (an IANA name).
    pub fn with_default_time_zone(mut self, zone: impl Into<String>) -> Self {
        self.default_time_zone = zone.into();
        self
    }
}

/// How to run an events instance: `instance-server`'s options with the events instance's own.
pub type Options = instance_server::Options<EventsOptions>;

/// A running events instance.
pub type Running = instance_server::Running<Instance>;

/// The events instance, as `instance-server` runs it.
#[derive(Debug, Clone, Copy)]
pub struct Events;

impl Application for Events {
    type Options = EventsOptions;
    type Instance = Instance;

    const SOFTWARE: &'static str = "events-instance";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    async fn open(options: &Options, base_url: Option<&Url>) -> Result<InstanceState> {
        let signing = Signing {
            first_knock: options.first_knock,
            ed25519: options.sign_with_ed25519,
        };
        let db = Db::open(&options.database, base_url, signing).await?;
        Ok(db.state().clone())
    }

    async fn build(parts: Parts, _options: &Options) -> Result<Instance> {
        let settings = Settings {
            base_url: parts.base_url.clone(),
            name: parts.name.clone(),
        };
        Ok(Instance::new(
            Db::from_state(parts.state),
            settings,
            parts.keys,
            parts.fetcher,
            parts.outbox,
        ))
    }

    fn routes(instance: &Instance, parts: &Parts, options: &Options) -> Result<axum::Router> {
        let inbox = Inbox::new(
            parts.inbox_config(),
            parts.keys.clone(),
            parts.fetcher.clone(),
            InstanceStore(instance.db().clone()),
            activities::dispatcher(),
            instance.clone(),
        );
        let server = Arc::new(Server {
            config: parts.routes_config(),
            app: instance.clone(),
            inbox,
        });
        // People's pages (and the accounts'), then the calendars, then the federation routes,
        // around which a browser asking for an event's or a group's address gets its page.
        let web = parts.web(Arc::new(instance.layout()));
        let moderation = instance_server::moderation::Moderation::new(parts, web.clone())?;
        let pages = pages::Pages::new(
            instance.clone(),
            web,
            &options.app.default_time_zone,
            moderation,
        )?;
        Ok(
            pages::router(pages.clone()).merge(web::calendars(instance.clone()).merge(
                router(server).layer(axum::middleware::from_fn_with_state(
                    pages,
                    pages::html_pages,
                )),
            )),
        )
    }
}

/// Starts an instance.
pub async fn start(options: Options) -> Result<Running> {
    instance_server::start::<Events>(options).await
}

/// Opens an instance's database and queue without serving (for the administration commands).
pub(crate) async fn open_instance(options: &Options, base_url: &Url) -> Result<Instance> {
    instance_server::open::<Events>(options, base_url).await
}
