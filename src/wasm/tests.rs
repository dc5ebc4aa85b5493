//! The runtime against WAT modules compiled at test time, one module per case.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;

use super::*;

/// A module with a bump allocator (growing memory as needed; `deallocate` is a no-op, as in
/// the seed), `extra` items, and `strategy_token_value` doing `body`.
fn module(extra: &str, body: &str) -> String {
    format!(
        r#"(module
  {extra}
  (memory (export "memory") 1)
  (global $next (mut i32) (i32.const 1024))
  (func $allocate (export "allocate") (param $n i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $next))
    (global.set $next (i32.add (global.get $next)
      (i32.and (i32.add (local.get $n) (i32.const 7)) (i32.const -8))))
    (block $fits
      (br_if $fits (i32.le_u (global.get $next) (i32.shl (memory.size) (i32.const 16))))
      (drop (memory.grow (i32.add (i32.const 1) (i32.shr_u
        (i32.sub (global.get $next) (i32.shl (memory.size) (i32.const 16))) (i32.const 16))))))
    (local.get $p))
  (func (export "deallocate") (param i32 i32))
  (func (export "strategy_token_value")
    (param $in i32) (param $inLen i32) (param $out i32) (param $cap i32) (param $lenPtr i32)
    (result i32)
    {body}))"#
    )
}

/// `strategy_token_value` that echoes its input.
const ECHO: &str = r#"
    (i32.store (local.get $lenPtr) (local.get $inLen))
    (if (i32.gt_u (local.get $inLen) (local.get $cap)) (then (return (i32.const -1))))
    (memory.copy (local.get $out) (local.get $in) (local.get $inLen))
    (i32.const 0)"#;

fn limits() -> Limits {
    Limits::new(2, Duration::from_secs(10))
}

fn load_with(
    wat_text: &str,
    grants: Grants,
    limits: Limits,
    roots: Roots,
) -> Result<WasmPlugin, LoadError> {
    let bytes = wat::parse_str(wat_text).unwrap_or_else(|e| panic!("{e}\n{wat_text}"));
    let env = [
        (OsString::from("GRANTED"), OsString::from("g-value")),
        (OsString::from("OTHER"), OsString::from("o")),
    ];
    WasmPlugin::load_with_roots("T", &bytes, grants, limits, &env, roots)
}

fn load(wat_text: &str, limits: Limits) -> WasmPlugin {
    load_with(
        wat_text,
        Grants::default(),
        limits,
        Roots::Custom(rustls::RootCertStore::empty()),
    )
    .expect("loads")
}

async fn fetch(plugin: &WasmPlugin, path: &str, metadata: &str) -> Result<String, String> {
    plugin
        .fetch(path, metadata.as_bytes())
        .await
        .map(|v| String::from_utf8(v.expose().to_vec()).unwrap())
        .map_err(|e| e.to_string())
}

#[tokio::test(flavor = "multi_thread")]
async fn echo_gets_the_message_exchange_json() {
    let plugin = load(&module("", ECHO), limits());
    assert_eq!(
        fetch(&plugin, "/app/db", "version=3,label=x")
            .await
            .unwrap(),
        r#"{"token":"/app/db","metadata":{"label":"x","version":"3"},"version":"3"}"#
    );
    assert_eq!(
        fetch(&plugin, "p", "").await.unwrap(),
        r#"{"token":"p","version":""}"#
    );
    assert_eq!(
        fetch(&plugin, "p", "oops").await.unwrap_err(),
        r#"WASI plugin T: metadata "oops" is not a key=value pair"#
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn each_code_in_configmanager_words() {
    for (code, words) in [
        (-2, "the module found the input not valid UTF-8 (code -2)"),
        (-3, "the module got an empty input (code -3)"),
        (-4, "internal error in the module (code -4)"),
        (-5, "failed to unmarshal message"),
        (-6, "failed to initialize the client"),
        (-7, "failed to retrieve config item"),
        (-42, "the module returned an unknown code -42"),
        (3, "the module returned an unknown code 3"),
    ] {
        let plugin = load(&module("", &format!("(i32.const {code})")), limits());
        assert_eq!(
            fetch(&plugin, "p", "").await.unwrap_err(),
            format!("WASI plugin T: {words}")
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reason_follows_codes_6_and_7() {
    let body = |code: i32| {
        format!(
            r#"(memory.copy (local.get $out) (i32.const 16) (i32.const 14))
               (i32.store (local.get $lenPtr) (i32.const 14))
               (i32.const {code})"#
        )
    };
    let extra = r#"(data (i32.const 16) "no such secret")"#;
    for (code, words) in [
        (-7, "failed to retrieve config item: no such secret"),
        (-6, "failed to initialize the client: no such secret"),
        // Other codes have no reason.
        (-5, "failed to unmarshal message"),
    ] {
        let plugin = load(&module(extra, &body(code)), limits());
        assert_eq!(
            fetch(&plugin, "p", "").await.unwrap_err(),
            format!("WASI plugin T: {words}")
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_huge_value_takes_one_retry() {
    // 8 MiB of 'x': -1 with the length first, then the value in the larger buffer.
    let body = r#"
    (i32.store (local.get $lenPtr) (i32.const 8388608))
    (if (i32.lt_u (local.get $cap) (i32.const 8388608)) (then (return (i32.const -1))))
    (memory.fill (local.get $out) (i32.const 120) (i32.const 8388608))
    (i32.const 0)"#;
    let plugin = load(&module("", body), limits());
    let value = fetch(&plugin, "p", "").await.unwrap();
    assert_eq!(value.len(), 8 << 20);
    assert!(value.bytes().all(|b| b == b'x'));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_minus_one_fails() {
    let body = r#"
    (i32.store (local.get $lenPtr) (i32.add (local.get $cap) (i32.const 1)))
    (i32.const -1)"#;
    let plugin = load(&module("", body), limits());
    assert_eq!(
        fetch(&plugin, "p", "").await.unwrap_err(),
        "WASI plugin T: the module asked for a larger output buffer twice (the second time 4098 bytes)"
    );
    let body = "(i32.store (local.get $lenPtr) (i32.const 10)) (i32.const -1)";
    let plugin = load(&module("", body), limits());
    assert_eq!(
        fetch(&plugin, "p", "").await.unwrap_err(),
        "WASI plugin T: the module returned -1 (buffer too small) but asked for 10 bytes, no more than the 4096 it had"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_value_that_is_not_utf8_or_overflows_its_buffer() {
    let body = r#"(i32.store8 (local.get $out) (i32.const 255))
        (i32.store (local.get $lenPtr) (i32.const 1)) (i32.const 0)"#;
    let plugin = load(&module("", body), limits());
    assert_eq!(
        fetch(&plugin, "p", "").await.unwrap_err(),
        "WASI plugin T: the value is not valid UTF-8"
    );
    let body = "(i32.store (local.get $lenPtr) (i32.const 5000)) (i32.const 0)";
    let plugin = load(&module("", body), limits());
    assert_eq!(
        fetch(&plugin, "p", "").await.unwrap_err(),
        "WASI plugin T: the module reported a 5000-byte value in a 4096-byte buffer"
    );
}

/// An allocator with room for `slots` allocations per instance, then 0.
fn arena_module(slots: u32) -> String {
    format!(
        r#"(module
  (memory (export "memory") 1)
  (global $next (mut i32) (i32.const 1024))
  (global $left (mut i32) (i32.const {slots}))
  (func (export "allocate") (param $n i32) (result i32)
    (local $p i32)
    (if (i32.eqz (global.get $left)) (then (return (i32.const 0))))
    (global.set $left (i32.sub (global.get $left) (i32.const 1)))
    (local.set $p (global.get $next))
    (global.set $next (i32.add (global.get $next) (i32.and (i32.add (local.get $n) (i32.const 7)) (i32.const -8))))
    (local.get $p))
  (func (export "deallocate") (param i32 i32))
  (func (export "strategy_token_value")
    (param $in i32) (param $inLen i32) (param $out i32) (param $cap i32) (param $lenPtr i32)
    (result i32)
    {ECHO}))"#
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_arena_is_retried_once_on_a_fresh_instance() {
    // Room for 5: the first token takes 3, the second runs out and succeeds on a new instance.
    let plugin = load(&arena_module(5), Limits::new(1, Duration::from_secs(10)));
    assert_eq!(
        fetch(&plugin, "a", "").await.unwrap(),
        r#"{"token":"a","version":""}"#
    );
    assert_eq!(
        fetch(&plugin, "b", "").await.unwrap(),
        r#"{"token":"b","version":""}"#
    );
    assert_eq!(plugin.shared.created.load(Ordering::SeqCst), 2);
    assert_eq!(plugin.shared.peak.load(Ordering::SeqCst), 1);

    let plugin = load(&arena_module(2), limits());
    assert_eq!(
        fetch(&plugin, "a", "").await.unwrap_err(),
        "WASI plugin T: allocate returned 0 (the module's arena is full), on a fresh instance too"
    );
    assert_eq!(plugin.shared.created.load(Ordering::SeqCst), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_trap_fails_its_token_and_the_instance_is_dropped() {
    // Traps on the first call of each instance: the second token gets a new one, which traps
    // too; a reused instance would have answered.
    let body = r#"
    (if (i32.eqz (global.get $calls)) (then (global.set $calls (i32.const 1)) unreachable))
    (i32.const -7)"#;
    let plugin = load(
        &module("(global $calls (mut i32) (i32.const 0))", body),
        limits(),
    );
    for _ in 0..2 {
        assert_eq!(
            fetch(&plugin, "p", "").await.unwrap_err(),
            "WASI plugin T: the module trapped: wasm `unreachable` instruction executed"
        );
    }
    assert_eq!(plugin.shared.created.load(Ordering::SeqCst), 2);
    assert_eq!(plugin.shared.live.load(Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_instance_is_reused_between_calls() {
    // Answers the number of calls this instance has had, as a digit.
    let body = r#"
    (global.set $calls (i32.add (global.get $calls) (i32.const 1)))
    (i32.store8 (local.get $out) (i32.add (i32.const 48) (global.get $calls)))
    (i32.store (local.get $lenPtr) (i32.const 1))
    (i32.const 0)"#;
    let plugin = load(
        &module("(global $calls (mut i32) (i32.const 0))", body),
        Limits::new(1, Duration::from_secs(5)),
    );
    for want in ["1", "2", "3"] {
        assert_eq!(fetch(&plugin, "p", "").await.unwrap(), want);
    }
    assert_eq!(plugin.shared.created.load(Ordering::SeqCst), 1);
}

const LOOP: &str = "(loop $forever (br $forever)) (i32.const 0)";

#[tokio::test(flavor = "multi_thread")]
async fn fuel_runs_out() {
    let mut limits = limits();
    limits.fuel = 5_000_000;
    let plugin = load(&module("", LOOP), limits);
    assert_eq!(
        fetch(&plugin, "p", "").await.unwrap_err(),
        "WASI plugin T: the module ran out of fuel after 5000000 units (an endless loop?)"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn time_runs_out_while_the_guest_runs() {
    let plugin = load(
        &module("", LOOP),
        Limits::new(1, Duration::from_millis(200)),
    );
    let started = Instant::now();
    assert_eq!(
        fetch(&plugin, "p", "").await.unwrap_err(),
        "WASI plugin T: did not answer within 0.2s (see --timeout)"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    // The looping instance is gone; the next token starts a new one.
    assert_eq!(plugin.shared.live.load(Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_memory_limit() {
    let body = r#"
    (if (i32.eq (memory.grow (i32.const 64)) (i32.const -1)) (then unreachable))
    (i32.const -7)"#;
    let mut limits = limits();
    limits.memory_bytes = 2 << 20;
    let plugin = load(&module("", body), limits);
    assert_eq!(
        fetch(&plugin, "p", "").await.unwrap_err(),
        "WASI plugin T: the module reached the memory limit of 2 MiB"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn proc_exit_ends_the_call_with_its_code() {
    let extra = r#"(import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))"#;
    let plugin = load(
        &module(extra, "(call $exit (i32.const 3)) (i32.const 0)"),
        limits(),
    );
    assert_eq!(
        fetch(&plugin, "p", "").await.unwrap_err(),
        "WASI plugin T: the module exited with code 3 (proc_exit)"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn environ_holds_only_granted_variables() {
    // environ_sizes_get at 512/516, environ_get with pointers at 520 and text at 600; the
    // value is the text.
    let extra = r#"
  (import "wasi_snapshot_preview1" "environ_sizes_get" (func $sizes (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_get" (func $get (param i32 i32) (result i32)))"#;
    let body = r#"
    (drop (call $sizes (i32.const 512) (i32.const 516)))
    (drop (call $get (i32.const 520) (i32.const 600)))
    (memory.copy (local.get $out) (i32.const 600) (i32.load (i32.const 516)))
    (i32.store (local.get $lenPtr) (i32.load (i32.const 516)))
    (i32.const 0)"#;
    let grants = Grants {
        hosts: vec![],
        env: vec!["GRANTED".parse().unwrap(), "UNSET".parse().unwrap()],
    };
    let plugin = load_with(
        &module(extra, body),
        grants,
        limits(),
        Roots::Custom(rustls::RootCertStore::empty()),
    )
    .unwrap();
    assert_eq!(fetch(&plugin, "p", "").await.unwrap(), "GRANTED=g-value\0");
    let plugin = load(&module(extra, body), limits());
    assert_eq!(fetch(&plugin, "p", "").await.unwrap(), "");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_pool_never_exceeds_concurrency() {
    // Each call sleeps 30 ms in poll_oneoff (a relative monotonic clock subscription at 256),
    // so concurrent tokens overlap.
    let extra = r#"
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))"#;
    let body = r#"
    (i64.store (i32.const 256) (i64.const 7))
    (i32.store8 (i32.const 264) (i32.const 0))
    (i32.store (i32.const 272) (i32.const 1))
    (i64.store (i32.const 280) (i64.const 30000000))
    (i64.store (i32.const 288) (i64.const 0))
    (i32.store16 (i32.const 296) (i32.const 0))
    (if (i32.ne (call $poll (i32.const 256) (i32.const 320) (i32.const 1) (i32.const 360)) (i32.const 0))
      (then unreachable))
    (if (i32.ne (i32.load (i32.const 360)) (i32.const 1)) (then unreachable))
    (if (i64.ne (i64.load (i32.const 320)) (i64.const 7)) (then unreachable))
    (i32.store (local.get $lenPtr) (i32.const 0))
    (i32.const 0)"#;
    let plugin = Arc::new(load(
        &module(extra, body),
        Limits::new(3, Duration::from_secs(10)),
    ));
    let started = Instant::now();
    let tasks: Vec<_> = (0..12)
        .map(|i| {
            let plugin = plugin.clone();
            tokio::spawn(async move { fetch(&plugin, &format!("p{i}"), "").await })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap(), "");
    }
    assert_eq!(plugin.shared.peak.load(Ordering::SeqCst), 3);
    assert_eq!(plugin.shared.created.load(Ordering::SeqCst), 3);
    // 12 tokens of 30 ms, 3 at a time: at least 4 rounds.
    assert!(started.elapsed() >= Duration::from_millis(120));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_burst_of_quick_calls_does_not_make_an_instance_per_permit() {
    // `_initialize` sleeps 50 ms (as a Go runtime's start costs tens of milliseconds) and a call
    // is instant: instances are made one at a time, and the tokens waiting meanwhile take the
    // first free instance, so 40 tokens at concurrency 8 need far fewer than 8 instances.
    let extra = r#"
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
  (func (export "_initialize")
    (i64.store (i32.const 256) (i64.const 7))
    (i32.store8 (i32.const 264) (i32.const 0))
    (i32.store (i32.const 272) (i32.const 1))
    (i64.store (i32.const 280) (i64.const 50000000))
    (i64.store (i32.const 288) (i64.const 0))
    (i32.store16 (i32.const 296) (i32.const 0))
    (drop (call $poll (i32.const 256) (i32.const 320) (i32.const 1) (i32.const 360))))"#;
    let plugin = Arc::new(load(
        &module(extra, ECHO),
        Limits::new(8, Duration::from_secs(10)),
    ));
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let plugin = plugin.clone();
            tokio::spawn(async move { fetch(&plugin, &format!("p{i}"), "").await })
        })
        .collect();
    for (i, task) in tasks.into_iter().enumerate() {
        assert_eq!(
            task.await.unwrap().unwrap(),
            format!(r#"{{"token":"p{i}","version":""}}"#)
        );
    }
    let created = plugin.shared.created.load(Ordering::SeqCst);
    assert!((1..8).contains(&created), "{created} instances made");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sleep_past_the_deadline_times_out() {
    let extra = r#"
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))"#;
    let body = r#"
    (i32.store (i32.const 272) (i32.const 1))
    (i64.store (i32.const 280) (i64.const 60000000000))
    (drop (call $poll (i32.const 256) (i32.const 320) (i32.const 1) (i32.const 360)))
    (i32.const 0)"#;
    let plugin = load(
        &module(extra, body),
        Limits::new(1, Duration::from_millis(100)),
    );
    assert_eq!(
        fetch(&plugin, "p", "").await.unwrap_err(),
        "WASI plugin T: did not answer within 0.1s (see --timeout)"
    );
}

#[test]
fn load_errors() {
    let load_err = |wat_text: &str| {
        load_with(
            wat_text,
            Grants::default(),
            limits(),
            Roots::Custom(rustls::RootCertStore::empty()),
        )
        .unwrap_err()
        .to_string()
    };
    let without = |export: &str| module("", ECHO).replace(&format!(r#"(export "{export}")"#), "");
    assert_eq!(
        load_err(&without("strategy_token_value")),
        "the module does not export strategy_token_value, which the ABI requires"
    );
    assert_eq!(
        load_err(&without("memory")),
        "the module does not export memory, which the ABI requires"
    );
    assert_eq!(
        load_err(&without("allocate")),
        "the module does not export allocate, which the ABI requires"
    );
    let mistyped = module("", ECHO).replace(
        r#"(func (export "deallocate") (param i32 i32))"#,
        r#"(func (export "deallocate") (param i32))"#,
    );
    assert_eq!(
        load_err(&mistyped),
        "the module exports deallocate as (i32), but the ABI requires (i32, i32)"
    );
    let initialize = module(r#"(func (export "_initialize") (param i32))"#, ECHO);
    assert_eq!(
        load_err(&initialize),
        "the module exports _initialize as (i32), but the ABI requires ()"
    );
    let unknown = module(
        r#"(import "env" "open" (func (param i32) (result i32)))"#,
        ECHO,
    );
    assert_eq!(
        load_err(&unknown),
        "the module imports env.open, which cm does not provide"
    );
    let wrong = module(
        r#"(import "wasi_snapshot_preview1" "fd_write" (func (param i32) (result i32)))"#,
        ECHO,
    );
    assert_eq!(
        load_err(&wrong),
        "the module imports wasi_snapshot_preview1.fd_write as (i32) -> i32, but cm provides (i32, i32, i32, i32) -> i32"
    );
    assert!(
        WasmPlugin::load("T", b"not wasm", Grants::default(), limits(), &[])
            .unwrap_err()
            .to_string()
            .starts_with("not a valid WebAssembly module: ")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn initialize_runs_once_per_instance() {
    let extra = r#"(global $init (mut i32) (i32.const 0))
  (func (export "_initialize") (global.set $init (i32.add (global.get $init) (i32.const 1))))"#;
    let body = r#"
    (i32.store8 (local.get $out) (i32.add (i32.const 48) (global.get $init)))
    (i32.store (local.get $lenPtr) (i32.const 1))
    (i32.const 0)"#;
    let plugin = load(&module(extra, body), Limits::new(1, Duration::from_secs(5)));
    assert_eq!(fetch(&plugin, "p", "").await.unwrap(), "1");
    assert_eq!(fetch(&plugin, "p", "").await.unwrap(), "1");
}

/// A module that sends the request record `request` through `cm.http_request` and answers the
/// response record (code 0) or `-7` with the error record as its reason.
fn http_module(request: &str) -> String {
    let escaped = request.replace('\\', "\\\\").replace('"', "\\\"");
    let extra = format!(
        r#"(import "cm" "http_request" (func $request (param i32 i32 i32) (result i32)))
  (import "cm" "http_response" (func $response (param i32 i32) (result i32)))
  (data (i32.const 64) "{escaped}")"#
    );
    let body = format!(
        r#"(local $code i32) (local $len i32)
    (local.set $code (call $request (i32.const 64) (i32.const {len}) (i32.const 32)))
    (local.set $len (i32.load (i32.const 32)))
    (i32.store (local.get $lenPtr) (local.get $len))
    (if (i32.gt_u (local.get $len) (local.get $cap)) (then (return (i32.const -1))))
    ;; a buffer one byte short is refused and the record stays pending
    (if (i32.ne (call $response (local.get $out) (i32.sub (local.get $len) (i32.const 1))) (i32.const -1))
      (then unreachable))
    (if (i32.ne (call $response (local.get $out) (local.get $cap)) (i32.const 0)) (then unreachable))
    (if (i32.ne (call $response (local.get $out) (local.get $cap)) (i32.const -14)) (then unreachable))
    (if (i32.eqz (local.get $code)) (then (return (i32.const 0))))
    ;; the code as the reason's first bytes is not possible in WAT: fold it into the error
    (i32.const -7)"#,
        len = request.len()
    );
    // Locals must come first in a function body.
    module(&extra, &body)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_host_not_granted_is_refused() {
    let request =
        r#"{"method":"GET","url":"https://vault.example:8200/v1/secret?x=1","headers":[]}"#;
    let grants = Grants {
        hosts: vec!["vault.example".parse().unwrap()],
        env: vec![],
    };
    let plugin = load_with(
        &http_module(request),
        grants,
        limits(),
        Roots::Custom(rustls::RootCertStore::empty()),
    )
    .unwrap();
    assert_eq!(
        fetch(&plugin, "p", "").await.unwrap_err(),
        r#"WASI plugin T: failed to retrieve config item: {"error":"host vault.example:8200 is not allowed"}"#
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_request_records() {
    for (request, why) in [
        (
            "not json",
            "bad request record: expected ident at line 1 column 2",
        ),
        (
            r#"{"method":"GET","url":"ftp://h/x"}"#,
            "the URL's scheme is not http or https",
        ),
        (
            r#"{"method":"GET","url":"https://u@h/x"}"#,
            "the URL has user information",
        ),
        (
            r#"{"method":"GET","url":"http://127.0.0.1:9/","headers":[["Host","x"]]}"#,
            "header host is set by the host",
        ),
        (
            r#"{"method":"G T","url":"http://127.0.0.1:9/"}"#,
            "bad method \"G T\"",
        ),
        (
            r#"{"method":"GET","url":"http://127.0.0.1:9/","body":"***"}"#,
            "the body is not base64: Invalid symbol 42, offset 0.",
        ),
    ] {
        let grants = Grants {
            hosts: vec!["127.0.0.1:9".parse().unwrap(), "h".parse().unwrap()],
            env: vec![],
        };
        let plugin = load_with(
            &http_module(request),
            grants,
            limits(),
            Roots::Custom(rustls::RootCertStore::empty()),
        )
        .unwrap();
        let got = fetch(&plugin, "p", "").await.unwrap_err();
        let record: serde_json::Value = serde_json::from_str(
            got.strip_prefix("WASI plugin T: failed to retrieve config item: ")
                .unwrap(),
        )
        .unwrap();
        assert_eq!(record["error"], why, "{request}");
    }
}

/// The response record, decoded: status, headers, body.
fn response(record: &str) -> (u64, Vec<(String, String)>, String) {
    let v: serde_json::Value = serde_json::from_str(record).unwrap();
    let headers = v["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h[0].as_str().unwrap().to_string(),
                h[1].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let body = base64::engine::general_purpose::STANDARD
        .decode(v["body"].as_str().unwrap())
        .unwrap();
    (
        v["status"].as_u64().unwrap(),
        headers,
        String::from_utf8(body).unwrap(),
    )
}

fn test_roots(ca: &cm_testkit::TestCa) -> rustls::RootCertStore {
    let mut roots = rustls::RootCertStore::empty();
    let der = rustls::pki_types::pem::PemObject::from_pem_slice(ca.pem().as_bytes()).unwrap();
    roots.add(der).unwrap();
    roots
}

#[tokio::test(flavor = "multi_thread")]
async fn a_granted_https_request() {
    let ca = cm_testkit::TestCa::new();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let server = {
        let seen = seen.clone();
        cm_testkit::HttpsServer::start(&ca, &[], move |req| {
            seen.lock().unwrap().push(req.clone());
            cm_testkit::HttpsResponse::json(201, &serde_json::json!({"data": {"v": "s3cret"}}))
                .with_header("x-seen", "1")
        })
    };
    let port = server.addr().port();
    let request = format!(
        r#"{{"method":"POST","url":"https://localhost:{port}/v1/kv/data/app?version=2","headers":[["X-Vault-Token","t0k"],["Accept","application/json"]],"body":"{}"}}"#,
        base64::engine::general_purpose::STANDARD.encode("{\"q\":1}")
    );
    let grants = Grants {
        hosts: vec![format!("localhost:{port}").parse().unwrap()],
        env: vec![],
    };
    let plugin = load_with(
        &http_module(&request),
        grants,
        limits(),
        Roots::Custom(test_roots(&ca)),
    )
    .unwrap();
    let (status, headers, body) = response(&fetch(&plugin, "p", "").await.unwrap());
    assert_eq!(status, 201);
    assert!(
        headers.contains(&("x-seen".to_string(), "1".to_string())),
        "{headers:?}"
    );
    assert_eq!(body, r#"{"data":{"v":"s3cret"}}"#);
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "POST");
    assert_eq!(seen[0].path, "/v1/kv/data/app");
    assert_eq!(seen[0].query.as_deref(), Some("version=2"));
    assert_eq!(seen[0].header("x-vault-token"), Some("t0k"));
    assert_eq!(seen[0].body, br#"{"q":1}"#);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_certificate_the_roots_do_not_trust_is_a_transport_failure() {
    let ca = cm_testkit::TestCa::new();
    let other = cm_testkit::TestCa::new();
    let server =
        cm_testkit::HttpsServer::start(&ca, &[], |_| cm_testkit::HttpsResponse::empty(200));
    let port = server.addr().port();
    let request = format!(r#"{{"method":"GET","url":"https://127.0.0.1:{port}/"}}"#);
    let grants = Grants {
        hosts: vec![format!("127.0.0.1:{port}").parse().unwrap()],
        env: vec![],
    };
    let plugin = load_with(
        &http_module(&request),
        grants,
        limits(),
        Roots::Custom(test_roots(&other)),
    )
    .unwrap();
    let got = fetch(&plugin, "p", "").await.unwrap_err();
    assert!(
        got.contains("UnknownIssuer") || got.contains("invalid peer certificate"),
        "{got}"
    );
}

/// `SSL_CERT_FILE` is read by the native roots: this test re-runs itself in a child process
/// with the variable set (setting it here would race with the other tests' threads).
#[test]
fn native_roots_honour_ssl_cert_file() {
    if std::env::var_os("CM_WASM_TLS_CHILD").is_some() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let port: u16 = std::env::var("CM_WASM_TLS_CHILD").unwrap().parse().unwrap();
            let request = format!(r#"{{"method":"GET","url":"https://localhost:{port}/x"}}"#);
            let grants = Grants {
                hosts: vec![format!("localhost:{port}").parse().unwrap()],
                env: vec![],
            };
            let plugin =
                load_with(&http_module(&request), grants, limits(), Roots::Native).unwrap();
            let (status, _, body) = response(&fetch(&plugin, "p", "").await.unwrap());
            assert_eq!((status, body.as_str()), (200, "{\"ok\":true}"));
        });
        return;
    }
    let ca = cm_testkit::TestCa::new();
    let server = cm_testkit::HttpsServer::start(&ca, &[], |_| {
        cm_testkit::HttpsResponse::json(200, &serde_json::json!({"ok": true}))
    });
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "wasm::tests::native_roots_honour_ssl_cert_file",
            "--nocapture",
        ])
        .env("CM_WASM_TLS_CHILD", server.addr().port().to_string())
        .env("SSL_CERT_FILE", ca.pem_file())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 passed"));
}

#[tokio::test(flavor = "multi_thread")]
async fn redirects_are_handed_to_the_module_and_requests_end_at_the_deadline() {
    let ca = cm_testkit::TestCa::new();
    let server = cm_testkit::HttpsServer::start(&ca, &[], |req| {
        if req.path == "/slow" {
            std::thread::sleep(Duration::from_millis(1500));
        }
        cm_testkit::HttpsResponse::empty(302).with_header("location", "https://elsewhere.example/")
    });
    let port = server.addr().port();
    let grants = || Grants {
        hosts: vec![format!("127.0.0.1:{port}").parse().unwrap()],
        env: vec![],
    };
    let request = format!(r#"{{"method":"GET","url":"https://127.0.0.1:{port}/moved"}}"#);
    let plugin = load_with(
        &http_module(&request),
        grants(),
        limits(),
        Roots::Custom(test_roots(&ca)),
    )
    .unwrap();
    let (status, headers, _) = response(&fetch(&plugin, "p", "").await.unwrap());
    assert_eq!(status, 302);
    assert!(headers.contains(&(
        "location".to_string(),
        "https://elsewhere.example/".to_string()
    )));

    let request = format!(r#"{{"method":"GET","url":"https://127.0.0.1:{port}/slow"}}"#);
    let plugin = load_with(
        &http_module(&request),
        grants(),
        Limits::new(1, Duration::from_millis(300)),
        Roots::Custom(test_roots(&ca)),
    )
    .unwrap();
    let started = Instant::now();
    assert_eq!(
        fetch(&plugin, "p", "").await.unwrap_err(),
        r#"WASI plugin T: failed to retrieve config item: {"error":"timed out (see --timeout)"}"#
    );
    assert!(
        started.elapsed() < Duration::from_millis(1200),
        "{:?}",
        started.elapsed()
    );
}
