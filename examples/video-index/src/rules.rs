//! The eligibility rules: which received videos the index lists. Pure: a rule set and a
//! video's document in, a verdict out.

use serde::{Deserialize, Serialize};
use video_search::VideoDocument;

/// What the index lists: every rule must let a video through. Empty lists allow everything.
///
/// The rules are applied when a video arrives (an ineligible one is kept in the database but
/// not indexed; one that becomes ineligible through an `Update` leaves the index) and again
/// to every stored video when the index starts with rules that differ from the last ones.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Eligibility {
    /// Only videos from these hosts (`host` or `host:port`, compared without case); none: any
    /// host.
    pub allowed_hosts: Vec<String>,
    /// Never videos from these hosts, nor follows from or to them.
    pub denied_hosts: Vec<String>,
    /// Leave out videos marked sensitive (PeerTube's `nsfw`).
    pub exclude_sensitive: bool,
    /// Only videos in these languages (codes as PeerTube sends them: `en`, `fr`, `pt-br`);
    /// a video that says no language is then left out. None: any language.
    pub languages: Vec<String>,
    /// Only videos at least this long, in seconds (0: any; lives have no duration and are
    /// then left out).
    pub min_duration_secs: u64,
}

/// Why a video is not listed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Ineligible {
    /// Its host is not among the allowed ones.
    #[error("the host {host} is not among the allowed hosts")]
    HostNotAllowed {
        /// The video's host.
        host: String,
    },
    /// Its host is denied.
    #[error("the host {host} is denied")]
    HostDenied {
        /// The video's host.
        host: String,
    },
    /// It is marked sensitive and sensitive videos are left out.
    #[error("the video is marked sensitive")]
    Sensitive,
    /// Its language is not among the allowed ones (`None`: it gives none).
    #[error("the language {language:?} is not among the allowed languages")]
    Language {
        /// The video's language code, if it gives one.
        language: Option<String>,
    },
    /// It is shorter than the minimum.
    #[error("the video lasts {duration_secs} s, under the minimum of {min_secs} s")]
    TooShort {
        /// Its duration.
        duration_secs: u64,
        /// The minimum.
        min_secs: u64,
    },
}

impl Eligibility {
    /// Whether `host` (an authority, `host` or `host:port`) is denied.
    pub fn denies_host(&self, host: &str) -> bool {
        matches_host(&self.denied_hosts, host)
    }

    /// Whether content from `host` may be listed at all (allowed, and not denied).
    pub fn admits_host(&self, host: &str) -> bool {
        !self.denies_host(host)
            && (self.allowed_hosts.is_empty() || matches_host(&self.allowed_hosts, host))
    }

    /// `Ok` when `video` may be listed, else the first rule it breaks.
    pub fn check(&self, video: &VideoDocument) -> Result<(), Ineligible> {
        if self.denies_host(&video.host) {
            return Err(Ineligible::HostDenied {
                host: video.host.clone(),
            });
        }
        if !self.allowed_hosts.is_empty() && !matches_host(&self.allowed_hosts, &video.host) {
            return Err(Ineligible::HostNotAllowed {
                host: video.host.clone(),
            });
        }
        if self.exclude_sensitive && video.nsfw {
            return Err(Ineligible::Sensitive);
        }
        if !self.languages.is_empty() {
            let language = video.language.as_ref().map(|l| l.id.clone());
            let allowed = language
                .as_deref()
                .is_some_and(|l| self.languages.iter().any(|a| a.eq_ignore_ascii_case(l)));
            if !allowed {
                return Err(Ineligible::Language { language });
            }
        }
        if video.duration < self.min_duration_secs {
            return Err(Ineligible::TooShort {
                duration_secs: video.duration,
                min_secs: self.min_duration_secs,
            });
        }
        Ok(())
    }
}

/// Whether `host` is one of `hosts`: the same authority, or the same host name when the
/// entry gives no port (`tube.example` covers `tube.example:8443`).
fn matches_host(hosts: &[String], host: &str) -> bool {
    let name = host.rsplit_once(':').map_or(host, |(name, _)| name);
    hosts
        .iter()
        .any(|h| h.eq_ignore_ascii_case(host) || (!h.contains(':') && h.eq_ignore_ascii_case(name)))
}

#[cfg(test)]
mod tests {
    use time::OffsetDateTime;
    use video_search::{ActorSummary, Constant};

    use super::*;

    fn video(host: &str, nsfw: bool, language: Option<&str>, duration: u64) -> VideoDocument {
        let actor = ActorSummary::new("a", "A", format!("https://{host}/a"), host);
        let mut v = VideoDocument::new(
            format!("https://{host}/v/1"),
            "uuid",
            "A video",
            host,
            OffsetDateTime::UNIX_EPOCH,
            actor.clone(),
            actor,
        );
        v.nsfw = nsfw;
        v.language = language.map(|l| Constant::new(l.to_owned(), l));
        v.duration = duration;
        v
    }

    #[test]
    fn each_rule_refuses_what_it_names_and_nothing_else() {
        let rules = Eligibility {
            allowed_hosts: vec!["games.example".into(), "127.0.0.1:8080".into()],
            denied_hosts: vec!["bad.example".into()],
            exclude_sensitive: true,
            languages: vec!["en".into(), "FR".into()],
            min_duration_secs: 60,
        };
        let check = |v: VideoDocument| rules.check(&v);
        assert_eq!(check(video("games.example", false, Some("fr"), 60)), Ok(()));
        assert_eq!(
            check(video("games.example:8443", false, Some("en"), 61)),
            Ok(())
        );
        assert_eq!(
            check(video("127.0.0.1:8080", false, Some("en"), 61)),
            Ok(())
        );
        assert!(matches!(
            check(video("127.0.0.1:9090", false, Some("en"), 61)),
            Err(Ineligible::HostNotAllowed { .. })
        ));
        assert!(matches!(
            check(video("bad.example", false, Some("en"), 61)),
            Err(Ineligible::HostDenied { .. })
        ));
        assert_eq!(
            check(video("games.example", true, Some("en"), 61)),
            Err(Ineligible::Sensitive)
        );
        assert_eq!(
            check(video("games.example", false, None, 61)),
            Err(Ineligible::Language { language: None })
        );
        assert!(matches!(
            check(video("games.example", false, Some("de"), 61)),
            Err(Ineligible::Language { .. })
        ));
        assert!(matches!(
            check(video("games.example", false, Some("en"), 59)),
            Err(Ineligible::TooShort { .. })
        ));
        // No rules: everything.
        assert_eq!(
            Eligibility::default().check(&video("any.example", true, None, 0)),
            Ok(())
        );
    }
}
