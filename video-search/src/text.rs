//! Reading what a person typed into the search box: words and quoted phrases, nothing else.
//!
//! No query language is exposed: characters that are syntax elsewhere (`+`, `-`, `:`, `*`,
//! brackets, an unmatched quote) are separators, so no input is malformed.

/// One part of the typed text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Part {
    /// Text outside quotes.
    Words(String),
    /// Text between double quotes (an unterminated quote runs to the end).
    Phrase(String),
}

/// Cuts `text` at `max_chars` characters and splits it into words and phrases.
pub(crate) fn split(text: &str, max_chars: usize) -> Vec<Part> {
    let cut = match text.char_indices().nth(max_chars) {
        Some((at, _)) => text.get(..at).unwrap_or(text),
        None => text,
    };
    let mut parts = Vec::new();
    let mut in_phrase = false;
    for (i, piece) in cut.split(['"', '“', '”', '«', '»']).enumerate() {
        if i > 0 {
            in_phrase = !in_phrase;
        }
        if piece.trim().is_empty() {
            continue;
        }
        if in_phrase {
            parts.push(Part::Phrase(piece.to_owned()));
        } else {
            parts.push(Part::Words(piece.to_owned()));
        }
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_make_phrases_and_an_open_quote_runs_to_the_end() {
        assert_eq!(
            split(r#"linux "free software" kde "open"#, 100),
            vec![
                Part::Words("linux ".into()),
                Part::Phrase("free software".into()),
                Part::Words(" kde ".into()),
                Part::Phrase("open".into()),
            ]
        );
    }

    #[test]
    fn cut_on_a_character_boundary() {
        assert_eq!(split("ééé", 2), vec![Part::Words("éé".into())]);
    }
}
