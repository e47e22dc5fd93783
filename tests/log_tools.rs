//! `weir log produce | dump | describe | topics` on a data dir.

mod common;

use common::{Output, Workspace};
use log_core::partitioner::partition_for_key;

fn produce(workspace: &Workspace, args: &[&str], input: &[u8]) -> Output {
    let mut all = vec!["log", "produce"];
    all.extend_from_slice(args);
    let output = workspace.run_with_stdin(&all, input);
    output.expect_code(0);
    output
}

fn offsets(output: &Output) -> Vec<u64> {
    output
        .stdout
        .lines()
        .map(|l| l.parse().unwrap_or_else(|_| panic!("not an offset: {l:?}")))
        .collect()
}

#[test]
fn produced_lines_dump_back_in_order() {
    let workspace = Workspace::new();
    let lines: Vec<String> = (0..25)
        .map(|i| format!("line {i}: \"quoted\" and unicode ✓"))
        .collect();
    let input = lines.join("\n") + "\n";
    let output = produce(&workspace, &["t", "--key", "k"], input.as_bytes());
    assert_eq!(offsets(&output), (0..25).collect::<Vec<u64>>());
    let partition = partition_for_key(b"k", 4);
    assert!(
        output
            .stderr
            .contains(&format!("producing to t-{partition}")),
        "{}",
        output.stderr
    );

    let p = partition.to_string();
    let dump = workspace.run(&["log", "dump", "t", "--partition", &p, "--from", "0"]);
    dump.expect_code(0);
    let dumped: Vec<&str> = dump.stdout.lines().collect();
    assert_eq!(dumped.len(), 25, "{}", dump.stdout);
    for (i, line) in dumped.iter().enumerate() {
        assert!(
            line.starts_with(&format!("offset={i} timestamp=")),
            "{line}"
        );
        assert!(line.contains(" key=\"k\" "), "{line}");
        assert!(line.ends_with(&format!("value={:?}", lines[i])), "{line}");
    }

    let window = workspace.run(&[
        "log", "dump", "t", "-p", &p, "--from", "10", "--limit", "3", "--json",
    ]);
    window.expect_code(0);
    let records: Vec<serde_json::Value> = window
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON object per line"))
        .collect();
    assert_eq!(records.len(), 3);
    for (i, record) in records.iter().enumerate() {
        assert_eq!(record["offset"], 10 + i as u64);
        assert_eq!(record["key"], "k");
        assert_eq!(record["value"], lines[10 + i].as_str());
        assert!(record["timestamp"].as_i64().unwrap() > 1_600_000_000_000);
    }

    let describe = workspace.run(&["log", "describe", "t"]);
    describe.expect_code(0);
    assert!(
        describe.stdout.starts_with("topic t\n  partitions = 4\n"),
        "{}",
        describe.stdout
    );
    let row = describe
        .stdout
        .lines()
        .find(|l| l.split_whitespace().next() == Some(p.as_str()))
        .unwrap_or_else(|| panic!("no row for partition {p}: {}", describe.stdout));
    let columns: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        columns[1..4],
        ["0", "25", "1"],
        "log start, high watermark, segments: {row}"
    );

    let topics = workspace.run(&["log", "topics"]);
    topics.expect_code(0);
    let row = topics
        .stdout
        .lines()
        .find(|l| l.starts_with("t "))
        .unwrap_or_else(|| panic!("{}", topics.stdout));
    let columns: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(columns[1], "4");
    assert_eq!(columns[2], "delete");
    assert_eq!(columns[4], "25", "records: {row}");
}

#[test]
fn produce_continues_offsets_and_honours_partition() {
    let workspace = Workspace::new();
    assert_eq!(
        offsets(&produce(&workspace, &["t", "--partition", "2"], b"a\nb\n")),
        [0, 1]
    );
    assert_eq!(
        offsets(&produce(&workspace, &["t", "--partition", "2"], b"c")),
        [2],
        "last line needs no newline"
    );
    let dump = workspace.run(&["log", "dump", "t", "--partition", "2"]);
    dump.expect_code(0);
    let values: Vec<&str> = dump
        .stdout
        .lines()
        .map(|l| l.rsplit_once(" value=").unwrap().1)
        .collect();
    assert_eq!(values, ["\"a\"", "\"b\"", "\"c\""]);

    // Keyless lines go to the partition with the fewest records: not 2.
    let output = produce(&workspace, &["t"], b"d\n");
    assert!(
        output.stderr.contains("producing to t-0"),
        "{}",
        output.stderr
    );
    assert_eq!(offsets(&output), [0]);
}

#[test]
fn dump_shows_bytes_that_are_not_utf8_as_base64() {
    let workspace = Workspace::new();
    produce(&workspace, &["bin", "--partition", "0"], b"\xff\x00\xfe\n");
    let dump = workspace.run(&["log", "dump", "bin"]);
    dump.expect_code(0);
    assert!(
        dump.stdout
            .trim_end()
            .ends_with("key=null value=base64:/wD+"),
        "{}",
        dump.stdout
    );
    let json = workspace.run(&["log", "dump", "bin", "--json"]);
    let record: serde_json::Value = serde_json::from_str(json.stdout.trim()).unwrap();
    assert_eq!(record["value"]["base64"], "/wD+");
    assert_eq!(record["key"], serde_json::Value::Null);
}

#[test]
fn produce_to_a_telemetry_topic_creates_it_with_telemetry_settings() {
    let workspace = Workspace::new();
    produce(&workspace, &["otlp_logs", "--partition", "0"], b"x\n");
    let describe = workspace.run(&["log", "describe", "otlp_logs"]);
    assert!(
        describe.stdout.contains("retention = \"3days\""),
        "{}",
        describe.stdout
    );
}

#[test]
fn errors_name_what_is_wrong() {
    let workspace = Workspace::new();
    let output = workspace.run_with_stdin(&["log", "produce", "t", "--partition", "9"], b"x\n");
    output.expect_code(1);
    assert!(
        output.stderr.contains("topic \"t\" has no partition 9"),
        "{}",
        output.stderr
    );
    let output = workspace.run_with_stdin(&["log", "produce", "bad/name"], b"x\n");
    output.expect_code(1);
    assert!(
        output.stderr.contains("invalid topic name \"bad/name\""),
        "{}",
        output.stderr
    );

    let output = workspace.run(&["log", "dump", "nope"]);
    output.expect_code(1);
    assert!(
        output.stderr.contains("topic \"nope\" does not exist"),
        "{}",
        output.stderr
    );
    let output = workspace.run(&["log", "dump", "t", "--from", "5"]);
    output.expect_code(1);
    assert!(
        output.stderr.contains("offset 5 is out of range for t-0"),
        "{}",
        output.stderr
    );

    let missing = Workspace::new();
    let output = missing.run(&["log", "topics"]);
    output.expect_code(1);
    assert!(
        output.stderr.contains("data dir") && output.stderr.contains("does not exist"),
        "{}",
        output.stderr
    );
}

#[test]
fn a_line_over_the_record_limit_is_refused_after_the_lines_before_it() {
    let workspace = Workspace::with_config(&format!(
        "{}\n[log]\nmax_record_bytes = 8\n",
        common::TEST_CONFIG
    ));
    let output = workspace.run_with_stdin(
        &["log", "produce", "t", "--partition", "0"],
        b"short\nmuch too long\n",
    );
    output.expect_code(1);
    assert_eq!(output.stdout, "0\n");
    assert!(
        output.stderr.contains(
            "read line 2 of stdin: the line is longer than log.max_record_bytes (8 bytes)"
        ),
        "{}",
        output.stderr
    );
}
