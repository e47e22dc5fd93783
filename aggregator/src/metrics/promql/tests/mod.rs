//! Engine tests over a [`MemorySource`](crate::metrics::memory::MemorySource).
