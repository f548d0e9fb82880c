//! The byte stream one XSP session runs over: a QUIC bidirectional stream of an iroh
//! connection, or any other reliable ordered byte stream (a Tor stream to or from an onion
//! service, with feature `tor`).
//!
//! The two halves are separate values so the session driver can wait on a read and a write
//! at once (both are cancel-safe: a read or write that loses a `select!` consumed nothing).

use std::io;
use std::pin::Pin;
use std::time::Duration;

use iroh::endpoint::{Connection, RecvStream, SendStream, VarInt};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};

/// A session's stream: its two halves, and the QUIC connection they belong to, if any.
pub(crate) struct Stream {
    /// The iroh connection (None for a stream of another transport).
    pub(crate) conn: Option<Connection>,
    pub(crate) send: SendHalf,
    pub(crate) recv: RecvHalf,
}

impl Stream {
    /// A QUIC bidirectional stream of `conn`.
    pub(crate) fn quic(conn: Connection, send: SendStream, recv: RecvStream) -> Stream {
        Stream { conn: Some(conn), send: SendHalf::Quic(send), recv: RecvHalf::Quic(recv) }
    }

    /// Any other reliable ordered byte stream, split in its two halves.
    #[cfg_attr(not(feature = "tor"), allow(dead_code))]
    pub(crate) fn bytes<S>(stream: S) -> Stream
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        let (r, w) = tokio::io::split(stream);
        Stream { conn: None, send: SendHalf::Bytes(Box::pin(w)), recv: RecvHalf::Bytes(Box::pin(r)) }
    }

    /// Resets both directions with `code` (a QUIC stream); drops the other kinds abruptly.
    pub(crate) fn reset(&mut self, code: u32) {
        match &mut self.send {
            SendHalf::Quic(s) => drop(s.reset(VarInt::from_u32(code))),
            SendHalf::Bytes(_) => self.send = SendHalf::Closed,
            SendHalf::Closed => {}
        }
        self.recv.stop(code);
    }
}

/// The sending half.
pub(crate) enum SendHalf {
    Quic(SendStream),
    Bytes(Pin<Box<dyn AsyncWrite + Send>>),
    /// Reset: every write fails.
    Closed,
}

impl SendHalf {
    /// Writes some of `buf`; returns how much.
    pub(crate) async fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            SendHalf::Quic(s) => s.write(buf).await.map_err(io::Error::other),
            SendHalf::Bytes(w) => {
                let n = w.write(buf).await?;
                // A byte stream (a Tor stream packs cells) may hold small writes back.
                w.flush().await?;
                Ok(n)
            }
            SendHalf::Closed => Err(io::ErrorKind::NotConnected.into()),
        }
    }

    /// Writes all of `buf`.
    pub(crate) async fn write_all(&mut self, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            let n = self.write(buf).await?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            buf = &buf[n..];
        }
        Ok(())
    }

    /// Ends this direction cleanly, then waits up to `wait` for the peer to have taken
    /// everything (a QUIC stream) or for the end to be sent (other kinds).
    pub(crate) async fn finish(&mut self, wait: Duration) {
        match self {
            SendHalf::Quic(s) => {
                if s.finish().is_ok() {
                    let _ = tokio::time::timeout(wait, s.stopped()).await;
                }
            }
            SendHalf::Bytes(w) => {
                let _ = tokio::time::timeout(wait, w.shutdown()).await;
            }
            SendHalf::Closed => {}
        }
    }
}

/// The receiving half.
pub(crate) enum RecvHalf {
    Quic(RecvStream),
    Bytes(Pin<Box<dyn AsyncRead + Send>>),
    /// Stopped: reads see the end.
    Closed,
}

impl RecvHalf {
    /// Reads into `buf`: `Some(n)` with `n > 0` bytes, or `None` at the end of the stream.
    pub(crate) async fn read(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        match self {
            RecvHalf::Quic(r) => r.read(buf).await.map_err(io::Error::other),
            RecvHalf::Bytes(r) => match r.read(buf).await? {
                0 => Ok(None),
                n => Ok(Some(n)),
            },
            RecvHalf::Closed => Ok(None),
        }
    }

    /// Tells the peer nothing more will be read (`code`, a QUIC stream).
    pub(crate) fn stop(&mut self, code: u32) {
        match self {
            RecvHalf::Quic(r) => drop(r.stop(VarInt::from_u32(code))),
            RecvHalf::Bytes(_) => *self = RecvHalf::Closed,
            RecvHalf::Closed => {}
        }
    }
}
