//! ByteTrack's Kalman filter on a box: state (cx, cy, a, h) and their velocities, constant
//! velocity, noise scaled by the box height (SORT/DeepSORT/ByteTrack's `KalmanFilter`). Every
//! matrix of that filter is block-diagonal over the four coordinates (F couples a coordinate only
//! with its own velocity, H picks positions, P₀, Q and R are diagonal), so it is exactly four
//! independent two-state filters, which is how it is written here.
use crate::geometry::BBox;

/// Position noise, × box height (ByteTrack: 1/20).
const STD_POSITION: f64 = 1.0 / 20.0;
/// Velocity noise, × box height (ByteTrack: 1/160).
const STD_VELOCITY: f64 = 1.0 / 160.0;
/// The aspect ratio's noise (ByteTrack's fixed values for `a`).
const STD_ASPECT: [f64; 3] = [1e-2, 1e-5, 1e-1];

/// One coordinate: position, velocity and their 2×2 covariance.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Axis {
    x: [f64; 2],
    p: [[f64; 2]; 2],
}

impl Axis {
    fn new(pos: f64, std_pos: f64, std_vel: f64) -> Self {
        Self {
            x: [pos, 0.0],
            p: [[std_pos * std_pos, 0.0], [0.0, std_vel * std_vel]],
        }
    }

    /// x ← F x, P ← F P Fᵀ + Q with F = [[1, 1], [0, 1]], Q = diag(q_pos², q_vel²).
    fn predict(&mut self, q_pos: f64, q_vel: f64) {
        let [[a, b], [c, d]] = self.p;
        self.x = [self.x[0] + self.x[1], self.x[1]];
        self.p = [
            [a + b + c + d + q_pos * q_pos, b + d],
            [c + d, d + q_vel * q_vel],
        ];
    }

    /// Standard update with a position measurement `z` of noise std `r`.
    fn update(&mut self, z: f64, r: f64) {
        let [[a, b], [c, d]] = self.p;
        let s = a + r * r;
        let (k0, k1) = (a / s, c / s);
        let y = z - self.x[0];
        self.x = [self.x[0] + k0 * y, self.x[1] + k1 * y];
        self.p = [[(1.0 - k0) * a, (1.0 - k0) * b], [c - k1 * a, d - k1 * b]];
    }
}

/// A box's filter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoxFilter {
    /// cx, cy, a (w/h), h.
    axes: [Axis; 4],
}

fn measure(b: &BBox) -> [f64; 4] {
    let (w, h) = ((b.x2 - b.x1) as f64, (b.y2 - b.y1) as f64);
    [
        (b.x1 + b.x2) as f64 / 2.0,
        (b.y1 + b.y2) as f64 / 2.0,
        w / h.max(1e-6),
        h,
    ]
}

impl BoxFilter {
    /// Starts at `b`, at rest, with ByteTrack's initial uncertainty.
    pub fn new(b: &BBox) -> Self {
        let z = measure(b);
        let h = z[3];
        let axis = |i: usize| {
            if i == 2 {
                Axis::new(z[i], STD_ASPECT[0], STD_ASPECT[1])
            } else {
                Axis::new(z[i], 2.0 * STD_POSITION * h, 10.0 * STD_VELOCITY * h)
            }
        };
        Self {
            axes: [axis(0), axis(1), axis(2), axis(3)],
        }
    }

    /// One frame ahead.
    pub fn predict(&mut self) {
        let h = self.axes[3].x[0];
        for (i, a) in self.axes.iter_mut().enumerate() {
            if i == 2 {
                a.predict(STD_ASPECT[0], STD_ASPECT[1]);
            } else {
                a.predict(STD_POSITION * h, STD_VELOCITY * h);
            }
        }
    }

    /// Corrects with a measured box.
    pub fn update(&mut self, b: &BBox) {
        let z = measure(b);
        let h = self.axes[3].x[0];
        for (i, a) in self.axes.iter_mut().enumerate() {
            let r = if i == 2 {
                STD_ASPECT[2]
            } else {
                STD_POSITION * h
            };
            a.update(z[i], r);
        }
    }

    /// The box the state describes.
    pub fn bbox(&self) -> BBox {
        let [cx, cy, a, h] = self.axes.map(|a| a.x[0]);
        let w = a * h;
        BBox {
            x1: (cx - w / 2.0) as f32,
            y1: (cy - h / 2.0) as f32,
            x2: (cx + w / 2.0) as f32,
            y2: (cy + h / 2.0) as f32,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bx(x: f32, y: f32) -> BBox {
        BBox {
            x1: x,
            y1: y,
            x2: x + 40.0,
            y2: y + 100.0,
        }
    }

    #[test]
    fn learns_a_constant_velocity_and_predicts_ahead() {
        // A box moving +5 px/frame in x: after a few updates the prediction leads by ~5 px.
        let mut f = BoxFilter::new(&bx(0.0, 50.0));
        for t in 1..30 {
            f.predict();
            f.update(&bx(5.0 * t as f32, 50.0));
        }
        f.predict();
        let p = f.bbox();
        assert!((p.x1 - 150.0).abs() < 1.0, "{p:?}");
        assert!(
            (p.y1 - 50.0).abs() < 0.5 && ((p.y2 - p.y1) - 100.0).abs() < 0.5,
            "{p:?}"
        );
        assert!(((p.x2 - p.x1) - 40.0).abs() < 0.5, "{p:?}");
    }

    #[test]
    fn a_static_box_stays_put_and_its_measurement_is_followed() {
        let mut f = BoxFilter::new(&bx(10.0, 10.0));
        for _ in 0..5 {
            f.predict();
            f.update(&bx(10.0, 10.0));
        }
        let b = f.bbox();
        assert!(
            (b.x1 - 10.0).abs() < 1e-3 && (b.y2 - 110.0).abs() < 1e-3,
            "{b:?}"
        );
    }
}
