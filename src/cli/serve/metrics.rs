//! `GET /metrics`: the fleet's figures in the OpenMetrics text format (which Prometheus scrapes),
//! read from the cameras at each scrape through a `prometheus-client` collector. Counters are
//! per camera pipeline: they start again from 0 when a failed camera is restarted (Prometheus'
//! `rate()` takes such resets).
use std::sync::Arc;

use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

use super::Fleet;
use super::camera::{CameraInfo, State};
use crate::pipelining::{BUCKETS_MS, ExecutorStats, Histogram};

/// OpenMetrics' content type (what Prometheus asks for first).
pub const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// The classic Prometheus text format's content type (`promtool check metrics` reads it).
pub const CLASSIC: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The exposition of `fleet` now, in OpenMetrics, or in the classic text format when
/// `openmetrics` is false (a client that does not accept OpenMetrics); with its content type.
pub fn render(fleet: &Arc<Fleet>, openmetrics: bool) -> (&'static str, String) {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(FleetCollector(fleet.clone())));
    let mut text = String::new();
    // Writing to a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut text, &registry);
    if openmetrics {
        (OPENMETRICS, text)
    } else {
        (CLASSIC, classic(&text))
    }
}

/// An OpenMetrics exposition in the classic text format: a counter family is named with its
/// `_total` suffix there, and there are no `# UNIT` or `# EOF` lines.
fn classic(openmetrics: &str) -> String {
    let lines: Vec<&str> = openmetrics.lines().collect();
    let mut out = String::with_capacity(openmetrics.len());
    for (i, line) in lines.iter().enumerate() {
        if *line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let counter_name = |l: &str| {
            let name = l.strip_prefix("# TYPE ")?.strip_suffix(" counter")?;
            Some(name.to_string())
        };
        let renamed = if let Some(name) = counter_name(line) {
            Some(format!("# TYPE {name}_total counter"))
        } else if let Some(rest) = line.strip_prefix("# HELP ") {
            // HELP comes just before its TYPE line.
            let name = rest.split(' ').next().unwrap_or_default();
            lines
                .get(i + 1)
                .and_then(|next| counter_name(next))
                .filter(|n| n == name)
                .map(|_| format!("# HELP {name}_total{}", &rest[name.len()..]))
        } else {
            None
        };
        out.push_str(renamed.as_deref().unwrap_or(line));
        out.push('\n');
    }
    out
}

#[derive(Debug)]
struct FleetCollector(Arc<Fleet>);

impl std::fmt::Debug for Fleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Fleet")
    }
}

type Labels = Vec<(&'static str, String)>;

fn counters(
    enc: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    values: Vec<(Labels, u64)>,
) -> std::fmt::Result {
    write(enc, name, help, values, MetricType::Counter, |v, e| {
        ConstCounter::new(v).encode(e)
    })
}

fn gauges(
    enc: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    values: Vec<(Labels, f64)>,
) -> std::fmt::Result {
    write(enc, name, help, values, MetricType::Gauge, |v, e| {
        ConstGauge::new(v).encode(e)
    })
}

/// One metric family `name` (without `_total`) of `kind`: its labelled values.
fn write<V>(
    enc: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    values: Vec<(Labels, V)>,
    kind: MetricType,
    encode: impl Fn(V, prometheus_client::encoding::MetricEncoder<'_>) -> std::fmt::Result,
) -> std::fmt::Result {
    if values.is_empty() {
        return Ok(());
    }
    let mut metric = enc.encode_descriptor(name, help, None, kind)?;
    if values.len() == 1 && values[0].0.is_empty() {
        let (_, v) = values.into_iter().next().expect("one value");
        return encode(v, metric);
    }
    for (labels, v) in values {
        encode(v, metric.encode_family(&labels)?)?;
    }
    Ok(())
}

fn histograms(
    enc: &mut DescriptorEncoder<'_>,
    name: &'static str,
    help: &'static str,
    values: Vec<(Labels, Histogram)>,
) -> std::fmt::Result {
    if values.is_empty() {
        return Ok(());
    }
    let mut metric = enc.encode_descriptor(name, help, None, MetricType::Histogram)?;
    for (labels, h) in values {
        // Seconds, with the last bucket above the last bound as +Inf.
        let buckets: Vec<(f64, u64)> = BUCKETS_MS
            .iter()
            .map(|b| b / 1e3)
            .chain(std::iter::once(f64::MAX))
            .zip(h.counts.iter().copied())
            .collect();
        metric
            .encode_family(&labels)?
            .encode_histogram::<prometheus_client::encoding::NoLabelSet>(
                h.sum_ms / 1e3,
                h.count(),
                &buckets,
                None,
            )?;
    }
    Ok(())
}

impl prometheus_client::collector::Collector for FleetCollector {
    fn encode(&self, mut enc: DescriptorEncoder<'_>) -> std::fmt::Result {
        let cams: Vec<CameraInfo> = self.0.cameras().iter().map(|c| c.info()).collect();
        let cam = |c: &CameraInfo| vec![("camera", c.id.clone())];
        let head = |c: &CameraInfo, h: &super::camera::HeadInfo| {
            vec![
                ("camera", c.id.clone()),
                ("head", h.name.clone()),
                ("element", h.element.clone()),
            ]
        };
        gauges(
            &mut enc,
            "sapiens_uptime_seconds",
            "Seconds since the service started",
            vec![(Vec::new(), self.0.started.elapsed().as_secs_f64())],
        )?;
        gauges(
            &mut enc,
            "sapiens_cameras",
            "Cameras of the service by state",
            State::ALL
                .iter()
                .map(|s| {
                    let n = cams.iter().filter(|c| c.state == *s).count();
                    (vec![("state", s.as_str().to_string())], n as f64)
                })
                .collect(),
        )?;
        gauges(
            &mut enc,
            "sapiens_camera_up",
            "1 while the camera delivers frames (running), else 0",
            cams.iter()
                .map(|c| (cam(c), f64::from(u8::from(c.state == State::Running))))
                .collect(),
        )?;
        let per_cam = |f: fn(&CameraInfo) -> u64| -> Vec<(Labels, u64)> {
            cams.iter().map(|c| (cam(c), f(c))).collect()
        };
        counters(
            &mut enc,
            "sapiens_camera_frames_in",
            "Frames decoded into the camera's pipeline",
            per_cam(|c| c.frames_in),
        )?;
        counters(
            &mut enc,
            "sapiens_camera_frames_out",
            "Frames out of the camera's last inference element",
            per_cam(|c| c.frames_out),
        )?;
        counters(
            &mut enc,
            "sapiens_camera_restarts",
            "Times the camera's pipeline failed and was restarted",
            per_cam(|c| c.restarts),
        )?;
        let rtsp = |f: fn(&crate::elements::sapienscamsrc::CameraStats) -> u64| {
            cams.iter()
                .filter_map(|c| Some((cam(c), f(c.camera.as_ref()?))))
                .collect::<Vec<_>>()
        };
        counters(
            &mut enc,
            "sapiens_camera_outages",
            "Times the RTSP camera was lost",
            rtsp(|s| s.outages),
        )?;
        counters(
            &mut enc,
            "sapiens_camera_reconnects",
            "RTSP reconnection attempts",
            rtsp(|s| s.reconnects),
        )?;
        counters(
            &mut enc,
            "sapiens_camera_dropped_behind",
            "RTSP camera frames dropped because the pipeline was behind",
            rtsp(|s| s.dropped_behind),
        )?;
        counters(
            &mut enc,
            "sapiens_analytics_events",
            "Analytics events (zones, lines, falls) by camera, type and rule",
            cams.iter()
                .flat_map(|c| {
                    c.events.iter().map(|e| {
                        (
                            vec![
                                ("camera", c.id.clone()),
                                ("type", e.kind.clone()),
                                ("rule", e.rule.clone()),
                            ],
                            e.count,
                        )
                    })
                })
                .collect(),
        )?;
        gauges(
            &mut enc,
            "sapiens_persons",
            "Persons in the camera's last frame",
            cams.iter().map(|c| (cam(c), c.persons as f64)).collect(),
        )?;
        gauges(
            &mut enc,
            "sapiens_recording_bytes",
            "Size of the recording being written",
            cams.iter()
                .filter_map(|c| Some((cam(c), c.recording.as_ref()?.bytes as f64)))
                .collect(),
        )?;
        let heads: Vec<(Labels, &ExecutorStats)> = cams
            .iter()
            .flat_map(|c| c.heads.iter().map(move |h| (head(c, h), &h.stats)))
            .collect();
        let per_head = |f: fn(&ExecutorStats) -> u64| -> Vec<(Labels, u64)> {
            heads.iter().map(|(l, s)| (l.clone(), f(s))).collect()
        };
        for (name, help, f) in [
            (
                "sapiens_head_frames_in",
                "Frames into the inference element",
                (|s| s.frames_in) as fn(&ExecutorStats) -> u64,
            ),
            (
                "sapiens_head_frames_out",
                "Frames out of the inference element",
                |s| s.frames_out,
            ),
            (
                "sapiens_head_dropped",
                "Frames dropped by the drop or skip policy (element behind a live source)",
                |s| s.dropped,
            ),
            (
                "sapiens_head_carried",
                "Frames not inferred, carrying the last results (skip policy or interval)",
                |s| s.carried,
            ),
            ("sapiens_head_failed", "Frames lost to an error", |s| {
                s.failed
            }),
            ("sapiens_head_runs", "Model runs (batches)", |s| s.runs),
        ] {
            counters(&mut enc, name, help, per_head(f))?;
        }
        // The sessions the cameras share (`model-instance`).
        let sessions = crate::runtime::shared::instances();
        let per_session = |f: fn(&crate::runtime::shared::InstanceStats) -> u64| {
            sessions
                .iter()
                .map(|s| (vec![("session", s.name.clone())], f(s)))
                .collect::<Vec<_>>()
        };
        counters(
            &mut enc,
            "sapiens_session_runs",
            "Model runs of a shared session (each may serve several cameras' requests)",
            per_session(|s| s.runs),
        )?;
        counters(
            &mut enc,
            "sapiens_session_requests",
            "Requests (element model runs) a shared session served",
            per_session(|s| s.requests),
        )?;
        counters(
            &mut enc,
            "sapiens_session_items",
            "Items (person crops or frames) a shared session inferred",
            per_session(|s| s.items),
        )?;
        gauges(
            &mut enc,
            "sapiens_session_queue_depth",
            "Requests waiting for a shared session now",
            sessions
                .iter()
                .map(|s| (vec![("session", s.name.clone())], s.queued as f64))
                .collect(),
        )?;
        if !sessions.is_empty() {
            let mut metric = enc.encode_descriptor(
                "sapiens_session_batch_items",
                "Items per model run of a shared session (the batches formed)",
                None,
                MetricType::Histogram,
            )?;
            for s in &sessions {
                let buckets: Vec<(f64, u64)> = crate::runtime::shared::BATCH_BUCKETS
                    .iter()
                    .map(|b| *b as f64)
                    .chain(std::iter::once(f64::MAX))
                    .zip(s.items_hist.iter().copied())
                    .collect();
                let labels = vec![("session", s.name.clone())];
                metric
                    .encode_family(&labels)?
                    .encode_histogram::<prometheus_client::encoding::NoLabelSet>(
                        s.items as f64,
                        s.runs,
                        &buckets,
                        None,
                    )?;
            }
        }
        histograms(
            &mut enc,
            "sapiens_head_inference_seconds",
            "Time of each model run",
            heads
                .iter()
                .map(|(l, s)| (l.clone(), s.infer_hist.clone()))
                .collect(),
        )?;
        histograms(
            &mut enc,
            "sapiens_head_latency_seconds",
            "Time of each frame in the element, in to out",
            heads
                .iter()
                .map(|(l, s)| (l.clone(), s.total_hist.clone()))
                .collect(),
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_classic_format_names_counters_with_their_total() {
        let om = "# HELP a_frames Frames in\n# TYPE a_frames counter\na_frames_total{camera=\"x\"} 3\n\
                  # HELP b Persons\n# TYPE b gauge\n# UNIT b persons\nb 1.0\n# EOF\n";
        assert_eq!(
            super::classic(om),
            "# HELP a_frames_total Frames in\n# TYPE a_frames_total counter\n\
             a_frames_total{camera=\"x\"} 3\n# HELP b Persons\n# TYPE b gauge\nb 1.0\n"
        );
    }
}
