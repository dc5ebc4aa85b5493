//! cm's end-to-end tests: the real `cm` binary against real plugin processes (the SDK-built
//! `cm-test-plugin` and, where Go is installed, a real go-plugin plugin built from Debian's
//! packages). One test binary, one file per feature.

mod support;

mod faults;
mod insert;
mod interop;
mod mtls;
mod scan;
mod signals;
