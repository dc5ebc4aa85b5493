//! Plugin host benchmark (issue 3): calls per second through real plugin processes, and the time
//! from spawn to the first successful call for one plugin and for seven at once.
//!
//!     cargo bench --bench host
//!
//! Measures, on this machine, in one run (so the ratios compare like with like):
//!
//! - throughput: `fetch_all` of 10,000 distinct keys on a started `PluginHost` (default
//!   `HostOptions`, so 64 calls in flight per plugin), through the Rust SDK test plugin
//!   (`cm-test-plugin` as `echo`) and through the Go go-plugin fixture (`tests/go`);
//! - end to end: the real `cm insert` on a 10,000-token template (process start, plugin start,
//!   scan, fetch, render, plugin shutdown);
//! - start-up: spawn to first successful `Value` call, one plugin and seven at once (seven
//!   prefixes, each its own copy of the binary).
//!
//! It reports medians with min and max, and ratios against a baseline measured in the same run;
//! it asserts nothing about time. Results are checked for correctness (every value must be the
//! plugin's echo). Next to wall time it reports CPU time (Linux: the scheduler's per-thread
//! counters in `/proc`, and `getrusage` for `cm insert`), which depends far less on what else the
//! machine is running than wall time does.
//!
//! `cargo bench --bench host -- throughput|insert|startup` runs only those sections. Knobs:
//! `CM_BENCH_TOKENS` (10000), `CM_BENCH_RUNS` (throughput repeats, 7), `CM_BENCH_INSERT_RUNS`
//! (5), `CM_BENCH_START_RUNS` (15), `CM_BENCH_CONCURRENCY` (calls in flight per plugin, 64),
//! `CM_BENCH_RUNTIME=multi_thread` (the bench's own tokio runtime; cm's, and the default here, is
//! single-threaded).

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cm::internals::plugin::{HostOptions, PluginHost};
use cm::internals::{FetchKey, Providers, fetch_all};
use support::{Samples, cpu_time, env_usize, install, ms};

const CM: &str = env!("CARGO_BIN_EXE_cm");
const TEST_PLUGIN: &str = env!("CARGO_BIN_EXE_cm-test-plugin");

/// Seven prefixes; the test plugin echoes under any name that is not one of its fault modes.
const RUST_PREFIXES: [&str; 7] = ["echo", "echob", "echoc", "echod", "echoe", "echof", "echog"];
const GO_PREFIXES: [&str; 7] = [
    "gotest", "gotestb", "gotestc", "gotestd", "goteste", "gotestf", "gotestg",
];

/// `HostOptions::default()`, but `CM_BENCH_CONCURRENCY` (if set) for the calls in flight.
fn host_options() -> HostOptions {
    let mut opts = HostOptions::default();
    opts.calls.concurrency = env_usize("CM_BENCH_CONCURRENCY", opts.calls.concurrency);
    opts
}

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

/// Builds the Go fixture plugin (`tests/go/build.sh`), or says why not.
fn build_go_plugin() -> Result<PathBuf, String> {
    let have_go = Command::new("go")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !have_go {
        return Err("`go` is not installed (apt-get install golang-go \
                    golang-github-hashicorp-go-plugin-dev golang-google-grpc-dev)"
            .into());
    }
    // Not the tests' folder: a test run may be building there at the same time.
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("bench-go-fixtures");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/go/build.sh");
    let o = Command::new("bash")
        .arg(&script)
        .arg(&out)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    if !o.status.success() {
        return Err(format!(
            "tests/go/build.sh failed ({}): {}",
            o.status,
            String::from_utf8_lossy(&o.stderr).trim()
        ));
    }
    Ok(out.join("go-plugin"))
}

/// 10,000 distinct keys; one in four carries metadata.
fn keys(prefix: &str, n: usize) -> Vec<FetchKey> {
    (0..n)
        .map(|i| FetchKey {
            prefix: prefix.to_string(),
            path: format!("/bench/app/item-{i:05}").into_bytes(),
            metadata: (i % 4 == 0).then(|| format!("version={}", i % 7).into_bytes()),
        })
        .collect()
}

fn expected_value(key: &FetchKey) -> Vec<u8> {
    let mut v = key.path.clone();
    v.extend_from_slice(b"->");
    v.extend_from_slice(key.metadata.as_deref().unwrap_or_default());
    v
}

/// Throughput samples plus CPU time per call, in cm and in the plugin.
struct Throughput {
    wall: Samples,
    host_cpu_per_call: Duration,
    plugin_cpu_per_call: Duration,
}

/// Starts the plugin for `prefix`, then runs `fetch_all` over `n` distinct keys `runs` times
/// (after one untimed warm-up round).
async fn throughput(prefix: &str, binary: &Path, n: usize, runs: usize) -> Throughput {
    let upper = prefix.to_ascii_uppercase();
    let (host, errors) =
        PluginHost::start(vec![(upper.clone(), binary.to_path_buf())], host_options()).await;
    assert!(errors.is_empty(), "{errors:?}");
    let mut providers = Providers::default();
    providers.insert(upper.clone(), host.provider(&upper).unwrap());
    let plugin_pid = host.pids()[0].to_string();
    let keys = keys(&upper, n);
    let mut samples = Vec::with_capacity(runs);
    let (mut host_cpu, mut plugin_cpu) = (Duration::ZERO, Duration::ZERO);
    for round in 0..=runs {
        let (h, p) = (cpu_time("self"), cpu_time(&plugin_pid));
        let t = Instant::now();
        let results = fetch_all(&keys, &providers).await;
        let elapsed = t.elapsed();
        let (h, p) = (
            cpu_time("self").saturating_sub(h),
            cpu_time(&plugin_pid).saturating_sub(p),
        );
        for (k, r) in keys.iter().zip(&results) {
            let v = r.as_ref().unwrap_or_else(|e| panic!("{upper}: {e}"));
            assert_eq!(v.expose(), expected_value(k).as_slice());
        }
        if round > 0 {
            samples.push(elapsed);
            host_cpu += h;
            plugin_cpu += p;
        }
    }
    drop(providers);
    host.shutdown().await;
    let calls = (n * runs) as u32;
    Throughput {
        wall: Samples(samples),
        host_cpu_per_call: host_cpu / calls,
        plugin_cpu_per_call: plugin_cpu / calls,
    }
}

/// Spawn to first successful `Value` call on every plugin of `wanted`, and the CPU time that
/// took in cm and in the plugins.
async fn time_to_ready(wanted: &[(String, PathBuf)]) -> (Duration, Duration, Duration) {
    support::time_to_ready(wanted, host_options(), "ready", b"ready->").await
}

/// Start-up samples, and the median CPU time per start in cm and in the plugins (together).
async fn startup(wanted: &[(String, PathBuf)], runs: usize) -> (Samples, Duration, Duration) {
    // Warm-up: page cache, first exec of each copy.
    time_to_ready(wanted).await;
    let mut samples = Vec::with_capacity(runs);
    let (mut host_cpu, mut plugins_cpu) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let (wall, h, p) = time_to_ready(wanted).await;
        samples.push(wall);
        host_cpu.push(h);
        plugins_cpu.push(p);
    }
    (
        Samples(samples),
        Samples(host_cpu).median(),
        Samples(plugins_cpu).median(),
    )
}

/// `cm insert -i template -p -` in `root` (plugins under `root/.configmanager`), timed from
/// spawn to exit; the output is checked.
fn cm_insert(
    cm: &Path,
    root: &Path,
    template: &Path,
    expected: &[u8],
    runs: usize,
) -> (Samples, Duration) {
    let run = || {
        let cpu = children_cpu();
        let t = Instant::now();
        let out = Command::new(cm)
            .current_dir(root)
            .env("HOME", root)
            .env_remove("CONFIGMANAGER_DIR")
            .env_remove("CONFIGMANAGER_LOG")
            .env_remove("RUST_LOG")
            .env_remove("CM_TEST_CALL_LOG")
            .arg("insert")
            .arg("-i")
            .arg(template)
            .arg("-p")
            .arg("-")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let elapsed = t.elapsed();
        assert!(
            out.status.success(),
            "cm insert failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.stdout == expected, "cm insert: unexpected output");
        (elapsed, children_cpu().saturating_sub(cpu))
    };
    run();
    let (wall, cpu): (Vec<_>, Vec<_>) = (0..runs).map(|_| run()).unzip();
    (Samples(wall), Samples(cpu).median())
}

/// CPU time of every waited-for child process and their waited-for descendants (cm and the
/// plugins it started).
fn children_cpu() -> Duration {
    // SAFETY: getrusage only writes the struct it is given.
    let usage = unsafe {
        let mut usage = std::mem::zeroed::<libc::rusage>();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage);
        usage
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// A template of `n` lines `key_i=PREFIX://path` (distinct tokens) and its expected output.
fn template(prefix_upper: &str, n: usize) -> (String, Vec<u8>) {
    let mut t = String::new();
    let mut e = String::new();
    for k in keys(prefix_upper, n) {
        let path = String::from_utf8(k.path.clone()).unwrap();
        let meta = k
            .metadata
            .as_ref()
            .map(|m| format!("[{}]", String::from_utf8_lossy(m)))
            .unwrap_or_default();
        t += &format!("key_{path}={prefix_upper}://{path}{meta}\n");
        e += &format!(
            "key_{path}={}\n",
            String::from_utf8(expected_value(&k)).unwrap()
        );
    }
    (t, e.into_bytes())
}

struct Row {
    name: String,
    samples: Samples,
    extra: String,
}

fn print_table(title: &str, extra_header: &str, rows: &[Row]) {
    println!("\n{title}");
    println!(
        "  {:<40} {:>4} {:>10} {:>10} {:>10}  {}",
        "case", "runs", "median", "min", "max", extra_header
    );
    for r in rows {
        println!(
            "  {:<40} {:>4} {:>10} {:>10} {:>10}  {}",
            r.name,
            r.samples.0.len(),
            ms(r.samples.median()),
            ms(r.samples.min()),
            ms(r.samples.max()),
            r.extra
        );
    }
}

/// A shell wrapper that runs `binary` with `RUST_LOG=info`, so the SDK plugin's per-call debug
/// log line (and the host's parsing of it) is off. `exec` keeps the plugin's file name, which
/// picks its mode.
#[cfg(unix)]
fn quiet_wrapper(root: &Path, binary: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = root.join("echo-quiet.sh");
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\nRUST_LOG=info exec '{}' \"$@\"\n",
            binary.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn throughput_rows(
    runtime: &tokio::runtime::Runtime,
    root: &Path,
    rust: &Path,
    go: Option<&Path>,
    n: usize,
    runs: usize,
) {
    let mut cases: Vec<(String, &str, PathBuf)> =
        vec![("Rust SDK plugin (echo)".into(), "echo", rust.to_path_buf())];
    #[cfg(unix)]
    cases.push((
        "Rust SDK plugin, RUST_LOG=info".into(),
        "echo",
        quiet_wrapper(root, rust),
    ));
    #[cfg(not(unix))]
    let _ = root;
    if let Some(go) = go {
        cases.push((
            "Go go-plugin plugin (tests/go)".into(),
            "gotest",
            go.to_path_buf(),
        ));
    }
    let mut rows = Vec::new();
    let mut base = None;
    for (name, prefix, binary) in cases {
        let t = runtime.block_on(throughput(prefix, &binary, n, runs));
        let r = rate(n, t.wall.median());
        let base = *base.get_or_insert(r);
        rows.push(Row {
            name,
            extra: format!(
                "{r:>7.0}  {:>5.2}x  {:>9.1} {:>11.1}",
                r / base,
                t.host_cpu_per_call.as_secs_f64() * 1e6,
                t.plugin_cpu_per_call.as_secs_f64() * 1e6,
            ),
            samples: t.wall,
        });
    }
    print_table(
        &format!(
            "Throughput: fetch_all of {n} distinct keys on a started host (after 1 warm-up round)"
        ),
        "calls/s  vs 1st  cm CPU/call plugin CPU/call (µs)",
        &rows,
    );
}

fn insert_rows(cm: &Path, root: &Path, go: bool, n: usize, runs: usize) {
    let mut rows = Vec::new();
    let mut cases = vec![("ECHO", "Rust SDK plugin (echo)")];
    if go {
        cases.push(("GOTEST", "Go go-plugin plugin (tests/go)"));
    }
    let mut base = None;
    for (prefix, name) in cases {
        let (t, expected) = template(prefix, n);
        let file = root.join(format!("template-{prefix}.txt"));
        std::fs::write(&file, t).unwrap();
        let (s, cpu) = cm_insert(cm, root, &file, &expected, runs);
        let r = rate(n, s.median());
        let base = *base.get_or_insert(r);
        rows.push(Row {
            name: name.into(),
            extra: format!("{r:>8.0}  {:>5.2}x  {:>10}", r / base, ms(cpu)),
            samples: s,
        });
    }
    print_table(
        &format!(
            "End to end: `cm insert -i T -p -`, {n}-token template, spawn of cm to exit (after 1 warm-up)"
        ),
        "tokens/s  vs 1st  CPU (cm + plugin, median)",
        &rows,
    );
}

fn startup_rows(
    runtime: &tokio::runtime::Runtime,
    rust: &[(String, PathBuf)],
    go: Option<&[(String, PathBuf)]>,
    runs: usize,
) {
    let mut rows = Vec::new();
    let mut sets = vec![("Rust SDK plugin", rust)];
    if let Some(go) = go {
        sets.push(("Go go-plugin plugin", go));
    }
    for (name, set) in sets {
        let (one, one_host, one_plugin) = runtime.block_on(startup(&set[..1], runs));
        let (seven, seven_host, seven_plugins) = runtime.block_on(startup(set, runs));
        let ratio = seven.median().as_secs_f64() / one.median().as_secs_f64();
        rows.push(Row {
            name: format!("{name}, 1 plugin"),
            extra: format!("{:>5.2}x {:>9} {:>11}", 1.0, ms(one_host), ms(one_plugin)),
            samples: one,
        });
        rows.push(Row {
            name: format!("{name}, {} plugins at once", set.len()),
            extra: format!(
                "{ratio:>5.2}x {:>9} {:>11}",
                ms(seven_host),
                ms(seven_plugins)
            ),
            samples: seven,
        });
    }
    print_table(
        "Start-up: spawn to first successful Value call on every plugin (after 1 warm-up)",
        "vs 1   cm CPU  plugin CPU (medians)",
        &rows,
    );
}

fn main() {
    // `cargo bench --bench host [throughput|insert|startup]...`: the sections to run (all by
    // default); cargo's own `--bench` flag is ignored.
    let sections: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let run = |s: &str| sections.is_empty() || sections.iter().any(|a| a == s);
    let n = env_usize("CM_BENCH_TOKENS", 10_000);
    let runs = env_usize("CM_BENCH_RUNS", 7).max(1);
    let start_runs = env_usize("CM_BENCH_START_RUNS", 15).max(1);
    let insert_runs = env_usize("CM_BENCH_INSERT_RUNS", 5).max(1);
    let concurrency = host_options().calls.concurrency;

    // Private copies first: the target folder's binaries may be rebuilt while this runs.
    let root = tempfile::tempdir().unwrap();
    let cm = root.path().join("cm");
    std::fs::copy(CM, &cm).unwrap();
    let rust: Vec<(String, PathBuf)> = RUST_PREFIXES
        .iter()
        .map(|p| {
            (
                p.to_ascii_uppercase(),
                install(root.path(), p, Path::new(TEST_PLUGIN)),
            )
        })
        .collect();
    let go: Option<Vec<(String, PathBuf)>> = match build_go_plugin() {
        Ok(binary) => Some(
            GO_PREFIXES
                .iter()
                .map(|p| (p.to_ascii_uppercase(), install(root.path(), p, &binary)))
                .collect(),
        ),
        Err(why) => {
            println!("SKIPPED: the Go plugin measurements: {why}");
            None
        }
    };

    // cm's runtime is single-threaded; `CM_BENCH_RUNTIME=multi_thread` measures the other flavour.
    let flavour = std::env::var("CM_BENCH_RUNTIME").unwrap_or_else(|_| "current_thread".into());
    let runtime = match flavour.as_str() {
        "multi_thread" => tokio::runtime::Builder::new_multi_thread(),
        _ => tokio::runtime::Builder::new_current_thread(),
    }
    .enable_all()
    .build()
    .unwrap();
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "cm plugin host benchmark: {n} distinct tokens, HostOptions (concurrency \
         {concurrency} per plugin), {flavour} tokio runtime; {cpus} CPUs, load average {}",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );

    let go_first = go.as_ref().map(|g| g[0].1.as_path());
    if run("throughput") {
        throughput_rows(&runtime, root.path(), &rust[0].1, go_first, n, runs);
    }
    if run("insert") {
        insert_rows(&cm, root.path(), go.is_some(), n, insert_runs);
    }
    if run("startup") {
        startup_rows(&runtime, &rust, go.as_deref(), start_runs);
    }
    println!(
        "\nReference (issue 3): configmanager starts plugins one after another, about 17 ms for \
         one and 60 ms for three.\nTargets: >= 30,000 calls/s through the Rust plugin; 7 plugins \
         ready in < 2x the time of one. Reported, not asserted."
    );
}
