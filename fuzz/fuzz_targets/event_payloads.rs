//! Any bytes as the payload of any client event, in either parser's encoding (JSON for the
//! default parser, MessagePack for the msgpack one), through the same deserialization and
//! validation the handlers use: a result or a clean error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tickstorm_server::net::payload;
use tickstorm_orbs::OrbInput;
use tickstorm_shared::protocol::{
    ChatRequest, CreateRoomRequest, GameAuth, JoinRoomRequest, RejoinRequest, TimeRequest,
};
use tickstorm_sim::{GameInput, GameRegistry};

fn parse<T: serde::de::DeserializeOwned>(msgpack: bool, data: &[u8]) -> Option<T> {
    if msgpack {
        rmp_serde::from_slice(data).ok()
    } else {
        serde_json::from_slice(data).ok()
    }
}

fuzz_target!(|input: &[u8]| {
    let Some((&selector, data)) = input.split_first() else {
        return;
    };
    let msgpack = selector & 1 == 1;
    match (selector >> 1) % 7 {
        0 => {
            if let Some(request) = parse::<OrbInput>(msgpack, data)
                && let Ok(valid) = request.validate()
            {
                let [x, y] = valid.movement;
                assert!((x * x + y * y).sqrt() <= 1.0 + 1e-6, "sanitized moves are capped");
            }
        }
        1 => {
            if let Some(request) = parse::<CreateRoomRequest>(msgpack, data) {
                // The game's options go through the game's own validation, as the driver does.
                let mut games = GameRegistry::new();
                let _ = games.register(tickstorm_orbs::OrbArena);
                let _ = games.validate_options(0, request.options.as_ref());
                let _ = payload::create_room(request);
            }
        }
        2 => {
            if let Some(request) = parse::<ChatRequest>(msgpack, data)
                && let Ok(text) = payload::chat_text(request)
            {
                assert!(!text.is_empty() && text.chars().count() <= 200);
                assert!(!text.chars().any(char::is_control));
            }
        }
        3 => {
            if let Some(auth) = parse::<GameAuth>(msgpack, data)
                && let Ok(name) = tickstorm_server::net::handshake::validate_name(auth.name.as_deref())
            {
                assert!(!name.is_empty() && name.chars().count() <= 24);
            }
        }
        4 => {
            let _ = parse::<JoinRoomRequest>(msgpack, data);
        }
        5 => {
            let _ = parse::<RejoinRequest>(msgpack, data);
        }
        _ => {
            let _ = parse::<TimeRequest>(msgpack, data);
        }
    }
});
