//! cm's end-to-end tests: the real `cm` binary against real plugin processes (the SDK-built
//! `cm-test-plugin` and, where Go is installed, a real go-plugin plugin built from Debian's
//! packages). One test binary, one file per feature. The bench is `cm-testkit` (`testkit/`,
//! shared with the plugin crates): every run compares exit status, stdout and stderr exactly
//! unless a test opts out, and checks that no plugin process is left.

mod support;

mod builtin;
mod cli;
mod faults;
mod hostile;
mod insert;
mod integrity;
mod interop;
mod mtls;
mod output;
mod retrieve;
mod scan;
mod signals;
