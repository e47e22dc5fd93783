//! Silences on a fake clock over a real log in a temporary directory.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use log_core::{Log, LogConfig, OpenMode};
use serde_json::json;

use super::*;
use crate::clock::FakeClock;
use crate::matcher::ApiMatcher;
use crate::store::STATE_TOPIC;
use crate::time::{format_rfc3339, parse_rfc3339};

const HOUR: i64 = 3_600_000;

fn t0() -> i64 {
    parse_rfc3339("2026-03-01T12:00:00Z").unwrap()
}

struct Fixture {
    log: Arc<Log>,
    clock: FakeClock,
    silences: Silences,
}

fn open(dir: &Path, clock: &FakeClock, config: SilenceConfig) -> Fixture {
    let (log, _) = Log::open(dir, LogConfig::default(), OpenMode::ReadWrite).unwrap();
    let topic = KeyedTopic::open(&log, STATE_TOPIC).unwrap();
    let silences = Silences::open(topic, Arc::new(clock.clone()), config).unwrap();
    Fixture {
        log,
        clock: clock.clone(),
        silences,
    }
}

fn fixture(dir: &Path) -> Fixture {
    open(dir, &FakeClock::new(t0()), SilenceConfig::default())
}

fn matcher(name: &str, value: &str, is_regex: bool, is_equal: bool) -> ApiMatcher {
    ApiMatcher {
        name: name.into(),
        value: value.into(),
        is_regex,
        is_equal,
    }
}

fn post(matchers: Vec<ApiMatcher>, starts_at_ms: i64, ends_at_ms: i64) -> PostableSilence {
    PostableSilence {
        id: None,
        matchers,
        starts_at: format_rfc3339(starts_at_ms),
        ends_at: format_rfc3339(ends_at_ms),
        created_by: "ops@example.com".into(),
        comment: "maintenance".into(),
    }
}

fn disk_full(starts_at_ms: i64, ends_at_ms: i64) -> PostableSilence {
    post(
        vec![matcher("alertname", "DiskFull", false, true)],
        starts_at_ms,
        ends_at_ms,
    )
}

fn labels(pairs: &[(&str, &str)]) -> LabelSet {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn state(f: &Fixture, id: &str) -> SilenceState {
    f.silences.get(id).unwrap().status.state
}

#[tokio::test]
async fn lifecycle_pending_active_expired() {
    let dir = tempfile::tempdir().unwrap();
    let f = fixture(dir.path());
    let id = f
        .silences
        .upsert(disk_full(t0() + HOUR, t0() + 2 * HOUR))
        .await
        .unwrap();
    assert!(uuid::Uuid::parse_str(&id).is_ok_and(|u| u.get_version_num() == 4));
    let alert = labels(&[("alertname", "DiskFull"), ("host", "a")]);
    assert_eq!(state(&f, &id), SilenceState::Pending);
    assert!(f.silences.mutes(&alert).is_empty());
    f.clock.set(t0() + HOUR);
    assert_eq!(state(&f, &id), SilenceState::Active);
    assert_eq!(f.silences.mutes(&alert), vec![id.clone()]);
    assert!(
        f.silences
            .mutes(&labels(&[("alertname", "Other")]))
            .is_empty()
    );
    f.clock.set(t0() + 2 * HOUR);
    assert_eq!(state(&f, &id), SilenceState::Expired);
    assert!(f.silences.mutes(&alert).is_empty());
}

async fn rejects(f: &Fixture, postable: PostableSilence, wanted: &str) {
    match f.silences.upsert(postable).await {
        Err(AlertingError::BadRequest(message)) => {
            assert!(message.contains(wanted), "{message:?} lacks {wanted:?}")
        }
        other => panic!("expected a bad request containing {wanted:?}, got {other:?}"),
    }
}

#[tokio::test]
async fn validation_names_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let f = fixture(dir.path());
    let (start, end) = (t0(), t0() + HOUR);
    rejects(&f, post(vec![], start, end), "at least one matcher").await;
    let empty = vec![
        matcher("a", "", false, true),
        matcher("b", ".*", true, true),
    ];
    rejects(
        &f,
        post(empty, start, end),
        "must not match the empty string",
    )
    .await;
    let bad_regex = vec![matcher("a", "(", true, true)];
    rejects(&f, post(bad_regex, start, end), "matchers[0]").await;
    let no_name = vec![matcher("", "x", false, true)];
    rejects(&f, post(no_name, start, end), "matchers[0]").await;
    rejects(&f, disk_full(end, start), "must be after startsAt").await;
    rejects(&f, disk_full(start, start), "must be after startsAt").await;
    rejects(&f, disk_full(start - 2 * HOUR, start - HOUR), "in the past").await;
    let mut p = disk_full(start, end);
    p.created_by = " ".into();
    rejects(&f, p, "createdBy must not be empty").await;
    let mut p = disk_full(start, end);
    p.comment = String::new();
    rejects(&f, p, "comment must not be empty").await;
    let mut p = disk_full(start, end);
    p.comment = "x".repeat(MAX_COMMENT_BYTES + 1);
    rejects(&f, p, "comment is longer").await;
    let mut p = disk_full(start, end);
    p.starts_at = "yesterday".into();
    rejects(&f, p, "startsAt: invalid RFC 3339").await;
    let mut p = disk_full(start, end);
    p.ends_at = "2026-13-01T00:00:00Z".into();
    rejects(&f, p, "endsAt: invalid RFC 3339").await;
    let many = (0..=MAX_MATCHERS)
        .map(|i| matcher(&format!("l{i}"), "x", false, true))
        .collect();
    rejects(&f, post(many, start, end), "at most 64").await;
    // `!=` alone is allowed, as in Alertmanager.
    let ne = vec![matcher("a", "x", false, false)];
    assert!(f.silences.upsert(post(ne, start, end)).await.is_ok());

    let mut p = disk_full(start, end);
    p.id = Some("no-such-silence".into());
    let e = f.silences.upsert(p).await.unwrap_err();
    assert!(matches!(e, AlertingError::NotFound { .. }), "{e}");
    assert_eq!(e.to_string(), "silence no-such-silence not found");
}

#[tokio::test]
async fn a_start_in_the_past_becomes_now() {
    let dir = tempfile::tempdir().unwrap();
    let f = fixture(dir.path());
    let id = f
        .silences
        .upsert(disk_full(t0() - HOUR, t0() + HOUR))
        .await
        .unwrap();
    let got = f.silences.get(&id).unwrap();
    assert_eq!(got.starts_at, format_rfc3339(t0()));
    assert_eq!(got.updated_at, format_rfc3339(t0()));
    assert_eq!(got.status.state, SilenceState::Active);
}

#[tokio::test]
async fn end_and_comment_changes_update_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let f = fixture(dir.path());
    let id = f
        .silences
        .upsert(disk_full(t0(), t0() + HOUR))
        .await
        .unwrap();
    f.clock.set(t0() + 10 * 60_000);
    let mut p = disk_full(t0(), t0() + 3 * HOUR);
    p.id = Some(id.clone());
    p.comment = "longer maintenance".into();
    p.created_by = "someone-else".into();
    assert_eq!(f.silences.upsert(p).await.unwrap(), id);
    assert_eq!(f.silences.len(), 1);
    let got = f.silences.get(&id).unwrap();
    assert_eq!(got.ends_at, format_rfc3339(t0() + 3 * HOUR));
    assert_eq!(got.comment, "longer maintenance");
    assert_eq!(got.created_by, "someone-else");
    assert_eq!(got.updated_at, format_rfc3339(t0() + 10 * 60_000));

    // A pending silence may move its start, as long as it stays ahead.
    let pending = f
        .silences
        .upsert(disk_full(t0() + 5 * HOUR, t0() + 6 * HOUR))
        .await
        .unwrap();
    let mut p = disk_full(t0() + 4 * HOUR, t0() + 6 * HOUR);
    p.id = Some(pending.clone());
    assert_eq!(f.silences.upsert(p).await.unwrap(), pending);
    assert_eq!(state(&f, &pending), SilenceState::Pending);
}

#[tokio::test]
async fn matcher_or_start_changes_expire_and_recreate() {
    let dir = tempfile::tempdir().unwrap();
    let f = fixture(dir.path());
    let id = f
        .silences
        .upsert(disk_full(t0(), t0() + HOUR))
        .await
        .unwrap();
    f.clock.set(t0() + 60_000);
    let mut p = post(
        vec![matcher("alertname", "Disk.*", true, true)],
        t0(),
        t0() + HOUR,
    );
    p.id = Some(id.clone());
    let new_id = f.silences.upsert(p).await.unwrap();
    assert_ne!(new_id, id);
    assert_eq!(state(&f, &id), SilenceState::Expired);
    assert_eq!(
        f.silences.get(&id).unwrap().ends_at,
        format_rfc3339(t0() + 60_000)
    );
    assert_eq!(state(&f, &new_id), SilenceState::Active);

    // Moving an active silence's start is also history: a new silence.
    let mut p = post(
        vec![matcher("alertname", "Disk.*", true, true)],
        t0() + 2 * HOUR,
        t0() + 3 * HOUR,
    );
    p.id = Some(new_id.clone());
    let third = f.silences.upsert(p).await.unwrap();
    assert_ne!(third, new_id);
    assert_eq!(state(&f, &new_id), SilenceState::Expired);
    assert_eq!(state(&f, &third), SilenceState::Pending);
    assert_eq!(f.silences.len(), 3);
}

#[tokio::test]
async fn expired_silences_cannot_be_updated_or_expired_again() {
    let dir = tempfile::tempdir().unwrap();
    let f = fixture(dir.path());
    let id = f
        .silences
        .upsert(disk_full(t0() + HOUR, t0() + 2 * HOUR))
        .await
        .unwrap();
    f.silences.expire(&id).await.unwrap();
    let got = f.silences.get(&id).unwrap();
    assert_eq!(got.status.state, SilenceState::Expired);
    assert_eq!(got.starts_at, format_rfc3339(t0()), "pending: starts now");
    assert_eq!(got.ends_at, format_rfc3339(t0()));

    let e = f.silences.expire(&id).await.unwrap_err().to_string();
    assert!(e.contains(&format!("silence {id} already expired")), "{e}");
    let mut p = disk_full(t0(), t0() + HOUR);
    p.id = Some(id.clone());
    let e = f.silences.upsert(p).await.unwrap_err().to_string();
    assert!(e.contains("is expired and cannot be updated"), "{e}");
    let e = f.silences.expire("nope").await.unwrap_err();
    assert!(matches!(e, AlertingError::NotFound { .. }), "{e}");
}

#[tokio::test]
async fn silences_and_states_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let clock = FakeClock::new(t0());
    let (active, expired, pending, before) = {
        let f = open(dir.path(), &clock, SilenceConfig::default());
        let active = f
            .silences
            .upsert(disk_full(t0(), t0() + HOUR))
            .await
            .unwrap();
        let expired = f
            .silences
            .upsert(disk_full(t0(), t0() + HOUR))
            .await
            .unwrap();
        f.silences.expire(&expired).await.unwrap();
        let pending = f
            .silences
            .upsert(disk_full(t0() + HOUR, t0() + 2 * HOUR))
            .await
            .unwrap();
        let before = f.silences.list(&[]);
        f.log.close().unwrap();
        (active, expired, pending, before)
    };
    let f = open(dir.path(), &clock, SilenceConfig::default());
    assert_eq!(f.silences.list(&[]), before);
    assert_eq!(state(&f, &active), SilenceState::Active);
    assert_eq!(state(&f, &expired), SilenceState::Expired);
    assert_eq!(state(&f, &pending), SilenceState::Pending);
}

#[tokio::test]
async fn gc_deletes_old_expired_silences_durably() {
    let dir = tempfile::tempdir().unwrap();
    let clock = FakeClock::new(t0());
    let config = SilenceConfig {
        retention: Duration::from_secs(3600),
        ..SilenceConfig::default()
    };
    let (old, recent) = {
        let f = open(dir.path(), &clock, config.clone());
        let old = f
            .silences
            .upsert(disk_full(t0(), t0() + HOUR))
            .await
            .unwrap();
        let recent = f
            .silences
            .upsert(disk_full(t0(), t0() + 2 * HOUR))
            .await
            .unwrap();
        clock.set(t0() + 2 * HOUR);
        assert_eq!(f.silences.gc().await.unwrap(), 1, "ended an hour ago");
        assert!(f.silences.get(&old).is_none());
        assert_eq!(f.silences.gc().await.unwrap(), 0);
        f.log.close().unwrap();
        (old, recent)
    };
    let f = open(dir.path(), &clock, config);
    assert!(f.silences.get(&old).is_none());
    assert_eq!(state(&f, &recent), SilenceState::Expired);
    assert_eq!(f.silences.len(), 1);
}

#[tokio::test]
async fn mutes_with_regex_and_negative_matchers() {
    let dir = tempfile::tempdir().unwrap();
    let f = fixture(dir.path());
    let matchers = vec![
        matcher("alertname", "Disk.*|Memory", true, true),
        matcher("env", "prod", false, false),
        matcher("team", "web", true, false),
    ];
    let id = f
        .silences
        .upsert(post(matchers, t0(), t0() + HOUR))
        .await
        .unwrap();
    let muted = |pairs: &[(&str, &str)]| !f.silences.mutes(&labels(pairs)).is_empty();
    assert!(muted(&[("alertname", "DiskFull"), ("env", "staging")]));
    assert!(muted(&[("alertname", "Memory"), ("team", "db")]));
    assert!(
        !muted(&[("alertname", "MemoryHigh")]),
        "regexes are anchored"
    );
    assert!(!muted(&[("alertname", "DiskFull"), ("env", "prod")]));
    assert!(!muted(&[("alertname", "DiskFull"), ("team", "web")]));
    assert_eq!(
        f.silences.mutes(&labels(&[("alertname", "DiskFull")])),
        vec![id]
    );
}

#[tokio::test]
async fn list_filters_by_matchers_and_sorts_like_alertmanager() {
    let dir = tempfile::tempdir().unwrap();
    let f = fixture(dir.path());
    let s = &f.silences;
    let active_late = s.upsert(disk_full(t0(), t0() + 3 * HOUR)).await.unwrap();
    let active_soon = s.upsert(disk_full(t0(), t0() + HOUR)).await.unwrap();
    let pending_late = s
        .upsert(disk_full(t0() + 2 * HOUR, t0() + 9 * HOUR))
        .await
        .unwrap();
    let pending_soon = s
        .upsert(disk_full(t0() + HOUR, t0() + 9 * HOUR))
        .await
        .unwrap();
    let expired_first = s.upsert(disk_full(t0(), t0() + HOUR)).await.unwrap();
    s.expire(&expired_first).await.unwrap();
    f.clock.set(t0() + 1);
    let expired_last = s.upsert(disk_full(t0(), t0() + HOUR)).await.unwrap();
    s.expire(&expired_last).await.unwrap();
    let other = s
        .upsert(post(
            vec![matcher("alertname", "Other", false, true)],
            t0(),
            t0() + 2 * HOUR,
        ))
        .await
        .unwrap();

    let ids =
        |filter: &[Matcher]| -> Vec<String> { s.list(filter).into_iter().map(|g| g.id).collect() };
    let disk = [
        active_soon.clone(),
        active_late,
        pending_soon,
        pending_late,
        expired_last,
        expired_first,
    ];
    let exact = Matcher::parse(r#"alertname="DiskFull""#).unwrap();
    assert_eq!(ids(&[exact]), disk);
    let regex = Matcher::parse(r#"alertname=~"Disk.*""#).unwrap();
    assert_eq!(ids(&[regex]), disk);
    let all = ids(&[]);
    assert_eq!(all.len(), 7);
    assert_eq!(all[0], active_soon);
    assert_eq!(all[1], other, "active ones by end, whatever they match");
    let missing = Matcher::parse(r#"team="db""#).unwrap();
    assert!(ids(&[missing]).is_empty());
}

#[tokio::test]
async fn the_limit_counts_retained_silences() {
    let dir = tempfile::tempdir().unwrap();
    let clock = FakeClock::new(t0());
    let config = SilenceConfig {
        max_silences: 2,
        ..SilenceConfig::default()
    };
    let f = open(dir.path(), &clock, config);
    let first = f
        .silences
        .upsert(disk_full(t0(), t0() + HOUR))
        .await
        .unwrap();
    f.silences
        .upsert(disk_full(t0(), t0() + HOUR))
        .await
        .unwrap();
    f.silences.expire(&first).await.unwrap();
    rejects(&f, disk_full(t0(), t0() + HOUR), "too many silences").await;
}

#[tokio::test]
async fn corrupt_stored_values_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = Log::open(dir.path(), LogConfig::default(), OpenMode::ReadWrite).unwrap();
    let topic = KeyedTopic::open(&log, STATE_TOPIC).unwrap();
    topic
        .put("silence/bad", Bytes::from_static(b"{not json"))
        .await
        .unwrap();
    topic.put("rules", Bytes::from_static(b"{}")).await.unwrap();
    let fixture = V1_FIXTURE.replace("\"id\": \"", "\"id\": \"x");
    topic
        .put(&format!("silence/{V1_ID}"), Bytes::from(fixture))
        .await
        .unwrap();
    let clock: SharedClock = Arc::new(FakeClock::new(t0()));
    let silences = Silences::open(topic, clock, SilenceConfig::default()).unwrap();
    assert!(silences.is_empty());
}

const V1_ID: &str = "6f1a3c0e-5b1d-4c55-9a8e-0c1f2d3e4b5a";
const V1_FIXTURE: &str = r#"{"version": 1, "id": "6f1a3c0e-5b1d-4c55-9a8e-0c1f2d3e4b5a",
  "matchers": [{"name": "alertname", "value": "Disk.*", "isRegex": true, "isEqual": true}],
  "startsAtMs": 1772366400000, "endsAtMs": 1772370000000,
  "createdBy": "ops", "comment": "disk swap", "updatedAtMs": 1772366400000}"#;

#[test]
fn stored_format_v1_still_decodes() {
    let silence = stored::decode(&stored::key(V1_ID), V1_FIXTURE.as_bytes()).unwrap();
    assert_eq!(silence.id, V1_ID);
    assert_eq!(silence.starts_at_ms, t0());
    assert_eq!(silence.ends_at_ms, t0() + HOUR);
    assert_eq!(silence.matchers[0].to_string(), r#"alertname=~"Disk.*""#);
    let again = stored::encode(&silence).unwrap();
    assert_eq!(
        stored::decode(&stored::key(V1_ID), &again).unwrap(),
        silence
    );
    let newer = V1_FIXTURE.replace("\"version\": 1", "\"version\": 2");
    let e = stored::decode(&stored::key(V1_ID), newer.as_bytes()).unwrap_err();
    assert!(e.to_string().contains("newer"), "{e}");
}

#[tokio::test]
async fn json_shapes_are_alertmanagers() {
    let posted: PostableSilence = serde_json::from_value(json!({
        "matchers": [
            {"name": "alertname", "value": "DiskFull", "isRegex": false, "isEqual": true},
            {"name": "host", "value": "db-.*", "isRegex": true}
        ],
        "startsAt": "2026-03-01T12:00:00.000Z",
        "endsAt": "2026-03-01T14:00:00+01:00",
        "createdBy": "ops",
        "comment": "disk swap",
        "status": {"state": "ignored"}
    }))
    .unwrap();
    assert_eq!(posted.id, None);
    assert!(posted.matchers[1].is_equal, "isEqual defaults to true");

    let dir = tempfile::tempdir().unwrap();
    let f = fixture(dir.path());
    let id = f.silences.upsert(posted).await.unwrap();
    let got = serde_json::to_value(f.silences.get(&id).unwrap()).unwrap();
    assert_eq!(
        got,
        json!({
            "id": id,
            "status": {"state": "active"},
            "updatedAt": "2026-03-01T12:00:00.000Z",
            "matchers": [
                {"name": "alertname", "value": "DiskFull", "isRegex": false, "isEqual": true},
                {"name": "host", "value": "db-.*", "isRegex": true, "isEqual": true}
            ],
            "startsAt": "2026-03-01T12:00:00.000Z",
            "endsAt": "2026-03-01T13:00:00.000Z",
            "createdBy": "ops",
            "comment": "disk swap"
        })
    );
    let created = SilenceCreated {
        silence_id: id.clone(),
    };
    assert_eq!(
        serde_json::to_value(&created).unwrap(),
        json!({"silenceID": id})
    );
    let mut update = disk_full(t0(), t0() + HOUR);
    update.id = Some(id.clone());
    let value = serde_json::to_value(&update).unwrap();
    assert_eq!(value["id"], json!(id));
    assert_eq!(value["createdBy"], json!("ops@example.com"));
    assert!(
        serde_json::to_value(disk_full(0, 1))
            .unwrap()
            .get("id")
            .is_none()
    );
}

#[test]
fn silences_are_shareable_across_tasks() {
    fn shareable<T: Send + Sync>() {}
    shareable::<Silences>();
    fn send<T: Send>(_: &T) {}
    let dir = tempfile::tempdir().unwrap();
    let f = fixture(dir.path());
    send(&f.silences.upsert(disk_full(t0(), t0() + HOUR)));
    send(&f.silences.expire("x"));
    send(&f.silences.gc());
}
