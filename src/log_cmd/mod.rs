//! `weir log ...`: offline tools that work on a data dir directly.
//!
//! Each takes the data dir's lock like a server does (read-only tools too),
//! so none of them runs while a server holds it: they fail with the lock
//! holder's pid instead of reading a log that is changing under them.
//! Read-only tools never change the log (the lock file records their pid).
//!
//! # Layout
//! - [`topics`]: `topics` and `describe`.
//! - [`produce`]: `produce`, stdin lines to records.
//! - [`dump`]: `dump`, records to stdout.
//! - [`check`]: `check`, verification and repair.
//! - [`table`]: aligned text tables for the listings.

mod check;
mod dump;
mod produce;
mod table;
mod topics;

use std::process::ExitCode;
use std::sync::Arc;

use log_core::{Log, OpenMode};

use crate::cli::{LogArgs, LogCommand};
use crate::config::Settings;
use crate::diagnostics;

/// Runs one `weir log` command.
pub fn run(args: LogArgs) -> anyhow::Result<ExitCode> {
    let settings = Settings::load(
        args.config.config.as_deref(),
        args.config.data_dir.as_deref(),
    )?;
    // Warnings (recovery findings, damage) still show; routine info does not
    // mix with the command's output.
    diagnostics::init_tracing("warn");
    match args.command {
        LogCommand::Topics => topics::list(&settings),
        LogCommand::Describe { topic } => topics::describe(&settings, &topic),
        LogCommand::Produce {
            topic,
            key,
            partition,
            in_flight,
        } => produce::run(&settings, &topic, key, partition, usize::from(in_flight)),
        LogCommand::Dump {
            topic,
            partition,
            from,
            limit,
            json,
        } => {
            let request = dump::Request {
                topic,
                partition,
                from,
                limit,
                json,
            };
            dump::run(&settings, &request)
        }
        LogCommand::Check { repair } => check::run(&settings, repair),
    }
}

/// Opens the log of the configured data dir. Fails with the holder's pid
/// while another process holds the lock.
fn open(settings: &Settings, mode: OpenMode) -> anyhow::Result<Arc<Log>> {
    let (log, _report) = Log::open(&settings.data_dir, settings.log.clone(), mode)?;
    Ok(log)
}
