//! Validation of client payloads beyond their serde shape: ranges, text rules. Every failure is a
//! [`GameError::BadRequest`] with a message that names the field.

use socketioxide::ParserError;
use tickstorm_shared::protocol::{ChatRequest, CreateRoomRequest, limits};

use crate::error::GameError;

/// Turns a payload that did not deserialize into a `bad_request` naming the event.
pub fn malformed(event: &str, error: ParserError) -> GameError {
    GameError::BadRequest(format!("invalid {event} payload: {error}"))
}

/// Checks `room:create` fields and normalizes the name.
pub fn create_room(mut request: CreateRoomRequest) -> Result<CreateRoomRequest, GameError> {
    if let Some(n) = request.max_players
        && !(1..=limits::MAX_PLAYERS_CAP).contains(&n)
    {
        return Err(GameError::BadRequest(format!(
            "max_players must be 1..={}",
            limits::MAX_PLAYERS_CAP
        )));
    }
    if let Some(t) = request.tick_rate
        && !(1..=limits::TICK_RATE_CAP).contains(&t)
    {
        return Err(GameError::BadRequest(format!(
            "tick_rate must be 1..={}",
            limits::TICK_RATE_CAP
        )));
    }
    if let Some(name) = request.name.take() {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > limits::ROOM_NAME_MAX_CHARS {
            return Err(GameError::BadRequest(format!(
                "name must be 1..={} characters",
                limits::ROOM_NAME_MAX_CHARS
            )));
        }
        if name.chars().any(char::is_control) {
            return Err(GameError::BadRequest(
                "name must not contain control characters".into(),
            ));
        }
        request.name = Some(name.to_owned());
    }
    Ok(request)
}

/// Checks a chat message: 1..=200 characters, no control characters, not only whitespace.
pub fn chat_text(request: ChatRequest) -> Result<String, GameError> {
    let text = request.text.trim();
    let chars = text.chars().count();
    if chars == 0 || chars > limits::CHAT_MAX_CHARS {
        return Err(GameError::BadRequest(format!(
            "text must be 1..={} characters",
            limits::CHAT_MAX_CHARS
        )));
    }
    if text.chars().any(char::is_control) {
        return Err(GameError::BadRequest(
            "text must not contain control characters".into(),
        ));
    }
    Ok(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_settings_are_range_checked() {
        let ok = CreateRoomRequest {
            name: Some(" Arena ".into()),
            max_players: Some(64),
            tick_rate: Some(128),
            ..CreateRoomRequest::default()
        };
        assert_eq!(
            create_room(ok).expect("valid").name.as_deref(),
            Some("Arena")
        );
        for bad in [
            CreateRoomRequest {
                max_players: Some(0),
                ..Default::default()
            },
            CreateRoomRequest {
                max_players: Some(65),
                ..Default::default()
            },
            CreateRoomRequest {
                tick_rate: Some(129),
                ..Default::default()
            },
            CreateRoomRequest {
                name: Some(" ".into()),
                ..Default::default()
            },
        ] {
            assert!(matches!(create_room(bad), Err(GameError::BadRequest(_))));
        }
    }

    #[test]
    fn chat_text_rules() {
        assert_eq!(
            chat_text(ChatRequest {
                text: " hi ".into()
            }),
            Ok("hi".into())
        );
        assert!(chat_text(ChatRequest { text: "".into() }).is_err());
        assert!(
            chat_text(ChatRequest {
                text: "x".repeat(201)
            })
            .is_err()
        );
        assert!(
            chat_text(ChatRequest {
                text: "a\u{0}b".into()
            })
            .is_err()
        );
    }
}
