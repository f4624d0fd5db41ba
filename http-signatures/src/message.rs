//! A read-only view of the parts of an HTTP message that signatures cover.

use std::borrow::Cow;

use http::header::{AsHeaderName, HOST};
use http::{HeaderMap, Method, StatusCode, Uri};

/// What the signing and verification code reads from a request or a response.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Message<'a> {
    pub(crate) method: Option<&'a Method>,
    pub(crate) uri: Option<&'a Uri>,
    pub(crate) status: Option<StatusCode>,
    pub(crate) headers: &'a HeaderMap,
    /// Scheme of the target URI when the request URI is in origin form (`/inbox`), as it is on
    /// a server.
    pub(crate) default_scheme: &'a str,
}

impl<'a> Message<'a> {
    pub(crate) fn request<B>(request: &'a http::Request<B>, default_scheme: &'a str) -> Self {
        Self {
            method: Some(request.method()),
            uri: Some(request.uri()),
            status: None,
            headers: request.headers(),
            default_scheme,
        }
    }

    pub(crate) fn response<B>(response: &'a http::Response<B>) -> Self {
        Self {
            method: None,
            uri: None,
            status: Some(response.status()),
            headers: response.headers(),
            default_scheme: "https",
        }
    }

    /// Whether a header is present at all.
    pub(crate) fn has_header<K: AsHeaderName>(&self, name: K) -> bool {
        self.headers.contains_key(name)
    }

    /// Every line of a header, each with leading and trailing whitespace removed, or `None` if
    /// the header is absent.
    pub(crate) fn header_lines<K: AsHeaderName>(&self, name: K) -> Option<Vec<&'a [u8]>> {
        let mut values = self.headers.get_all(name).iter().peekable();
        values.peek()?;
        Some(values.map(|v| trim_ows(v.as_bytes())).collect())
    }

    /// The lines of a header joined with `", "` (both standards combine repeated fields so),
    /// borrowed from the message when the header has one line, as it nearly always does.
    pub(crate) fn header_joined<K: AsHeaderName>(&self, name: K) -> Option<Cow<'a, [u8]>> {
        let mut values = self.headers.get_all(name).iter();
        let first = trim_ows(values.next()?.as_bytes());
        let Some(second) = values.next() else {
            return Some(Cow::Borrowed(first));
        };
        let mut joined = first.to_vec();
        for value in std::iter::once(second).chain(values) {
            joined.extend_from_slice(b", ");
            joined.extend_from_slice(trim_ows(value.as_bytes()));
        }
        Some(Cow::Owned(joined))
    }

    /// Appends the lines of a header joined with `", "` to `out`; `false` if the header is
    /// absent.
    pub(crate) fn append_header<K: AsHeaderName>(&self, name: K, out: &mut Vec<u8>) -> bool {
        let mut values = self.headers.get_all(name).iter();
        let Some(first) = values.next() else {
            return false;
        };
        out.extend_from_slice(trim_ows(first.as_bytes()));
        for value in values {
            out.extend_from_slice(b", ");
            out.extend_from_slice(trim_ows(value.as_bytes()));
        }
        true
    }

    /// Appends the target URI's authority: from the request URI when it is absolute, else the
    /// `Host` header. Lowercased, default port removed (RFC 9421 §2.2.3). `false` if there is
    /// none.
    pub(crate) fn append_authority(&self, out: &mut Vec<u8>) -> bool {
        let Some(raw) = self.raw_authority() else {
            return false;
        };
        let start = out.len();
        out.extend(raw.iter().map(u8::to_ascii_lowercase));
        let default_port: &[u8] = match self.scheme().as_ref() {
            "https" => b":443",
            "http" => b":80",
            _ => b"",
        };
        if !default_port.is_empty()
            && out
                .get(start..)
                .is_some_and(|authority| authority.ends_with(default_port))
        {
            out.truncate(out.len() - default_port.len());
        }
        true
    }

    /// Appends the host as the `host` header line of draft-cavage carries it: the `Host`
    /// header, else the request URI's authority (what an HTTP client sends). `false` if there
    /// is none.
    pub(crate) fn append_host_header(&self, out: &mut Vec<u8>) -> bool {
        if self.append_header(HOST, out) {
            return true;
        }
        match self.uri.and_then(Uri::authority) {
            Some(authority) => {
                out.extend_from_slice(authority.as_str().as_bytes());
                true
            }
            None => false,
        }
    }

    /// The scheme of the target URI, lowercased.
    pub(crate) fn scheme(&self) -> Cow<'a, str> {
        let scheme = self
            .uri
            .and_then(Uri::scheme_str)
            .unwrap_or(self.default_scheme);
        if scheme.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(scheme.to_ascii_lowercase())
        } else {
            Cow::Borrowed(scheme)
        }
    }

    /// The path, `/` if empty.
    pub(crate) fn path(&self) -> &'a str {
        match self.uri.map(Uri::path) {
            Some(path) if !path.is_empty() => path,
            _ => "/",
        }
    }

    pub(crate) fn query(&self) -> Option<&'a str> {
        self.uri.and_then(Uri::query)
    }

    /// Appends `path?query`, as in the request line.
    pub(crate) fn append_request_target(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.path().as_bytes());
        if let Some(query) = self.query() {
            out.push(b'?');
            out.extend_from_slice(query.as_bytes());
        }
    }

    /// Appends the absolute target URI; `false` if the authority is unknown.
    pub(crate) fn append_target_uri(&self, out: &mut Vec<u8>) -> bool {
        let Some(authority) = self.raw_authority() else {
            return false;
        };
        out.extend_from_slice(self.scheme().as_bytes());
        out.extend_from_slice(b"://");
        out.extend_from_slice(&authority);
        self.append_request_target(out);
        true
    }

    /// The authority as received: from the request URI when it is absolute, else the `Host`
    /// header (bytes that are not UTF-8 replaced by U+FFFD).
    fn raw_authority(&self) -> Option<Cow<'a, [u8]>> {
        match self.uri.and_then(Uri::authority) {
            Some(authority) => Some(Cow::Borrowed(authority.as_str().as_bytes())),
            None => {
                let host = trim_ows(self.headers.get(HOST)?.as_bytes());
                Some(match String::from_utf8_lossy(host) {
                    Cow::Borrowed(text) => Cow::Borrowed(text.as_bytes()),
                    Cow::Owned(text) => Cow::Owned(text.into_bytes()),
                })
            }
        }
    }
}

/// A signing string as text: the bytes themselves when they are UTF-8, as they nearly always
/// are, else with U+FFFD for what is not.
pub(crate) fn into_text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Removes leading and trailing spaces and tabs.
pub(crate) fn trim_ows(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t'))
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t'))
        .map_or(start, |i| i + 1);
    bytes.get(start..end).unwrap_or_default()
}
