// WebFinger as served reads back as served, for the `webfinger_roundtrip` fuzz target and the
// replay test in `webfinger/tests/it/fuzz_replay.rs` (which `include!`s this file).
//
// The input is read (`reader.rs`) as a resource, `rel` filters, an actor id, a profile page and
// more links. The query a client builds for the resource reaches the server's query parser as the
// same resource and filters; the JRD the server answers with (`account_jrd` and the links, filtered
// by `rel`) reads back unchanged, names the actor it was built for, and its subject is the
// resource asked about.

include!("reader.rs");

/// Sends a query for a resource from `data` and reads back the answer.
#[allow(dead_code)]
pub(crate) fn check(data: &[u8]) {
    let mut input = Reader::new(data);
    let resource = match input.choose(3) {
        0 => webfinger::Host::parse(&input.text())
            .and_then(|host| webfinger::AcctUri::new(input.text(), host))
            .map(webfinger::Resource::Acct),
        1 => webfinger::Resource::from_user_input(&input.text()),
        _ => input.text().parse::<webfinger::Resource>(),
    };
    let rels: Vec<webfinger::Rel> = (0..input.choose(3)).map(|_| rel(&mut input)).collect();
    let actor = url::Url::parse(&input.text()).ok();
    let profile_page = input
        .maybe(|input| url::Url::parse(&input.text()).ok())
        .flatten();
    let mut links = Vec::new();
    for _ in 0..input.choose(4) {
        let mut link = webfinger::Link::new(rel(&mut input));
        if let Some(media_type) = input.maybe(Reader::text) {
            link = link.with_media_type(media_type);
        }
        if let Some(href) = input.maybe(Reader::text) {
            link = link.with_href(href);
        }
        if let Some(template) = input.maybe(Reader::text) {
            link = link.with_template(template);
        }
        for _ in 0..input.choose(3) {
            link = link.with_title(input.text(), input.text());
        }
        for _ in 0..input.choose(3) {
            link = link.with_property(input.text(), input.maybe(Reader::text));
        }
        links.push(link);
    }
    let Ok(resource) = resource else {
        return;
    };

    // The request as a client sends it.
    let path_and_query = resource.webfinger_path_and_query(&rels);
    let uri: http::Uri = path_and_query
        .parse()
        .unwrap_or_else(|error| panic!("the query {path_and_query:?} is not a URI: {error}"));
    assert_eq!(uri.path(), webfinger::WEBFINGER_PATH);
    let query = webfinger::server::Query::parse(uri.query()).unwrap_or_else(|error| {
        panic!("the server refuses the query {path_and_query:?} for {resource}: {error}")
    });
    assert_eq!(
        query.resource, resource,
        "the server reads another resource"
    );
    assert_eq!(query.rels, rels, "the server reads other rel filters");

    // The answer as the server serves it.
    let mut jrd = match (&resource, &actor) {
        (webfinger::Resource::Acct(acct), Some(actor)) => {
            webfinger::server::account_jrd(acct, actor, profile_page.as_ref())
        }
        _ => webfinger::Jrd::new(resource.to_string()),
    };
    for link in links {
        jrd = jrd.with_link(link);
    }
    let request = http::Request::get(uri)
        .body(())
        .expect("a GET with a parsed URI");
    let response = webfinger::server::respond_to_request(&request, |_| Some(jrd.clone()));
    assert_eq!(response.status(), http::StatusCode::OK);
    assert_eq!(
        response.headers()[http::header::CONTENT_TYPE],
        webfinger::JRD_MEDIA_TYPE
    );
    let read = webfinger::Jrd::from_slice(response.body()).unwrap_or_else(|error| {
        panic!(
            "a served JRD does not parse: {error}\n{}",
            String::from_utf8_lossy(response.body())
        )
    });
    let mut expected = jrd.clone();
    expected.retain_rels(&rels);
    assert_eq!(read, expected, "a served JRD reads back otherwise");
    assert_eq!(
        read.subject_resource().map(|subject| subject.ok()),
        Some(Some(resource.clone())),
        "the subject is not the resource asked about"
    );

    // A client finds the actor in an account's JRD (when `self` is not filtered out, and no
    // added link comes first).
    if let (webfinger::Resource::Acct(_), Some(actor)) = (&resource, &actor)
        && (rels.is_empty() || rels.contains(&webfinger::Rel::SELF))
        && matches!(actor.scheme(), "http" | "https")
        && actor.host().is_some()
    {
        assert_eq!(
            read.activitypub_id().ok().as_ref(),
            Some(actor),
            "the JRD of {resource} does not lead to its actor"
        );
    }
}

fn rel(input: &mut Reader<'_>) -> webfinger::Rel {
    match input.choose(4) {
        0 => webfinger::Rel::SELF,
        1 => webfinger::Rel::PROFILE_PAGE,
        2 => webfinger::Rel::LRDD,
        _ => webfinger::Rel::new(input.text()),
    }
}
