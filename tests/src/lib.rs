//! End-to-end tests of the whole suite live in `tests/`; this crate has no code.

// The dev-dependencies serve the test binaries, not this empty library.
#![allow(unused_crate_dependencies)]
