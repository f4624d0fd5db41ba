//! PeerTube's numbered and named values: comment policies, video states, description formats,
//! file formats. Each is open: a value this version does not know is kept, not refused.

/// Who may comment on a video (`commentsPolicy`, PeerTube's `VideoCommentPolicy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CommentsPolicy {
    /// 1: anyone may comment.
    Enabled,
    /// 2: nobody may comment.
    Disabled,
    /// 3: comments wait for the owner's approval.
    RequiresApproval,
    /// Another number, kept as received. PeerTube treats it as disabled; so should a consumer.
    Other(u64),
}

impl CommentsPolicy {
    /// The policy numbered `n`.
    pub fn from_number(n: u64) -> Self {
        match n {
            1 => Self::Enabled,
            2 => Self::Disabled,
            3 => Self::RequiresApproval,
            other => Self::Other(other),
        }
    }

    /// Its number.
    pub fn number(self) -> u64 {
        match self {
            Self::Enabled => 1,
            Self::Disabled => 2,
            Self::RequiresApproval => 3,
            Self::Other(n) => n,
        }
    }

    /// Whether comments may be sent at all (enabled, or held for approval): what PeerTube writes
    /// as the older `commentsEnabled`.
    pub fn accepts_comments(self) -> bool {
        matches!(self, Self::Enabled | Self::RequiresApproval)
    }
}

/// The state of a video (`state`, PeerTube's `VideoState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum VideoState {
    /// 1: published, playable.
    Published,
    /// 2: waiting for transcoding.
    ToTranscode,
    /// 3: being imported.
    ToImport,
    /// 4: a live waiting for its stream.
    WaitingForLive,
    /// 5: a live that ended.
    LiveEnded,
    /// 6: being moved to object storage.
    ToMoveToExternalStorage,
    /// 7: transcoding failed.
    TranscodingFailed,
    /// 8: moving to object storage failed.
    ToMoveToExternalStorageFailed,
    /// 9: being edited.
    ToEdit,
    /// 10: being moved to the file system.
    ToMoveToFileSystem,
    /// 11: moving to the file system failed.
    ToMoveToFileSystemFailed,
    /// Another number, kept as received.
    Other(u64),
}

impl VideoState {
    /// The state numbered `n`.
    pub fn from_number(n: u64) -> Self {
        match n {
            1 => Self::Published,
            2 => Self::ToTranscode,
            3 => Self::ToImport,
            4 => Self::WaitingForLive,
            5 => Self::LiveEnded,
            6 => Self::ToMoveToExternalStorage,
            7 => Self::TranscodingFailed,
            8 => Self::ToMoveToExternalStorageFailed,
            9 => Self::ToEdit,
            10 => Self::ToMoveToFileSystem,
            11 => Self::ToMoveToFileSystemFailed,
            other => Self::Other(other),
        }
    }

    /// Its number.
    pub fn number(self) -> u64 {
        match self {
            Self::Published => 1,
            Self::ToTranscode => 2,
            Self::ToImport => 3,
            Self::WaitingForLive => 4,
            Self::LiveEnded => 5,
            Self::ToMoveToExternalStorage => 6,
            Self::TranscodingFailed => 7,
            Self::ToMoveToExternalStorageFailed => 8,
            Self::ToEdit => 9,
            Self::ToMoveToFileSystem => 10,
            Self::ToMoveToFileSystemFailed => 11,
            Self::Other(n) => n,
        }
    }
}

/// The format of a description (`mediaType` of a video or playlist).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ContentType {
    /// `text/markdown`: what PeerTube writes.
    Markdown,
    /// `text/html`, which PeerTube also accepts.
    Html,
    /// Another media type, kept as received (PeerTube refuses the video).
    Other(String),
}

impl ContentType {
    /// The type of `media_type`.
    pub fn of(media_type: &str) -> Self {
        match media_type {
            "text/markdown" => Self::Markdown,
            "text/html" => Self::Html,
            other => Self::Other(other.to_owned()),
        }
    }

    /// The media type.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Markdown => "text/markdown",
            Self::Html => "text/html",
            Self::Other(s) => s,
        }
    }
}

/// How a video file is laid out (the `peertube_format_flag` hint of a file link).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FileFormat {
    /// `web-video`: a plain file a browser plays (the top-level files).
    WebVideo,
    /// `fragmented`: a fragmented MP4 served through an HLS playlist.
    Fragmented,
    /// Another hint, kept as received.
    Other(String),
}

impl FileFormat {
    /// The format named `hint`.
    pub fn of(hint: &str) -> Self {
        match hint {
            "web-video" => Self::WebVideo,
            "fragmented" => Self::Fragmented,
            other => Self::Other(other.to_owned()),
        }
    }

    /// The hint as written.
    pub fn as_str(&self) -> &str {
        match self {
            Self::WebVideo => "web-video",
            Self::Fragmented => "fragmented",
            Self::Other(s) => s,
        }
    }
}

/// PeerTube's predefined reasons for a report (its `AbusePredefinedReasonsString`): a `Flag`
/// names them in its `tag`, each as `{"type": "Hashtag", "name": IDENTIFIER}`. Each comes with
/// the words a page shows for it.
pub const ABUSE_REASONS: &[(&str, &str)] = &[
    ("violentOrRepulsive", "Violent or repulsive"),
    ("hatefulOrAbusive", "Hateful or abusive"),
    ("spamOrMisleading", "Spam or misleading"),
    ("privacy", "Private information"),
    ("rights", "Infringes rights"),
    ("serverRules", "Breaks this server's rules"),
    ("thumbnails", "Thumbnail"),
    ("captions", "Captions"),
];

/// The words for PeerTube's predefined report reason `identifier`; `None` for one it does not
/// define.
pub fn abuse_reason_label(identifier: &str) -> Option<&'static str> {
    ABUSE_REASONS
        .iter()
        .find(|(known, _)| *known == identifier)
        .map(|(_, label)| *label)
}
