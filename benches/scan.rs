//! Throughput of the pure pipeline stages on generated text: scanning, plan building and
//! rendering.
//!
//! Two inputs, both deterministic (a fixed-seed generator, no files):
//! - sparse: 16 MiB of prose-like lines with one token per ~4 KiB (a large config file);
//! - dense: 1 MiB with one token per ~90 bytes (a template that is mostly tokens).
//!
//! The filler contains near-misses on purpose (`https://` URLs, `AWS` words, `:` and `|`), so
//! the scanner meets separator occurrences that are not tokens.
//!
//! Run with `cargo bench --bench scan -- --warm-up-time 1 --measurement-time 3`.

use std::hint::black_box;

use cm::internals::{Grammar, Plan, Token, render, scan};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// xorshift64*: enough randomness for filler text, and the same bytes on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const WORDS: &[&str] = &[
    "the",
    "config",
    "value",
    "server",
    "port",
    "timeout",
    "retry",
    "AWS",
    "region",
    "user",
    "enable",
    "true",
    "false",
    "https://example.com/path",
    "key: value",
    "a|b",
    "VAULTED",
    "secrets",
    "endpoint",
    "=",
    "#",
    "-",
    "8080",
    "log_level",
    "info",
];

const TOKENS: &[&str] = &[
    "AWSSECRETS:///app/db|password",
    "AWSSECRETS:///app/db|user",
    "AWSPARAMSTR:///config/service",
    "VAULT://kv/team/api|token[version=2]",
    "GCPSECRETS://projects/p/secrets/s",
    "AZKVSECRET://vault/name|conn.host",
];

/// About `len` bytes of filler lines with a token roughly every `every` bytes.
fn generate(len: usize, every: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng(seed);
    let mut out = Vec::with_capacity(len + 256);
    let mut next_token = rng.below(every);
    let mut line = 0;
    while out.len() < len {
        if out.len() >= next_token {
            // Spacing is measured between token starts.
            let at = out.len();
            out.extend_from_slice(TOKENS[rng.below(TOKENS.len())].as_bytes());
            // A distinct path now and then, so the plan has more than a handful of fetches.
            if rng.below(4) == 0 {
                out.extend_from_slice(format!("/{}", rng.below(1000)).as_bytes());
            }
            next_token = at + every / 2 + rng.below(every);
        } else {
            out.extend_from_slice(WORDS[rng.below(WORDS.len())].as_bytes());
        }
        line += 1;
        out.push(if line % 9 == 0 { b'\n' } else { b' ' });
    }
    out
}

fn inputs() -> [(&'static str, Vec<u8>); 2] {
    [
        ("sparse-16MiB", generate(16 << 20, 4096, 0x5eed)),
        ("dense-1MiB", generate(1 << 20, 90, 0xd15e)),
    ]
}

fn bench(c: &mut Criterion) {
    let grammar = Grammar::default().with_prefixes(["ENV", "FILE"]);
    for (name, input) in inputs() {
        let tokens: Vec<Token> = scan(&grammar, &input).tokens;
        assert!(!tokens.is_empty());
        eprintln!(
            "{name}: {} bytes, {} tokens (one per {} bytes)",
            input.len(),
            tokens.len(),
            input.len() / tokens.len()
        );
        // Values of a typical secret's length.
        let value = b"s3cr3t-value-0123456789abcdef";

        let mut group = c.benchmark_group(name);
        group.throughput(Throughput::Bytes(input.len() as u64));
        group.bench_function("scan", |b| {
            b.iter(|| scan(black_box(&grammar), black_box(&input)))
        });
        group.bench_function("plan", |b| {
            b.iter(|| Plan::from_tokens(black_box(&input), black_box(&tokens)))
        });
        group.bench_function("render", |b| {
            b.iter(|| {
                render(
                    black_box(&input),
                    tokens.iter().map(|t| (t.span, &value[..])),
                )
            })
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
