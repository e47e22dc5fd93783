//! `weir log dump TOPIC`: prints the records of one partition.
//!
//! Text output, one record per line:
//! ```text
//! offset=0 timestamp=2025-01-31T12:00:00.000Z key="checkout" headers={"trace": "ab12"} value="hello\n"
//! ```
//! Keys, header values and values that are valid UTF-8 print as quoted,
//! escaped strings (so a record is always one line); other bytes print as
//! `base64:...` (standard alphabet, padded); absent ones as `null`.
//! `headers` appears only when a record has some. A timestamp before the
//! epoch (Kafka's -1: none) prints as a number.
//!
//! JSON output (`--json`), one object per line:
//! ```text
//! {"offset":0,"timestamp":1738324800000,"key":"checkout","headers":[{"key":"trace","value":"ab12"}],"value":"hello\n"}
//! ```
//! Bytes that are not UTF-8 become `{"base64":"..."}`.

use std::fmt::Write as _;
use std::io::{self, BufWriter, Write};
use std::process::ExitCode;
use std::time::{Duration, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use log_core::{LogError, OpenMode, Record};
use serde::Serialize;
use serde_json::{Value, json};

use super::open;
use crate::config::Settings;

/// Bytes asked of the log per read; a read returns at least one batch.
const FETCH_BYTES: usize = 1 << 20;

pub struct Request {
    pub topic: String,
    pub partition: u32,
    pub from: Option<u64>,
    pub limit: Option<u64>,
    pub json: bool,
}

pub fn run(settings: &Settings, request: &Request) -> anyhow::Result<ExitCode> {
    let log = open(settings, OpenMode::ReadOnly)?;
    let partition = log.partition(&request.topic, request.partition)?;
    let end = partition.high_watermark();
    let limit = request.limit.unwrap_or(u64::MAX);
    let log_start = partition.log_start();
    let mut offset = request.from.unwrap_or(log_start);
    if offset < log_start || offset > end {
        return Err(LogError::OffsetOutOfRange {
            topic: request.topic.clone(),
            partition: request.partition,
            offset,
            log_start,
            log_end: end,
        }
        .into());
    }
    let mut printed = 0u64;
    let mut out = BufWriter::new(io::stdout().lock());
    'fetch: while printed < limit && offset < end {
        let fetched = partition.read(offset, FETCH_BYTES)?;
        let Some(batch_end) = fetched
            .batches()
            .map(|(header, _)| header.next_offset())
            .max()
        else {
            break;
        };
        for record in fetched.records(settings.log.max_batch_bytes) {
            let record = record?;
            if record.offset >= end {
                break 'fetch;
            }
            let line = if request.json {
                json_line(&record)
            } else {
                text_line(&record)
            };
            if let Err(e) = writeln!(out, "{line}") {
                return quiet_broken_pipe(e);
            }
            printed += 1;
            offset = record.offset + 1;
            if printed == limit {
                break 'fetch;
            }
        }
        // Past batches whose records were all before `offset` or removed by
        // compaction, so the loop always advances.
        offset = offset.max(batch_end);
    }
    if let Err(e) = out.flush() {
        return quiet_broken_pipe(e);
    }
    Ok(ExitCode::SUCCESS)
}

/// A reader that went away (`weir log dump ... | head`) is not a failure.
fn quiet_broken_pipe(error: io::Error) -> anyhow::Result<ExitCode> {
    if error.kind() == io::ErrorKind::BrokenPipe {
        Ok(ExitCode::SUCCESS)
    } else {
        Err(anyhow::Error::new(error).context("write to stdout"))
    }
}

fn text_line(record: &Record) -> String {
    let mut line = format!(
        "offset={} timestamp={}",
        record.offset,
        text_timestamp(record.timestamp)
    );
    let _ = write!(line, " key={}", text_bytes(record.key.as_ref()));
    if !record.headers.is_empty() {
        let headers: Vec<String> = record
            .headers
            .iter()
            .map(|(name, value)| format!("{name:?}: {}", text_bytes(value.as_ref())))
            .collect();
        let _ = write!(line, " headers={{{}}}", headers.join(", "));
    }
    let _ = write!(line, " value={}", text_bytes(record.value.as_ref()));
    line
}

fn text_timestamp(millis: i64) -> String {
    match u64::try_from(millis) {
        Ok(ms) => {
            humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_millis(ms)).to_string()
        }
        Err(_) => millis.to_string(),
    }
}

fn text_bytes(bytes: Option<&Bytes>) -> String {
    match bytes {
        None => "null".to_owned(),
        Some(bytes) => match std::str::from_utf8(bytes) {
            Ok(text) => format!("{text:?}"),
            Err(_) => format!("base64:{}", BASE64.encode(bytes)),
        },
    }
}

/// A record as `--json` prints it; fields in this order.
#[derive(Serialize)]
struct JsonRecord<'a> {
    offset: u64,
    timestamp: i64,
    key: Value,
    headers: Vec<JsonHeader<'a>>,
    value: Value,
}

#[derive(Serialize)]
struct JsonHeader<'a> {
    key: &'a str,
    value: Value,
}

fn json_line(record: &Record) -> String {
    let line = JsonRecord {
        offset: record.offset,
        timestamp: record.timestamp,
        key: json_bytes(record.key.as_ref()),
        headers: record
            .headers
            .iter()
            .map(|(name, value)| JsonHeader {
                key: name,
                value: json_bytes(value.as_ref()),
            })
            .collect(),
        value: json_bytes(record.value.as_ref()),
    };
    serde_json::to_string(&line).expect("a record serialises to JSON")
}

fn json_bytes(bytes: Option<&Bytes>) -> Value {
    match bytes {
        None => Value::Null,
        Some(bytes) => match std::str::from_utf8(bytes) {
            Ok(text) => Value::String(text.to_owned()),
            Err(_) => json!({ "base64": BASE64.encode(bytes) }),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> Record {
        Record {
            offset: 7,
            timestamp: 1_738_324_800_000,
            key: Some(Bytes::from_static(b"checkout")),
            value: Some(Bytes::from_static(b"a \"b\"\n")),
            headers: vec![
                ("bin".into(), Some(Bytes::from_static(&[0xff, 0x00]))),
                ("none".into(), None),
            ],
        }
    }

    #[test]
    fn text_line_escapes_and_encodes() {
        assert_eq!(
            text_line(&record()),
            r#"offset=7 timestamp=2025-01-31T12:00:00.000Z key="checkout" headers={"bin": base64:/wA=, "none": null} value="a \"b\"\n""#
        );
        let bare = Record {
            key: None,
            value: None,
            headers: Vec::new(),
            timestamp: -1,
            ..record()
        };
        assert_eq!(
            text_line(&bare),
            "offset=7 timestamp=-1 key=null value=null"
        );
    }

    #[test]
    fn json_line_keeps_utf8_as_strings_and_other_bytes_as_base64() {
        let value: Value = serde_json::from_str(&json_line(&record())).unwrap();
        assert_eq!(value["offset"], 7);
        assert_eq!(value["key"], "checkout");
        assert_eq!(value["value"], "a \"b\"\n");
        assert_eq!(value["headers"][0]["value"]["base64"], "/wA=");
        assert_eq!(value["headers"][1]["value"], Value::Null);
        let bare = Record {
            key: None,
            value: None,
            headers: Vec::new(),
            ..record()
        };
        assert_eq!(
            json_line(&bare),
            r#"{"offset":7,"timestamp":1738324800000,"key":null,"headers":[],"value":null}"#
        );
    }
}
