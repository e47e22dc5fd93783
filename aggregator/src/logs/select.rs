//! The log index as a [`LogSource`]: what the LogQL engine and the
//! Loki-compatible API read.
//!
//! # Pushdown
//! A selection is one tantivy query per split: the tenant, the time range,
//! a term of the `labels` field for every `name="value"` matcher, a term
//! excluded for every `name!="value"`, and for every required substring of
//! a line filter the body terms it implies: a substring's inner words are
//! whole terms, its first word must end a term and its last word begin one
//! (`"rror: time"` → a term matching `.*rror` and one matching `time.*`).
//! tantivy does not index a term longer than its `MAX_TOKEN_LEN` (65,530
//! bytes), so a line longer than that is a candidate for every substring.
//! Anything else (regex matchers, non-ASCII substrings) is left to the
//! engine, which re-checks every entry exactly.
//!
//! # Order and memory
//! Entries are produced in time order across partitions: the range is cut
//! at split buckets, and a piece holding more than [`PIECE_DOCS`] matching
//! documents is halved until it does not, so one piece's addresses are all
//! that is held in memory besides the entry being visited.
//!
//! Label names and values without matchers come from the term dictionary
//! (per split, so they may include labels of records up to one split
//! bucket outside the range, as Loki's do at chunk granularity). With
//! matchers, and for series, they are collected from the newest
//! [`SCAN_DOCS`] matching records.

use std::collections::BTreeSet;
use std::ops::{Bound, ControlFlow};

use tantivy::collector::{Collector, Count, SegmentCollector};
use tantivy::columnar::Column;
use tantivy::query::{BooleanQuery, Occur, Query, RangeQuery, RegexQuery, TermQuery};
use tantivy::schema::IndexRecordOption;
use tantivy::tokenizer::MAX_TOKEN_LEN;
use tantivy::{DocAddress, Searcher, SegmentReader, Term};

use crate::error::Result;
use crate::labels::{Labels, MatchOp, Matcher};
use crate::logs::schema::{self, body_tokens};
use crate::logs::search::{LogSearch, index_error};
use crate::logs::source::{Direction, LogEntry, LogSelect, LogSource, SourceStats};
use crate::query::Deadline;

/// Matching documents one piece of a selection may hold.
pub const PIECE_DOCS: usize = 50_000;
/// Records scanned for series and label values with matchers.
pub const SCAN_DOCS: usize = 100_000;

const JSON_PATH_SEP: u8 = 1;
const JSON_END_OF_PATH: u8 = 0;
const JSON_STR_TYPE: u8 = b's';

impl LogSearch {
    /// The query selecting a tenant's documents in a range that the
    /// matchers and substrings can narrow (see the module doc).
    fn selection_query(
        &self,
        tenant: &str,
        start_nanos: i64,
        end_nanos: i64,
        matchers: &[Matcher],
        substrings: &[String],
    ) -> BooleanQuery {
        let fields = *self.fields();
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for matcher in matchers {
            let occur = match (matcher.op, matcher.value.is_empty()) {
                (MatchOp::Equal, false) => Occur::Must,
                (MatchOp::NotEqual, false) => Occur::MustNot,
                _ => continue,
            };
            let mut term = Term::from_field_json_path(
                fields.labels,
                &format!("{}.{}", escape_path(tenant), escape_path(&matcher.name)),
                false,
            );
            term.append_type_and_str(&matcher.value);
            let labels_term = Box::new(TermQuery::new(term, IndexRecordOption::Basic));
            let id_field = match matcher.name.as_str() {
                schema::TRACE_ID => Some(fields.trace_id),
                schema::SPAN_ID => Some(fields.span_id),
                _ => None,
            };
            match (id_field, occur) {
                (None, _) => clauses.push((occur, labels_term)),
                // A record's own id is in its field; a stream label of
                // the same name shadowing it is in `labels`: either may
                // hold the value, and the engine re-checks which.
                (Some(field), Occur::Must) => {
                    let id_term = Term::from_field_text(field, &matcher.value);
                    let either = BooleanQuery::new(vec![
                        (Occur::Should, labels_term as Box<dyn Query>),
                        (
                            Occur::Should,
                            Box::new(TermQuery::new(id_term, IndexRecordOption::Basic)),
                        ),
                    ]);
                    clauses.push((Occur::Must, Box::new(either)));
                }
                // Exclusion is exact only in `labels`: left to the engine.
                (Some(_), _) => {}
            }
        }
        for substring in substrings {
            let terms: Vec<(Occur, Box<dyn Query>)> = substring_patterns(substring)
                .iter()
                .filter_map(|pattern| RegexQuery::from_pattern(pattern, fields.body).ok())
                .map(|query| (Occur::Must, Box::new(query) as Box<dyn Query>))
                .collect();
            if terms.is_empty() {
                continue;
            }
            // tantivy drops a term longer than `MAX_TOKEN_LEN`: a line
            // that long may hold the substring in a word never indexed.
            let overlong = RangeQuery::new(
                Bound::Excluded(Term::from_field_u64(
                    fields.body_bytes,
                    MAX_TOKEN_LEN as u64,
                )),
                Bound::Unbounded,
            );
            let candidates = BooleanQuery::new(vec![
                (Occur::Should, Box::new(BooleanQuery::new(terms))),
                (Occur::Should, Box::new(overlong)),
            ]);
            clauses.push((Occur::Must, Box::new(candidates)));
        }
        if clauses.iter().all(|(occur, _)| *occur == Occur::MustNot) {
            clauses.push((Occur::Must, Box::new(tantivy::query::AllQuery)));
        }
        let narrowed = BooleanQuery::new(clauses);
        self.scoped(Box::new(narrowed), tenant, start_nanos, end_nanos)
    }

    /// Visits the documents of `[start, end)` matching `query` in time order.
    fn visit_range(
        &self,
        select: &LogSelect,
        deadline: Deadline,
        visit: &mut dyn FnMut(LogEntry) -> ControlFlow<()>,
    ) -> Result<ControlFlow<()>> {
        let splits = self
            .store()
            .splits_overlapping(select.start_nanos, select.end_nanos);
        // Piece boundaries: the bucket edges inside the range.
        let mut edges: BTreeSet<i64> = BTreeSet::from([select.start_nanos, select.end_nanos]);
        for split in &splits {
            for edge in [split.start_nanos, split.end_nanos] {
                if edge > select.start_nanos && edge < select.end_nanos {
                    edges.insert(edge);
                }
            }
        }
        let searchers: Vec<(Searcher, i64, i64)> = splits
            .iter()
            .map(|s| (s.searcher(), s.start_nanos, s.end_nanos))
            .collect();
        let edges: Vec<i64> = edges.into_iter().collect();
        let mut pieces: Vec<(i64, i64)> = edges.windows(2).map(|w| (w[0], w[1])).collect();
        if select.direction == Direction::Backward {
            pieces.reverse();
        }
        // A stack of pieces still to visit, next on top.
        pieces.reverse();
        while let Some((start, end)) = pieces.pop() {
            deadline.check()?;
            let query = self.selection_query(
                &select.tenant,
                start,
                end,
                &select.matchers,
                &select.required_substrings,
            );
            let live: Vec<usize> = (0..searchers.len())
                .filter(|&i| searchers[i].1 < end && start < searchers[i].2)
                .collect();
            let mut count = 0;
            for &i in &live {
                count += searchers[i].0.search(&query, &Count).map_err(index_error)?;
            }
            if count == 0 {
                continue;
            }
            if count > PIECE_DOCS && end - start > 1 {
                let mid = start + (end - start) / 2;
                // Push the later-visited half first.
                if select.direction == Direction::Backward {
                    pieces.push((start, mid));
                    pieces.push((mid, end));
                } else {
                    pieces.push((mid, end));
                    pieces.push((start, mid));
                }
                continue;
            }
            let mut found: Vec<(i64, u64, usize, DocAddress)> = Vec::with_capacity(count);
            for &i in &live {
                let hits = searchers[i]
                    .0
                    .search(&query, &Addresses)
                    .map_err(index_error)?;
                found.extend(
                    hits.into_iter()
                        .map(|(ts, offset, addr)| (ts, offset, i, addr)),
                );
            }
            found.sort_by_key(|f| (f.0, f.1, f.2, f.3));
            if select.direction == Direction::Backward {
                found.reverse();
            }
            for (n, (_, _, i, addr)) in found.into_iter().enumerate() {
                if n % 1024 == 0 {
                    deadline.check()?;
                }
                let doc = self.load(&searchers[i].0, addr)?;
                let entry = LogEntry {
                    timestamp_nanos: doc.timestamp_nanos,
                    labels: doc.stream_labels(),
                    metadata: doc.metadata(),
                    line: doc.body,
                };
                if visit(entry).is_break() {
                    return Ok(ControlFlow::Break(()));
                }
            }
        }
        Ok(ControlFlow::Continue(()))
    }

    /// Label names, or one label's values, of a tenant from the `labels`
    /// term dictionaries of the splits overlapping the range.
    fn dictionary_labels(
        &self,
        tenant: &str,
        name: Option<&str>,
        start_nanos: i64,
        end_nanos: i64,
    ) -> Result<Vec<String>> {
        let mut prefix = tenant.as_bytes().to_vec();
        prefix.push(JSON_PATH_SEP);
        if let Some(name) = name {
            prefix.extend_from_slice(name.as_bytes());
            prefix.push(JSON_END_OF_PATH);
            prefix.push(JSON_STR_TYPE);
        }
        let mut found = BTreeSet::new();
        for split in self.store().splits_overlapping(start_nanos, end_nanos) {
            let searcher = split.searcher();
            for segment in searcher.segment_readers() {
                let inverted = segment
                    .inverted_index(self.fields().labels)
                    .map_err(index_error)?;
                let mut stream = inverted
                    .terms()
                    .range()
                    .ge(&prefix)
                    .into_stream()
                    .map_err(|e| index_error(e.into()))?;
                while stream.advance() {
                    let key = stream.key();
                    if !key.starts_with(&prefix) {
                        break;
                    }
                    let rest = &key[prefix.len()..];
                    let item = match name {
                        Some(_) => rest,
                        None => match rest.iter().position(|b| *b == JSON_END_OF_PATH) {
                            Some(end) => &rest[..end],
                            None => continue,
                        },
                    };
                    if let Ok(item) = std::str::from_utf8(item)
                        && !item.is_empty()
                    {
                        found.insert(item.to_owned());
                    }
                }
            }
        }
        Ok(found.into_iter().collect())
    }

    /// Calls `each` with the labels and metadata of the newest
    /// [`SCAN_DOCS`] records matching.
    fn scan_labels(
        &self,
        tenant: &str,
        start_nanos: i64,
        end_nanos: i64,
        matchers: &[Matcher],
        each: &mut dyn FnMut(Labels, Labels),
    ) -> Result<()> {
        let select = LogSelect {
            tenant: tenant.to_owned(),
            start_nanos,
            end_nanos,
            matchers: matchers.to_vec(),
            required_substrings: Vec::new(),
            direction: Direction::Backward,
        };
        let deadline = Deadline::after(self.limits().timeout);
        let mut scanned = 0;
        let _ = self.visit_range(&select, deadline, &mut |entry| {
            let matched = matchers.iter().all(|m| {
                m.matches(
                    entry
                        .labels
                        .get(&m.name)
                        .or_else(|| entry.metadata.get(&m.name))
                        .unwrap_or(""),
                )
            });
            if matched {
                each(entry.labels, entry.metadata);
            }
            scanned += 1;
            if scanned >= SCAN_DOCS {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })?;
        Ok(())
    }
}

impl LogSource for LogSearch {
    fn select(
        &self,
        select: &LogSelect,
        deadline: Deadline,
        visit: &mut dyn FnMut(LogEntry) -> ControlFlow<()>,
    ) -> Result<()> {
        self.visit_range(select, deadline, visit).map(|_| ())
    }

    fn label_names(&self, tenant: &str, start_nanos: i64, end_nanos: i64) -> Result<Vec<String>> {
        self.dictionary_labels(tenant, None, start_nanos, end_nanos)
    }

    fn label_values(
        &self,
        tenant: &str,
        name: &str,
        start_nanos: i64,
        end_nanos: i64,
        matchers: &[Matcher],
    ) -> Result<Vec<String>> {
        // The id labels' values are not in the `labels` dictionary (see
        // the schema doc): they come from the newest records, as with
        // matchers.
        if matchers.is_empty() && !schema::ID_LABELS.contains(&name) {
            return self.dictionary_labels(tenant, Some(name), start_nanos, end_nanos);
        }
        let mut values = BTreeSet::new();
        self.scan_labels(
            tenant,
            start_nanos,
            end_nanos,
            matchers,
            &mut |labels, metadata| {
                if let Some(value) = labels.get(name).or_else(|| metadata.get(name)) {
                    values.insert(value.to_owned());
                }
            },
        )?;
        Ok(values.into_iter().collect())
    }

    fn series(
        &self,
        tenant: &str,
        start_nanos: i64,
        end_nanos: i64,
        matchers: &[Matcher],
    ) -> Result<Vec<Labels>> {
        let mut series = BTreeSet::new();
        self.scan_labels(
            tenant,
            start_nanos,
            end_nanos,
            matchers,
            &mut |labels, _| {
                series.insert(labels);
            },
        )?;
        Ok(series.into_iter().collect())
    }

    fn stats(
        &self,
        tenant: &str,
        start_nanos: i64,
        end_nanos: i64,
        matchers: &[Matcher],
    ) -> Result<SourceStats> {
        let query = self.selection_query(tenant, start_nanos, end_nanos, matchers, &[]);
        let mut stats = SourceStats::default();
        for split in self.store().splits_overlapping(start_nanos, end_nanos) {
            let searcher = split.searcher();
            let (count, bytes) = searcher
                .search(&query, &(Count, VolumeCollector))
                .map_err(index_error)?;
            if count > 0 {
                stats.chunks += 1;
            }
            stats.entries += count as u64;
            stats.bytes += bytes;
        }
        // Streams are distinct stream label sets, as `series` lists them.
        if stats.entries > 0 {
            stats.streams = self.series(tenant, start_nanos, end_nanos, matchers)?.len() as u64;
        }
        Ok(stats)
    }
}

/// The body-term regexes a substring implies (see the module doc); empty
/// when it implies none that are safe to use.
pub fn substring_patterns(substring: &str) -> Vec<String> {
    if !substring.is_ascii() {
        return Vec::new();
    }
    let tokens = body_tokens(substring);
    let Some(last) = tokens.len().checked_sub(1) else {
        return Vec::new();
    };
    let word = |c: char| c.is_ascii_alphanumeric();
    let open_start = substring.starts_with(word);
    let open_end = substring.ends_with(word);
    tokens
        .iter()
        .enumerate()
        .map(|(i, token)| {
            let before = if i == 0 && open_start { ".*" } else { "" };
            let after = if i == last && open_end { ".*" } else { "" };
            format!("{before}{}{after}", regex_escape(token))
        })
        .collect()
}

fn regex_escape(token: &str) -> String {
    token
        .chars()
        .flat_map(|c| {
            let special = !c.is_ascii_alphanumeric();
            special.then_some('\\').into_iter().chain([c])
        })
        .collect()
}

/// A JSON path segment with its dots escaped.
fn escape_path(segment: &str) -> String {
    segment.replace('\\', "\\\\").replace('.', "\\.")
}

/// The timestamp, offset and address of every matching document.
struct Addresses;

struct SegmentAddresses {
    segment: u32,
    timestamps: Column<i64>,
    offsets: Column<u64>,
    found: Vec<(i64, u64, DocAddress)>,
}

impl Collector for Addresses {
    type Fruit = Vec<(i64, u64, DocAddress)>;
    type Child = SegmentAddresses;

    fn for_segment(
        &self,
        segment: tantivy::SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<SegmentAddresses> {
        Ok(SegmentAddresses {
            segment,
            timestamps: reader.fast_fields().i64(schema::TIMESTAMP_NANOS)?,
            offsets: reader.fast_fields().u64(schema::OFFSET)?,
            found: Vec::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(
        &self,
        fruits: Vec<Vec<(i64, u64, DocAddress)>>,
    ) -> tantivy::Result<Vec<(i64, u64, DocAddress)>> {
        Ok(fruits.into_iter().flatten().collect())
    }
}

impl SegmentCollector for SegmentAddresses {
    type Fruit = Vec<(i64, u64, DocAddress)>;

    fn collect(&mut self, doc: tantivy::DocId, _score: tantivy::Score) {
        let ts = self.timestamps.first(doc).unwrap_or(0);
        let offset = self.offsets.first(doc).unwrap_or(0);
        self.found
            .push((ts, offset, DocAddress::new(self.segment, doc)));
    }

    fn harvest(self) -> Self::Fruit {
        self.found
    }
}

/// Body bytes of the matching documents.
struct VolumeCollector;

struct SegmentVolume {
    body_bytes: Column<u64>,
    bytes: u64,
}

impl Collector for VolumeCollector {
    type Fruit = u64;
    type Child = SegmentVolume;

    fn for_segment(
        &self,
        _segment: tantivy::SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<SegmentVolume> {
        Ok(SegmentVolume {
            body_bytes: reader.fast_fields().u64(schema::BODY_BYTES)?,
            bytes: 0,
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<u64>) -> tantivy::Result<u64> {
        Ok(fruits.into_iter().sum())
    }
}

impl SegmentCollector for SegmentVolume {
    type Fruit = u64;

    fn collect(&mut self, doc: tantivy::DocId, _score: tantivy::Score) {
        self.bytes += self.body_bytes.first(doc).unwrap_or(0);
    }

    fn harvest(self) -> u64 {
        self.bytes
    }
}
