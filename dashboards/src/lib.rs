//! `dashboards`: the HTTP read API (native, Prometheus- and Loki-compatible)
//! and the web UI. Nothing is implemented yet; see ARCHITECTURE.md.
