//! The stream mask: copies a child's output, replacing every occurrence of a resolved value with
//! [`CONCEALED`], however the output is split into reads.
//!
//! All values are matched at once by one Aho-Corasick automaton, overlapping matches included,
//! and overlapping or touching occurrences are concealed as one run: with leftmost-first
//! matching, `abcdefghi` holding the values `abcdef` and `defghi` would leak `ghi`.
//!
//! A match can only be decided once every value that could start at a position has had the
//! chance to end there, so the last `longest - 1` bytes of each read are held back until the
//! next one (or the end). A match is reported in start order; everything before the point where
//! no undecided match can start is written out.

use std::sync::Arc;

use aho_corasick::automaton::Automaton;
use aho_corasick::dfa::DFA;
use aho_corasick::{Anchored, MatchKind};

/// What a concealed value is replaced with, as in `op run`'s `<concealed by 1Password>`.
pub(crate) const CONCEALED: &[u8] = b"<concealed by cm>";

/// Values shorter than this are not concealed: masking every `no` or `1` in a log would hide
/// more than it protects, and would tell a reader where the value is.
pub(crate) const MIN_LEN: usize = 4;

/// The values to conceal, compiled once and shared by the stdout and stderr streams.
#[derive(Debug, Clone)]
pub(crate) struct Patterns {
    /// A DFA rather than `AhoCorasick`, which links every automaton kind: one kind suffices,
    /// and the DFA's one lookup per byte is the fastest. Built without aho-corasick's SIMD
    /// prefilters (0.6 MiB of code), so [`Skip`] does their job.
    automaton: Option<Arc<DFA>>,
    skip: Skip,
    longest: usize,
}

/// How the search jumps to the next byte a value can start with while no value is under way:
/// memchr for up to three distinct first bytes (SIMD), else a byte table.
#[derive(Debug, Clone)]
enum Skip {
    One(u8),
    Two(u8, u8),
    Three(u8, u8, u8),
    Table(Box<[bool; 256]>),
}

impl Skip {
    fn new(values: &[&[u8]]) -> Skip {
        let mut firsts: Vec<u8> = values.iter().map(|v| v[0]).collect();
        firsts.sort_unstable();
        firsts.dedup();
        match firsts[..] {
            [a] => Skip::One(a),
            [a, b] => Skip::Two(a, b),
            [a, b, c] => Skip::Three(a, b, c),
            _ => {
                let mut table = Box::new([false; 256]);
                firsts.iter().for_each(|&b| table[usize::from(b)] = true);
                Skip::Table(table)
            }
        }
    }

    /// The offset of the first byte in `haystack` that a value can start with.
    fn find(&self, haystack: &[u8]) -> Option<usize> {
        match self {
            Skip::One(a) => memchr::memchr(*a, haystack),
            Skip::Two(a, b) => memchr::memchr2(*a, *b, haystack),
            Skip::Three(a, b, c) => memchr::memchr3(*a, *b, *c, haystack),
            Skip::Table(table) => haystack.iter().position(|&b| table[usize::from(b)]),
        }
    }
}

impl Patterns {
    /// Compiles `values` (duplicates and values shorter than [`MIN_LEN`] dropped; the caller
    /// warns about the short ones).
    pub(crate) fn new<'a>(values: impl IntoIterator<Item = &'a [u8]>) -> Patterns {
        let mut values: Vec<&[u8]> = values.into_iter().filter(|v| v.len() >= MIN_LEN).collect();
        values.sort_unstable();
        values.dedup();
        let longest = values.iter().map(|v| v.len()).max().unwrap_or(0);
        if values.is_empty() {
            return Patterns {
                automaton: None,
                skip: Skip::Table(Box::new([false; 256])),
                longest: 0,
            };
        }
        let automaton = DFA::builder()
            .match_kind(MatchKind::Standard)
            .build(&values)
            .expect("values within aho-corasick's size limits");
        Patterns {
            automaton: Some(Arc::new(automaton)),
            skip: Skip::new(&values),
            longest,
        }
    }

    /// Appends every occurrence `(start, end)` in `haystack` of every value that starts before
    /// `decided`, overlapping ones included, in the order they end.
    fn find(&self, haystack: &[u8], decided: usize, found: &mut Vec<(usize, usize)>) {
        let Some(dfa) = &self.automaton else { return };
        let start = dfa
            .start_state(Anchored::No)
            .expect("an unanchored start state");
        let mut sid = start;
        let mut at = 0;
        while at < haystack.len() {
            if sid == start {
                // Nothing under way: no value starts before the next possible first byte, and
                // none that starts at or after `decided` is wanted yet.
                match self.skip.find(&haystack[at..]) {
                    Some(i) if at + i < decided => at += i,
                    _ => return,
                }
            }
            sid = dfa.next_state(Anchored::No, sid, haystack[at]);
            at += 1;
            if dfa.is_match(sid) {
                for i in 0..dfa.match_len(sid) {
                    let len = dfa.pattern_len(dfa.match_pattern(sid, i));
                    if at - len < decided {
                        found.push((at - len, at));
                    }
                }
            }
        }
    }

    /// True when nothing would ever be concealed.
    pub(crate) fn is_empty(&self) -> bool {
        self.automaton.is_none()
    }
}

/// One output stream's mask state.
#[derive(Debug)]
pub(crate) struct Mask {
    patterns: Patterns,
    /// The bytes not yet known to be free of an undecided match start: the held-back tail of the
    /// previous reads, then the new read.
    window: Vec<u8>,
    /// How many leading bytes of `window` are already written (or concealed).
    written: usize,
    /// How far into `window` the concealed run written last reaches; a match that starts before
    /// it extends the run instead of starting a new one.
    concealed_to: usize,
    /// Match starts found in the window, reused between reads.
    found: Vec<(usize, usize)>,
}

impl Mask {
    /// A mask for one stream.
    pub(crate) fn new(patterns: Patterns) -> Mask {
        Mask {
            patterns,
            window: Vec::new(),
            written: 0,
            concealed_to: 0,
            found: Vec::new(),
        }
    }

    /// Feeds one read; appends what can be written now to `out`.
    pub(crate) fn push(&mut self, input: &[u8], out: &mut Vec<u8>) {
        if self.patterns.is_empty() {
            out.extend_from_slice(input);
            return;
        }
        self.window.extend_from_slice(input);
        let decided = self.window.len().saturating_sub(self.patterns.longest - 1);
        self.emit(decided, out);
    }

    /// The stream ended: writes what was held back.
    pub(crate) fn finish(&mut self, out: &mut Vec<u8>) {
        if !self.patterns.is_empty() {
            self.emit(self.window.len(), out);
        }
    }

    /// Conceals every match that starts before `decided` and writes everything before
    /// `decided` (or before the end of the concealed run that crosses it), then keeps the
    /// window from `decided` on: a later match may start there.
    fn emit(&mut self, decided: usize, out: &mut Vec<u8>) {
        self.found.clear();
        self.patterns.find(&self.window, decided, &mut self.found);
        self.found.sort_unstable();
        for &(start, end) in &self.found {
            if start < self.concealed_to {
                self.concealed_to = self.concealed_to.max(end);
                continue;
            }
            let from = self.written.max(self.concealed_to);
            out.extend_from_slice(&self.window[from..start]);
            out.extend_from_slice(CONCEALED);
            self.concealed_to = end;
            self.written = end;
        }
        let from = self.written.max(self.concealed_to);
        if from < decided {
            out.extend_from_slice(&self.window[from..decided]);
        }
        self.written = self.written.max(decided);
        // Keep the undecided tail; the bytes of it already concealed stay for matching only.
        self.window.drain(..decided);
        self.written -= decided;
        self.concealed_to = self.concealed_to.saturating_sub(decided);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mask_in_pieces(values: &[&str], input: &[u8], piece: usize) -> Vec<u8> {
        let patterns = Patterns::new(values.iter().map(|v| v.as_bytes()));
        let mut mask = Mask::new(patterns);
        let mut out = Vec::new();
        for chunk in input.chunks(piece.max(1)) {
            mask.push(chunk, &mut out);
        }
        mask.finish(&mut out);
        out
    }

    /// The same output whatever the read size, from one byte at a time to all at once.
    fn masked(values: &[&str], input: &str) -> String {
        let whole = mask_in_pieces(values, input.as_bytes(), input.len());
        for piece in 1..=input.len() {
            assert_eq!(
                mask_in_pieces(values, input.as_bytes(), piece),
                whole,
                "reads of {piece} bytes"
            );
        }
        String::from_utf8(whole).unwrap()
    }

    #[test]
    fn values_are_concealed_wherever_the_reads_split_them() {
        assert_eq!(
            masked(&["hunter2"], "pw=hunter2\nagain hunter2!"),
            "pw=<concealed by cm>\nagain <concealed by cm>!"
        );
        assert_eq!(masked(&["hunter2"], "hunter"), "hunter");
        assert_eq!(masked(&["hunter2"], ""), "");
        assert_eq!(masked(&["hunter2"], "hunter2"), "<concealed by cm>");
    }

    #[test]
    fn overlapping_and_touching_values_are_one_concealed_run() {
        assert_eq!(
            masked(&["abcdef", "defghi"], "[abcdefghi]"),
            "[<concealed by cm>]"
        );
        assert_eq!(masked(&["abcd", "cd12"], "xabcd12y"), "x<concealed by cm>y");
        // A value inside another: the longer one decides the run.
        assert_eq!(
            masked(
                &["secret", "secret-and-more"],
                "a secret-and-more b secret c"
            ),
            "a <concealed by cm> b <concealed by cm> c"
        );
        // Back to back, without overlap: two runs.
        assert_eq!(
            masked(&["aaaa", "bbbb"], "aaaabbbb"),
            "<concealed by cm><concealed by cm>"
        );
        // A self-overlapping value repeated: one run, the stream never held whole.
        assert_eq!(masked(&["abab"], "xabababababy"), "x<concealed by cm>y");
    }

    #[test]
    fn short_values_are_not_concealed() {
        assert_eq!(
            masked(&["abc", "long enough"], "abc long enough"),
            "abc <concealed by cm>"
        );
        assert!(Patterns::new([&b"abc"[..]]).is_empty());
    }

    #[test]
    fn binary_output_is_passed_through_byte_for_byte() {
        let mut input: Vec<u8> = (0..=255u8).cycle().take(4096).collect();
        input.extend_from_slice(b"\xff\x00s3cr3t\x00\xfe");
        let out = mask_in_pieces(&["s3cr3t"], &input, 7);
        let mut want: Vec<u8> = (0..=255u8).cycle().take(4096).collect();
        want.extend_from_slice(b"\xff\x00<concealed by cm>\x00\xfe");
        assert_eq!(out, want);
    }

    #[test]
    fn without_values_the_stream_is_copied() {
        let input = b"anything \x00 at all";
        assert_eq!(mask_in_pieces(&[], input, 3), input);
    }

    proptest::proptest! {
        /// Any split of the stream gives the output of one read, and no value survives it.
        #[test]
        fn splitting_never_changes_the_output(
            input in proptest::collection::vec(proptest::sample::select(b"abcx".to_vec()), 0..200),
            piece in 1usize..20,
        ) {
            // Four first bytes: the byte-table skip (the unit tests above use memchr's).
            let values = ["abca", "cabc", "bbbb", "abcabc", "xcab"];
            let whole = mask_in_pieces(&values, &input, input.len().max(1));
            proptest::prop_assert_eq!(&mask_in_pieces(&values, &input, piece), &whole);
            for v in values {
                let v = v.as_bytes();
                proptest::prop_assert!(!whole.windows(v.len()).any(|w| w == v));
            }
        }
    }
}
