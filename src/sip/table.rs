//! The header table: one entry per header line, inline for normal messages, spilling to the heap
//! only for messages with more than `INLINE` header lines.

use super::hdr::HdrId;

const _: () = assert!(HdrId::COUNT <= 64, "HeaderTable::repeated is a u64 bit set");
const _: () = assert!(std::mem::size_of::<HField>() == 16);

/// Header lines kept without heap allocation.
pub const INLINE: usize = 32;

/// Offsets of one header line in the message buffer: 16 bytes, the line's start as u32 and the
/// rest as u16 offsets within the line (the parser caps a line at `MAX_LINE` bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HField {
    name_start: u32,
    /// Start of the value (after the colon and leading whitespace), from `name_start`.
    value_off: u16,
    /// Value length (trailing whitespace and CRLF excluded).
    value_len: u16,
    /// Line length, its CRLF included (the next header starts there).
    line_len: u16,
    name_len: u16,
    pub id: HdrId,
}

/// Longest header line (folded lines counted whole, CRLF excluded) a table entry can describe.
pub const MAX_LINE: usize = u16::MAX as usize - 2;

impl HField {
    /// All zero bytes (`Via` is id 0), so a new table is a memset. Never read: `get` stops at `len`.
    const EMPTY: HField = HField {
        name_start: 0,
        value_off: 0,
        value_len: 0,
        line_len: 0,
        name_len: 0,
        id: HdrId::Via,
    };

    /// Offsets are absolute; the line must be at most `MAX_LINE` bytes plus its line end.
    #[inline]
    pub fn new(
        id: HdrId,
        name_start: usize,
        name_len: usize,
        value_start: usize,
        value_end: usize,
        line_end: usize,
    ) -> HField {
        debug_assert!(line_end - name_start <= u16::MAX as usize);
        HField {
            name_start: name_start as u32,
            value_off: (value_start - name_start) as u16,
            value_len: (value_end - value_start) as u16,
            line_len: (line_end - name_start) as u16,
            name_len: name_len as u16,
            id,
        }
    }

    #[inline]
    pub fn name_start(&self) -> usize {
        self.name_start as usize
    }

    #[inline]
    pub fn name_len(&self) -> usize {
        self.name_len as usize
    }

    #[inline]
    pub fn value_start(&self) -> usize {
        self.name_start as usize + self.value_off as usize
    }

    #[inline]
    pub fn value_end(&self) -> usize {
        self.value_start() + self.value_len as usize
    }

    /// End of the line, its CRLF included (start of the next header).
    #[inline]
    pub fn line_end(&self) -> usize {
        self.name_start as usize + self.line_len as usize
    }
}

#[derive(Debug, Clone)]
pub(crate) struct HeaderTable {
    inline: [HField; INLINE],
    spill: Vec<HField>,
    len: u16,
    /// Index of the first header of each id, `u16::MAX` when absent.
    first: [u16; HdrId::COUNT],
    /// Bit `id` set when more than one line has that id.
    repeated: u64,
}

impl HeaderTable {
    pub fn new() -> Self {
        Self {
            inline: [HField::EMPTY; INLINE],
            spill: Vec::new(),
            len: 0,
            first: [u16::MAX; HdrId::COUNT],
            repeated: 0,
        }
    }

    pub fn push(&mut self, f: HField) {
        let i = self.len as usize;
        if i < INLINE {
            self.inline[i] = f;
        } else {
            self.spill.push(f);
        }
        let slot = &mut self.first[f.id as usize];
        if *slot == u16::MAX {
            *slot = self.len;
        } else {
            self.repeated |= 1 << f.id as u32;
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

    /// True when more than one header line has this id.
    #[inline]
    pub fn repeated(&self, id: HdrId) -> bool {
        self.repeated & (1 << id as u32) != 0
    }

    /// True when every one of `ids` has a line and none of `single` has more than one.
    #[inline]
    pub fn has_all_once(&self, ids: &[HdrId], single: u64) -> bool {
        self.repeated & single == 0 && ids.iter().all(|&id| self.first[id as usize] != u16::MAX)
    }

    #[inline]
    pub fn first(&self, id: HdrId) -> Option<usize> {
        let i = self.first[id as usize];
        (i != u16::MAX).then_some(i as usize)
    }
}
