//! Where in an input something is: [`Position`], a 1-based line and a 1-based **byte** column,
//! the one position type of the scanner and of envsubst, and [`LineCounter`], which computes it.
//!
//! Columns count bytes, not characters: that is exact for input that is not UTF-8, costs no
//! decoding, and is what editors that jump to `LINE:COL` by byte offset expect. A line ends at
//! `\n`, so the `\r` of a CRLF belongs to the line before. Pure: no I/O.

/// A 1-based line and 1-based byte column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Position {
    /// 1-based line (lines end at `\n`).
    pub line: usize,
    /// 1-based byte column.
    pub column: usize,
}

/// Turns byte offsets into [`Position`]s, counting only the bytes between successive offsets
/// (with a vectorised newline count), so offsets asked in increasing order cost one pass in
/// total. An offset before the previous one starts the count again from the top.
#[derive(Debug)]
pub(crate) struct LineCounter {
    /// Offset counted up to.
    pos: usize,
    line: usize,
    /// Offset of the first byte of `line`.
    line_start: usize,
}

impl Default for LineCounter {
    fn default() -> Self {
        LineCounter {
            pos: 0,
            line: 1,
            line_start: 0,
        }
    }
}

impl LineCounter {
    /// The position of `input[offset]` (or of the end, for `offset == input.len()`).
    pub(crate) fn locate(&mut self, input: &[u8], offset: usize) -> Position {
        if offset < self.pos {
            *self = LineCounter::default();
        }
        let gap = &input[self.pos..offset];
        // memchr's iterator count is vectorised; most gaps between tokens hold many lines.
        let newlines = memchr::memchr_iter(b'\n', gap).count();
        if newlines > 0 {
            self.line += newlines;
            let last = memchr::memrchr(b'\n', gap).expect("a newline was counted");
            self.line_start = self.pos + last + 1;
        }
        self.pos = offset;
        Position {
            line: self.line,
            column: offset - self.line_start + 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(line: usize, column: usize) -> Position {
        Position { line, column }
    }

    #[test]
    fn handles_out_of_order_queries() {
        let input = b"a\nbb\nccc";
        let mut counter = LineCounter::default();
        assert_eq!(counter.locate(input, 6), at(3, 2));
        assert_eq!(counter.locate(input, 2), at(2, 1));
        assert_eq!(counter.locate(input, 0), at(1, 1));
        assert_eq!(counter.locate(input, 8), at(3, 4));
    }

    #[test]
    fn columns_count_bytes_and_cr_belongs_to_its_line() {
        let input = "é日\r\nx$".as_bytes();
        let mut counter = LineCounter::default();
        assert_eq!(counter.locate(input, 5), at(1, 6));
        assert_eq!(counter.locate(input, 8), at(2, 2));
    }
}
