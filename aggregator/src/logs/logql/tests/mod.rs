//! LogQL tests.
