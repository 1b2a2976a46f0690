//! The header table: one entry per header line, inline for normal messages, spilling to the heap
//! only for messages with more than `INLINE` header lines.

use super::hdr::HdrId;

/// Header lines kept without heap allocation.
pub const INLINE: usize = 32;

/// Offsets of one header line in the message buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HField {
    pub name_start: u32,
    /// Start of the value (after the colon and leading whitespace).
    pub value_start: u32,
    /// End of the value (trailing whitespace and CRLF excluded).
    pub value_end: u32,
    /// End of the line, its CRLF included (start of the next header).
    pub line_end: u32,
    pub name_len: u16,
    pub id: HdrId,
}

impl HField {
    const EMPTY: HField = HField {
        name_start: 0,
        value_start: 0,
        value_end: 0,
        line_end: 0,
        name_len: 0,
        id: HdrId::Other,
    };
}

#[derive(Debug, Clone)]
pub(crate) struct HeaderTable {
    inline: [HField; INLINE],
    spill: Vec<HField>,
    len: u16,
    /// Index of the first header of each id, `u16::MAX` when absent.
    first: [u16; HdrId::COUNT],
    /// Header lines per id (saturating).
    count: [u8; HdrId::COUNT],
}

impl HeaderTable {
    pub fn new() -> Self {
        Self {
            inline: [HField::EMPTY; INLINE],
            spill: Vec::new(),
            len: 0,
            first: [u16::MAX; HdrId::COUNT],
            count: [0; HdrId::COUNT],
        }
    }

    pub fn push(&mut self, f: HField) {
        let i = self.len as usize;
        if i < INLINE {
            self.inline[i] = f;
        } else {
            self.spill.push(f);
        }
        let n = &mut self.count[f.id as usize];
        *n = n.saturating_add(1);
        let slot = &mut self.first[f.id as usize];
        if *slot == u16::MAX {
            *slot = self.len;
        }
        self.len += 1;
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.len as usize
    }

    #[inline]
    pub fn get(&self, i: usize) -> Option<&HField> {
        if i < INLINE {
            if i < self.len as usize {
                Some(&self.inline[i])
            } else {
                None
            }
        } else {
            self.spill.get(i - INLINE)
        }
    }

    /// Number of header lines with this id (saturates at 255).
    #[inline]
    pub fn count(&self, id: HdrId) -> usize {
        self.count[id as usize] as usize
    }

    #[inline]
    pub fn first(&self, id: HdrId) -> Option<usize> {
        let i = self.first[id as usize];
        (i != u16::MAX).then_some(i as usize)
    }
}
