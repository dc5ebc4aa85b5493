//! cm's binaries for the shared test bench (`cm-testkit`, re-exported here): only cm's own test
//! crate knows where cargo put them.

pub use cm_testkit::*;

/// The `cm` under test.
pub const CM: &str = env!("CARGO_BIN_EXE_cm");
/// The SDK test plugin; its behaviour follows the prefix it is installed under.
pub const TEST_PLUGIN: &str = env!("CARGO_BIN_EXE_cm-test-plugin");

/// An empty project running this build of cm, where `install(prefix)` installs the test plugin.
pub fn project() -> Project {
    Project::new(CM).test_plugin(TEST_PLUGIN)
}
