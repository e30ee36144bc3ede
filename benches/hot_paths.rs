//! Criterion benches of the per-frame hot paths (single-threaded OpenCV):
//! pre-processing (720p/1080p → 1024×768 NCHW: the pose crop's warp, and the dense stretch as
//! `resize` beside the `warpAffine` it replaced), pose decoding (308 keypoints, 1 and 8 persons, 8 in parallel),
//! skeleton drawing, seg logits → 1080p labels in both modes, and analytics on 10 persons. Run: `cargo bench --bench hot_paths`.
#![allow(clippy::unwrap_used)] // test and measuring code: a failed unwrap is the report
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sapiens_stream::config::SegMode;
use sapiens_stream::geometry::{BBox, Crop, stretch};
use sapiens_stream::heads::pose::{Keypoint, PoseDecoder};
use sapiens_stream::heads::{Planes, seg};
use sapiens_stream::labels::KeypointSetId;
use sapiens_stream::meta::pose::{PersonPose, PoseResult};
use sapiens_stream::preprocess::{
    FrameView, Normalization, PixelLayout, Sampling, YuvMatrix, sample_normalize,
};
use sapiens_stream::render::dense::Packed;
use sapiens_stream::render::{Canvas, pose};

const NORM: Normalization = Normalization {
    width: 768,
    height: 1024,
    mean: [123.5, 116.5, 103.5],
    std: [58.5, 57.0, 57.5],
};

fn frame(w: u32, h: u32) -> Vec<u8> {
    (0..(w * h * 4)).map(|i| (i * 7 % 251) as u8).collect()
}

/// A packed BGRx frame of `w`×`h` over `data`.
fn bgrx_view(data: &[u8], w: u32, h: u32) -> FrameView<'_> {
    FrameView {
        layout: PixelLayout::BGRX,
        width: w,
        height: h,
        planes: vec![(data, w as usize * 4)],
        matrix: YuvMatrix::BT709,
    }
}

/// Each way a `w`×`h` frame reaches the input: pose crop (UDP warp), dense stretch with
/// `resize` (what runs), and the same stretch as a `warpAffine` (what it replaced).
fn samplings(w: u32, h: u32) -> [(&'static str, Sampling); 3] {
    let crop = Crop::from_box(&BBox::frame(w, h), 1.25, 0.75);
    [
        (
            "pose_crop_warp",
            Sampling::Warp(crop.udp_warp(NORM.width, NORM.height)),
        ),
        ("dense_stretch_resize", Sampling::Stretch),
        (
            "dense_stretch_warp_before",
            Sampling::Warp(stretch(w, h, NORM.width, NORM.height)),
        ),
    ]
}

fn preprocess(c: &mut Criterion) {
    opencv::core::set_num_threads(1).unwrap();
    let mut g = c.benchmark_group("preprocess");
    g.throughput(Throughput::Elements(1));
    let mut out = vec![0.0f32; NORM.item_len()];
    for (name, w, h) in [("720p_bgrx", 1280, 720), ("1080p_bgrx", 1920, 1080)] {
        let data = frame(w, h);
        let view = bgrx_view(&data, w, h);
        for (how, sampling) in samplings(w, h) {
            g.bench_function(format!("{name}_{how}"), |b| {
                b.iter(|| sample_normalize(&view, &sampling, &NORM, &mut out).unwrap())
            });
        }
    }
    // The same crop computed by the graph form (scripts/preprocess_graph.py, ONNX Runtime on the
    // CPU, one thread): BGRx bytes and the map in, the normalized tensor out.
    {
        use ort::value::TensorRef;
        let (w, h) = (768u32, 576u32);
        let data = frame(w, h);
        let view = bgrx_view(&data, w, h);
        let map = Crop::from_box(&BBox::frame(w, h), 1.25, 0.75).udp_warp(NORM.width, NORM.height);
        g.bench_function("768x576_bgrx_pose_crop_cpu", |b| {
            b.iter(|| sample_normalize(&view, &Sampling::Warp(map), &NORM, &mut out).unwrap())
        });
        let env = sapiens_stream::runtime::environment().unwrap();
        let mut session = ort::session::Session::builder(&env)
            .unwrap()
            .with_intra_threads(1)
            .unwrap()
            .commit_from_file(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/models/pose_warp_bgrx.onnx"
            ))
            .unwrap();
        let affine: Vec<f64> = map.0.iter().flatten().copied().collect();
        g.bench_function("768x576_bgrx_pose_crop_in_graph", |b| {
            b.iter(|| {
                let frame =
                    TensorRef::from_array_view(([h as usize, w as usize, 4], &data[..])).unwrap();
                let aff = TensorRef::from_array_view(([1usize, 2, 3], &affine[..])).unwrap();
                session
                    .run(ort::inputs!["frame" => frame, "affine" => aff])
                    .unwrap()
                    .len()
            })
        });
    }
    // 1080p I420: planes resampled separately, converted per output pixel.
    let (w, h) = (1920u32, 1080u32);
    let (y, uv) = (frame(w, h / 4), frame(w / 2, h / 4)); // w*h and w*h/2 bytes
    let (yp, up, vp) = (
        &y[..(w * h) as usize],
        &uv[..(w * h / 4) as usize],
        &uv[(w * h / 4) as usize..(w * h / 2) as usize],
    );
    let view = FrameView {
        layout: PixelLayout::I420,
        width: w,
        height: h,
        planes: vec![(yp, w as usize), (up, w as usize / 2), (vp, w as usize / 2)],
        matrix: YuvMatrix::BT709,
    };
    for (how, sampling) in samplings(w, h) {
        g.bench_function(format!("1080p_i420_{how}"), |b| {
            b.iter(|| sample_normalize(&view, &sampling, &NORM, &mut out).unwrap())
        });
    }
    g.finish();
}

/// Heatmaps with one Gaussian peak per channel at a channel-dependent place.
fn heatmaps(k: usize) -> Vec<f32> {
    let (w, h) = (192usize, 256usize);
    let mut v = vec![0.0f32; k * w * h];
    for c in 0..k {
        let (cx, cy) = (
            10.0 + (c * 13 % 170) as f32 + 0.3,
            10.0 + (c * 29 % 230) as f32 + 0.6,
        );
        for y in 0..h {
            for x in 0..w {
                let d2 = (x as f32 - cx).powi(2) + (y as f32 - cy).powi(2);
                v[c * w * h + y * w + x] = 0.9 * (-d2 / 8.0).exp();
            }
        }
    }
    v
}

fn decode(c: &mut Criterion) {
    let dec = PoseDecoder::new(308, 192, 256);
    let hm = heatmaps(308);
    let crop = Crop::from_box(
        &BBox {
            x1: 100.0,
            y1: 50.0,
            x2: 400.0,
            y2: 650.0,
        },
        1.25,
        0.75,
    );
    let mut g = c.benchmark_group("pose_decode_goliath308");
    for persons in [1usize, 8] {
        g.throughput(Throughput::Elements(persons as u64));
        g.bench_function(format!("{persons}_person"), |b| {
            b.iter(|| {
                (0..persons)
                    .map(|_| dec.decode(&hm, &crop))
                    .collect::<Vec<_>>()
            })
        });
    }
    // The model decoding in its graph (scripts/postprocess_graph.py): 228 floats a keypoint
    // leave it instead of a 256x192 heatmap; what is left on the CPU.
    let rows = sapiens_stream::heads::pose::compact_rows(&hm, 308, 192, 256);
    g.throughput(Throughput::Elements(1));
    g.bench_function("1_person_decoded_in_graph", |b| {
        b.iter(|| dec.decode_compact(&rows, &crop))
    });
    // What the pose element does with a frame's persons: decoded in parallel across cores.
    g.throughput(Throughput::Elements(8));
    g.bench_function("8_person_parallel", |b| {
        use rayon::prelude::*;
        b.iter(|| {
            (0..8)
                .into_par_iter()
                .map(|_| dec.decode(&hm, &crop))
                .collect::<Vec<_>>()
        })
    });
    g.finish();
}

fn draw(c: &mut Criterion) {
    opencv::core::set_num_threads(1).unwrap();
    let (w, h) = (1920u32, 1080u32);
    let mut data = frame(w, h);
    let kps = (0..308)
        .map(|i| Keypoint {
            x: 300.0 + (i * 37 % 600) as f32,
            y: 100.0 + (i * 53 % 800) as f32,
            score: 0.9,
        })
        .collect();
    let result = PoseResult {
        keypoint_set: KeypointSetId::Goliath308,
        score_threshold: 0.3,
        untrained: false,
        carried: false,
        persons: vec![PersonPose {
            id: None,
            bbox: BBox {
                x1: 300.0,
                y1: 100.0,
                x2: 900.0,
                y2: 900.0,
            },
            keypoints: kps,
        }],
    };
    c.bench_function("overlay_draw_goliath308_1080p", |b| {
        b.iter(|| {
            let mut img = Packed::new(&mut data, PixelLayout::BGRX, w, h, w as usize * 4).unwrap();
            let mut canvas = Canvas::over(&mut img).unwrap();
            pose::draw(&mut canvas, &result, &pose::PoseStyle::default()).unwrap();
        })
    });
}

/// Smooth logits for 28 classes at 384x512: a few blobs, so boundaries are a small fraction of
/// pixels (as with a trained model).
fn seg_logits() -> Vec<f32> {
    let (w, h) = (384usize, 512usize);
    let mut v = vec![0.0f32; 28 * w * h];
    for k in 0..28 {
        let (cx, cy) = ((k * 53 % 384) as f32, (k * 97 % 512) as f32);
        for y in 0..h {
            for x in 0..w {
                v[k * w * h + y * w + x] =
                    -((x as f32 - cx).powi(2) + (y as f32 - cy).powi(2)).sqrt() / 50.0;
            }
        }
    }
    v
}

fn seg(c: &mut Criterion) {
    let logits = seg_logits();
    let mut g = c.benchmark_group("seg_labels_28x512x384_to_1080p");
    // The argmax computed in the model's graph (scripts/postprocess_graph.py seg): one plane of
    // labels (int32 → f32 as read) instead of 28 planes of logits.
    let map: Vec<f32> = seg::argmax_planes(&logits, 28, 512 * 384)
        .into_iter()
        .map(f32::from)
        .collect();
    g.bench_function("labels_from_graph", |b| {
        b.iter(|| seg::labels_from_map(Planes::new(&map, [1, 512, 384]).unwrap(), 1920, 1080))
    });
    for mode in [SegMode::Exact, SegMode::Fast] {
        g.bench_function(format!("{mode:?}"), |b| {
            b.iter(|| {
                seg::labels(
                    Planes::new(&logits, [28, 512, 384]).unwrap(),
                    1920,
                    1080,
                    mode,
                )
            })
        });
    }
    g.finish();
}

/// Analytics on 10 tracked persons (Goliath-308 keypoints), 4 zones, 2 lines and the fall rule:
/// the rules' update, and the update with the meta attached (what `sapiensanalytics` does per
/// frame). Target: under 0.2 ms a frame.
fn analytics(c: &mut Criterion) {
    use sapiens_stream::analytics::{Analytics, FrameIn, PersonIn, Rules};
    let rules = Rules::parse(
        r#"
        schema_version = 1
        [[zone]]
        name = "a"
        polygon = [[0, 0], [960, 0], [960, 540], [0, 540]]
        dwell = 5
        crowded = 4
        [[zone]]
        name = "b"
        polygon = [[960, 0], [1920, 0], [1920, 540], [960, 540]]
        [[zone]]
        name = "c"
        polygon = [[0, 540], [960, 540], [960, 1080], [100, 1000], [0, 1080]]
        [[zone]]
        name = "d"
        polygon = [[960, 540], [1920, 540], [1920, 1080], [960, 1080]]
        [[line]]
        name = "door"
        points = [[900, 0], [900, 1080]]
        in = [1000, 500]
        [[line]]
        name = "hall"
        points = [[0, 600], [1920, 600]]
        in = [500, 700]
        [fall]
        "#,
        std::path::Path::new("bench.toml"),
    )
    .unwrap();
    let set = KeypointSetId::Goliath308;
    let k = set.set().len();
    // Frame i: person p walks right 4 px a frame from its own start.
    let people = |i: u64| -> Vec<(BBox, Vec<Keypoint>)> {
        (0..10)
            .map(|p| {
                let x = (p as f32 * 180.0 + i as f32 * 4.0) % 1900.0;
                let y = 200.0 + p as f32 * 70.0;
                let kps = (0..k)
                    .map(|j| Keypoint {
                        x: x + (j % 7) as f32 * 5.0,
                        y: y + (j % 40) as f32 * 8.0,
                        score: 0.8,
                    })
                    .collect();
                let b = BBox {
                    x1: x - 40.0,
                    y1: y - 10.0,
                    x2: x + 80.0,
                    y2: y + 330.0,
                };
                (b, kps)
            })
            .collect()
    };
    let frames: Vec<_> = (0..64).map(people).collect();
    let input = |i: usize| FrameIn {
        pts_ns: i as u64 * 40_000_000,
        keypoint_set: Some(set),
        persons: frames[i % 64]
            .iter()
            .enumerate()
            .map(|(p, (b, kps))| PersonIn {
                id: Some(p as u32 + 1),
                bbox: *b,
                keypoints: Some(kps),
            })
            .collect(),
        points: None,
    };
    let mut g = c.benchmark_group("analytics");
    g.throughput(Throughput::Elements(1));
    let mut a = Analytics::new(rules.clone());
    let mut i = 0;
    g.bench_function("update_10_persons", |b| {
        b.iter(|| {
            i += 1;
            a.update(&input(i)).unwrap()
        })
    });
    gst::init().unwrap();
    let mut buf = gst::Buffer::with_size(16).unwrap();
    g.bench_function("update_and_attach_10_persons", |b| {
        b.iter(|| {
            i += 1;
            let r = a.update(&input(i)).unwrap();
            sapiens_stream::meta::analytics::attach_result(&r, buf.get_mut().unwrap()).unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, preprocess, decode, draw, seg, analytics);
criterion_main!(benches);
