//! Unit tests of the HTTP/1.1 connection: head parsing, and bodies read from real sockets.

use super::*;

#[test]
fn parses_response_heads() {
    let head =
        Head::parse(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 12\r\n\r\n")
            .expect("valid head");
    assert_eq!(
        head,
        Head {
            status: 200,
            framing: Framing::Length(12),
            close: false
        }
    );
    let head = Head::parse(
        b"HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\nConnection: close\r\n\r\n",
    )
    .expect("valid head");
    assert_eq!(
        (head.status, head.framing, head.close),
        (400, Framing::Chunked, true)
    );
    let head = Head::parse(b"HTTP/1.0 200 OK\r\n\r\n").expect("valid head");
    assert_eq!((head.framing, head.close), (Framing::UntilClose, true));
    for bad in [
        &b"HTTP/1.1 abc OK\r\n\r\n"[..],
        b"SSH-2.0 200\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
    ] {
        assert!(Head::parse(bad).is_err(), "{bad:?}");
    }
}

/// Serves one canned answer per request on a real socket.
async fn serve(answers: Vec<&'static [u8]>) -> Endpoint {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a free port");
    let addr = listener.local_addr().expect("bound address");
    tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await.expect("client connects");
        let mut buf = vec![0u8; 4096];
        for answer in answers {
            let _ = tcp.read(&mut buf).await.expect("request arrives");
            tcp.write_all(answer).await.expect("answer written");
        }
    });
    Endpoint::parse(&format!("http://{addr}")).expect("valid url")
}

#[tokio::test]
async fn reads_length_and_chunked_bodies_on_one_connection() {
    let endpoint = serve(vec![
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n2\x1e3\r\n1;x=y\r\n6\r\n0\r\nTrailer: z\r\n\r\n",
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\nContent-Length: 9\r\n\r\n",
    ])
    .await;
    let mut conn = HttpConn::new(&endpoint);
    let first = conn.request("POST", "/x", b"3").await.expect("answered");
    assert_eq!((first.status, first.body.as_ref()), (200, &b"ok"[..]));
    let second = conn.request("GET", "/x", b"").await.expect("answered");
    assert_eq!(second.body.as_ref(), b"2\x1e36");
    let third = conn.request("GET", "/x", b"").await.expect("answered");
    assert_eq!((third.status, third.body.len()), (204, 0));
}

/// Answers each request on its own connection and closes it: what a server with a short
/// keep-alive timeout looks like to the client.
async fn serve_one_per_connection(answers: Vec<&'static [u8]>) -> Endpoint {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a free port");
    let addr = listener.local_addr().expect("bound address");
    tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        for answer in answers {
            let (mut tcp, _) = listener.accept().await.expect("client connects");
            let _ = tcp.read(&mut buf).await.expect("request arrives");
            tcp.write_all(answer).await.expect("answer written");
            // Dropping `tcp` closes the connection without a `Connection: close` warning.
        }
    });
    Endpoint::parse(&format!("http://{addr}")).expect("valid url")
}

#[tokio::test]
async fn reopens_a_connection_the_server_closed() {
    let ok: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    let endpoint = serve_one_per_connection(vec![ok, ok, ok]).await;
    let mut conn = HttpConn::new(&endpoint);
    for pause in [20, 0] {
        let answer = conn.request("POST", "/x", b"3").await.expect("answered");
        assert_eq!(answer.body.as_ref(), b"ok");
        // With a pause the FIN is seen before reuse (idle keep-alive); without one the request
        // races the close and is sent again once the closed connection shows.
        tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
    }
    let answer = conn.request("POST", "/x", b"3").await.expect("answered");
    assert_eq!(answer.body.as_ref(), b"ok");
}

#[tokio::test]
async fn truncated_bodies_are_errors() {
    let endpoint = serve(vec![b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"]).await;
    let mut conn = HttpConn::new(&endpoint);
    let err = conn
        .request("GET", "/x", b"")
        .await
        .expect_err("body cut short");
    assert!(matches!(err, ClientError::Protocol(_)), "got {err:?}");
}
