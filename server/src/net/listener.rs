//! Every accepted connection tracked until it is closed, and closed gently.
//!
//! Why: shutdown must not end the process while a connection still has bytes on their way out
//! (`room:closed`, the Engine.IO close), and closing a socket that still holds unread input makes
//! the kernel answer with a reset that throws away what was queued for sending, and makes some
//! clients (Node's) drop what they had received but not read yet when their next write fails.
//! So when a connection's last owner (hyper, or engineioxide's WebSocket writer) drops it, the
//! socket is not closed at once: a task sends FIN after everything queued, reads and discards
//! until the client closes its side (or [`LINGER`] passes), and only then closes. Each
//! connection holds a token of a `TaskTracker` until then, so shutdown can wait, bounded, until
//! every connection has really ended.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio_util::task::task_tracker::TaskTrackerToken;

/// Longest a closed connection waits for the client to close its side.
pub const LINGER: Duration = Duration::from_secs(2);

/// An accepted connection; see the module docs for what dropping it does.
#[derive(Debug)]
pub struct TrackedStream {
    /// Always `Some` until dropped.
    tcp: Option<TcpStream>,
    token: Option<TaskTrackerToken>,
}

impl TrackedStream {
    /// Wraps an accepted connection, which holds `token` until it has closed.
    pub fn new(tcp: TcpStream, token: TaskTrackerToken) -> Self {
        Self {
            tcp: Some(tcp),
            token: Some(token),
        }
    }

    /// Closes the connection at once, without the gentle close: for one that never made a
    /// request (nothing was sent, nothing is owed), so it holds no socket past its timeout.
    /// Takes `&mut self` because its owner (`conn_guard::GuardedStream`) has a `Drop` of its
    /// own and cannot give it away; the stream is not to be used after.
    pub(crate) fn close_now(&mut self) {
        self.tcp = None;
        self.token = None;
    }

    /// The TCP socket (for socket options).
    pub fn tcp(&self) -> &TcpStream {
        self.tcp.as_ref().expect("present until dropped")
    }

    fn pinned(&mut self) -> Pin<&mut TcpStream> {
        Pin::new(self.tcp.as_mut().expect("present until dropped"))
    }
}

impl AsyncRead for TrackedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.pinned().poll_read(cx, buf)
    }
}

impl AsyncWrite for TrackedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.pinned().poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.pinned().poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp().is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.pinned().poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.pinned().poll_shutdown(cx)
    }
}

impl Drop for TrackedStream {
    fn drop(&mut self) {
        let (Some(tcp), Some(token)) = (self.tcp.take(), self.token.take()) else {
            return;
        };
        // Outside a runtime (the process is ending anyway) the socket just closes.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(linger(tcp, token));
        }
    }
}

/// FIN after every queued byte, then read until the client closes (bounded), then close.
async fn linger(mut tcp: TcpStream, token: TaskTrackerToken) {
    let _ = tcp.shutdown().await;
    let mut sink = [0u8; 2048];
    let _ = tokio::time::timeout(LINGER, async {
        while let Ok(n) = tcp.read(&mut sink).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
    drop(tcp);
    drop(token);
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;
    use tokio_util::task::TaskTracker;

    #[tokio::test]
    async fn a_dropped_connection_sends_everything_then_waits_for_the_client() {
        let open = TaskTracker::new();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let mut client = TcpStream::connect(addr).await.expect("connect");
        let (tcp, _) = listener.accept().await.expect("accept");
        let mut server = TrackedStream::new(tcp, open.token());
        // The client has sent something the server never reads: a plain close would reset.
        client
            .write_all(b"unread input")
            .await
            .expect("client writes");
        server
            .write_all(b"last words")
            .await
            .expect("server writes");
        drop(server);
        assert_eq!(
            open.len(),
            1,
            "the connection counts until the client closes"
        );

        let mut got = Vec::new();
        client
            .read_to_end(&mut got)
            .await
            .expect("FIN, not a reset");
        assert_eq!(got, b"last words");
        drop(client);
        open.close();
        tokio::time::timeout(Duration::from_secs(1), open.wait())
            .await
            .expect("the connection ends once the client has closed");
    }
}
