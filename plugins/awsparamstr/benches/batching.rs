//! What batching saves: 1,000 tokens over 200 parameters, resolved by the real `cm` (release)
//! with this plugin (release) against moto's server, with and without batching. Prints the
//! calls each run made (counted by a proxy in front of moto) and the wall time of each run.
//!
//!     source .ci/emulators.sh
//!     cargo bench -p cm-plugin-awsparamstr --bench batching
//!
//! `BENCH_RUNS` sets the runs per mode (default 7). Skips with a note when moto is not running.

use std::path::Path;
use std::time::{Duration, Instant};

use aws_sdk_ssm::types::ParameterType;
use cm_testkit::{CountingProxy, Project, cm_release_binary, emulator, unique, url_address};

const PLUGIN: &str = env!("CARGO_BIN_EXE_cm-plugin-awsparamstr");
const PARAMETERS: usize = 200;
const KEYS: [&str; 5] = ["host", "port", "user", "db", "region"];

fn main() {
    // `cargo bench` passes `--bench`; nothing to filter here.
    let Some(endpoint) = emulator("AWS_ENDPOINT_URL", url_address) else {
        return;
    };
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(7);
    let base = format!("/cmbench/{}", unique("p"));
    seed(&base);

    // 200 parameters x 5 key paths = 1,000 distinct tokens; cm groups them into one Value call
    // per parameter, 200 in all, which the plugin turns into API calls.
    let mut template = String::new();
    for i in 0..PARAMETERS {
        for key in KEYS {
            template.push_str(&format!("{key}{i}=AWSPARAMSTR://{base}/p{i}|{key}\n"));
        }
    }
    let cm = cm_release_binary();
    let proxy = CountingProxy::start(&endpoint);
    let project = |batch: &str| {
        let project = Project::new(cm)
            .env("AWS_ENDPOINT_URL", proxy.url())
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("CM_AWS_BATCH", batch);
        project.link_binary("AWSPARAMSTR", Path::new(PLUGIN));
        project
    };
    let batched = project("1");
    let single = project("0");

    println!("1,000 tokens over {PARAMETERS} parameters, {runs} runs per mode, moto at {endpoint}");
    let mut times = [Vec::new(), Vec::new()];
    let mut calls = [Vec::new(), Vec::new()];
    // Alternate the modes so that a slow spell of the machine hits both alike.
    for _ in 0..runs {
        for (mode, project) in [&batched, &single].into_iter().enumerate() {
            proxy.reset();
            let started = Instant::now();
            let out = project
                .cm()
                .arg("insert")
                .stdin(&template)
                .stdout_unchecked()
                .success();
            times[mode].push(started.elapsed());
            assert_eq!(out.stdout_str().lines().count(), PARAMETERS * KEYS.len());
            calls[mode].push(proxy.counts());
        }
    }
    for (mode, name) in ["batched (CM_AWS_BATCH=1)", "unbatched (CM_AWS_BATCH=0)"]
        .iter()
        .enumerate()
    {
        let mut t = times[mode].clone();
        t.sort();
        // Batches are cut by the collection window, so their number varies a little with
        // timing (cm keeps 64 calls in flight; each wave can leave a partial batch).
        let totals: Vec<usize> = calls[mode].iter().map(|c| c.values().sum()).collect();
        println!(
            "{name:28} API calls per run {}..{} (first run: {:?})  wall median {}  min {}  max {}",
            totals.iter().min().unwrap_or(&0),
            totals.iter().max().unwrap_or(&0),
            calls[mode][0],
            ms(t[t.len() / 2]),
            ms(t[0]),
            ms(t[t.len() - 1]),
        );
    }
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

fn seed(base: &str) {
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    rt.block_on(async {
        let config = cm_plugin_common::aws::load_config()
            .await
            .expect("AWS_REGION is set by .ci/emulators.sh");
        let client = aws_sdk_ssm::Client::new(&config);
        for i in 0..PARAMETERS {
            let value = format!(
                r#"{{"host":"h{i}.internal","port":{},"user":"u{i}","db":"d{i}","region":"us-east-1"}}"#,
                5000 + i
            );
            client
                .put_parameter()
                .name(format!("{base}/p{i}"))
                .value(value)
                .r#type(ParameterType::String)
                .send()
                .await
                .expect("seed a parameter");
        }
    });
}
