//! Sources that live inside the server (camera pulling comes later).

pub mod demo;
