//! The printed report and the process measurements behind it.

use super::*;

pub(super) struct Report {
    pub(super) total: u64,
    pub(super) raw: Raw,
    pub(super) raw_disk: u64,
    pub(super) pipeline: PipelineRun,
    pub(super) index_disk: u64,
    pub(super) log_disk: u64,
    /// Per index state: its name, (splits, segments) and query timings.
    pub(super) states: Vec<(&'static str, (usize, usize), Vec<Timed>)>,
    pub(super) peak_rss_mib: u64,
}

pub(super) fn print_report(r: &Report) {
    let raw = &r.raw;
    let p = &r.pipeline;
    let raw_rate = raw.docs as f64 / raw.seconds;
    let e2e_rate = r.total as f64 / p.searchable_seconds;
    let ack_rate = p.acknowledged as f64 / p.ack_seconds;
    let per_million = |cpu: f64, docs: u64| cpu / (docs as f64 / 1e6);
    println!();
    println!(
        "{:<44} {:>12} {:>9} {:>10} {:>14} {:>8}",
        "phase", "records/s", "seconds", "CPU cores", "CPU s/M recs", "vs raw"
    );
    let row = |name: &str, rate: f64, seconds: f64, cpu: Option<f64>, docs: u64| {
        let (cores, per_m) = match cpu {
            Some(cpu) => (
                format!("{:.2}", cpu / seconds),
                format!("{:.1}", per_million(cpu, docs)),
            ),
            None => ("-".into(), "-".into()),
        };
        println!(
            "{:<44} {:>12} {:>9.1} {:>10} {:>14} {:>7.0}%",
            name,
            thousands(rate as u64),
            seconds,
            cores,
            per_m,
            100.0 * rate / raw_rate
        );
    };
    row(
        &format!(
            "raw tantivy ({} writers x 1 thread)",
            r.pipeline.docs_by_partition.len()
        ),
        raw_rate,
        raw.seconds,
        Some(raw.cpu_seconds),
        raw.docs,
    );
    row(
        "pipeline: ingest acknowledged",
        ack_rate,
        p.ack_seconds,
        None,
        p.acknowledged,
    );
    row(
        "pipeline: OTLP in -> searchable",
        e2e_rate,
        p.searchable_seconds,
        Some(p.cpu_seconds),
        r.total,
    );
    println!();
    println!(
        "raw: render+decode+documents {:.1} CPU s/M recs, tantivy indexing+commit {:.1} CPU s/M recs; \
         merges finished {:.1} s after the commit; {} MiB on disk",
        per_million(raw.prepare_cpu_seconds, raw.docs),
        per_million(raw.cpu_seconds - raw.prepare_cpu_seconds, raw.docs),
        raw.merge_wait_seconds,
        r.raw_disk >> 20,
    );
    println!(
        "pipeline: {} acknowledged, {} rejected; searchable {:.1} s after the last acknowledgement; \
         consumer stop (final commits, merges) {:.1} s",
        thousands(p.acknowledged),
        thousands(p.rejected),
        p.searchable_seconds - p.ack_seconds,
        p.stop_seconds,
    );
    println!(
        "pipeline: ack latency per request p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms",
        report::millis(&p.latency, 0.5),
        report::millis(&p.latency, 0.99),
        report::millis(&p.latency, 0.999),
        p.latency.max() as f64 / 1000.0,
    );
    println!(
        "pipeline: documents by partition {:?}; index {} MiB, log {} MiB on disk; peak RSS {} MiB",
        p.docs_by_partition,
        r.index_disk >> 20,
        r.log_disk >> 20,
        r.peak_rss_mib,
    );
    for (state, (splits, segments), timings) in &r.states {
        println!();
        println!("queries, {state} ({splits} splits, {segments} segments):");
        println!(
            "  {:<58} {:>5} {:>8} {:>8} {:>8} {:>8} {:>11}",
            "query", "runs", "p50 ms", "p90 ms", "p99 ms", "max ms", "hits"
        );
        for t in timings {
            if let Some(error) = &t.error {
                println!("  {}: {error}", t.name);
            }
            if t.latency.is_empty() {
                continue;
            }
            println!(
                "  {:<58} {:>5} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>11}",
                truncate(&t.name, 58),
                t.latency.len(),
                report::millis(&t.latency, 0.5),
                report::millis(&t.latency, 0.9),
                report::millis(&t.latency, 0.99),
                t.latency.max() as f64 / 1000.0,
                if t.result == 0 {
                    "-".to_owned()
                } else {
                    thousands(t.result)
                },
            );
        }
    }
    println!();
    println!(
        "targets (stated for 10,000,000 records; this run: {}):",
        thousands(r.total)
    );
    let verdict = |met: bool| if met { "met" } else { "NOT met" };
    let ratio = e2e_rate / raw_rate;
    println!(
        "  pipeline / raw tantivy = {:.0}%  (>= 60%: {})",
        100.0 * ratio,
        verdict(ratio >= 0.6)
    );
    println!(
        "  end to end {} records/s  (>= 50,000: {})",
        thousands(e2e_rate as u64),
        verdict(e2e_rate >= 50_000.0)
    );
    if let Some((_, _, timings)) = r.states.first() {
        let terms = &timings[0].latency;
        let (p50, p99) = (report::millis(terms, 0.5), report::millis(terms, 0.99));
        println!(
            "  newest-100 term queries p50 {p50:.2} ms (<= 20: {}), p99 {p99:.2} ms (<= 100: {})",
            verdict(p50 <= 20.0),
            verdict(p99 <= 100.0)
        );
        if let Some(h) = timings.iter().find(|t| t.name.starts_with("histogram")) {
            let p99 = report::millis(&h.latency, 0.99);
            println!(
                "  histogram over every record p50 {:.2} ms, p99 {p99:.2} ms (<= 300: {})",
                report::millis(&h.latency, 0.5),
                verdict(p99 <= 300.0)
            );
        }
    }
}

pub(super) fn truncate(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(width - 3).collect();
    out.push_str("...");
    out
}
