//! How a silence is persisted in the state topic.
//!
//! # Format (version 1)
//! Key `silence/<id>`; value a JSON object:
//!
//! ```json
//! {"version": 1, "id": "…", "matchers": [{"name": "…", "value": "…",
//!  "isRegex": false, "isEqual": true}], "startsAtMs": 0, "endsAtMs": 0,
//!  "createdBy": "…", "comment": "…", "updatedAtMs": 0}
//! ```
//!
//! Times are milliseconds since the epoch; matchers use the API's shape, so
//! a stored silence and a posted one describe matchers alike. Every change
//! (create, update, expire) rewrites the whole value; deletion after
//! retention is a tombstone, so compaction eventually drops the key.
//!
//! # Invariants and recovery
//! - The key's id and the value's `id` agree, `startsAtMs <= endsAtMs`
//!   (an expired pending silence has them equal) and every matcher
//!   compiles; a value that breaks any of these, or that has a newer
//!   `version`, is reported as corruption and skipped on load rather than
//!   failing the whole state.
//! - Unknown fields are ignored, so an older build reads values written by
//!   a newer one that only added fields.
//! - A value is appended and made durable before the change is visible
//!   (see the log's durability policy), so a crash loses at most a change
//!   that was never acknowledged.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::error::{AlertingError, Result};
use crate::matcher::{ApiMatcher, Matcher};

use super::Silence;

/// Prefix of every silence's key in the state topic.
pub(super) const KEY_PREFIX: &str = "silence/";
/// The format written by this build; loading accepts it and older ones.
const VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredSilence {
    version: u32,
    id: String,
    matchers: Vec<ApiMatcher>,
    starts_at_ms: i64,
    ends_at_ms: i64,
    created_by: String,
    comment: String,
    updated_at_ms: i64,
}

/// The key of silence `id`.
pub(super) fn key(id: &str) -> String {
    format!("{KEY_PREFIX}{id}")
}

pub(super) fn encode(silence: &Silence) -> Result<Bytes> {
    let stored = StoredSilence {
        version: VERSION,
        id: silence.id.clone(),
        matchers: silence.matchers.iter().map(ApiMatcher::from).collect(),
        starts_at_ms: silence.starts_at_ms,
        ends_at_ms: silence.ends_at_ms,
        created_by: silence.created_by.clone(),
        comment: silence.comment.clone(),
        updated_at_ms: silence.updated_at_ms,
    };
    serde_json::to_vec(&stored)
        .map(Bytes::from)
        .map_err(|e| corrupt(key(&silence.id), e.to_string()))
}

/// Decodes the value stored under `key`.
pub(super) fn decode(key: &str, value: &[u8]) -> Result<Silence> {
    let stored: StoredSilence =
        serde_json::from_slice(value).map_err(|e| corrupt(key.to_owned(), e.to_string()))?;
    let fail = |why: String| corrupt(key.to_owned(), why);
    if stored.version > VERSION {
        return Err(fail(format!(
            "format version {} is newer than {VERSION}",
            stored.version
        )));
    }
    if key.strip_prefix(KEY_PREFIX) != Some(stored.id.as_str()) {
        return Err(fail(format!("holds silence {:?}", stored.id)));
    }
    if stored.ends_at_ms < stored.starts_at_ms {
        return Err(fail("ends before it starts".into()));
    }
    let matchers = stored
        .matchers
        .iter()
        .enumerate()
        .map(|(i, m)| Matcher::try_from(m).map_err(|e| fail(format!("matchers[{i}]: {e}"))))
        .collect::<Result<Vec<_>>>()?;
    Ok(Silence {
        id: stored.id,
        matchers,
        starts_at_ms: stored.starts_at_ms,
        ends_at_ms: stored.ends_at_ms,
        created_by: stored.created_by,
        comment: stored.comment,
        updated_at_ms: stored.updated_at_ms,
    })
}

fn corrupt(what: String, detail: String) -> AlertingError {
    AlertingError::Corruption { what, detail }
}
