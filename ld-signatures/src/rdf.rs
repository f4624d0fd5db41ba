//! JSON-LD to RDF with the bundled contexts, the structure checks, and bounded URDNA2015.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use json_ld::rdf_types::{self, LiteralType, generator};
use json_ld::syntax::Parse;
use json_ld::{IriBuf, JsonLdProcessor, Options, RemoteDocument, ValidId};
use oxrdf::{
    BlankNode, Dataset, GraphName, Literal, NamedNode, NamedOrBlankNode, Quad, Subject, Term,
};

use crate::contexts::BundledLoader;
use crate::error::{Error, Structure};
use crate::limits::Limits;

/// Canonical N-Quads (URDNA2015) of `document`, within `limits`. With `root`, the statements
/// must also have the shape of a document whose top-level node has that id (see
/// [`Structure`]).
pub(crate) fn canonical_nquads(
    document: &serde_json::Value,
    limits: &Limits,
    root: Option<&str>,
) -> Result<String, Error> {
    let quads = to_quads(document, limits)?;
    if let Some(root) = root {
        check_structure(&quads, root)?;
    }
    check_alike_blank_nodes(&quads, limits.max_alike_blank_nodes)?;
    // A dataset is a set: JSON-LD may produce a statement twice (`"to": [a, a]`), RDF.rb's
    // graph keeps it once.
    let dataset = quads.into_iter().collect::<Dataset>();
    let options = rdf_canon::CanonicalizationOptions {
        hndq_call_limit: Some(limits.max_hndq_calls),
    };
    rdf_canon::canonicalize_with::<sha2::Sha256>(&dataset, &options).map_err(|e| match e {
        rdf_canon::CanonicalizationError::HndqCallLimitExceeded(limit) => {
            Error::CanonicalizationLimit { limit }
        }
        other => Error::Canonicalization {
            reason: other.to_string(),
        },
    })
}

/// Checks the size and depth of `document`, then converts it to RDF with the bundled contexts
/// (JSON-LD 1.1 `toRdf`, no base IRI, no expand context: as Mastodon's `JSON::LD::API.toRdf`).
pub(crate) fn to_quads(document: &serde_json::Value, limits: &Limits) -> Result<Vec<Quad>, Error> {
    check_depth(document, limits.max_depth)?;
    // `serde_json::Value` always serializes: its keys are strings.
    let text = document.to_string();
    if text.len() > limits.max_bytes {
        return Err(Error::TooLarge {
            size: text.len(),
            limit: limits.max_bytes,
        });
    }
    refuse_undecodable_iris(document, None)?;
    let (value, _) =
        json_ld::syntax::Value::parse_str(&text).map_err(|e| Error::InvalidJsonLd {
            code: "loading document failed".to_owned(),
            message: e.to_string(),
        })?;
    let input = RemoteDocument::<IriBuf, _>::new(None, None, value);
    let loader = BundledLoader::default();
    let generator = generator::Blank::new_with_prefix("b".to_owned());
    let mut rdf =
        futures::executor::block_on(input.to_rdf_using(generator, &loader, Options::default()))
            .map_err(|e| {
                let json_ld::ToRdfError::Expand(e) = e;
                match loader.unknown() {
                    Some(url) => Error::RemoteContext {
                        url: url.to_owned(),
                    },
                    None => Error::InvalidJsonLd {
                        code: e.code().as_str().to_owned(),
                        message: e.to_string(),
                    },
                }
            })?;
    let mut quads = Vec::new();
    for rdf_types::Quad(s, p, o, g) in rdf.cloned_quads() {
        if quads.len() == limits.max_quads {
            return Err(Error::TooManyQuads {
                limit: limits.max_quads,
            });
        }
        quads.push(Quad::new(
            subject(s)?,
            predicate(p)?,
            object(o)?,
            match g {
                None => GraphName::DefaultGraph,
                Some(g) => match subject(g)? {
                    NamedOrBlankNode::NamedNode(n) => GraphName::NamedNode(n),
                    NamedOrBlankNode::BlankNode(b) => GraphName::BlankNode(b),
                },
            },
        ));
    }
    Ok(quads)
}

/// The statements must be those of a tree rooted at `root`: no named graph, `root` the object
/// of no other node's statement, every node reachable from it.
fn check_structure(quads: &[Quad], root: &str) -> Result<(), Error> {
    if let Some(quad) = quads.iter().find(|q| !q.graph_name.is_default_graph()) {
        return Err(Structure::NamedGraph {
            graph: quad.graph_name.to_string(),
        }
        .into());
    }
    let root_node = NamedNode::new(root).map_err(|_| Structure::NoId)?;
    if let Some(quad) = quads.iter().find(|q| {
        // A node may point at itself (Roadhouse's `url`); only a parent makes it nested.
        matches!(&q.object, Term::NamedNode(n) if *n == root_node)
            && !matches!(&q.subject, Subject::NamedNode(n) if *n == root_node)
    }) {
        return Err(Structure::RootReferenced {
            id: root.to_owned(),
            statement: quad.to_string(),
        }
        .into());
    }
    let mut edges: HashMap<&Subject, Vec<Subject>> = HashMap::new();
    for quad in quads {
        let target = match &quad.object {
            Term::NamedNode(n) => Subject::NamedNode(n.clone()),
            Term::BlankNode(b) => Subject::BlankNode(b.clone()),
            _ => continue,
        };
        edges.entry(&quad.subject).or_default().push(target);
    }
    let start = Subject::NamedNode(root_node);
    let mut reached: HashSet<Subject> = HashSet::new();
    let mut stack = vec![start];
    while let Some(node) = stack.pop() {
        if let Some(next) = edges.get(&node) {
            stack.extend(next.iter().filter(|n| !reached.contains(*n)).cloned());
        }
        reached.insert(node);
    }
    if let Some(quad) = quads.iter().find(|q| !reached.contains(&q.subject)) {
        return Err(Structure::Detached {
            id: root.to_owned(),
            node: quad.subject.to_string(),
        }
        .into());
    }
    Ok(())
}

/// Bounds the orderings URDNA2015's "Hash N-Degree Quads" tries. That step groups the blank
/// nodes linked to a node by a hash of (position, property, the linked node's first-degree
/// hash) and tries every permutation of each group, so a node linked by one property to n
/// blank nodes with the same content costs n! orderings, whatever the call bound. Groups here
/// are keyed by the same data (its first-degree content instead of the hash of it), so no
/// group URDNA2015 forms is larger than the largest counted here.
fn check_alike_blank_nodes(quads: &[Quad], limit: usize) -> Result<(), Error> {
    // A blank node's first-degree content: its statements with itself written `_:a` and every
    // other blank node `_:z`, sorted (URDNA2015 §4.6, before hashing).
    let mut content: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for quad in quads {
        for node in blank_nodes(quad) {
            content
                .entry(node)
                .or_default()
                .push(first_degree_line(quad, node));
        }
    }
    if content.len() <= limit {
        return Ok(());
    }
    for lines in content.values_mut() {
        lines.sort_unstable();
    }
    // (node, position, property, related content) -> related nodes
    let mut groups: HashMap<(&str, char, &str, &Vec<String>), BTreeSet<&str>> = HashMap::new();
    for quad in quads {
        let nodes = blank_nodes(quad);
        for &node in &nodes {
            for &(related, position) in &positions(quad) {
                if related == node {
                    continue;
                }
                let Some(related_content) = content.get(related) else {
                    continue;
                };
                let group = groups
                    .entry((node, position, quad.predicate.as_str(), related_content))
                    .or_default();
                group.insert(related);
                if group.len() > limit {
                    return Err(Error::TooManyAlikeBlankNodes {
                        count: group.len(),
                        limit,
                    });
                }
            }
        }
    }
    Ok(())
}

/// The blank nodes of a statement, with their position (`s`, `o`, `g`).
fn positions(quad: &Quad) -> Vec<(&str, char)> {
    let mut out = Vec::new();
    if let Subject::BlankNode(b) = &quad.subject {
        out.push((b.as_str(), 's'));
    }
    if let Term::BlankNode(b) = &quad.object {
        out.push((b.as_str(), 'o'));
    }
    if let GraphName::BlankNode(b) = &quad.graph_name {
        out.push((b.as_str(), 'g'));
    }
    out
}

fn blank_nodes(quad: &Quad) -> Vec<&str> {
    let mut nodes: Vec<&str> = positions(quad).into_iter().map(|(n, _)| n).collect();
    nodes.dedup();
    nodes
}

fn first_degree_line(quad: &Quad, node: &str) -> String {
    let label = |b: &BlankNode| if b.as_str() == node { "_:a" } else { "_:z" };
    let subject = match &quad.subject {
        Subject::BlankNode(b) => label(b).to_owned(),
        other => other.to_string(),
    };
    let object = match &quad.object {
        Term::BlankNode(b) => label(b).to_owned(),
        other => other.to_string(),
    };
    let graph = match &quad.graph_name {
        GraphName::BlankNode(b) => label(b).to_owned(),
        other => other.to_string(),
    };
    format!("{subject} {} {object} {graph}", quad.predicate)
}

/// Checks nesting without recursing: run it before anything clones, drops or walks the value
/// recursively.
pub(crate) fn check_depth(value: &serde_json::Value, limit: usize) -> Result<(), Error> {
    let mut stack = vec![(value, 0usize)];
    while let Some((value, depth)) = stack.pop() {
        let children: Box<dyn Iterator<Item = &serde_json::Value>> = match value {
            serde_json::Value::Array(items) => Box::new(items.iter()),
            serde_json::Value::Object(members) => Box::new(members.values()),
            _ => continue,
        };
        if depth >= limit {
            return Err(Error::TooDeep { limit });
        }
        stack.extend(children.map(|child| (child, depth + 1)));
    }
    Ok(())
}

fn subject(id: ValidId) -> Result<NamedOrBlankNode, Error> {
    Ok(match id {
        ValidId::Iri(iri) => named_node(iri)?.into(),
        ValidId::Blank(blank) => BlankNode::new(blank.suffix())
            .map_err(|e| Error::InvalidTerm {
                term: blank.to_string(),
                reason: e.to_string(),
            })?
            .into(),
    })
}

fn predicate(id: ValidId) -> Result<NamedNode, Error> {
    match id {
        ValidId::Iri(iri) => named_node(iri),
        // Only generalized RDF has blank-node predicates, and it is not asked for.
        ValidId::Blank(blank) => Err(Error::InvalidTerm {
            term: blank.to_string(),
            reason: "a blank node cannot be a predicate".to_owned(),
        }),
    }
}

fn object(term: rdf_types::Term<ValidId, rdf_types::Literal>) -> Result<Term, Error> {
    Ok(match term {
        rdf_types::Term::Id(id) => match subject(id)? {
            NamedOrBlankNode::NamedNode(n) => n.into(),
            NamedOrBlankNode::BlankNode(b) => b.into(),
        },
        rdf_types::Term::Literal(literal) => match literal.type_ {
            LiteralType::Any(datatype) => {
                Literal::new_typed_literal(literal.value, named_node(datatype)?).into()
            }
            // Validated by the JSON-LD processor; kept as written (see docs/ld-signatures.md).
            LiteralType::LangString(tag) => {
                Literal::new_language_tagged_literal_unchecked(literal.value, tag.as_str()).into()
            }
        },
    })
}

fn named_node(iri: IriBuf) -> Result<NamedNode, Error> {
    NamedNode::new(iri.as_str()).map_err(|e| Error::InvalidTerm {
        term: iri.to_string(),
        reason: e.to_string(),
    })
}

/// Refuses IRIs whose percent-encoded bytes are not UTF-8 (`https://example.com/?q=%ac`): the
/// IRI library under the JSON-LD processor panics when it compares them (found by the
/// `jsonld_expand` fuzz target of activitypub-core). A string counts as an IRI when it is a
/// member name, the value of a member that holds ids or types, or has an IRI's delimiters.
fn refuse_undecodable_iris(value: &serde_json::Value, member: Option<&str>) -> Result<(), Error> {
    const ID_MEMBERS: [&str; 6] = ["@id", "id", "@base", "@vocab", "@type", "type"];
    let refuse = |term: &str| Error::InvalidTerm {
        term: term.to_owned(),
        reason: "its percent-encoded bytes are not UTF-8".to_owned(),
    };
    match value {
        serde_json::Value::String(text) => {
            let iri_like = member.is_some_and(|m| ID_MEMBERS.contains(&m))
                || text.contains([':', '/', '?', '#']);
            if iri_like && !percent_decodes_to_utf8(text) {
                return Err(refuse(text));
            }
        }
        serde_json::Value::Array(items) => {
            for item in items {
                refuse_undecodable_iris(item, member)?;
            }
        }
        serde_json::Value::Object(members) => {
            for (name, value) in members {
                if !percent_decodes_to_utf8(name) {
                    return Err(refuse(name));
                }
                refuse_undecodable_iris(value, Some(name))?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn percent_decodes_to_utf8(text: &str) -> bool {
    if !text.contains('%') {
        return true;
    }
    let hex = |b: u8| char::from(b).to_digit(16);
    let mut out = Vec::with_capacity(text.len());
    let mut rest = text.as_bytes();
    while let Some((&first, tail)) = rest.split_first() {
        if first == b'%'
            && let [high, low, after @ ..] = tail
            && let (Some(high), Some(low)) = (hex(*high), hex(*low))
        {
            // Two hex digits are below 256.
            out.push(u8::try_from(high * 16 + low).unwrap_or(u8::MAX));
            rest = after;
            continue;
        }
        out.push(first);
        rest = tail;
    }
    std::str::from_utf8(&out).is_ok()
}
