//! The storage emulators the provider plugins are tested against (moto, Azurite), started by
//! `source .ci/emulators.sh`, and the AWS helpers shared by the two AWS plugins' tests.

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::Path;
use std::time::Duration;

use crate::binary::cm_binary;
use crate::project::Project;
use crate::proxy::CountingProxy;
use crate::skip::require;

/// A name no other test (or earlier run against the same emulator) uses: `tag` plus the
/// process id, the time and a counter.
pub fn unique(tag: &str) -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "{tag}{}x{nanos:x}x{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// The value of `var` if the emulator it points at answers on TCP. `address` turns the value
/// into `host:port`. When it is unset or silent the test is skipped ([`require`]: reported at
/// exit, a failure under `CI=true`, where `.ci/run` must have started it).
#[track_caller]
pub fn emulator(var: &str, address: impl Fn(&str) -> Option<String>) -> Option<String> {
    let value = std::env::var(var).ok().filter(|v| !v.is_empty());
    let problem = match &value {
        None => format!("{var} is not set"),
        Some(v) => match address(v) {
            None => format!("no address in {var}"),
            Some(addr) if answers(&addr) => return value,
            Some(addr) => format!("nothing answers at {addr} ({var})"),
        },
    };
    let _ = require(
        false,
        &format!("no emulator: {problem}"),
        "start the emulators with `source .ci/emulators.sh`",
    );
    None
}

/// `host:port` of an `http://host:port/...` address.
pub fn url_address(url: &str) -> Option<String> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split('/').next()?;
    (!authority.is_empty()).then(|| authority.to_string())
}

fn answers(address: &str) -> bool {
    let addrs: Vec<SocketAddr> = address
        .to_socket_addrs()
        .map(Iterator::collect)
        .unwrap_or_default();
    addrs
        .iter()
        .any(|a| TcpStream::connect_timeout(a, Duration::from_secs(2)).is_ok())
}

/// moto's address from `AWS_ENDPOINT_URL`, or `None` (test skipped) when it is not running.
#[track_caller]
pub fn moto() -> Option<String> {
    emulator("AWS_ENDPOINT_URL", url_address)
}

/// A project with the AWS plugin `plugin` installed for `prefix`, talking to `endpoint`. The
/// instance metadata service is off, so nothing ever leaves loopback, and a long collection
/// window keeps batches whole on a busy machine.
pub fn aws_project(prefix: &str, plugin: &str, endpoint: &str) -> Project {
    let project = Project::new(cm_binary())
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("CM_AWS_BATCH_WINDOW_MS", "200");
    project.link_binary(prefix, Path::new(plugin));
    project
}

/// Resolves `template` twice through `proxy`: batched, where the API calls must be exactly
/// `batched`, and with `CM_AWS_BATCH=0`, where they must be exactly `single`; both runs must
/// print `expected`. `project` makes the project for an endpoint.
#[track_caller]
pub fn assert_calls(
    proxy: &CountingProxy,
    project: impl Fn(&str) -> Project,
    (template, expected): (&str, &str),
    batched: &[(&str, usize)],
    single: &[(&str, usize)],
) {
    let as_map = |calls: &[(&str, usize)]| -> BTreeMap<String, usize> {
        calls.iter().map(|(op, n)| (op.to_string(), *n)).collect()
    };
    for (setting, want) in [("1", batched), ("0", single)] {
        proxy.reset();
        project(proxy.url())
            .cm()
            .env("CM_AWS_BATCH", setting)
            .arg("insert")
            .stdin(template)
            .stdout(expected)
            .success();
        assert_eq!(proxy.counts(), as_map(want), "CM_AWS_BATCH={setting}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_addresses() {
        assert_eq!(
            url_address("http://127.0.0.1:5000").as_deref(),
            Some("127.0.0.1:5000")
        );
        assert_eq!(
            url_address("http://127.0.0.1:10002/devstoreaccount1").as_deref(),
            Some("127.0.0.1:10002")
        );
        assert_eq!(url_address("http://"), None);
    }
}
