//! Plane geometry of the rules, in frame pixels (x right, y down).

/// A point in frame pixels.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Pt {
    pub x: f32,
    pub y: f32,
}

impl Pt {
    pub fn new(x: f32, y: f32) -> Self {
        Self { x, y }
    }

    fn sub(self, o: Pt) -> Pt {
        Pt::new(self.x - o.x, self.y - o.y)
    }

    fn dot(self, o: Pt) -> f32 {
        self.x * o.x + self.y * o.y
    }

    fn len(self) -> f32 {
        self.dot(self).sqrt()
    }
}

/// z of the cross product (b − a) × (p − a): positive when p is clockwise of a→b on screen
/// (y down), negative counter-clockwise, zero on the line.
pub fn cross(a: Pt, b: Pt, p: Pt) -> f32 {
    let (u, v) = (b.sub(a), p.sub(a));
    u.x * v.y - u.y * v.x
}

/// Distance from `p` to the segment a–b.
pub fn segment_distance(a: Pt, b: Pt, p: Pt) -> f32 {
    let ab = b.sub(a);
    let t = (p.sub(a).dot(ab) / ab.dot(ab).max(f32::MIN_POSITIVE)).clamp(0.0, 1.0);
    p.sub(Pt::new(a.x + t * ab.x, a.y + t * ab.y)).len()
}

/// Whether the segments p–q and a–b cross or touch.
pub fn segments_intersect(p: Pt, q: Pt, a: Pt, b: Pt) -> bool {
    let (d1, d2) = (cross(a, b, p), cross(a, b, q));
    let (d3, d4) = (cross(p, q, a), cross(p, q, b));
    let straddles = |u: f32, v: f32| (u <= 0.0 && v >= 0.0) || (u >= 0.0 && v <= 0.0);
    straddles(d1, d2) && straddles(d3, d4)
}

/// A closed polygon (at least 3 vertices, in order, either winding).
#[derive(Debug, Clone, PartialEq)]
pub struct Polygon(pub Vec<Pt>);

impl Polygon {
    /// Whether `p` is inside (even–odd rule; a point exactly on an edge may go either way).
    pub fn contains(&self, p: Pt) -> bool {
        let v = &self.0;
        let mut inside = false;
        let mut j = v.len() - 1;
        for i in 0..v.len() {
            let (a, b) = (v[i], v[j]);
            if (a.y > p.y) != (b.y > p.y) && p.x < (b.x - a.x) * (p.y - a.y) / (b.y - a.y) + a.x {
                inside = !inside;
            }
            j = i;
        }
        inside
    }

    /// Distance from `p` to the polygon's outline.
    pub fn edge_distance(&self, p: Pt) -> f32 {
        let v = &self.0;
        (0..v.len())
            .map(|i| segment_distance(v[i], v[(i + 1) % v.len()], p))
            .fold(f32::INFINITY, f32::min)
    }

    /// Area (shoelace), pixels².
    pub fn area(&self) -> f32 {
        let v = &self.0;
        let twice: f32 = (0..v.len())
            .map(|i| {
                let (a, b) = (v[i], v[(i + 1) % v.len()]);
                a.x * b.y - b.x * a.y
            })
            .sum();
        twice.abs() / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn square() -> Polygon {
        Polygon(vec![
            Pt::new(10.0, 10.0),
            Pt::new(30.0, 10.0),
            Pt::new(30.0, 30.0),
            Pt::new(10.0, 30.0),
        ])
    }

    #[test]
    fn polygon_inside_distance_and_area() {
        let sq = square();
        assert!(sq.contains(Pt::new(20.0, 20.0)));
        assert!(!sq.contains(Pt::new(5.0, 20.0)));
        assert!(!sq.contains(Pt::new(20.0, 31.0)));
        assert_eq!(sq.edge_distance(Pt::new(5.0, 20.0)), 5.0);
        assert_eq!(sq.edge_distance(Pt::new(20.0, 22.0)), 8.0);
        // Corner: the distance to the vertex, √(3² + 4²).
        assert_eq!(sq.edge_distance(Pt::new(33.0, 34.0)), 5.0);
        assert_eq!(sq.area(), 400.0);
        // A concave "L": the notch is outside.
        let l = Polygon(vec![
            Pt::new(0.0, 0.0),
            Pt::new(10.0, 0.0),
            Pt::new(10.0, 5.0),
            Pt::new(5.0, 5.0),
            Pt::new(5.0, 10.0),
            Pt::new(0.0, 10.0),
        ]);
        assert!(l.contains(Pt::new(2.0, 8.0)));
        assert!(!l.contains(Pt::new(8.0, 8.0)));
        assert_eq!(l.area(), 75.0);
    }

    #[test]
    fn sides_and_crossings() {
        let (a, b) = (Pt::new(0.0, 0.0), Pt::new(10.0, 0.0));
        // y down: below the a→b line is clockwise on screen.
        assert!(cross(a, b, Pt::new(5.0, 3.0)) > 0.0);
        assert!(cross(a, b, Pt::new(5.0, -3.0)) < 0.0);
        assert!(segments_intersect(
            Pt::new(5.0, -1.0),
            Pt::new(5.0, 1.0),
            a,
            b
        ));
        // Passing beyond the segment's end does not cross it.
        assert!(!segments_intersect(
            Pt::new(12.0, -1.0),
            Pt::new(12.0, 1.0),
            a,
            b
        ));
        assert_eq!(segment_distance(a, b, Pt::new(13.0, 4.0)), 5.0);
    }
}
