//! Events and group members, as Mobilizon (and Gancio) send them.
//!
//! See Mobilizon's `lib/federation/activity_stream/converter/event.ex` and
//! <https://docs.joinmobilizon.org/contribute/activity_pub/>.

use crate::AnyObject;
use crate::kind::{EventStatus, JoinMode, MemberRole};
use crate::object::{Place, object_type, single_kind};
use crate::values::{OneOrMany, Reference};

single_kind!(
    /// The `Event` type.
    EventType = "Event"
);

object_type! {
    /// An `Event`. `startTime`, `endTime`, `location` and the rest of the common properties are in
    /// `props`; these are what Mobilizon adds.
    pub struct Event: EventType {
        /// `uuid` (`sc:identifier`).
        "uuid" => uuid: String,
        /// `timezone` (`mz:timezone`): the IANA time zone the event happens in.
        "timezone" => timezone: String,
        /// `joinMode` (`mz:joinMode`): who may join.
        "joinMode" => join_mode: JoinMode,
        /// `maximumAttendeeCapacity` (`sc:maximumAttendeeCapacity`); `0` means no limit.
        "maximumAttendeeCapacity" => maximum_attendee_capacity: u64,
        /// `remainingAttendeeCapacity` (`sc:remainingAttendeeCapacity`).
        "remainingAttendeeCapacity" => remaining_attendee_capacity: u64,
        /// `participantCount` (`mz:participantCount`).
        "participantCount" => participant_count: u64,
        /// `anonymousParticipationEnabled` (`mz:anonymousParticipationEnabled`).
        "anonymousParticipationEnabled" => anonymous_participation_enabled: bool,
        /// `isOnline` (`mz:isOnline`): an online event.
        "isOnline" => is_online: bool,
        /// `ical:status`, as Mobilizon writes it.
        "ical:status" => ical_status: EventStatus,
        /// `status`, as some other servers write it.
        "status" => status: EventStatus,
        /// `contacts` (`mz:contacts`): the people to contact.
        "contacts" => contacts: OneOrMany<Reference<AnyObject>>,
        /// `draft` (`mz:draft`).
        "draft" => draft: bool,
        /// `category` (`sc:category`): `MEETING`, `SPORTS`...
        "category" => category: String,
        /// `inLanguage` (`sc:inLanguage`): the language of the event.
        "inLanguage" => in_language: String,
        /// `repliesModerationOption` (`mz:repliesModerationOption`): `allow_all`, `closed`...
        "repliesModerationOption" => replies_moderation_option: String,
        /// `participationMessage` (`mz:participationMessage`): shown when joining.
        "participationMessage" => participation_message: String,
        /// `actor`: Mobilizon names the organizer here too.
        "actor" => actor: Reference<AnyObject>,
    }
}

impl Event {
    /// The status, from `ical:status` or `status`.
    pub fn event_status(&self) -> Option<&EventStatus> {
        self.ical_status.as_ref().or(self.status.as_ref())
    }

    /// The (first) embedded `Place` of `location`.
    pub fn place(&self) -> Option<&Place> {
        self.props
            .location
            .as_ref()?
            .iter()
            .filter_map(Reference::as_object)
            .find_map(AnyObject::as_place)
    }
}

single_kind!(
    /// The `Member` type.
    MemberType = "Member"
);

object_type! {
    /// A `Member` of a Mobilizon group: `actor` is the person, `object` the group.
    pub struct Member: MemberType {
        /// `actor`: the member.
        "actor" => actor: Reference<AnyObject>,
        /// `object`: the group.
        "object" => object: Reference<AnyObject>,
        /// `role`: what the member may do.
        "role" => role: MemberRole,
    }
}
