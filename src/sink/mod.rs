//! Sinks: write record batches into a target database.

pub mod pg_copy;
pub mod postgres;
