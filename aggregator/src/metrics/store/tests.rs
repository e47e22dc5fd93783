//! The window store's own tests: visibility, persistence across reopen,
//! recovery to a checkpoint's mark, blocks, retention, tiers, corruption.

use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::labels::{Labels, MatchOp, Matcher};
use crate::metrics::source::{CounterColumns, SeriesSelect, SeriesSource};
use crate::metrics::window::SeriesKind;
use crate::query::Deadline;

/// 2023-11-14T22:00:00Z: a multiple of every window and span used here.
const T0: i64 = 1_699_999_200_000;
const TEN_S: i64 = 10_000;

fn now() -> i64 {
    T0 + 86_400_000
}

fn config() -> StoreConfig {
    StoreConfig {
        tiers: vec![
            TierConfig {
                window_ms: TEN_S,
                retention: Duration::from_secs(2 * 86_400),
            },
            TierConfig {
                window_ms: 60_000,
                retention: Duration::from_secs(30 * 86_400),
            },
        ],
        cache_bytes: 64 << 20,
    }
}

fn open(dir: &Path) -> Arc<WindowStore> {
    let mut store = WindowStore::open(dir, config()).unwrap();
    store.set_clock(now);
    store
}

fn key(tenant: &str, name: &str, job: &str) -> Arc<SeriesKey> {
    Arc::new(SeriesKey {
        tenant: tenant.to_owned(),
        labels: Labels::new([
            ("__name__".to_owned(), name.to_owned()),
            ("job".to_owned(), job.to_owned()),
        ]),
        kind: SeriesKind::Counter,
    })
}

fn counter(series: &Arc<SeriesKey>, end_ms: i64, total: f64) -> ClosedWindow {
    ClosedWindow {
        series: Arc::clone(series),
        end_ms,
        value: WindowValue::Counter { delta: 1.0, total },
    }
}

fn mark(next_offset: u64, closed_through_ms: i64) -> Mark {
    Mark {
        next_offset,
        closed_through_ms,
    }
}

fn equal(name: &str, value: &str) -> Matcher {
    Matcher::new(name, MatchOp::Equal, value).unwrap()
}

/// `(labels, [(end, total)])` of every selected series at tier 0.
fn read(
    store: &WindowStore,
    tenant: &str,
    matchers: Vec<Matcher>,
) -> Vec<(String, Vec<(i64, f64)>)> {
    read_from(store, tenant, matchers, T0)
}

/// Like [`read`], for windows ending after `start_ms`.
fn read_from(
    store: &WindowStore,
    tenant: &str,
    matchers: Vec<Matcher>,
    start_ms: i64,
) -> Vec<(String, Vec<(i64, f64)>)> {
    let select = SeriesSelect {
        tenant: tenant.to_owned(),
        matchers,
        start_ms,
        end_ms: i64::MAX / 2,
        resolution_ms: 1,
    };
    store
        .select(&select, 1000, Deadline::after(Duration::from_secs(10)))
        .unwrap()
        .into_iter()
        .map(|s| {
            let windows = s
                .windows
                .iter()
                .map(|w| match w.value {
                    WindowValue::Counter { total, .. } => (w.end_ms, total),
                    _ => panic!("counters only"),
                })
                .collect();
            (s.labels.to_string(), windows)
        })
        .collect()
}

/// Publishes windows of series `a` (job api) and `b` (job web) ending at
/// `T0 + i * 10 s` for `i` in `from..to`, persisting at each multiple of
/// `persist_every`.
fn feed(store: &WindowStore, from: i64, to: i64, persist_every: i64) {
    let (a, b) = (key("t", "hits_total", "api"), key("t", "hits_total", "web"));
    for i in from..to {
        let end = T0 + i * TEN_S;
        store.publish(
            0,
            0,
            vec![counter(&a, end, i as f64), counter(&b, end, 2.0 * i as f64)],
        );
        if (i + 1) % persist_every == 0 {
            store.persist(0, mark(i as u64 + 1, end)).unwrap();
        }
    }
}

#[test]
fn published_windows_are_visible_at_once_and_by_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    feed(&store, 1, 4, 100);
    store.publish(
        0,
        0,
        vec![counter(&key("other", "hits_total", "api"), T0 + TEN_S, 9.0)],
    );
    let got = read(&store, "t", vec![equal("job", "api")]);
    assert_eq!(
        got,
        [(
            r#"{__name__="hits_total", job="api"}"#.to_owned(),
            vec![
                (T0 + TEN_S, 1.0),
                (T0 + 2 * TEN_S, 2.0),
                (T0 + 3 * TEN_S, 3.0)
            ]
        )]
    );
    assert_eq!(read(&store, "other", vec![]).len(), 1);
    assert_eq!(read(&store, "nobody", vec![]).len(), 0);
}

#[test]
fn persisted_windows_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    // Persisted at marks 5 and 10; the last window only published.
    feed(&store, 1, 11, 5);
    let mut before = read(&store, "t", vec![]);
    assert_eq!(before[0].1.len(), 10);
    drop(store);
    let store = open(dir.path());
    store
        .recover_partition(0, mark(10, T0 + 9 * TEN_S))
        .unwrap();
    for (_, windows) in &mut before {
        windows.pop();
    }
    assert_eq!(read(&store, "t", vec![]), before);
}

#[test]
fn a_reopened_head_holds_each_series_once_however_many_chunks_it_loads() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    // Three chunks, each decoding its own copy of both keys.
    feed(&store, 1, 15, 5);
    let before = read(&store, "t", vec![]);
    drop(store);
    let store = open(dir.path());
    store
        .recover_partition(0, mark(15, T0 + 14 * TEN_S))
        .unwrap();
    let entries = store.read().tiers[0].heads[&0].persisted.len();
    assert_eq!(entries, 2, "one head entry per series");
    assert_eq!(read(&store, "t", vec![]), before);
    // The restarted worker publishes under keys of its own: read in
    // order with the loaded windows all the same.
    feed(&store, 15, 18, 100);
    let got = read(&store, "t", vec![equal("job", "api")]);
    let ends: Vec<i64> = got[0].1.iter().map(|(end, _)| *end).collect();
    assert_eq!(ends, (1..18).map(|i| T0 + i * TEN_S).collect::<Vec<_>>());
}

#[test]
fn windows_persisted_after_the_checkpoint_are_forgotten() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    // Persisted at marks 5 and 10; the checkpoint of mark 10 was lost.
    feed(&store, 1, 11, 5);
    drop(store);
    let store = open(dir.path());
    store.recover_partition(0, mark(5, T0 + 5 * TEN_S)).unwrap();
    let got = read(&store, "t", vec![equal("job", "api")]);
    let ends: Vec<i64> = got[0].1.iter().map(|(end, _)| (end - T0) / TEN_S).collect();
    assert_eq!(
        ends,
        [1, 2, 3, 4],
        "windows of the persist at mark 10 are gone"
    );
    // The replay publishes them again, once.
    feed(&store, 5, 11, 5);
    let got = read(&store, "t", vec![equal("job", "api")]);
    assert_eq!(got[0].1.len(), 10);
}

#[test]
fn a_persist_without_a_new_offset_is_told_apart_by_its_closed_windows() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let a = key("t", "hits_total", "api");
    store.publish(0, 0, vec![counter(&a, T0 + TEN_S, 1.0)]);
    store.persist(0, mark(7, T0 + TEN_S)).unwrap();
    // A quiet partition: the wall clock closes a window, same offset.
    store.publish(0, 0, vec![counter(&a, T0 + 2 * TEN_S, 2.0)]);
    store.persist(0, mark(7, T0 + 2 * TEN_S)).unwrap();
    drop(store);
    let store = open(dir.path());
    store.recover_partition(0, mark(7, T0 + TEN_S)).unwrap();
    assert_eq!(read(&store, "t", vec![])[0].1, [(T0 + TEN_S, 1.0)]);
}

#[test]
fn complete_spans_become_blocks_and_their_chunks_go() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    // Two and a half spans of windows, persisted every 10 windows.
    let windows = BLOCK_WINDOWS * 5 / 2;
    feed(&store, 1, windows + 1, 10);
    store
        .persist(0, mark(windows as u64 + 1, T0 + windows * TEN_S))
        .unwrap();
    let stats = store.stats();
    assert_eq!(stats.blocks[0], 2, "two complete spans");
    let chunks = std::fs::read_dir(files::partition_dir(dir.path(), TEN_S, 0))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("c-")
        })
        .count();
    assert!(
        chunks <= 6,
        "{chunks} chunks left; those inside blocks are deleted"
    );
    let all = read(&store, "t", vec![equal("job", "web")]);
    assert_eq!(all[0].1.len() as i64, windows);
    assert!(all[0].1.iter().enumerate().all(|(i, (end, total))| {
        *end == T0 + (i as i64 + 1) * TEN_S && *total == 2.0 * (i as f64 + 1.0)
    }));
    // From blocks and chunks after a reopen, and narrowed by the index.
    drop(store);
    let store = open(dir.path());
    store
        .recover_partition(0, mark(windows as u64 + 1, T0 + windows * TEN_S))
        .unwrap();
    assert_eq!(read(&store, "t", vec![equal("job", "web")]), all);
    let regex = Matcher::new("job", MatchOp::Regex, "we.").unwrap();
    assert_eq!(read(&store, "t", vec![regex]), all);
    let not_api = Matcher::new("job", MatchOp::NotEqual, "api").unwrap();
    assert_eq!(read(&store, "t", vec![not_api]), all);
    assert!(read(&store, "t", vec![equal("job", "nope")]).is_empty());
    assert!(read(&store, "other", vec![equal("job", "web")]).is_empty());
}

#[test]
fn retention_deletes_whole_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = WindowStore::open(dir.path(), config()).unwrap();
    // Two days and one span after T0: the first span is past the 2-day
    // retention of tier 0.
    const SPAN: i64 = BLOCK_WINDOWS * TEN_S;
    store.set_clock(|| T0 + 2 * 86_400_000 + SPAN);
    let windows = BLOCK_WINDOWS * 3;
    feed(&store, 1, windows + 1, 10);
    // Twice: the first persists the last windows, the second cuts their
    // block.
    for offset in [1, 2] {
        store
            .persist(0, mark(windows as u64 + offset, T0 + windows * TEN_S))
            .unwrap();
    }
    assert_eq!(store.stats().blocks[0], 3);
    assert_eq!(store.apply_retention().unwrap(), 1);
    assert_eq!(store.stats().blocks[0], 2);
    let left = read_from(&store, "t", vec![equal("job", "api")], T0 + SPAN);
    assert_eq!(
        left[0].1.first().unwrap().0,
        T0 + (BLOCK_WINDOWS + 1) * TEN_S
    );
}

#[test]
fn queries_read_the_coarsest_tier_that_fits_their_resolution_and_range() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let day = 86_400_000;
    assert_eq!(store.tier_for(now() - 3_600_000, 1), 0);
    assert_eq!(store.tier_for(now() - 3_600_000, 30_000), 0);
    assert_eq!(store.tier_for(now() - 3_600_000, 60_000), 1);
    assert_eq!(
        store.tier_for(now() - 3 * day, 1),
        1,
        "past tier 0's retention"
    );
    assert_eq!(
        store.tier_for(now() - 90 * day, 1),
        1,
        "past every retention"
    );
}

#[test]
fn label_queries_see_every_tier() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let old = key("t", "old_total", "batch");
    store.publish(0, 1, vec![counter(&old, now() - 10 * 86_400_000, 1.0)]);
    feed(&store, 1, 3, 100);
    let names = store
        .label_values("t", "__name__", &[], now() - 20 * 86_400_000, now())
        .unwrap();
    assert_eq!(names, ["hits_total", "old_total"]);
    let recent = store
        .label_values("t", "job", &[], now() - 86_400_000 - 60_000, now())
        .unwrap();
    assert_eq!(recent, ["api", "web"]);
}

#[test]
fn a_corrupt_block_is_moved_aside_and_queries_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let windows = BLOCK_WINDOWS * 2;
    feed(&store, 1, windows + 1, 10);
    store
        .persist(0, mark(windows as u64 + 1, T0 + windows * TEN_S))
        .unwrap();
    drop(store);
    let part = files::partition_dir(dir.path(), TEN_S, 0);
    let block = std::fs::read_dir(&part)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("b-"))
        .min()
        .unwrap();
    let mut bytes = std::fs::read(&block).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&block, bytes).unwrap();

    let store = open(dir.path());
    store
        .recover_partition(0, mark(windows as u64 + 1, T0 + windows * TEN_S))
        .unwrap();
    let got = read(&store, "t", vec![equal("job", "api")]);
    assert_eq!(
        got[0].1.len() as i64,
        windows - BLOCK_WINDOWS,
        "the other span is read"
    );
    assert!(!block.exists());
    let mut aside = block.into_os_string();
    aside.push(".corrupt");
    assert!(std::path::Path::new(&aside).exists());
}

#[test]
fn too_many_series_is_an_error_naming_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    feed(&store, 1, 2, 100);
    let select = SeriesSelect {
        tenant: "t".to_owned(),
        matchers: vec![],
        start_ms: T0,
        end_ms: i64::MAX / 2,
        resolution_ms: 1,
    };
    let e = store
        .select(&select, 1, Deadline::after(Duration::from_secs(1)))
        .unwrap_err();
    assert!(
        matches!(e, AggregatorError::TooMany { limit: 1, .. }),
        "{e}"
    );
}

#[test]
fn metadata_survives_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let m = MetricMetadata {
        name: "hits_total".to_owned(),
        kind: "counter",
        help: "hits".to_owned(),
        unit: "1".to_owned(),
    };
    store.publish_metadata("t", vec![m.clone()]);
    feed(&store, 1, 2, 1);
    drop(store);
    let store = open(dir.path());
    assert_eq!(store.metadata("t", None).unwrap(), [m]);
    assert!(store.metadata("t", Some("other")).unwrap().is_empty());
}

#[test]
fn a_lazy_select_reads_each_series_as_select_returns_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    // Blocks, chunks and head windows, with ranges that cut runs.
    let windows = BLOCK_WINDOWS * 5 / 2;
    feed(&store, 1, windows + 1, 10);
    let deadline = Deadline::after(Duration::from_secs(10));
    for (from, to) in [(0, windows + 1), (5, 95), (89, 91), (200, 400), (7, 7)] {
        let select = SeriesSelect {
            tenant: "t".to_owned(),
            matchers: vec![equal("__name__", "hits_total")],
            start_ms: T0 + from * TEN_S,
            end_ms: T0 + to * TEN_S,
            resolution_ms: 1,
        };
        let selected: Vec<String> = store
            .select(&select, 1000, deadline)
            .unwrap()
            .iter()
            .map(|s| format!("{} {:?}", s.labels, s.windows))
            .collect();
        let lazy = store.select_lazy(&select, 1000, deadline).unwrap();
        // One buffer for every series, read out of order.
        let mut buffer = Vec::new();
        let mut read: Vec<String> = vec![String::new(); lazy.len()];
        let mut columns = CounterColumns::default();
        let mut want = CounterColumns::default();
        for i in (0..lazy.len()).rev() {
            lazy.windows(i, &mut buffer);
            read[i] = format!("{} {buffer:?}", lazy.labels(i));
            // The same windows as counter columns.
            assert!(lazy.counters(i, &mut columns));
            assert!(want.fill(&buffer));
            assert_eq!(format!("{columns:?}"), format!("{want:?}"));
        }
        assert_eq!(read, selected, "windows ending in ({from}, {to}] x 10 s");
    }
}
