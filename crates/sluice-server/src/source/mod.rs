//! Sources that live inside the server: the built-in test clip and pulled cameras.

pub mod backoff;
pub mod demo;
pub mod rtsp;
