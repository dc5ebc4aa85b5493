//! Why a WASI plugin could not be loaded ([`LoadError`]) or could not give one token's value
//! ([`WasmFailure`]). Data only: `error.rs` words both, next to the other provider failures.

use std::time::Duration;

/// Why a module cannot serve as a plugin at all (every token of its prefix fails with it).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LoadError {
    /// wasmi refused the bytes: not WebAssembly, invalid, or a feature cm does not enable.
    Compile(String),
    /// The module imports something the host does not provide.
    UnknownImport {
        /// The import's module (`wasi_snapshot_preview1`, `cm`, ...).
        module: String,
        /// The import's name.
        name: String,
    },
    /// The module imports a host function with another type than the host's.
    ImportType {
        /// The import's module.
        module: String,
        /// The import's name.
        name: String,
        /// The host's type, as `(i32, i32) -> i32`.
        expected: String,
        /// The module's type.
        found: String,
    },
    /// A required export is missing.
    MissingExport(&'static str),
    /// A required export has the wrong kind or type.
    ExportType {
        /// The export.
        name: &'static str,
        /// What the ABI requires.
        expected: &'static str,
        /// What the module has.
        found: String,
    },
}

/// Why one token failed in a WASI plugin. Never holds a value.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WasmFailure {
    /// The module could not be loaded (the lead's wiring reports it for each token).
    Load(LoadError),
    /// `strategy_token_value` returned an error code (not 0 or -1).
    Code {
        /// The code.
        code: i32,
        /// For -6 and -7: the reason the module wrote in the output buffer, if any.
        reason: Option<String>,
    },
    /// The module asked twice for a larger output buffer.
    BufferTooSmallTwice {
        /// The length it asked for the second time.
        needed: u32,
    },
    /// The module returned -1 without asking for more room than it had.
    BadRetryLength {
        /// The length at `*outLenPtr`.
        needed: u32,
        /// The buffer it had.
        capacity: u32,
    },
    /// The module reported a value length beyond its output buffer.
    BadOutputLength {
        /// The length at `*outLenPtr`.
        len: u32,
        /// The buffer's capacity.
        capacity: u32,
    },
    /// The value is larger than cm accepts from any plugin.
    TooLarge {
        /// The limit, in bytes.
        limit_bytes: usize,
    },
    /// The value is not UTF-8.
    ValueNotUtf8,
    /// `allocate` returned 0 on a fresh instance too.
    ArenaFull,
    /// `allocate` returned a buffer that is not inside the module's memory.
    BadPointer {
        /// Which buffer (`input`, `output`, ...).
        what: &'static str,
    },
    /// The module trapped.
    Trap(String),
    /// The module called `proc_exit`.
    Exit(i32),
    /// The module ran out of fuel (an instruction budget per token).
    FuelExhausted {
        /// The budget.
        fuel: u64,
    },
    /// The token took longer than `--timeout`.
    Timeout {
        /// The timeout.
        after: Duration,
    },
    /// The module tried to grow its memory past the limit.
    MemoryLimit {
        /// The limit, in bytes.
        limit_bytes: usize,
    },
    /// The metadata is not a list of `key=value` pairs.
    BadMetadata(String),
    /// cm itself failed around the call (a worker thread panicked).
    Host(String),
}

impl From<LoadError> for WasmFailure {
    fn from(e: LoadError) -> Self {
        WasmFailure::Load(e)
    }
}
