//! A minimal HTTP/1.1 client connection: just what Engine.IO long-polling needs.
//!
//! Written on a plain [`TcpStream`] rather than pulling in an HTTP client crate: the requests are
//! two fixed shapes (GET without a body, POST with a text body), answers are small, and a swarm of
//! thousands of clients wants two sockets and two small buffers per client, nothing more. One
//! [`HttpConn`] is kept alive across requests and reopened when the server has closed it.
//! engineioxide answers with `Content-Length`; chunked and close-delimited bodies are read too.

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::config::Endpoint;
use crate::error::{ClientError, protocol};

/// Response heads larger than this are refused; engineioxide's are about 150 bytes.
const MAX_HEAD: usize = 16 * 1024;

/// How much the read buffer grows per read; small because poll answers usually are.
const READ_CHUNK: usize = 4 * 1024;

/// Request buffers larger than this are freed after use rather than kept for the next request.
pub(crate) const KEEP_CAPACITY: usize = 64 * 1024;

/// A response: status code and the whole body.
#[derive(Debug)]
pub(crate) struct Response {
    pub status: u16,
    pub body: Bytes,
}

/// One keep-alive HTTP/1.1 connection to the server; requests on it are strictly sequential.
pub(crate) struct HttpConn {
    host: String,
    port: u16,
    local_ip: Option<std::net::IpAddr>,
    authority: String,
    stream: Option<TcpStream>,
    /// Whether the request in flight went out on a connection that had served one before.
    reused: bool,
    /// Bytes read but not consumed yet.
    buf: BytesMut,
    /// The request being written, kept to reuse its allocation.
    request: Vec<u8>,
}

impl HttpConn {
    /// A connection to `endpoint`; the socket is opened by the first request.
    pub(crate) fn new(endpoint: &Endpoint) -> Self {
        Self {
            host: endpoint.host.clone(),
            port: endpoint.port,
            local_ip: endpoint.local_ip,
            authority: endpoint.authority.clone(),
            stream: None,
            reused: false,
            buf: BytesMut::new(),
            request: Vec::new(),
        }
    }

    /// Sends a request and reads its answer.
    pub(crate) async fn request(
        &mut self,
        method: &str,
        target: &str,
        body: &[u8],
    ) -> Result<Response, ClientError> {
        self.send(method, target, body).await?;
        self.receive(method, target, body).await
    }

    /// Writes a request without waiting for the answer; [`HttpConn::receive`] reads it later
    /// (the long poll sends its next GET as soon as the previous one is answered).
    pub(crate) async fn send(
        &mut self,
        method: &str,
        target: &str,
        body: &[u8],
    ) -> Result<(), ClientError> {
        self.request.clear();
        self.request.extend_from_slice(method.as_bytes());
        self.request.push(b' ');
        self.request.extend_from_slice(target.as_bytes());
        self.request.extend_from_slice(b" HTTP/1.1\r\nHost: ");
        self.request.extend_from_slice(self.authority.as_bytes());
        if method == "POST" {
            self.request.extend_from_slice(
                format!(
                    "\r\nContent-Type: text/plain;charset=UTF-8\r\nContent-Length: {}",
                    body.len()
                )
                .as_bytes(),
            );
        }
        self.request.extend_from_slice(b"\r\n\r\n");
        self.request.extend_from_slice(body);
        let mut request = std::mem::take(&mut self.request);
        let result = self.write_request(&request).await;
        // Keep the allocation for the usual small requests, not after a rare big upload: a
        // swarm holds thousands of these.
        if request.capacity() > KEEP_CAPACITY {
            request = Vec::new();
        }
        self.request = request;
        result
    }

    async fn write_request(&mut self, request: &[u8]) -> Result<(), ClientError> {
        let first = self.ready_stream().await?.write_all(request).await;
        let result = match first {
            // The server closed the idle connection under us; it has not seen the request.
            Err(_) if self.reused => {
                self.stream = None;
                self.ready_stream().await?.write_all(request).await
            }
            other => other,
        };
        if result.is_err() {
            self.stream = None;
        }
        Ok(result?)
    }

    /// Reads the answer to the request sent last. If a reused connection was closed before any
    /// byte of the answer came, the server never saw the request (its keep-alive timeout won the
    /// race), so it is sent once more on a new connection, as browsers do.
    pub(crate) async fn receive(
        &mut self,
        method: &str,
        target: &str,
        body: &[u8],
    ) -> Result<Response, ClientError> {
        match self.read_response().await {
            Err(ReadError::ClosedBeforeAnswer) if self.reused => {
                self.stream = None;
                self.send(method, target, body).await?;
                self.read_response().await.map_err(ReadError::into_client)
            }
            other => other.map_err(ReadError::into_client),
        }
    }

    /// The open stream, after checking that the server has not closed it while idle.
    async fn ready_stream(&mut self) -> Result<&mut TcpStream, ClientError> {
        let usable = match &self.stream {
            Some(stream) => self.buf.is_empty() && !peer_closed(stream),
            None => false,
        };
        self.reused = usable;
        if !usable {
            self.buf.clear();
            let stream = crate::config::open_tcp(&self.host, self.port, self.local_ip).await?;
            stream.set_nodelay(true)?;
            self.stream = Some(stream);
        }
        self.stream
            .as_mut()
            .ok_or_else(|| protocol("HTTP connection missing right after opening it"))
    }

    async fn read_response(&mut self) -> Result<Response, ReadError> {
        let mut answered = false;
        loop {
            let head_end = loop {
                if let Some(i) = find(&self.buf, b"\r\n\r\n") {
                    break i + 4;
                }
                if self.buf.len() > MAX_HEAD {
                    return Err(ReadError::Fatal(protocol("HTTP response head too large")));
                }
                match self.fill().await {
                    Ok(n) if n > 0 => answered = true,
                    // A FIN, or a reset when our request met the already closed socket.
                    Ok(_) | Err(ReadError::Reset(_)) if !answered => {
                        return Err(ReadError::ClosedBeforeAnswer);
                    }
                    Ok(_) => {
                        return Err(ReadError::Fatal(protocol(
                            "connection closed inside an HTTP head",
                        )));
                    }
                    Err(err) => return Err(err),
                }
            };
            let head = Head::parse(&self.buf[..head_end]).map_err(ReadError::Fatal)?;
            self.buf.advance(head_end);
            // Interim answers (100 Continue) precede the real one; we never ask for them.
            if (100..200).contains(&head.status) {
                continue;
            }
            let body = match head.framing {
                Framing::Length(n) => self.read_exact_body(n).await?,
                Framing::Chunked => self.read_chunked().await?,
                Framing::UntilClose => {
                    while self.fill().await? > 0 {}
                    self.buf.split().freeze()
                }
            };
            if head.close || head.framing == Framing::UntilClose {
                self.stream = None;
                self.buf.clear();
            }
            return Ok(Response {
                status: head.status,
                body,
            });
        }
    }

    /// Reads more bytes into the buffer; 0 at end of stream.
    async fn fill(&mut self) -> Result<usize, ReadError> {
        let stream = self.stream.as_mut().ok_or(ReadError::ClosedBeforeAnswer)?;
        self.buf.reserve(READ_CHUNK);
        stream.read_buf(&mut self.buf).await.map_err(|e| {
            use std::io::ErrorKind::{BrokenPipe, ConnectionAborted, ConnectionReset};
            match e.kind() {
                ConnectionReset | ConnectionAborted | BrokenPipe => ReadError::Reset(e),
                _ => ReadError::Fatal(e.into()),
            }
        })
    }

    async fn read_exact_body(&mut self, n: usize) -> Result<Bytes, ReadError> {
        if self.buf.len() < n {
            self.buf.reserve(n - self.buf.len());
        }
        while self.buf.len() < n {
            if self.fill().await? == 0 {
                return Err(ReadError::Fatal(protocol(
                    "connection closed inside an HTTP body",
                )));
            }
        }
        Ok(self.buf.split_to(n).freeze())
    }

    async fn read_chunked(&mut self) -> Result<Bytes, ReadError> {
        let mut body = BytesMut::new();
        loop {
            let line = self.read_line().await?;
            let size = line.split(';').next().unwrap_or_default().trim();
            let size = usize::from_str_radix(size, 16)
                .map_err(|_| ReadError::Fatal(protocol("bad HTTP chunk size")))?;
            if size == 0 {
                // Trailers, if any, end with an empty line.
                while !self.read_line().await?.is_empty() {}
                return Ok(body.freeze());
            }
            let chunk = self.read_exact_body(size + 2).await?;
            if !chunk.ends_with(b"\r\n") {
                return Err(ReadError::Fatal(protocol("HTTP chunk without CRLF")));
            }
            body.extend_from_slice(&chunk[..size]);
        }
    }

    async fn read_line(&mut self) -> Result<String, ReadError> {
        loop {
            if let Some(i) = find(&self.buf, b"\r\n") {
                let line = self.buf.split_to(i + 2);
                return Ok(String::from_utf8_lossy(&line[..i]).into_owned());
            }
            if self.buf.len() > MAX_HEAD {
                return Err(ReadError::Fatal(protocol("HTTP chunk header too long")));
            }
            if self.fill().await? == 0 {
                return Err(ReadError::Fatal(protocol(
                    "connection closed inside a chunk",
                )));
            }
        }
    }
}

enum ReadError {
    /// End of stream before the first byte of the answer.
    ClosedBeforeAnswer,
    /// The peer reset the connection.
    Reset(std::io::Error),
    Fatal(ClientError),
}

impl ReadError {
    fn into_client(self) -> ClientError {
        match self {
            ReadError::ClosedBeforeAnswer => ClientError::Closed,
            ReadError::Reset(err) => err.into(),
            ReadError::Fatal(err) => err,
        }
    }
}

/// True when an idle keep-alive connection can no longer carry a request: the server closed it
/// (read gives 0), reset it, or sent bytes nobody asked for.
fn peer_closed(stream: &TcpStream) -> bool {
    let mut probe = [0u8; 1];
    !matches!(stream.try_read(&mut probe), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[derive(Debug, PartialEq)]
enum Framing {
    Length(usize),
    Chunked,
    UntilClose,
}

#[derive(Debug, PartialEq)]
struct Head {
    status: u16,
    framing: Framing,
    /// The server will close the connection after this answer.
    close: bool,
}

impl Head {
    fn parse(head: &[u8]) -> Result<Self, ClientError> {
        let head = std::str::from_utf8(head).map_err(|_| protocol("HTTP head is not UTF-8"))?;
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let mut parts = status_line.splitn(3, ' ');
        let version = parts.next().unwrap_or_default();
        let status = parts
            .next()
            .and_then(|s| s.parse().ok())
            .filter(|_| version.starts_with("HTTP/1."))
            .ok_or_else(|| protocol(format!("bad HTTP status line {status_line:?}")))?;
        let mut framing = Framing::UntilClose;
        let mut close = version == "HTTP/1.0";
        for line in lines.filter(|l| !l.is_empty()) {
            let (name, value) = line
                .split_once(':')
                .ok_or_else(|| protocol(format!("bad HTTP header line {line:?}")))?;
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") && framing != Framing::Chunked {
                let n = value.parse().map_err(|_| protocol("bad Content-Length"))?;
                framing = Framing::Length(n);
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                // Chunked, when present, is always the last coding and overrides any length.
                if value.to_ascii_lowercase().ends_with("chunked") {
                    framing = Framing::Chunked;
                }
            } else if name.eq_ignore_ascii_case("connection") {
                let value = value.to_ascii_lowercase();
                close = value.contains("close") || (close && !value.contains("keep-alive"));
            }
        }
        // These statuses never carry a body, whatever the headers say.
        if status == 204 || status == 304 {
            framing = Framing::Length(0);
        }
        Ok(Self {
            status,
            framing,
            close,
        })
    }
}

#[cfg(test)]
#[path = "http_tests.rs"]
mod tests;
