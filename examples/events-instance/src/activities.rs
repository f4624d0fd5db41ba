//! What the instance does with activities: those its users POST to their outboxes
//! (client-to-server) and those other servers deliver to its inboxes.

use activitypub_core::{ActivityType, AnyObject, Iri, OneOrMany, PUBLIC};
use anyhow::{Result, anyhow, bail};
use federation::fetch::FetchBudget;
use federation::inbox::{Dispatcher, HandlerError, Incoming, IncomingObject};
use federation::keys::KeyCache;
use federation::outbox::Outbox;
use federation::sanitize::{plain_text, sanitize_html as sanitize};
use instance_state::InstanceState;
use instance_state::handlers::{Social, social_handlers};
use instance_state::objects::without_hidden_recipients;
use serde_json::{Value, json};
use tracing::{debug, info, warn};
use url::Url;

use crate::app::{ErasedQueue, INSTANCE_ACTOR, Instance, context, rfc3339, unix};
use crate::db::{EventLock, ObjectRow, Participation, now};

/// A client's request that cannot be carried out, with the status to answer.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ClientError {
    /// `400`.
    #[error("{0}")]
    Bad(String),
    /// `403`.
    #[error("{0}")]
    Forbidden(String),
    /// `404`.
    #[error("{0}")]
    NotFound(String),
    /// `500`.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

fn bad(message: impl Into<String>) -> ClientError {
    ClientError::Bad(message.into())
}

fn str_of<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
}

/// The id of a value that is an id or an object with one.
fn id_of(value: &Value) -> Option<&str> {
    match value {
        Value::String(s) => Some(s),
        Value::Object(o) => o.get("id").and_then(Value::as_str),
        _ => None,
    }
}

/// Plain text of some HTML on one line, shortened to about `max` characters.
fn plain_excerpt(html: &str, max: usize) -> String {
    let text = plain_text(html);
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.chars().count() <= max {
        text
    } else {
        let cut: String = text.chars().take(max).collect();
        format!("{}…", cut.trim_end())
    }
}

/// `document` (another server's object) with its HTML sanitized as it is stored: `content`,
/// `summary` and their language maps. What is stored is safe wherever it goes next (a page, a
/// calendar, a collection); pages sanitize it again when they show it.
fn sanitized(mut document: Value) -> Value {
    fn clean(value: &mut Value) {
        if let Value::String(html) = value {
            *html = sanitize(html);
        }
    }
    if let Value::Object(map) = &mut document {
        for key in ["content", "summary"] {
            if let Some(value) = map.get_mut(key) {
                clean(value);
            }
        }
        for key in ["contentMap", "summaryMap"] {
            if let Some(Value::Object(languages)) = map.get_mut(key) {
                languages.values_mut().for_each(clean);
            }
        }
    }
    document
}

/// The summary Mastodon shows for an event: when, where, and the start of the description.
fn event_summary(event: &Value) -> String {
    let mut parts = Vec::new();
    if let Some(start) = str_of(event, "startTime") {
        match str_of(event, "timezone") {
            Some(zone) => parts.push(format!("{start} ({zone})")),
            None => parts.push(start.to_owned()),
        }
    }
    if let Some(place) = event.get("location").and_then(|l| str_of(l, "name")) {
        parts.push(place.to_owned());
    }
    let mut summary = parts.join(" · ");
    if let Some(content) = str_of(event, "content") {
        let excerpt = plain_excerpt(content, 280);
        if !excerpt.is_empty() {
            if !summary.is_empty() {
                summary.push_str(" — ");
            }
            summary.push_str(&excerpt);
        }
    }
    summary
}

/// The recipients of a client's activity (ActivityPub §6), by addressing member, each once.
/// The activity's and its object's are merged, as §6.2 asks a server to copy the recipients of
/// a `Create` to its object and back.
#[derive(Debug, Default, Clone)]
pub(crate) struct Addressing {
    to: Vec<String>,
    bto: Vec<String>,
    cc: Vec<String>,
    bcc: Vec<String>,
    audience: Vec<String>,
}

impl Addressing {
    /// What the client put in `activity` and in its `object`, each read as instance-state
    /// reads a stored document's (ids, objects with one, arrays of those; the public
    /// collection written [`PUBLIC`] whatever its spelling).
    pub(crate) fn of_client(activity: &serde_json::Map<String, Value>, object: &Value) -> Self {
        let mut addressing = Addressing::default();
        for source in [&Value::Object(activity.clone()), object] {
            let read = instance_state::objects::Addressing::of(source);
            for (list, addresses) in [
                (&mut addressing.to, read.to),
                (&mut addressing.bto, read.bto),
                (&mut addressing.cc, read.cc),
                (&mut addressing.bcc, read.bcc),
                (&mut addressing.audience, read.audience),
            ] {
                for address in addresses {
                    if !list.contains(&address) {
                        list.push(address);
                    }
                }
            }
        }
        addressing
    }

    /// Addressed to the public when the client addressed it to no one (the documented
    /// default); whether it is public.
    fn default_public(&mut self) -> bool {
        let lists = [&self.to, &self.bto, &self.cc, &self.bcc, &self.audience];
        if lists.iter().all(|list| list.is_empty()) {
            self.to.push(PUBLIC.to_owned());
        }
        [&self.to, &self.bto, &self.cc, &self.bcc, &self.audience]
            .iter()
            .any(|list| list.iter().any(|a| a == PUBLIC))
    }

    /// Adds `address` to `cc`, unless it is a recipient already.
    fn add_cc(&mut self, address: &str) {
        let known = [&self.to, &self.bto, &self.cc, &self.bcc, &self.audience]
            .iter()
            .any(|list| list.iter().any(|a| a == address));
        if !known {
            self.cc.push(address.to_owned());
        }
    }

    /// Writes the addressing into `document`: `to` and `cc` (always), `audience`, `bto` and
    /// `bcc` (when there are some). The hidden ones are for delivery and for the stored
    /// addressing (who may read): instance-state keeps them out of every stored document, the
    /// outbox out of every delivered one, and the client's answer drops them.
    fn write(&self, document: &mut serde_json::Map<String, Value>) {
        for key in ["bto", "bcc", "audience"] {
            document.remove(key);
        }
        document.insert("to".into(), json!(self.to));
        document.insert("cc".into(), json!(self.cc));
        for (key, list) in [
            ("audience", &self.audience),
            ("bto", &self.bto),
            ("bcc", &self.bcc),
        ] {
            if !list.is_empty() {
                document.insert(key.into(), json!(list));
            }
        }
    }
}

impl Instance {
    /// Handles a client-to-server POST by identity `name`; returns the activity as stored.
    pub(crate) async fn client_post(&self, name: &str, body: Value) -> Result<Value, ClientError> {
        let Value::Object(mut activity) = body else {
            return Err(bad("the body is not a JSON object"));
        };
        let kind = activity
            .get("type")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("no type"))?
            .to_owned();
        // A bare object is wrapped in a Create (ActivityPub §6.2.1).
        if matches!(kind.as_str(), "Event" | "Note") {
            activity = match json!({"type": "Create", "object": Value::Object(activity)}) {
                Value::Object(map) => map,
                _ => return Err(bad("unreachable")),
            };
        }
        let kind = activity
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let me = self.actor_id(name).to_string();
        let object = activity.get("object").cloned().unwrap_or(Value::Null);
        match kind.as_str() {
            "Create" => {
                let addressing = Addressing::of_client(&activity, &object);
                match str_of(&object, "type") {
                    Some("Event") => self.create_event(name, &me, object, addressing).await,
                    Some("Note") => self.create_comment(name, &me, object, addressing).await,
                    other => Err(bad(format!("cannot create a {other:?}"))),
                }
            }
            "Update" => self.update_event(name, &me, object).await,
            "Delete" => self.delete_object(name, &me, &object).await,
            "Join" => self.join(name, &me, &object).await,
            "Leave" => self.leave(name, &me, &object).await,
            "Follow" => self.follow(name, &me, &object).await,
            "Accept" | "Reject" => self.decide_join(name, &me, &object, kind == "Accept").await,
            "Invite" => self.invite(name, &me, &activity).await,
            other => Err(bad(format!("{other} is not supported here"))),
        }
    }

    async fn create_event(
        &self,
        name: &str,
        me: &str,
        object: Value,
        mut addressing: Addressing,
    ) -> Result<Value, ClientError> {
        let Value::Object(mut event) = object else {
            return Err(bad("the event is not an object"));
        };
        let title = event
            .get("name")
            .and_then(Value::as_str)
            .filter(|n| !n.trim().is_empty())
            .ok_or_else(|| bad("an event needs a name"))?
            .to_owned();
        let start = event
            .get("startTime")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("an event needs a startTime"))?;
        let start_unix = unix(start).ok_or_else(|| bad("startTime is not RFC 3339"))?;
        if let Some(end) = event.get("endTime").and_then(Value::as_str) {
            let end = unix(end).ok_or_else(|| bad("endTime is not RFC 3339"))?;
            if end < start_unix {
                return Err(bad("the event ends before it starts"));
            }
        }
        // Organized by a group the identity moderates, or by the identity itself.
        let group = match event.get("attributedTo").and_then(id_of) {
            Some(group) if group != me => {
                let group_name = self
                    .local_actor_name(group)
                    .ok_or_else(|| bad("attributedTo must be a group of this instance"))?;
                let role = self.db().member_role(&group_name, me).await?;
                if !matches!(role.as_deref(), Some("administrator" | "moderator")) {
                    return Err(ClientError::Forbidden(format!(
                        "only a group's administrators and moderators publish its events ({name} is {})",
                        role.as_deref().unwrap_or("not a member")
                    )));
                }
                Some((group.to_owned(), group_name))
            }
            _ => None,
        };
        let (uuid, id) = self.new_id("events");
        let now = now();
        let capacity = event
            .get("maximumAttendeeCapacity")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let attributed_to = group.as_ref().map_or(me, |(g, _)| g.as_str()).to_owned();
        // What the client addressed, and what the server adds: the followers of the group and
        // of the organizer when the event is public, and its participants.
        let public = addressing.default_public();
        if public {
            if let Some((group, _)) = &group {
                addressing.add_cc(&format!("{group}/followers"));
            }
            addressing.add_cc(&format!("{me}/followers"));
        }
        addressing.add_cc(&format!("{id}/participants"));
        if let Some(content) = event.get("content").and_then(Value::as_str) {
            let clean = sanitize(content);
            event.insert("content".into(), Value::String(clean));
            event.insert("mediaType".into(), json!("text/html"));
        }
        for (key, value) in [
            ("@context", context()),
            ("id", json!(id.as_str())),
            ("type", json!("Event")),
            ("uuid", json!(uuid)),
            ("name", json!(title)),
            ("url", json!(id.as_str())),
            ("attributedTo", json!(attributed_to)),
            ("actor", json!(me)),
            ("published", json!(rfc3339(now))),
            ("updated", json!(rfc3339(now))),
            ("participantCount", json!(0)),
            ("commentsEnabled", json!(true)),
            ("repliesModerationOption", json!("allow_all")),
            ("anonymousParticipationEnabled", json!(false)),
            ("draft", json!(false)),
            ("replies", json!(format!("{id}/replies"))),
        ] {
            event.insert(key.to_owned(), value);
        }
        event.entry("joinMode").or_insert(json!("free"));
        event.entry("ical:status").or_insert(json!("CONFIRMED"));
        event.entry("isOnline").or_insert(json!(false));
        event.insert("maximumAttendeeCapacity".into(), json!(capacity));
        if capacity > 0 {
            event.insert("remainingAttendeeCapacity".into(), json!(capacity));
        }
        if let Some(location) = event.get_mut("location").and_then(Value::as_object_mut) {
            location.entry("type").or_insert(json!("Place"));
            if let Some(address) = location.get_mut("address").and_then(Value::as_object_mut) {
                address.entry("type").or_insert(json!("PostalAddress"));
            }
        }
        if !event.contains_key("summary") {
            let summary = event_summary(&Value::Object(event.clone()));
            event.insert("summary".into(), Value::String(summary));
        }
        addressing.write(&mut event);
        let event = Value::Object(event);
        self.db()
            .put_object(&ObjectRow {
                id: id.to_string(),
                kind: "Event".into(),
                local: true,
                attributed_to: Some(attributed_to.clone()),
                context: group.as_ref().map(|(g, _)| g.clone()),
                in_reply_to: None,
                start_time: Some(start_unix),
                document: event.clone(),
                deleted: false,
                published: now,
                updated: now,
            })
            .await?;
        let activity = self.addressed_activity("Create", me, event, &addressing);
        self.publish(name, activity.clone(), Some(id.as_str()))
            .await?;
        // Public events are announced by the instance actor to the instances following it.
        if public {
            let instance = self.actor_id(INSTANCE_ACTOR).to_string();
            let announce = self.activity(
                "Announce",
                &instance,
                json!(id.as_str()),
                json!([format!("{instance}/followers")]),
                json!([PUBLIC]),
            );
            self.publish(INSTANCE_ACTOR, announce, Some(id.as_str()))
                .await?;
            // And by its group, as Mobilizon's groups do: the group's outbox lists its events,
            // which is where a server that starts following the group reads them.
            if let Some((group, group_name)) = &group {
                let announce = self.activity(
                    "Announce",
                    group,
                    json!(id.as_str()),
                    json!([format!("{group}/followers")]),
                    json!([PUBLIC]),
                );
                self.publish(group_name, announce, Some(id.as_str()))
                    .await?;
            }
        }
        info!(event = %id, %name, "event published");
        Ok(without_hidden_recipients(activity))
    }

    /// A new activity of `kind` by `actor`.
    pub(crate) fn activity(
        &self,
        kind: &str,
        actor: &str,
        object: Value,
        to: Value,
        cc: Value,
    ) -> Value {
        let (_, id) = self.new_id("activities");
        json!({
            "@context": context(),
            "id": id.as_str(),
            "type": kind,
            "actor": actor,
            "object": object,
            "to": to,
            "cc": cc,
            "published": rfc3339(now()),
        })
    }

    /// A new activity of `kind` by `actor` about `object`, addressed as `addressing` says, the
    /// hidden recipients (`bto`, `bcc`) included: [`Instance::publish`] delivers to them and
    /// keeps them out of what it stores and sends.
    fn addressed_activity(
        &self,
        kind: &str,
        actor: &str,
        object: Value,
        addressing: &Addressing,
    ) -> Value {
        let mut activity = self.activity(kind, actor, object, json!([]), json!([]));
        if let Value::Object(map) = &mut activity {
            addressing.write(map);
        }
        activity
    }

    /// Who may manage a local event: its organizer, and its group's administrators and
    /// moderators.
    pub(crate) async fn may_manage(&self, event: &ObjectRow, me: &str) -> Result<bool> {
        if str_of(&event.document, "actor") == Some(me)
            || event.attributed_to.as_deref() == Some(me)
        {
            return Ok(true);
        }
        if let Some(group) = event
            .context
            .as_deref()
            .and_then(|g| self.local_actor_name(g))
        {
            let role = self.db().member_role(&group, me).await?;
            return Ok(matches!(
                role.as_deref(),
                Some("administrator" | "moderator")
            ));
        }
        Ok(false)
    }

    async fn update_event(
        &self,
        name: &str,
        me: &str,
        object: Value,
    ) -> Result<Value, ClientError> {
        let id = id_of(&object).ok_or_else(|| bad("Update needs the object with its id"))?;
        let Value::Object(changes) = &object else {
            return Err(bad("Update needs the whole object, not its id"));
        };
        // The event stays locked from this read to the write below, as for a Join: a Join
        // accepted in between would otherwise have its seat counted and then overwritten.
        let mut lock = self
            .db()
            .lock_event(id)
            .await?
            .ok_or_else(|| ClientError::NotFound(format!("no local event {id}")))?;
        let row = &mut lock.event;
        if !self.may_manage(row, me).await? {
            return Err(ClientError::Forbidden(
                "not an organizer of this event".into(),
            ));
        }
        let Value::Object(document) = &mut row.document else {
            return Err(anyhow!("a stored event is not an object").into());
        };
        const FIXED: &[&str] = &[
            "@context",
            "id",
            "type",
            "uuid",
            "url",
            "attributedTo",
            "actor",
            "published",
            "participantCount",
            "remainingAttendeeCapacity",
            "to",
            "cc",
            "replies",
        ];
        for (key, value) in changes {
            if FIXED.contains(&key.as_str()) {
                continue;
            }
            let value = if key == "content" {
                value
                    .as_str()
                    .map_or(Value::Null, |c| Value::String(sanitize(c)))
            } else {
                value.clone()
            };
            document.insert(key.clone(), value);
        }
        if let Some(start) = document.get("startTime").and_then(Value::as_str) {
            row.start_time = Some(unix(start).ok_or_else(|| bad("startTime is not RFC 3339"))?);
        }
        if !changes.contains_key("summary") {
            let summary = event_summary(&Value::Object(document.clone()));
            document.insert("summary".into(), Value::String(summary));
        }
        let now = now();
        document.insert("updated".into(), json!(rfc3339(now)));
        row.updated = now;
        let accepted = lock.accepted().await?;
        write_counts(&mut lock.event.document, accepted);
        lock.put_event().await?;
        let row = lock.event.clone();
        lock.commit().await?;
        let activity = self.send_event_update(&row, me, name).await?;
        Ok(activity)
    }

    /// Sends `Update(Event)` to the event's audience and participants.
    async fn send_event_update(&self, row: &ObjectRow, me: &str, name: &str) -> Result<Value> {
        let to = row.document.get("to").cloned().unwrap_or(json!([PUBLIC]));
        let cc = row.document.get("cc").cloned().unwrap_or(json!([]));
        let activity = self.activity("Update", me, row.document.clone(), to, cc);
        self.publish(name, activity.clone(), Some(&row.id)).await?;
        Ok(activity)
    }

    async fn delete_object(
        &self,
        name: &str,
        me: &str,
        object: &Value,
    ) -> Result<Value, ClientError> {
        let id = id_of(object).ok_or_else(|| bad("Delete needs an object id"))?;
        let mut row = self
            .db()
            .object(id)
            .await?
            .filter(|r| r.local && !r.deleted)
            .ok_or_else(|| ClientError::NotFound(format!("no local object {id}")))?;
        let allowed = if row.kind == "Event" {
            self.may_manage(&row, me).await?
        } else {
            row.attributed_to.as_deref() == Some(me)
        };
        if !allowed {
            return Err(ClientError::Forbidden("not yours to delete".into()));
        }
        let to = row.document.get("to").cloned().unwrap_or(json!([PUBLIC]));
        let cc = row.document.get("cc").cloned().unwrap_or(json!([]));
        let now = now();
        row.document = json!({
            "@context": context(),
            "id": id,
            "type": "Tombstone",
            "formerType": row.kind,
            "deleted": rfc3339(now),
        });
        row.deleted = true;
        row.updated = now;
        self.db().put_object(&row).await?;
        let tombstone = json!({"id": id, "type": "Tombstone"});
        let activity = self.activity("Delete", me, tombstone, to, cc);
        self.publish(name, activity.clone(), Some(id)).await?;
        Ok(activity)
    }

    async fn create_comment(
        &self,
        name: &str,
        me: &str,
        object: Value,
        mut addressing: Addressing,
    ) -> Result<Value, ClientError> {
        let in_reply_to = object
            .get("inReplyTo")
            .and_then(id_of)
            .ok_or_else(|| bad("a comment answers an event or a comment (inReplyTo)"))?
            .to_owned();
        let content = str_of(&object, "content").ok_or_else(|| bad("a comment needs content"))?;
        let (mut event, mut parent_author) = self.thread_of(&in_reply_to).await?;
        if event.is_none()
            && self
                .fetch_thread(&in_reply_to, &mut FetchBudget::default())
                .await?
        {
            (event, parent_author) = self.thread_of(&in_reply_to).await?;
        }
        let event = event
            .ok_or_else(|| ClientError::NotFound(format!("nothing known at {in_reply_to}")))?;
        let (_, id) = self.new_id("comments");
        let now = now();
        let organizer = str_of(&event.document, "actor").map(str::to_owned);
        // What the client addressed, and what the server adds: the thread's people (the
        // organizer, the group, the author answered) always, and the commenter's followers and
        // the event's participants when the comment is public.
        let public = addressing.default_public();
        if public {
            addressing.add_cc(&format!("{me}/followers"));
        }
        for actor in [
            organizer.clone(),
            event.attributed_to.clone(),
            parent_author,
        ]
        .into_iter()
        .flatten()
        {
            if actor != me {
                addressing.add_cc(&actor);
            }
        }
        if event.local && public {
            addressing.add_cc(&format!("{}/participants", event.id));
        }
        let mut note = json!({
            "@context": context(),
            "id": id.as_str(),
            "type": "Note",
            "attributedTo": me,
            "inReplyTo": in_reply_to,
            "context": event.id,
            "content": sanitize(content),
            "mediaType": "text/html",
            "published": rfc3339(now),
        });
        if let Value::Object(map) = &mut note {
            addressing.write(map);
        }
        self.db()
            .put_object(&ObjectRow {
                id: id.to_string(),
                kind: "Note".into(),
                local: true,
                attributed_to: Some(me.to_owned()),
                context: Some(event.id.clone()),
                in_reply_to: Some(in_reply_to),
                start_time: None,
                document: note.clone(),
                deleted: false,
                published: now,
                updated: now,
            })
            .await?;
        let activity = self.addressed_activity("Create", me, note, &addressing);
        self.publish(name, activity.clone(), Some(&event.id))
            .await?;
        Ok(without_hidden_recipients(activity))
    }

    /// The event a reply belongs to, and the author of the object answered.
    async fn thread_of(&self, in_reply_to: &str) -> Result<(Option<ObjectRow>, Option<String>)> {
        let Some(target) = self.db().object(in_reply_to).await? else {
            return Ok((None, None));
        };
        if target.deleted {
            return Ok((None, None));
        }
        if target.kind == "Event" {
            return Ok((Some(target), None));
        }
        let author = target.attributed_to.clone();
        let event = match &target.context {
            Some(event) => self.event(event).await?,
            None => None,
        };
        Ok((event, author))
    }

    /// The stored event `id`, fetched and stored first when it is remote and unknown.
    async fn known_event(&self, id: &str) -> Result<ObjectRow, ClientError> {
        if let Some(row) = self.event(id).await? {
            return Ok(row);
        }
        if self.is_local(id) {
            return Err(ClientError::NotFound(format!("no event {id}")));
        }
        let object = self
            .fetch(id, &mut FetchBudget::default())
            .await
            .map_err(|e| ClientError::NotFound(format!("cannot fetch {id}: {e}")))?;
        self.store_remote_event(&object)
            .await?
            .ok_or_else(|| bad(format!("{id} is not an event")))
    }

    async fn join(&self, name: &str, me: &str, object: &Value) -> Result<Value, ClientError> {
        let event_id = id_of(object).ok_or_else(|| bad("Join needs an event"))?;
        if self.local_group(event_id).await?.is_some() || self.is_remote_group(event_id).await {
            return self.join_group(name, me, event_id).await;
        }
        let event = self.known_event(event_id).await?;
        let organizer = str_of(&event.document, "actor")
            .or(event.attributed_to.as_deref())
            .ok_or_else(|| bad("the event names no organizer"))?
            .to_owned();
        let activity = self.activity("Join", me, json!(event.id), json!([organizer]), json!([]));
        let join_id = str_of(&activity, "id").unwrap_or_default().to_owned();
        if event.local {
            self.db().put_activity(&activity).await?;
            self.process_join(event, me, &join_id).await?;
        } else {
            self.db()
                .put_participation(&Participation {
                    event: event.id.clone(),
                    actor: me.to_owned(),
                    join_id: join_id.clone(),
                    state: "pending".into(),
                })
                .await?;
            self.publish(name, activity.clone(), Some(&event.id))
                .await?;
        }
        Ok(activity)
    }

    async fn leave(&self, name: &str, me: &str, object: &Value) -> Result<Value, ClientError> {
        let event_id = id_of(object).ok_or_else(|| bad("Leave needs an event"))?;
        if self.local_group(event_id).await?.is_some() || self.is_remote_group(event_id).await {
            return self.leave_group(name, me, event_id).await;
        }
        let event = self.known_event(event_id).await?;
        let organizer = str_of(&event.document, "actor")
            .or(event.attributed_to.as_deref())
            .unwrap_or(me)
            .to_owned();
        let activity = self.activity("Leave", me, json!(event.id), json!([organizer]), json!([]));
        if event.local {
            self.db().put_activity(&activity).await?;
            self.process_leave(event, me).await?;
        } else {
            if let Some(mut p) = self.db().participation(&event.id, me).await? {
                p.state = "left".into();
                self.db().put_participation(&p).await?;
            }
            self.publish(name, activity.clone(), Some(&event.id))
                .await?;
        }
        Ok(activity)
    }

    async fn follow(&self, name: &str, me: &str, object: &Value) -> Result<Value, ClientError> {
        let target = id_of(object)
            .ok_or_else(|| bad("Follow needs an actor"))?
            .to_owned();
        if target == me {
            return Err(bad("one does not follow oneself"));
        }
        let activity = self.activity("Follow", me, json!(target), json!([target]), json!([]));
        let follow_id = str_of(&activity, "id").unwrap_or_default().to_owned();
        if let Some(local) = self.local_actor_name(&target) {
            if self.db().actor(&local).await?.is_none() {
                return Err(ClientError::NotFound(format!("no actor {target}")));
            }
            // Between two actors of this instance the follow is decided here: one row of
            // instance-state's follows, both its followers and its following.
            self.db().put_activity(&activity).await?;
            self.db()
                .set_following(name, &target, &follow_id, "accepted")
                .await?;
        } else {
            self.db()
                .set_following(name, &target, &follow_id, "pending")
                .await?;
            self.publish(name, activity.clone(), None).await?;
            self.remember_actor_str(&target).await;
        }
        Ok(activity)
    }

    async fn remember_actor_str(&self, id: &str) {
        if let Ok(iri) = activitypub_core::Iri::parse(id) {
            self.remember_actor(&iri).await;
        }
    }

    /// The organizer's decision on a pending participation (`Accept` or `Reject` of a Join).
    async fn decide_join(
        &self,
        name: &str,
        me: &str,
        object: &Value,
        accept: bool,
    ) -> Result<Value, ClientError> {
        let join_id = id_of(object).ok_or_else(|| bad("Accept/Reject needs the Join"))?;
        let participation = self
            .db()
            .participation_by_join(join_id)
            .await?
            .ok_or_else(|| ClientError::NotFound(format!("no Join {join_id}")))?;
        if let Some(answer) = self.decide_group(name, me, &participation, accept).await? {
            return Ok(answer);
        }
        let event = self
            .event(&participation.event)
            .await?
            .filter(|e| e.local)
            .ok_or_else(|| ClientError::NotFound("the event is gone".into()))?;
        if !self.may_manage(&event, me).await? {
            return Err(ClientError::Forbidden(
                "not an organizer of this event".into(),
            ));
        }
        // Decided with the event locked: a Join or another decision may have come first.
        let mut lock = self
            .db()
            .lock_event(&event.id)
            .await?
            .ok_or_else(|| ClientError::NotFound("the event is gone".into()))?;
        let current = lock
            .participation(&participation.actor)
            .await?
            .filter(|p| p.join_id == participation.join_id)
            .ok_or_else(|| ClientError::NotFound(format!("no Join {join_id}")))?;
        if current.state != "pending" {
            return Err(bad(format!("the participation is {}", current.state)));
        }
        let accept = accept && has_room(&mut lock).await?;
        let state = if accept { "accepted" } else { "rejected" };
        let (event, participation) = record_participation(lock, current, state).await?;
        let activity = self.answer_join(event, participation, accept).await?;
        Ok(activity)
    }

    /// A Join of a local event: accepted (open events with room), rejected (full, or by
    /// invitation only) or left pending (restricted events wait for an organizer). The seat is
    /// taken with the event locked ([`crate::db::Db::lock_event`]), so Joins arriving together
    /// never take more seats than the event has.
    pub(crate) async fn process_join(
        &self,
        event: ObjectRow,
        joiner: &str,
        join_id: &str,
    ) -> Result<()> {
        let Some(mut lock) = self.db().lock_event(&event.id).await? else {
            debug!(%joiner, event = %event.id, "a Join of an event that is gone");
            return Ok(());
        };
        if let Some(existing) = lock.participation(joiner).await?
            && existing.state == "accepted"
        {
            debug!(%joiner, event = %event.id, "already participating");
            return Ok(());
        }
        let mode = str_of(&lock.event.document, "joinMode")
            .unwrap_or("free")
            .to_owned();
        let state =
            if !matches!(mode.as_str(), "free" | "restricted") || !has_room(&mut lock).await? {
                "rejected"
            } else if mode == "restricted" {
                "pending"
            } else {
                "accepted"
            };
        let participation = Participation {
            event: event.id.clone(),
            actor: joiner.to_owned(),
            join_id: join_id.to_owned(),
            state: state.into(),
        };
        let (event, participation) = record_participation(lock, participation, state).await?;
        if state == "pending" {
            info!(%joiner, event = %event.id, "participation awaits approval");
            return Ok(());
        }
        self.answer_join(event, participation, state == "accepted")
            .await?;
        Ok(())
    }

    /// Tells the participant the decision recorded on its Join (Accept or Reject from the
    /// organizer) and, when accepted, sends the event with its new participant count.
    async fn answer_join(
        &self,
        event: ObjectRow,
        participation: Participation,
        accept: bool,
    ) -> Result<Value> {
        let organizer = str_of(&event.document, "actor")
            .map(str::to_owned)
            .or_else(|| event.attributed_to.clone())
            .ok_or_else(|| anyhow!("the event names no organizer"))?;
        let organizer_name = self
            .local_actor_name(&organizer)
            .ok_or_else(|| anyhow!("the organizer is not local"))?;
        let join = json!({
            "id": participation.join_id,
            "type": "Join",
            "actor": participation.actor,
            "object": event.id,
        });
        let kind = if accept { "Accept" } else { "Reject" };
        let activity = self.activity(
            kind,
            &organizer,
            join,
            json!([participation.actor]),
            json!([]),
        );
        self.publish(&organizer_name, activity.clone(), Some(&event.id))
            .await?;
        info!(participant = %participation.actor, event = %event.id, kind, "participation answered");
        if accept {
            self.send_event_update(&event, &organizer, &organizer_name)
                .await?;
        }
        Ok(activity)
    }

    async fn process_leave(&self, event: ObjectRow, actor: &str) -> Result<()> {
        if !event.local {
            if let Some(mut participation) = self.db().participation(&event.id, actor).await? {
                participation.state = "left".into();
                self.db().put_participation(&participation).await?;
            }
            return Ok(());
        }
        // The seat is freed with the event locked, as Joins take them.
        let Some(mut lock) = self.db().lock_event(&event.id).await? else {
            return Ok(());
        };
        let Some(participation) = lock.participation(actor).await? else {
            return Ok(());
        };
        let was_accepted = participation.state == "accepted";
        let (event, _) = record_participation(lock, participation, "left").await?;
        if was_accepted
            && let Some(organizer) = str_of(&event.document, "actor").map(str::to_owned)
            && let Some(name) = self.local_actor_name(&organizer)
        {
            self.send_event_update(&event, &organizer, &name).await?;
        }
        Ok(())
    }

    /// Stores an event that another server published; `None` if `object` is not an event.
    pub(crate) async fn store_remote_event(&self, object: &AnyObject) -> Result<Option<ObjectRow>> {
        let AnyObject::Event(event) = object else {
            return Ok(None);
        };
        let Some(id) = event.props.id.as_ref() else {
            bail!("an event without an id");
        };
        if self.is_local(id.as_str()) {
            return self.event(id.as_str()).await;
        }
        let document = sanitized(object.to_value());
        let attributed_to = document
            .get("attributedTo")
            .and_then(id_of)
            .map(str::to_owned);
        let start = document
            .get("startTime")
            .and_then(Value::as_str)
            .and_then(unix);
        let published = document
            .get("published")
            .and_then(Value::as_str)
            .and_then(unix)
            .unwrap_or_else(now);
        let updated = document
            .get("updated")
            .and_then(Value::as_str)
            .and_then(unix)
            .unwrap_or(published);
        if let Some(existing) = self.db().object(id.as_str()).await?
            && (existing.deleted || existing.updated > updated)
        {
            debug!(%id, "keeping the newer or deleted copy");
            return Ok(Some(existing));
        }
        let row = ObjectRow {
            id: id.to_string(),
            kind: "Event".into(),
            local: false,
            attributed_to: attributed_to.clone(),
            // Filed under its group, unless it names one of ours: a local group's events are
            // made here, never by another server.
            context: attributed_to.filter(|group| !self.is_local(group)),
            in_reply_to: None,
            start_time: start,
            document,
            deleted: false,
            published,
            updated,
        };
        self.db().put_object(&row).await?;
        Ok(Some(row))
    }

    /// Stores a comment from another server on an event we have; `false` if it answers nothing
    /// we know.
    /// Stores a comment from another server on an event; when the comment answers something
    /// not known here, its ancestors are fetched first (within `budget`).
    async fn store_remote_comment(
        &self,
        object: &AnyObject,
        budget: &mut FetchBudget,
    ) -> Result<bool> {
        let Some(in_reply_to) = object
            .props()
            .in_reply_to
            .as_ref()
            .and_then(OneOrMany::first)
            .and_then(activitypub_core::reference_id)
            .map(ToString::to_string)
        else {
            return Ok(false);
        };
        if self.thread_of(&in_reply_to).await?.0.is_none()
            && !self.fetch_thread(&in_reply_to, budget).await?
        {
            return Ok(false);
        }
        self.store_comment(object).await
    }

    /// Fetches the reply chain up from `start` (a loop within the budget, which bounds its
    /// depth, with cycle detection) and, when it ends at an event, stores the event and the
    /// comments; `false` when it leads to no event.
    async fn fetch_thread(&self, start: &str, budget: &mut FetchBudget) -> Result<bool> {
        if self.is_local(start) {
            return Ok(false);
        }
        let url = Url::parse(start)?;
        let chain = match self
            .fetcher()
            .fetch_chain(&url, in_reply_to_of, budget)
            .await
        {
            Ok(chain) => chain,
            Err(error) => {
                debug!(%start, %error, "cannot fetch the thread; the comment is ignored");
                return Ok(false);
            }
        };
        let Some(root) = chain.last() else {
            return Ok(false);
        };
        if self.store_remote_event(root.object()).await?.is_none() {
            return Ok(false);
        }
        // Parents before their replies.
        for fetched in chain.iter().rev().skip(1) {
            self.store_comment(fetched.object()).await?;
        }
        Ok(true)
    }

    /// Stores a remote comment whose parent is known; `false` if it is not a comment on an
    /// event here.
    async fn store_comment(&self, object: &AnyObject) -> Result<bool> {
        if !may_be_reply(object) {
            return Ok(false);
        }
        let document = sanitized(object.to_value());
        let Some(id) = object.props().id.as_ref() else {
            return Ok(false);
        };
        let Some(in_reply_to) = document.get("inReplyTo").and_then(id_of) else {
            return Ok(false);
        };
        let (Some(event), _) = self.thread_of(in_reply_to).await? else {
            return Ok(false);
        };
        let published = document
            .get("published")
            .and_then(Value::as_str)
            .and_then(unix)
            .unwrap_or_else(now);
        // Stored under the kind `Note`, the instance's kind for comments, whatever the object's
        // own type: the document keeps that.
        self.db()
            .put_object(&ObjectRow {
                id: id.to_string(),
                kind: "Note".into(),
                local: false,
                attributed_to: object
                    .props()
                    .attributed_to
                    .as_ref()
                    .and_then(OneOrMany::first)
                    .and_then(activitypub_core::reference_id)
                    .map(ToString::to_string),
                context: Some(event.id),
                in_reply_to: Some(in_reply_to.to_owned()),
                start_time: None,
                document: document.clone(),
                deleted: false,
                published,
                updated: now(),
            })
            .await?;
        Ok(true)
    }
}

/// Whether `object` can be a comment when it answers something here: any object (a `Note`, a
/// PeerTube `Video`, a `Question`, a type no vocabulary here knows), but not an activity, an
/// actor, a collection, a link, a tombstone or an event.
fn may_be_reply(object: &AnyObject) -> bool {
    !matches!(
        object,
        AnyObject::Activity(_)
            | AnyObject::Actor(_)
            | AnyObject::Collection(_)
            | AnyObject::Link(_)
            | AnyObject::Tombstone(_)
            | AnyObject::Event(_)
    )
}

/// Writes the participant count `count` (and the remaining capacity) into an event's document.
fn write_counts(document: &mut Value, count: u64) {
    if let Value::Object(document) = document {
        document.insert("participantCount".into(), json!(count));
        let capacity = document
            .get("maximumAttendeeCapacity")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        if capacity > 0 {
            document.insert(
                "remainingAttendeeCapacity".into(),
                json!(capacity.saturating_sub(count)),
            );
        }
    }
}

/// Whether the locked event has a seat left (`maximumAttendeeCapacity` 0: no limit).
async fn has_room(lock: &mut EventLock) -> Result<bool> {
    let capacity = lock
        .event
        .document
        .get("maximumAttendeeCapacity")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    Ok(capacity == 0 || lock.accepted().await? < capacity)
}

/// Records `participation` in `state` in the locked event and, when that changes the number
/// of participants, writes the new counts into the event; then commits. Returns the event and
/// the participation as stored.
async fn record_participation(
    mut lock: EventLock,
    mut participation: Participation,
    state: &str,
) -> Result<(ObjectRow, Participation)> {
    let was_accepted = lock
        .participation(&participation.actor)
        .await?
        .is_some_and(|p| p.state == "accepted");
    participation.state = state.to_owned();
    lock.put_participation(&participation).await?;
    if was_accepted != (state == "accepted") {
        let count = lock.accepted().await?;
        write_counts(&mut lock.event.document, count);
        let now = now();
        if let Value::Object(document) = &mut lock.event.document {
            document.insert("updated".into(), json!(rfc3339(now)));
        }
        lock.event.updated = now;
        lock.put_event().await?;
    }
    let event = lock.event.clone();
    lock.commit().await?;
    Ok((event, participation))
}

/// The link up a reply chain: an object's `inReplyTo`, until an event.
fn in_reply_to_of(object: &AnyObject) -> Option<Url> {
    if matches!(object, AnyObject::Event(_)) {
        return None;
    }
    let parent = object.props().in_reply_to.as_ref()?.iter().next()?;
    Url::parse(activitypub_core::reference_id(parent)?.as_str()).ok()
}

// --- the inbox handlers

fn failed(error: anyhow::Error) -> HandlerError {
    HandlerError::Failed(error.into())
}

/// The handlers the inbox dispatches to: instance-state's for the social graph (`Follow`,
/// `Accept` and `Reject` of follows, `Undo` of a follow, `Block`, `Flag`, an actor's own
/// `Update` and `Delete`), which hand the rest of their types to [`Social::unhandled`]; the
/// instance's for events, comments, participation and groups.
pub(crate) fn dispatcher() -> Dispatcher<Instance> {
    social_handlers(Dispatcher::new())
        .on(ActivityType::Create, |app: Instance, incoming| async move {
            app.on_create_or_update(incoming).await.map_err(failed)
        })
        .on(ActivityType::Announce, |app: Instance, incoming| async move {
            app.on_announce(incoming).await.map_err(failed)
        })
        .on(ActivityType::Join, |app: Instance, incoming| async move {
            app.on_join(incoming).await
        })
        .on(ActivityType::Invite, |app: Instance, incoming| async move {
            app.on_invite_activity(incoming).await.map_err(failed)
        })
        .on(ActivityType::Leave, |app: Instance, incoming| async move {
            app.on_leave(incoming).await.map_err(failed)
        })
}

impl Social for Instance {
    type Queue = ErasedQueue;

    fn state(&self) -> &InstanceState {
        self.db().state()
    }

    fn outbox(&self) -> &Outbox<ErasedQueue> {
        &self.0.outbox
    }

    fn keys(&self) -> Option<&KeyCache> {
        Some(&self.0.keys)
    }

    /// A follow by one of ours accepted: the followed actor's events published before it are
    /// read from its outbox (see `backfill`).
    async fn follow_accepted(
        &self,
        follow: &instance_state::follows::Follow,
    ) -> Result<(), HandlerError> {
        if self.is_local(&follow.follower) && !self.is_local(&follow.followed) {
            self.backfill_later(follow.followed.clone());
        }
        Ok(())
    }

    /// What is the instance's among the types the social handlers take: the answer to a Join
    /// or an invitation, the Undo of a Join, the Delete of an event or a comment, the Update
    /// of an event or a comment.
    async fn unhandled(&self, incoming: Incoming) -> Result<(), HandlerError> {
        match incoming.activity.kind {
            ActivityType::Accept => self.on_answer(incoming, true).await,
            ActivityType::Reject => self.on_answer(incoming, false).await,
            ActivityType::Undo => self.on_undo(incoming).await,
            ActivityType::Delete => self.on_delete(incoming).await,
            ActivityType::Update => self.on_create_or_update(incoming).await,
            _ => Ok(()),
        }
        .map_err(failed)
    }

    /// A remote actor was deleted (instance-state forgot its follows and name): its
    /// participations and memberships go too.
    async fn actor_deleted(&self, actor: &Iri) -> Result<(), HandlerError> {
        self.db()
            .forget_participant(actor.as_str())
            .await
            .map_err(failed)
    }
}

impl Instance {
    async fn on_answer(&self, incoming: Incoming, accepted: bool) -> Result<()> {
        let Some(object) = incoming.object.id() else {
            return Ok(());
        };
        let state = if accepted { "accepted" } else { "rejected" };
        if let Some(mut participation) = self.db().participation_by_join(object.as_str()).await? {
            if self
                .on_invitation_answer(&participation, incoming.actor.as_str(), accepted)
                .await?
            {
                return Ok(());
            }
            // Only the event's own server may answer.
            if !activitypub_core::origin::same_origin(
                &incoming.actor,
                &activitypub_core::Iri::parse(participation.event.clone())?,
            ) {
                warn!(actor = %incoming.actor, event = %participation.event, "an answer from another server; ignored");
                return Ok(());
            }
            participation.state = state.into();
            self.db().put_participation(&participation).await?;
            info!(join = %object, state, "participation answered");
        }
        Ok(())
    }

    async fn on_undo(&self, incoming: Incoming) -> Result<()> {
        let actor = incoming.actor.to_string();
        match incoming.object.object() {
            Some(AnyObject::Activity(inner)) if inner.kind == ActivityType::Join => {
                if let Some(event) = inner.object_id()
                    && let Some(event) = self.event(event.as_str()).await?
                {
                    self.process_leave(event, &actor).await?;
                }
            }
            _ => debug!("an Undo of something unknown"),
        }
        Ok(())
    }

    async fn on_create_or_update(&self, incoming: Incoming) -> Result<()> {
        let mut budget = incoming.budget.clone();
        let Some(object) = incoming.object.object() else {
            // An id only: nothing to believe; fetch it.
            if let Some(id) = incoming.object.id()
                && !self.is_local(id.as_str())
                && let Ok(object) = self.fetch(id.as_str(), &mut budget).await
                && self.is_solicited(&incoming, &object).await?
            {
                self.store_remote_object(&object, &incoming, &mut budget)
                    .await?;
            }
            return Ok(());
        };
        if !self.is_solicited(&incoming, object).await? {
            return Ok(());
        }
        self.store_remote_object(object, &incoming, &mut budget)
            .await
    }

    /// Whether `object`, which `incoming` creates or updates, concerns this instance
    /// (instance-state's rule: see `InstanceState::is_solicited`); what does not is dropped
    /// unseen.
    async fn is_solicited(&self, incoming: &Incoming, object: &AnyObject) -> Result<bool> {
        Ok(self
            .state()
            .is_solicited(
                &incoming.activity,
                &incoming.actor,
                object,
                Some(INSTANCE_ACTOR),
            )
            .await?)
    }

    async fn store_remote_object(
        &self,
        object: &AnyObject,
        incoming: &Incoming,
        budget: &mut FetchBudget,
    ) -> Result<()> {
        match object {
            AnyObject::Event(_) => {
                if let Some(row) = self.store_remote_event(object).await? {
                    info!(event = %row.id, kind = %incoming.activity.kind, "remote event stored");
                }
                self.remember_actor(&incoming.actor).await;
            }
            AnyObject::Actor(actor) => {
                if let Some(id) = &actor.props.id {
                    self.keys().invalidate(id.as_str());
                    self.remember_actor(id).await;
                }
            }
            _ if may_be_reply(object) => {
                if self.store_remote_comment(object, budget).await? {
                    self.remember_actor(&incoming.actor).await;
                    info!(kind = %incoming.activity.kind, object = object.type_name(), "remote comment stored");
                }
            }
            _ => debug!(kind = object.type_name(), "nothing to do with it"),
        }
        Ok(())
    }

    async fn on_delete(&self, incoming: Incoming) -> Result<()> {
        let Some(id) = incoming.object.id() else {
            return Ok(());
        };
        // Instance-state made it a Tombstone already when the actor is one of its authors
        // (`Addressing::changeable_by`): the event or comment leaves the instance's tables.
        if let Some(mut row) = self.db().object(id.as_str()).await?
            && !row.local
        {
            if !instance_state::objects::Addressing::of(&row.document)
                .changeable_by(incoming.actor.as_str())
                && !row.deleted
            {
                warn!(object = %id, actor = %incoming.actor, "a Delete of someone else's object; kept");
                return Ok(());
            }
            row.deleted = true;
            row.updated = now();
            row.document = json!({"id": id.as_str(), "type": "Tombstone", "formerType": row.kind});
            self.db().put_object(&row).await?;
            info!(object = %id, "remote object deleted");
        }
        Ok(())
    }

    async fn on_announce(&self, incoming: Incoming) -> Result<()> {
        // A share counts when its sharer is followed here, as Mastodon shows boosts from the
        // accounts one follows; whose object it shares does not matter. Anyone else's share is
        // dropped before its object is fetched.
        if !self
            .state()
            .is_followed_source(&incoming.actor, Some(INSTANCE_ACTOR))
            .await?
        {
            debug!(actor = %incoming.actor, "an Announce from someone not followed here; dropped");
            return Ok(());
        }
        let mut budget = incoming.budget.clone();
        let object = match &incoming.object {
            IncomingObject::Object(object) => (**object).clone(),
            IncomingObject::Id(id) if !self.is_local(id.as_str()) => {
                match self.fetch(id.as_str(), &mut budget).await {
                    Ok(object) => object,
                    Err(error) => {
                        warn!(%id, %error, "cannot fetch an announced object; ignored");
                        return Ok(());
                    }
                }
            }
            _ => return Ok(()),
        };
        if let Some(row) = self.store_remote_event(&object).await? {
            info!(event = %row.id, by = %incoming.actor, "announced event stored");
        }
        Ok(())
    }

    async fn on_join(&self, incoming: Incoming) -> Result<(), HandlerError> {
        let Some(event_id) = incoming.object.id() else {
            return Err(HandlerError::Refused("a Join of nothing".into()));
        };
        if let Some(group) = self.local_group(event_id.as_str()).await.map_err(failed)? {
            let Some(join_id) = incoming.activity.props.id.as_ref() else {
                return Err(HandlerError::Refused("a Join without an id".into()));
            };
            self.remember_actor(&incoming.actor).await;
            return self
                .process_group_join(&group, incoming.actor.as_str(), join_id.as_str())
                .await
                .map_err(failed);
        }
        let Some(event) = self
            .event(event_id.as_str())
            .await
            .map_err(failed)?
            .filter(|e| e.local)
        else {
            // Someone else's event (a Join we are only copied on), or a deleted one: ignored.
            debug!(event = %event_id, "a Join of an event not hosted here; ignored");
            return Ok(());
        };
        let Some(join_id) = incoming.activity.props.id.as_ref() else {
            return Err(HandlerError::Refused("a Join without an id".into()));
        };
        self.remember_actor(&incoming.actor).await;
        self.process_join(event, incoming.actor.as_str(), join_id.as_str())
            .await
            .map_err(failed)
    }

    async fn on_invite_activity(&self, incoming: Incoming) -> Result<()> {
        let (Some(id), Some(group)) = (incoming.activity.props.id.as_ref(), incoming.object.id())
        else {
            return Ok(());
        };
        // The typed activity already read `target`: no second parse of the body.
        let Some(target) = incoming
            .activity
            .target
            .as_deref()
            .and_then(OneOrMany::first)
            .and_then(activitypub_core::reference_id)
            .map(|iri| iri.as_str())
        else {
            return Ok(());
        };
        if !self.is_local(target) {
            return Ok(());
        }
        // Only the group's own server invites into it.
        if !activitypub_core::origin::same_origin(&incoming.actor, group) {
            warn!(actor = %incoming.actor, %group, "an invitation into another server's group; ignored");
            return Ok(());
        }
        self.remember_actor(group).await;
        self.on_invite(id.as_str(), group.as_str(), target).await
    }

    async fn on_leave(&self, incoming: Incoming) -> Result<()> {
        let Some(event_id) = incoming.object.id() else {
            return Ok(());
        };
        if let Some(group) = self.local_group(event_id.as_str()).await? {
            self.db()
                .remove_member(&group, incoming.actor.as_str())
                .await?;
            info!(member = %incoming.actor, %group, "left the group");
            return Ok(());
        }
        if let Some(event) = self.event(event_id.as_str()).await? {
            self.process_leave(event, incoming.actor.as_str()).await?;
        }
        Ok(())
    }
}
