//! The Xaeroflux web demo in one command: a small HTTP server for the page (and the npm
//! package it imports), a local iroh relay, and a native peer that syncs with every page
//! through the relay.
//!
//! ```text
//! bash scripts/web-demo.sh                 # builds what is missing, then runs this
//! xaeroflux-web-demo --port 8080 --pkg target/npm/xaeroflux-wasm
//! ```
//!
//! Options: `--port N` (default 8080; 0 picks a free port), `--relay-port N` (default 0),
//! `--pkg DIR` (the built npm package; default `target/npm/xaeroflux-wasm`), `--static DIR`
//! (serve the page from a folder instead of the copy built in), `--data DIR` (keep the native
//! peer's store there; default a temporary folder), `--heartbeat SECS` (the native peer
//! appends an event this often; 0 never; default 10), `--preload N` (the native peer appends
//! N events before the page is served: for the sync benchmark).
//!
//! API: `GET /api/config` (space, relay URL, native node id and author),
//! `GET /api/native/events?offset=N&limit=N`, `GET /api/native/feeds`,
//! `POST /api/native/append` (body: the text).

mod http;
mod peer;
mod relay;

use std::net::TcpListener;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use xaeroflux::net::SpaceId;

use http::{Request, Response};

/// The demo's space: every page and the native peer sync in it.
const SPACE_NAME: &str = "xaeroflux web demo";

const INDEX_HTML: &str = include_str!("../static/index.html");
const APP_JS: &str = include_str!("../static/app.js");
const TABS_JS: &str = include_str!("../static/tabs.js");
const NATIVE_JS: &str = include_str!("../static/native.js");
const STYLE_CSS: &str = include_str!("../static/style.css");

struct Options {
    port: u16,
    relay_port: u16,
    pkg: PathBuf,
    static_dir: Option<PathBuf>,
    data: Option<PathBuf>,
    heartbeat: u64,
    preload: u64,
}

fn usage() -> ! {
    eprintln!(
        "usage: xaeroflux-web-demo [--port N] [--relay-port N] [--pkg DIR] [--static DIR] [--data DIR] [--heartbeat SECS] [--preload N]"
    );
    std::process::exit(2)
}

fn parse_args() -> Options {
    let mut o = Options {
        port: 8080,
        relay_port: 0,
        pkg: PathBuf::from("target/npm/xaeroflux-wasm"),
        static_dir: None,
        data: None,
        heartbeat: 10,
        preload: 0,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "--port" => o.port = value().parse().unwrap_or_else(|_| usage()),
            "--relay-port" => o.relay_port = value().parse().unwrap_or_else(|_| usage()),
            "--pkg" => o.pkg = PathBuf::from(value()),
            "--static" => o.static_dir = Some(PathBuf::from(value())),
            "--data" => o.data = Some(PathBuf::from(value())),
            "--heartbeat" => o.heartbeat = value().parse().unwrap_or_else(|_| usage()),
            "--preload" => o.preload = value().parse().unwrap_or_else(|_| usage()),
            "-h" | "--help" => usage(),
            _ => usage(),
        }
    }
    o
}

/// `base/rel` if `rel` stays inside `base` and names a file.
fn file_under(base: &Path, rel: &str) -> Option<PathBuf> {
    let rel = Path::new(rel.trim_start_matches('/'));
    if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
        return None;
    }
    let p = base.join(rel);
    p.is_file().then_some(p)
}

fn static_file(o: &Options, name: &str) -> Option<Response> {
    if let Some(dir) = &o.static_dir {
        let p = file_under(dir, name)?;
        return std::fs::read(&p).ok().map(|b| Response::ok(http::content_type(name), b));
    }
    let body = match name {
        "index.html" => INDEX_HTML,
        "app.js" => APP_JS,
        "tabs.js" => TABS_JS,
        "native.js" => NATIVE_JS,
        "style.css" => STYLE_CSS,
        _ => return None,
    };
    Some(Response::ok(http::content_type(name), body))
}

fn main() {
    let o = parse_args();
    if !o.pkg.join("package.json").is_file() {
        eprintln!("web-demo: no npm package at {} (build it with scripts/build-npm.sh)", o.pkg.display());
        std::process::exit(1);
    }
    let relay = relay::Relay::start(o.relay_port).unwrap_or_else(|e| {
        eprintln!("web-demo: cannot start the iroh relay: {e}");
        std::process::exit(1)
    });
    let relay_url = relay.url();
    let space = SpaceId::from_name(SPACE_NAME);
    let tmp = tempfile::tempdir().unwrap_or_else(|e| {
        eprintln!("web-demo: cannot make a temporary folder: {e}");
        std::process::exit(1)
    });
    let data = o.data.clone().unwrap_or_else(|| tmp.path().join("native-peer"));
    let native = peer::NativePeer::start(&data, &relay_url, space).unwrap_or_else(|e| {
        eprintln!("web-demo: cannot start the native peer: {e}");
        std::process::exit(1)
    });
    if !native.wait_for_relay(space, Duration::from_secs(15)) {
        eprintln!("web-demo: the native peer is not connected to the relay after 15 s; pages may wait");
    }
    if o.preload > 0
        && let Err(e) = native.preload(o.preload)
    {
        eprintln!("web-demo: cannot preload events: {e}");
        std::process::exit(1);
    }
    if o.heartbeat > 0 {
        native.heartbeat(Duration::from_secs(o.heartbeat));
    }
    let listener = TcpListener::bind(("127.0.0.1", o.port)).unwrap_or_else(|e| {
        eprintln!("web-demo: cannot listen on 127.0.0.1:{}: {e}", o.port);
        std::process::exit(1)
    });
    let addr = listener.local_addr().map(|a| a.to_string()).unwrap_or_default();
    let space_hex: String = space.0.iter().map(|b| format!("{b:02x}")).collect();
    println!("Xaeroflux web demo");
    println!("  page:        http://{addr}/   (open it in two tabs)");
    println!("  iroh relay:  {relay_url}");
    println!("  native peer: node {} · author {}", native.node_id(), native.author());
    println!("  space:       \"{SPACE_NAME}\" ({space_hex})");
    println!("  native store: {}", data.display());
    println!("Ctrl-C to stop.");

    let config = json!({
        "space": space_hex,
        "native": { "nodeId": native.node_id(), "relayUrl": relay_url, "author": native.author() },
    });
    let native = Arc::new(native);
    let handler = move |req: &Request| -> Response {
        match (req.method.as_str(), req.path.as_str()) {
            ("GET", "/") => static_file(&o, "index.html").unwrap_or_else(|| Response::error(404, "not found")),
            ("GET", "/api/config") => Response::json(200, &config),
            ("GET", "/api/native/events") => {
                let offset = req.query_param("offset").and_then(|v| v.parse().ok()).unwrap_or(0);
                let limit = req.query_param("limit").and_then(|v| v.parse().ok()).unwrap_or(1000);
                Response::json(200, &native.events(offset, limit))
            }
            ("GET", "/api/native/feeds") => Response::json(200, &native.feeds()),
            ("POST", "/api/native/append") => match std::str::from_utf8(&req.body) {
                Ok(text) if !text.is_empty() => match native.append(text) {
                    Ok(seq) => Response::json(200, &json!({ "seq": seq })),
                    Err(e) => Response::json(500, &json!({ "error": e.to_string() })),
                },
                _ => Response::json(400, &json!({ "error": "the body must be non-empty UTF-8 text" })),
            },
            ("GET", p) if p.starts_with("/pkg/") => match file_under(&o.pkg, &p["/pkg/".len()..]) {
                Some(f) => match std::fs::read(&f) {
                    Ok(b) => Response::ok(http::content_type(p), b),
                    Err(e) => Response::error(500, &e.to_string()),
                },
                None => Response::error(404, "not found"),
            },
            ("GET", p) => static_file(&o, &p[1..]).unwrap_or_else(|| Response::error(404, "not found")),
            _ => Response::error(405, "method not allowed"),
        }
    };
    http::serve(listener, Arc::new(handler));
    relay.stop();
}
