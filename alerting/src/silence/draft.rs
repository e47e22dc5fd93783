//! A posted silence, validated: Alertmanager's rules for what may be
//! stored, and its rules for when a post updates a silence in place.
//!
//! Validation (every message names what is wrong): at least one matcher and
//! at most [`MAX_MATCHERS`]; every matcher compiles; not every matcher
//! matches the empty string (a silence that would mute every alert);
//! `startsAt` and `endsAt` are RFC 3339 and the end is after the start and
//! in the future; `createdBy` and `comment` are not blank; every text
//! field is bounded.

use crate::error::{AlertingError, Result};
use crate::matcher::{MatchOp, Matcher};
use crate::time::{format_rfc3339, parse_rfc3339};

use super::{PostableSilence, Silence, SilenceState};

/// Matchers per silence. Alertmanager sets no default limit; a silence
/// with more than this is a script gone wrong, and every alert is tested
/// against every matcher of every active silence.
pub const MAX_MATCHERS: usize = 64;
/// Bytes of a matcher's name plus its value (a regex may be long, but not
/// unbounded: it is compiled on every load).
pub const MAX_MATCHER_BYTES: usize = 4096;
/// Bytes of `createdBy`: a user name or an address.
pub const MAX_CREATED_BY_BYTES: usize = 256;
/// Bytes of `comment`: room for a paragraph and a ticket link.
pub const MAX_COMMENT_BYTES: usize = 4096;
/// Bytes of a posted `id`; a UUID is 36.
const MAX_ID_BYTES: usize = 64;

/// What a post asks for, once it is known to be valid.
#[derive(Debug)]
pub(super) struct Draft {
    /// The silence to update, if the post names one.
    pub id: Option<String>,
    pub matchers: Vec<Matcher>,
    pub starts_at_ms: i64,
    pub ends_at_ms: i64,
    pub created_by: String,
    pub comment: String,
}

impl Draft {
    /// Validates `postable` as of `now_ms`.
    pub fn parse(postable: &PostableSilence, now_ms: i64) -> Result<Draft> {
        let id = postable.id.as_deref().filter(|id| !id.is_empty());
        if id.is_some_and(|id| id.len() > MAX_ID_BYTES) {
            return Err(bad(format!("id is longer than {MAX_ID_BYTES} bytes")));
        }
        let matchers = parse_matchers(postable)?;
        let starts_at_ms = parse_time("startsAt", &postable.starts_at)?;
        let ends_at_ms = parse_time("endsAt", &postable.ends_at)?;
        if ends_at_ms <= starts_at_ms {
            return Err(bad(format!(
                "endsAt {} must be after startsAt {}",
                format_rfc3339(ends_at_ms),
                format_rfc3339(starts_at_ms)
            )));
        }
        if ends_at_ms <= now_ms {
            return Err(bad(format!(
                "endsAt {} is in the past",
                format_rfc3339(ends_at_ms)
            )));
        }
        Ok(Draft {
            id: id.map(str::to_owned),
            matchers,
            starts_at_ms,
            ends_at_ms,
            created_by: text("createdBy", &postable.created_by, MAX_CREATED_BY_BYTES)?,
            comment: text("comment", &postable.comment, MAX_COMMENT_BYTES)?,
        })
    }

    /// `previous` with this draft applied, if that changes nothing it
    /// already muted: the matchers are the same, and an active silence
    /// keeps its start (to the second, as Alertmanager compares) while a
    /// pending one may move its start but not into the past. `None` means
    /// the post replaces `previous` with a new silence.
    pub fn update_in_place(&self, previous: &Silence, now_ms: i64) -> Option<Silence> {
        if self.matchers != previous.matchers {
            return None;
        }
        let starts_at_ms = match previous.state(now_ms) {
            SilenceState::Active
                if self.starts_at_ms.div_euclid(1000) == previous.starts_at_ms.div_euclid(1000) =>
            {
                previous.starts_at_ms
            }
            SilenceState::Pending if self.starts_at_ms >= now_ms => self.starts_at_ms,
            _ => return None,
        };
        Some(Silence {
            id: previous.id.clone(),
            matchers: self.matchers.clone(),
            starts_at_ms,
            ends_at_ms: self.ends_at_ms,
            created_by: self.created_by.clone(),
            comment: self.comment.clone(),
            updated_at_ms: now_ms,
        })
    }

    /// A new silence with `id`; a start in the past becomes `now_ms`.
    pub fn create(self, id: String, now_ms: i64) -> Silence {
        Silence {
            id,
            matchers: self.matchers,
            starts_at_ms: self.starts_at_ms.max(now_ms),
            ends_at_ms: self.ends_at_ms,
            created_by: self.created_by,
            comment: self.comment,
            updated_at_ms: now_ms,
        }
    }
}

fn parse_matchers(postable: &PostableSilence) -> Result<Vec<Matcher>> {
    if postable.matchers.is_empty() {
        return Err(bad("at least one matcher is required".into()));
    }
    if postable.matchers.len() > MAX_MATCHERS {
        return Err(bad(format!(
            "{} matchers, at most {MAX_MATCHERS} are allowed",
            postable.matchers.len()
        )));
    }
    let mut matchers = Vec::with_capacity(postable.matchers.len());
    for (i, api) in postable.matchers.iter().enumerate() {
        if api.name.len() + api.value.len() > MAX_MATCHER_BYTES {
            return Err(bad(format!(
                "matchers[{i}]: name and value are longer than {MAX_MATCHER_BYTES} bytes"
            )));
        }
        let matcher = Matcher::try_from(api).map_err(|e| match e {
            AlertingError::BadRequest(why) => bad(format!("matchers[{i}]: {why}")),
            other => other,
        })?;
        matchers.push(matcher);
    }
    if matchers.iter().all(matches_empty) {
        return Err(bad(
            "at least one matcher must not match the empty string".into()
        ));
    }
    Ok(matchers)
}

/// Alertmanager's test: only `=` and `=~` matchers count as matching the
/// empty string, so `{a!="x"}` alone is allowed.
fn matches_empty(matcher: &Matcher) -> bool {
    matches!(matcher.op, MatchOp::Eq | MatchOp::Re) && matcher.matches_value("")
}

fn parse_time(field: &str, text: &str) -> Result<i64> {
    parse_rfc3339(text).map_err(|why| bad(format!("{field}: {why}")))
}

fn text(field: &str, value: &str, max_bytes: usize) -> Result<String> {
    if value.trim().is_empty() {
        return Err(bad(format!("{field} must not be empty")));
    }
    if value.len() > max_bytes {
        return Err(bad(format!("{field} is longer than {max_bytes} bytes")));
    }
    Ok(value.to_owned())
}

fn bad(message: String) -> AlertingError {
    AlertingError::BadRequest(message)
}
