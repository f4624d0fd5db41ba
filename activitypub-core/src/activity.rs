//! Activities ([`Activity`]) and polls ([`Question`]).

use crate::AnyObject;
use crate::kind::ActivityType;
use crate::object::{object_type, single_kind};
use crate::values::{Closed, Iri, OneOrMany, Reference};

object_type! {
    /// An activity of one of the [`ActivityType`]s: what an actor did to an object.
    pub struct Activity: ActivityType {
        /// `actor`: who did it.
        "actor" => actor: OneOrMany<Reference<AnyObject>>,
        /// `object`: what it was done to (absent on intransitive activities; an array on some
        /// `Flag`s).
        "object" => object: OneOrMany<Reference<AnyObject>>,
        /// `target`: where to (an `Add`'s collection, an `Invite`'s event, a `Move`'s new account).
        "target" => target: Box<OneOrMany<Reference<AnyObject>>>,
        /// `origin`: where from.
        "origin" => origin: Box<OneOrMany<Reference<AnyObject>>>,
        /// `result`: what it resulted in.
        "result" => result: Box<OneOrMany<Reference<AnyObject>>>,
        /// `instrument`: what it was done with.
        "instrument" => instrument: Box<OneOrMany<Reference<AnyObject>>>,
    }
}

impl Activity {
    /// The id of the (first) actor.
    pub fn actor_id(&self) -> Option<&Iri> {
        reference_id(self.actor.as_ref()?.first()?)
    }

    /// The id of the (first) object, whether it is embedded or referenced.
    pub fn object_id(&self) -> Option<&Iri> {
        reference_id(self.object.as_ref()?.first()?)
    }

    /// The (first) object, when it is embedded.
    pub fn embedded_object(&self) -> Option<&AnyObject> {
        self.object.as_ref()?.first()?.as_object()
    }

    /// Sets the actor.
    pub fn with_actor(mut self, actor: Iri) -> Self {
        self.actor = Some(OneOrMany::One(Reference::Id(actor)));
        self
    }

    /// Sets the object.
    pub fn with_object(mut self, object: impl Into<Reference<AnyObject>>) -> Self {
        self.object = Some(OneOrMany::One(object.into()));
        self
    }
}

/// The id of a reference: the IRI, or the embedded object's `id`.
pub fn reference_id(reference: &Reference<AnyObject>) -> Option<&Iri> {
    match reference {
        Reference::Id(iri) => Some(iri),
        Reference::Object(object) => object.id(),
    }
}

single_kind!(
    /// The `Question` type.
    QuestionType = "Question"
);

object_type! {
    /// A `Question` (a poll). Activity Vocabulary makes it an intransitive activity; Mastodon and
    /// Misskey send it as the object of a `Create`, with `oneOf` or `anyOf` options whose
    /// `replies.totalItems` count the votes.
    pub struct Question: QuestionType {
        /// `oneOf`: the options of a single-choice poll.
        "oneOf" => one_of: OneOrMany<Reference<AnyObject>>,
        /// `anyOf`: the options of a multiple-choice poll.
        "anyOf" => any_of: OneOrMany<Reference<AnyObject>>,
        /// `closed`: when (or whether) the poll closed.
        "closed" => closed: Box<Closed>,
        /// `votersCount` (`toot:votersCount`): how many people voted.
        "votersCount" => voters_count: u64,
        /// `actor`, as on any activity.
        "actor" => actor: OneOrMany<Reference<AnyObject>>,
        /// `target`, as on any activity.
        "target" => target: Box<OneOrMany<Reference<AnyObject>>>,
        /// `origin`, as on any activity.
        "origin" => origin: Box<OneOrMany<Reference<AnyObject>>>,
        /// `result`, as on any activity.
        "result" => result: Box<OneOrMany<Reference<AnyObject>>>,
        /// `instrument`, as on any activity.
        "instrument" => instrument: Box<OneOrMany<Reference<AnyObject>>>,
    }
}

impl Question {
    /// Whether the poll takes several answers (`anyOf`) rather than one (`oneOf`).
    pub fn is_multiple_choice(&self) -> bool {
        self.any_of.is_some() && self.one_of.is_none()
    }

    /// The options with their vote counts (`replies.totalItems`), from `oneOf` or `anyOf`.
    pub fn options(&self) -> Vec<(Option<&str>, Option<u64>)> {
        let options = self.one_of.as_ref().or(self.any_of.as_ref());
        options
            .into_iter()
            .flatten()
            .filter_map(Reference::as_object)
            .map(|option| {
                let props = option.props();
                let votes = props
                    .replies
                    .as_ref()
                    .and_then(Reference::as_object)
                    .and_then(AnyObject::as_collection)
                    .and_then(|c| c.total_items);
                (props.name.as_deref(), votes)
            })
            .collect()
    }
}
