//! The run's requests: a pool of loadgen templates, stamped per request.

use super::*;

/// The run's requests, rendered on demand from a pool of templates.
pub(super) struct Requests {
    pub(super) templates: Vec<Template>,
    /// Per template, where each trace and span id value starts and its length.
    pub(super) ids: Vec<Vec<(usize, usize)>>,
    /// Requests in the run.
    pub(super) count: u64,
    pub(super) batch: u64,
    /// Request `i` is stamped at `first_ns + span_ns * (i + 1) / count`.
    pub(super) first_ns: u64,
    pub(super) span_ns: u64,
}

/// A pool request's index, its template and its stamp positions.
pub(super) type BuiltRequest = (usize, Template, Vec<(usize, usize)>);

impl Requests {
    pub(super) fn build(args: &LogsBenchArgs) -> Result<Requests> {
        let batch = u64::from(args.batch_size);
        let count = args.records.div_ceil(batch).max(1);
        let pool = POOL_REQUESTS.min(count as usize);
        let services = resource::services(SERVICES, &mut Rng::new(args.seed));
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let mut built: Vec<BuiltRequest> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads)
                .map(|t| {
                    let services = &services;
                    scope.spawn(move || {
                        (t..pool)
                            .step_by(threads)
                            .map(|i| {
                                // The seed of request `i` of `weir loadgen`'s pool.
                                let seed =
                                    args.seed ^ (i as u64 + 1).wrapping_mul(0xd6e8_feb8_6659_fd93);
                                let template = logs::request(
                                    services,
                                    i,
                                    batch as usize,
                                    &mut Rng::new(seed),
                                )?;
                                let ids = id_sites(&template)?;
                                Ok((i, template, ids))
                            })
                            .collect::<Result<Vec<_>>>()
                    })
                })
                .collect();
            let mut built = Vec::new();
            for worker in workers {
                built.extend(worker.join().expect("request generator panicked")?);
            }
            Ok::<_, anyhow::Error>(built)
        })?;
        built.sort_by_key(|(i, _, _)| *i);
        let span_ns = args.time_span.as_nanos() as u64;
        let (templates, ids) = built.into_iter().map(|(_, t, ids)| (t, ids)).unzip();
        Ok(Requests {
            templates,
            ids,
            count,
            batch,
            first_ns: crate::loadgen::stamp::unix_nanos().saturating_sub(span_ns),
            span_ns,
        })
    }

    pub(super) fn total_records(&self) -> u64 {
        self.count * self.batch
    }

    pub(super) fn mean_bytes(&self) -> usize {
        self.templates.iter().map(Template::len).sum::<usize>() / self.templates.len()
    }

    /// A range holding every record's timestamp (records are stamped up
    /// to a fraction of a second before their request).
    pub(super) fn time_range(&self) -> (i64, i64) {
        let start = self.first_ns.saturating_sub(60_000_000_000) as i64;
        let end = (self.first_ns + self.span_ns + 60_000_000_000) as i64;
        (start, end)
    }

    /// Request `i` of the run, encoded.
    pub(super) fn render(&self, i: u64) -> Bytes {
        let pool = self.templates.len() as u64;
        let slot = (i % pool) as usize;
        let cycle = i / pool;
        let offset = (u128::from(self.span_ns) * u128::from(i + 1) / u128::from(self.count)) as u64;
        let clock = Clock {
            now_ns: self.first_ns + offset,
            ticks: 0,
        };
        let bytes = self.templates[slot].render(clock);
        if cycle == 0 {
            return bytes;
        }
        let mut bytes = bytes
            .try_into_mut()
            .expect("a fresh rendering has no other owner");
        let mask = splitmix(cycle).to_le_bytes();
        for &(at, len) in &self.ids[slot] {
            for (byte, m) in bytes[at..at + len.min(8)].iter_mut().zip(mask) {
                *byte ^= m;
            }
        }
        bytes.freeze()
    }
}

/// Where the trace and span ids of a template's records lie in its bytes.
/// Records are encoded in order and ids are random, so each is found by a
/// forward scan for its tag, length and value.
pub(super) fn id_sites(template: &Template) -> Result<Vec<(usize, usize)>> {
    let bytes = template.render(Clock {
        now_ns: 0,
        ticks: 0,
    });
    let request = ExportLogsServiceRequest::decode(bytes.clone())?;
    let mut sites = Vec::new();
    let mut cursor = 0;
    let records = request
        .resource_logs
        .iter()
        .flat_map(|r| &r.scope_logs)
        .flat_map(|s| &s.log_records);
    for record in records {
        for (prefix, id) in [
            (TRACE_ID_PREFIX, &record.trace_id),
            (SPAN_ID_PREFIX, &record.span_id),
        ] {
            let needle: Vec<u8> = prefix.iter().chain(id.iter()).copied().collect();
            let Some(found) = bytes[cursor..]
                .windows(needle.len())
                .position(|w| w == needle)
            else {
                bail!("request template: an id was not found at or after byte {cursor}");
            };
            cursor += found + needle.len();
            sites.push((cursor - id.len(), id.len()));
        }
    }
    Ok(sites)
}

/// splitmix64: a distinct, well-mixed id mask per pool cycle.
pub(super) fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
