//! People's profiles: the display name, the bio (Markdown, kept as sanitized HTML), the
//! profile fields (`PropertyValue` attachments, as Mastodon shows them) and the images
//! (avatar and banner), each change sent to the followers as an `Update` of the person.

use anyhow::{Result, bail};
use instance_state::actors::ProfileUpdate;
use serde_json::json;

use crate::app::Instance;
use crate::db::ProfileField;
use crate::{images, markdown};

/// The most profile fields, as Mastodon allows by default.
pub(crate) const MAX_FIELDS: usize = 4;
/// The longest field name and value, in characters.
const MAX_FIELD: usize = 255;
/// The longest display name, in characters.
const MAX_DISPLAY_NAME: usize = 100;
/// The longest bio, in bytes of Markdown.
const MAX_BIO: usize = 5_000;

/// A change of profile.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Profile {
    /// The display name.
    pub display_name: String,
    /// The bio, in Markdown.
    pub bio: String,
    /// The fields: name and value (text; an `https:` address becomes a link).
    pub fields: Vec<(String, String)>,
}

impl Profile {
    /// A profile named `display_name`.
    pub fn new(display_name: impl Into<String>) -> Self {
        Self {
            display_name: display_name.into(),
            ..Self::default()
        }
    }

    /// Sets the bio.
    pub fn with_bio(mut self, bio: impl Into<String>) -> Self {
        self.bio = bio.into();
        self
    }

    /// Adds a field.
    pub fn with_field(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.fields.push((name.into(), value.into()));
        self
    }
}

/// Why a profile was refused (for the person).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProfileError {
    /// The display name.
    #[error("a display name has 1 to {MAX_DISPLAY_NAME} characters, without control characters")]
    DisplayName,
    /// The bio.
    #[error("a bio has at most {MAX_BIO} bytes")]
    Bio,
    /// Too many fields.
    #[error("at most {MAX_FIELDS} profile fields")]
    TooManyFields,
    /// A field.
    #[error("a profile field has a name, and a name and value of at most {MAX_FIELD} characters")]
    Field,
    /// Not an image the pod takes.
    #[error("this file is not an image the pod takes ({accepted})", accepted = images::ACCEPTED)]
    NotAnImage,
}

/// A field's value as HTML: an `https:` address as a link (as Mastodon shows verified links),
/// anything else as text.
fn field_html(value: &str) -> String {
    let value = value.trim();
    if value.starts_with("https://") && !value.contains(char::is_whitespace) {
        let escaped =
            maud::html! { a href=(value) rel="me nofollow noopener noreferrer" { (value) } };
        federation::sanitize::sanitize_html(&escaped.into_string())
    } else {
        maud::html! { (value) }.into_string()
    }
}

/// `profile`'s display name (trimmed) and fields (as kept), or why it is refused.
pub(crate) fn checked(profile: &Profile) -> Result<(String, Vec<ProfileField>), ProfileError> {
    let display_name = profile.display_name.trim();
    if display_name.is_empty()
        || display_name.chars().count() > MAX_DISPLAY_NAME
        || display_name.chars().any(char::is_control)
    {
        return Err(ProfileError::DisplayName);
    }
    if profile.bio.len() > MAX_BIO {
        return Err(ProfileError::Bio);
    }
    let fields: Vec<&(String, String)> = profile
        .fields
        .iter()
        .filter(|(n, v)| !(n.trim().is_empty() && v.trim().is_empty()))
        .collect();
    if fields.len() > MAX_FIELDS {
        return Err(ProfileError::TooManyFields);
    }
    let mut kept = Vec::new();
    for (field_name, value) in fields {
        let field_name = field_name.trim();
        if field_name.is_empty()
            || field_name.chars().count() > MAX_FIELD
            || value.chars().count() > MAX_FIELD
            || field_name.chars().any(char::is_control)
        {
            return Err(ProfileError::Field);
        }
        kept.push(ProfileField {
            name: field_name.to_owned(),
            value: field_html(value),
        });
    }
    Ok((display_name.to_owned(), kept))
}

impl Instance {
    /// Sets local person `name`'s profile, and sends its followers the new document.
    pub async fn set_profile(&self, name: &str, profile: &Profile) -> Result<()> {
        let (display_name, kept) = checked(profile)?;
        let display_name = display_name.as_str();
        let bio = if profile.bio.trim().is_empty() {
            String::new()
        } else {
            markdown::to_html(&profile.bio)
        };
        self.state()
            .update_profile(
                name,
                ProfileUpdate::new()
                    .with_display_name(display_name)
                    .with_summary(bio),
            )
            .await?;
        let id = self.actor_id(name).to_string();
        self.db().set_bio_source(&id, &profile.bio).await?;
        self.db().set_profile_fields(&id, &kept).await?;
        self.send_profile(name).await
    }

    /// Sends local person `name`'s document to its followers (`Update`).
    pub(crate) async fn send_profile(&self, name: &str) -> Result<()> {
        let actor = self.state().live_actor(name).await?;
        let document = self.actor_document(&actor).await?;
        let id = self.actor_id(name).to_string();
        let mut update = self.state().new_activity(
            "Update",
            name,
            document,
            &["https://www.w3.org/ns/activitystreams#Public"],
        );
        if let Some(map) = update.as_object_mut() {
            map.insert("cc".into(), json!([format!("{id}/followers")]));
        }
        self.publish(name, update).await
    }
}

/// Which profile image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageRole {
    /// The avatar (`icon`).
    Avatar,
    /// The banner (`image`).
    Banner,
}

impl ImageRole {
    /// Its name in forms and rows.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Avatar => "avatar",
            Self::Banner => "banner",
        }
    }

    /// The role named `text`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "avatar" => Some(Self::Avatar),
            "banner" => Some(Self::Banner),
            _ => None,
        }
    }
}

impl Instance {
    /// Makes the staged upload `staged` local person `name`'s avatar or banner: its type read
    /// from its first bytes (refused, and removed, when it is not one the pod takes), kept in
    /// the media store, and the person's document sent again. The image's URL.
    pub(crate) async fn set_image(
        &self,
        name: &str,
        role: ImageRole,
        staged: media_store::Staged,
    ) -> Result<url::Url> {
        use tokio::io::AsyncReadExt as _;
        self.state().live_actor(name).await?;
        let mut head = [0u8; 16];
        let mut file = tokio::fs::File::open(staged.path()).await?;
        let mut read = 0;
        while read < head.len() {
            let n = file.read(head.get_mut(read..).unwrap_or_default()).await?;
            if n == 0 {
                break;
            }
            read += n;
        }
        let Some(kind) = images::ImageType::sniff(head.get(..read).unwrap_or_default()) else {
            // Dropping the staged file removes it.
            bail!(ProfileError::NotAnImage);
        };
        let key = media_store::Key::new(format!(
            "images/{}.{}",
            uuid::Uuid::new_v4(),
            kind.extension()
        ))?;
        let size = i64::try_from(staged.size()).unwrap_or(i64::MAX);
        let sha256 = staged.sha256().to_hex();
        staged.commit(&key).await?;
        self.db()
            .put_image(&crate::db::ImageRow {
                key: key.as_str().to_owned(),
                owner: name.to_owned(),
                role: role.as_str().to_owned(),
                media_type: kind.media_type().to_owned(),
                size,
                sha256,
            })
            .await?;
        let url = self.url(&format!("/media/{}", key.as_str()));
        let mut update = ProfileUpdate::new();
        match role {
            ImageRole::Avatar => update.icon = Some(Some(url.to_string())),
            ImageRole::Banner => update.image = Some(Some(url.to_string())),
        }
        self.state().update_profile(name, update).await?;
        self.send_profile(name).await?;
        Ok(url)
    }
}
