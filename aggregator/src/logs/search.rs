//! The native search API over the log index: tantivy's query syntax,
//! newest (or oldest) hits first with a total count, a time histogram,
//! the fields of recent hits with their top values, and a live tail.
//!
//! Every search is restricted to one tenant's documents and a time range;
//! splits whose bucket lies outside the range are never opened.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use tantivy::collector::{Collector, Count, SegmentCollector, TopDocs};
use tantivy::columnar::{Column, StrColumn};
use tantivy::query::{AllQuery, BooleanQuery, Occur, Query, QueryParser, RangeQuery, TermQuery};
use tantivy::schema::IndexRecordOption;
use tantivy::tokenizer::TokenizerManager;
use tantivy::{DocAddress, Order, Searcher, SegmentReader, TantivyDocument, Term};

use crate::error::{AggregatorError, Result};
use crate::logs::document::{LogDocument, label_value};
use crate::logs::schema::{self, Fields};
use crate::logs::source::Direction;
use crate::logs::store::LogStore;
use crate::query::{Deadline, QueryLimits};

/// Histogram buckets one request may ask for.
pub const MAX_HISTOGRAM_BUCKETS: usize = 11_000;
/// Recent hits `/fields` looks at.
pub const FIELDS_SAMPLE: usize = 1_000;
/// Values of one field `/fields` reports.
pub const FIELD_TOP_VALUES: usize = 10;
/// Documents one tail poll returns at most; the rest are reported dropped.
pub const MAX_TAIL_BATCH: usize = 5_000;

/// What to search.
#[derive(Debug, Clone)]
pub struct SearchRequest {
    pub tenant: String,
    /// tantivy query syntax; empty or `*` matches everything.
    pub query: String,
    pub start_nanos: i64,
    pub end_nanos: i64,
    pub limit: usize,
    pub direction: Direction,
}

#[derive(Debug, Clone, Serialize)]
pub struct SearchResponse {
    /// Documents matching in the range (not only those returned).
    pub num_hits: u64,
    pub hits: Vec<LogDocument>,
    pub elapsed_time_micros: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct HistogramBucket {
    /// The bucket's start, milliseconds since the epoch.
    pub timestamp_ms: i64,
    pub count: u64,
    /// Counts by severity text (only when asked to split).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub by_severity: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HistogramResponse {
    pub interval_ms: i64,
    pub total: u64,
    pub buckets: Vec<HistogramBucket>,
    pub elapsed_time_micros: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FieldValue {
    pub value: String,
    pub count: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FieldSummary {
    pub name: String,
    /// Sampled documents that have the field.
    pub count: u64,
    pub top_values: Vec<FieldValue>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FieldsResponse {
    /// The newest matching documents the summary was made from.
    pub sampled_docs: u64,
    pub fields: Vec<FieldSummary>,
}

/// Where a live tail is, per partition: the next offset it has not shown.
pub type TailPosition = BTreeMap<u32, u64>;

/// Searches over a [`LogStore`].
pub struct LogSearch {
    store: Arc<LogStore>,
    fields: Fields,
    parser: QueryParser,
    limits: QueryLimits,
}

impl LogSearch {
    pub fn new(store: Arc<LogStore>, limits: QueryLimits) -> LogSearch {
        let (schema, fields) = schema::schema();
        let tokenizers = TokenizerManager::default();
        tokenizers.register(schema::BODY_TOKENIZER, schema::body_analyzer());
        let mut parser = QueryParser::new(schema, vec![fields.body], tokenizers);
        parser.set_conjunction_by_default();
        LogSearch {
            store,
            fields,
            parser,
            limits,
        }
    }

    pub fn store(&self) -> &Arc<LogStore> {
        &self.store
    }

    pub fn limits(&self) -> &QueryLimits {
        &self.limits
    }

    pub fn fields(&self) -> &Fields {
        &self.fields
    }

    /// Parses tantivy query syntax; empty or `*` is every document.
    pub fn parse(&self, query: &str) -> Result<Box<dyn Query>> {
        let query = query.trim();
        if query.is_empty() || query == "*" {
            return Ok(Box::new(AllQuery));
        }
        self.parser
            .parse_query(query)
            .map_err(|e| AggregatorError::Parse {
                position: 0,
                message: format!("{e:?}"),
            })
    }

    /// `query` restricted to `tenant` and `[start, end)`.
    pub fn scoped(
        &self,
        query: Box<dyn Query>,
        tenant: &str,
        start_nanos: i64,
        end_nanos: i64,
    ) -> BooleanQuery {
        let tenant = TermQuery::new(
            Term::from_field_text(self.fields.tenant, tenant),
            IndexRecordOption::Basic,
        );
        let range = RangeQuery::new(
            Bound::Included(Term::from_field_i64(
                self.fields.timestamp_nanos,
                start_nanos,
            )),
            Bound::Excluded(Term::from_field_i64(self.fields.timestamp_nanos, end_nanos)),
        );
        BooleanQuery::new(vec![
            (Occur::Must, query),
            (Occur::Must, Box::new(tenant)),
            (Occur::Must, Box::new(range)),
        ])
    }

    /// The hits of a query, newest first unless asked otherwise.
    pub fn search(&self, request: &SearchRequest) -> Result<SearchResponse> {
        let started = Instant::now();
        let deadline = Deadline::after(self.limits.timeout);
        let limit = self.check_limit(request.limit)?;
        let query = self.scoped(
            self.parse(&request.query)?,
            &request.tenant,
            request.start_nanos,
            request.end_nanos,
        );
        let mut splits = self
            .store
            .splits_overlapping(request.start_nanos, request.end_nanos);
        let backward = request.direction == Direction::Backward;
        if backward {
            splits.reverse();
        }
        let order = if backward { Order::Desc } else { Order::Asc };
        // One searcher per split for the whole request: addresses are only
        // valid in the searcher that found them.
        let searchers: Vec<Searcher> = splits.iter().map(|s| s.searcher()).collect();
        let mut num_hits = 0u64;
        // (timestamp, split index, address), best first once sorted.
        let mut best: Vec<(i64, usize, DocAddress)> = Vec::new();
        for (i, split) in splits.iter().enumerate() {
            deadline.check()?;
            let searcher = &searchers[i];
            let full = best.len() >= limit;
            let beyond = full
                && best.last().is_some_and(|(ts, _, _)| {
                    if backward {
                        *ts >= split.end_nanos
                    } else {
                        *ts < split.start_nanos
                    }
                });
            if beyond || limit == 0 {
                num_hits += searcher.search(&query, &Count).map_err(index_error)? as u64;
                continue;
            }
            let top = TopDocs::with_limit(limit)
                .order_by_fast_field::<i64>(schema::TIMESTAMP_NANOS, order);
            let (top, count) = searcher
                .search(&query, &(top, Count))
                .map_err(index_error)?;
            num_hits += count as u64;
            best.extend(top.into_iter().map(|(ts, addr)| (ts.unwrap_or(0), i, addr)));
            if backward {
                best.sort_by_key(|b| std::cmp::Reverse(b.0));
            } else {
                best.sort_by_key(|b| b.0);
            }
            best.truncate(limit);
        }
        let mut hits = Vec::with_capacity(best.len());
        for (_, i, addr) in best {
            hits.push(self.load(&searchers[i], addr)?);
        }
        Ok(SearchResponse {
            num_hits,
            hits,
            elapsed_time_micros: started.elapsed().as_micros() as u64,
        })
    }

    /// Counts per `interval` over `[start, end)`, optionally by severity.
    pub fn histogram(
        &self,
        tenant: &str,
        query: &str,
        start_nanos: i64,
        end_nanos: i64,
        interval_nanos: i64,
        by_severity: bool,
    ) -> Result<HistogramResponse> {
        let started = Instant::now();
        let deadline = Deadline::after(self.limits.timeout);
        if interval_nanos <= 0 {
            return Err(AggregatorError::BadRequest(
                "interval: must be more than 0".into(),
            ));
        }
        if end_nanos <= start_nanos {
            return Err(AggregatorError::BadRequest(
                "end: must be after start".into(),
            ));
        }
        // Buckets are aligned to multiples of the interval.
        let first = start_nanos - start_nanos.rem_euclid(interval_nanos);
        let buckets = ((end_nanos - first - 1) / interval_nanos + 1) as usize;
        if buckets > MAX_HISTOGRAM_BUCKETS {
            return Err(AggregatorError::TooMany {
                what: "histogram buckets",
                limit: MAX_HISTOGRAM_BUCKETS,
            });
        }
        let query = self.scoped(self.parse(query)?, tenant, start_nanos, end_nanos);
        let collector = TimeHistogram {
            first,
            interval: interval_nanos,
            buckets,
            by_severity,
        };
        let mut totals: BTreeMap<String, Vec<u64>> = BTreeMap::new();
        for split in self.store.splits_overlapping(start_nanos, end_nanos) {
            deadline.check()?;
            let counts = split
                .searcher()
                .search(&query, &collector)
                .map_err(index_error)?;
            for (severity, counts) in counts {
                let total = totals.entry(severity).or_insert_with(|| vec![0; buckets]);
                for (t, c) in total.iter_mut().zip(counts) {
                    *t += c;
                }
            }
        }
        let mut out: Vec<HistogramBucket> = (0..buckets)
            .map(|i| HistogramBucket {
                timestamp_ms: (first + i as i64 * interval_nanos).div_euclid(1_000_000),
                count: 0,
                by_severity: BTreeMap::new(),
            })
            .collect();
        let mut total = 0;
        for (severity, counts) in totals {
            for (bucket, count) in out.iter_mut().zip(counts) {
                bucket.count += count;
                total += count;
                if by_severity && count > 0 {
                    *bucket.by_severity.entry(severity.clone()).or_default() += count;
                }
            }
        }
        Ok(HistogramResponse {
            interval_ms: interval_nanos / 1_000_000,
            total,
            buckets: out,
            elapsed_time_micros: started.elapsed().as_micros() as u64,
        })
    }

    /// Field names of the newest matching documents with their top values.
    pub fn field_summary(
        &self,
        tenant: &str,
        query: &str,
        start_nanos: i64,
        end_nanos: i64,
    ) -> Result<FieldsResponse> {
        let sample = self.search(&SearchRequest {
            tenant: tenant.to_owned(),
            query: query.to_owned(),
            start_nanos,
            end_nanos,
            limit: FIELDS_SAMPLE,
            direction: Direction::Backward,
        })?;
        let mut counts: BTreeMap<String, (u64, HashMap<String, u64>)> = BTreeMap::new();
        let mut add = |name: String, value: String| {
            let (docs, values) = counts.entry(name).or_default();
            *docs += 1;
            *values.entry(value).or_default() += 1;
        };
        for doc in &sample.hits {
            add(schema::SERVICE_NAME.to_owned(), doc.service_name.clone());
            add(schema::SEVERITY_TEXT.to_owned(), doc.severity_text.clone());
            add(schema::SCOPE_NAME.to_owned(), doc.scope_name.clone());
            for (key, value) in &doc.attributes {
                add(format!("{}.{key}", schema::ATTRIBUTES), label_value(value));
            }
            for (key, value) in &doc.resource_attributes {
                add(
                    format!("{}.{key}", schema::RESOURCE_ATTRIBUTES),
                    label_value(value),
                );
            }
        }
        let fields = counts
            .into_iter()
            .map(|(name, (count, values))| {
                let mut values: Vec<FieldValue> = values
                    .into_iter()
                    .map(|(value, count)| FieldValue { value, count })
                    .collect();
                values.sort_by(|a, b| b.count.cmp(&a.count).then(a.value.cmp(&b.value)));
                values.truncate(FIELD_TOP_VALUES);
                FieldSummary {
                    name,
                    count,
                    top_values: values,
                }
            })
            .collect();
        Ok(FieldsResponse {
            sampled_docs: sample.hits.len() as u64,
            fields,
        })
    }

    /// Where a tail starting now begins: after everything searchable.
    pub fn tail_start(&self) -> TailPosition {
        self.store.searchable_offsets()
    }

    /// The documents matching `query` indexed since `position`, oldest
    /// first, and how many more there were than [`MAX_TAIL_BATCH`];
    /// advances `position` to the partitions' searchable offsets (see
    /// `store.rs`), never to a split's own payload: a split committed ahead
    /// of the others (evicted, or first in a round) would move a tail past
    /// documents still uncommitted in them.
    pub fn tail(
        &self,
        tenant: &str,
        query: &str,
        position: &mut TailPosition,
    ) -> Result<(Vec<LogDocument>, u64)> {
        let parsed = self.parse(query)?;
        let mut found: Vec<(u64, i64, usize, DocAddress)> = Vec::new();
        let mut dropped = 0u64;
        // Read before taking searchers: documents below it were visible
        // before it moved.
        let searchable = self.store.searchable_offsets();
        let splits = self.store.all_splits();
        let searchers: Vec<Searcher> = splits.iter().map(|s| s.searcher()).collect();
        for (i, split) in splits.iter().enumerate() {
            let from = position.get(&split.id.partition).copied().unwrap_or(0);
            let through = searchable.get(&split.id.partition).copied().unwrap_or(0);
            if through <= from {
                continue;
            }
            let offsets = RangeQuery::new(
                Bound::Included(Term::from_field_u64(self.fields.offset, from)),
                Bound::Excluded(Term::from_field_u64(self.fields.offset, through)),
            );
            let query = BooleanQuery::new(vec![
                (Occur::Must, parsed.box_clone()),
                (Occur::Must, Box::new(offsets)),
                (
                    Occur::Must,
                    Box::new(TermQuery::new(
                        Term::from_field_text(self.fields.tenant, tenant),
                        IndexRecordOption::Basic,
                    )),
                ),
            ]);
            let top = TopDocs::with_limit(MAX_TAIL_BATCH)
                .order_by_fast_field::<u64>(schema::OFFSET, Order::Asc);
            let (top, count) = searchers[i]
                .search(&query, &(top, Count))
                .map_err(index_error)?;
            dropped += (count - top.len()) as u64;
            for (offset, addr) in top {
                found.push((offset.unwrap_or(0), 0, i, addr));
            }
        }
        if found.len() > MAX_TAIL_BATCH {
            dropped += (found.len() - MAX_TAIL_BATCH) as u64;
            found.sort_by_key(|f| f.0);
            found.truncate(MAX_TAIL_BATCH);
        }
        let mut docs = Vec::with_capacity(found.len());
        for (_, _, i, addr) in found {
            docs.push(self.load(&searchers[i], addr)?);
        }
        docs.sort_by_key(|d| (d.timestamp_nanos, d.offset));
        for (partition, through) in searchable {
            let next = position.entry(partition).or_default();
            *next = (*next).max(through);
        }
        Ok((docs, dropped))
    }

    fn check_limit(&self, limit: usize) -> Result<usize> {
        if limit > self.limits.max_hits {
            return Err(AggregatorError::TooMany {
                what: "hits",
                limit: self.limits.max_hits,
            });
        }
        Ok(limit)
    }

    /// One stored document.
    pub fn load(&self, searcher: &Searcher, addr: DocAddress) -> Result<LogDocument> {
        let doc: TantivyDocument = searcher.doc(addr).map_err(index_error)?;
        Ok(LogDocument::from_stored(&doc, &self.fields))
    }
}

pub(crate) fn index_error(e: tantivy::TantivyError) -> AggregatorError {
    AggregatorError::index("search the log index", e)
}

/// Counts matching documents per time bucket (and severity text).
struct TimeHistogram {
    first: i64,
    interval: i64,
    buckets: usize,
    by_severity: bool,
}

struct TimeHistogramSegment {
    first: i64,
    interval: i64,
    timestamps: Column<i64>,
    severity: Option<StrColumn>,
    /// Counts, one row of `buckets` per severity ordinal and a last row
    /// for documents without one (the only row without a split): a flat
    /// array, so counting a document is two column reads and an add.
    counts: Vec<u64>,
    buckets: usize,
    /// Scratch for a block of timestamps.
    block: Vec<Option<i64>>,
}

impl TimeHistogramSegment {
    fn count(&mut self, doc: tantivy::DocId, ts: Option<i64>) {
        let Some(ts) = ts else {
            return;
        };
        let bucket = (ts - self.first).div_euclid(self.interval);
        if bucket < 0 || bucket as usize >= self.buckets {
            return;
        }
        let rows = self.counts.len() / self.buckets;
        let row = self
            .severity
            .as_ref()
            .and_then(|c| c.ords().first(doc))
            .map_or(rows - 1, |ord| ord as usize);
        self.counts[row * self.buckets + bucket as usize] += 1;
    }
}

impl Collector for TimeHistogram {
    type Fruit = BTreeMap<String, Vec<u64>>;
    type Child = TimeHistogramSegment;

    fn for_segment(
        &self,
        _segment: tantivy::SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<TimeHistogramSegment> {
        let fast = reader.fast_fields();
        let severity = if self.by_severity {
            fast.str(schema::SEVERITY_TEXT)?
        } else {
            None
        };
        let rows = severity.as_ref().map_or(0, |c| c.dictionary().num_terms()) + 1;
        Ok(TimeHistogramSegment {
            first: self.first,
            interval: self.interval,
            timestamps: fast.i64(schema::TIMESTAMP_NANOS)?,
            severity,
            counts: vec![0; rows * self.buckets],
            buckets: self.buckets,
            block: Vec::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(
        &self,
        fruits: Vec<BTreeMap<String, Vec<u64>>>,
    ) -> tantivy::Result<BTreeMap<String, Vec<u64>>> {
        let mut merged: BTreeMap<String, Vec<u64>> = BTreeMap::new();
        for fruit in fruits {
            for (key, counts) in fruit {
                let total = merged.entry(key).or_insert_with(|| vec![0; self.buckets]);
                for (t, c) in total.iter_mut().zip(counts) {
                    *t += c;
                }
            }
        }
        Ok(merged)
    }
}

impl SegmentCollector for TimeHistogramSegment {
    type Fruit = BTreeMap<String, Vec<u64>>;

    fn collect(&mut self, doc: tantivy::DocId, _score: tantivy::Score) {
        let ts = self.timestamps.first(doc);
        self.count(doc, ts);
    }

    fn collect_block(&mut self, docs: &[tantivy::DocId]) {
        let mut block = std::mem::take(&mut self.block);
        block.clear();
        block.resize(docs.len(), None);
        self.timestamps.first_vals(docs, &mut block);
        for (doc, ts) in docs.iter().zip(&block) {
            self.count(*doc, *ts);
        }
        self.block = block;
    }

    fn harvest(self) -> BTreeMap<String, Vec<u64>> {
        let mut fruit: BTreeMap<String, Vec<u64>> = BTreeMap::new();
        let rows = self.counts.len() / self.buckets;
        for (row, counts) in self.counts.chunks(self.buckets).enumerate() {
            if counts.iter().all(|c| *c == 0) {
                continue;
            }
            let mut name = String::new();
            if let (Some(column), true) = (&self.severity, row + 1 < rows) {
                let _ = column.ord_to_str(row as u64, &mut name);
            }
            let total = fruit.entry(name).or_insert_with(|| vec![0; self.buckets]);
            for (t, c) in total.iter_mut().zip(counts) {
                *t += c;
            }
        }
        fruit
    }
}
