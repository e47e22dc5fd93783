//! `weir log check [--repair]`: verifies every batch (CRC) and index of the
//! data dir; with `--repair`, truncates a damaged segment at its first
//! invalid batch and rewrites bad indexes (see `log_core::check`).
//!
//! Output: one line per problem (`file: detail at byte N`, with
//! ` (repaired)` when it was), then a summary line. Exits 1 when problems
//! remain unrepaired.

use std::io::{self, Write};
use std::process::ExitCode;

use crate::config::Settings;

pub fn run(settings: &Settings, repair: bool) -> anyhow::Result<ExitCode> {
    let report = log_core::check::check(&settings.data_dir, &settings.log, repair)?;
    let mut out = io::stdout().lock();
    for problem in &report.problems {
        writeln!(out, "{problem}")?;
    }
    let repaired = report.problems.iter().filter(|p| p.repaired).count();
    let remaining = report.problems.len() - repaired;
    writeln!(
        out,
        "checked {} partitions, {} segments, {} batches, {} bytes: {} problems, {} repaired",
        report.partitions,
        report.segments,
        report.batches,
        report.bytes,
        report.problems.len(),
        repaired,
    )?;
    out.flush()?;
    if remaining > 0 {
        eprintln!(
            "error: {remaining} problems found; `weir log check --repair` cuts damaged segments at their first invalid batch, dropping what follows"
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
