//! The JSON shapes of Alertmanager's v2 silence API, field for field:
//! `PostableSilence` (the body of `POST /api/v2/silences`, unknown fields
//! ignored), `GettableSilence` (what `GET` returns) and the POST response
//! `{"silenceID": "…"}`. Timestamps are RFC 3339 strings in UTC with
//! millisecond precision.
//!
//! It also holds the meaning of the listing's `filter` parameter
//! ([`keeps`]).

use serde::{Deserialize, Serialize};

use crate::matcher::{ApiMatcher, MatchOp, Matcher};
use crate::time::format_rfc3339;

use super::{Silence, SilenceState};

/// A silence as clients post it. Without an `id` (or with an empty one) it
/// creates a silence; with one it updates that silence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PostableSilence {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub matchers: Vec<ApiMatcher>,
    pub starts_at: String,
    pub ends_at: String,
    pub created_by: String,
    pub comment: String,
}

/// `{"state": "active" | "pending" | "expired"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SilenceStatus {
    pub state: SilenceState,
}

/// A silence as the API returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GettableSilence {
    pub id: String,
    pub status: SilenceStatus,
    pub updated_at: String,
    pub matchers: Vec<ApiMatcher>,
    pub starts_at: String,
    pub ends_at: String,
    pub created_by: String,
    pub comment: String,
}

impl GettableSilence {
    pub(super) fn new(silence: &Silence, now_ms: i64) -> GettableSilence {
        GettableSilence {
            id: silence.id.clone(),
            status: SilenceStatus {
                state: silence.state(now_ms),
            },
            updated_at: format_rfc3339(silence.updated_at_ms),
            matchers: silence.matchers.iter().map(ApiMatcher::from).collect(),
            starts_at: format_rfc3339(silence.starts_at_ms),
            ends_at: format_rfc3339(silence.ends_at_ms),
            created_by: silence.created_by.clone(),
            comment: silence.comment.clone(),
        }
    }
}

/// The body of a successful `POST /api/v2/silences`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SilenceCreated {
    #[serde(rename = "silenceID")]
    pub silence_id: String,
}

/// Whether a listing filtered by `filter` keeps `silence`: for every filter
/// matcher the silence has a matcher on the same label that either is the
/// same matcher (same operator and value; Alertmanager's rule) or is an
/// equality matcher whose value the filter matches. So `alertname="Disk"`
/// finds silences with exactly that matcher, and `alertname=~"Disk.*"`
/// also finds those with `alertname="DiskFull"`. An empty filter keeps
/// every silence.
pub(super) fn keeps(silence: &Silence, filter: &[Matcher]) -> bool {
    filter.iter().all(|wanted| {
        silence.matchers.iter().any(|m| {
            m.name == wanted.name
                && (m == wanted || (m.op == MatchOp::Eq && wanted.matches_value(&m.value)))
        })
    })
}
