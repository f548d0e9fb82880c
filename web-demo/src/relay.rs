//! A local iroh relay server (the `iroh-relay` crate's server, plain HTTP on loopback): the
//! page's iroh endpoint and the native peer's meet through it, as they would through a
//! public relay on the internet.

use std::net::{Ipv4Addr, SocketAddr};

use iroh_relay::server::{RelayConfig, Server, ServerConfig};

/// A running relay and the runtime it runs on.
pub struct Relay {
    server: Server,
    runtime: tokio::runtime::Runtime,
}

impl Relay {
    /// Starts a relay on `127.0.0.1:port` (0: any free port).
    pub fn start(port: u16) -> Result<Relay, Box<dyn std::error::Error>> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("demo-relay")
            .enable_all()
            .build()?;
        let server = runtime.block_on(async {
            let mut config = ServerConfig::default();
            config.relay = Some(RelayConfig::new(SocketAddr::from((Ipv4Addr::LOCALHOST, port))));
            Server::spawn(config).await
        })?;
        Ok(Relay { server, runtime })
    }

    /// The relay's URL, e.g. `http://127.0.0.1:3340`.
    pub fn url(&self) -> String {
        match self.server.http_addr() {
            Some(a) => format!("http://{a}"),
            None => String::new(),
        }
    }

    /// Stops the relay.
    pub fn stop(self) {
        let Relay { server, runtime } = self;
        runtime.block_on(async {
            let _ = server.shutdown().await;
        });
    }
}
