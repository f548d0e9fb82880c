//! The TCP connections of the Tor client: Nagle's algorithm off, acknowledgements at once.
//!
//! arti (0.47) opens its channels to relays with the operating system's defaults and has no
//! option to change them; C tor relays (0.4.9) set no TCP option either. Two defaults meet
//! badly on a channel that carries small TLS records (a live append is one or a few cells):
//! with Nagle's algorithm on, a record written while an earlier one is unacknowledged waits
//! for that acknowledgement, and the receiver holds back its acknowledgement (Linux's delayed
//! ACK, 40 ms) when it has nothing to send back. [`NoDelayTcp`], the TCP provider of the
//! store's Tor client, sets `TCP_NODELAY` on every connection (our records go out at once)
//! and `TCP_QUICKACK` after every read (the relay's records, which its Nagle holds back until
//! we acknowledge, are acknowledged at once). Tor's cells are already packed into records, so
//! Nagle only adds waiting; a quick ACK costs a small packet.
//!
//! Measured on a private Tor network on loopback (`docs/benchmarks.md`, "Network sync over
//! Tor"): 25.6 MB crossed a raw Tor stream in 7.5–8.1 s with the defaults, 5.0–5.3 s with this
//! provider. A live append took ≈ 50 ms with the defaults in every run; with the provider,
//! 6–10 ms in some runs and still ≈ 50 ms in others: the hops between C tor relays keep
//! Nagle on, and a stall there is beyond a client's reach.

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use futures_io::{AsyncRead, AsyncWrite};
use tokio::io::{AsyncRead as TokioRead, AsyncWrite as TokioWrite, ReadBuf};
use tor_rtcompat::{NetStreamListener, NetStreamProvider, StreamOps, TcpConnectOptions, TcpListenOptions};

/// The Tor client's TCP provider: connects as tokio does, then turns Nagle's algorithm off.
/// It listens on nothing (a Tor client and its onion services accept no TCP connections).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoDelayTcp;

#[async_trait::async_trait]
impl NetStreamProvider<SocketAddr> for NoDelayTcp {
    type Stream = NoDelayStream;
    type Listener = NoListener;
    type ConnectOptions = TcpConnectOptions;
    type ListenOptions = TcpListenOptions;

    async fn connect(&self, addr: &SocketAddr, options: &TcpConnectOptions) -> io::Result<NoDelayStream> {
        let socket = if addr.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
        let common = options.common();
        if let Some(size) = common.send_buffer_size() {
            socket.set_send_buffer_size(u32::try_from(*size).unwrap_or(u32::MAX))?;
        }
        if let Some(size) = common.recv_buffer_size() {
            socket.set_recv_buffer_size(u32::try_from(*size).unwrap_or(u32::MAX))?;
        }
        let stream = socket.connect(*addr).await?;
        stream.set_nodelay(true)?;
        Ok(NoDelayStream(stream))
    }

    async fn listen(&self, _addr: &SocketAddr, _options: &TcpListenOptions) -> io::Result<NoListener> {
        Err(io::Error::new(io::ErrorKind::Unsupported, "the Tor client of a store listens on no TCP port"))
    }
}

/// A TCP connection of the Tor client (`TCP_NODELAY` set).
#[derive(Debug)]
pub struct NoDelayStream(tokio::net::TcpStream);

impl AsyncRead for NoDelayStream {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let mut read = ReadBuf::new(buf);
        ready!(Pin::new(&mut self.0).poll_read(cx, &mut read))?;
        if !read.filled().is_empty() {
            // Linux leaves quick-ACK mode on its own: ask again after each read. Ignored if
            // it fails (only the acknowledgement's timing depends on it).
            let _ = SocketFd(self.0.as_raw_fd()).set_quickack();
        }
        Poll::Ready(Ok(read.filled().len()))
    }
}

impl AsyncWrite for NoDelayStream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

impl StreamOps for NoDelayStream {
    fn set_tcp_notsent_lowat(&self, notsent_lowat: u32) -> io::Result<()> {
        SocketFd(self.0.as_raw_fd()).set_tcp_notsent_lowat(notsent_lowat)
    }

    fn new_handle(&self) -> Box<dyn StreamOps + Send + Unpin> {
        Box::new(SocketFd(self.0.as_raw_fd()))
    }
}

impl SocketFd {
    /// Acknowledges what arrives at once rather than after the delayed-ACK timer (Linux's
    /// `TCP_QUICKACK`, which the kernel clears again by itself).
    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn set_quickack(self) -> io::Result<()> {
        self.set_int(libc::TCP_QUICKACK, 1)
    }

    /// Elsewhere there is no such option: acknowledgements keep the system's timing.
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    fn set_quickack(self) -> io::Result<()> {
        Ok(())
    }

    /// Sets a TCP-level socket option to an integer.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn set_int(self, option: libc::c_int, value: libc::c_int) -> io::Result<()> {
        // SAFETY: `value` lives across the call and its size is the length passed; a closed
        // descriptor makes the call fail with EBADF, nothing worse.
        let rc = unsafe {
            libc::setsockopt(
                self.0,
                libc::IPPROTO_TCP,
                option,
                (&raw const value).cast(),
                size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
    }
}

/// A handle on a connection's socket for arti's socket options (arti keeps it only while it
/// holds the connection).
#[derive(Clone, Copy, Debug)]
struct SocketFd(RawFd);

impl StreamOps for SocketFd {
    /// `TCP_NOTSENT_LOWAT`, which arti's channel scheduler (KIST) sets.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn set_tcp_notsent_lowat(&self, notsent_lowat: u32) -> io::Result<()> {
        self.set_int(libc::TCP_NOTSENT_LOWAT, libc::c_int::try_from(notsent_lowat).unwrap_or(libc::c_int::MAX))
    }

    fn new_handle(&self) -> Box<dyn StreamOps + Send + Unpin> {
        Box::new(*self)
    }
}

/// The listener [`NoDelayTcp`] never returns.
pub enum NoListener {}

impl NetStreamListener<SocketAddr> for NoListener {
    type Stream = NoDelayStream;
    type Incoming = NoIncoming;

    fn incoming(self) -> Self::Incoming {
        match self {}
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        match *self {}
    }
}

/// The incoming connections of a [`NoListener`]: none.
pub struct NoIncoming;

impl n0_future::Stream for NoIncoming {
    type Item = io::Result<(NoDelayStream, SocketAddr)>;

    fn poll_next(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Poll::Ready(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A connection made by the provider has Nagle's algorithm off and takes arti's socket
    /// option; bytes go through both ways.
    #[test]
    fn connections_have_nodelay_and_carry_bytes() {
        use futures_io::AsyncWrite as _;
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let options = TcpConnectOptions::default();
            let (stream, accepted) = tokio::join!(NoDelayTcp.connect(&addr, &options), listener.accept());
            let (mut stream, (mut server, _)) = (stream.unwrap(), accepted.unwrap());
            assert!(stream.0.nodelay().unwrap(), "TCP_NODELAY is set");
            stream.new_handle().set_tcp_notsent_lowat(1 << 14).unwrap();

            std::future::poll_fn(|cx| Pin::new(&mut stream).poll_write(cx, b"ping")).await.unwrap();
            let mut got = [0u8; 4];
            tokio::io::AsyncReadExt::read_exact(&mut server, &mut got).await.unwrap();
            assert_eq!(&got, b"ping");
            tokio::io::AsyncWriteExt::write_all(&mut server, b"pong").await.unwrap();
            let mut back = [0u8; 4];
            let n = std::future::poll_fn(|cx| Pin::new(&mut stream).poll_read(cx, &mut back)).await.unwrap();
            assert!(n > 0 && back[..n] == b"pong"[..n]);
            assert!(NoDelayTcp.listen(&addr, &TcpListenOptions::default()).await.is_err());
        });
    }
}
