//! A small HTTP/1.1 server for the demo: one thread per connection, `Connection: close`,
//! GET and POST only, bounded request sizes. Enough to serve a page, a package and a JSON
//! API on loopback; not a general web server.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

/// Longest request head (request line and headers).
const MAX_HEAD: usize = 16 * 1024;
/// Longest request body.
const MAX_BODY: usize = 1024 * 1024;

/// A parsed request.
pub struct Request {
    /// `GET`, `POST`, …
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The query string (after `?`), if any.
    pub query: String,
    /// The body.
    pub body: Vec<u8>,
}

impl Request {
    /// The value of `key` in the query string (no percent-decoding: values are numbers).
    pub fn query_param(&self, key: &str) -> Option<&str> {
        self.query.split('&').find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
    }
}

/// A response.
pub struct Response {
    /// Status code.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: &'static str,
    /// Body.
    pub body: Vec<u8>,
}

impl Response {
    /// 200 with a body.
    pub fn ok(content_type: &'static str, body: impl Into<Vec<u8>>) -> Response {
        Response { status: 200, content_type, body: body.into() }
    }

    /// A JSON body with a status.
    pub fn json(status: u16, value: &serde_json::Value) -> Response {
        Response { status, content_type: "application/json", body: value.to_string().into_bytes() }
    }

    /// A plain-text error.
    pub fn error(status: u16, message: &str) -> Response {
        Response { status, content_type: "text/plain; charset=utf-8", body: message.as_bytes().to_vec() }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Payload Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "",
    }
}

fn read_request(stream: &TcpStream) -> io::Result<Option<Request>> {
    let mut r = BufReader::new(stream.take((MAX_HEAD + MAX_BODY) as u64));
    let mut head = Vec::new();
    let mut content_length = 0usize;
    let mut first = String::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        head.extend_from_slice(line.as_bytes());
        if head.len() > MAX_HEAD {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "request head too large"));
        }
        let line = line.trim_end();
        if first.is_empty() {
            first = line.to_string();
            continue;
        }
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            content_length = v.trim().parse().map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad length"))?;
        }
    }
    if content_length > MAX_BODY {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "body too large"));
    }
    let mut parts = first.split(' ');
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "bad request line"));
    };
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut body = vec![0u8; content_length];
    r.read_exact(&mut body)?;
    Ok(Some(Request { method: method.to_string(), path: path.to_string(), query: query.to_string(), body }))
}

fn write_response(mut stream: &TcpStream, res: &Response) -> io::Result<()> {
    let head = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
        res.status,
        reason(res.status),
        res.content_type,
        res.body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(&res.body)?;
    stream.flush()
}

/// Serves `listener` forever, answering each request with `handler`.
pub fn serve(listener: TcpListener, handler: Arc<dyn Fn(&Request) -> Response + Send + Sync>) {
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let handler = handler.clone();
        std::thread::spawn(move || {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
            let res = match read_request(&stream) {
                Ok(Some(req)) => handler(&req),
                Ok(None) => return,
                Err(e) => Response::error(400, &e.to_string()),
            };
            let _ = write_response(&stream, &res);
        });
    }
}

/// The `Content-Type` of a file name.
pub fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next().unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "wasm" => "application/wasm",
        "svg" => "image/svg+xml",
        "md" | "ts" | "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}
