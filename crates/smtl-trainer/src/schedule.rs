//! The linear warm-up / linear decay learning-rate schedule.

use serde::{Deserialize, Serialize};

/// `transformers.get_linear_schedule_with_warmup` as a multiplier of the base
/// learning rate. `step` counts optimizer steps from 0 (the value the
/// scheduler holds when that step is taken), so the very first step of a
/// warm-up runs at factor 0, as in transformers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinearSchedule {
    pub warmup_steps: usize,
    pub total_steps: usize,
}

impl LinearSchedule {
    pub fn new(warmup_steps: usize, total_steps: usize) -> Self {
        Self {
            warmup_steps,
            total_steps,
        }
    }

    /// `step / warmup` while `step < warmup`, then
    /// `max(0, (total - step) / max(1, total - warmup))`.
    pub fn factor(&self, step: usize) -> f64 {
        if step < self.warmup_steps {
            return step as f64 / self.warmup_steps.max(1) as f64;
        }
        let remaining = self.total_steps as f64 - step as f64;
        let decay_len = (self.total_steps as i128 - self.warmup_steps as i128).max(1) as f64;
        (remaining / decay_len).max(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_hand_values() {
        let s = LinearSchedule::new(4, 12);
        let expected = [
            0.0, 0.25, 0.5, 0.75, // warm-up
            1.0, 0.875, 0.75, 0.625, 0.5, 0.375, 0.25, 0.125, 0.0, // decay over 8 steps
            0.0, 0.0, // past the end
        ];
        for (step, want) in expected.iter().enumerate() {
            assert_eq!(s.factor(step), *want, "step {step}");
        }
    }

    #[test]
    fn no_warmup_and_degenerate_lengths() {
        let s = LinearSchedule::new(0, 10);
        assert_eq!(s.factor(0), 1.0);
        assert_eq!(s.factor(5), 0.5);
        assert_eq!(s.factor(10), 0.0);
        // transformers divides by max(1, total - warmup).
        let s = LinearSchedule::new(3, 3);
        assert_eq!(s.factor(1), 1.0 / 3.0);
        assert_eq!(s.factor(3), 0.0);
        let s = LinearSchedule::new(5, 2);
        assert_eq!(s.factor(4), 0.8);
        assert_eq!(s.factor(5), 0.0);
    }
}
