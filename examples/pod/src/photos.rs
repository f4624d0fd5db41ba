//! Photos attached to posts: uploaded with the post (at most [`MAX_PHOTOS`], each within the
//! image size limit), recognised from their bytes as profile images are (JPEG, PNG, WebP or
//! GIF; anything else refused), kept in the media store only once the post is accepted, and
//! sent as `Image` attachments (`mediaType`, `url`, `width`/`height` when the header says them,
//! `name` the description). Received Notes' attachments are shown from where their sender
//! says they are, when that is an `http:` or `https:` address.

use anyhow::{Result, bail};
use serde_json::{Map, Value, json};

use crate::app::Instance;
use crate::db::{Attachment, ImageRow};
use crate::images::ImageType;
use crate::posts::Refused;

/// The most photos a post carries.
pub(crate) const MAX_PHOTOS: usize = 4;

/// The longest description of a photo, in characters.
pub(crate) const MAX_DESCRIPTION: usize = 1_500;

/// The most attachments of a received Note kept.
const MAX_RECEIVED: usize = 8;

/// A photo uploaded with a post, recognised, waiting for the post to be made (dropped, it is
/// removed).
#[derive(Debug)]
pub(crate) struct Photo {
    staged: media_store::Staged,
    kind: ImageType,
    dimensions: Option<(u32, u32)>,
    description: String,
}

impl Instance {
    /// `staged` as a photo with `description`: refused ([`Refused::NotAPhoto`], and removed)
    /// when its bytes are no image the pod takes.
    pub(crate) async fn inspect_photo(
        &self,
        staged: media_store::Staged,
        description: &str,
    ) -> Result<Photo> {
        use tokio::io::AsyncReadExt as _;
        let mut head = [0u8; 32];
        let mut file = tokio::fs::File::open(staged.path()).await?;
        let mut read = 0;
        while read < head.len() {
            let n = file.read(head.get_mut(read..).unwrap_or_default()).await?;
            if n == 0 {
                break;
            }
            read += n;
        }
        let head = head.get(..read).unwrap_or_default();
        let Some(kind) = ImageType::sniff(head) else {
            bail!(Refused::NotAPhoto);
        };
        let description = description.trim();
        if description.chars().count() > MAX_DESCRIPTION {
            bail!(Refused::DescriptionTooLong);
        }
        Ok(Photo {
            staged,
            kind,
            dimensions: kind.dimensions(head),
            description: description.to_owned(),
        })
    }

    /// Keeps `photos` in the media store as local person `owner`'s; what the post attaches.
    pub(crate) async fn keep_photos(
        &self,
        owner: &str,
        photos: Vec<Photo>,
    ) -> Result<Vec<Attachment>> {
        let mut attachments = Vec::new();
        for photo in photos {
            let key = media_store::Key::new(format!(
                "images/{}.{}",
                uuid::Uuid::new_v4(),
                photo.kind.extension()
            ))?;
            let size = i64::try_from(photo.staged.size()).unwrap_or(i64::MAX);
            let sha256 = photo.staged.sha256().to_hex();
            photo.staged.commit(&key).await?;
            self.db()
                .put_image(&ImageRow {
                    key: key.as_str().to_owned(),
                    owner: owner.to_owned(),
                    role: "photo".to_owned(),
                    media_type: photo.kind.media_type().to_owned(),
                    size,
                    sha256,
                })
                .await?;
            attachments.push(Attachment {
                url: self.url(&format!("/media/{}", key.as_str())).to_string(),
                media_type: photo.kind.media_type().to_owned(),
                width: photo.dimensions.map(|(w, _)| i64::from(w)),
                height: photo.dimensions.map(|(_, h)| i64::from(h)),
                description: photo.description,
            });
        }
        Ok(attachments)
    }
}

/// A Note's `attachment`: an `Image` for each photo.
pub(crate) fn attachment_member(attachments: &[Attachment]) -> Value {
    Value::Array(
        attachments
            .iter()
            .map(|a| {
                let mut image = json!({
                    "type": "Image",
                    "mediaType": a.media_type,
                    "url": a.url,
                    "name": a.description,
                });
                if let (Some(map), Some(width), Some(height)) =
                    (image.as_object_mut(), a.width, a.height)
                {
                    map.insert("width".into(), json!(width));
                    map.insert("height".into(), json!(height));
                }
                image
            })
            .collect(),
    )
}

/// What a received Note's `attachment` lists with an `http:` or `https:` address (its `url`: a
/// string, a `Link`'s `href`, or the first of a list), its media type (`application/octet-stream`
/// when it says none), size and description.
pub(crate) fn received_attachments(document: &Value) -> Vec<Attachment> {
    let items: &[Value] = match document.get("attachment") {
        Some(Value::Array(items)) => items,
        Some(one @ Value::Object(_)) => std::slice::from_ref(one),
        _ => &[],
    };
    items
        .iter()
        .filter_map(Value::as_object)
        .filter_map(received)
        .take(MAX_RECEIVED)
        .collect()
}

fn received(item: &Map<String, Value>) -> Option<Attachment> {
    let url = address(item.get("url")?)?;
    let parsed = url::Url::parse(&url).ok()?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return None;
    }
    let media_type = item
        .get("mediaType")
        .and_then(Value::as_str)
        .filter(|t| t.len() <= 100 && !t.contains(char::is_whitespace))
        .unwrap_or("application/octet-stream")
        .to_owned();
    let size = |member: &str| {
        item.get(member)
            .and_then(Value::as_i64)
            .filter(|n| (1..=100_000).contains(n))
    };
    let description: String = item
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .chars()
        .take(MAX_DESCRIPTION)
        .collect();
    Some(Attachment {
        url: parsed.to_string(),
        media_type,
        width: size("width"),
        height: size("height"),
        description,
    })
}

/// The address a `url` member holds.
fn address(value: &Value) -> Option<String> {
    match value {
        Value::String(url) => Some(url.clone()),
        Value::Object(link) => link.get("href").and_then(Value::as_str).map(str::to_owned),
        Value::Array(items) => items.iter().find_map(address),
        _ => None,
    }
}
