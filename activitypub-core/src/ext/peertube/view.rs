//! Views: reading ([`ViewSummary`]) and writing ([`NewView`]) PeerTube's `View` activity.
//!
//! PeerTube sends a `View` (`send-view.ts`) from its instance actor each time someone watches a
//! remote video, and, for a live, a "viewer" form every few seconds: `expires` (when the count
//! stops holding) and `result`, an `InteractionCounter` of `WatchAction`s whose
//! `userInteractionCount` is the number of people watching now.

use serde_json::{Map, Value};

use super::context;
use super::error::{FieldError, Problem};
use super::limits::MAX_COUNT;
use super::read::{Dropped, addresses, http_url, map_count, reference_url, refuse};
use super::video_write::address;
use crate::values::OneOrMany;
use crate::{Activity, ActivityType, AnyObject, Iri, PUBLIC, Reference, Timestamp, Unknown};

/// What an application keeps about a received `View`, read by [`ViewSummary::read`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ViewSummary {
    /// `id`.
    pub id: Iri,
    /// `actor`: who reports the view (PeerTube: the viewer's instance actor).
    pub actor: Iri,
    /// `object`: the video.
    pub video: Iri,
    /// `expires`, on a live's viewer count: until when it holds.
    pub expires: Option<Timestamp>,
    /// The number of people watching a live now (`result.userInteractionCount`), at most
    /// [`MAX_COUNT`].
    pub viewers: Option<u64>,
    /// `to`.
    pub to: Vec<Iri>,
    /// `cc`.
    pub cc: Vec<Iri>,
    /// The values left out, and why.
    pub dropped: Vec<FieldError>,
}

impl ViewSummary {
    /// Reads `view`. Refused: an activity that is not a `View`, an `id`, `actor` or `object`
    /// that is not an http(s) URL. Dropped: a malformed `expires` or viewer count.
    pub fn read(view: &Activity) -> Result<Self, FieldError> {
        if view.kind != ActivityType::View {
            return Err(FieldError::new(
                "type",
                Problem::WrongType { expected: "View" },
            ));
        }
        let props = &view.props;
        let mut dropped = Dropped::default();
        let id = refuse(
            "id",
            props.id.as_ref().ok_or(Problem::Missing).and_then(|id| {
                http_url(id)?;
                Ok(id.clone())
            }),
        )?;
        let first = |list: Option<&OneOrMany<Reference<AnyObject>>>| {
            list.and_then(OneOrMany::first)
                .ok_or(Problem::Missing)
                .and_then(reference_url)
        };
        let actor = refuse("actor", first(view.actor.as_ref()))?;
        let video = refuse("object", first(view.object.as_ref()))?;
        let expires = match props.extra.get("expires") {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) => dropped.keep(
                "expires",
                Timestamp::parse(text.clone()).map_err(|_| Problem::WrongType {
                    expected: "an RFC 3339 date-time",
                }),
            ),
            Some(_) => {
                dropped.push(
                    "expires",
                    Problem::WrongType {
                        expected: "an RFC 3339 date-time",
                    },
                );
                None
            }
        };
        let counter = view
            .result
            .as_deref()
            .and_then(OneOrMany::first)
            .and_then(Reference::as_object);
        let viewers = match counter {
            Some(AnyObject::Unknown(counter)) if counter.kind == "InteractionCounter" => dropped
                .keep_opt(
                    "result.userInteractionCount",
                    map_count(&counter.props.extra, "userInteractionCount", MAX_COUNT),
                ),
            _ => None,
        };
        Ok(Self {
            id,
            actor,
            video,
            expires,
            viewers,
            to: addresses(props.to.as_ref()),
            cc: addresses(props.cc.as_ref()),
            dropped: dropped.0,
        })
    }
}

/// A `View` this application sends, written as PeerTube writes its own.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct NewView {
    /// `id`.
    pub id: Iri,
    /// `actor`.
    pub actor: Iri,
    /// `object`: the video.
    pub video: Iri,
    /// For a live: the viewer count and until when it holds.
    pub viewers: Option<(u64, Timestamp)>,
    /// `to` (default: the public collection).
    pub to: Vec<Iri>,
    /// `cc`.
    pub cc: Vec<Iri>,
}

impl NewView {
    /// `actor` viewed `video`.
    pub fn new(id: Iri, actor: Iri, video: Iri) -> Self {
        Self {
            id,
            actor,
            video,
            viewers: None,
            to: vec![Iri::from_checked(PUBLIC.to_owned())],
            cc: Vec::new(),
        }
    }

    /// Makes it a live's viewer count: `count` people watching, until `expires` (PeerTube sets it
    /// a little after the next count is due).
    pub fn with_viewers(mut self, count: u64, expires: Timestamp) -> Self {
        self.viewers = Some((count, expires));
        self
    }

    /// Sets `to` and `cc` (PeerTube: the public collection and the followers of the video's
    /// channel and account and of the sending actor).
    pub fn with_audience(mut self, to: Vec<Iri>, cc: Vec<Iri>) -> Self {
        self.to = to;
        self.cc = cc;
        self
    }

    /// Checks the values and writes the `View` with PeerTube's `@context` ([`context::view`]).
    pub fn build(&self) -> Result<Activity, FieldError> {
        refuse("id", http_url(&self.id))?;
        refuse("actor", http_url(&self.actor))?;
        refuse("object", http_url(&self.video))?;
        for (i, to) in self.to.iter().chain(&self.cc).enumerate() {
            if to.as_str() != PUBLIC {
                refuse(&format!("to/cc[{i}]"), http_url(to))?;
            }
        }
        let mut view = Activity::new(ActivityType::View)
            .with_id(self.id.clone())
            .with_actor(self.actor.clone())
            .with_object(Reference::Id(self.video.clone()));
        view.props.ld_context = Some(context::view());
        if let Some((count, expires)) = &self.viewers {
            if *count > MAX_COUNT {
                return Err(FieldError::new(
                    "result.userInteractionCount",
                    Problem::TooLarge {
                        value: *count,
                        max: MAX_COUNT,
                    },
                ));
            }
            view.props
                .extra
                .insert("expires".to_owned(), Value::from(expires.as_str()));
            let mut counter = Unknown::new("InteractionCounter");
            let mut members = Map::new();
            members.insert("interactionType".to_owned(), Value::from("WatchAction"));
            members.insert("userInteractionCount".to_owned(), Value::from(*count));
            counter.props.extra = members;
            view.result = Some(Box::new(OneOrMany::One(Reference::from(counter))));
        }
        view.props.to = Some(OneOrMany::Many(self.to.iter().map(address).collect()));
        view.props.cc = Some(OneOrMany::Many(self.cc.iter().map(address).collect()));
        Ok(view)
    }
}
