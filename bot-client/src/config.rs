//! Connection settings ([`ClientConfig`], [`ParserKind`], [`TransportKind`]) and the URL handling
//! behind them.
//!
//! The URL is parsed by hand (scheme, host, port, optional path prefix) because the client only
//! ever needs those four parts and the workspace has no URL crate.

use std::time::Duration;

use crate::error::ClientError;

/// Which Socket.IO parser the server speaks; both ends must agree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ParserKind {
    /// The default Socket.IO parser: JSON text packets, binary values sent as attachments.
    #[default]
    Common,
    /// `socket.io-msgpack-parser`: every packet is one MessagePack binary frame.
    MsgPack,
}

/// Which Engine.IO transport carries the session.
///
/// There is no upgrade: a client stays on the transport it started with, so a polling client
/// never switches to WebSocket even when the server offers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TransportKind {
    /// One WebSocket for the whole session (`transport=websocket` straight away).
    #[default]
    WebSocket,
    /// HTTP long-polling only: one GET always waiting for server packets, POSTs for ours.
    Polling,
}

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Server address, e.g. `http://127.0.0.1:3000`. `http`, `ws` are accepted (`https`, `wss` are
    /// recognised but rejected with [`ClientError::TlsUnsupported`]). A path in the URL is kept as a
    /// prefix; `/socket.io/` is appended to it.
    pub url: String,
    /// Socket.IO namespace, e.g. `/game`. A missing leading `/` is added.
    pub namespace: String,
    /// Handshake auth object sent with CONNECT, e.g. `{"name":"bot1"}`; `Null` sends none.
    pub auth: serde_json::Value,
    /// Parser to use. Default: [`ParserKind::Common`].
    pub parser: ParserKind,
    /// Transport to use. Default: [`TransportKind::WebSocket`].
    pub transport: TransportKind,
    /// Limit for the whole connect sequence (TCP, WebSocket, Engine.IO open, namespace CONNECT).
    /// Default: 5 s.
    pub connect_timeout: Duration,
    /// Local address to connect from (e.g. `127.0.0.2`), so a load balancer that hashes the
    /// client address spreads loopback test clients over its nodes. Default: the OS picks.
    pub local_ip: Option<std::net::IpAddr>,
}

impl ClientConfig {
    /// A config with the common parser over WebSocket, no auth and a 5 s connect timeout.
    pub fn new(url: impl Into<String>, namespace: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            namespace: namespace.into(),
            auth: serde_json::Value::Null,
            parser: ParserKind::Common,
            transport: TransportKind::WebSocket,
            connect_timeout: Duration::from_secs(5),
            local_ip: None,
        }
    }

    /// Sets the local address to connect from.
    pub fn with_local_ip(mut self, ip: Option<std::net::IpAddr>) -> Self {
        self.local_ip = ip;
        self
    }

    /// Sets the handshake auth object.
    pub fn with_auth(mut self, auth: serde_json::Value) -> Self {
        self.auth = auth;
        self
    }

    /// Sets the parser.
    pub fn with_parser(mut self, parser: ParserKind) -> Self {
        self.parser = parser;
        self
    }

    /// Sets the transport (WebSocket or long-polling; never upgraded).
    pub fn with_transport(mut self, transport: TransportKind) -> Self {
        self.transport = transport;
        self
    }

    /// Sets the connect timeout.
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The namespace in the form used on the wire (always starting with `/`).
    pub(crate) fn wire_namespace(&self) -> String {
        if self.namespace.starts_with('/') {
            self.namespace.clone()
        } else {
            format!("/{}", self.namespace)
        }
    }
}

/// The parts of the configured URL needed to open the socket.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Endpoint {
    /// Host for `TcpStream::connect` (IPv6 without brackets).
    pub host: String,
    pub port: u16,
    /// `host[:port]` as written, for the WebSocket URL and the HTTP `Host` header.
    pub authority: String,
    /// Path prefix without a trailing `/` (usually empty).
    pub(crate) prefix: String,
    /// Local address to connect from, if set.
    pub local_ip: Option<std::net::IpAddr>,
}

impl Endpoint {
    /// Opens a TCP connection to the endpoint, from `local_ip` when set.
    pub(crate) async fn open_tcp(&self) -> std::io::Result<tokio::net::TcpStream> {
        open_tcp(&self.host, self.port, self.local_ip).await
    }
}

/// Opens a TCP connection to `host:port`, from `local` when set.
pub(crate) async fn open_tcp(
    host: &str,
    port: u16,
    local: Option<std::net::IpAddr>,
) -> std::io::Result<tokio::net::TcpStream> {
    let Some(local) = local else {
        return tokio::net::TcpStream::connect((host, port)).await;
    };
    let remote = tokio::net::lookup_host((host, port))
        .await?
        .find(|a| a.is_ipv4() == local.is_ipv4())
        .ok_or_else(|| std::io::Error::other("no server address of the local address's family"))?;
    let socket = if local.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.bind(std::net::SocketAddr::new(local, 0))?;
    socket.connect(remote).await
}

impl Endpoint {
    pub(crate) fn parse(url: &str) -> Result<Self, ClientError> {
        let invalid = |reason| ClientError::InvalidUrl {
            url: url.to_owned(),
            reason,
        };
        let (scheme, rest) = url.split_once("://").ok_or(invalid("missing scheme"))?;
        let default_port = match scheme.to_ascii_lowercase().as_str() {
            "http" | "ws" => 80,
            "https" | "wss" => return Err(ClientError::TlsUnsupported),
            _ => return Err(invalid("scheme must be http or ws")),
        };
        let rest = rest.split(['?', '#']).next().unwrap_or_default();
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6.split_once(']').ok_or(invalid("unclosed '['"))?;
            match after.strip_prefix(':') {
                Some(port) => (host, Some(port)),
                None if after.is_empty() => (host, None),
                None => return Err(invalid("junk after IPv6 address")),
            }
        } else {
            match authority.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(invalid("missing host"));
        }
        let port = match port {
            Some(p) => p.parse().map_err(|_| invalid("bad port"))?,
            None => default_port,
        };
        Ok(Self {
            host: host.to_owned(),
            port,
            authority: authority.to_owned(),
            prefix: path.trim_end_matches('/').to_owned(),
            local_ip: None,
        })
    }

    /// The Engine.IO WebSocket URL (WebSocket straight away, no polling phase).
    pub(crate) fn ws_url(&self) -> String {
        format!(
            "ws://{}{}/socket.io/?EIO=4&transport=websocket",
            self.authority, self.prefix
        )
    }

    /// The request target of a polling request: the handshake without `sid`, later ones with it.
    pub(crate) fn polling_target(&self, sid: Option<&str>) -> String {
        let base = format!("{}/socket.io/?EIO=4&transport=polling", self.prefix);
        match sid {
            // Engine.IO sids are URL-safe base64-like tokens, so no escaping is needed.
            Some(sid) => format!("{base}&sid={sid}"),
            None => base,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_http_url() {
        let e = Endpoint::parse("http://127.0.0.1:3000").expect("valid url");
        assert_eq!((e.host.as_str(), e.port), ("127.0.0.1", 3000));
        assert_eq!(
            e.ws_url(),
            "ws://127.0.0.1:3000/socket.io/?EIO=4&transport=websocket"
        );
    }

    #[test]
    fn builds_polling_targets() {
        let e = Endpoint::parse("http://127.0.0.1:3000/p").expect("valid url");
        assert_eq!(
            e.polling_target(None),
            "/p/socket.io/?EIO=4&transport=polling"
        );
        assert_eq!(
            e.polling_target(Some("abc")),
            "/p/socket.io/?EIO=4&transport=polling&sid=abc"
        );
        assert_eq!(e.authority, "127.0.0.1:3000");
    }

    #[test]
    fn keeps_path_prefix_and_default_port() {
        let e = Endpoint::parse("ws://example.com/prefix/").expect("valid url");
        assert_eq!((e.host.as_str(), e.port), ("example.com", 80));
        assert_eq!(
            e.ws_url(),
            "ws://example.com/prefix/socket.io/?EIO=4&transport=websocket"
        );
    }

    #[test]
    fn handles_ipv6() {
        let e = Endpoint::parse("http://[::1]:8080/").expect("valid url");
        assert_eq!((e.host.as_str(), e.port), ("::1", 8080));
        assert!(e.ws_url().starts_with("ws://[::1]:8080/socket.io/"));
    }

    #[test]
    fn rejects_bad_urls() {
        assert!(matches!(
            Endpoint::parse("wss://x"),
            Err(ClientError::TlsUnsupported)
        ));
        for bad in [
            "127.0.0.1:3000",
            "ftp://x",
            "http://",
            "http://x:port",
            "http://[::1",
        ] {
            assert!(
                matches!(Endpoint::parse(bad), Err(ClientError::InvalidUrl { .. })),
                "{bad} should be rejected"
            );
        }
    }

    #[test]
    fn namespace_gets_leading_slash() {
        assert_eq!(
            ClientConfig::new("http://x", "game").wire_namespace(),
            "/game"
        );
        assert_eq!(
            ClientConfig::new("http://x", "/game").wire_namespace(),
            "/game"
        );
        assert_eq!(ClientConfig::new("http://x", "").wire_namespace(), "/");
    }
}
