//! The Engine.IO v4 long-polling payload: the packets of one HTTP body, joined by `\x1e`.
//!
//! Packets come out as the same frames the WebSocket transport yields (text packets as
//! [`Message::Text`] with their Engine.IO type character, binary ones as [`Message::Binary`] with
//! the raw bytes), so everything above the transport decodes them with one code path. Binary
//! packets travel as `b<base64>` in a body; base64 lives here because the workspace has no base64
//! crate and the standard alphabet with padding is all Engine.IO uses.

use bytes::Bytes;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

use crate::error::{ClientError, protocol};

/// Separates packets in a body; it never occurs inside UTF-8 text of other characters.
pub(crate) const SEPARATOR: u8 = 0x1e;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Splits a response body into frames. An empty body (engineioxide's answer to a poll on a
/// closing session) holds no packets.
///
/// # Errors
/// A protocol error for an empty packet, text that is not UTF-8 or a `b` packet that is not
/// valid base64: the body's framing is broken, so nothing in it can be trusted.
pub(crate) fn decode(body: Bytes) -> Result<Vec<Message>, ClientError> {
    if body.is_empty() {
        return Ok(Vec::new());
    }
    let ends: Vec<usize> = (body.iter().enumerate())
        .filter(|(_, b)| **b == SEPARATOR)
        .map(|(i, _)| i)
        .chain(std::iter::once(body.len()))
        .collect();
    let mut frames = Vec::with_capacity(ends.len());
    let mut start = 0;
    for end in ends {
        let packet = body.slice(start..end);
        start = end + 1;
        frames.push(match packet.first() {
            None => return Err(protocol("empty packet in a polling payload")),
            Some(b'b') => Message::Binary(Bytes::from(base64_decode(&packet[1..])?)),
            Some(_) => Message::Text(
                Utf8Bytes::try_from(packet)
                    .map_err(|_| protocol("polling payload is not UTF-8"))?,
            ),
        });
    }
    Ok(frames)
}

/// Bytes `frame` takes in a body, separator excluded.
pub(crate) fn encoded_len(frame: &Message) -> usize {
    match frame {
        Message::Binary(bytes) => 1 + bytes.len().div_ceil(3) * 4,
        other => other.len(),
    }
}

/// Appends `frame` to a request body, with a separator if the body already holds a packet.
/// WebSocket control frames have no Engine.IO meaning and are skipped.
pub(crate) fn encode_into(body: &mut Vec<u8>, frame: &Message) {
    let bytes: &[u8] = match frame {
        Message::Text(text) => text.as_bytes(),
        Message::Binary(bytes) => bytes,
        Message::Ping(_) | Message::Pong(_) | Message::Close(_) | Message::Frame(_) => return,
    };
    if !body.is_empty() {
        body.push(SEPARATOR);
    }
    if let Message::Binary(_) = frame {
        body.push(b'b');
        base64_encode(body, bytes);
    } else {
        body.extend_from_slice(bytes);
    }
}

/// Standard base64 with padding, appended to `out`.
fn base64_encode(out: &mut Vec<u8>, data: &[u8]) {
    out.reserve(data.len().div_ceil(3) * 4);
    let sextet = |v: u32, shift: u32| ALPHABET[((v >> shift) & 63) as usize];
    let mut chunks = data.chunks_exact(3);
    for c in &mut chunks {
        let v = u32::from(c[0]) << 16 | u32::from(c[1]) << 8 | u32::from(c[2]);
        out.extend_from_slice(&[sextet(v, 18), sextet(v, 12), sextet(v, 6), sextet(v, 0)]);
    }
    match *chunks.remainder() {
        [a] => {
            let v = u32::from(a) << 16;
            out.extend_from_slice(&[sextet(v, 18), sextet(v, 12), b'=', b'=']);
        }
        [a, b] => {
            let v = u32::from(a) << 16 | u32::from(b) << 8;
            out.extend_from_slice(&[sextet(v, 18), sextet(v, 12), sextet(v, 6), b'=']);
        }
        _ => {}
    }
}

/// Decodes standard base64; padding is optional (Node pads, but nothing needs it to decode).
fn base64_decode(text: &[u8]) -> Result<Vec<u8>, ClientError> {
    let bad = || protocol("invalid base64 in a polling payload");
    let text = text
        .strip_suffix(b"==")
        .or_else(|| text.strip_suffix(b"="))
        .unwrap_or(text);
    if text.len() % 4 == 1 {
        return Err(bad());
    }
    let mut out = Vec::with_capacity(text.len() / 4 * 3 + 2);
    for chunk in text.chunks(4) {
        let mut v = 0u32;
        for &c in chunk {
            let sextet = match c {
                b'A'..=b'Z' => c - b'A',
                b'a'..=b'z' => c - b'a' + 26,
                b'0'..=b'9' => c - b'0' + 52,
                b'+' => 62,
                b'/' => 63,
                _ => return Err(bad()),
            };
            v = v << 6 | u32::from(sextet);
        }
        // A short final chunk holds 2 or 3 sextets: 1 or 2 bytes, left-aligned in 24 bits.
        v <<= 6 * (4 - chunk.len() as u32);
        let bytes = v.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(frames: &[Message]) -> Vec<u8> {
        let mut body = Vec::new();
        for f in frames {
            encode_into(&mut body, f);
        }
        body
    }

    #[test]
    fn splits_packets_and_decodes_binary() {
        let frames =
            decode(Bytes::from_static(b"2\x1e42[\"a\"]\x1ebAAH/\x1e6")).expect("valid payload");
        assert_eq!(
            frames,
            vec![
                Message::text("2"),
                Message::text("42[\"a\"]"),
                Message::binary(vec![0u8, 1, 255]),
                Message::text("6"),
            ]
        );
        assert_eq!(decode(Bytes::new()).expect("empty body"), vec![]);
    }

    #[test]
    fn encodes_like_engineio() {
        let frames = [
            Message::text("3"),
            Message::binary(vec![1u8, 2, 3, 4]),
            Message::text("42[\"é\"]"),
        ];
        let encoded = body(&frames);
        assert_eq!(encoded, "3\x1ebAQIDBA==\x1e42[\"é\"]".as_bytes());
        let lens: usize = frames.iter().map(encoded_len).sum();
        assert_eq!(lens + 2, encoded.len(), "two separators");
        assert_eq!(decode(Bytes::from(encoded)).expect("round trip"), frames);
    }

    #[test]
    fn base64_round_trips_every_length_and_byte() {
        for len in 0..70usize {
            let data: Vec<u8> = (0..len).map(|i| (i * 37 + 200) as u8).collect();
            let mut text = Vec::new();
            base64_encode(&mut text, &data);
            assert_eq!(text.len() % 4, 0);
            assert_eq!(base64_decode(&text).expect("own output decodes"), data);
            let unpadded = text
                .iter()
                .copied()
                .filter(|c| *c != b'=')
                .collect::<Vec<_>>();
            assert_eq!(base64_decode(&unpadded).expect("unpadded decodes"), data);
        }
        let all: Vec<u8> = (0..=255).collect();
        let mut text = Vec::new();
        base64_encode(&mut text, &all);
        assert_eq!(base64_decode(&text).expect("all bytes"), all);
    }

    #[test]
    fn malformed_payloads_are_errors() {
        let bad: [&[u8]; 8] = [
            b"2\x1e\x1e3",
            b"\x1e",
            b"2\x1e",
            b"b!!!!",
            b"bQ",
            b"bQUJD=A",
            b"4\xff\xfe",
            b"bQUJDR===",
        ];
        for body in bad {
            assert!(
                matches!(
                    decode(Bytes::from_static(body)),
                    Err(ClientError::Protocol(_))
                ),
                "{body:?} should be rejected"
            );
        }
    }
}
