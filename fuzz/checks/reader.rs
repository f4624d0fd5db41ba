// Reading structured values from a fuzz input, shared by the checks that build documents from
// arbitrary parts (`include!`d by them). Strings end at a NUL byte, so that the fuzzer can grow,
// shrink and splice them; numbers and choices take bytes as they come, and an exhausted input
// reads as zeros and empty strings.

/// A cursor over a fuzz input.
#[allow(dead_code)]
pub(crate) struct Reader<'a> {
    data: &'a [u8],
}

#[allow(dead_code)]
impl<'a> Reader<'a> {
    /// A reader of `data`.
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Self { data }
    }

    /// Whether everything was read.
    pub(crate) fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// One byte (0 at the end).
    pub(crate) fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&first, rest)) => {
                self.data = rest;
                first
            }
            None => 0,
        }
    }

    /// A choice among `n` (at least 1).
    pub(crate) fn choose(&mut self, n: usize) -> usize {
        usize::from(self.byte()) % n.max(1)
    }

    /// A coin toss.
    pub(crate) fn flag(&mut self) -> bool {
        self.byte() & 1 == 1
    }

    /// Eight bytes, little-endian (missing bytes are zeros).
    pub(crate) fn u64(&mut self) -> u64 {
        let mut bytes = [0_u8; 8];
        for byte in &mut bytes {
            *byte = self.byte();
        }
        u64::from_le_bytes(bytes)
    }

    /// The bytes up to the next NUL (or the end), as text (invalid UTF-8 replaced).
    pub(crate) fn text(&mut self) -> String {
        let end = self
            .data
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(self.data.len());
        let (text, rest) = self.data.split_at(end);
        self.data = rest.get(1..).unwrap_or_default();
        String::from_utf8_lossy(text).into_owned()
    }

    /// `Some` of what `read` reads, or `None`, by a coin toss.
    pub(crate) fn maybe<T>(&mut self, read: impl FnOnce(&mut Self) -> T) -> Option<T> {
        if self.flag() { Some(read(self)) } else { None }
    }

    /// A JSON value of at most `depth` levels of nesting.
    pub(crate) fn json(&mut self, depth: usize) -> serde_json::Value {
        use serde_json::Value;
        match self.choose(if depth == 0 { 5 } else { 7 }) {
            0 => Value::Null,
            1 => Value::Bool(self.flag()),
            2 => Value::from(self.u64()),
            3 => Value::from(-(i64::from(self.byte()))),
            4 => Value::String(self.text()),
            5 => Value::Array((0..self.choose(4)).map(|_| self.json(depth - 1)).collect()),
            _ => Value::Object(
                (0..self.choose(4))
                    .map(|_| (self.text(), self.json(depth - 1)))
                    .collect(),
            ),
        }
    }
}
