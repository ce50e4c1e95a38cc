//! Random identifiers: room ids (short, URL-safe) and rejoin tokens (unguessable).

use rand::RngExt;

const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";

/// An 8-character room id from an alphabet without look-alike characters.
pub fn room_id() -> String {
    let mut rng = rand::rng();
    (0..8)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect()
}

/// A default node id for a cluster: `node-` and 8 random characters.
pub fn node_id() -> String {
    format!("node-{}", room_id())
}

/// A rejoin token: the room id, a dot, then 128 random bits as 32 hex characters from the
/// OS-seeded thread RNG (a CSPRNG). The room id lets any node of a cluster route a rejoin to the
/// node that runs the room.
pub fn rejoin_token(room_id: &str) -> String {
    let value: u128 = rand::rng().random();
    format!("{room_id}.{value:032x}")
}

/// The room a rejoin token belongs to, if it has the shape the driver gives tokens
/// (`{room_id}.{hex}`).
pub fn token_room(token: &str) -> Option<&str> {
    token
        .split_once('.')
        .map(|(room, _)| room)
        .filter(|r| !r.is_empty())
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_have_the_documented_shape() {
        let id = super::room_id();
        assert_eq!(id.len(), 8);
        assert!(id.bytes().all(|b| super::ALPHABET.contains(&b)));
        let token = super::rejoin_token(&id);
        assert_eq!(token.len(), 8 + 1 + 32);
        assert_eq!(super::token_room(&token), Some(id.as_str()));
        assert_ne!(token, super::rejoin_token(&id));
        assert_eq!(super::token_room("no-dot"), None);
    }
}
