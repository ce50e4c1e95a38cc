//! The default Socket.IO parser: text packets `<type>[<n>-][<nsp>,][<id>][<json>]`.
//!
//! Binary values cannot live in JSON, so a packet holding any travels as BINARY_EVENT/BINARY_ACK
//! with `{"_placeholder":true,"num":i}` where each value stood, followed by one binary frame per
//! value. [`encode`] moves the bytes out of the args (no copy) and [`PartialBinary`] moves the
//! received frames back in.

use rmpv::Value;

use super::{EventArgs, Packet, PacketKind, connect_error_message, split_event};
use crate::error::{ClientError, protocol};

/// Result of decoding a text packet.
#[derive(Debug)]
pub(crate) enum Decoded {
    Packet(Packet),
    /// A binary packet whose attachments are still to come.
    Partial(PartialBinary),
}

/// A BINARY_EVENT/BINARY_ACK collecting its attachments.
#[derive(Debug)]
pub(crate) struct PartialBinary {
    packet: Packet,
    expected: usize,
    attachments: Vec<Option<Vec<u8>>>,
}

impl PartialBinary {
    /// Adds the next attachment; true once all announced attachments are there.
    pub(crate) fn push(&mut self, attachment: Vec<u8>) -> bool {
        self.attachments.push(Some(attachment));
        self.attachments.len() >= self.expected
    }

    /// Puts every attachment where its placeholder stands.
    pub(crate) fn finish(mut self) -> Result<Packet, ClientError> {
        let args = match &mut self.packet.kind {
            PacketKind::Event { args, .. } | PacketKind::Ack { args, .. } => args,
            _ => return Ok(self.packet),
        };
        for arg in args.iter_mut() {
            fill_placeholders(arg, &mut self.attachments)?;
        }
        Ok(self.packet)
    }
}

/// Encodes a packet as the whole Engine.IO text frame (leading `4` included) plus the
/// attachments to send after it, in order.
pub(crate) fn encode(packet: Packet) -> Result<(String, Vec<Vec<u8>>), ClientError> {
    let Packet { nsp, kind } = packet;
    let mut attachments = Vec::new();
    let (ty, id, body) = match kind {
        PacketKind::Connect(Value::Nil) => ('0', None, None),
        PacketKind::Connect(auth) => ('0', None, Some(json(&auth)?)),
        PacketKind::Disconnect => ('1', None, None),
        PacketKind::Event { name, mut args, id } => {
            extract_binaries(&mut args, &mut attachments);
            let ty = if attachments.is_empty() { '2' } else { '5' };
            let body = json(&EventArgs {
                name: &name,
                args: &args,
            })?;
            (ty, id, Some(body))
        }
        PacketKind::Ack { id, mut args } => {
            extract_binaries(&mut args, &mut attachments);
            let ty = if attachments.is_empty() { '3' } else { '6' };
            (ty, Some(id), Some(json(&args)?))
        }
        PacketKind::ConnectError(message) => {
            let body = Value::Map(vec![("message".into(), message.into())]);
            ('4', None, Some(json(&body)?))
        }
    };
    let body = body.unwrap_or_default();
    let mut out = String::with_capacity(8 + nsp.len() + body.len());
    out.push('4');
    out.push(ty);
    if !attachments.is_empty() {
        out.push_str(&attachments.len().to_string());
        out.push('-');
    }
    if nsp != "/" {
        out.push_str(&nsp);
        out.push(',');
    }
    if let Some(id) = id {
        out.push_str(&id.to_string());
    }
    out.push_str(&body);
    Ok((out, attachments))
}

fn json<T: serde::Serialize + ?Sized>(data: &T) -> Result<String, ClientError> {
    // serde_json writes non-finite floats (NaN) as `null`, the only JSON spelling for them.
    serde_json::to_string(data).map_err(|e| ClientError::Encode(e.to_string()))
}

/// Decodes a Socket.IO text packet (the Engine.IO message payload, without the leading `4`).
pub(crate) fn decode(payload: &str) -> Result<Decoded, ClientError> {
    let bytes = payload.as_bytes();
    let ty = *bytes
        .first()
        .ok_or_else(|| protocol("empty Socket.IO packet"))?;
    // Checked first: every later slice relies on the first byte being ASCII.
    if !(b'0'..=b'6').contains(&ty) {
        return Err(protocol("unknown Socket.IO packet type"));
    }
    let mut pos = 1;
    let attachments = if ty == b'5' || ty == b'6' {
        let digits = count_digits(&bytes[pos..]);
        if digits == 0 || bytes.get(pos + digits) != Some(&b'-') {
            return Err(protocol("binary packet without `<n>-` attachment count"));
        }
        let n: usize = payload[pos..pos + digits]
            .parse()
            .map_err(|_| protocol("attachment count out of range"))?;
        pos += digits + 1;
        n
    } else {
        0
    };
    let nsp = if bytes.get(pos) == Some(&b'/') {
        // A namespace with nothing after it may omit the comma, e.g. `1/game`.
        let end = payload[pos..].find(',').map_or(bytes.len(), |i| pos + i);
        let nsp = &payload[pos..end];
        pos = (end + 1).min(bytes.len());
        nsp
    } else {
        "/"
    };
    let digits = count_digits(&bytes[pos..]);
    let id = if digits > 0 {
        let id = payload[pos..pos + digits]
            .parse::<u64>()
            .map_err(|_| protocol("ack id out of range"))?;
        pos += digits;
        Some(id)
    } else {
        None
    };
    let json = &payload[pos..];
    let parse = || -> Result<Value, ClientError> {
        serde_json::from_str(json).map_err(|e| protocol(format!("bad JSON in packet: {e}")))
    };
    let need_id = || id.ok_or_else(|| protocol("ACK without an id"));
    let kind = match ty {
        b'0' if json.is_empty() => PacketKind::Connect(Value::Nil),
        b'0' => PacketKind::Connect(parse()?),
        b'1' => PacketKind::Disconnect,
        b'2' | b'5' => {
            let (name, args) = split_event(parse()?)?;
            PacketKind::Event { name, args, id }
        }
        b'3' | b'6' => PacketKind::Ack {
            id: need_id()?,
            args: match parse()? {
                Value::Array(args) => args,
                _ => return Err(protocol("ACK data is not an array")),
            },
        },
        b'4' => PacketKind::ConnectError(connect_error_message(&parse()?)?),
        _ => return Err(protocol("unknown Socket.IO packet type")),
    };
    let packet = Packet::new(nsp, kind);
    if attachments == 0 {
        return Ok(Decoded::Packet(packet));
    }
    Ok(Decoded::Partial(PartialBinary {
        packet,
        expected: attachments,
        attachments: Vec::with_capacity(attachments),
    }))
}

fn count_digits(bytes: &[u8]) -> usize {
    bytes.iter().take_while(|b| b.is_ascii_digit()).count()
}

/// Replaces every binary value with a placeholder, moving its bytes to `out`.
fn extract_binaries(args: &mut [Value], out: &mut Vec<Vec<u8>>) {
    for arg in args {
        match arg {
            Value::Binary(bytes) => {
                let bytes = std::mem::take(bytes);
                *arg = Value::Map(vec![
                    ("_placeholder".into(), true.into()),
                    ("num".into(), out.len().into()),
                ]);
                out.push(bytes);
            }
            Value::Array(items) => extract_binaries(items, out),
            Value::Map(entries) => {
                for (_, v) in entries.iter_mut() {
                    extract_binaries(std::slice::from_mut(v), out);
                }
            }
            _ => {}
        }
    }
}

fn fill_placeholders(v: &mut Value, atts: &mut [Option<Vec<u8>>]) -> Result<(), ClientError> {
    if let Some(num) = placeholder_num(v) {
        let slot = usize::try_from(num)
            .ok()
            .and_then(|i| atts.get_mut(i))
            .ok_or_else(|| protocol(format!("placeholder {num} has no attachment")))?;
        let bytes = slot
            .take()
            .ok_or_else(|| protocol(format!("attachment {num} used twice")))?;
        *v = Value::Binary(bytes);
        return Ok(());
    }
    match v {
        Value::Array(items) => items
            .iter_mut()
            .try_for_each(|item| fill_placeholders(item, atts)),
        Value::Map(entries) => entries
            .iter_mut()
            .try_for_each(|(_, item)| fill_placeholders(item, atts)),
        _ => Ok(()),
    }
}

/// `Some(num)` for `{"_placeholder":true,"num":num}` (keys in either order).
fn placeholder_num(v: &Value) -> Option<u64> {
    let [(k1, v1), (k2, v2)] = v.as_map()?.as_slice() else {
        return None;
    };
    let (flag, num) = match (k1.as_str()?, k2.as_str()?) {
        ("_placeholder", "num") => (v1, v2),
        ("num", "_placeholder") => (v2, v1),
        _ => return None,
    };
    if flag.as_bool() != Some(true) {
        return None;
    }
    num.as_u64()
}

#[cfg(test)]
#[path = "common_tests.rs"]
mod tests;
