//! `aggregator`: partition consumers that index logs (tantivy), roll metrics
//! into windows (HdrHistogram) and process spans, plus the LogQL and PromQL
//! query engines. Nothing is implemented yet; see ARCHITECTURE.md.
