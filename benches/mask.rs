//! `cm exec`'s output mask at volume, the way a user meets it: whole `cm exec` processes whose
//! command writes 1 GiB (a value in every line) through the mask to a pipe, against the same
//! command run directly (the floor: what the pipe costs without cm) and under `cm exec` with a
//! value too short to mask (cm's extra pipe hop alone), in the same run. Reports medians and
//! the throughput through the mask.
//!
//! `cargo bench --bench mask` (CM_BENCH_MASK_RUNS, default 5; CM_BENCH_MASK_MIB, default 1024).

mod support;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Instant;

use support::{Samples, env_usize, ms};

const CM: &str = env!("CARGO_BIN_EXE_cm");

/// Runs `command`, drains its stdout, and returns the time and the bytes read.
fn timed(command: &mut Command) -> (std::time::Duration, u64) {
    let start = Instant::now();
    let mut child = command.stdout(Stdio::piped()).spawn().unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = out.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        total += n as u64;
    }
    assert!(child.wait().unwrap().success());
    (start.elapsed(), total)
}

fn main() {
    let runs = env_usize("CM_BENCH_MASK_RUNS", 5).max(1);
    let mib = env_usize("CM_BENCH_MASK_MIB", 1024);
    let script = format!("yes \"line with $S in it\" | head -c {}", mib << 20);
    let (mut floor, mut copied, mut masked) = (Vec::new(), Vec::new(), Vec::new());
    let mut out_bytes = 0;
    for _ in 0..runs {
        let (t, n) = timed(
            Command::new("sh")
                .args(["-c", &script])
                .env("S", "s3cr3t-value"),
        );
        assert_eq!(n, (mib as u64) << 20);
        floor.push(t);
        // ENV:// is built in: no plugin, so the figure is the mask's and cm's start-up.
        let cm_exec = |value: &str| {
            let mut command = Command::new(CM);
            command
                .args(["exec", "--env", "S=ENV://CM_BENCH_SECRET", "--", "sh", "-c"])
                .arg(&script)
                .env("CM_BENCH_SECRET", value)
                // The short value's warning.
                .stderr(Stdio::null());
            timed(&mut command)
        };
        let (t, n) = cm_exec("s3cr3t-value");
        out_bytes = n;
        masked.push(t);
        // A 3-byte value is not masked: cm copies the stream as it is.
        let (t, n) = cm_exec("s3c");
        assert_eq!(n, (mib as u64) << 20);
        copied.push(t);
    }
    let (floor, copied, masked) = (Samples(floor), Samples(copied), Samples(masked));
    let mib_s = |d: std::time::Duration| mib as f64 / d.as_secs_f64();
    println!("{mib} MiB through a pipe, {runs} runs, medians:");
    println!(
        "  direct (floor)       {:>10}  {:>7.0} MiB/s",
        ms(floor.median()),
        mib_s(floor.median())
    );
    println!(
        "  cm exec (copy only)  {:>10}  {:>7.0} MiB/s  {:.2}x the floor",
        ms(copied.median()),
        mib_s(copied.median()),
        copied.median().as_secs_f64() / floor.median().as_secs_f64()
    );
    println!(
        "  cm exec (masked)     {:>10}  {:>7.0} MiB/s  {:.2}x the floor ({out_bytes} bytes out)",
        ms(masked.median()),
        mib_s(masked.median()),
        masked.median().as_secs_f64() / floor.median().as_secs_f64()
    );
}
