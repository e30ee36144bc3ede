//! Zones, counting lines, stays and event banners of `SapiensAnalyticsMeta`.
use opencv::core::Point;

use super::Canvas;
use crate::analytics::result::{AnalyticsResult, Event, EventKind};
use crate::analytics::shapes::Pt;
use crate::error::Result;

const ZONE_RGB: [u8; 3] = [0, 200, 255];
const CROWDED_RGB: [u8; 3] = [255, 40, 40];
const LINE_RGB: [u8; 3] = [255, 220, 0];
const TEXT_RGB: [u8; 3] = [255, 255, 255];
const LABEL_BG: [u8; 3] = [40, 40, 40];
const EVENT_BG: [u8; 3] = [170, 0, 90];

fn point(p: Pt) -> Point {
    Point::new(p.x.round() as i32, p.y.round() as i32)
}

fn text_scale(canvas: &Canvas<'_>) -> f64 {
    (canvas.width() as f64 / 1600.0).clamp(0.35, 1.0)
}

/// Draws the zones (outline; red when crowded) with their occupancy, the lines with their
/// in/out counts, and each tracked person's time in the zones they are in.
pub fn draw(canvas: &mut Canvas<'_>, a: &AnalyticsResult) -> Result<()> {
    let scale = text_scale(canvas);
    for z in &a.zones {
        let rgb = if z.crowded { CROWDED_RGB } else { ZONE_RGB };
        for (i, &p) in z.polygon.iter().enumerate() {
            let q = z.polygon[(i + 1) % z.polygon.len()];
            canvas.line(point(p), point(q), rgb, 2)?;
        }
        if let Some(&first) = z.polygon.first() {
            canvas.label(
                point(first),
                &format!("{}: {}", z.name, z.occupancy),
                scale,
                TEXT_RGB,
                rgb,
            )?;
        }
    }
    for l in &a.lines {
        let [p, q] = l.points;
        canvas.line(point(p), point(q), LINE_RGB, 3)?;
        canvas.label(
            point(p),
            &format!("{}: in {} out {}", l.name, l.count_in, l.count_out),
            scale,
            [0, 0, 0],
            LINE_RGB,
        )?;
    }
    for person in &a.persons {
        let [x1, _, _, y2] = person.bbox;
        let mut at = Point::new(x1.round() as i32, y2.round() as i32 + 2);
        for stay in &person.zones {
            canvas.label(
                at,
                &format!("{} {:.1} s", stay.zone, stay.dwell_s),
                scale * 0.8,
                TEXT_RGB,
                LABEL_BG,
            )?;
            at.y += (28.0 * scale).round() as i32;
        }
    }
    Ok(())
}

/// A line of text for an event (`#id` is the track id).
pub fn event_text(e: &Event) -> String {
    let who = e.id.map(|i| format!("#{i} ")).unwrap_or_default();
    match e.kind {
        EventKind::LineCrossed => format!(
            "{who}crossed {} ({})",
            e.rule,
            e.direction.as_deref().unwrap_or("?")
        ),
        EventKind::ZoneEntered => format!("{who}entered {}", e.rule),
        EventKind::ZoneLeft => format!(
            "{who}left {} after {:.1} s{}",
            e.rule,
            e.dwell_s.unwrap_or(0.0),
            if e.reason.is_some() { " (lost)" } else { "" }
        ),
        EventKind::DwellExceeded => {
            format!("{who}in {} for {:.1} s", e.rule, e.dwell_s.unwrap_or(0.0))
        }
        EventKind::Fall => format!("{who}FELL"),
        EventKind::Lying => format!("{who}lying"),
        EventKind::Crowded => format!("{} crowded: {} persons", e.rule, e.occupancy.unwrap_or(0)),
    }
}

/// Recent events' texts stacked at the bottom left, newest lowest.
pub fn banner(canvas: &mut Canvas<'_>, lines: &[String]) -> Result<()> {
    let scale = text_scale(canvas);
    let step = (34.0 * scale).round() as i32;
    let mut y = canvas.height() - step * lines.len() as i32 - 4;
    for text in lines {
        canvas.label(Point::new(4, y), text, scale, TEXT_RGB, EVENT_BG)?;
        y += step;
    }
    Ok(())
}
