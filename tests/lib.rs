//! cm's end-to-end tests: the real `cm` binary against real plugin processes (the SDK-built
//! `cm-test-plugin` and, where Go is installed, a real go-plugin plugin built from Debian's
//! packages). One test binary, one file per feature. The bench is `cm-testkit` (`testkit/`,
//! shared with the plugin crates): every run compares exit status, stdout and stderr exactly
//! unless a test opts out, and checks that no plugin process is left.

// A test binary has no API: its helpers are `pub` only for the sibling test modules.
#![allow(unreachable_pub)]

mod support;

mod builtin;
mod cli;
mod exec;
mod faults;
mod formats;
mod hostile;
mod insert;
mod integrity;
mod interop;
mod mtls;
mod orphan;
mod output;
mod retrieve;
mod scan;
mod signals;
mod startup;
#[cfg(feature = "wasi")]
mod wasi;
