//! Fuzz target for the scanner: any bytes, under a few grammars, must scan without panicking
//! and keep the scanner's invariants (order, no overlap, positions, byte-exact round trip).
//! Each token's key path is also looked up in the input itself, which feeds arbitrary
//! (sometimes JSON) values to the key lookup.

#![no_main]

use cm::internals::{Grammar, lookup, render, scan};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first byte picks the grammar, so one corpus covers them all.
    let Some((&choice, input)) = data.split_first() else {
        return;
    };
    let grammar = match choice % 4 {
        0 => Grammar::default(),
        1 => Grammar::default().with_prefixes(["ENV", "FILE", "SECRETS", "XVAULT"]),
        2 => Grammar::new("#", "%").unwrap(),
        _ => Grammar::new("::", "\u{e9}").unwrap(),
    };
    let scanned = scan(&grammar, input);

    let mut spans: Vec<_> = scanned
        .tokens
        .iter()
        .map(|t| (t.span, t.pos.line, t.pos.column))
        .collect();
    spans.extend(scanned.errors.iter().map(|e| (e.span, e.pos.line, e.pos.column)));
    spans.sort_by_key(|(span, _, _)| span.start);
    let (mut line, mut line_start, mut counted) = (1, 0, 0);
    let mut previous_end = 0;
    for (span, token_line, column) in spans {
        assert!(previous_end <= span.start && span.start < span.end && span.end <= input.len());
        for (offset, &b) in input[counted..span.start].iter().enumerate() {
            if b == b'\n' {
                line += 1;
                line_start = counted + offset + 1;
            }
        }
        counted = span.start;
        assert_eq!((token_line, column), (line, span.start - line_start + 1));
        previous_end = span.end;
    }

    let same = render(
        input,
        scanned.tokens.iter().map(|t| (t.span, t.text(input))),
    );
    assert_eq!(same, input);

    for token in &scanned.tokens {
        assert!(!token.path(input).is_empty());
        assert!(std::str::from_utf8(token.path(input)).is_ok());
        if let Some(key) = token.key_path(input) {
            let _ = lookup(input, key);
        }
    }
});
