//! Signed player tokens over real sockets: with `--auth-secret`, a handshake without a valid,
//! unexpired HS256 token is refused with a `connect_error` that says why; a valid one plays.

use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::json;
use tickstorm_bot_client::{Client, ClientConfig, ClientError};
use tickstorm_server::config::Secret;

use crate::support::{TestClient, TestServer};

const SECRET: &str = "integration-test-secret";

fn token(secret: &str, sub: &str, exp_in_secs: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    let claims = json!({"sub": sub, "exp": now + exp_in_secs});
    encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("signs")
}

async fn connect(url: &str, auth: serde_json::Value) -> Result<Client, ClientError> {
    let config = ClientConfig::new(url, "/game").with_auth(auth);
    Client::connect(config)
        .await
        .map(|(client, _events)| client)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_an_auth_secret_only_valid_signed_tokens_get_in() {
    let server = TestServer::start(|c| c.auth_secret = Some(Secret::new(SECRET))).await;
    let cases = [
        (json!({"name": "ana"}), "auth.token is required"),
        (
            json!({"name": "ana", "token": token(SECRET, "u1", -120)}),
            "expired",
        ),
        (
            json!({"name": "ana", "token": token("some-other-secret-value", "u1", 60)}),
            "invalid signature",
        ),
        (
            json!({"name": "ana", "token": "garbage"}),
            "not a valid token",
        ),
    ];
    for (auth, expected) in cases {
        match connect(&server.url, auth.clone()).await {
            Err(ClientError::ConnectRefused(message)) => {
                assert!(
                    message.starts_with("unauthorized:") && message.contains(expected),
                    "{auth}: {message}"
                );
            }
            Err(other) => panic!("{auth}: expected connect_error, got {other}"),
            Ok(_) => panic!("{auth}: expected connect_error, got a connection"),
        }
    }
    assert_eq!(
        server.handle.admission.counts().0,
        0,
        "refused handshakes hold no slot"
    );

    let config = ClientConfig::new(&server.url, "/game")
        .with_auth(json!({"name": "ana", "token": token(SECRET, "user-42", 60)}));
    let (client, events) = Client::connect(config)
        .await
        .expect("a valid token connects");
    let player = TestClient { client, events };
    player.quick_join().await;
    server.stop().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_auth_secret_tokens_are_not_needed() {
    let server = TestServer::start_default().await;
    connect(&server.url, json!({"name": "ana"}))
        .await
        .expect("no token needed");
    server.stop().await.expect("clean shutdown");
}
