//! Start-up benchmark (issue 9): whole `cm` processes run the way users run them
//! (`cm insert < template`), timed from spawn to exit, against a floor measured in the same run:
//! the plugin's own start (spawn, handshake line, one `Value` call) driven by this harness
//! through cm's host library, with no `cm` process.
//!
//!     cargo bench --bench startup
//!
//! Cases, each with its target (reported, not asserted):
//!
//! - 1 plugin, 3 tokens: <= 2x the floor;
//! - 7 plugins, 7 tokens: <= 3x the 1-plugin run;
//! - a 150 MiB plugin (the test plugin with bytes appended; it still runs) and no lock: within
//!   10% of the small one;
//! - a locked plugin on a repeat run (hash from the verified-hash cache): <= 1.2x the unlocked
//!   run; also the 150 MiB plugin locked, repeat run and first run (cache emptied each time);
//! - a real store: 3 tokens through `cm-plugin-awsparamstr` against moto, when
//!   `AWS_ENDPOINT_URL` is set (`source .ci/emulators.sh`) and the plugin is built
//!   (`cargo build --release -p cm-plugin-awsparamstr`, or `CM_BENCH_AWSPARAMSTR=PATH`), with its
//!   own floor; else skipped with a note;
//! - `cm scan --format json` of 16 MiB with a token every ~4 KiB against `grep -c` over the same
//!   file (issue 9, item 5: <= 6x).
//!
//! The cases take turns, round by round, so a busy spell of the machine hits them alike.
//! Knobs: `CM_BENCH_START_RUNS` (rounds, 15).

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use cm::internals::plugin::HostOptions;
use support::{Case, Samples, cm_install, env_usize, install, ratio, row, time_to_ready, verdict};

const CM: &str = env!("CARGO_BIN_EXE_cm");
const TEST_PLUGIN: &str = env!("CARGO_BIN_EXE_cm-test-plugin");

/// The test plugin echoes (`PATH->`) under any name that is not one of its fault modes.
const PREFIXES: [&str; 7] = ["echo", "echob", "echoc", "echod", "echoe", "echof", "echog"];
const BIG: &str = "echobig";
const BIG_SIZE: u64 = 150 << 20;

/// `n` tokens over the given prefixes (round robin), as a template, and the rendered result.
fn template(prefixes: &[&str], n: usize) -> (String, String) {
    let (mut t, mut e) = (String::new(), String::new());
    for i in 0..n {
        let p = prefixes[i % prefixes.len()].to_ascii_uppercase();
        t += &format!("k{i}: {p}:///app/item{i}\n");
        e += &format!("k{i}: /app/item{i}->\n");
    }
    (t, e)
}

/// The test plugin with pseudo-random bytes appended up to `size`: still a working plugin.
fn big_plugin(dir: &Path, size: u64) -> PathBuf {
    let mut bytes = std::fs::read(TEST_PLUGIN).unwrap();
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    while (bytes.len() as u64) < size {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        bytes.extend_from_slice(&x.to_le_bytes());
    }
    let path = dir.join("big-plugin");
    std::fs::write(&path, bytes).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// Waits until no file under `root` changed in the last 2 s: the verified-hash cache does not
/// take files changed more recently than that (see `cm::plugin::verified`).
fn settle(paths: &[PathBuf]) {
    use std::os::unix::fs::MetadataExt;
    for p in paths {
        let m = std::fs::metadata(p).unwrap();
        let changed = SystemTime::UNIX_EPOCH + Duration::new(m.ctime().max(m.mtime()) as u64, 0);
        if let Ok(wait) = (changed + Duration::from_millis(3100)).duration_since(SystemTime::now())
        {
            std::thread::sleep(wait);
        }
    }
}

/// Floors: the plugin's own start, no cm process.
struct Floor {
    name: String,
    wanted: Vec<(String, PathBuf)>,
    path: String,
    expected: Vec<u8>,
}

/// Where `cm-plugin-awsparamstr` is: `CM_BENCH_AWSPARAMSTR`, else beside the `cm` this bench
/// was built with.
fn awsparamstr_plugin() -> Result<PathBuf, String> {
    let path = std::env::var_os("CM_BENCH_AWSPARAMSTR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(CM).with_file_name("cm-plugin-awsparamstr"));
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "{} not found (cargo build --release -p cm-plugin-awsparamstr, or set CM_BENCH_AWSPARAMSTR)",
            path.display()
        ))
    }
}

/// Puts three parameters into moto (through boto3, which moto's server comes with).
fn seed_moto(base: &str) -> Result<(), String> {
    let script = format!(
        "import boto3, os\n\
         c = boto3.client('ssm', endpoint_url=os.environ['AWS_ENDPOINT_URL'], \
         region_name=os.environ.get('AWS_REGION') or os.environ.get('AWS_DEFAULT_REGION') or 'us-east-1')\n\
         for n in 'abc':\n\
         \x20   c.put_parameter(Name='{base}/' + n, Value='value-' + n, Type='String', Overwrite=True)\n"
    );
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .output()
        .map_err(|e| format!("cannot run python3: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "seeding moto failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// 16 MiB of text with a token every ~4 KiB, and its number of tokens.
fn scan_input() -> (Vec<u8>, usize) {
    let line =
        "the config value server port timeout retry AWS region https://example.com/path a|b\n";
    let mut text = Vec::with_capacity(16 << 20);
    let mut tokens = 0;
    while text.len() < 16 << 20 {
        for _ in 0..48 {
            text.extend_from_slice(line.as_bytes());
        }
        text.extend_from_slice(
            format!("password: AWSPARAMSTR:///app/{tokens}/db|password\n").as_bytes(),
        );
        tokens += 1;
    }
    (text, tokens)
}

/// `cm scan --format json -i FILE` against `grep -c` over the same file, turn about.
fn scan_rows(cm: &Path, dir: &Path, runs: usize) {
    let (text, tokens) = scan_input();
    let file = dir.join("scan-input.txt");
    std::fs::write(&file, &text).unwrap();
    let time = |cmd: &mut Command, check: &dyn Fn(&[u8])| {
        let t = Instant::now();
        let out = cmd.stdin(Stdio::null()).output().unwrap();
        let elapsed = t.elapsed();
        check(&out.stdout);
        elapsed
    };
    let (mut cm_times, mut grep_times) = (Vec::new(), Vec::new());
    for round in 0..=runs {
        let c = time(
            Command::new(cm)
                .args(["scan", "--format", "json", "-i"])
                .arg(&file),
            &|out| {
                let v: serde_json::Value = serde_json::from_slice(out).expect("cm scan JSON");
                assert_eq!(v["tokens"].as_array().map(Vec::len), Some(tokens));
            },
        );
        let g = time(
            Command::new("grep").args(["-c", "AWSPARAMSTR"]).arg(&file),
            &|out| {
                assert_eq!(String::from_utf8_lossy(out).trim(), tokens.to_string());
            },
        );
        if round > 0 {
            cm_times.push(c);
            grep_times.push(g);
        }
    }
    let (c, g) = (Samples(cm_times), Samples(grep_times));
    let r = ratio(&c, &g);
    println!(
        "\nScan: 16 MiB, a token every ~4 KiB ({tokens} tokens), spawn to exit, {runs} runs each"
    );
    row("grep -c (floor)", &g, "");
    row(
        "cm scan --format json",
        &c,
        &format!("{r:.2}x grep (target <= 6x: {})", verdict(r, 6.0)),
    );
}

fn main() {
    let runs = env_usize("CM_BENCH_START_RUNS", 15).max(1);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // A private copy of cm: the target folder's may be rebuilt while this runs.
    let cm = dir.join("cm");
    std::fs::copy(CM, &cm).unwrap();
    let cm = cm.as_path();

    // Unlocked plugins: seven small ones and the big one.
    let plain = dir.join("plain");
    let small: Vec<(String, PathBuf)> = PREFIXES
        .iter()
        .map(|p| {
            (
                p.to_ascii_uppercase(),
                install(&plain, p, Path::new(TEST_PLUGIN)),
            )
        })
        .collect();
    let big_binary = big_plugin(dir, BIG_SIZE);
    install(&plain, BIG, &big_binary);
    // Locked: the small plugin and the big one, installed with `cm plugin install`.
    let locked = dir.join("locked");
    std::fs::create_dir_all(&locked).unwrap();
    let locked_small = cm_install(cm, &locked, "echo", Path::new(TEST_PLUGIN));
    let locked_big = cm_install(cm, &locked, BIG, &big_binary);
    // Locked again, for runs that always find the cache empty.
    let cold = dir.join("cold");
    std::fs::create_dir_all(&cold).unwrap();
    cm_install(cm, &cold, BIG, &big_binary);
    settle(&[locked_small.clone(), locked_big.clone()]);

    let (t1, e1) = template(&PREFIXES[..1], 3);
    let (t7, e7) = template(&PREFIXES, 7);
    let (tb, eb) = template(&[BIG], 3);
    let insert = ["insert"];
    let mut cases = vec![
        Case::new(
            "cm, 1 plugin, 3 tokens",
            &plain,
            &insert,
            t1.clone(),
            e1.clone(),
        ),
        Case::new("cm, 7 plugins, 7 tokens", &plain, &insert, t7, e7),
        Case::new(
            "cm, 150 MiB plugin, 3 tokens, no lock",
            &plain,
            &insert,
            tb.clone(),
            eb.clone(),
        ),
        Case::new(
            "cm, locked plugin, repeat run",
            &locked,
            &insert,
            t1.clone(),
            e1.clone(),
        ),
        Case::new(
            "cm, locked 150 MiB plugin, repeat run",
            &locked,
            &insert,
            tb.clone(),
            eb.clone(),
        ),
    ];
    let cold_cache = cold.join("cache");
    let mut first_run = Case::new(
        "cm, locked 150 MiB plugin, first run (no cache)",
        &cold,
        &insert,
        tb,
        eb,
    );
    first_run.before = Some(Box::new(move || {
        let _ = std::fs::remove_dir_all(&cold_cache);
    }));
    cases.push(first_run);

    let mut floors = vec![
        Floor {
            name: "floor: 1 plugin's own start + 1 call (no cm)".into(),
            wanted: small[..1].to_vec(),
            path: "ready".into(),
            expected: b"ready->".to_vec(),
        },
        Floor {
            name: "floor: 7 plugins' own start + 1 call each (no cm)".into(),
            wanted: small.clone(),
            path: "ready".into(),
            expected: b"ready->".to_vec(),
        },
    ];

    // The real store, when there is one.
    let aws = match (std::env::var("AWS_ENDPOINT_URL"), awsparamstr_plugin()) {
        (Err(_), _) => Err("AWS_ENDPOINT_URL is not set (source .ci/emulators.sh)".to_string()),
        (_, Err(e)) => Err(e),
        (Ok(_), Ok(plugin)) => {
            let base = format!("/cmbench/startup{}", std::process::id());
            seed_moto(&base).map(|()| (plugin, base))
        }
    };
    match &aws {
        Ok((plugin, base)) => {
            let root = dir.join("aws");
            let installed = install(&root, "awsparamstr", plugin);
            let t: String = "abc"
                .chars()
                .map(|n| format!("{n}: AWSPARAMSTR://{base}/{n}\n"))
                .collect();
            let e: String = "abc".chars().map(|n| format!("{n}: value-{n}\n")).collect();
            cases.push(
                Case::new("cm, awsparamstr + moto, 3 tokens", &root, &insert, t, e)
                    .env("AWS_EC2_METADATA_DISABLED", "true"),
            );
            floors.push(Floor {
                name: "floor: awsparamstr's own start + 1 call (no cm)".into(),
                wanted: vec![("AWSPARAMSTR".into(), installed)],
                path: format!("{base}/a"),
                expected: b"value-a".to_vec(),
            });
        }
        Err(why) => println!("SKIPPED: the real-store case: {why}"),
    }

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let size = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len()) as f64 / (1 << 20) as f64;
    println!(
        "cm start-up benchmark: {runs} rounds; {cpus} CPUs, load average {}; cm {:.1} MiB, test plugin {:.1} MiB",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
        size(cm),
        size(Path::new(TEST_PLUGIN)),
    );

    // One untimed round first (page cache, the cache files), then the timed rounds.
    let mut case_times: Vec<Vec<Duration>> = vec![Vec::new(); cases.len()];
    let mut floor_times: Vec<Vec<Duration>> = vec![Vec::new(); floors.len()];
    for round in 0..=runs {
        for (i, f) in floors.iter().enumerate() {
            let (t, _, _) = runtime.block_on(time_to_ready(
                &f.wanted,
                HostOptions::default(),
                &f.path,
                &f.expected,
            ));
            if round > 0 {
                floor_times[i].push(t);
            }
        }
        for (i, c) in cases.iter().enumerate() {
            let t = c.run(cm);
            if round > 0 {
                case_times[i].push(t);
            }
        }
    }
    let s: Vec<Samples> = case_times.into_iter().map(Samples).collect();
    let f: Vec<Samples> = floor_times.into_iter().map(Samples).collect();

    println!(
        "\nStart-up: `cm insert < template`, spawn to exit; floors: spawn, handshake, 1 Value call"
    );
    println!(
        "  {:<52} {:>10} {:>10} {:>10}",
        "case", "median", "min", "max"
    );
    row(&floors[0].name, &f[0], "");
    let r = ratio(&s[0], &f[0]);
    row(
        &cases[0].name,
        &s[0],
        &format!("{r:.2}x floor (target <= 2x: {})", verdict(r, 2.0)),
    );
    row(
        &floors[1].name,
        &f[1],
        &format!("{:.2}x 1-plugin floor", ratio(&f[1], &f[0])),
    );
    let r = ratio(&s[1], &s[0]);
    row(
        &cases[1].name,
        &s[1],
        &format!(
            "{r:.2}x 1 plugin (target <= 3x: {}); {:.2}x its floor",
            verdict(r, 3.0),
            ratio(&s[1], &f[1])
        ),
    );
    let r = ratio(&s[2], &s[0]);
    row(
        &cases[2].name,
        &s[2],
        &format!("{r:.2}x small (target <= 1.10x: {})", verdict(r, 1.10)),
    );
    let r = ratio(&s[3], &s[0]);
    row(
        &cases[3].name,
        &s[3],
        &format!("{r:.2}x unlocked (target <= 1.2x: {})", verdict(r, 1.2)),
    );
    let r = ratio(&s[4], &s[0]);
    row(&cases[4].name, &s[4], &format!("{r:.2}x unlocked small"));
    let r = ratio(&s[5], &s[0]);
    row(&cases[5].name, &s[5], &format!("{r:.2}x unlocked small"));
    if aws.is_ok() {
        row(&floors[2].name, &f[2], "");
        let r = ratio(&s[6], &f[2]);
        row(&cases[6].name, &s[6], &format!("{r:.2}x its floor"));
    }

    scan_rows(cm, dir, runs);
}
