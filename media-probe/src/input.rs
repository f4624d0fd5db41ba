//! The source as the readers see it: reads at offsets, within the file and the limits, through
//! a small cache so that the many tiny header reads cost one read of the source each block.

use std::io::{self, Read, Seek, SeekFrom};

use crate::{Element, Limit, Limits, ProbeError};

/// Reads of at most this many bytes go through the cache.
const BLOCK: usize = 8 * 1024;

pub(crate) struct Input<'a, R: ?Sized> {
    source: &'a mut R,
    len: u64,
    pub(crate) limits: &'a Limits,
    /// Where the source's cursor is, when known.
    position: Option<u64>,
    cache_start: u64,
    cache: Vec<u8>,
    bytes_read: u64,
    elements: u64,
}

impl<'a, R: Read + Seek + ?Sized> Input<'a, R> {
    pub(crate) fn new(source: &'a mut R, len: u64, limits: &'a Limits) -> Self {
        Self {
            source,
            len,
            limits,
            position: None,
            cache_start: 0,
            cache: Vec::new(),
            bytes_read: 0,
            elements: 0,
        }
    }

    /// The file's length.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// Counts one box, element or page visited.
    pub(crate) fn visit(&mut self, element: Element, offset: u64) -> Result<(), ProbeError> {
        self.elements += 1;
        if self.elements > self.limits.max_elements {
            return Err(ProbeError::LimitExceeded {
                element,
                offset,
                limit: Limit::Elements,
                value: self.limits.max_elements,
            });
        }
        Ok(())
    }

    /// Fills `buf` from `offset`; the whole of it must be in the file.
    pub(crate) fn read_at(
        &mut self,
        offset: u64,
        buf: &mut [u8],
        element: Element,
    ) -> Result<(), ProbeError> {
        let wanted = buf.len() as u64;
        let in_file = offset
            .checked_add(wanted)
            .is_some_and(|end| end <= self.len);
        if !in_file {
            return Err(ProbeError::Truncated {
                element,
                offset,
                needed: wanted,
                file_len: self.len,
            });
        }
        if let Some(cached) = self.cached(offset, buf.len()) {
            buf.copy_from_slice(cached);
            return Ok(());
        }
        if buf.len() > BLOCK {
            return self.read_source(offset, buf, element);
        }
        let block = usize::try_from((self.len - offset).min(BLOCK as u64)).unwrap_or(BLOCK);
        let mut cache = std::mem::take(&mut self.cache);
        cache.resize(block, 0);
        let read = self.read_source(offset, &mut cache, element);
        self.cache = cache;
        if let Err(error) = read {
            self.cache.clear();
            return Err(error);
        }
        self.cache_start = offset;
        match self.cached(offset, buf.len()) {
            Some(cached) => {
                buf.copy_from_slice(cached);
                Ok(())
            }
            // Cannot happen: the block holds buf.len() bytes from offset.
            None => Err(ProbeError::Truncated {
                element,
                offset,
                needed: wanted,
                file_len: self.len,
            }),
        }
    }

    /// Reads `size` bytes from `offset` into a new buffer, refusing more than
    /// `max_element_bytes`.
    pub(crate) fn read_vec(
        &mut self,
        offset: u64,
        size: u64,
        element: Element,
    ) -> Result<Vec<u8>, ProbeError> {
        let limit = self.limits.max_element_bytes;
        let too_large = ProbeError::TooLarge {
            element,
            offset,
            size,
            limit,
        };
        if size > limit {
            return Err(too_large);
        }
        let Ok(size) = usize::try_from(size) else {
            return Err(too_large);
        };
        let mut buf = vec![0; size];
        self.read_at(offset, &mut buf, element)?;
        Ok(buf)
    }

    /// Reads at most `max` bytes from `offset`, fewer where the file ends.
    pub(crate) fn read_up_to(
        &mut self,
        offset: u64,
        max: usize,
        element: Element,
    ) -> Result<Vec<u8>, ProbeError> {
        let available = self.len.saturating_sub(offset);
        self.read_vec(offset, available.min(max as u64), element)
    }

    fn cached(&self, offset: u64, len: usize) -> Option<&[u8]> {
        let start = usize::try_from(offset.checked_sub(self.cache_start)?).ok()?;
        self.cache.get(start..start.checked_add(len)?)
    }

    fn read_source(
        &mut self,
        offset: u64,
        buf: &mut [u8],
        element: Element,
    ) -> Result<(), ProbeError> {
        let wanted = buf.len() as u64;
        self.bytes_read = self.bytes_read.saturating_add(wanted);
        if self.bytes_read > self.limits.max_bytes_read {
            return Err(ProbeError::LimitExceeded {
                element,
                offset,
                limit: Limit::BytesRead,
                value: self.limits.max_bytes_read,
            });
        }
        let io_error = |source| ProbeError::Io { offset, source };
        if self.position != Some(offset) {
            self.position = None;
            self.source
                .seek(SeekFrom::Start(offset))
                .map_err(io_error)?;
        }
        match self.source.read_exact(buf) {
            Ok(()) => {
                self.position = Some(offset + wanted);
                Ok(())
            }
            Err(error) => {
                self.position = None;
                if error.kind() == io::ErrorKind::UnexpectedEof {
                    // The source is shorter than the length it was given with.
                    Err(ProbeError::Truncated {
                        element,
                        offset,
                        needed: wanted,
                        file_len: self.len,
                    })
                } else {
                    Err(io_error(error))
                }
            }
        }
    }
}
