//! A layer that copies each request's head (URI, header names and values) into memory of its own
//! before socketioxide sees the request.
//!
//! hyper hands out header values that are slices of the connection's read buffer. socketioxide
//! keeps the request parts of every session (for `req_parts()`), so those slices would keep the
//! whole ~16 KiB buffer of each connection alive for as long as the session lives: measured,
//! that was the largest single item of the ~29 KiB per idle connection (PERFORMANCE-NOTES). A
//! copy costs well under a microsecond, once per HTTP request.

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Uri};

/// Replaces the request's URI and headers with owned copies.
pub async fn own_request_head(mut request: Request) -> Request {
    let borrowed = std::mem::take(request.headers_mut());
    let mut owned = HeaderMap::with_capacity(borrowed.len());
    for (name, value) in &borrowed {
        // Both constructors copy their input; the originals (and the read buffer) are then dropped.
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_str().as_bytes()),
            HeaderValue::from_bytes(value.as_bytes()),
        ) {
            owned.append(name, value);
        }
    }
    *request.headers_mut() = owned;
    if let Ok(uri) = Uri::try_from(request.uri().to_string()) {
        *request.uri_mut() = uri;
    }
    request
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn keeps_every_header_and_the_uri() {
        let request = Request::builder()
            .uri("/socket.io/?EIO=4&transport=websocket")
            .header("x-a", "1")
            .header("x-a", "2")
            .header("user-agent", "test")
            .body(axum::body::Body::empty())
            .expect("valid request");
        let copied = own_request_head(request).await;
        assert_eq!(copied.uri(), "/socket.io/?EIO=4&transport=websocket");
        assert_eq!(copied.headers().get_all("x-a").iter().count(), 2);
        assert_eq!(copied.headers()["user-agent"], "test");
    }
}
