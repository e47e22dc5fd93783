//! `weir log check`: a flipped byte is found, named and repaired.

mod common;

use common::{Workspace, segment_file};

const SEGMENT: &str = "00000000000000000000.log";

#[test]
fn flipped_byte_is_reported_and_repaired() {
    let workspace = Workspace::new();
    let input: String = (0..20).map(|i| format!("record {i}\n")).collect();
    workspace
        .run_with_stdin(
            &["log", "produce", "t", "--partition", "0"],
            input.as_bytes(),
        )
        .expect_code(0);

    let clean = workspace.run(&["log", "check"]);
    clean.expect_code(0);
    assert!(
        clean.stdout.contains(": 0 problems, 0 repaired"),
        "{}",
        clean.stdout
    );

    // Flip a byte inside the last batch (its records, under the CRC).
    let segment = segment_file(&workspace.log_dir(), "t", 0, SEGMENT);
    let mut bytes = std::fs::read(&segment).unwrap();
    let at = bytes.len() - 3;
    bytes[at] ^= 0xff;
    std::fs::write(&segment, &bytes).unwrap();

    let found = workspace.run(&["log", "check"]);
    found.expect_code(1);
    let problem = found
        .stdout
        .lines()
        .find(|l| l.starts_with(&segment.display().to_string()))
        .unwrap_or_else(|| panic!("no problem naming {}: {}", segment.display(), found.stdout));
    let position: u64 = problem
        .rsplit_once(" at byte ")
        .and_then(|(_, n)| n.parse().ok())
        .unwrap_or_else(|| panic!("no byte position in {problem:?}"));
    assert!(
        position < at as u64,
        "damage at {position} starts the batch holding byte {at}"
    );
    assert!(
        found.stderr.contains("weir log check --repair"),
        "{}",
        found.stderr
    );
    assert_eq!(
        std::fs::read(&segment).unwrap(),
        bytes,
        "check without --repair changes nothing"
    );

    let repair = workspace.run(&["log", "check", "--repair"]);
    repair.expect_code(0);
    assert!(repair.stdout.contains("(repaired)"), "{}", repair.stdout);
    assert_eq!(
        std::fs::metadata(&segment).unwrap().len(),
        position,
        "cut at the damaged batch"
    );

    let after = workspace.run(&["log", "check"]);
    after.expect_code(0);
    assert!(after.stdout.contains(": 0 problems"), "{}", after.stdout);

    // The log still opens and accepts appends after the cut.
    let describe = workspace.run(&["log", "describe", "t"]);
    describe.expect_code(0);
    let produced = workspace.run_with_stdin(
        &["log", "produce", "t", "--partition", "0"],
        b"after repair\n",
    );
    produced.expect_code(0);
    assert_eq!(
        produced.stdout, "19\n",
        "the damaged last record's offset is reused: it was never readable"
    );
}
