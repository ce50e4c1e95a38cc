//! The orb arena's `input` payload: `{seq, move: [x, y], buttons?}`.

use serde::{Deserialize, Serialize};
use tickstorm_sim::GameInput;

use crate::rules;

/// `input` payload.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct OrbInput {
    /// Client sequence number; only the highest seen is kept.
    pub seq: u32,
    /// Desired direction `[x, y]`, each in -1..=1 (clamped, then capped at length 1).
    #[serde(rename = "move", deserialize_with = "number_pair")]
    pub movement: [f32; 2],
    /// Button bit set, reserved for game modes.
    #[serde(default)]
    pub buttons: u32,
}

impl GameInput for OrbInput {
    fn seq(&self) -> u32 {
        self.seq
    }

    fn validate(self) -> Result<Self, String> {
        let direction = rules::sanitize_move(self.movement).map_err(|e| e.to_string())?;
        Ok(Self {
            movement: direction.to_array(),
            ..self
        })
    }
}

/// Reads exactly two numbers from a sequence. Serde's own `[f32; 2]` is lenient with MessagePack
/// (it reads a `bin` value as numbers and ignores extra elements); the protocol is not.
fn number_pair<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<[f32; 2], D::Error> {
    struct PairVisitor;
    impl<'de> serde::de::Visitor<'de> for PairVisitor {
        type Value = [f32; 2];
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an array of two numbers [x, y]")
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<[f32; 2], A::Error> {
            use serde::de::Error;
            let x = seq
                .next_element()?
                .ok_or_else(|| A::Error::invalid_length(0, &self))?;
            let y = seq
                .next_element()?
                .ok_or_else(|| A::Error::invalid_length(1, &self))?;
            if seq.next_element::<serde::de::IgnoredAny>()?.is_some() {
                return Err(A::Error::invalid_length(3, &self));
            }
            Ok([x, y])
        }
    }
    deserializer.deserialize_seq(PairVisitor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_uses_the_wire_name_move_and_is_strict() {
        let i: OrbInput = serde_json::from_str(r#"{"seq":5,"move":[1,-0.5]}"#).expect("valid");
        assert_eq!(
            i,
            OrbInput {
                seq: 5,
                movement: [1.0, -0.5],
                buttons: 0
            }
        );
        assert!(serde_json::from_str::<OrbInput>(r#"{"seq":"5","move":[1,0]}"#).is_err());
        assert!(serde_json::from_str::<OrbInput>(r#"{"seq":4294967296,"move":[1,0]}"#).is_err());
        assert!(serde_json::from_str::<OrbInput>(r#"{"move":[1,0]}"#).is_err());
        assert!(serde_json::from_str::<OrbInput>(r#"{"seq":1,"move":[1,0,0]}"#).is_err());
        assert!(serde_json::from_str::<OrbInput>(r#"{"seq":1,"move":[1]}"#).is_err());
        let bin = rmp_serde::to_vec_named(&serde_json::json!({"seq": 1})).expect("encode");
        assert!(rmp_serde::from_slice::<OrbInput>(&bin).is_err());
    }

    #[test]
    fn validation_clamps_and_refuses_non_finite_moves() {
        let fast = OrbInput {
            seq: 1,
            movement: [5.0, 5.0],
            buttons: 0,
        };
        let [x, y] = fast.validate().expect("finite").movement;
        assert!(((x * x + y * y).sqrt() - 1.0).abs() < 1e-6);
        let nan = OrbInput {
            movement: [f32::NAN, 0.0],
            ..fast
        };
        assert_eq!(
            nan.validate(),
            Err("move components must be finite numbers".to_string())
        );
    }
}
