//! Text analysis: how words become index terms, the same way for documents and queries.
//!
//! Every text is split on non-alphanumeric characters, lower-cased and folded to ASCII where a
//! letter has an ASCII form (`Électricité` → `electricite`). That folded form is indexed in
//! the unstemmed fields of every document. The stemmed fields hold the folded words stemmed by
//! the document's own language (Snowball); a query is stemmed with each language it may match.
//! Folding comes before stemming on both sides, so an unaccented query stems like the accented
//! text it was typed for.

use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer,
    TextAnalyzer,
};

/// Tokens longer than this many bytes are dropped (base64 blobs, long URLs).
const MAX_TOKEN_BYTES: usize = 40;

/// The name the unstemmed analyzer is registered under. The analyzers' names are part of the
/// index's schema, so the `1` here and in [`stemmed_name`] is the layout version: change it with
/// any change of analysis, and an index made by the old analysis is refused
/// (`IndexError::LayoutChanged`) instead of searched with terms it does not hold.
pub(crate) const FOLDED: &str = "vs1_folded";

/// The languages with a stemmed field, by the primary subtag of their code.
pub const STEMMED_LANGUAGES: &[&str] = &[
    "ar", "da", "de", "el", "en", "es", "fi", "fr", "hu", "it", "nl", "no", "pt", "ro", "ru", "sv",
    "ta", "tr",
];

fn tantivy_language(code: &str) -> Option<Language> {
    Some(match code {
        "ar" => Language::Arabic,
        "da" => Language::Danish,
        "de" => Language::German,
        "el" => Language::Greek,
        "en" => Language::English,
        "es" => Language::Spanish,
        "fi" => Language::Finnish,
        "fr" => Language::French,
        "hu" => Language::Hungarian,
        "it" => Language::Italian,
        "nl" => Language::Dutch,
        "no" => Language::Norwegian,
        "pt" => Language::Portuguese,
        "ro" => Language::Romanian,
        "ru" => Language::Russian,
        "sv" => Language::Swedish,
        "ta" => Language::Tamil,
        "tr" => Language::Turkish,
        _ => return None,
    })
}

/// The position in [`STEMMED_LANGUAGES`] of the stemmer for a language code such as `fr`,
/// `pt-BR` or `nb` (PeerTube's codes are ISO 639 with optional region or script), if any.
pub fn stemmer_index(code: &str) -> Option<usize> {
    let primary = code
        .split(['-', '_'])
        .next()
        .unwrap_or(code)
        .to_ascii_lowercase();
    let primary = match primary.as_str() {
        "nb" | "nn" => "no",
        other => other,
    };
    STEMMED_LANGUAGES.iter().position(|c| *c == primary)
}

/// The name a language's stemmed analyzer is registered under.
pub(crate) fn stemmed_name(code: &str) -> String {
    format!("vs1_stem_{code}")
}

/// Splitting, lower-casing and folding, no stemming.
pub(crate) fn folded_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(MAX_TOKEN_BYTES))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .build()
}

/// The folded analyzer followed by the stemmer of `code` (one of [`STEMMED_LANGUAGES`]).
pub(crate) fn stemmed_analyzer(code: &str) -> TextAnalyzer {
    let builder = TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(MAX_TOKEN_BYTES))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter);
    match tantivy_language(code) {
        Some(language) => builder.filter(Stemmer::new(language)).build(),
        None => builder.build(),
    }
}

/// The terms an analyzer makes of `text`.
pub(crate) fn terms(analyzer: &mut TextAnalyzer, text: &str) -> Vec<String> {
    let mut stream = analyzer.token_stream(text);
    let mut out = Vec::new();
    while stream.advance() {
        out.push(stream.token().text.clone());
    }
    out
}

/// `text` lower-cased and folded as one keyword (tags, names to sort by).
pub(crate) fn fold_keyword(analyzer: &mut TextAnalyzer, text: &str) -> String {
    terms(analyzer, text).join(" ")
}
