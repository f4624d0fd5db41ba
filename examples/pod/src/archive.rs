//! Account archives: a person's export (profile and images, aspects with their members, the
//! people they follow, their followers, their posts with their Markdown, their comments and
//! likes) as a gzip-compressed tar in the shape of FEP-6fcd's account export container, and
//! its import into an existing account on another pod (docs/pod.md, "Export and import").
//!
//! An export is written page by page (posts are read 200 at a time and written to files in a
//! staging folder, then packed by a blocking thread), so it holds the same memory for ten
//! posts as for ten thousand. An import reads the archive once into a staging folder within
//! its limits (the archive's bytes, the unpacked bytes, the number of entries; only regular
//! files at the names the format has, none outside the archive's folder), then checks every
//! file before anything is written: a bad archive is refused with an [`ArchiveError`] naming
//! what was wrong, and leaves no row and no file.

use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead as _, BufReader, Read, Write as _};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use instance_state::follows::FollowState;
use instance_state::objects::{Addressing, PUBLIC};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::Row as _;
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _};
use url::Url;

use crate::Pod;
use crate::admin::Admin;
use crate::app::Instance;
use crate::db::{Attachment, Audience, PostRow};
use crate::images::ImageType;
use crate::photos::{MAX_DESCRIPTION, MAX_PHOTOS, attachment_member};
use crate::posts::{micros, rfc3339};
use crate::profile::{ImageRole, Profile};
use crate::{markdown, profile};

/// The format's name and version, in `pod/summary.json`.
pub const FORMAT: &str = "pod-archive";
/// The version of the format written (and the only one read).
pub const VERSION: u32 = 1;

/// Posts read from the database at a time.
const PAGE: i64 = 200;
/// Follows read at a time.
const FOLLOW_PAGE: u64 = 500;
/// The most aspects, and members of one aspect, an archive may hold.
const MAX_ASPECTS: usize = 1_000;
const MAX_MEMBERS: usize = 10_000;
/// The longest aspect name, as the aspects page allows.
const MAX_ASPECT_NAME: usize = 60;
/// The largest JSON document (other than the line-per-post files) read whole, in bytes.
const MAX_DOCUMENT: u64 = 16 << 20;
/// The longest line of `pod/posts.jsonl`.
const MAX_LINE: usize = 256 << 10;
/// The longest line of `pod/comments.jsonl` (a comment in a limited thread names its readers).
const MAX_COMMENT_LINE: usize = 1 << 20;
/// The most people a comment's `to` and `cc` may each name.
const MAX_ADDRESSEES: usize = 10_000;

/// What an import accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ImportLimits {
    /// The largest archive, as uploaded (compressed), in bytes. Default: 1 GiB.
    pub max_archive_bytes: u64,
    /// The most bytes the archive may unpack to (tar headers included): a small archive that
    /// unpacks to more is refused as it is read. Default: 4 GiB.
    pub max_unpacked_bytes: u64,
    /// The most entries. Default: 100,000.
    pub max_entries: u64,
}

impl Default for ImportLimits {
    fn default() -> Self {
        Self {
            max_archive_bytes: 1 << 30,
            max_unpacked_bytes: 4 << 30,
            max_entries: 100_000,
        }
    }
}

impl ImportLimits {
    /// Sets the largest archive.
    pub fn with_max_archive_bytes(mut self, bytes: u64) -> Self {
        self.max_archive_bytes = bytes;
        self
    }

    /// Sets the most bytes an archive may unpack to.
    pub fn with_max_unpacked_bytes(mut self, bytes: u64) -> Self {
        self.max_unpacked_bytes = bytes;
        self
    }

    /// Sets the most entries.
    pub fn with_max_entries(mut self, entries: u64) -> Self {
        self.max_entries = entries;
        self
    }
}

/// Why an archive was refused. Nothing of it was stored.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ArchiveError {
    /// The archive is larger than the limit.
    #[error("the archive is larger than {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: u64,
    },
    /// It unpacks to more than the limit (a zip bomb, or just too much).
    #[error("the archive unpacks to more than {limit} bytes")]
    UnpackedTooLarge {
        /// The limit.
        limit: u64,
    },
    /// It has more entries than the limit.
    #[error("the archive has more than {limit} entries")]
    TooManyEntries {
        /// The limit.
        limit: u64,
    },
    /// It ends early: cut while being copied or uploaded.
    #[error("the archive is truncated ({detail})")]
    Truncated {
        /// Where it ended, as the reader says.
        detail: String,
    },
    /// Not a tar (plain or gzip-compressed), or damaged.
    #[error("the file is not a readable tar or tar.gz archive ({detail})")]
    Unreadable {
        /// What the reader says.
        detail: String,
    },
    /// An entry's name escapes the archive's folder (`..`, an absolute path) or is not text.
    #[error("the archive entry {path:?} points outside the archive")]
    UnsafePath {
        /// The name, as written (lossily, if it was not UTF-8).
        path: String,
    },
    /// An entry is a link or a device, not a file.
    #[error("the archive entry {path:?} is a {kind}, not a file")]
    NotAFile {
        /// The entry's name.
        path: String,
        /// What it is (`symbolic link`, `hard link`, ...).
        kind: &'static str,
    },
    /// An entry appears twice.
    #[error("the archive holds {path:?} twice")]
    Duplicate {
        /// The entry's name.
        path: String,
    },
    /// A file the format requires is missing (an archive cut at an entry's end says so too:
    /// `pod/summary.json` is written last).
    #[error("the archive has no {path:?}: it is incomplete or not a pod archive")]
    Missing {
        /// The missing file.
        path: String,
    },
    /// A JSON file (or one line of a line-per-record file) is not what the format says.
    #[error("{path}{line}: {detail}", line = line.map(|l| format!(", line {l}")).unwrap_or_default())]
    Json {
        /// The file.
        path: String,
        /// The line, for line-per-record files.
        line: Option<u64>,
        /// What was wrong.
        detail: String,
    },
    /// Another format, or a version of it this pod does not read.
    #[error(
        "this archive is {format} version {version}; this pod reads {FORMAT} version {VERSION}"
    )]
    Version {
        /// The format named.
        format: String,
        /// Its version.
        version: u32,
    },
    /// The archive's files name different people.
    #[error("{path} is about {found}, but the archive is {expected}'s")]
    OtherPerson {
        /// The file.
        path: String,
        /// The archive's person.
        expected: String,
        /// The one this file names.
        found: String,
    },
    /// A post or comment claims an id that is not its author's (another server's, or another
    /// person's), or is attributed to someone else.
    #[error(
        "the post or comment {id} is not {actor}'s: an archive holds its own person's posts and comments only"
    )]
    ForeignPost {
        /// The post's (or comment's) id.
        id: String,
        /// The archive's person.
        actor: String,
    },
    /// A post is refused as the compose form would refuse it.
    #[error("the post {id} is refused: {reason}")]
    Post {
        /// The post's id.
        id: String,
        /// Why.
        reason: crate::Refused,
    },
    /// A post names an aspect the archive does not have.
    #[error("the post {id} names the aspect {aspect:?}, which the archive does not have")]
    UnknownAspect {
        /// The post's id.
        id: String,
        /// The aspect's name.
        aspect: String,
    },
    /// An aspect is refused (its name, or too many members).
    #[error("the aspect {name:?} is refused: {reason}")]
    Aspect {
        /// The aspect's name.
        name: String,
        /// Why.
        reason: &'static str,
    },
    /// The profile is refused as the profile page would refuse it.
    #[error("the profile is refused: {0}")]
    Profile(#[source] crate::ProfileError),
    /// An image the profile names is missing or not an image the pod takes.
    #[error("the {role} {path:?} is refused: {reason}")]
    Image {
        /// `avatar` or `banner`.
        role: &'static str,
        /// Its name in the archive.
        path: String,
        /// Why.
        reason: &'static str,
    },
    /// The counts in `pod/summary.json` do not match the files.
    #[error("pod/summary.json says {declared} {what}, the archive holds {found}")]
    Count {
        /// What was counted.
        what: &'static str,
        /// What the summary says.
        declared: u64,
        /// What the files hold.
        found: u64,
    },
    /// The archive is the importing account's own.
    #[error("this archive is of this account itself")]
    SameAccount,
    /// The archive's move proof (`pod/move.json`) is refused.
    #[error("pod/move.json is refused: {0}")]
    MoveProof(#[source] crate::moving::MoveProofError),
    /// The pod's own files could not be written or read (not the archive's fault).
    #[error("staging the archive: {0}")]
    Io(#[source] std::io::Error),
}

/// What an export wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ExportSummary {
    /// Posts.
    pub posts: u64,
    /// Comments.
    pub comments: u64,
    /// Likes.
    pub likes: u64,
    /// People followed.
    pub following: u64,
    /// Followers.
    pub followers: u64,
    /// Aspects.
    pub aspects: u64,
    /// Media files.
    pub media: u64,
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ImportSummary {
    /// Posts made (new local posts with their original dates).
    pub posts: u64,
    /// Posts not made again: this account imported them before.
    pub posts_skipped: u64,
    /// Comments made (new local comments with their original dates).
    pub comments: u64,
    /// Comments not made again: this account imported them before.
    pub comments_skipped: u64,
    /// Comments left out: their audience could not be rebuilt safely (an archive without
    /// their addressing, or a limited thread here whose readers they do not fit), or the post
    /// they answer was imported and deleted since.
    pub comments_not_imported: u64,
    /// Likes recorded here (not sent: the old account's like still counts where it was sent).
    pub likes: u64,
    /// Likes not recorded: of a post this pod does not hold or the person may not read here,
    /// or recorded already.
    pub likes_skipped: u64,
    /// Photos of the posts made.
    pub photos: u64,
    /// Aspects made or filled.
    pub aspects: u64,
    /// Follows sent.
    pub follows_sent: u64,
    /// Follows not sent (already following, or refused here: blocked).
    pub follows_skipped: u64,
    /// Images taken (avatar, banner).
    pub images: u64,
    /// The old account, listed now among this account's other accounts (`alsoKnownAs`):
    /// the archive carried a move proof naming this account.
    pub moved_from: Option<String>,
    /// What became of the archive's `Move`, when it was asked to be sent.
    pub move_sent: Option<crate::moving::MoveSent>,
}

/// `pod/summary.json`, written last.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Summary {
    format: String,
    version: u32,
    actor: String,
    exported: String,
    posts: u64,
    comments: u64,
}

/// `pod/profile.json`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ArchivedProfile {
    actor: String,
    display_name: String,
    /// Markdown.
    bio: String,
    /// Names and values, as typed (text).
    fields: Vec<ArchivedField>,
    avatar: Option<ArchivedImage>,
    banner: Option<ArchivedImage>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ArchivedField {
    name: String,
    value: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ArchivedImage {
    /// Its name in the archive (`media/...`).
    path: String,
    media_type: String,
    sha256: String,
}

/// One aspect of `pod/aspects.json`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ArchivedAspect {
    name: String,
    members: Vec<String>,
}

/// One line of `pod/posts.jsonl` (and of `pod/comments.jsonl`, with `inReplyTo`).
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ArchivedPost {
    id: String,
    /// Its author: the archive's person.
    attributed_to: String,
    published: String,
    updated: String,
    /// Markdown.
    source: String,
    /// `public`, `followers` or `aspects`.
    audience: String,
    #[serde(default)]
    aspects: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    in_reply_to: Option<String>,
    /// A comment's addressing as it was stored (`to`, `cc`): what its audience is rebuilt
    /// from when it answers a post elsewhere. Archives of an earlier pod may lack it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    to: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cc: Option<Vec<String>>,
    /// The post's photos, in order (at most [`MAX_PHOTOS`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    photos: Vec<ArchivedPhoto>,
}

/// A photo of an archived post: its file in the archive and what the post says of it.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ArchivedPhoto {
    /// `media/...`.
    path: String,
    media_type: String,
    /// Of the file, lowercase hexadecimal.
    sha256: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    width: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    height: Option<i64>,
    /// The photo's description (its `name` in the `Image` attachment).
    #[serde(default)]
    description: String,
}

/// The files of an archive, in the order they are written.
const ACTOR: &str = "actor.json";
const OUTBOX: &str = "outbox.json";
const FOLLOWERS: &str = "followers.json";
const FOLLOWING: &str = "following.json";
const LIKES: &str = "likes.json";
const PROFILE: &str = "pod/profile.json";
const ASPECTS: &str = "pod/aspects.json";
const POSTS: &str = "pod/posts.jsonl";
const COMMENTS: &str = "pod/comments.jsonl";
const SUMMARY: &str = "pod/summary.json";
/// Only when the person named the account they move to (see [`crate::moving::sign_move_proof`]).
const MOVE: &str = "pod/move.json";
const MANIFEST: &str = "manifest.yml";
const KNOWN: &[&str] = &[
    MANIFEST, ACTOR, OUTBOX, FOLLOWERS, FOLLOWING, LIKES, PROFILE, ASPECTS, POSTS, COMMENTS,
    SUMMARY,
];

impl Instance {
    /// Writes local person `name`'s archive to `out` (a `.tar.gz`). What it holds.
    pub async fn export_archive(&self, name: &str, out: &Path) -> Result<ExportSummary> {
        self.export_archive_moving(name, out, None).await
    }

    /// [`Instance::export_archive`], and when `move_to` names the account (an actor id) the
    /// person moves to, a `Move` of this account to it, signed with this account's key
    /// (`pod/move.json`, [`crate::moving::sign_move_proof`]), which the new account can send
    /// to the followers once this pod is gone.
    pub async fn export_archive_moving(
        &self,
        name: &str,
        out: &Path,
        move_to: Option<&str>,
    ) -> Result<ExportSummary> {
        let actor = self.state().live_actor(name).await?;
        let id = self.actor_id(name).to_string();
        let staging = self.staging_dir()?;
        let dir = staging.path();
        tokio::fs::create_dir_all(dir.join("pod")).await?;
        tokio::fs::create_dir_all(dir.join("media")).await?;
        let mut summary = ExportSummary::default();
        // The files of `media/`: their names in the archive, and where they are.
        let mut media: Vec<(String, PathBuf)> = Vec::new();

        let document = self.actor_document(&actor).await?;
        write_json(&dir.join(ACTOR), &document).await?;

        // Posts and comments: the outbox (Create activities) and the pod's own lines.
        let mut outbox = JsonArrayFile::create(
            &dir.join(OUTBOX),
            &json!({
                "@context": "https://www.w3.org/ns/activitystreams",
                "id": format!("{id}/outbox"),
                "type": "OrderedCollection",
            }),
        )
        .await?;
        let mut posts = tokio::io::BufWriter::new(tokio::fs::File::create(dir.join(POSTS)).await?);
        let mut comments =
            tokio::io::BufWriter::new(tokio::fs::File::create(dir.join(COMMENTS)).await?);
        let mut after: Option<(i64, String)> = None;
        loop {
            let page = self.own_posts_page(&id, after.as_ref()).await?;
            let Some(last) = page.last() else { break };
            after = Some((last.published, last.id.clone()));
            let ids: Vec<String> = page.iter().map(|p| p.id.clone()).collect();
            let objects = self.state().objects(&ids).await?;
            for row in &page {
                let Some(object) = objects.iter().find(|o| o.id == row.id) else {
                    continue;
                };
                if object.deleted {
                    continue;
                }
                let note = &object.document;
                outbox
                    .push(&json!({
                        "id": format!("{}#create", row.id),
                        "type": "Create",
                        "actor": id,
                        "published": rfc3339(row.published),
                        "to": note.get("to").cloned().unwrap_or(json!([])),
                        "cc": note.get("cc").cloned().unwrap_or(json!([])),
                        "object": note,
                    }))
                    .await?;
                let aspects = if row.audience == Audience::Aspects {
                    self.db().post_aspect_names(&row.id).await?
                } else {
                    Vec::new()
                };
                let photos = self.archived_photos(&row.id, &mut media).await?;
                let (to, cc) = if row.root.is_some() {
                    let addressing = Addressing::of(note);
                    (Some(addressing.to), Some(addressing.cc))
                } else {
                    (None, None)
                };
                let line = ArchivedPost {
                    id: row.id.clone(),
                    attributed_to: row.author.clone(),
                    published: rfc3339(row.published),
                    updated: rfc3339(row.updated),
                    source: row.source.clone(),
                    audience: row.audience.as_str().to_owned(),
                    aspects,
                    in_reply_to: row.in_reply_to.clone(),
                    to,
                    cc,
                    photos,
                };
                let mut text = serde_json::to_string(&line)?;
                text.push('\n');
                if row.root.is_none() {
                    posts.write_all(text.as_bytes()).await?;
                    summary.posts += 1;
                } else {
                    comments.write_all(text.as_bytes()).await?;
                    summary.comments += 1;
                }
            }
        }
        outbox.finish().await?;
        posts.flush().await?;
        comments.flush().await?;

        // Follows both ways, and likes.
        for (file, followers) in [(FOLLOWERS, true), (FOLLOWING, false)] {
            let mut list = JsonArrayFile::create(
                &dir.join(file),
                &json!({
                    "@context": "https://www.w3.org/ns/activitystreams",
                    "id": format!("{id}/{}", file.trim_end_matches(".json")),
                    "type": "OrderedCollection",
                }),
            )
            .await?;
            let mut offset = 0;
            loop {
                let page = if followers {
                    self.state()
                        .followers(&id, FollowState::Accepted, offset, FOLLOW_PAGE)
                        .await?
                } else {
                    self.state()
                        .following(&id, FollowState::Accepted, offset, FOLLOW_PAGE)
                        .await?
                };
                let n = page.len() as u64;
                for follow in page {
                    let other = if followers {
                        follow.follower
                    } else {
                        follow.followed
                    };
                    list.push(&Value::String(other)).await?;
                }
                if n < FOLLOW_PAGE {
                    break;
                }
                offset += n;
            }
            let count = list.finish().await?;
            if followers {
                summary.followers = count;
            } else {
                summary.following = count;
            }
        }
        let mut likes = JsonArrayFile::create(
            &dir.join(LIKES),
            &json!({
                "@context": "https://www.w3.org/ns/activitystreams",
                "id": format!("{id}/liked"),
                "type": "OrderedCollection",
            }),
        )
        .await?;
        let mut offset = 0_i64;
        loop {
            let rows = sqlx::query(
                "SELECT post FROM pd_reactions WHERE actor = $1 AND kind = 'like'
                 ORDER BY created, post LIMIT $2 OFFSET $3",
            )
            .bind(id.clone())
            .bind(PAGE)
            .bind(offset)
            .fetch_all(self.state().pool())
            .await?;
            for row in &rows {
                likes
                    .push(&Value::String(row.try_get::<String, _>("post")?))
                    .await?;
            }
            if (rows.len() as i64) < PAGE {
                break;
            }
            offset += PAGE;
        }
        summary.likes = likes.finish().await?;

        // The profile, its images and the aspects.
        let image = |url: Option<&String>, role: &str| -> Option<(String, String)> {
            let key = url?.strip_prefix(self.url("/media/").as_str())?.to_owned();
            Some((key, role.to_owned()))
        };
        let wanted = [
            image(actor.icon.as_ref(), "avatar"),
            image(actor.image.as_ref(), "banner"),
        ];
        let mut images: [Option<ArchivedImage>; 2] = [None, None];
        for (slot, wanted) in images.iter_mut().zip(wanted) {
            let Some((key, role)) = wanted else { continue };
            let Some(row) = self.db().image(&key).await? else {
                continue;
            };
            let key = media_store::Key::new(row.key.clone())?;
            let extension = row.key.rsplit('.').next().unwrap_or("bin");
            let path = format!("media/{role}.{extension}");
            media.push((path.clone(), self.media().path_of(&key)));
            *slot = Some(ArchivedImage {
                path,
                media_type: row.media_type,
                sha256: row.sha256,
            });
        }
        summary.media = media.len() as u64;
        let [avatar, banner] = images;
        let fields = self.db().profile_fields(&id).await?;
        let profile = ArchivedProfile {
            actor: id.clone(),
            display_name: actor.display_name.clone(),
            bio: self.db().bio_source(&id).await?,
            fields: fields
                .iter()
                .map(|f| ArchivedField {
                    name: f.name.clone(),
                    value: federation::sanitize::plain_text(&f.value),
                })
                .collect(),
            avatar,
            banner,
        };
        write_json(&dir.join(PROFILE), &serde_json::to_value(&profile)?).await?;
        let mut aspects = Vec::new();
        for aspect in self.db().aspects(name).await? {
            let members = self
                .db()
                .aspect_members(name, std::slice::from_ref(&aspect.id))
                .await?;
            aspects.push(ArchivedAspect {
                name: aspect.name,
                members,
            });
        }
        summary.aspects = aspects.len() as u64;
        write_json(&dir.join(ASPECTS), &serde_json::to_value(&aspects)?).await?;

        let exported = rfc3339(self.now());
        write_json(
            &dir.join(SUMMARY),
            &serde_json::to_value(Summary {
                format: FORMAT.to_owned(),
                version: VERSION,
                actor: id.clone(),
                exported: exported.clone(),
                posts: summary.posts,
                comments: summary.comments,
            })?,
        )
        .await?;
        tokio::fs::write(
            dir.join(MANIFEST),
            manifest(&exported, &id, self.url("/").as_str()),
        )
        .await?;

        let mut entries: Vec<(String, PathBuf)> = KNOWN
            .iter()
            .filter(|f| **f != SUMMARY)
            .map(|f| ((*f).to_owned(), dir.join(f)))
            .collect();
        if let Some(target) = move_to {
            if target == id {
                anyhow::bail!("an account cannot move to itself");
            }
            let keys = self
                .state()
                .signing_keys(name)
                .await?
                .context("the person's keys")?;
            let key_id = document
                .pointer("/publicKey/id")
                .and_then(Value::as_str)
                .context("the person's key id")?;
            let proof = crate::moving::sign_move_proof(&keys.rsa, key_id, &id, target, self.now())?;
            write_json(&dir.join(MOVE), &proof).await?;
            entries.push((MOVE.to_owned(), dir.join(MOVE)));
        }
        entries.extend(media);
        entries.push((SUMMARY.to_owned(), dir.join(SUMMARY)));
        let out = out.to_owned();
        let mtime = u64::try_from(self.now().div_euclid(1_000_000)).unwrap_or_default();
        tokio::task::spawn_blocking(move || pack(&out, &entries, mtime))
            .await
            .context("packing the archive")??;
        drop(staging);
        Ok(summary)
    }

    /// Imports the archive at `file` into local person `name`: checks all of it first
    /// (refused with an [`ArchiveError`], nothing stored), then sets the profile and images,
    /// makes the aspects, makes the posts and comments again as new local ones with their
    /// original dates and a line saying where they were first published (stored and served,
    /// not delivered; a comment on the person's own post answers its new copy), records the
    /// likes here (not sent), and follows the people followed (a `Follow` sent to each).
    pub async fn import_archive(
        &self,
        name: &str,
        file: &Path,
        limits: &ImportLimits,
    ) -> Result<ImportSummary> {
        self.import_archive_moving(name, file, limits, false).await
    }

    /// [`Instance::import_archive`]; an archive with a move proof (`pod/move.json`) is
    /// refused unless the proof is signed by the key of its `actor.json` and moves it to
    /// `name`; then the old account is listed among `name`'s other accounts (`alsoKnownAs`),
    /// and with `send_move` the proof's `Move` goes to the followers the archive lists
    /// ([`Instance::send_archived_move`]). Importing the same archive again skips what was
    /// imported: that is how the `Move` is sent later.
    pub async fn import_archive_moving(
        &self,
        name: &str,
        file: &Path,
        limits: &ImportLimits,
        send_move: bool,
    ) -> Result<ImportSummary> {
        self.state().live_actor(name).await?;
        let size = tokio::fs::metadata(file)
            .await
            .with_context(|| format!("reading {}", file.display()))?
            .len();
        if size > limits.max_archive_bytes {
            return Err(ArchiveError::TooLarge {
                limit: limits.max_archive_bytes,
            }
            .into());
        }
        let staging = self.staging_dir()?;
        let dir = staging.path().to_owned();
        let (from, into, limits_copy) = (file.to_owned(), dir.clone(), *limits);
        let present = tokio::task::spawn_blocking(move || unpack(&from, &into, &limits_copy))
            .await
            .context("unpacking the archive")??;
        let checked = self.check_archive(name, &dir, &present).await?;
        let summary = self.write_import(name, &dir, checked, send_move).await?;
        drop(staging);
        Ok(summary)
    }

    /// The photos of local post `post` that are in the media store, each added to `media` as
    /// `media/photo-N.EXT` (N counting from 1 over the whole archive, before anything else is
    /// added to `media`).
    async fn archived_photos(
        &self,
        post: &str,
        media: &mut Vec<(String, PathBuf)>,
    ) -> Result<Vec<ArchivedPhoto>> {
        let mut photos = Vec::new();
        let prefix = self.url("/media/");
        for attachment in self.db().attachments(post).await? {
            let Some(key) = attachment.url.strip_prefix(prefix.as_str()) else {
                continue;
            };
            let Some(row) = self.db().image(key).await? else {
                continue;
            };
            let key = media_store::Key::new(row.key.clone())?;
            let extension = row.key.rsplit('.').next().unwrap_or("bin");
            // Photos are the first files of `media/` (the avatar and banner come after them).
            let path = format!("media/photo-{}.{extension}", media.len() + 1);
            media.push((path.clone(), self.media().path_of(&key)));
            photos.push(ArchivedPhoto {
                path,
                media_type: row.media_type,
                sha256: row.sha256,
                width: attachment.width,
                height: attachment.height,
                description: attachment.description,
            });
        }
        Ok(photos)
    }

    /// Checks the archive's image file `path` (under `media/`), the `role` it has: present,
    /// within the image limit, a JPEG, PNG, WebP or GIF by its bytes, with the SHA-256 the
    /// archive names (read once, by a blocking thread). Where it is unpacked.
    async fn check_image(
        &self,
        dir: &Path,
        present: &HashSet<&str>,
        role: &'static str,
        path: &str,
        sha256: &str,
    ) -> Result<PathBuf, ArchiveError> {
        let refuse = |reason| ArchiveError::Image {
            role,
            path: path.to_owned(),
            reason,
        };
        if !path.starts_with("media/") || !present.contains(path) {
            return Err(refuse("the archive has no such file"));
        }
        let file = dir.join(path);
        let limit = self.options().max_image_bytes;
        let read = {
            let file = file.clone();
            tokio::task::spawn_blocking(move || read_image(&file, limit))
        };
        let read = read
            .await
            .map_err(|e| ArchiveError::Io(std::io::Error::other(e)))?
            .map_err(ArchiveError::Io)?;
        let Some((head, digest)) = read else {
            return Err(refuse("it is larger than this pod takes"));
        };
        if ImageType::sniff(&head).is_none() {
            return Err(refuse("it is not a JPEG, PNG, WebP or GIF image"));
        }
        if !digest.eq_ignore_ascii_case(sha256) {
            return Err(refuse("its SHA-256 is not the one the archive names"));
        }
        Ok(file)
    }

    /// A fresh folder for an archive's files, beside the media (same disk).
    fn staging_dir(&self) -> Result<tempfile::TempDir> {
        let base = self.media().root().join("tmp");
        std::fs::create_dir_all(&base)?;
        Ok(tempfile::Builder::new()
            .prefix("archive-")
            .tempdir_in(base)?)
    }

    /// The next page of `author`'s local posts and comments, oldest first, after `after`
    /// (`published`, `id`).
    async fn own_posts_page(
        &self,
        author: &str,
        after: Option<&(i64, String)>,
    ) -> Result<Vec<PostRow>> {
        let (published, id) = after.cloned().unwrap_or((i64::MIN, String::new()));
        let rows = sqlx::query(
            "SELECT id FROM pd_posts WHERE author = $1 AND local = 1
               AND (published > $2 OR (published = $2 AND id > $3))
             ORDER BY published, id LIMIT $4",
        )
        .bind(author.to_owned())
        .bind(published)
        .bind(id)
        .bind(PAGE)
        .fetch_all(self.state().pool())
        .await?;
        let mut page = Vec::with_capacity(rows.len());
        for row in rows {
            let id: String = row.try_get("id")?;
            if let Some(post) = self.db().post(&id).await? {
                page.push(post);
            }
        }
        Ok(page)
    }

    /// Every file of an unpacked archive checked, before anything is written.
    async fn check_archive(&self, name: &str, dir: &Path, present: &[String]) -> Result<Checked> {
        let present: HashSet<&str> = present.iter().map(String::as_str).collect();
        for required in [SUMMARY, ACTOR, PROFILE, ASPECTS, POSTS, FOLLOWING] {
            if !present.contains(required) {
                return Err(ArchiveError::Missing {
                    path: required.to_owned(),
                }
                .into());
            }
        }
        let summary: Summary = read_json(dir, SUMMARY).await?;
        if summary.format != FORMAT || summary.version != VERSION {
            return Err(ArchiveError::Version {
                format: summary.format,
                version: summary.version,
            }
            .into());
        }
        let actor = summary.actor.clone();
        let actor_url = Url::parse(&actor).map_err(|e| json_error(SUMMARY, None, e))?;
        if actor == self.actor_id(name).as_str() {
            return Err(ArchiveError::SameAccount.into());
        }
        let document: Value = read_json(dir, ACTOR).await?;
        let same = |path: &str, found: &str| -> Result<(), ArchiveError> {
            if found == actor {
                Ok(())
            } else {
                Err(ArchiveError::OtherPerson {
                    path: path.to_owned(),
                    expected: actor.clone(),
                    found: found.to_owned(),
                })
            }
        };
        same(
            ACTOR,
            document
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or_default(),
        )?;

        let archived: ArchivedProfile = read_json(dir, PROFILE).await?;
        same(PROFILE, &archived.actor)?;
        let mut profile =
            Profile::new(archived.display_name.clone()).with_bio(archived.bio.clone());
        for field in &archived.fields {
            profile = profile.with_field(field.name.clone(), field.value.clone());
        }
        profile::checked(&profile).map_err(ArchiveError::Profile)?;
        let mut images = Vec::new();
        for (role, image) in [
            (ImageRole::Avatar, &archived.avatar),
            (ImageRole::Banner, &archived.banner),
        ] {
            let Some(image) = image else { continue };
            let path = self
                .check_image(dir, &present, role.as_str(), &image.path, &image.sha256)
                .await?;
            images.push((role, path));
        }

        let aspects: Vec<ArchivedAspect> = read_json(dir, ASPECTS).await?;
        if aspects.len() > MAX_ASPECTS {
            return Err(
                json_error(ASPECTS, None, format!("more than {MAX_ASPECTS} aspects")).into(),
            );
        }
        let mut names: Vec<&str> = Vec::new();
        for aspect in &aspects {
            let refuse = |reason| ArchiveError::Aspect {
                name: aspect.name.clone(),
                reason,
            };
            let trimmed = aspect.name.trim();
            if trimmed.is_empty()
                || trimmed.chars().count() > MAX_ASPECT_NAME
                || trimmed.chars().any(char::is_control)
            {
                return Err(refuse("a name has 1 to 60 characters").into());
            }
            if names.contains(&trimmed) {
                return Err(refuse("two aspects have this name").into());
            }
            names.push(trimmed);
            if aspect.members.len() > MAX_MEMBERS {
                return Err(refuse("too many members").into());
            }
            if aspect.members.iter().any(|m| !is_web_address(m)) {
                return Err(refuse("a member is not an actor's address").into());
            }
        }

        let following = read_collection(dir, FOLLOWING).await?;
        let (move_proof, followers) = if present.contains(MOVE) {
            let proof: Value = read_json(dir, MOVE).await?;
            crate::moving::check_move_proof(
                &proof,
                &document,
                &actor,
                self.actor_id(name).as_str(),
            )
            .map_err(ArchiveError::MoveProof)?;
            // The old account becomes an alias: refused now rather than after the import.
            let aliases = self.state().live_actor(name).await?.also_known_as;
            if !aliases.contains(&actor) && aliases.len() >= crate::moving::MAX_ALIASES {
                return Err(crate::moving::AliasRefused::TooMany.into());
            }
            let followers = if present.contains(FOLLOWERS) {
                read_collection(dir, FOLLOWERS).await?
            } else {
                Vec::new()
            };
            (Some(proof), followers)
        } else {
            (None, Vec::new())
        };

        // The posts, one line at a time.
        let mut posts = 0_u64;
        let mut lines = PostLines::open(dir).await?;
        while let Some((line, post)) = lines.next().await? {
            posts += 1;
            check_post(&actor_url, &actor, &names, line, &post)?;
            for photo in &post.photos {
                self.check_image(dir, &present, "photo", &photo.path, &photo.sha256)
                    .await?;
            }
        }
        if posts != summary.posts {
            return Err(ArchiveError::Count {
                what: "posts",
                declared: summary.posts,
                found: posts,
            }
            .into());
        }

        // The comments, one line at a time (an archive without comments may lack the file).
        let mut comments = 0_u64;
        if present.contains(COMMENTS) {
            let mut lines = PostLines::comments(dir).await?;
            while let Some((line, comment)) = lines.next().await? {
                comments += 1;
                check_comment(&actor_url, &actor, line, &comment)?;
            }
        }
        if comments != summary.comments {
            return Err(ArchiveError::Count {
                what: "comments",
                declared: summary.comments,
                found: comments,
            }
            .into());
        }
        let likes = if present.contains(LIKES) {
            read_collection(dir, LIKES).await?
        } else {
            Vec::new()
        };
        Ok(Checked {
            profile,
            images,
            aspects,
            following,
            move_proof,
            followers,
            likes,
        })
    }

    /// Writes a checked archive's contents for `name`.
    async fn write_import(
        &self,
        name: &str,
        dir: &Path,
        checked: Checked,
        send_move: bool,
    ) -> Result<ImportSummary> {
        let mut summary = ImportSummary::default();
        let me = self.actor_id(name).to_string();
        self.set_profile(name, &checked.profile).await?;
        for (role, path) in checked.images {
            let limits = media_store::Limits::new(self.options().max_image_bytes);
            let staged = self.media().stage_file(&path, &limits).await?;
            self.set_image(name, role, staged).await?;
            summary.images += 1;
        }
        let mut aspect_ids: BTreeMap<String, String> = BTreeMap::new();
        let existing = self.db().aspects(name).await?;
        for aspect in &checked.aspects {
            let trimmed = aspect.name.trim().to_owned();
            let id = match existing.iter().find(|a| a.name == trimmed) {
                Some(found) => found.id.clone(),
                None => self.create_aspect(name, &trimmed).await?,
            };
            for member in &aspect.members {
                if *member != me {
                    self.db().set_membership(name, &id, member, true).await?;
                }
            }
            aspect_ids.insert(trimmed, id);
            summary.aspects += 1;
        }
        let mut lines = PostLines::open(dir).await?;
        while let Some((_, post)) = lines.next().await? {
            if self.db().imported(&me, &post.id).await?.is_some() {
                summary.posts_skipped += 1;
                continue;
            }
            summary.photos += self.import_post(name, &me, dir, &post, &aspect_ids).await?;
            summary.posts += 1;
        }
        if tokio::fs::try_exists(dir.join(COMMENTS))
            .await
            .unwrap_or(false)
        {
            let mut lines = PostLines::comments(dir).await?;
            while let Some((_, comment)) = lines.next().await? {
                if self.db().imported(&me, &comment.id).await?.is_some() {
                    summary.comments_skipped += 1;
                    continue;
                }
                match self.import_comment(name, &me, &comment).await? {
                    Ok(_) => summary.comments += 1,
                    Err(why) => {
                        tracing::info!(comment = %comment.id, why, "an archived comment not imported");
                        summary.comments_not_imported += 1;
                    }
                }
            }
        }
        self.import_likes(&me, &checked.likes, &mut summary).await?;
        for target in checked.following {
            if target == me || self.state().follow(&me, &target).await?.is_some() {
                summary.follows_skipped += 1;
                continue;
            }
            match self.follow(name, &target).await {
                Ok(()) => summary.follows_sent += 1,
                Err(error) => {
                    tracing::info!(%error, %target, "an imported follow was not sent");
                    summary.follows_skipped += 1;
                }
            }
        }
        if let Some(proof) = checked.move_proof {
            let origin = proof
                .get("actor")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            self.add_alias(name, &origin).await?;
            summary.moved_from = Some(origin);
            if send_move {
                summary.move_sent = Some(
                    self.send_archived_move(name, &proof, &checked.followers)
                        .await?,
                );
            }
        }
        Ok(summary)
    }

    /// One archived post made again: a new local post by `name` with its original dates, its
    /// photos (from the unpacked archive in `dir`, checked) and a line saying where it was
    /// first published, stored with a `Create` in the outbox, not delivered, and recorded as
    /// imported from its original id. How many photos it has.
    async fn import_post(
        &self,
        name: &str,
        author_id: &str,
        dir: &Path,
        post: &ArchivedPost,
        aspect_ids: &BTreeMap<String, String>,
    ) -> Result<u64> {
        let followers = format!("{author_id}/followers");
        let (to, cc, audience, aspects) = match post.audience.as_str() {
            "public" => (
                vec![PUBLIC.to_owned()],
                vec![followers],
                Audience::Public,
                Vec::new(),
            ),
            "followers" => (vec![followers], Vec::new(), Audience::Followers, Vec::new()),
            _ => {
                let ids: Vec<String> = post
                    .aspects
                    .iter()
                    .filter_map(|n| aspect_ids.get(n.trim()).cloned())
                    .collect();
                let members = self.db().aspect_members(name, &ids).await?;
                (members, Vec::new(), Audience::Aspects, ids)
            }
        };
        let published = micros(&post.published).unwrap_or_else(|| self.now());
        let updated = micros(&post.updated).unwrap_or(published);
        let id = self.state().new_id("posts").to_string();
        let (source, content, tags) = self.imported_text(post);
        let mut photos = Vec::with_capacity(post.photos.len());
        for photo in &post.photos {
            let limits = media_store::Limits::new(self.options().max_image_bytes);
            let staged = self
                .media()
                .stage_file(&dir.join(&photo.path), &limits)
                .await?;
            photos.push(self.inspect_photo(staged, &photo.description).await?);
        }
        let attachments: Vec<Attachment> = self
            .keep_photos(name, photos)
            .await?
            .into_iter()
            .zip(&post.photos)
            .map(|(kept, archived)| Attachment {
                // The archive's sizes where the file's header did not say them.
                width: kept
                    .width
                    .or(archived.width.filter(|w| (1..=100_000).contains(w))),
                height: kept
                    .height
                    .or(archived.height.filter(|h| (1..=100_000).contains(h))),
                ..kept
            })
            .collect();
        let note = json!({
            "@context": [
                "https://www.w3.org/ns/activitystreams",
                {"sensitive": "as:sensitive"}
            ],
            "id": id,
            "type": "Note",
            "attributedTo": author_id,
            "content": content,
            "source": {"content": source, "mediaType": "text/markdown"},
            "published": rfc3339(published),
            "url": id,
            "to": to,
            "cc": cc,
            "sensitive": false,
            "tag": self.tag_member(&[], &tags),
            "attachment": attachment_member(&attachments),
        });
        let row = PostRow {
            id: id.clone(),
            author: author_id.to_owned(),
            local: true,
            in_reply_to: None,
            root: None,
            source,
            content,
            audience,
            tags,
            mentions: Vec::new(),
            published,
            updated,
        };
        self.store_imported(
            name,
            note,
            &row,
            &attachments,
            &aspects,
            (author_id, &post.id),
            (&to, &cc),
        )
        .await?;
        Ok(attachments.len() as u64)
    }

    /// Stores an imported post or comment made by `name`: its object, the pod's row with its
    /// photos, aspects and the original id it was made from (`imported_from`: the importing
    /// actor's id, the original id; one transaction), and its `Create` in the outbox,
    /// addressed `to` and `cc` and dated as first published. Nothing is delivered.
    #[expect(
        clippy::too_many_arguments,
        reason = "the parts of one stored post, each its caller's own"
    )]
    async fn store_imported(
        &self,
        name: &str,
        note: Value,
        row: &PostRow,
        attachments: &[Attachment],
        aspects: &[String],
        imported_from: (&str, &str),
        (to, cc): (&[String], &[String]),
    ) -> Result<()> {
        self.state().put_object(&note, true).await?;
        self.db()
            .put_local_post(row, attachments, aspects, Some(imported_from))
            .await?;
        let mut create = self.state().new_activity("Create", name, note, &[]);
        if let Some(map) = create.as_object_mut() {
            map.insert("to".into(), json!(to));
            if !cc.is_empty() {
                map.insert("cc".into(), json!(cc));
            }
            map.insert("published".into(), Value::String(rfc3339(row.published)));
        }
        self.state().put_activity(&create, true).await?;
        Ok(())
    }

    /// An archived post's or comment's Markdown with the line saying where it was first
    /// published, its HTML and its hashtags. Its hashtags are links and tags again, as when it
    /// was written; its mentions stay text (an old post notifies nobody, and names no one it
    /// was not addressed to).
    fn imported_text(&self, post: &ArchivedPost) -> (String, String, Vec<String>) {
        // The address as the URL parser writes it (checked when the archive was): nothing in
        // it can end the Markdown autolink.
        let origin = Url::parse(&post.id).map_or_else(|_| post.id.clone(), String::from);
        let source = format!(
            "{}\n\nOriginally published at <{origin}>",
            post.source.trim_end(),
        );
        let found = markdown::find(&source);
        let tag_href = |name: &str| self.tag_url(name);
        let content = markdown::render(
            &source,
            &markdown::Links {
                mentions: &std::collections::BTreeMap::new(),
                tag_href: &tag_href,
            },
        );
        (source, content, found.tags)
    }

    /// One archived comment made again by `name` (actor id `me`), as a post is: a new local
    /// comment with its original dates and the line saying where it was first published,
    /// stored with a `Create` in the outbox, never delivered, recorded as imported from its
    /// original id, in one transaction. It answers the new copy of the person's own post or
    /// comment it answered, addressed as that copy is; or else the original it answered,
    /// with the audience the archive gives it (see docs/pod.md, "Comments and likes"). The
    /// new comment's id, or why it was left out.
    async fn import_comment(
        &self,
        name: &str,
        me: &str,
        comment: &ArchivedPost,
    ) -> Result<Result<String, &'static str>> {
        let parent = comment.in_reply_to.clone().unwrap_or_default();
        let (in_reply_to, root, audience, to, cc) = match self.db().imported(me, &parent).await? {
            Some(copy) => {
                // The person's own post or comment, made again here: the thread is the copy's,
                // and so are the readers (a comment's copy is addressed as its thread).
                let Some(parent) = self.db().post(&copy).await? else {
                    return Ok(Err("the post it answers was deleted since it was imported"));
                };
                let followers = format!("{me}/followers");
                let (to, cc) = match parent.audience {
                    Audience::Public => (vec![PUBLIC.to_owned()], vec![followers]),
                    Audience::Unlisted => (vec![followers], vec![PUBLIC.to_owned()]),
                    _ => {
                        // The copy's own readers, as it names them (the person wrote it).
                        let addressing = self.state().addressing(&parent.id).await?;
                        let to: Vec<String> = addressing
                            .to
                            .iter()
                            .chain(&addressing.cc)
                            .filter(|a| *a != me)
                            .cloned()
                            .collect();
                        (to, Vec::new())
                    }
                };
                let root = parent.root.clone().unwrap_or_else(|| parent.id.clone());
                (parent.id, root, parent.audience, to, cc)
            }
            None => {
                let Some(audience) = comment_audience(&comment.audience) else {
                    return Ok(Err("an unknown audience"));
                };
                let old_followers = format!("{}/followers", comment.attributed_to);
                let new_followers = format!("{me}/followers");
                let (to, cc) = match (&comment.to, &comment.cc) {
                    (None, None) => match audience {
                        Audience::Public => (vec![PUBLIC.to_owned()], vec![new_followers]),
                        Audience::Unlisted => (vec![new_followers], vec![PUBLIC.to_owned()]),
                        _ => return Ok(Err("a non-public comment without its addressing")),
                    },
                    (to, cc) => {
                        let (mut to, mut cc) = (
                            to.clone().unwrap_or_default(),
                            cc.clone().unwrap_or_default(),
                        );
                        if audience.is_public() {
                            // Public anyway: its writer's followers are the new account's now.
                            for list in [&mut to, &mut cc] {
                                for address in list.iter_mut() {
                                    if *address == old_followers {
                                        address.clone_from(&new_followers);
                                    }
                                }
                            }
                        }
                        (to, cc)
                    }
                };
                if matches!(audience, Audience::Aspects | Audience::Limited)
                    && to.iter().chain(&cc).any(|a| {
                        a == PUBLIC || a.ends_with("/followers") || a.ends_with("/following")
                    })
                {
                    // Named people only: a collection's members here are not who they were.
                    return Ok(Err("a limited comment addressed to a collection"));
                }
                // A limited thread kept here: nobody outside its readers may read the comment.
                if let Some(thread) = self.limited_thread(Some(&parent)).await?
                    && (audience.is_public()
                        || to.iter().chain(&cc).any(|a| !thread.admits(a) && a != me))
                {
                    return Ok(Err(
                        "it would be read by people the thread's post is not for",
                    ));
                }
                let root = match self.db().post(&parent).await? {
                    Some(held) => held.root.unwrap_or(held.id),
                    // Not held: it is shown at its own address, and under the post if the
                    // pod comes to hold it.
                    None => parent.clone(),
                };
                (parent, root, audience, to, cc)
            }
        };
        let published = micros(&comment.published).unwrap_or_else(|| self.now());
        let updated = micros(&comment.updated).unwrap_or(published);
        let id = self.state().new_id("posts").to_string();
        let (source, content, tags) = self.imported_text(comment);
        let note = json!({
            "@context": [
                "https://www.w3.org/ns/activitystreams",
                {"sensitive": "as:sensitive", "Hashtag": "as:Hashtag"}
            ],
            "id": id,
            "type": "Note",
            "attributedTo": me,
            "inReplyTo": in_reply_to,
            "content": content,
            "source": {"content": source, "mediaType": "text/markdown"},
            "published": rfc3339(published),
            "url": id,
            "to": to,
            "cc": cc,
            "sensitive": false,
            "tag": self.tag_member(&[], &tags),
            "replies": format!("{id}/replies"),
            "likes": format!("{id}/likes"),
            "shares": format!("{id}/shares"),
        });
        let row = PostRow {
            id: id.clone(),
            author: me.to_owned(),
            local: true,
            in_reply_to: Some(in_reply_to),
            root: Some(root),
            source,
            content,
            audience,
            tags,
            mentions: Vec::new(),
            published,
            updated,
        };
        self.store_imported(name, note, &row, &[], &[], (me, &comment.id), (&to, &cc))
            .await?;
        Ok(Ok(id))
    }

    /// The archive's likes (`likes.json`) recorded for `me`, not sent: a like of the person's
    /// own post or comment goes to its new copy, a like of a post kept here that `me` may read
    /// is recorded as it is, anything else is skipped.
    async fn import_likes(
        &self,
        me: &str,
        likes: &[String],
        summary: &mut ImportSummary,
    ) -> Result<()> {
        if likes.is_empty() {
            return Ok(());
        }
        let scope = self.scope_of(me).await?;
        for liked in likes {
            let target = match self.db().imported(me, liked).await? {
                Some(copy) => copy,
                None => liked.clone(),
            };
            if self.db().visible_post(&target, &scope).await?.is_none() {
                summary.likes_skipped += 1;
                continue;
            }
            // Never sent, so no activity is kept: the id only names the record (taking the
            // like back sends nothing either).
            let activity = self.state().new_id("imported-likes").to_string();
            if self
                .db()
                .put_reaction(&target, me, "like", &activity)
                .await?
            {
                summary.likes += 1;
            } else {
                summary.likes_skipped += 1;
            }
        }
        Ok(())
    }
}

/// What the checks keep for the writing.
struct Checked {
    profile: Profile,
    images: Vec<(ImageRole, PathBuf)>,
    aspects: Vec<ArchivedAspect>,
    following: Vec<String>,
    /// `pod/move.json`, checked.
    move_proof: Option<Value>,
    /// `followers.json`, read when there is a move proof.
    followers: Vec<String>,
    /// `likes.json`: the ids of the posts liked.
    likes: Vec<String>,
}

/// One post line checked: its id is its author's (same origin as the archive's actor, so an
/// archive cannot make posts claiming another server's ids), its Markdown is what the compose
/// form takes, its audience one the pod has, its aspects the archive's, its dates dates.
fn check_post(
    actor_url: &Url,
    actor: &str,
    aspects: &[&str],
    line: u64,
    post: &ArchivedPost,
) -> Result<(), ArchiveError> {
    check_own(actor_url, actor, post)?;
    if post.in_reply_to.is_some() {
        return Err(json_error(
            POSTS,
            Some(line),
            "a post answers nothing (comments are in pod/comments.jsonl)",
        ));
    }
    let refuse = |reason| ArchiveError::Post {
        id: post.id.clone(),
        reason,
    };
    if post.source.trim().is_empty() {
        return Err(refuse(crate::Refused::Empty));
    }
    if post.source.len() > markdown::MAX_SOURCE {
        return Err(refuse(crate::Refused::TooLong));
    }
    if post.photos.len() > MAX_PHOTOS {
        return Err(refuse(crate::Refused::TooManyPhotos));
    }
    if post
        .photos
        .iter()
        .any(|p| p.description.chars().count() > MAX_DESCRIPTION)
    {
        return Err(refuse(crate::Refused::DescriptionTooLong));
    }
    if micros(&post.published).is_none() || micros(&post.updated).is_none() {
        return Err(json_error(
            POSTS,
            Some(line),
            "`published` and `updated` are RFC 3339 dates",
        ));
    }
    match post.audience.as_str() {
        "public" | "followers" => {}
        "aspects" => {
            if post.aspects.is_empty() {
                return Err(refuse(crate::Refused::NoAspect));
            }
            if let Some(unknown) = post.aspects.iter().find(|a| !aspects.contains(&a.trim())) {
                return Err(ArchiveError::UnknownAspect {
                    id: post.id.clone(),
                    aspect: unknown.clone(),
                });
            }
        }
        other => {
            return Err(json_error(
                POSTS,
                Some(line),
                format!("unknown audience {other:?} (public, followers or aspects)"),
            ));
        }
    }
    Ok(())
}

/// A post or comment's id is on the archive person's server (so an archive cannot make
/// objects claiming another server's ids), and it is attributed to that person.
fn check_own(actor_url: &Url, actor: &str, post: &ArchivedPost) -> Result<(), ArchiveError> {
    let foreign = || ArchiveError::ForeignPost {
        id: post.id.clone(),
        actor: actor.to_owned(),
    };
    let id = Url::parse(&post.id).map_err(|_| foreign())?;
    if id.origin() != actor_url.origin()
        || !is_web_address(&post.id)
        || post.id == actor
        || post.attributed_to != actor
    {
        return Err(foreign());
    }
    Ok(())
}

/// One comment line checked as a post line is (its id and author the archive's person's, its
/// Markdown what the comment form takes, its dates dates), and: it answers something (an
/// address other than its own, in `inReplyTo`), has no photos, has an audience the pod knows,
/// and its addressing, when it has one, is of addresses, within bounds, and says what its
/// audience says (the public address for `public` and `unlisted`, never for the others).
fn check_comment(
    actor_url: &Url,
    actor: &str,
    line: u64,
    comment: &ArchivedPost,
) -> Result<(), ArchiveError> {
    check_own(actor_url, actor, comment)?;
    let bad = |detail: &str| json_error(COMMENTS, Some(line), detail);
    match comment.in_reply_to.as_deref() {
        Some(parent) if is_web_address(parent) && parent != comment.id => {}
        Some(_) => return Err(bad("`inReplyTo` is not the address of another post")),
        None => return Err(bad("a comment answers a post: it has no `inReplyTo`")),
    }
    let refuse = |reason| ArchiveError::Post {
        id: comment.id.clone(),
        reason,
    };
    if comment.source.trim().is_empty() {
        return Err(refuse(crate::Refused::Empty));
    }
    if comment.source.len() > markdown::MAX_SOURCE {
        return Err(refuse(crate::Refused::TooLong));
    }
    if !comment.photos.is_empty() || !comment.aspects.is_empty() {
        return Err(bad("a comment has no photos and no aspects of its own"));
    }
    if micros(&comment.published).is_none() || micros(&comment.updated).is_none() {
        return Err(bad("`published` and `updated` are RFC 3339 dates"));
    }
    let Some(audience) = comment_audience(&comment.audience) else {
        return Err(bad(
            "unknown audience (public, unlisted, followers, aspects or limited)",
        ));
    };
    let lists = [&comment.to, &comment.cc];
    for list in lists.iter().copied().flatten() {
        if list.len() > MAX_ADDRESSEES {
            return Err(bad("`to` and `cc` name at most 10,000 each"));
        }
        if list.iter().any(|a| !is_web_address(a)) {
            return Err(bad("`to` and `cc` hold addresses"));
        }
    }
    if comment.to.is_some() || comment.cc.is_some() {
        let named = |list: &Option<Vec<String>>| {
            list.as_ref().is_some_and(|l| l.iter().any(|a| a == PUBLIC))
        };
        let consistent = match audience {
            Audience::Public => named(&comment.to),
            Audience::Unlisted => named(&comment.cc) && !named(&comment.to),
            _ => !named(&comment.to) && !named(&comment.cc),
        };
        if !consistent {
            return Err(bad("its addressing is not its audience"));
        }
    }
    Ok(())
}

/// The audience a comment line names.
fn comment_audience(text: &str) -> Option<Audience> {
    Some(match text {
        "public" => Audience::Public,
        "unlisted" => Audience::Unlisted,
        "followers" => Audience::Followers,
        "aspects" => Audience::Aspects,
        "limited" => Audience::Limited,
        _ => return None,
    })
}

/// The lines of `pod/posts.jsonl` (or `pod/comments.jsonl`), read one at a time, each within
/// its limit.
struct PostLines {
    reader: tokio::io::BufReader<tokio::fs::File>,
    path: &'static str,
    max_line: usize,
    line: String,
    number: u64,
}

impl PostLines {
    /// `pod/posts.jsonl`.
    async fn open(dir: &Path) -> Result<Self, ArchiveError> {
        Self::open_file(dir, POSTS, MAX_LINE).await
    }

    /// `pod/comments.jsonl`.
    async fn comments(dir: &Path) -> Result<Self, ArchiveError> {
        Self::open_file(dir, COMMENTS, MAX_COMMENT_LINE).await
    }

    async fn open_file(
        dir: &Path,
        path: &'static str,
        max_line: usize,
    ) -> Result<Self, ArchiveError> {
        let file = tokio::fs::File::open(dir.join(path))
            .await
            .map_err(ArchiveError::Io)?;
        Ok(Self {
            reader: tokio::io::BufReader::new(file),
            path,
            max_line,
            line: String::new(),
            number: 0,
        })
    }

    /// The next post and its line number; `None` at the end.
    async fn next(&mut self) -> Result<Option<(u64, ArchivedPost)>, ArchiveError> {
        loop {
            self.line.clear();
            let read = (&mut self.reader)
                .take(self.max_line as u64 + 1)
                .read_line(&mut self.line)
                .await
                .map_err(|e| json_error(self.path, Some(self.number + 1), e))?;
            if read == 0 {
                return Ok(None);
            }
            self.number += 1;
            if self.line.len() > self.max_line {
                return Err(json_error(
                    self.path,
                    Some(self.number),
                    "the line is too long",
                ));
            }
            if self.line.trim().is_empty() {
                continue;
            }
            let post: ArchivedPost = serde_json::from_str(&self.line)
                .map_err(|e| json_error(self.path, Some(self.number), e))?;
            return Ok(Some((self.number, post)));
        }
    }
}

/// The first bytes (enough to recognise an image) and the SHA-256 (lowercase hexadecimal) of
/// the file at `path`; `None` when it is over `limit` bytes.
fn read_image(path: &Path, limit: u64) -> std::io::Result<Option<(Vec<u8>, String)>> {
    use sha2::Digest as _;
    let mut file = std::fs::File::open(path)?;
    if file.metadata()?.len() > limit {
        return Ok(None);
    }
    let mut hasher = sha2::Sha256::new();
    let mut head = Vec::with_capacity(32);
    let mut buffer = vec![0_u8; 64 << 10];
    let mut total = 0_u64;
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        let chunk = buffer.get(..n).unwrap_or_default();
        total += n as u64;
        if total > limit {
            return Ok(None);
        }
        let wanted = 32_usize.saturating_sub(head.len()).min(chunk.len());
        head.extend_from_slice(chunk.get(..wanted).unwrap_or_default());
        hasher.update(chunk);
    }
    let digest = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(Some((head, digest)))
}

/// Whether `text` is an `https:` or `http:` address.
fn is_web_address(text: &str) -> bool {
    Url::parse(text).is_ok_and(|u| matches!(u.scheme(), "https" | "http") && u.host().is_some())
}

fn json_error(path: &str, line: Option<u64>, detail: impl std::fmt::Display) -> ArchiveError {
    ArchiveError::Json {
        path: path.to_owned(),
        line,
        detail: detail.to_string(),
    }
}

/// Reads `path` of the unpacked archive as `T`, within [`MAX_DOCUMENT`].
async fn read_json<T: serde::de::DeserializeOwned>(
    dir: &Path,
    path: &str,
) -> Result<T, ArchiveError> {
    let file = dir.join(path);
    let size = tokio::fs::metadata(&file)
        .await
        .map_err(ArchiveError::Io)?
        .len();
    if size > MAX_DOCUMENT {
        return Err(json_error(
            path,
            None,
            format!("larger than {MAX_DOCUMENT} bytes"),
        ));
    }
    let bytes = tokio::fs::read(&file).await.map_err(ArchiveError::Io)?;
    serde_json::from_slice(&bytes).map_err(|e| json_error(path, None, e))
}

/// The ids of a collection file (`orderedItems` of addresses: actors, or the posts liked).
async fn read_collection(dir: &Path, path: &str) -> Result<Vec<String>, ArchiveError> {
    let document: Value = read_json(dir, path).await?;
    let items = document
        .get("orderedItems")
        .and_then(Value::as_array)
        .ok_or_else(|| json_error(path, None, "no `orderedItems` list"))?;
    items
        .iter()
        .map(|item| match item.as_str() {
            Some(id) if is_web_address(id) => Ok(id.to_owned()),
            _ => Err(json_error(path, None, format!("{item} is not an address"))),
        })
        .collect()
}

/// Writes `value` as JSON to `path`.
async fn write_json(path: &Path, value: &Value) -> Result<()> {
    tokio::fs::write(path, serde_json::to_vec_pretty(value)?).await?;
    Ok(())
}

/// A JSON object with an `orderedItems` array written one item at a time, and
/// `totalItems` after them.
struct JsonArrayFile {
    out: tokio::io::BufWriter<tokio::fs::File>,
    count: u64,
}

impl JsonArrayFile {
    /// Starts the file with `head`'s members (an object).
    async fn create(path: &Path, head: &Value) -> Result<Self> {
        let mut out = tokio::io::BufWriter::new(tokio::fs::File::create(path).await?);
        let head = serde_json::to_string(head)?;
        let open = head.strip_suffix('}').unwrap_or("{");
        out.write_all(open.as_bytes()).await?;
        out.write_all(if open.len() > 1 {
            b",\n\"orderedItems\": ["
        } else {
            b"\"orderedItems\": ["
        })
        .await?;
        Ok(Self { out, count: 0 })
    }

    async fn push(&mut self, item: &Value) -> Result<()> {
        if self.count > 0 {
            self.out.write_all(b",").await?;
        }
        self.out.write_all(b"\n").await?;
        self.out.write_all(&serde_json::to_vec(item)?).await?;
        self.count += 1;
        Ok(())
    }

    /// Ends the array, adds `totalItems`; the count.
    async fn finish(mut self) -> Result<u64> {
        self.out
            .write_all(format!("\n],\n\"totalItems\": {}}}\n", self.count).as_bytes())
            .await?;
        self.out.flush().await?;
        Ok(self.count)
    }
}

/// The FEP-6fcd manifest. Its strings are written as JSON strings, which YAML reads as they
/// are (YAML 1.2 is a superset of JSON), so nothing in them can break the document.
fn manifest(created: &str, controller: &str, pod: &str) -> String {
    let q = |s: &str| serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned());
    format!(
        "# An account export (FEP-6fcd's container; see the pod's docs/pod.md, Export and import).
ubc-version: 0.1
meta:
  created: {created}
  createdBy:
    controller: {controller}
    client:
      name: {client}
      url: {pod}
contents:
  manifest.yml:
    url: https://codeberg.org/fediverse/fep/src/branch/main/fep/6fcd/fep-6fcd.md#manifest-file
  actor.json:
    url: https://www.w3.org/TR/activitypub/#actor-objects
  outbox.json:
    url: https://www.w3.org/TR/activitystreams-core/#collections
  followers.json:
    url: https://www.w3.org/TR/activitypub/#followers
  following.json:
    url: https://www.w3.org/TR/activitypub/#following
  likes.json:
    url: https://www.w3.org/TR/activitypub/#liked
  pod:
    url: {format}
  media:
    url: https://www.w3.org/TR/activitystreams-vocabulary/#dfn-icon
",
        created = q(created),
        controller = q(controller),
        client = q(&format!("pod {}", env!("CARGO_PKG_VERSION"))),
        pod = q(pod),
        format = q(&format!("{FORMAT} version {VERSION}")),
    )
}

/// Packs `entries` (name in the archive, file) into a gzip-compressed tar at `out`.
fn pack(out: &Path, entries: &[(String, PathBuf)], mtime: u64) -> Result<()> {
    let file = std::fs::File::create(out).with_context(|| format!("creating {}", out.display()))?;
    let gzip = flate2::write::GzEncoder::new(
        std::io::BufWriter::new(file),
        flate2::Compression::default(),
    );
    let mut builder = tar::Builder::new(gzip);
    for (name, path) in entries {
        let file =
            std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
        let mut header = tar::Header::new_ustar();
        header.set_size(file.metadata()?.len());
        header.set_mode(0o644);
        header.set_mtime(mtime);
        header.set_entry_type(tar::EntryType::Regular);
        builder.append_data(&mut header, name, file)?;
    }
    let gzip = builder.into_inner()?;
    let mut writer = gzip.finish()?;
    writer.flush()?;
    writer
        .into_inner()
        .map_err(|e| e.into_error())?
        .sync_all()?;
    Ok(())
}

/// A reader that fails once more than `limit` bytes went through it.
struct Bounded<R> {
    inner: R,
    read: u64,
    limit: u64,
}

/// The error [`Bounded`] fails with.
#[derive(Debug, thiserror::Error)]
#[error("over the unpacked limit")]
struct OverLimit;

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read = self.read.saturating_add(n as u64);
        if self.read > self.limit {
            return Err(std::io::Error::other(OverLimit));
        }
        Ok(n)
    }
}

/// What a reading error means: past the limit, cut short, or not an archive.
fn read_error(error: std::io::Error, limit: u64) -> ArchiveError {
    if error.get_ref().is_some_and(|e| e.is::<OverLimit>()) {
        return ArchiveError::UnpackedTooLarge { limit };
    }
    if error.kind() == std::io::ErrorKind::UnexpectedEof {
        return ArchiveError::Truncated {
            detail: error.to_string(),
        };
    }
    ArchiveError::Unreadable {
        detail: error.to_string(),
    }
}

/// Whether `name` is a file the format has: one of [`KNOWN`], or `media/NAME` (letters,
/// digits, `.`, `_`, `-`; not starting with a dot).
fn is_known(name: &str) -> bool {
    if KNOWN.contains(&name) || name == MOVE {
        return true;
    }
    name.strip_prefix("media/").is_some_and(|file| {
        !file.is_empty()
            && file.len() <= 100
            && !file.starts_with('.')
            && file
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    })
}

/// Reads the archive at `from` (a tar, gzip-compressed or not) into `into`, within `limits`:
/// the names of the files kept. Any link, device, name escaping the folder, duplicate, or
/// short entry refuses the whole archive; files of other names are read past and dropped.
fn unpack(from: &Path, into: &Path, limits: &ImportLimits) -> Result<Vec<String>, ArchiveError> {
    let file = std::fs::File::open(from).map_err(ArchiveError::Io)?;
    let mut reader = BufReader::new(file);
    let gzip = reader
        .fill_buf()
        .map_err(ArchiveError::Io)?
        .starts_with(&[0x1f, 0x8b]);
    let inner: Box<dyn Read> = if gzip {
        Box::new(flate2::read::MultiGzDecoder::new(reader))
    } else {
        Box::new(reader)
    };
    let limit = limits.max_unpacked_bytes;
    let mut archive = tar::Archive::new(Bounded {
        inner,
        read: 0,
        limit,
    });
    let mut present: Vec<String> = Vec::new();
    let mut count = 0_u64;
    let entries = archive.entries().map_err(|e| read_error(e, limit))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| read_error(e, limit))?;
        count += 1;
        if count > limits.max_entries {
            return Err(ArchiveError::TooManyEntries {
                limit: limits.max_entries,
            });
        }
        let raw = entry.path_bytes().into_owned();
        let name = safe_name(&raw)?;
        let kind = entry.header().entry_type();
        let not_a_file = |kind| ArchiveError::NotAFile {
            path: name.clone(),
            kind,
        };
        match kind {
            tar::EntryType::Regular | tar::EntryType::Continuous => {}
            tar::EntryType::Directory => continue,
            tar::EntryType::Symlink => return Err(not_a_file("symbolic link")),
            tar::EntryType::Link => return Err(not_a_file("hard link")),
            tar::EntryType::Char | tar::EntryType::Block => return Err(not_a_file("device")),
            tar::EntryType::Fifo => return Err(not_a_file("named pipe")),
            _ => return Err(not_a_file("special entry")),
        }
        let size = entry.size();
        if !is_known(&name) {
            let copied = std::io::copy(&mut entry, &mut std::io::sink())
                .map_err(|e| read_error(e, limit))?;
            short(copied, size)?;
            continue;
        }
        if present.contains(&name) {
            return Err(ArchiveError::Duplicate { path: name });
        }
        let target = into.join(&name);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(ArchiveError::Io)?;
        }
        let mut out = std::fs::File::create(&target).map_err(ArchiveError::Io)?;
        let copied = std::io::copy(&mut entry, &mut out).map_err(|e| match e.kind() {
            std::io::ErrorKind::StorageFull => ArchiveError::Io(e),
            _ => read_error(e, limit),
        })?;
        short(copied, size)?;
        present.push(name);
    }
    Ok(present)
}

/// An entry shorter than its header says: the archive was cut in it.
fn short(copied: u64, size: u64) -> Result<(), ArchiveError> {
    if copied < size {
        return Err(ArchiveError::Truncated {
            detail: format!("an entry of {size} bytes ends after {copied}"),
        });
    }
    Ok(())
}

/// An entry's name, checked: UTF-8, relative, without `..`, `.` (but a leading `./`), empty
/// parts or backslashes.
fn safe_name(raw: &[u8]) -> Result<String, ArchiveError> {
    let unsafe_path = || ArchiveError::UnsafePath {
        path: String::from_utf8_lossy(raw).into_owned(),
    };
    let text = std::str::from_utf8(raw).map_err(|_| unsafe_path())?;
    let text = text.strip_prefix("./").unwrap_or(text);
    let text = text.strip_suffix('/').unwrap_or(text);
    if text.is_empty()
        || text.starts_with('/')
        || text.contains('\\')
        || text.contains('\0')
        || text
            .split('/')
            .any(|part| part.is_empty() || part == "." || part == "..")
    {
        return Err(unsafe_path());
    }
    Ok(text.to_owned())
}

/// `admin export NAME --out FILE [--move-to ACCOUNT]`: writes local person `name`'s archive
/// to `out`, with a `Move` to `move_to` (`@name@host` or an address) signed by `name`'s key.
pub async fn admin_export(
    admin: &Admin,
    name: &str,
    out: &Path,
    move_to: Option<&str>,
) -> Result<Value> {
    let instance = admin.instance::<Pod>().await?;
    let target = match move_to {
        Some(account) => Some(
            crate::moving::resolve(&instance, admin.danger_allow_private_addresses, account)
                .await?,
        ),
        None => None,
    };
    let summary = instance
        .export_archive_moving(name, out, target.as_deref())
        .await?;
    Ok(
        json!({"actor": instance.actor_id(name).as_str(), "file": out.display().to_string(), "exported": summary}),
    )
}

/// `admin import NAME --file FILE [--send-move]`: imports the archive `file` into local person
/// `name`; with `send_move`, the archive's `Move` (when it carries one) goes to the old
/// account's followers. The `Follow`s and the `Move` are delivered when the pod next serves.
pub async fn admin_import(
    admin: &Admin,
    name: &str,
    file: &Path,
    send_move: bool,
) -> Result<Value> {
    let instance = admin.instance::<Pod>().await?;
    let summary = instance
        .import_archive_moving(name, file, &ImportLimits::default(), send_move)
        .await?;
    Ok(json!({"actor": instance.actor_id(name).as_str(), "imported": summary}))
}

#[cfg(test)]
mod tests {
    use super::{is_known, safe_name};

    #[test]
    fn entry_names_are_checked() {
        for good in [
            "actor.json",
            "./pod/posts.jsonl",
            "media/avatar.png",
            "pod/",
        ] {
            assert!(safe_name(good.as_bytes()).is_ok(), "{good}");
        }
        for bad in [
            "../actor.json",
            "/etc/passwd",
            "media/../../x",
            "media//x",
            "a\\b",
            "",
            "./",
        ] {
            assert!(safe_name(bad.as_bytes()).is_err(), "{bad}");
        }
        assert!(safe_name(b"\xff.json").is_err());
        assert!(is_known("media/avatar.png"));
        assert!(!is_known("media/.hidden"));
        assert!(!is_known("media/a/b.png"));
        assert!(!is_known("other.json"));
    }
}
