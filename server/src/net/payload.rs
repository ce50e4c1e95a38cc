//! Validation of client payloads beyond their serde shape: ranges, text rules. Every failure is a
//! [`GameError::BadRequest`] with a message that names the field.

use socketioxide::ParserError;
use tickstorm_shared::protocol::{ChatRequest, CreateRoomRequest, limits};

use crate::error::GameError;

/// Turns a payload that did not deserialize into a `bad_request` naming the event.
pub fn malformed(event: &str, error: ParserError) -> GameError {
    GameError::BadRequest(format!("invalid {event} payload: {error}"))
}

/// Checks `room:create` fields and normalizes the name (the rooms' own check, see
/// [`crate::room::validate_create`]).
pub fn create_room(request: CreateRoomRequest) -> Result<CreateRoomRequest, GameError> {
    crate::room::validate_create(request)
}

/// Checks a chat message: 1..=200 characters, no control characters, not only whitespace.
pub fn chat_text(request: ChatRequest) -> Result<String, GameError> {
    text(&request.text, limits::CHAT_MAX_CHARS)
}

/// Checks an operator notice's text: 1..=500 characters, same rules as chat.
pub fn notice_text(raw: &str) -> Result<String, GameError> {
    text(raw, limits::NOTICE_MAX_CHARS)
}

/// Trimmed, 1..=`max` characters, no control characters.
fn text(raw: &str, max: usize) -> Result<String, GameError> {
    let text = raw.trim();
    let chars = text.chars().count();
    if chars == 0 || chars > max {
        return Err(GameError::BadRequest(format!(
            "text must be 1..={max} characters"
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
            max_players: Some(256),
            tick_rate: Some(128),
            send_rate: Some(20),
            view_radius: Some(300.0),
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
                max_players: Some(257),
                ..Default::default()
            },
            CreateRoomRequest {
                send_rate: Some(0),
                ..Default::default()
            },
            CreateRoomRequest {
                view_radius: Some(f32::NAN),
                ..Default::default()
            },
            CreateRoomRequest {
                view_radius: Some(0.0),
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
