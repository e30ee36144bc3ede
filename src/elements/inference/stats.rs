//! The `stats` property: [`ExecutorStats`] as a `GstStructure` named `sapiens-stats`, with
//! fields `frames-in`, `frames-out`, `flushed`, `failed`, `dropped`, `carried`, `runs` (model runs) (u64), `fps` and
//! `<stage>-<mean|p50|p95|p99>-ms` (f64) for stages `pre`, `infer`, `post`, `total`, and for
//! `infer` (per model run) and `total` (per frame) since the start `<stage>-hist` (an array of
//! u64 counts per bucket of [`BUCKETS_MS`], the last one above its last bound) and
//! `<stage>-hist-sum-ms` (f64).
use crate::error::{Error, Result};
use crate::pipelining::{BUCKETS_MS, ExecutorStats, Histogram, LatencySummary};

/// Structure name.
pub const NAME: &str = "sapiens-stats";

fn stages(s: &mut ExecutorStats) -> [(&'static str, &mut LatencySummary); 4] {
    [
        ("pre", &mut s.pre),
        ("infer", &mut s.infer),
        ("post", &mut s.post),
        ("total", &mut s.total),
    ]
}

fn latencies(l: &mut LatencySummary) -> [(&'static str, &mut f64); 4] {
    [
        ("mean", &mut l.mean_ms),
        ("p50", &mut l.p50_ms),
        ("p95", &mut l.p95_ms),
        ("p99", &mut l.p99_ms),
    ]
}

pub fn to_structure(stats: &ExecutorStats) -> gst::Structure {
    let mut s = stats.clone();
    let mut b = gst::Structure::builder(NAME)
        .field("frames-in", s.frames_in)
        .field("frames-out", s.frames_out)
        .field("flushed", s.flushed)
        .field("failed", s.failed)
        .field("dropped", s.dropped)
        .field("carried", s.carried)
        .field("runs", s.runs)
        .field("fps", s.fps);
    for (stage, l) in stages(&mut s) {
        for (what, v) in latencies(l) {
            b = b.field(format!("{stage}-{what}-ms"), *v);
        }
    }
    for (stage, h) in [("infer", &s.infer_hist), ("total", &s.total_hist)] {
        b = b
            .field(
                format!("{stage}-hist"),
                gst::Array::new(
                    h.counts
                        .iter()
                        .map(gst::prelude::ToSendValue::to_send_value),
                ),
            )
            .field(format!("{stage}-hist-sum-ms"), h.sum_ms);
    }
    b.build()
}

pub fn from_structure(st: &gst::StructureRef) -> Result<ExecutorStats> {
    let err = |e: gst::structure::GetError<_>| Error::Meta {
        name: NAME.into(),
        msg: e.to_string(),
    };
    let mut s = ExecutorStats {
        frames_in: st.get("frames-in").map_err(err)?,
        frames_out: st.get("frames-out").map_err(err)?,
        flushed: st.get("flushed").map_err(err)?,
        failed: st.get("failed").map_err(err)?,
        dropped: st.get("dropped").map_err(err)?,
        carried: st.get("carried").map_err(err)?,
        runs: st.get("runs").map_err(err)?,
        fps: st.get("fps").map_err(err)?,
        ..Default::default()
    };
    for (stage, l) in stages(&mut s) {
        for (what, v) in latencies(l) {
            *v = st.get(format!("{stage}-{what}-ms").as_str()).map_err(err)?;
        }
    }
    for (stage, h) in [("infer", &mut s.infer_hist), ("total", &mut s.total_hist)] {
        let counts = st
            .get::<gst::Array>(format!("{stage}-hist").as_str())
            .map_err(err)?
            .iter()
            .map(|v| v.get::<u64>())
            .collect::<std::result::Result<Vec<u64>, _>>()
            .map_err(|e| Error::Meta {
                name: NAME.into(),
                msg: format!("{stage}-hist: {e}"),
            })?;
        if counts.len() != BUCKETS_MS.len() + 1 {
            return Err(Error::Meta {
                name: NAME.into(),
                msg: format!(
                    "{stage}-hist has {} buckets, not {}",
                    counts.len(),
                    BUCKETS_MS.len() + 1
                ),
            });
        }
        *h = Histogram {
            counts,
            sum_ms: st
                .get(format!("{stage}-hist-sum-ms").as_str())
                .map_err(err)?,
        };
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        gst::init().unwrap();
        let l = |b: f64| LatencySummary {
            mean_ms: b,
            p50_ms: b + 1.0,
            p95_ms: b + 2.0,
            p99_ms: b + 3.0,
        };
        let mut s = ExecutorStats {
            frames_in: 10,
            frames_out: 8,
            flushed: 1,
            failed: 1,
            dropped: 3,
            carried: 2,
            runs: 5,
            fps: 4.5,
            pre: l(1.0),
            infer: l(10.0),
            post: l(20.0),
            total: l(30.0),
            infer_hist: Histogram::default(),
            total_hist: Histogram::default(),
        };
        s.infer_hist.add(7.0);
        s.total_hist.add(70.0);
        s.total_hist.add(20_000.0);
        let st = to_structure(&s);
        assert_eq!(st.get::<f64>("infer-p95-ms").unwrap(), 12.0);
        assert_eq!(from_structure(&st).unwrap(), s);
    }
}
