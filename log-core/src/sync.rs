//! Group commit: a small pool of threads that run `fdatasync` for
//! partitions with waiting appenders.
//!
//! An appender under the `fsync` policy writes its batch, registers a
//! waiter for its end offset, and schedules its partition here unless it is
//! already scheduled. A sync thread takes the partition, captures the end of
//! what has been written, syncs, and releases every waiter at or below it.
//! Appends that arrive while a sync runs share the next one, so the number
//! of syncs per second is bounded by the disk, not by the appenders. A
//! partition is in the queue at most once, so the queue is bounded by the
//! number of partitions, and different partitions sync in parallel.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use crate::partition::Partition;

pub(crate) struct Syncer {
    queue: Mutex<Queue>,
    ready: Condvar,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

struct Queue {
    partitions: VecDeque<Arc<Partition>>,
    stopping: bool,
}

impl Syncer {
    pub fn start(threads: usize) -> Arc<Syncer> {
        let syncer = Arc::new(Syncer {
            queue: Mutex::new(Queue {
                partitions: VecDeque::new(),
                stopping: false,
            }),
            ready: Condvar::new(),
            threads: Mutex::new(Vec::new()),
        });
        let handles = (0..threads)
            .map(|i| {
                let syncer = Arc::clone(&syncer);
                std::thread::Builder::new()
                    .name(format!("log-sync-{i}"))
                    .spawn(move || syncer.run())
                    .expect("spawn log sync thread")
            })
            .collect();
        *syncer.threads.lock().unwrap() = handles;
        syncer
    }

    /// Queues a partition that has waiters. The caller guarantees it is not
    /// queued already (the partition's `scheduled` flag).
    pub fn schedule(&self, partition: Arc<Partition>) {
        self.queue.lock().unwrap().partitions.push_back(partition);
        self.ready.notify_one();
    }

    fn run(&self) {
        loop {
            let partition = {
                let mut queue = self.queue.lock().unwrap();
                loop {
                    if let Some(p) = queue.partitions.pop_front() {
                        break p;
                    }
                    if queue.stopping {
                        return;
                    }
                    queue = self.ready.wait(queue).unwrap();
                }
            };
            if partition.sync_round() {
                self.schedule(partition);
            }
        }
    }

    /// Stops the threads after they drain the queue.
    pub fn stop(&self) {
        self.queue.lock().unwrap().stopping = true;
        self.ready.notify_all();
        for handle in self.threads.lock().unwrap().drain(..) {
            let _ = handle.join();
        }
    }
}
