//! `weir serve`: the appliance's lifecycle.
//!
//! Start: open the log in the data dir (taking its lock and recovering from
//! an unclean stop), create the telemetry topics, report readiness. Stop:
//! when the shutdown future completes (SIGINT or SIGTERM in the binary),
//! close the log, which syncs every partition and writes the clean-shutdown
//! marker so the next start skips the CRC scan.
//!
//! Listeners (OTLP, Kafka, HTTP) will be started between the two and drained
//! before the log closes.

use std::future::Future;
use std::sync::Arc;

use anyhow::Context;
use log_core::{Log, OpenMode, RecoveryReport};
use tracing::info;

use crate::config::Settings;

/// Runs the appliance until `shutdown` completes, then stops it cleanly.
pub async fn run(settings: Settings, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    let data_dir = settings.data_dir.clone();
    let log_config = settings.log.clone();
    // Opening and closing the log do blocking file I/O and fsync.
    let (log, report) =
        tokio::task::spawn_blocking(move || Log::open(&data_dir, log_config, OpenMode::ReadWrite))
            .await
            .context("the task opening the log failed")??;
    log_recovery(&report);

    let telemetry = settings.telemetry_topics.clone();
    let topics_log = Arc::clone(&log);
    tokio::task::spawn_blocking(move || topics_log.ensure_telemetry_topics(&telemetry))
        .await
        .context("the task creating the telemetry topics failed")?
        .context("create the telemetry topics")?;

    info!(data_dir = %settings.data_dir.display(), pid = std::process::id(), "weir is ready");
    shutdown.await;
    info!("shutting down");

    tokio::task::spawn_blocking(move || log.close())
        .await
        .context("the task closing the log failed")?
        .context("close the log")?;
    info!("stopped");
    Ok(())
}

/// Logs what opening the log found. Each truncation is logged by the log
/// itself, with its file and byte position.
fn log_recovery(report: &RecoveryReport) {
    info!(
        clean_shutdown = report.clean_shutdown,
        partitions = report.partitions,
        scanned_batches = report.scanned_batches,
        truncations = report.truncations.len(),
        orphan_dirs = report.orphan_dirs.len(),
        "recovery finished"
    );
}

/// Completes on the first SIGINT or SIGTERM. The handlers are installed when
/// this is called, not when the future is first polled, so a signal that
/// arrives while the log is still opening is not lost.
#[cfg(unix)]
pub fn shutdown_signal() -> std::io::Result<impl Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        let name = tokio::select! {
            _ = interrupt.recv() => "SIGINT",
            _ = terminate.recv() => "SIGTERM",
        };
        info!(signal = name, "signal received");
    })
}

#[cfg(not(unix))]
pub fn shutdown_signal() -> std::io::Result<impl Future<Output = ()>> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
        info!(signal = "ctrl-c", "signal received");
    })
}
