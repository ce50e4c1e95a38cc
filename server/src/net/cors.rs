//! Which web pages may use this server from another origin (`--cors-origin`). Browsers send an
//! `Origin` header with cross-origin requests and WebSocket handshakes; for the Socket.IO
//! endpoint and the HTTP API, a request from an origin that is neither this server's own (the
//! `Host` it was called by) nor listed is refused with `403` and the reason, before it reaches
//! either. That refusal matters most for WebSockets, which browsers open to any origin without
//! asking. Allowed origins get their CORS headers and preflight answers from tower-http's
//! `CorsLayer`. Requests without `Origin` (non-browser clients) pass untouched.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// The origins allowed besides the server's own.
#[derive(Debug, Clone, Default)]
pub struct CorsPolicy {
    allowed: Arc<Vec<String>>,
}

impl CorsPolicy {
    /// Allows `origins` (normalized by `config::parse_origin`).
    pub fn new(origins: Vec<String>) -> Self {
        Self {
            allowed: Arc::new(origins),
        }
    }

    /// The CORS headers and preflight answers for the allowed origins (none without any).
    pub fn layer(&self) -> CorsLayer {
        let origins: Vec<HeaderValue> = self
            .allowed
            .iter()
            .filter_map(|o| HeaderValue::from_str(o).ok())
            .collect();
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([Method::GET, Method::POST, Method::DELETE])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
            // Sticky sessions behind a load balancer use cookies on the polling requests.
            .allow_credentials(true)
            .max_age(Duration::from_secs(600))
    }

    /// Whether a request from `origin`, made to the server by the name in `host`, may go on.
    fn allows(&self, origin: &str, host: Option<&str>) -> bool {
        let origin = origin.to_ascii_lowercase();
        let authority = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"));
        let same = matches!((authority, host), (Some(a), Some(h)) if a.eq_ignore_ascii_case(h));
        same || self.allowed.contains(&origin)
    }
}

/// Whether the path is one CORS applies to: the Socket.IO endpoint and the HTTP API.
fn guarded(path: &str) -> bool {
    path.starts_with("/socket.io") || path.starts_with("/api/") || path == "/api"
}

/// Refuses guarded requests from origins that are not allowed.
pub async fn refuse_other_origins(
    State(policy): State<CorsPolicy>,
    request: Request,
    next: Next,
) -> Response {
    if guarded(request.uri().path())
        && let Some(origin) = request.headers().get(header::ORIGIN)
    {
        let origin = origin.to_str().unwrap_or("(not text)");
        let host = request
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok());
        if !policy.allows(origin, host) {
            tracing::debug!(
                origin,
                path = request.uri().path(),
                "cross-origin request refused"
            );
            let message = format!(
                "origin {origin} may not use this server: start it with --cors-origin {origin} to allow it\n"
            );
            return (StatusCode::FORBIDDEN, message).into_response();
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_and_listed_origins_pass_others_do_not() {
        let policy = CorsPolicy::new(vec!["https://play.example.com".into()]);
        let host = Some("127.0.0.1:3000");
        assert!(policy.allows("http://127.0.0.1:3000", host));
        assert!(policy.allows("https://play.example.com", host));
        assert!(policy.allows("HTTPS://Play.Example.com", host));
        assert!(
            !policy.allows("http://127.0.0.1:3001", host),
            "another port is another origin"
        );
        assert!(!policy.allows("https://evil.example.com", host));
        assert!(!policy.allows("null", host));
        assert!(!policy.allows("http://127.0.0.1:3000", None));
        assert!(guarded("/socket.io/") && guarded("/api/rooms") && !guarded("/js/game.js"));
    }
}
