//! `weir log produce TOPIC`: each line of stdin becomes one record.
//!
//! A line is appended as its own batch and acknowledged once durable under
//! the configured policy; only then is its offset printed and stdout
//! flushed, so a reader of stdout (a crash test, a shell loop) sees exactly
//! the acknowledged records, even if this process is killed a moment later.
//! With `--in-flight N`, up to N lines are appended before the oldest is
//! acknowledged, so they share `fdatasync`s through the log's group commit;
//! offsets are still printed in input order, each only once durable.
//!
//! A line is bounded by `log.max_record_bytes` while it is read, so input
//! with no newlines cannot exhaust memory.

use std::io::{self, BufRead, Read, Write};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use bytes::Bytes;
use log_core::{
    NewRecord, OTLP_LOGS, OTLP_METRICS, OTLP_SPANS, OpenMode, Partition, PendingAppend, Topic,
};

use super::open;
use crate::clock::now_millis;
use crate::config::Settings;
use log_core::partitioner::partition_for_key;

pub fn run(
    settings: &Settings,
    topic: &str,
    key: Option<String>,
    partition: Option<u32>,
    in_flight: usize,
) -> anyhow::Result<ExitCode> {
    let log = open(settings, OpenMode::ReadWrite)?;
    let created_with = if [OTLP_LOGS, OTLP_METRICS, OTLP_SPANS].contains(&topic) {
        settings.telemetry_topics.clone()
    } else {
        settings.log.topic_defaults.clone()
    };
    let topic_handle = log.ensure_topic(topic, created_with)?;
    let id = choose_partition(&topic_handle, key.as_deref(), partition);
    let partition = log.partition(topic, id)?;
    eprintln!("producing to {topic}-{id}");

    let key = key.map(Bytes::from);
    let limit = settings.log.max_record_bytes;
    // Appends are issued here; a printer thread waits for each in order and
    // prints its offset. The channel's capacity bounds what is in flight.
    let (pending_tx, pending_rx) =
        std::sync::mpsc::sync_channel::<(u64, PendingAppend)>(in_flight.max(1) - 1);
    let printer = std::thread::spawn(move || -> anyhow::Result<()> {
        let mut output = io::stdout().lock();
        for (number, pending) in pending_rx {
            let info = pending
                .wait()
                .with_context(|| format!("append line {number}"))?;
            writeln!(output, "{}", info.base_offset).context("write to stdout")?;
            output.flush().context("write to stdout")?;
        }
        Ok(())
    });
    let mut input = io::stdin().lock();
    let mut line = Vec::new();
    let mut number = 0u64;
    let mut outcome = Ok(());
    loop {
        match read_line(&mut input, &mut line, limit)
            .with_context(|| format!("read line {} of stdin", number + 1))
        {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                outcome = Err(e);
                break;
            }
        }
        number += 1;
        let pending = match append(&partition, key.clone(), &line) {
            Ok(pending) => pending,
            Err(e) => {
                outcome = Err(e.context(format!("append line {number}")));
                break;
            }
        };
        if pending_tx.send((number, pending)).is_err() {
            break; // the printer failed; its error is reported below
        }
    }
    drop(pending_tx);
    let printed = printer
        .join()
        .map_err(|_| anyhow::anyhow!("the output thread panicked"))?;
    printed.and(outcome)?;
    log.close()?;
    Ok(ExitCode::SUCCESS)
}

/// `--partition`, else the key's murmur2 partition, else the partition with
/// the fewest records (the lowest id on a tie), so keyless runs spread over
/// the partitions while the offsets of one run stay in one partition.
fn choose_partition(topic: &Topic, key: Option<&str>, partition: Option<u32>) -> u32 {
    let partitions = topic.partitions();
    match (partition, key) {
        (Some(id), _) => id,
        (None, Some(key)) => partition_for_key(key.as_bytes(), partitions.len() as u32),
        (None, None) => partitions
            .iter()
            .min_by_key(|p| (p.high_watermark() - p.log_start(), p.id()))
            .map_or(0, |p| p.id()),
    }
}

/// Appends one record; it is acknowledged once the returned append is durable.
fn append(
    partition: &Arc<Partition>,
    key: Option<Bytes>,
    value: &[u8],
) -> anyhow::Result<PendingAppend> {
    let record = NewRecord {
        timestamp: now_millis(),
        key,
        value: Some(Bytes::copy_from_slice(value)),
        headers: Vec::new(),
    };
    Ok(partition.append(&[record])?)
}

/// Reads the next line into `line`, without its `\n`. Returns false at the
/// end of input; fails on a line longer than `limit` bytes.
fn read_line(input: &mut impl BufRead, line: &mut Vec<u8>, limit: usize) -> anyhow::Result<bool> {
    line.clear();
    // One byte more than a full line with its newline tells "too long"
    // apart from "exactly at the limit".
    let read = input.take(limit as u64 + 1).read_until(b'\n', line)?;
    if read == 0 {
        return Ok(false);
    }
    if line.last() == Some(&b'\n') {
        line.pop();
    } else if read > limit {
        bail!("the line is longer than log.max_record_bytes ({limit} bytes)");
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_split_without_their_newline() {
        let mut input: &[u8] = b"one\n\nthree";
        let mut line = Vec::new();
        let mut lines = Vec::new();
        while read_line(&mut input, &mut line, 16).unwrap() {
            lines.push(String::from_utf8(line.clone()).unwrap());
        }
        assert_eq!(lines, ["one", "", "three"]);
    }

    #[test]
    fn a_line_at_the_limit_is_accepted_and_one_past_it_refused() {
        let mut line = Vec::new();
        let mut input: &[u8] = b"abcd\n";
        assert!(read_line(&mut input, &mut line, 4).unwrap());
        assert_eq!(line, b"abcd");
        let mut input: &[u8] = b"abcd";
        assert!(read_line(&mut input, &mut line, 4).unwrap());
        let mut input: &[u8] = b"abcde\n";
        let error = read_line(&mut input, &mut line, 4).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("longer than log.max_record_bytes (4 bytes)"),
            "{error}"
        );
    }
}
