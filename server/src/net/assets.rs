//! The web client and dashboard (`assets/` of the repository). By default they are embedded in
//! the binary (rust-embed), so `cargo install` or a copied binary serves the page anywhere;
//! `--assets-dir` serves a folder from disk instead, for working on the client without
//! rebuilding. `/` is the game, `/dashboard` the admin dashboard, everything else a file.
//!
//! The official Socket.IO browser client is vendored under `vendor/socket.io-client/` (see
//! `assets/vendor/update.mjs`). Its classic build is also answered at `/socket.io/socket.io.js`
//! ([`client_routes`]), as a stock Socket.IO server does, so pages written for one load it with
//! `<script src="/socket.io/socket.io.js">`.
//!
//! The files are not fingerprinted (there is no build step), so every response says
//! `Cache-Control: no-cache`, and embedded files carry an `ETag`: browsers revalidate and get
//! `304 Not Modified` while nothing changed (files from disk revalidate by `Last-Modified`).
//! Compression (gzip) is a tower-http layer added by [`super::http::routes`]; because the same
//! tag then covers the plain and the gzip body, it is a weak one (`W/"..."`), and every response
//! says `Vary: Accept-Encoding`.

use std::path::PathBuf;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rust_embed::RustEmbed;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;

/// The `assets/` folder, embedded at compile time (also in debug builds, so tests exercise the
/// same path as a release binary). Tests and docs of the folder are not shipped.
#[derive(RustEmbed)]
#[folder = "../assets/"]
#[exclude = "tests/*"]
#[exclude = "*.md"]
#[exclude = "*.mjs"] // tooling such as vendor/update.mjs; the pages' modules are .js
struct Embedded;

/// Page paths and the files behind them.
const PAGES: [(&str, &str); 2] = [("/", "index.html"), ("/dashboard", "dashboard.html")];

/// The vendored client's files a stock Socket.IO server answers under its `/socket.io/` path
/// (request path, file under `assets/`, content type). The server's `socket.io.js` is the
/// unminified build; the minified one behaves the same and is what is vendored. Its last line
/// names `socket.io.min.js.map`, which resolves to the third path.
const CLIENT_FILES: [(&str, &str, &str); 3] = [
    (
        "/socket.io/socket.io.js",
        "vendor/socket.io-client/socket.io.min.js",
        "application/javascript; charset=utf-8",
    ),
    (
        "/socket.io/socket.io.min.js",
        "vendor/socket.io-client/socket.io.min.js",
        "application/javascript; charset=utf-8",
    ),
    (
        "/socket.io/socket.io.min.js.map",
        "vendor/socket.io-client/socket.io.min.js.map",
        "application/json",
    ),
];

/// Same-origin everything: the pages load only their own modules and talk only to this server.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; connect-src 'self'; img-src 'self' data:; \
     style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

/// The asset routes: embedded, or from `dir` when given.
pub fn routes(dir: Option<PathBuf>) -> Router {
    let router = match dir {
        Some(dir) => {
            tracing::info!(dir = %dir.display(), "serving web assets from disk");
            PAGES
                .iter()
                .fold(Router::new(), |r, (path, file)| {
                    r.route_service(path, ServeFile::new(dir.join(file)))
                })
                .fallback_service(ServeDir::new(dir))
        }
        None => PAGES
            .iter()
            .fold(Router::new(), |r, (path, file)| {
                r.route(
                    path,
                    get(move |headers: HeaderMap| async move { embedded(file, &headers) }),
                )
            })
            // A fallback, not a `/{*path}` route: axum applies a router's layers per method of
            // a route, so a GET-only catch-all would answer the Socket.IO layer's polling POSTs
            // with 405 before the layer saw them. The fallback is wrapped as one service.
            .fallback(|method: Method, uri: Uri, headers: HeaderMap| async move {
                if method != Method::GET && method != Method::HEAD {
                    return StatusCode::METHOD_NOT_ALLOWED.into_response();
                }
                embedded(uri.path().trim_start_matches('/'), &headers)
            }),
    };
    with_asset_headers(router)
}

/// The vendored Socket.IO client at the paths of `CLIENT_FILES`, embedded or from `dir`.
///
/// These paths lie under the Engine.IO endpoint (`/socket.io/`), so the caller must route them
/// *before* the Socket.IO layer, which would otherwise take every request under that path and
/// refuse these ones for their missing `EIO` query.
pub fn client_routes(dir: Option<PathBuf>) -> Router {
    let router = CLIENT_FILES
        .iter()
        .fold(Router::new(), |r, &(path, file, content_type)| {
            let route = match &dir {
                Some(dir) => Router::new().route_service(path, ServeFile::new(dir.join(file))),
                None => Router::new().route(
                    path,
                    get(move |headers: HeaderMap| async move { embedded(file, &headers) }),
                ),
            };
            // The type a stock server sends (rust-embed and tower-http say `text/javascript`),
            // on the file itself only: a 304 has no body and a 404 is plain text.
            let content_type = move |response: &Response| {
                (response.status() == StatusCode::OK)
                    .then(|| HeaderValue::from_static(content_type))
            };
            r.merge(route.layer(SetResponseHeaderLayer::overriding(
                header::CONTENT_TYPE,
                content_type,
            )))
        });
    with_asset_headers(router)
}

/// What every asset response says: revalidate, varies with compression, same-origin policy.
fn with_asset_headers(router: Router) -> Router {
    router
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-cache"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::VARY,
            HeaderValue::from_static("accept-encoding"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
}

/// One embedded file, or 404; `304` when the client's `If-None-Match` matches.
fn embedded(path: &str, headers: &HeaderMap) -> Response {
    let Some(file) = Embedded::get(path) else {
        return (StatusCode::NOT_FOUND, format!("no such file: /{path}\n")).into_response();
    };
    let etag = etag(&file.metadata.sha256_hash());
    // Weak comparison (RFC 9110 8.8.3.2): `W/` prefixes do not matter for If-None-Match.
    let opaque = |tag: &str| tag.trim().trim_start_matches("W/").to_owned();
    let cached = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| opaque(t) == opaque(&etag) || t.trim() == "*")
        });
    let mut response = if cached {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut r = Response::new(Body::from(file.data.into_owned()));
        if let Ok(content_type) = HeaderValue::from_str(file.metadata.mimetype()) {
            r.headers_mut().insert(header::CONTENT_TYPE, content_type);
        }
        r
    };
    if let Ok(etag) = HeaderValue::from_str(&etag) {
        response.headers_mut().insert(header::ETAG, etag);
    }
    response
}

/// A weak ETag from the first 16 bytes of the file's SHA-256.
fn etag(sha256: &[u8; 32]) -> String {
    let hex: String = sha256[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("W/\"{hex}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pages_and_modules_are_embedded_and_tests_and_tooling_are_not() {
        for file in [
            "index.html",
            "dashboard.html",
            "js/game.js",
            "js/msgpack.js",
            "vendor/socket.io-client/socket.io.esm.min.js",
            "vendor/socket.io-client/LICENSE",
        ] {
            assert!(Embedded::get(file).is_some(), "{file} is not embedded");
        }
        for (path, file, _) in CLIENT_FILES {
            assert!(
                Embedded::get(file).is_some(),
                "{file}, served at {path}, is not embedded"
            );
        }
        assert!(
            Embedded::iter().all(|f| {
                !f.starts_with("tests/") && !f.ends_with(".md") && !f.ends_with(".mjs")
            })
        );
        let js = Embedded::get("js/game.js").map(|f| f.metadata.mimetype().to_owned());
        assert_eq!(js.as_deref(), Some("text/javascript"));
    }
}
