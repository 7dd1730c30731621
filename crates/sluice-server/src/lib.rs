//! The Sluice server: the hub that fans streams out to readers, the RTSP server, built-in sources and the
//! configuration.
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! use std::sync::Arc;
//! let config = Arc::new(sluice_server::config::Config::embedded());
//! sluice_server::run(config).await
//! # }
//! ```
#![warn(missing_docs)]

pub mod config;
pub mod continuity;
pub mod hub;
pub mod rtsp;
pub mod source;

use std::sync::Arc;

use config::{Config, Source};

/// Binds everything the configuration asks for, starts the built-in sources and serves until dropped.
pub async fn run(config: Arc<Config>) -> std::io::Result<()> {
    let hub = hub::Hub::new(config.clone());
    let server = rtsp::Server::bind(config.clone(), hub.clone()).await?;
    for (name, path) in &config.paths {
        match &path.source {
            Source::Demo => {
                let task = source::demo::start(&hub, name).map_err(std::io::Error::other)?;
                tokio::spawn(task);
            }
            Source::Rtsp(url) => {
                tokio::spawn(source::rtsp::run(
                    hub.clone(),
                    name.clone(),
                    url.clone(),
                    path.clone(),
                ));
            }
            Source::Publisher => {}
        }
    }
    server.run().await
}
