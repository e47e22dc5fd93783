//! The `weir` binary: parses the command line, runs the command, and maps
//! failures to exit codes (see [`weir::cli`]).

use std::process::ExitCode;

use clap::Parser;
use weir::alerts_cmd;
use weir::bench::log::LogBenchArgs;
use weir::bench::logs::LogsBenchArgs;
use weir::cli::{
    AlertsCommand, BenchCommand, Cli, Command, ConfigArgs, RulesCommand, SilencesCommand,
};
use weir::config::{ConfigError, Settings};
use weir::loadgen::LoadgenArgs;
use weir::{bench, diagnostics, loadgen, log_cmd, logs_cmd, metrics_cmd, serve};

/// mimalloc rather than the system allocator: indexing, window rollups and
/// range queries allocate and free many short-lived buffers from several
/// threads, where glibc's allocator spent a tenth of the CPU (free-list
/// upkeep, heap trimming and the page faults that follow it).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A usage or configuration error (clap uses the same code for usage).
const EXIT_CONFIG: u8 = 2;
const EXIT_FAILURE: u8 = 1;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve_command(&args),
        Command::Log(args) => log_cmd::run(args),
        Command::Logs(args) => logs_cmd::run(args),
        Command::Metrics(args) => metrics_cmd::run(args),
        Command::Bench {
            command: BenchCommand::Log(args),
        } => bench_log(args),
        Command::Bench {
            command: BenchCommand::Logs(args),
        } => bench_logs(args),
        Command::Bench {
            command: BenchCommand::Metrics(args),
        } => bench::metrics::run(args).map(|()| ExitCode::SUCCESS),
        Command::Loadgen(args) => loadgen_command(args),
        Command::Alerts {
            server,
            command: AlertsCommand::List { json },
        } => alerts_cmd::alerts::list(&server, json),
        Command::Silences { server, command } => match command {
            SilencesCommand::Add(add) => alerts_cmd::silences::add(&server, &add),
            SilencesCommand::List { filter, json } => {
                alerts_cmd::silences::list(&server, &filter, json)
            }
            SilencesCommand::Expire { ids } => alerts_cmd::silences::expire(&server, &ids),
        },
        Command::Rules {
            command: RulesCommand::Check { files, logql },
        } => alerts_cmd::rules::check(&files, logql),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            if error.chain().any(|cause| cause.is::<ConfigError>()) {
                ExitCode::from(EXIT_CONFIG)
            } else {
                ExitCode::from(EXIT_FAILURE)
            }
        }
    }
}

fn serve_command(args: &ConfigArgs) -> anyhow::Result<ExitCode> {
    let settings = Settings::load(args.config.as_deref(), args.data_dir.as_deref())?;
    diagnostics::init_tracing("info");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("weir")
        .build()?;
    runtime.block_on(async {
        let shutdown = serve::shutdown_signal()?;
        serve::run(settings, shutdown).await
    })?;
    Ok(ExitCode::SUCCESS)
}

fn bench_log(args: LogBenchArgs) -> anyhow::Result<ExitCode> {
    diagnostics::init_tracing("warn");
    bench::log::run(args)?;
    Ok(ExitCode::SUCCESS)
}

fn bench_logs(args: LogsBenchArgs) -> anyhow::Result<ExitCode> {
    diagnostics::init_tracing("warn");
    bench::logs::run(args)?;
    Ok(ExitCode::SUCCESS)
}

fn loadgen_command(args: LoadgenArgs) -> anyhow::Result<ExitCode> {
    diagnostics::init_tracing("warn");
    let tally = loadgen::run(args)?;
    if tally.acknowledged == 0 {
        eprintln!("error: no request was acknowledged");
        return Ok(ExitCode::from(EXIT_FAILURE));
    }
    Ok(ExitCode::SUCCESS)
}
