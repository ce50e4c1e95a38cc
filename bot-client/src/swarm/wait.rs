//! Waits, bounded, until each server the swarm will use answers HTTP, before the first bot starts.
//!
//! A script that starts the server in the background and the bots right after (the README's
//! load-test block) would otherwise race: bots that start before the server listens fail to
//! connect and the run measures a server that was not there yet. "Answers" means any HTTP
//! response below 500 to `GET /healthz`: a refused connection (nothing listens yet) and a 502
//! from a load balancer whose nodes are not up yet both mean "wait".

use std::time::Duration;

use tokio::time::Instant;

use crate::config::Endpoint;
use crate::polling::http::HttpConn;

/// Pause between two attempts.
const RETRY: Duration = Duration::from_millis(100);

/// Longest one attempt may take (a server that accepts but never answers).
const ATTEMPT: Duration = Duration::from_secs(2);

/// Waits until `url` answers or `limit` passes. Returns how long it waited; the error says what
/// the last attempt met. Prints one line on stderr when the server does not answer at once, so
/// a long wait is not mistaken for a hang.
pub async fn until_answering(
    url: &str,
    local_ip: Option<std::net::IpAddr>,
    limit: Duration,
) -> Result<Duration, String> {
    let mut endpoint = Endpoint::parse(url).map_err(|e| e.to_string())?;
    endpoint.local_ip = local_ip;
    let target = format!("{}/healthz", endpoint.prefix);
    let started = Instant::now();
    let mut announced = false;
    loop {
        // A new connection per attempt: a refused or reset one is not worth reusing.
        let attempt = tokio::time::timeout(
            ATTEMPT,
            HttpConn::new(&endpoint).request("GET", &target, b""),
        )
        .await;
        let last = match attempt {
            Ok(Ok(response)) if response.status < 500 => return Ok(started.elapsed()),
            Ok(Ok(response)) => format!("HTTP {}", response.status),
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("no answer within {ATTEMPT:?}"),
        };
        let waited = started.elapsed();
        if waited >= limit {
            return Err(format!(
                "no server answered at {url} within {limit:?} (last attempt: {last}); is it \
                 running? --wait-for-server sets how long to wait"
            ));
        }
        if !announced {
            eprintln!("waiting for the server at {url} to answer (up to {limit:?}): {last}");
            announced = true;
        }
        tokio::time::sleep(RETRY.min(limit - waited)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn waits_for_a_server_that_starts_late() {
        // Reserve a port, free it, and start answering on it only after a delay.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let server = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
                .await
                .expect("bind the late server");
            let (mut tcp, _) = listener.accept().await.expect("a probe arrives");
            let mut buf = [0u8; 1024];
            let _ = tcp.read(&mut buf).await;
            tcp.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                .await
                .expect("answer");
        });
        let waited = until_answering(
            &format!("http://127.0.0.1:{port}"),
            None,
            Duration::from_secs(10),
        )
        .await
        .expect("the late server is found");
        assert!(waited >= Duration::from_millis(250), "waited {waited:?}");
        server.await.expect("the late server ran");
    }

    #[tokio::test]
    async fn gives_up_after_the_limit_with_a_reason() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let started = Instant::now();
        let err = until_answering(
            &format!("http://127.0.0.1:{port}"),
            None,
            Duration::from_millis(400),
        )
        .await
        .expect_err("nothing listens");
        assert!(started.elapsed() < Duration::from_secs(3));
        assert!(err.contains("no server answered"), "{err}");
        assert!(err.contains("--wait-for-server"), "{err}");
    }
}
