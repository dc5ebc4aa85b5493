//! The constants host and plugin must agree on: configmanager's magic cookie, go-plugin's and
//! configmanager's protocol versions, the environment variables go-plugin passes to a plugin,
//! and the limits on messages and concurrent calls. Values only; no I/O.

/// The magic cookie's environment variable. A plugin started without it (by hand, or by a host
/// for another application) refuses to run.
pub const COOKIE_KEY: &str = "CONFIGMANAGER_PLUGIN";

/// The cookie value of configmanager v3.0.0.
pub const COOKIE_VALUE: &str = "hello";

/// The cookie value later configmanager builds use. Plugins accept both; a host tries it once
/// when a plugin refuses [`COOKIE_VALUE`].
pub const COOKIE_VALUE_ALT: &str = "configmanager-plugin-hello";

/// How go-plugin's refusal of a wrong cookie begins (a plugin prints it on stderr), so a host
/// can tell "wrong cookie" from other start-up failures.
pub const NOT_A_PLUGIN_MESSAGE: &str = "This binary is a plugin";

/// go-plugin's core protocol version, field 1 of the handshake line; every release uses 1.
pub const CORE_PROTOCOL_VERSION: u32 = 1;

/// The app protocol versions of configmanager's `TokenStore` service that this crate speaks.
pub const APP_PROTOCOL_VERSIONS: &[u32] = &[1];

/// The variable carrying the app protocol versions the host offers (`1` or `1,2`).
pub const PROTOCOL_VERSIONS_ENV: &str = "PLUGIN_PROTOCOL_VERSIONS";

/// The folder the host wants the plugin's Unix socket in.
pub const UNIX_SOCKET_DIR_ENV: &str = "PLUGIN_UNIX_SOCKET_DIR";

/// The lowest TCP port a plugin may listen on.
pub const MIN_PORT_ENV: &str = "PLUGIN_MIN_PORT";

/// The highest TCP port a plugin may listen on.
pub const MAX_PORT_ENV: &str = "PLUGIN_MAX_PORT";

/// Set by hosts that can multiplex gRPC over one connection; the plugin answers in field 7.
pub const MULTIPLEX_GRPC_ENV: &str = "PLUGIN_MULTIPLEX_GRPC";

/// The variable carrying the host's AutoMTLS certificate (PEM) to the plugin.
pub const CLIENT_CERT_ENV: &str = "PLUGIN_CLIENT_CERT";

/// The largest value a plugin may return. Go hosts allow 2^31-1; both sides here bound it so a
/// runaway plugin cannot make a host allocate without limit.
pub const MAX_VALUE_BYTES: usize = 64 * 1024 * 1024;

/// The gRPC message limit: the largest value plus room for the protobuf framing around it.
pub const MAX_MESSAGE_BYTES: usize = MAX_VALUE_BYTES + 64 * 1024;

/// Calls a plugin serves at once on one connection; a host must not allow more in flight.
/// h2 rejects a burst of thousands of tiny streams that arrive faster than they are accepted,
/// while a client that sees this limit queues.
pub const MAX_CONCURRENT_CALLS: u32 = 1024;
