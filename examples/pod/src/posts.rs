//! Local posts and comments: written in Markdown, stored as sanitized HTML, addressed to the
//! public, to the author's followers or to the members of some of its aspects, and published
//! (`Create`, `Update`, `Delete`); likes (`Like`) and reshares (`Announce`) of posts.
//!
//! A post to aspects is addressed to its members by id in `to`, with no `Mention` tag for
//! being a member (they are not mentioned: Mastodon then shows it as a "limited" post, not a
//! direct message; see docs/pod.md), so the outbox delivers it to their servers only, and
//! instance-state's scope lets only them (and the author) read it here.
//!
//! Mentions (`@name`, `@name@host`) become links and `Mention` tags, and the people mentioned
//! are put in `cc` (so the outbox delivers to them, followers or not) — except in a post to
//! aspects, or a comment under one, whose audience a mention never widens: there only the
//! readers it has already are mentioned (diaspora*'s rule). Hashtags become links to the tag's
//! page and `Hashtag` tags.

use std::collections::BTreeMap;

use anyhow::{Result, anyhow, bail};
use instance_state::objects::{Addressing, PUBLIC};
use serde_json::{Value, json};
use tracing::warn;

use crate::app::Instance;
use crate::db::{Audience, PostRow};
use crate::markdown::{self, Links, Mention};
use crate::mentions::Mentioned;
use crate::notifications::kind;
use crate::photos::{Photo, attachment_member};

/// The most comments a post's page shows.
pub(crate) const MAX_COMMENTS: i64 = 500;

/// Items per page of a post's `replies` collection.
const COLLECTION_PAGE: u64 = 20;

/// Who a new post is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostAudience {
    /// Everyone.
    Public,
    /// The author's followers.
    Followers,
    /// The members of these aspects of the author (their ids).
    Aspects(Vec<String>),
}

/// Why a post or comment was refused: for the person who wrote it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Refused {
    /// Nothing was written.
    #[error("write something first")]
    Empty,
    /// Too long.
    #[error("a post has at most {max} bytes of Markdown", max = markdown::MAX_SOURCE)]
    TooLong,
    /// No aspect chosen, or none of the author's.
    #[error("choose at least one of your aspects")]
    NoAspect,
    /// The aspects chosen hold nobody.
    #[error("the aspects chosen have nobody in them yet")]
    NobodyInAspects,
    /// The post answered, liked or reshared is not one the person may read.
    #[error("there is no such post")]
    NoSuchPost,
    /// Only public posts are reshared.
    #[error("only public posts can be reshared")]
    NotPublic,
    /// Not the author's.
    #[error("only its author can change or delete a post")]
    NotAuthor,
    /// A photo that is no image the pod takes.
    #[error("a photo is a {accepted} image", accepted = crate::images::ACCEPTED)]
    NotAPhoto,
    /// Too many photos.
    #[error("a post has at most {max} photos", max = crate::photos::MAX_PHOTOS)]
    TooManyPhotos,
    /// A photo's description is too long.
    #[error("a photo's description has at most {max} characters", max = crate::photos::MAX_DESCRIPTION)]
    DescriptionTooLong,
}

fn check_source(source: &str) -> Result<(), Refused> {
    if source.trim().is_empty() {
        return Err(Refused::Empty);
    }
    if source.len() > markdown::MAX_SOURCE {
        return Err(Refused::TooLong);
    }
    Ok(())
}

/// Unix microseconds for an RFC 3339 time (`None` when it is not one).
pub(crate) fn micros(text: &str) -> Option<i64> {
    let time =
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    i64::try_from(time.unix_timestamp_nanos() / 1_000).ok()
}

/// RFC 3339 for Unix microseconds.
pub(crate) fn rfc3339(micros: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(micros.div_euclid(1_000_000))
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// The `@context` of the pod's Notes.
fn note_context() -> Value {
    json!([
        "https://www.w3.org/ns/activitystreams",
        {"sensitive": "as:sensitive", "Hashtag": "as:Hashtag"}
    ])
}

/// A text as written: its HTML, whom it mentions, its hashtags.
struct Written {
    content: String,
    mentioned: Vec<Mentioned>,
    tags: Vec<String>,
}

impl Instance {
    /// Local person `author` writes a post of `source` (Markdown) for `audience`; it is stored
    /// and published. The post's id.
    pub async fn write_post(
        &self,
        author: &str,
        source: &str,
        audience: &PostAudience,
    ) -> Result<String> {
        Ok(self
            .new_post(author, source, audience, Vec::new())
            .await?
            .id)
    }

    /// Local person `author` writes a post of `source` for `audience` with `photos`, which
    /// are kept only once the post is accepted.
    pub(crate) async fn new_post(
        &self,
        author: &str,
        source: &str,
        audience: &PostAudience,
        photos: Vec<Photo>,
    ) -> Result<PostRow> {
        check_source(source)?;
        if photos.len() > crate::photos::MAX_PHOTOS {
            bail!(Refused::TooManyPhotos);
        }
        self.state().live_actor(author).await?;
        let author_id = self.actor_id(author).to_string();
        let followers = format!("{author_id}/followers");
        let (to, mut cc, stored_audience, aspects) = match audience {
            PostAudience::Public => (
                vec![PUBLIC.to_owned()],
                vec![followers],
                Audience::Public,
                Vec::new(),
            ),
            PostAudience::Followers => {
                (vec![followers], Vec::new(), Audience::Followers, Vec::new())
            }
            PostAudience::Aspects(ids) => {
                let own: Vec<String> = self
                    .db()
                    .aspects(author)
                    .await?
                    .into_iter()
                    .map(|a| a.id)
                    .filter(|id| ids.contains(id))
                    .collect();
                if own.is_empty() {
                    bail!(Refused::NoAspect);
                }
                let members = self.db().aspect_members(author, &own).await?;
                if members.is_empty() {
                    bail!(Refused::NobodyInAspects);
                }
                (members, Vec::new(), Audience::Aspects, own)
            }
        };
        let written = self.written(source).await;
        // Whom the mentions reach: everyone mentioned, in `cc`; in a post to aspects only its
        // members (a mention does not widen its audience).
        let mentioned: Vec<&Mentioned> = written
            .mentioned
            .iter()
            .filter(|m| m.actor != author_id)
            .filter(|m| aspects.is_empty() || to.contains(&m.actor))
            .collect();
        if aspects.is_empty() {
            for m in &mentioned {
                if !cc.contains(&m.actor) && !to.contains(&m.actor) {
                    cc.push(m.actor.clone());
                }
            }
        }
        let attachments = self.keep_photos(author, photos).await?;
        let id = self.state().new_id("posts").to_string();
        let now = self.now();
        let content = written.content;
        let note = json!({
            "@context": note_context(),
            "id": id,
            "type": "Note",
            "attributedTo": author_id,
            "content": content,
            "source": {"content": source, "mediaType": "text/markdown"},
            "published": rfc3339(now),
            "url": id,
            "to": to,
            "cc": cc,
            "sensitive": false,
            "tag": self.tag_member(&mentioned, &written.tags),
            "attachment": attachment_member(&attachments),
            "replies": format!("{id}/replies"),
            "likes": format!("{id}/likes"),
            "shares": format!("{id}/shares"),
        });
        let row = PostRow {
            id: id.clone(),
            author: author_id,
            local: true,
            in_reply_to: None,
            root: None,
            source: source.to_owned(),
            content,
            audience: stored_audience,
            tags: written.tags,
            mentions: mentioned.iter().map(|m| m.actor.clone()).collect(),
            published: now,
            updated: now,
        };
        self.state().put_object(&note, true).await?;
        self.db()
            .put_local_post(&row, &attachments, &aspects, None)
            .await?;
        self.notify_written(&row, &note).await;
        self.publish_about("Create", author, note, false).await?;
        Ok(row)
    }

    /// Local person `author` comments `source` on `parent` (a post or comment it may read,
    /// from anywhere): addressed as the thread's post is (its audience, and its author), so
    /// that whoever may read the post may read the comment. The comment's id.
    pub async fn write_comment(&self, author: &str, parent: &str, source: &str) -> Result<String> {
        check_source(source)?;
        self.state().live_actor(author).await?;
        let author_id = self.actor_id(author).to_string();
        let scope = self.scope_of(&author_id).await?;
        let parent = self
            .db()
            .visible_post(parent, &scope)
            .await?
            .ok_or(Refused::NoSuchPost)?;
        let root_id = parent.root.clone().unwrap_or_else(|| parent.id.clone());
        let root = if root_id == parent.id {
            parent.clone()
        } else {
            self.db().post(&root_id).await?.ok_or(Refused::NoSuchPost)?
        };
        let root_addressing = self.state().addressing(&root.id).await?;
        let (to, cc) = if root.audience.is_public() {
            (
                vec![PUBLIC.to_owned()],
                vec![format!("{author_id}/followers"), root.author.clone()],
            )
        } else {
            // The post's own readers, named as it names them, and its author.
            let mut to: Vec<String> = root_addressing
                .to
                .iter()
                .chain(&root_addressing.cc)
                .filter(|a| *a != &author_id)
                .cloned()
                .collect();
            if !to.contains(&root.author) && root.author != author_id {
                to.push(root.author.clone());
            }
            (to, Vec::new())
        };
        let (mut to, mut cc) = (to, cc);
        // Under a video, an event, an article or a page: all its authors of its origin too (a
        // PeerTube video's account and channel, a Mobilizon event's group and organizer), so
        // its server, which threads the comments, has it.
        if let Some(card) = self.db().card(&root.id).await? {
            for author in card.authors {
                if author != author_id && !to.contains(&author) && !cc.contains(&author) {
                    if root.audience.is_public() {
                        cc.push(author);
                    } else {
                        to.push(author);
                    }
                }
            }
        }
        if parent.author != root.author
            && parent.author != author_id
            && !cc.contains(&parent.author)
        {
            cc.push(parent.author.clone());
        }
        let written = self.written(source).await;
        // Under a public post, whoever is mentioned is added; under a limited one, only its
        // readers are mentioned (a mention does not widen its audience).
        let public = root.audience.is_public();
        let mentioned: Vec<&Mentioned> = written
            .mentioned
            .iter()
            .filter(|m| m.actor != author_id)
            .filter(|m| public || to.contains(&m.actor) || cc.contains(&m.actor))
            .collect();
        if public {
            for m in &mentioned {
                if !cc.contains(&m.actor) {
                    cc.push(m.actor.clone());
                }
            }
        }
        let id = self.state().new_id("posts").to_string();
        let now = self.now();
        let content = written.content;
        let note = json!({
            "@context": note_context(),
            "id": id,
            "type": "Note",
            "attributedTo": author_id,
            "inReplyTo": parent.id,
            "content": content,
            "source": {"content": source, "mediaType": "text/markdown"},
            "published": rfc3339(now),
            "url": id,
            "to": to,
            "cc": cc,
            "sensitive": false,
            "tag": self.tag_member(&mentioned, &written.tags),
            "replies": format!("{id}/replies"),
            "likes": format!("{id}/likes"),
            "shares": format!("{id}/shares"),
        });
        let row = PostRow {
            id,
            author: author_id,
            local: true,
            in_reply_to: Some(parent.id.clone()),
            root: Some(root.id.clone()),
            source: source.to_owned(),
            content,
            audience: root.audience,
            tags: written.tags,
            mentions: mentioned.iter().map(|m| m.actor.clone()).collect(),
            published: now,
            updated: now,
        };
        self.state().put_object(&note, true).await?;
        self.db().put_post(&row).await?;
        self.notify_written(&row, &note).await;
        self.publish_about(
            "Create",
            author,
            note,
            matches!(root.audience, Audience::Aspects | Audience::Limited),
        )
        .await?;
        Ok(row.id)
    }

    /// Local person `author` rewrites its post or comment `id` as `source`: stored, and an
    /// `Update` sent to the same audience.
    pub async fn edit_post(&self, author: &str, id: &str, source: &str) -> Result<()> {
        check_source(source)?;
        let mut row = self.own_post(author, id).await?;
        let stored = self.state().object(id).await?.ok_or(Refused::NoSuchPost)?;
        let now = self.now();
        let written = self.written(source).await;
        let content = written.content;
        // The audience stays: only those it reaches already are mentioned.
        let addressing = self.state().addressing(id).await?;
        let mentioned: Vec<&Mentioned> = written
            .mentioned
            .iter()
            .filter(|m| addressing.to.contains(&m.actor) || addressing.cc.contains(&m.actor))
            .collect();
        let mut note = stored.document;
        if let Some(map) = note.as_object_mut() {
            map.insert("tag".into(), self.tag_member(&mentioned, &written.tags));
            map.insert("content".into(), Value::String(content.clone()));
            map.insert(
                "source".into(),
                json!({"content": source, "mediaType": "text/markdown"}),
            );
            map.insert("updated".into(), Value::String(rfc3339(now)));
        }
        self.state().put_object(&note, true).await?;
        row.source = source.to_owned();
        row.content = content;
        row.tags = written.tags;
        row.mentions = mentioned.iter().map(|m| m.actor.clone()).collect();
        row.updated = now;
        self.db().put_post(&row).await?;
        self.notify_written(&row, &note).await;
        self.publish_about("Update", author, note, in_limited_thread(&row))
            .await
    }

    /// Local person `author` deletes its post or comment `id`: a `Tombstone` here, and a
    /// `Delete` to the same audience.
    pub async fn delete_post(&self, author: &str, id: &str) -> Result<()> {
        let row = self.own_post(author, id).await?;
        let addressing = self.state().addressing(id).await?;
        let tombstone = self
            .state()
            .tombstone(id)
            .await?
            .ok_or(Refused::NoSuchPost)?;
        self.db().delete_post(id).await?;
        let mut delete = self
            .state()
            .new_activity("Delete", author, tombstone.document, &[]);
        address(&mut delete, &addressing);
        if in_limited_thread(&row) {
            // The post's author's pod passes it on as it passed the comment on (`threads.rs`).
            return self.publish_ld_signed(author, delete).await;
        }
        self.publish(author, delete).await
    }

    /// Local person `actor` likes post or comment `id` (one it may read). `false` if it did
    /// already.
    pub async fn like(&self, actor: &str, id: &str) -> Result<bool> {
        let actor_id = self.actor_id(actor).to_string();
        let post = self.readable_post(&actor_id, id).await?;
        if self.db().reaction(id, &actor_id, "like").await?.is_some() {
            return Ok(false);
        }
        let addressing = self.state().addressing(id).await?;
        let mut like = self
            .state()
            .new_activity("Like", actor, json!(post.id), &[]);
        // The post's author, and whoever may read the post (a like says nothing to others).
        let mut reaction = Addressing::default();
        reaction.to = vec![post.author.clone()];
        if post.audience.is_public() {
            reaction.cc = vec![PUBLIC.to_owned()];
        } else {
            reaction.cc = addressing
                .to
                .iter()
                .chain(&addressing.cc)
                .filter(|a| **a != post.author && **a != actor_id)
                .cloned()
                .collect();
        }
        address(&mut like, &reaction);
        let activity = activity_id(&like)?;
        self.db()
            .put_reaction(id, &actor_id, "like", &activity)
            .await?;
        self.publish(actor, like).await?;
        if let Err(error) = self
            .notify(
                &post.author,
                kind::LIKE,
                &actor_id,
                Some(&activity),
                &post.id,
            )
            .await
        {
            warn!(%error, "notifying a like");
        }
        Ok(true)
    }

    /// Local person `actor` takes back its like of `id`. `false` if it had none.
    pub async fn unlike(&self, actor: &str, id: &str) -> Result<bool> {
        self.undo_reaction(actor, id, "like").await
    }

    /// Local person `actor` reshares the public post `id` (`Announce` to the public and its
    /// followers, and to the post's author). `false` if it did already.
    pub async fn reshare(&self, actor: &str, id: &str) -> Result<bool> {
        let actor_id = self.actor_id(actor).to_string();
        let post = self.readable_post(&actor_id, id).await?;
        if !post.audience.is_public() || post.root.is_some() {
            bail!(Refused::NotPublic);
        }
        if self.db().reaction(id, &actor_id, "share").await?.is_some() {
            return Ok(false);
        }
        let mut announce = self
            .state()
            .new_activity("Announce", actor, json!(post.id), &[PUBLIC]);
        if let Some(map) = announce.as_object_mut() {
            map.insert(
                "cc".into(),
                json!([format!("{actor_id}/followers"), post.author]),
            );
            map.insert("published".into(), Value::String(rfc3339(self.now())));
        }
        let activity = activity_id(&announce)?;
        self.db()
            .put_reaction(id, &actor_id, "share", &activity)
            .await?;
        self.publish(actor, announce).await?;
        if let Err(error) = self
            .notify(
                &post.author,
                kind::RESHARE,
                &actor_id,
                Some(&activity),
                &post.id,
            )
            .await
        {
            warn!(%error, "notifying a reshare");
        }
        Ok(true)
    }

    /// Local person `actor` takes back its reshare of `id`. `false` if it had none.
    pub async fn unshare(&self, actor: &str, id: &str) -> Result<bool> {
        self.undo_reaction(actor, id, "share").await
    }

    async fn undo_reaction(&self, actor: &str, id: &str, kind: &str) -> Result<bool> {
        let actor_id = self.actor_id(actor).to_string();
        let Some(activity) = self.db().reaction(id, &actor_id, kind).await? else {
            return Ok(false);
        };
        let stored = self.state().activity(&activity).await?;
        self.db().remove_reaction(&activity, &actor_id).await?;
        if stored.is_none() {
            // A like brought by an archive's import: it was never sent, so nothing is undone
            // elsewhere.
            return Ok(true);
        }
        let addressing = self.state().addressing(&activity).await?;
        let object = stored.map_or_else(|| json!(activity), |a| a.document);
        let mut undo = self.state().new_activity("Undo", actor, object, &[]);
        address(&mut undo, &addressing);
        self.publish(actor, undo).await?;
        Ok(true)
    }

    /// The post `id` if `reader` may read it.
    async fn readable_post(&self, reader: &str, id: &str) -> Result<PostRow> {
        let scope = self.scope_of(reader).await?;
        Ok(self
            .db()
            .visible_post(id, &scope)
            .await?
            .ok_or(Refused::NoSuchPost)?)
    }

    /// Local person `author`'s own post or comment `id`.
    /// The `replies`, `likes` or `shares` collection of local post or comment `post`, as
    /// `requester` (a GET's signer, or nobody) may read it: not found when it may not read the
    /// post. `replies` lists the answers to it that the requester may read, oldest first;
    /// `likes` and `shares` give only how many there are, as Mastodon's do.
    pub(crate) async fn post_collection(
        &self,
        post: &str,
        kind: &str,
        page: Option<u64>,
        requester: Option<&federation::keys::RemoteKey>,
    ) -> Result<federation::routes::ObjectState> {
        use federation::routes::{ObjectState, paged_collection};
        let scope = match requester {
            Some(key) => self.scope_of(key.owner.as_str()).await?,
            None => instance_state::objects::Scope::anonymous(),
        };
        let Some(row) = self
            .db()
            .visible_post(post, &scope)
            .await?
            .filter(|row| row.local)
        else {
            return Ok(ObjectState::NotFound);
        };
        let id = format!("{}/{kind}", row.id);
        let root = row.root.as_deref().unwrap_or(&row.id);
        let document = match kind {
            "replies" => {
                let total = self.db().reply_count(root, &row.id, &scope).await?;
                let items = match page {
                    Some(n) => {
                        let offset = n.saturating_sub(1).saturating_mul(COLLECTION_PAGE);
                        self.db()
                            .replies(
                                root,
                                &row.id,
                                &scope,
                                i64::try_from(offset).unwrap_or(i64::MAX),
                                i64::try_from(COLLECTION_PAGE).unwrap_or(i64::MAX),
                            )
                            .await?
                            .into_iter()
                            .map(Value::String)
                            .collect()
                    }
                    None => Vec::new(),
                };
                paged_collection(&id, page, COLLECTION_PAGE, total, items)
            }
            _ => {
                if page.is_some() {
                    return Ok(ObjectState::NotFound);
                }
                let counts = self
                    .db()
                    .reaction_counts_of(std::slice::from_ref(&row.id))
                    .await?;
                let (likes, shares) = counts.get(&row.id).copied().unwrap_or_default();
                let total = if kind == "likes" { likes } else { shares };
                json!({
                    "@context": federation::routes::default_context(),
                    "id": id,
                    "type": "Collection",
                    "totalItems": total,
                })
            }
        };
        Ok(ObjectState::Found {
            document,
            html: None,
        })
    }

    /// The Markdown of local person `author`'s own post or comment `id`; `None` when it is
    /// not theirs (or not here).
    pub(crate) async fn own_post_source(&self, author: &str, id: &str) -> Result<Option<String>> {
        Ok(self
            .db()
            .post(id)
            .await?
            .filter(|row| row.local && row.author == self.actor_id(author).as_str())
            .map(|row| row.source))
    }

    async fn own_post(&self, author: &str, id: &str) -> Result<PostRow> {
        let row = self.db().post(id).await?.ok_or(Refused::NoSuchPost)?;
        if !row.local || row.author != self.actor_id(author).as_str() {
            bail!(Refused::NotAuthor);
        }
        Ok(row)
    }

    /// `source` rendered, with the people it mentions (found here, remembered or looked up)
    /// and its hashtags made links.
    async fn written(&self, source: &str) -> Written {
        let found = markdown::find(source);
        let mentioned = self.resolve_mentions(&found.mentions).await;
        let links: BTreeMap<Mention, String> = mentioned
            .iter()
            .map(|m| (m.written.clone(), m.actor.clone()))
            .collect();
        let tag_href = |name: &str| self.tag_url(name);
        let content = markdown::render(
            source,
            &Links {
                mentions: &links,
                tag_href: &tag_href,
            },
        );
        Written {
            content,
            mentioned,
            tags: found.tags,
        }
    }

    /// A Note's `tag`: a `Mention` of each of `mentioned` (`href` their id, `name`
    /// `@user@host`), a `Hashtag` of each of `tags` (`href` the tag's page, `name` `#tag`).
    pub(crate) fn tag_member(&self, mentioned: &[&Mentioned], tags: &[String]) -> Value {
        let mentions = mentioned
            .iter()
            .map(|m| json!({"type": "Mention", "href": m.actor, "name": m.name}));
        let hashtags = tags.iter().map(
            |tag| json!({"type": "Hashtag", "href": self.tag_url(tag), "name": format!("#{tag}")}),
        );
        Value::Array(mentions.chain(hashtags).collect())
    }

    /// Tells the people here what a post or comment written here concerns them (a failure is
    /// logged: the post is made).
    async fn notify_written(&self, row: &PostRow, note: &Value) {
        if let Err(error) = self.notify_about_post(row, note, None).await {
            warn!(%error, post = %row.id, "notifying about a post");
        }
    }

    /// Publishes `kind` (`Create`, `Update`) of `note` by `author`, addressed as the note is;
    /// with `author`'s Linked Data signature when `ld_sign` (a comment in a limited thread,
    /// which the post's author passes on: `threads.rs`).
    async fn publish_about(
        &self,
        kind: &str,
        author: &str,
        note: Value,
        ld_sign: bool,
    ) -> Result<()> {
        let addressing = Addressing::of(&note);
        let mut activity = self.state().new_activity(kind, author, note, &[]);
        address(&mut activity, &addressing);
        if let Some(map) = activity.as_object_mut() {
            map.insert("published".into(), Value::String(rfc3339(self.now())));
        }
        if ld_sign {
            self.publish_ld_signed(author, activity).await
        } else {
            self.publish(author, activity).await
        }
    }
}

/// Whether `row` is a comment under a limited post (its `Create`, `Update` and `Delete` carry
/// their writer's Linked Data signature, so that the post's author can pass them on).
fn in_limited_thread(row: &PostRow) -> bool {
    row.root.is_some() && matches!(row.audience, Audience::Aspects | Audience::Limited)
}

/// Sets `activity`'s `to` and `cc` to `addressing`'s.
fn address(activity: &mut Value, addressing: &Addressing) {
    if let Some(map) = activity.as_object_mut() {
        map.insert("to".into(), json!(addressing.to));
        if addressing.cc.is_empty() {
            map.remove("cc");
        } else {
            map.insert("cc".into(), json!(addressing.cc));
        }
    }
}

/// The `id` of an activity made here.
fn activity_id(activity: &Value) -> Result<String> {
    activity
        .get("id")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("an activity without an id"))
}
