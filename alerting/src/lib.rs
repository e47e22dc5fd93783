//! `alerting`: rule evaluation, alert state, grouping, silences, inhibition
//! and durable webhook delivery. Nothing is implemented yet; see
//! ARCHITECTURE.md.
