//! Bounds on the work one document may cost.

/// How much work verifying or signing one document may take. Past any bound the operation
/// fails with a typed error; it never hangs.
///
/// The defaults leave room for every real activity we have seen (a Mastodon `Create(Note)` is
/// about 3 KiB, 8 levels deep and 40 statements; a PeerTube `Video` a few hundred statements)
/// while keeping a crafted document to milliseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Largest document, in bytes of compact JSON. Default 1 MiB (Mastodon refuses larger
    /// inbox bodies).
    pub max_bytes: usize,
    /// Deepest nesting of arrays and objects. Default 32.
    pub max_depth: usize,
    /// Most RDF statements the document may produce. Default 10 000.
    pub max_quads: usize,
    /// Most blank nodes with the same content linked to one node by one property (URDNA2015
    /// tries every ordering of them: 6 is 720 orderings). Default 6.
    pub max_alike_blank_nodes: usize,
    /// Most calls of URDNA2015's "Hash N-Degree Quads" step. Real activities need none or a
    /// few; the default, 4000, is rdf-canon's.
    pub max_hndq_calls: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_bytes: 1024 * 1024,
            max_depth: 32,
            max_quads: 10_000,
            max_alike_blank_nodes: 6,
            max_hndq_calls: 4000,
        }
    }
}

impl Limits {
    /// The default limits.
    pub fn new() -> Self {
        Self::default()
    }

    /// With another [`max_bytes`](Self::max_bytes).
    pub fn with_max_bytes(self, max_bytes: usize) -> Self {
        Self { max_bytes, ..self }
    }

    /// With another [`max_depth`](Self::max_depth).
    pub fn with_max_depth(self, max_depth: usize) -> Self {
        Self { max_depth, ..self }
    }

    /// With another [`max_quads`](Self::max_quads).
    pub fn with_max_quads(self, max_quads: usize) -> Self {
        Self { max_quads, ..self }
    }

    /// With another [`max_alike_blank_nodes`](Self::max_alike_blank_nodes).
    pub fn with_max_alike_blank_nodes(self, max_alike_blank_nodes: usize) -> Self {
        Self {
            max_alike_blank_nodes,
            ..self
        }
    }

    /// With another [`max_hndq_calls`](Self::max_hndq_calls).
    pub fn with_max_hndq_calls(self, max_hndq_calls: usize) -> Self {
        Self {
            max_hndq_calls,
            ..self
        }
    }
}
