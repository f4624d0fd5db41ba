// The framing of an HTTP request in a fuzz input, shared by the checks that take requests
// (`include!`d by them). Text the fuzzer can mutate line by line:
//
//     POST https://local.example/inbox      <- method and request target
//     @sign: cavage                         <- directives for the check (optional)
//     @cover: (request-target)
//     host: local.example                   <- header fields
//     content-type: application/activity+json
//                                           <- an empty line
//     {"type": "Follow", ...}               <- the body, to the end
//
// Lines end with `\n` (a `\r` before it is dropped). A header line that `http` refuses (bad name
// or value) is skipped, so that the rest of the request still counts.

/// A request read from a fuzz input, with the check's directives.
#[allow(dead_code)]
pub(crate) struct Framed {
    /// The request, its body the bytes after the empty line.
    pub(crate) request: http::Request<Vec<u8>>,
    /// The `@name: value` directive lines, in order.
    pub(crate) directives: Vec<(String, String)>,
}

#[allow(dead_code)]
impl Framed {
    /// The values of the directive `name`.
    pub(crate) fn directive<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.directives
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Reads the framing; `None` when the request line is not a method and a URI `http` accepts.
#[allow(dead_code)]
pub(crate) fn framed(data: &[u8]) -> Option<Framed> {
    let (head, body) = match data.windows(2).position(|w| w == b"\n\n") {
        Some(at) => (&data[..at], &data[at + 2..]),
        None => (data, &[][..]),
    };
    let mut lines = head
        .split(|&b| b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line));
    let request_line = std::str::from_utf8(lines.next()?).ok()?;
    let (method, target) = request_line.split_once(' ')?;
    let mut builder = http::Request::builder()
        .method(http::Method::from_bytes(method.as_bytes()).ok()?)
        .uri(http::Uri::try_from(target).ok()?);
    let mut directives = Vec::new();
    for line in lines {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        let value = value.strip_prefix(b" ").unwrap_or(value);
        if let Some(directive) = name.strip_prefix(b"@") {
            if let (Ok(name), Ok(value)) =
                (std::str::from_utf8(directive), std::str::from_utf8(value))
            {
                directives.push((name.to_owned(), value.to_owned()));
            }
            continue;
        }
        let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name),
            http::HeaderValue::from_bytes(value),
        ) else {
            continue;
        };
        builder = builder.header(name, value);
    }
    let request = builder.body(body.to_vec()).ok()?;
    Some(Framed {
        request,
        directives,
    })
}
