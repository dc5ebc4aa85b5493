//! What the plugin benchmarks share (`benches/host.rs`, `benches/startup.rs`, `benches/wasi.rs`):
//! whole `cm` runs checked on every run ([`Case`]), timing samples and their medians,
//! installing a plugin the way configmanager lays it out, CPU time from `/proc`, and the time
//! from spawn to a plugin's first answer through cm's own host.

#![allow(dead_code)] // each bench uses its own part

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cm::internals::Provider;
use cm::internals::plugin::file_name;
use cm::internals::plugin::{HostOptions, PluginHost};
use futures_util::future::join_all;

/// One way of running cm, checked on every run.
pub(crate) struct Case {
    pub(crate) name: String,
    pub(crate) root: PathBuf,
    pub(crate) args: Vec<String>,
    pub(crate) stdin: Vec<u8>,
    pub(crate) expected: Vec<u8>,
    pub(crate) env: Vec<(String, String)>,
    /// Run before each timed run, untimed (e.g. empty the cache).
    pub(crate) before: Option<Box<dyn Fn()>>,
}

impl Case {
    pub(crate) fn new(
        name: &str,
        root: &Path,
        args: &[&str],
        stdin: String,
        expected: String,
    ) -> Case {
        Case {
            name: name.into(),
            root: root.to_path_buf(),
            args: args.iter().map(|a| a.to_string()).collect(),
            stdin: stdin.into_bytes(),
            expected: expected.into_bytes(),
            env: Vec::new(),
            before: None,
        }
    }

    pub(crate) fn env(mut self, key: &str, value: impl Into<String>) -> Case {
        self.env.push((key.into(), value.into()));
        self
    }

    /// One run of `cm ARGS < stdin` in the case's folder (its current directory and HOME), with
    /// its own cache folder; spawn to exit.
    pub(crate) fn run(&self, cm: &Path) -> Duration {
        if let Some(before) = &self.before {
            before();
        }
        let stdin = self.root.join("stdin");
        std::fs::write(&stdin, &self.stdin).unwrap();
        let mut cmd = Command::new(cm);
        cmd.current_dir(&self.root)
            .env("HOME", &self.root)
            .env("CM_CACHE_DIR", self.root.join("cache"))
            .env_remove("CONFIGMANAGER_DIR")
            .env_remove("CONFIGMANAGER_LOG")
            .env_remove("RUST_LOG")
            .env_remove("CM_TEST_CALL_LOG")
            .env_remove("CM_REQUIRE_LOCK")
            .args(&self.args)
            .stdin(std::fs::File::open(&stdin).unwrap())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let t = Instant::now();
        let out = cmd.output().unwrap();
        let elapsed = t.elapsed();
        assert!(
            out.status.success(),
            "{}: cm failed: {}",
            self.name,
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.stdout == self.expected,
            "{}: unexpected output {:?}",
            self.name,
            String::from_utf8_lossy(&out.stdout)
        );
        elapsed
    }
}

/// `cm plugin install PREFIX --from FROM` in `root` (its current directory and HOME); the path
/// of the installed native plugin (a WASI module goes to `<prefix>/<prefix>.wasm` instead).
pub(crate) fn cm_install(cm: &Path, root: &Path, prefix: &str, from: &Path) -> PathBuf {
    let out = Command::new(cm)
        .current_dir(root)
        .env("HOME", root)
        .env_remove("CONFIGMANAGER_DIR")
        .args(["plugin", "install", prefix, "--from"])
        .arg(from)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cm plugin install {prefix}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    root.join(".configmanager/plugins")
        .join(prefix)
        .join(file_name(prefix))
}

/// One result line: name, median, min, max, and what it is compared with.
pub(crate) fn row(name: &str, s: &Samples, vs: &str) {
    println!(
        "  {name:<52} {:>10} {:>10} {:>10}  {vs}",
        ms(s.median()),
        ms(s.min()),
        ms(s.max())
    );
}

/// `a`'s median over `b`'s.
pub(crate) fn ratio(a: &Samples, b: &Samples) -> f64 {
    a.median().as_secs_f64() / b.median().as_secs_f64()
}

/// Whether `r` is within `target`, as a report says it.
pub(crate) fn verdict(r: f64, target: f64) -> &'static str {
    if r <= target { "met" } else { "NOT met" }
}

/// An environment variable as a number, else `default`.
pub(crate) fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Timings of one measurement.
pub(crate) struct Samples(pub(crate) Vec<Duration>);

impl Samples {
    fn sorted(&self) -> Vec<Duration> {
        let mut v = self.0.clone();
        v.sort_unstable();
        v
    }
    pub(crate) fn median(&self) -> Duration {
        let v = self.sorted();
        let n = v.len();
        if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2
        }
    }
    pub(crate) fn min(&self) -> Duration {
        self.sorted()[0]
    }
    pub(crate) fn max(&self) -> Duration {
        *self.sorted().last().unwrap()
    }
}

/// `12.3 ms`.
pub(crate) fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

/// A plugin folder laid out as configmanager expects:
/// `<root>/.configmanager/plugins/<prefix>/<prefix>-<os>-<arch>`.
pub(crate) fn install(root: &Path, prefix: &str, binary: &Path) -> PathBuf {
    let dest = root
        .join(".configmanager/plugins")
        .join(prefix)
        .join(file_name(prefix));
    std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
    std::fs::copy(binary, &dest).unwrap();
    dest
}

/// CPU time used so far by the live threads of a process (`self` or a pid), from the scheduler's
/// nanosecond counters (zero where `/proc` has none). A thread that exits takes its share along,
/// hence the saturating differences.
pub(crate) fn cpu_time(pid: &str) -> Duration {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Duration::ZERO;
    };
    let ns: u64 = tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    Duration::from_nanos(ns)
}

/// Spawn to first successful `Value` call of `path` on every plugin of `wanted` (started
/// together, as cm does, through cm's own host but without a cm process), each answer checked
/// against `expected`; and the CPU time that took in this process and in the plugins. The
/// untimed shutdown follows.
pub(crate) async fn time_to_ready(
    wanted: &[(String, PathBuf)],
    opts: HostOptions,
    path: &str,
    expected: &[u8],
) -> (Duration, Duration, Duration) {
    let cpu = cpu_time("self");
    let t = Instant::now();
    let (host, errors) = PluginHost::start(wanted.to_vec(), opts).await;
    assert!(errors.is_empty(), "{errors:?}");
    join_all(wanted.iter().map(|(prefix, _)| {
        let provider = host.provider(prefix).unwrap();
        async move {
            let v = provider.fetch(path, b"").await.unwrap();
            assert_eq!(v.expose(), expected);
        }
    }))
    .await;
    let elapsed = t.elapsed();
    let host_cpu = cpu_time("self").saturating_sub(cpu);
    let plugins_cpu = host
        .pids()
        .iter()
        .map(|pid| cpu_time(&pid.to_string()))
        .sum::<Duration>();
    host.shutdown().await;
    (elapsed, host_cpu, plugins_cpu)
}
