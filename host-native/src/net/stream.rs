//! The byte stream one XSP session runs over: a QUIC bidirectional stream of an iroh
//! connection, or any other reliable ordered byte stream (a Tor stream to or from an onion
//! service, with feature `tor`).
//!
//! The two halves are separate values so the session driver can wait on a read and a write
//! at once (both are cancel-safe: a read or write that loses a `select!` consumed nothing).

use std::io;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use iroh::endpoint::{Connection, RecvStream, SendStream, VarInt};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt as _, ReadBuf};

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
        Stream {
            conn: None,
            send: SendHalf::Bytes { w: Box::pin(w), unflushed: false },
            recv: RecvHalf::Bytes { r: Box::pin(r), ended: None },
        }
    }

    /// Resets both directions with `code` (a QUIC stream); drops the other kinds abruptly.
    pub(crate) fn reset(&mut self, code: u32) {
        match &mut self.send {
            SendHalf::Quic(s) => drop(s.reset(VarInt::from_u32(code))),
            SendHalf::Bytes { .. } => self.send = SendHalf::Closed,
            SendHalf::Closed => {}
        }
        self.recv.stop(code);
    }
}

/// The sending half.
pub(crate) enum SendHalf {
    Quic(SendStream),
    /// A byte stream, and whether bytes written to it may wait in its buffer (a Tor stream
    /// packs them into cells) until a flush.
    Bytes {
        w: Pin<Box<dyn AsyncWrite + Send>>,
        unflushed: bool,
    },
    /// Reset: every write fails.
    Closed,
}

impl SendHalf {
    /// Writes some of `buf`; returns how much. Cancel-safe: when it returns, the bytes it
    /// counts were taken, and a cancelled call took none. A byte stream may hold them back
    /// until [`flush`](Self::flush).
    pub(crate) async fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            SendHalf::Quic(s) => s.write(buf).await.map_err(io::Error::other),
            SendHalf::Bytes { w, unflushed } => {
                let n = write_ready(w.as_mut(), buf).await?;
                *unflushed |= n > 0;
                Ok(n)
            }
            SendHalf::Closed => Err(io::ErrorKind::NotConnected.into()),
        }
    }

    /// Whether written bytes may still wait in a byte stream's buffer.
    pub(crate) fn needs_flush(&self) -> bool {
        matches!(self, SendHalf::Bytes { unflushed: true, .. })
    }

    /// Sends what a byte stream holds back. Cancel-safe (the stream keeps a flush it began).
    pub(crate) async fn flush(&mut self) -> io::Result<()> {
        if let SendHalf::Bytes { w, unflushed } = self
            && *unflushed
        {
            w.flush().await?;
            *unflushed = false;
        }
        Ok(())
    }

    /// [`write`](Self::write)s some of `buf`, or [`flush`](Self::flush)es if it is empty
    /// (returning 0). Cancel-safe.
    pub(crate) async fn write_or_flush(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() { self.flush().await.map(|()| 0) } else { self.write(buf).await }
    }

    /// Writes all of `buf`, and flushes it.
    pub(crate) async fn write_all(&mut self, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            let n = self.write(buf).await?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            buf = &buf[n..];
        }
        self.flush().await
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
            SendHalf::Bytes { w, .. } => {
                let _ = tokio::time::timeout(wait, w.shutdown()).await;
            }
            SendHalf::Closed => {}
        }
    }
}

/// Writes as much of `buf` as `w` takes without waiting (a Tor stream takes one cell's worth
/// per call), waiting only while it takes nothing. Cancel-safe, as `poll_write` is.
async fn write_ready(mut w: Pin<&mut (dyn AsyncWrite + Send)>, buf: &[u8]) -> io::Result<usize> {
    std::future::poll_fn(|cx| {
        let mut done = 0;
        while done < buf.len() {
            match w.as_mut().poll_write(cx, &buf[done..]) {
                Poll::Ready(Ok(0)) => break,
                Poll::Ready(Ok(n)) => done += n,
                // The bytes taken are counted first; a failed stream (a Tor stream, closed
                // on its first error) fails the next call again.
                Poll::Ready(Err(_)) | Poll::Pending if done > 0 => break,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(done))
    })
    .await
}

/// The receiving half.
pub(crate) enum RecvHalf {
    Quic(RecvStream),
    /// A byte stream, and what ended it if that came after bytes a read returned.
    Bytes {
        r: Pin<Box<dyn AsyncRead + Send>>,
        ended: Option<io::Result<()>>,
    },
    /// Stopped: reads see the end.
    Closed,
}

impl RecvHalf {
    /// Reads into `buf`: `Some(n)` with `n > 0` bytes, or `None` at the end of the stream.
    /// Cancel-safe.
    pub(crate) async fn read(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        match self {
            RecvHalf::Quic(r) => r.read(buf).await.map_err(io::Error::other),
            RecvHalf::Bytes { r, ended } => {
                // An end met after bytes were returned is reported by the next read; after
                // that, reads see a clean end.
                let end = match ended.take() {
                    Some(end) => end,
                    None => {
                        let (n, end) = read_ready(r.as_mut(), buf).await;
                        if n > 0 {
                            *ended = end;
                            return Ok(Some(n));
                        }
                        end.unwrap_or(Ok(()))
                    }
                };
                *ended = Some(Ok(()));
                end.map(|()| None)
            }
            RecvHalf::Closed => Ok(None),
        }
    }

    /// Tells the peer nothing more will be read (`code`, a QUIC stream).
    pub(crate) fn stop(&mut self, code: u32) {
        match self {
            RecvHalf::Quic(r) => drop(r.stop(VarInt::from_u32(code))),
            RecvHalf::Bytes { .. } => *self = RecvHalf::Closed,
            RecvHalf::Closed => {}
        }
    }
}

/// Reads as much into `buf` as `r` has without waiting (a Tor stream gives one cell's worth
/// per call), waiting only while it has nothing. Returns the bytes read and, if the stream
/// ended or failed on the way, that end (`Some(Ok(()))` for a clean end). Cancel-safe, as
/// `poll_read` is.
async fn read_ready(mut r: Pin<&mut (dyn AsyncRead + Send)>, buf: &mut [u8]) -> (usize, Option<io::Result<()>>) {
    std::future::poll_fn(|cx| {
        let mut done = 0;
        while done < buf.len() {
            let mut rb = ReadBuf::new(&mut buf[done..]);
            match r.as_mut().poll_read(cx, &mut rb) {
                Poll::Ready(Ok(())) if rb.filled().is_empty() => return Poll::Ready((done, Some(Ok(())))),
                Poll::Ready(Ok(())) => done += rb.filled().len(),
                Poll::Ready(Err(e)) => return Poll::Ready((done, Some(Err(e)))),
                Poll::Pending if done > 0 => break,
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready((done, None))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    use std::task::Context;

    /// A writer like a Tor stream: it takes at most `cell` bytes per write into its current
    /// cell, and a flush waits (as one waits for the circuit's window) while `hold` is set.
    struct Cells {
        sent: Arc<Mutex<Vec<u8>>>,
        cell: usize,
        hold: Arc<AtomicBool>,
    }

    impl AsyncWrite for Cells {
        fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
            let n = buf.len().min(self.cell);
            self.sent.lock().unwrap().extend_from_slice(&buf[..n]);
            Poll::Ready(Ok(n))
        }
        fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            if self.hold.load(Ordering::SeqCst) {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            self.poll_flush(cx)
        }
    }

    /// The session driver races its write against reads and timers: a write that loses the
    /// race must have taken nothing, or every byte it took must be counted. (Writing, then
    /// awaiting the flush inside the same call, lost the count of bytes already taken when
    /// the flush lost the race: the bytes went out twice and the peer rejected the session.)
    #[tokio::test]
    async fn a_write_that_loses_a_select_loses_no_bytes() {
        let sent = Arc::new(Mutex::new(Vec::new()));
        let hold = Arc::new(AtomicBool::new(true));
        let cells = Cells { sent: sent.clone(), cell: 7, hold: hold.clone() };
        let mut send = SendHalf::Bytes { w: Box::pin(cells), unflushed: false };
        let data: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
        let mut pos = 0;
        for _ in 0..10_000 {
            if pos == data.len() {
                break;
            }
            tokio::select! {
                biased;
                r = send.write_or_flush(&data[pos..]) => pos += r.unwrap(),
                _ = tokio::task::yield_now() => {}
            }
        }
        assert_eq!(pos, data.len(), "every byte was written");
        assert!(send.needs_flush());
        // A flush that loses the race is taken up again by the next one.
        tokio::select! {
            biased;
            _ = send.write_or_flush(&[]) => panic!("the flush is held"),
            _ = tokio::task::yield_now() => {}
        }
        assert!(send.needs_flush());
        hold.store(false, Ordering::SeqCst);
        assert_eq!(send.write_or_flush(&[]).await.unwrap(), 0);
        assert!(!send.needs_flush());
        assert_eq!(*sent.lock().unwrap(), data, "each byte went out once, in order");
    }

    /// A reader like a Tor stream: `pieces` of bytes, one per read, then `end`.
    struct Pieces {
        pieces: std::collections::VecDeque<Vec<u8>>,
        end: Option<io::ErrorKind>,
    }

    impl AsyncRead for Pieces {
        fn poll_read(mut self: Pin<&mut Self>, _: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
            match self.pieces.pop_front() {
                Some(mut p) => {
                    let n = p.len().min(buf.remaining());
                    buf.put_slice(&p[..n]);
                    if n < p.len() {
                        self.pieces.push_front(p.split_off(n));
                    }
                }
                None => {
                    if let Some(kind) = self.end {
                        return Poll::Ready(Err(kind.into()));
                    }
                }
            }
            Poll::Ready(Ok(()))
        }
    }

    fn reader(pieces: &[&[u8]], end: Option<io::ErrorKind>) -> RecvHalf {
        let pieces = pieces.iter().map(|p| p.to_vec()).collect();
        RecvHalf::Bytes { r: Box::pin(Pieces { pieces, end }), ended: None }
    }

    #[tokio::test]
    async fn a_read_takes_every_ready_piece_and_reports_the_end_after_them() {
        let mut buf = [0u8; 64];
        let mut r = reader(&[b"abc", b"de", b"fgh"], None);
        assert_eq!(r.read(&mut buf).await.unwrap(), Some(8));
        assert_eq!(&buf[..8], b"abcdefgh");
        assert_eq!(r.read(&mut buf).await.unwrap(), None);
        assert_eq!(r.read(&mut buf).await.unwrap(), None, "the end stays the end");

        // A full buffer leaves the rest for the next read.
        let mut small = [0u8; 4];
        let mut r = reader(&[b"abc", b"de"], None);
        assert_eq!(r.read(&mut small).await.unwrap(), Some(4));
        assert_eq!(r.read(&mut small).await.unwrap(), Some(1));
        assert_eq!(&small[..1], b"e");
        assert_eq!(r.read(&mut small).await.unwrap(), None);

        // An error after bytes: the bytes first, then the error, then the end.
        let mut r = reader(&[b"abc"], Some(io::ErrorKind::ConnectionReset));
        assert_eq!(r.read(&mut buf).await.unwrap(), Some(3));
        assert_eq!(r.read(&mut buf).await.unwrap_err().kind(), io::ErrorKind::ConnectionReset);
        assert_eq!(r.read(&mut buf).await.unwrap(), None);
    }
}
