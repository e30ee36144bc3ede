//! `SapiensAnalyticsMeta`: one analytics result per buffer (`sapiensanalytics`).
//!
//! Structure `sapiens/analytics`; frame pixels, seconds of stream time:
//!
//! | field | type | meaning |
//! |---|---|---|
//! | `zones` | array of `zone` | `name`, `occupancy` (uint), `crowded` (boolean), `ids` (array of uint), `points` (array of float: x0, y0, x1, y1, … the outline) |
//! | `lines` | array of `line` | `name`, `in`, `out` (uint64: crossings since the start), `points` (x0, y0, x1, y1) |
//! | `persons` | array of `person` | `id` (uint), `x1`, `y1`, `x2`, `y2` (float), `lying` (boolean), `zones` (array of `stay`: `zone`, `dwell-s`) |
//! | `events` | array of `event` | see [`event_structure`] |
use gst::prelude::*;

use super::{attach, read};
use crate::analytics::result::{
    AnalyticsResult, Event, EventKind, LineStatus, PersonStatus, Stay, ZoneStatus,
};
use crate::analytics::shapes::Pt;
use crate::error::{Error, Result};

pub const ANALYTICS_META: &str = "SapiensAnalyticsMeta";
const STRUCTURE: &str = "sapiens/analytics";

fn bad(msg: String) -> Error {
    Error::Meta {
        name: ANALYTICS_META.into(),
        msg,
    }
}

fn array<T>(items: &[T], f: impl Fn(&T) -> gst::Structure) -> gst::Array {
    gst::Array::new(items.iter().map(|i| f(i).to_send_value()))
}

/// Points as a flat array of floats x0, y0, x1, y1, …
fn points(pts: &[Pt]) -> gst::Array {
    gst::Array::new(
        pts.iter()
            .flat_map(|p| [p.x.to_send_value(), p.y.to_send_value()]),
    )
}

fn points_from(s: &gst::StructureRef) -> Result<Vec<Pt>> {
    let v = field::<gst::Array>(s, "points")?
        .iter()
        .map(|v| v.get::<f32>().map_err(|e| bad(format!("points: {e}"))))
        .collect::<Result<Vec<f32>>>()?;
    if v.len() % 2 != 0 {
        return Err(bad(format!("points: {} numbers, not x, y pairs", v.len())));
    }
    Ok(v.chunks_exact(2).map(|c| Pt::new(c[0], c[1])).collect())
}

fn structures(s: &gst::StructureRef, name: &str) -> Result<Vec<gst::Structure>> {
    s.get::<gst::Array>(name)
        .map_err(|e| bad(format!("field '{name}': {e}")))?
        .iter()
        .map(|v| {
            v.get::<gst::Structure>()
                .map_err(|e| bad(format!("{name}: {e}")))
        })
        .collect()
}

fn field<'a, T: gst::glib::value::FromValue<'a> + 'static>(
    s: &'a gst::StructureRef,
    name: &str,
) -> Result<T> {
    s.get::<T>(name)
        .map_err(|e| bad(format!("{} field '{name}': {e}", s.name())))
}

fn opt<'a, T: gst::glib::value::FromValue<'a> + 'static>(
    s: &'a gst::StructureRef,
    name: &str,
) -> Result<Option<T>> {
    if s.has_field(name) {
        field(s, name).map(Some)
    } else {
        Ok(None)
    }
}

/// An event as the structure `event` (in the meta's `events` and as the bus message
/// `sapiens-analytics-event`): `type` (`line_crossed`, `zone_entered`, `zone_left`,
/// `dwell_exceeded`, `crowded`), `rule`, `pts-s` (double); when they apply `id` (uint, track),
/// `anchor` (`keypoints`, `box-bottom`, `box-center`), `x`, `y` (float, the anchor point),
/// `direction` (`in`, `out`), `dwell-s` (double), `occupancy` (uint), `reason` (`lost`),
/// `drop` (float: hip drop in standing heights, `fall`/`lying`), `height-m` (float) and
/// `surface` (`floor`, `raised`) with a pointmap. `type` may also be `fall` or
/// `lying` (rule `fall`).
pub fn event_structure(e: &Event) -> gst::Structure {
    let mut b = gst::Structure::builder("event")
        .field("type", e.kind.as_str())
        .field("rule", e.rule.as_str())
        .field("pts-s", e.pts_s)
        .field_if_some("id", e.id)
        .field_if_some("anchor", e.anchor.as_deref())
        .field_if_some("direction", e.direction.as_deref())
        .field_if_some("dwell-s", e.dwell_s)
        .field_if_some("occupancy", e.occupancy)
        .field_if_some("reason", e.reason.as_deref())
        .field_if_some("drop", e.drop)
        .field_if_some("height-m", e.height_m)
        .field_if_some("surface", e.surface.as_deref());
    if let Some(p) = e.at {
        b = b.field("x", p.x).field("y", p.y);
    }
    b.build()
}

/// An event read back from its structure ([`event_structure`], also a bus message's).
pub fn event_from_structure(s: &gst::StructureRef) -> Result<Event> {
    let kind: String = field(s, "type")?;
    Ok(Event {
        kind: EventKind::parse(&kind).ok_or_else(|| bad(format!("unknown event type '{kind}'")))?,
        rule: field(s, "rule")?,
        id: opt(s, "id")?,
        pts_s: field(s, "pts-s")?,
        anchor: opt(s, "anchor")?,
        at: match (opt::<f32>(s, "x")?, opt::<f32>(s, "y")?) {
            (Some(x), Some(y)) => Some(Pt::new(x, y)),
            _ => None,
        },
        direction: opt(s, "direction")?,
        dwell_s: opt(s, "dwell-s")?,
        occupancy: opt(s, "occupancy")?,
        reason: opt(s, "reason")?,
        drop: opt(s, "drop")?,
        height_m: opt(s, "height-m")?,
        surface: opt(s, "surface")?,
    })
}

/// Attaches (or replaces) the analytics meta on `buffer`.
pub fn attach_result(r: &AnalyticsResult, buffer: &mut gst::BufferRef) -> Result<()> {
    attach(buffer, ANALYTICS_META, STRUCTURE, |s| {
        s.set(
            "zones",
            array(&r.zones, |z| {
                gst::Structure::builder("zone")
                    .field("name", z.name.as_str())
                    .field("occupancy", z.occupancy)
                    .field("crowded", z.crowded)
                    .field(
                        "ids",
                        gst::Array::new(z.ids.iter().map(|i| i.to_send_value())),
                    )
                    .field("points", points(&z.polygon))
                    .build()
            }),
        );
        s.set(
            "lines",
            array(&r.lines, |l| {
                gst::Structure::builder("line")
                    .field("name", l.name.as_str())
                    .field("in", l.count_in)
                    .field("out", l.count_out)
                    .field("points", points(&l.points))
                    .build()
            }),
        );
        s.set(
            "persons",
            array(&r.persons, |p| {
                gst::Structure::builder("person")
                    .field("id", p.id)
                    .field("x1", p.bbox[0])
                    .field("y1", p.bbox[1])
                    .field("x2", p.bbox[2])
                    .field("y2", p.bbox[3])
                    .field("lying", p.lying)
                    .field(
                        "zones",
                        array(&p.zones, |st| {
                            gst::Structure::builder("stay")
                                .field("zone", st.zone.as_str())
                                .field("dwell-s", st.dwell_s)
                                .build()
                        }),
                    )
                    .build()
            }),
        );
        s.set("events", array(&r.events, event_structure));
    })
}

/// Reads the analytics meta of `buffer`; `Ok(None)` when there is none.
pub fn from_buffer(buffer: &gst::BufferRef) -> Result<Option<AnalyticsResult>> {
    read(buffer, ANALYTICS_META, |s| {
        let zones = structures(s, "zones")?
            .iter()
            .map(|z| {
                Ok(ZoneStatus {
                    name: field(z, "name")?,
                    occupancy: field(z, "occupancy")?,
                    crowded: field(z, "crowded")?,
                    ids: field::<gst::Array>(z, "ids")?
                        .iter()
                        .map(|v| v.get::<u32>().map_err(|e| bad(format!("zone ids: {e}"))))
                        .collect::<Result<_>>()?,
                    polygon: points_from(z)?,
                })
            })
            .collect::<Result<_>>()?;
        let lines = structures(s, "lines")?
            .iter()
            .map(|l| {
                Ok(LineStatus {
                    name: field(l, "name")?,
                    count_in: field(l, "in")?,
                    count_out: field(l, "out")?,
                    points: points_from(l)?.try_into().map_err(|p: Vec<Pt>| {
                        bad(format!("line points: {} points, not 2", p.len()))
                    })?,
                })
            })
            .collect::<Result<_>>()?;
        let persons = structures(s, "persons")?
            .iter()
            .map(|p| {
                Ok(PersonStatus {
                    id: field(p, "id")?,
                    lying: field(p, "lying")?,
                    bbox: [
                        field(p, "x1")?,
                        field(p, "y1")?,
                        field(p, "x2")?,
                        field(p, "y2")?,
                    ],
                    zones: structures(p, "zones")?
                        .iter()
                        .map(|st| {
                            Ok(Stay {
                                zone: field(st, "zone")?,
                                dwell_s: field(st, "dwell-s")?,
                            })
                        })
                        .collect::<Result<_>>()?,
                })
            })
            .collect::<Result<_>>()?;
        let events = structures(s, "events")?
            .iter()
            .map(|e| event_from_structure(e))
            .collect::<Result<_>>()?;
        Ok(AnalyticsResult {
            zones,
            lines,
            persons,
            events,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_a_buffer() {
        gst::init().unwrap();
        let r = AnalyticsResult {
            zones: vec![ZoneStatus {
                name: "counter".into(),
                occupancy: 2,
                crowded: true,
                ids: vec![3, 9],
                polygon: vec![Pt::new(0.0, 0.0), Pt::new(10.0, 0.0), Pt::new(5.5, 8.0)],
            }],
            lines: vec![LineStatus {
                name: "door".into(),
                count_in: 4,
                count_out: 1,
                points: [Pt::new(1.0, 2.0), Pt::new(3.0, 4.0)],
            }],
            persons: vec![PersonStatus {
                id: 3,
                bbox: [1.0, 2.0, 30.0, 40.5],
                zones: vec![Stay {
                    zone: "counter".into(),
                    dwell_s: 2.25,
                }],
                lying: true,
            }],
            events: vec![
                Event {
                    kind: EventKind::LineCrossed,
                    rule: "door".into(),
                    id: Some(3),
                    pts_s: 1.5,
                    anchor: Some("keypoints".into()),
                    at: Some(Pt::new(10.0, 20.0)),
                    direction: Some("in".into()),
                    dwell_s: None,
                    occupancy: None,
                    reason: None,
                    drop: Some(0.4),
                    height_m: Some(0.1),
                    surface: Some("floor".into()),
                },
                Event {
                    kind: EventKind::Crowded,
                    rule: "counter".into(),
                    id: None,
                    pts_s: 1.5,
                    anchor: None,
                    at: None,
                    direction: None,
                    dwell_s: None,
                    occupancy: Some(2),
                    reason: None,
                    drop: None,
                    height_m: None,
                    surface: None,
                },
            ],
        };
        let mut buf = gst::Buffer::with_size(8).unwrap();
        assert_eq!(from_buffer(&buf).unwrap(), None);
        attach_result(&r, buf.get_mut().unwrap()).unwrap();
        assert_eq!(from_buffer(&buf.copy()).unwrap(), Some(r));
    }
}
