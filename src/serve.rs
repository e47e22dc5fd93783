//! `weir serve`: the appliance's lifecycle.
//!
//! Start: bind every listener (so a port conflict fails fast), open the log
//! index and the metric window store, serve the HTTP API (`/health` answers, `/ready` says not yet,
//! searches read what is indexed), open the log (taking its lock and
//! recovering from an unclean stop), create the telemetry topics, start the
//! log indexers (one per `otlp_logs` partition, each resuming at its
//! checkpoint), the metric workers (one per `otlp_metrics` partition,
//! likewise) and the OTLP receivers, and report readiness with the bound
//! addresses. Stop: when the shutdown future completes (SIGINT or SIGTERM
//! in the binary), mark not ready, stop accepting requests and let the ones
//! in progress finish (their appends become durable), stop the indexers
//! (each commits what it indexed) and the metric workers (each persists
//! its windows and checkpoints), then close the log, which syncs every
//! partition and writes the clean-shutdown marker so the next start skips
//! the CRC scan.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use std::time::Duration;

use aggregator::consumer::{Consumer, ConsumerConfig};
use aggregator::logs::indexer::PartitionIndexer;
use aggregator::logs::search::LogSearch;
use aggregator::logs::store::LogStore;
use aggregator::metrics::cardinality::Cardinality;
use aggregator::metrics::store::{StoreConfig, TierConfig, WindowStore};
use aggregator::metrics::worker::{MetricsWorker, WindowOutput};
use alerting::clock::SystemClock;
use alerting::engine::Engine;
use anyhow::Context;
use dashboards::Tenancy;
use dashboards::alerts_api::EngineSlot;
use dashboards::ui::PipelineSlot;
use ingest::{Auth, Pipeline};
use log_core::{Log, OTLP_LOGS, OTLP_METRICS, OpenMode, RecoveryReport};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::{error, info};

use crate::config::Settings;
use crate::http::{self, Readiness};
use crate::rule_query::EngineQuerier;
use crate::rule_sink::PipelineSink;
use crate::status::PipelineStatus;
use crate::worker_groups;

/// Runs the appliance until `shutdown` completes, then stops it cleanly.
pub async fn run(settings: Settings, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    let api_listener = bind("listen.http", settings.listen.http).await?;
    let grpc_listener = bind("listen.otlp_grpc", settings.listen.otlp_grpc).await?;
    let otlp_http_listener = bind("listen.otlp_http", settings.listen.otlp_http).await?;
    let kafka_listener = bind("listen.kafka", settings.listen.kafka).await?;
    let addresses = [
        &api_listener,
        &grpc_listener,
        &otlp_http_listener,
        &kafka_listener,
    ]
    .map(|l| l.local_addr().ok());

    let (stop_tx, stop_rx) = watch::channel(false);
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|stop| *stop).await;
        }
    };
    let index_root = settings.data_dir.join("index").join("logs");
    let index_config = settings.logs.clone();
    let store = tokio::task::spawn_blocking(move || LogStore::open(&index_root, index_config))
        .await
        .context("the task opening the log index failed")?
        .context("open the log index")?;
    let windows = open_window_store(&settings).await?;
    let search = Arc::new(LogSearch::new(Arc::clone(&store), settings.query));
    let logs_api = dashboards::LogsState::new(
        Arc::clone(&search),
        Tenancy::new(settings.ingest.tokens.clone()),
    );
    let metrics_api = dashboards::MetricsState::new(
        Arc::clone(&windows) as Arc<dyn aggregator::metrics::source::SeriesSource>,
        settings.query,
        Tenancy::new(settings.ingest.tokens.clone()),
    );
    let querier = Arc::new(EngineQuerier {
        promql: Arc::clone(&metrics_api.engine),
        logql: Arc::clone(&logs_api.logql),
    });
    let engine_slot = EngineSlot::default();
    let pipeline_slot = PipelineSlot::default();
    let readiness = Readiness::default();
    let api = tokio::spawn(http::serve(
        api_listener,
        http::router(
            readiness.clone(),
            http::metrics_handle(),
            dashboards::logs_router(logs_api)
                .merge(dashboards::metrics_router(metrics_api))
                .merge(dashboards::alerts_router(Arc::clone(&engine_slot)))
                .merge(dashboards::ui::router(
                    Arc::clone(&pipeline_slot),
                    settings.dashboards_dir.clone(),
                )),
        ),
        stopped(),
    ));

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

    let indexers = {
        let store = Arc::clone(&store);
        let log = Arc::clone(&log);
        let runtime = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || {
            Consumer::start(
                log,
                OTLP_LOGS,
                ConsumerConfig::default(),
                runtime,
                |partition| PartitionIndexer::new(Arc::clone(&store), partition),
            )
        })
        .await
        .context("the task starting the log indexers failed")?
        .context("start the log indexers")?
    };
    let metric_workers = start_metric_workers(&settings, &log, &windows).await?;
    let mut worker_positions = worker_groups::positions(worker_groups::LOGS_GROUP, &indexers);
    worker_positions.extend(worker_groups::positions(
        worker_groups::METRICS_GROUP,
        &metric_workers,
    ));
    let status = PipelineStatus {
        data_dir: settings.data_dir.clone(),
        log: Arc::clone(&log),
        index: Arc::clone(&store),
        windows: Arc::clone(&windows),
        workers: worker_groups::progress(&worker_positions),
    };
    let _ = pipeline_slot.set(Arc::new(status));
    let mirror = tokio::spawn(worker_groups::mirror(
        Arc::clone(&log),
        worker_positions,
        stopped(),
    ));
    let retention = tokio::spawn(index_retention(Arc::clone(&store), stopped()));
    let window_retention = tokio::spawn(window_retention(Arc::clone(&windows), stopped()));

    let pipeline = Arc::new(Pipeline::new(
        Arc::clone(&log),
        settings.ingest.pipeline.clone(),
    ));
    let sink = Arc::new(PipelineSink {
        pipeline: Arc::clone(&pipeline),
        runtime: tokio::runtime::Handle::current(),
    });
    let engine = start_alerting(&settings, &log, querier, sink).await?;
    let _ = engine_slot.set(Arc::clone(&engine));
    let reloads = tokio::spawn(reload_on_hangup(Arc::clone(&engine), stopped()));
    let auth = Arc::new(Auth::new(settings.ingest.tokens.clone()));
    let grpc = tokio::spawn(ingest::otlp_grpc::serve(
        grpc_listener,
        Arc::clone(&pipeline),
        Arc::clone(&auth),
        stopped(),
    ));
    let otlp_http = tokio::spawn(ingest::otlp_http::serve(
        otlp_http_listener,
        pipeline,
        auth,
        stopped(),
    ));

    let mut kafka_config = settings.kafka.clone();
    if kafka_config.advertised_port == 0 {
        kafka_config.advertised_port = kafka_listener.local_addr()?.port();
    }
    let kafka = tokio::spawn(log_core::kafka::serve(
        kafka_listener,
        Arc::clone(&log),
        kafka_config,
        stopped(),
    ));

    readiness.set(true);
    let [http_addr, grpc_addr, otlp_http_addr, kafka_addr] =
        addresses.map(|a| a.map_or_else(|| "?".into(), |a| a.to_string()));
    info!(
        data_dir = %settings.data_dir.display(),
        pid = std::process::id(),
        http = %http_addr,
        otlp_grpc = %grpc_addr,
        otlp_http = %otlp_http_addr,
        kafka = %kafka_addr,
        "weir is ready"
    );
    shutdown.await;
    info!("shutting down");
    readiness.set(false);
    let _ = stop_tx.send(true);
    // Requests in progress finish first, so everything acknowledged is in
    // the log before it closes.
    if let Err(e) = grpc.await.context("the OTLP/gRPC server task failed")? {
        error!(error = %e, "the OTLP/gRPC server failed");
    }
    if let Err(e) = otlp_http
        .await
        .context("the OTLP/HTTP server task failed")?
    {
        error!(error = %e, "the OTLP/HTTP server failed");
    }
    if let Err(e) = kafka
        .await
        .context("the Kafka protocol server task failed")?
    {
        error!(error = %e, "the Kafka protocol server failed");
    }
    // The alert engine persists its state; it writes to the log.
    let _ = reloads.await;
    engine.stop().await;
    // The indexers commit what they indexed; the log is the write-ahead
    // log, so anything not yet indexed is indexed at the next start.
    if let Err(e) = tokio::task::spawn_blocking(move || indexers.stop())
        .await
        .context("the task stopping the log indexers failed")?
    {
        error!(error = %e, "a log indexer failed");
    }
    // Metric workers persist their windows and checkpoint.
    if let Err(e) = tokio::task::spawn_blocking(move || metric_workers.stop())
        .await
        .context("the task stopping the metric workers failed")?
    {
        error!(error = %e, "a metric worker failed");
    }
    let _ = mirror.await;
    let _ = retention.await;
    let _ = window_retention.await;
    tokio::task::spawn_blocking(move || log.close())
        .await
        .context("the task closing the log failed")?
        .context("close the log")?;
    if let Err(e) = api.await.context("the HTTP API server task failed")? {
        error!(error = %e, "the HTTP API server failed");
    }
    info!("stopped");
    Ok(())
}

/// Starts the alert engine: a bad rule or routing file stops the start
/// with every problem listed.
async fn start_alerting(
    settings: &Settings,
    log: &Arc<Log>,
    querier: Arc<EngineQuerier>,
    sink: Arc<PipelineSink>,
) -> anyhow::Result<Arc<Engine>> {
    let engine = Engine::start(
        log,
        settings.alerting.clone(),
        querier,
        Some(sink),
        Arc::new(SystemClock),
    )
    .await
    .context("start the alert engine")?;
    Ok(Arc::new(engine))
}

/// Reloads the alerting configuration on every SIGHUP until `stopped`.
async fn reload_on_hangup(engine: Arc<Engine>, stopped: impl Future<Output = ()>) {
    tokio::pin!(stopped);
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hangup = match signal(SignalKind::hangup()) {
            Ok(hangup) => hangup,
            Err(e) => {
                error!(error = %e, "SIGHUP handler not installed; reload with POST /-/reload");
                return stopped.await;
            }
        };
        loop {
            tokio::select! {
                () = &mut stopped => return,
                _ = hangup.recv() => {}
            }
            info!(signal = "SIGHUP", "reloading the alerting configuration");
            if let Err(e) = engine.reload().await {
                error!(error = %e, "reload failed; the previous configuration stays");
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = engine;
        stopped.await
    }
}

/// Opens the metric window store under `<data_dir>/metrics/windows`.
async fn open_window_store(settings: &Settings) -> anyhow::Result<Arc<WindowStore>> {
    let root = settings.data_dir.join("metrics").join("windows");
    let config = StoreConfig {
        tiers: settings
            .metrics
            .tiers
            .iter()
            .map(|(window, retention)| TierConfig {
                window_ms: window.as_millis() as i64,
                retention: *retention,
            })
            .collect(),
        cache_bytes: settings.metrics.cache_bytes,
    };
    tokio::task::spawn_blocking(move || WindowStore::open(&root, config))
        .await
        .context("the task opening the metric window store failed")?
        .context("open the metric window store")
}

/// Starts one metric worker per `otlp_metrics` partition, each resuming
/// at its checkpoint under `<data_dir>/metrics/checkpoints`.
async fn start_metric_workers(
    settings: &Settings,
    log: &Arc<Log>,
    windows: &Arc<WindowStore>,
) -> anyhow::Result<Consumer> {
    let checkpoints = settings.data_dir.join("metrics").join("checkpoints");
    std::fs::create_dir_all(&checkpoints)
        .with_context(|| format!("create {}", checkpoints.display()))?;
    let window_config = settings.metrics.window.clone();
    let cardinality = Arc::new(Cardinality::new(settings.metrics.cardinality));
    let output: Arc<dyn WindowOutput> = Arc::clone(windows) as Arc<dyn WindowOutput>;
    let log = Arc::clone(log);
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        Consumer::start(
            log,
            OTLP_METRICS,
            ConsumerConfig::default(),
            runtime,
            |partition| {
                MetricsWorker::open(
                    partition,
                    checkpoints.clone(),
                    window_config.clone(),
                    Arc::clone(&output),
                    Arc::clone(&cardinality),
                )
            },
        )
    })
    .await
    .context("the task starting the metric workers failed")?
    .context("start the metric workers")
}

/// How often expired blocks of the metric window store are deleted.
const WINDOW_RETENTION_INTERVAL: Duration = Duration::from_secs(60);

/// Deletes expired metric blocks until `stopped` completes.
async fn window_retention(store: Arc<WindowStore>, stopped: impl Future<Output = ()>) {
    let mut tick = tokio::time::interval(WINDOW_RETENTION_INTERVAL);
    tokio::pin!(stopped);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = &mut stopped => return,
        }
        let store = Arc::clone(&store);
        match tokio::task::spawn_blocking(move || store.apply_retention()).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => error!(error = %e, "metric window retention failed"),
            Err(e) => error!(error = %e, "the metric window retention task failed"),
        }
    }
}

/// How often expired splits of the log index are deleted.
const INDEX_RETENTION_INTERVAL: Duration = Duration::from_secs(60);

/// Deletes expired splits of the log index until `stopped` completes.
async fn index_retention(store: Arc<LogStore>, stopped: impl Future<Output = ()>) {
    let mut tick = tokio::time::interval(INDEX_RETENTION_INTERVAL);
    tokio::pin!(stopped);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = &mut stopped => return,
        }
        let store = Arc::clone(&store);
        let now = aggregator::clock::now_nanos();
        match tokio::task::spawn_blocking(move || store.apply_retention(now)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => error!(error = %e, "log index retention failed"),
            Err(e) => error!(error = %e, "the log index retention task failed"),
        }
    }
}

async fn bind(field: &str, address: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(address)
        .await
        .with_context(|| format!("{field}: cannot listen on {address}"))
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
