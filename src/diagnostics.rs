//! The process's own logging: `tracing` events to stderr, filtered by
//! `RUST_LOG` (env-filter syntax, e.g. `RUST_LOG=log_core=debug,info`).

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. `default_filter` applies when `RUST_LOG`
/// is unset; an unparsable `RUST_LOG` falls back to it with a warning.
pub fn init_tracing(default_filter: &str) {
    let (filter, bad) = match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.trim().is_empty() => match EnvFilter::try_new(&spec) {
            Ok(filter) => (filter, None),
            Err(e) => (EnvFilter::new(default_filter), Some((spec, e))),
        },
        _ => (EnvFilter::new(default_filter), None),
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    if let Some((spec, error)) = bad {
        tracing::warn!(rust_log = %spec, %error, "RUST_LOG is not a valid filter; using the default");
    }
}
