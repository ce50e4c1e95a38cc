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

/// A 128-bit rejoin token as 32 hex characters, from the OS-seeded thread RNG (a CSPRNG).
pub fn rejoin_token() -> String {
    let value: u128 = rand::rng().random();
    format!("{value:032x}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_have_the_documented_shape() {
        let id = super::room_id();
        assert_eq!(id.len(), 8);
        assert!(id.bytes().all(|b| super::ALPHABET.contains(&b)));
        let token = super::rejoin_token();
        assert_eq!(token.len(), 32);
        assert_ne!(token, super::rejoin_token());
    }
}
