//! Blasters' `input` payload: `{seq, move: [x, y], aim, fire?}`.

use glam::Vec2;
use serde::{Deserialize, Serialize};
use tickstorm_sim::GameInput;

use crate::rules;

/// `input` payload.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct BlasterInput {
    /// Client sequence number.
    pub seq: u32,
    /// Desired direction `[x, y]`, capped at length 1.
    #[serde(rename = "move")]
    pub movement: [f32; 2],
    /// Facing angle in radians (0 = +x, PI/2 = +y, which is down on screen).
    pub aim: f32,
    /// The trigger is held: a bolt leaves whenever the cooldown allows.
    #[serde(default)]
    pub fire: bool,
}

impl GameInput for BlasterInput {
    fn seq(&self) -> u32 {
        self.seq
    }

    fn validate(self) -> Result<Self, String> {
        let movement = Vec2::from(self.movement);
        if !movement.is_finite() {
            return Err("move must be two finite numbers".into());
        }
        if !self.aim.is_finite() {
            return Err("aim must be a finite number (radians)".into());
        }
        Ok(Self {
            movement: movement.clamp_length_max(1.0).to_array(),
            aim: rules::wrap_angle(self.aim),
            ..self
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_strictly_and_fire_defaults_to_off() {
        let i: BlasterInput =
            serde_json::from_str(r#"{"seq":3,"move":[0,1],"aim":1.5}"#).expect("valid");
        assert_eq!(
            (i.seq, i.movement, i.aim, i.fire),
            (3, [0.0, 1.0], 1.5, false)
        );
        let i: BlasterInput =
            serde_json::from_str(r#"{"seq":3,"move":[0,1],"aim":0,"fire":true}"#).expect("valid");
        assert!(i.fire);
        assert!(serde_json::from_str::<BlasterInput>(r#"{"seq":3,"move":[0,1]}"#).is_err());
        assert!(
            serde_json::from_str::<BlasterInput>(r#"{"seq":3,"move":[0,1],"aim":"up"}"#).is_err()
        );
        assert!(
            serde_json::from_str::<BlasterInput>(r#"{"seq":3,"move":[0,1],"aim":0,"fire":1}"#)
                .is_err()
        );
        let packed = rmp_serde::to_vec_named(&i).expect("encodes");
        assert_eq!(
            rmp_serde::from_slice::<BlasterInput>(&packed).expect("decodes"),
            i
        );
    }

    #[test]
    fn validation_caps_moves_wraps_aim_and_refuses_non_finite() {
        let i = BlasterInput {
            seq: 1,
            movement: [3.0, 4.0],
            aim: 7.0,
            fire: true,
        };
        let v = i.validate().expect("finite");
        assert!((Vec2::from(v.movement).length() - 1.0).abs() < 1e-6);
        assert!((v.aim - (7.0 - std::f32::consts::TAU)).abs() < 1e-5);
        assert!(BlasterInput { aim: f32::NAN, ..i }.validate().is_err());
        assert!(
            BlasterInput {
                movement: [f32::INFINITY, 0.0],
                ..i
            }
            .validate()
            .is_err()
        );
    }
}
