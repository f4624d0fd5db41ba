//! What a reader of member names may take from a verified document.
//!
//! A signature covers statements. A program that reads the JSON by member names (`content`,
//! `to`, `type`) reads what the signer said only where each name means, under the document's
//! context, what the reader takes it to mean. Two rearrangements keep the statements and change
//! what such a reader sees (Mastodon's CVE-2022-24307 was of this kind; its fix compacts the
//! document against its own context before reading it):
//!
//! - a member that makes no statement: a name no context defines (ActivityStreams maps unknown
//!   names to blank nodes, which are dropped), a term defined as `null`, a blank-node or
//!   relative IRI: its value is not signed at all, so anyone may add or change it;
//! - a term an inline context redefines: with `{"content": "as:summary", "summary":
//!   "as:content"}` the values of `content` and `summary` can be swapped.
//!
//! [`readable`] walks the document with the term definitions its `@context` sets and removes
//! every member of either kind, listing it.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::{Map, Value};

use crate::contexts::{BUNDLED_CONTEXTS, bundled_context};

/// A term's meaning: the IRI (or keyword) it expands to, its type coercion and container.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Meaning {
    iri: String,
    coercion: Option<String>,
    container: Option<String>,
}

/// Term tables: what the document's context makes of each name (`actual`), and what a reader
/// knowing the bundled contexts takes it to mean (`expected`: the bundled definitions, and for
/// names they do not define, the document's own definitions).
struct Terms {
    actual: HashMap<String, Option<Meaning>>,
    bundled: HashMap<String, Option<Meaning>>,
    vocab: Option<String>,
}

impl Terms {
    fn new(context: Option<&Value>) -> Self {
        let mut terms = Self {
            actual: HashMap::new(),
            bundled: HashMap::new(),
            vocab: None,
        };
        let entries = match context {
            Some(Value::Array(items)) => items.iter().collect(),
            Some(other) => vec![other],
            None => Vec::new(),
        };
        for entry in entries {
            match entry {
                Value::String(url) => {
                    let Some((table, vocab)) = bundled_terms(url) else {
                        continue;
                    };
                    if vocab.is_some() {
                        terms.vocab.clone_from(vocab);
                    }
                    for (term, meaning) in table {
                        terms.bundled.insert(term.clone(), meaning.clone());
                        terms.actual.insert(term.clone(), meaning.clone());
                    }
                }
                Value::Object(definitions) => {
                    let mut vocab = terms.vocab.clone();
                    let table = define_with(definitions, &mut vocab, &terms.actual);
                    terms.vocab = vocab;
                    terms.actual.extend(table);
                }
                _ => {}
            }
        }
        terms
    }

    /// Whether member `name` makes a statement that means what a reader takes it to mean.
    fn readable(&self, name: &str) -> bool {
        if name.starts_with('@') {
            return true;
        }
        let actual = self.resolve_key(name, &self.actual);
        let Some(actual) = actual else {
            return false;
        };
        if !actual.iri.starts_with('@') && !is_absolute_iri(&actual.iri) {
            return false;
        }
        // A bundled name must keep its bundled meaning; a name the bundled contexts do not
        // define means what the document defines it as.
        match self.bundled.get(name) {
            Some(expected) => expected.as_ref() == Some(&actual),
            None => match name.split_once(':') {
                Some((prefix, _)) if self.bundled.contains_key(prefix) => {
                    self.bundled.get(prefix) == self.actual.get(prefix)
                }
                _ => true,
            },
        }
    }

    /// Whether `name`'s values are maps whose keys are languages, indexes, ids or types rather
    /// than terms.
    fn is_map(&self, name: &str) -> bool {
        let Some(Some(meaning)) = self.actual.get(name) else {
            return false;
        };
        meaning.container.as_deref().is_some_and(|container| {
            ["@language", "@index", "@id", "@type"]
                .iter()
                .any(|kind| container.contains(kind))
        })
    }

    fn resolve_key(&self, name: &str, table: &HashMap<String, Option<Meaning>>) -> Option<Meaning> {
        if let Some(defined) = table.get(name) {
            return defined.clone();
        }
        if let Some((prefix, suffix)) = name.split_once(':') {
            if prefix == "_" {
                return None;
            }
            if let Some(Some(base)) = table.get(prefix) {
                return Some(plain(format!("{}{suffix}", base.iri)));
            }
            return Some(plain(name.to_owned()));
        }
        self.vocab
            .as_ref()
            .map(|vocab| plain(format!("{vocab}{name}")))
    }
}

/// Removes from `document` every member whose value a reader of names cannot take as signed,
/// and returns the JSON pointers of those removed.
pub(crate) fn readable(document: &Value) -> (Value, Vec<String>) {
    let terms = Terms::new(document.get("@context"));
    let mut dropped = Vec::new();
    let mut copy = document.clone();
    prune(&mut copy, &terms, "", &mut dropped);
    (copy, dropped)
}

fn prune(value: &mut Value, terms: &Terms, pointer: &str, dropped: &mut Vec<String>) {
    match value {
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                prune(item, terms, &format!("{pointer}/{i}"), dropped);
            }
        }
        Value::Object(members) => {
            // A value object's members are keywords or its value; nothing below is a term.
            if members.contains_key("@value") {
                return;
            }
            let names: Vec<String> = members.keys().cloned().collect();
            for name in names {
                let here = format!("{pointer}/{}", name.replace('~', "~0").replace('/', "~1"));
                if name == "@context" || name == "signature" && pointer.is_empty() {
                    continue;
                }
                if !terms.readable(&name) {
                    members.remove(&name);
                    dropped.push(here);
                    continue;
                }
                match members.get_mut(&name) {
                    Some(Value::Object(map)) if terms.is_map(&name) => {
                        for (key, child) in map.iter_mut() {
                            let at =
                                format!("{here}/{}", key.replace('~', "~0").replace('/', "~1"));
                            prune(child, terms, &at, dropped);
                        }
                    }
                    Some(child) => prune(child, terms, &here, dropped),
                    None => {}
                }
            }
        }
        _ => {}
    }
}

/// A bundled context's term table and vocabulary, read once.
fn bundled_terms(url: &str) -> Option<&'static TermTable> {
    static TABLES: OnceLock<HashMap<&'static str, TermTable>> = OnceLock::new();
    let tables = TABLES.get_or_init(|| {
        BUNDLED_CONTEXTS
            .iter()
            .map(|context| {
                let mut vocab = None;
                let table = match serde_json::from_str::<Value>(context.document) {
                    Ok(Value::Object(document)) => match document.get("@context") {
                        Some(Value::Object(definitions)) => {
                            define_with(definitions, &mut vocab, &HashMap::new())
                        }
                        _ => HashMap::new(),
                    },
                    _ => HashMap::new(),
                };
                (context.url, (table, vocab))
            })
            .collect()
    });
    tables.get(bundled_context(url)?.url)
}

type TermTable = (HashMap<String, Option<Meaning>>, Option<String>);

/// The meanings an inline or bundled context object gives its terms. Compact IRIs resolve
/// against prefixes of the same object first, then of the contexts before it.
fn define_with(
    definitions: &Map<String, Value>,
    vocab: &mut Option<String>,
    before: &HashMap<String, Option<Meaning>>,
) -> HashMap<String, Option<Meaning>> {
    if let Some(value) = definitions.get("@vocab") {
        *vocab = value.as_str().map(str::to_owned);
    }
    let prefix_of = |prefix: &str| -> Option<String> {
        match definitions.get(prefix) {
            Some(Value::String(iri)) => Some(iri.clone()),
            Some(Value::Object(d)) => d.get("@id").and_then(Value::as_str).map(str::to_owned),
            _ => before.get(prefix).cloned().flatten().map(|m| m.iri),
        }
    };
    let expand = |text: &str| -> String {
        if text.starts_with('@') {
            return text.to_owned();
        }
        match text.split_once(':') {
            Some((prefix, suffix)) if !suffix.starts_with("//") => match prefix_of(prefix) {
                Some(base) => format!("{base}{suffix}"),
                None => text.to_owned(),
            },
            _ => text.to_owned(),
        }
    };
    let mut table = HashMap::new();
    for (term, definition) in definitions {
        if term.starts_with('@') {
            continue;
        }
        let meaning = match definition {
            Value::String(iri) => Some(plain(expand(iri))),
            Value::Object(d) => match d.get("@id").or_else(|| d.get("@reverse")) {
                Some(Value::String(iri)) if d.contains_key("@reverse") => {
                    Some(plain(format!("@reverse {}", expand(iri))))
                }
                Some(Value::String(iri)) => Some(Meaning {
                    iri: expand(iri),
                    coercion: d.get("@type").and_then(Value::as_str).map(expand),
                    container: d.get("@container").map(Value::to_string),
                }),
                // `{"@id": null}` and definitions without one (resolved by the vocabulary).
                Some(_) => None,
                None => vocab.as_ref().map(|v| Meaning {
                    iri: format!("{v}{term}"),
                    coercion: d.get("@type").and_then(Value::as_str).map(expand),
                    container: d.get("@container").map(Value::to_string),
                }),
            },
            _ => None,
        };
        table.insert(term.clone(), meaning);
    }
    table
}

fn plain(iri: String) -> Meaning {
    Meaning {
        iri,
        coercion: None,
        container: None,
    }
}

/// `scheme:rest` with a scheme as RFC 3987 spells it; `_:` blank nodes are not IRIs.
fn is_absolute_iri(text: &str) -> bool {
    let Some((scheme, _)) = text.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}
