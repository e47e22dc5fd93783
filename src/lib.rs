//! `weir`: the one binary. It loads and validates configuration, wires the
//! crates together and runs the process; offline tools inspect and repair a
//! data dir directly.
//!
//! # Layout
//! - [`config`]: the TOML configuration file and its validation.

pub mod config;
