//! Signed player tokens: with `--auth-secret`, a `/game` handshake needs `auth.token`, an HS256
//! JWT signed with that secret, unexpired (`exp` required), whose `sub` is the player's identity.
//! Checked by `jsonwebtoken` in the handshake middleware; a failure is a `connect_error` that
//! says what was wrong, never the secret or the token.

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use crate::config::Secret;

/// Why a token was refused (the `connect_error` message).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// No token on a server that needs one.
    #[error("unauthorized: auth.token is required on this server (an HS256 JWT)")]
    Missing,
    /// `exp` is in the past.
    #[error("unauthorized: auth.token has expired")]
    Expired,
    /// Wrong secret or altered token.
    #[error("unauthorized: auth.token has an invalid signature")]
    BadSignature,
    /// Not a JWT, wrong algorithm, or a required claim missing.
    #[error("unauthorized: auth.token is not a valid token ({0})")]
    Invalid(String),
}

/// The handshake's view of player auth: a verifier when `--auth-secret` is set (socketioxide
/// state).
#[derive(Debug, Clone, Default)]
pub struct PlayerAuth(pub Option<std::sync::Arc<TokenVerifier>>);

impl PlayerAuth {
    /// From the configured secret, if any.
    pub fn new(secret: Option<&Secret>) -> Self {
        Self(secret.map(|s| std::sync::Arc::new(TokenVerifier::new(s))))
    }

    /// `Ok(None)` when tokens are off, the identity of a valid token, or why it was refused.
    pub fn identity(&self, token: Option<&str>) -> Result<Option<String>, TokenError> {
        self.0.as_ref().map(|v| v.verify(token)).transpose()
    }
}

#[derive(Debug, Deserialize)]
struct Claims {
    /// Optional here so a missing `sub` is reported as such, not as unreadable claims.
    #[serde(default)]
    sub: Option<String>,
}

/// Verifies player tokens against one secret.
pub struct TokenVerifier {
    key: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenVerifier(HS256, <secret redacted>)")
    }
}

impl TokenVerifier {
    /// A verifier for tokens signed with `secret`.
    pub fn new(secret: &Secret) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims(&["exp", "sub"]);
        // A little clock skew between the token issuer and this server is normal.
        validation.leeway = 5;
        Self {
            key: DecodingKey::from_secret(secret.expose().as_bytes()),
            validation,
        }
    }

    /// The identity (`sub`) of a valid token.
    pub fn verify(&self, token: Option<&str>) -> Result<String, TokenError> {
        let token = token.filter(|t| !t.is_empty()).ok_or(TokenError::Missing)?;
        let data = jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation).map_err(
            |e| match e.kind() {
                ErrorKind::ExpiredSignature => TokenError::Expired,
                ErrorKind::InvalidSignature => TokenError::BadSignature,
                ErrorKind::MissingRequiredClaim(claim) => {
                    TokenError::Invalid(format!("claim `{claim}` is required"))
                }
                ErrorKind::InvalidAlgorithm => {
                    TokenError::Invalid("it must be signed with HS256".into())
                }
                _ => TokenError::Invalid("malformed".into()),
            },
        )?;
        match data.claims.sub {
            Some(sub) if !sub.trim().is_empty() => Ok(sub),
            _ => Err(TokenError::Invalid("claim `sub` is required".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{EncodingKey, Header, encode};
    use serde_json::json;

    use super::*;

    fn now() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default()
    }

    fn sign(secret: &str, claims: serde_json::Value, alg: Algorithm) -> String {
        encode(
            &Header::new(alg),
            &claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .expect("signs")
    }

    #[test]
    fn accepts_valid_tokens_and_says_why_others_fail() {
        let secret = "a-long-enough-secret";
        let verifier = TokenVerifier::new(&Secret::new(secret));
        let valid = sign(
            secret,
            json!({"sub": "player-7", "exp": now() + 60}),
            Algorithm::HS256,
        );
        assert_eq!(verifier.verify(Some(&valid)), Ok("player-7".into()));
        assert_eq!(verifier.verify(None), Err(TokenError::Missing));
        assert_eq!(verifier.verify(Some("")), Err(TokenError::Missing));
        let expired = sign(
            secret,
            json!({"sub": "p", "exp": now() - 60}),
            Algorithm::HS256,
        );
        assert_eq!(verifier.verify(Some(&expired)), Err(TokenError::Expired));
        let forged = sign(
            "another-secret-entirely",
            json!({"sub": "p", "exp": now() + 60}),
            Algorithm::HS256,
        );
        assert_eq!(
            verifier.verify(Some(&forged)),
            Err(TokenError::BadSignature)
        );
        let no_exp = sign(secret, json!({"sub": "p"}), Algorithm::HS256);
        assert!(
            matches!(verifier.verify(Some(&no_exp)), Err(TokenError::Invalid(m)) if m.contains("exp"))
        );
        let no_sub = sign(secret, json!({"exp": now() + 60}), Algorithm::HS256);
        assert!(
            matches!(verifier.verify(Some(&no_sub)), Err(TokenError::Invalid(m)) if m.contains("sub"))
        );
        let hs512 = sign(
            secret,
            json!({"sub": "p", "exp": now() + 60}),
            Algorithm::HS512,
        );
        assert!(matches!(
            verifier.verify(Some(&hs512)),
            Err(TokenError::Invalid(_))
        ));
        assert!(matches!(
            verifier.verify(Some("not.a.jwt")),
            Err(TokenError::Invalid(_))
        ));
    }
}
