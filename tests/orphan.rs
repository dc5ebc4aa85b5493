//! SDK plugins exit when their host is gone without shutting them down, whatever their stdout
//! and stderr are connected to: pipes whose reader died with the host included (the plugin's
//! note about exiting then fails to write). The plugin is the SDK test plugin, which starts
//! through `cm_plugin_sdk::serve` like any plugin. Hosts: a python script that ends with
//! `os._exit`, and go-plugin's own client killed with SIGKILL mid-call. Skipped where python3 or
//! Go is missing (the test run lists the skips at its end), failing under `CI=true`.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{Project, go_fixtures, project, require_tool, wait_until};

/// A host that starts the plugin with both streams piped, reads its handshake line, prints the
/// plugin's pid and ends without closing anything.
const PYTHON_HOST: &str = r#"
import os, subprocess, sys
env = dict(os.environ, CONFIGMANAGER_PLUGIN="hello", PLUGIN_PROTOCOL_VERSIONS="1")
p = subprocess.Popen([sys.argv[1]], env=env, stdin=subprocess.DEVNULL,
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
line = p.stdout.readline().decode()
assert line.startswith("1|1|unix|"), line
print(p.pid, flush=True)
os._exit(0)
"#;

/// How long a plugin may take to notice; the SDK needs well under a second.
const LIMIT: Duration = Duration::from_secs(10);

/// Live (neither gone nor a zombie waiting for init to reap it).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        !stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z'))
    })
}

/// Waits up to [`LIMIT`] for the plugin `pid` in `p` to exit; kills it and fails if not.
#[track_caller]
fn assert_exits(pid: u32, p: &Project) {
    let deadline = Instant::now() + LIMIT;
    while alive(pid) {
        if Instant::now() > deadline {
            // SAFETY: plain syscall; the pid belongs to a plugin this test started.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
            panic!("the plugin (pid {pid}) outlived its host by {LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(p.plugin_pids(), Vec::<u32>::new());
}

#[test]
fn sdk_plugin_exits_when_its_host_ends_without_closing_its_pipes() {
    if !require_tool("python3", &["--version"], "apt-get install python3") {
        return;
    }
    let p = project();
    let plugin = p.install("echo");
    let out = Command::new("python3")
        .arg("-c")
        .arg(PYTHON_HOST)
        .arg(&plugin)
        .env_remove("RUST_LOG")
        .env_remove("CM_PLUGIN_TRANSPORT")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    // The plugin's own streams go to the script's pipes: anything on the script's stderr is a
    // failure of the script itself.
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let pid: u32 = stdout
        .strip_suffix('\n')
        .and_then(|line| line.parse().ok())
        .unwrap_or_else(|| panic!("the host printed {stdout:?}, not a pid line"));
    assert_exits(pid, &p);
}

#[test]
fn sdk_plugin_exits_when_a_go_host_is_killed_mid_call() {
    let Some((_, go_host)) = go_fixtures() else {
        return;
    };
    let p = project();
    let plugin = p.install("echo");
    // `hang` never answers, so the host is inside a call, holding the plugin, when it dies.
    let mut host = Command::new(go_host)
        .env("CM_TEST_CALL_LOG", p.call_log())
        .env_remove("RUST_LOG")
        .env_remove("CM_PLUGIN_TRANSPORT")
        .arg(&plugin)
        .arg("hang")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until(LIMIT, "the Go host's call to reach the plugin", || {
        p.log().contains(&("call".to_string(), "hang".to_string()))
    });
    let pids = p.plugin_pids();
    assert_eq!(pids.len(), 1, "{pids:?}");
    host.kill().unwrap();
    host.wait().unwrap();
    assert_exits(pids[0], &p);
}
