//! `gst_check::Harness` tests of the elements' stream behaviour and of the overlay's drawing.
use gst_video::VideoFormat;
use gst_video::prelude::*;
use sapiens_stream::geometry::BBox;
use sapiens_stream::heads::pose::Keypoint;
use sapiens_stream::labels::KeypointSetId;
use sapiens_stream::meta::pose::{PersonPose, PoseResult};
use sapiens_stream::runtime::ProviderChoice;

use crate::common::*;

fn blank(format: VideoFormat, w: u32, h: u32, pts_ms: u64) -> (gst::Buffer, gst_video::VideoInfo) {
    dots_frame(format, w, h, &[], pts_ms)
}

#[test]
fn frames_leave_in_order_with_timestamps_and_eos_drains_them() {
    let (_, info) = blank(VideoFormat::Rgb, 320, 240, 0);
    let mut h = pose_harness(
        "pose-tiny-coco17.toml",
        &info,
        &[
            ("max-inflight", 3u32.to_value()),
            ("execution-provider", ProviderChoice::Cpu.to_value()),
        ],
    );
    let el = h.element().unwrap();
    assert_eq!(
        el.property::<String>("provider"),
        "cpu",
        "pinned, so a GPU build says so too"
    );
    let n = 8;
    for i in 0..n {
        h.push(blank(VideoFormat::Rgb, 320, 240, 40 * i).0).unwrap();
    }
    h.push_event(gst::event::Eos::new());
    // EOS leaves after every frame submitted before it.
    assert_eq!(buffers_before_eos(&mut h), n as u32);
    for i in 0..n {
        let b = h.pull().unwrap();
        assert_eq!(
            b.pts(),
            Some(gst::ClockTime::from_mseconds(40 * i)),
            "frame {i} out of order"
        );
        assert_eq!(b.duration(), Some(gst::ClockTime::from_mseconds(40)));
        let pose = PoseResult::from_buffer(&b).unwrap().expect("pose meta");
        assert_eq!(pose.keypoint_set, KeypointSetId::Coco17);
        assert!(pose.untrained, "the tiny model's config says untrained");
        assert_eq!(pose.persons.len(), 1);
        assert_eq!(pose.persons[0].bbox, BBox::frame(320, 240));
        assert_eq!(pose.persons[0].keypoints.len(), 17);
    }
    let s = element_stats(&h.element().unwrap());
    assert_eq!(
        (s.frames_in, s.frames_out, s.flushed, s.failed),
        (n, n, 0, 0)
    );
    assert!(s.infer.p50_ms > 0.0 && s.total.p50_ms >= s.infer.p50_ms);
}

#[test]
fn flush_drops_frames_inside_counts_them_and_the_stream_goes_on() {
    let (_, info) = blank(VideoFormat::I420, 320, 240, 0);
    let mut h = pose_harness(
        "pose-tiny-goliath308.toml",
        &info,
        &[("max-inflight", 4u32.to_value())],
    );
    for i in 0..6 {
        h.push(blank(VideoFormat::I420, 320, 240, 40 * i).0)
            .unwrap();
    }
    assert!(h.push_event(gst::event::FlushStart::new()));
    assert!(h.push_event(gst::event::FlushStop::new(true)));
    assert!(
        h.push_event(gst::event::Segment::new(&gst::FormattedSegment::<
            gst::ClockTime,
        >::new()))
    );
    for i in 0..3 {
        h.push(blank(VideoFormat::I420, 320, 240, 1000 + 40 * i).0)
            .unwrap();
    }
    h.push_event(gst::event::Eos::new());
    let _ = buffers_before_eos(&mut h);
    let mut pts = Vec::new();
    while let Some(b) = h.try_pull() {
        pts.push(b.pts().unwrap().mseconds());
    }
    let s = element_stats(&h.element().unwrap());
    assert_eq!(s.frames_in, 9);
    assert_eq!(
        s.frames_out + s.flushed,
        9,
        "every frame leaves or is counted as flushed: {s:?}"
    );
    // The sixth push returns as soon as its frame is admitted, and the flush follows at once:
    // at least that frame (≈ 40 ms of work) is still inside.
    assert!(s.flushed > 0, "the flush found frames inside: {s:?}");
    assert_eq!(
        pts[pts.len() - 3..],
        [1000, 1040, 1080],
        "frames after the flush all arrive, in order: {pts:?}"
    );
}

/// A COCO-17 result: keypoint 5 (green) at (60, 60), 6 (orange) at (200, 60), 7 below the
/// threshold at (60, 160); the rest score 0.
fn coco_result(untrained: bool) -> PoseResult {
    let mut kps = vec![
        Keypoint {
            x: 0.0,
            y: 0.0,
            score: 0.0
        };
        17
    ];
    kps[5] = Keypoint {
        x: 60.0,
        y: 60.0,
        score: 0.9,
    };
    kps[6] = Keypoint {
        x: 200.0,
        y: 60.0,
        score: 0.9,
    };
    kps[7] = Keypoint {
        x: 60.0,
        y: 160.0,
        score: 0.2,
    };
    PoseResult {
        keypoint_set: KeypointSetId::Coco17,
        score_threshold: 0.3,
        untrained,
        carried: false,
        persons: vec![PersonPose {
            id: None,
            bbox: BBox {
                x1: 20.0,
                y1: 20.0,
                x2: 240.0,
                y2: 220.0,
            },
            keypoints: kps,
        }],
    }
}

/// RGB of pixel (x, y) of a packed frame.
pub(crate) fn pixel(b: &gst::Buffer, info: &gst_video::VideoInfo, x: usize, y: usize) -> [u8; 3] {
    let f = gst_video::VideoFrameRef::from_buffer_ref_readable(b.as_ref(), info).unwrap();
    let stride = f.plane_stride()[0] as usize;
    let bpp = info.format_info().pixel_stride()[0] as usize;
    let p = &f.plane_data(0).unwrap()[y * stride + x * bpp..][..bpp];
    match info.format() {
        VideoFormat::Rgb | VideoFormat::Rgbx => [p[0], p[1], p[2]],
        VideoFormat::Bgr | VideoFormat::Bgrx => [p[2], p[1], p[0]],
        VideoFormat::Xrgb => [p[1], p[2], p[3]],
        other => panic!("test reads no {other:?}"),
    }
}

fn overlay(
    props: &[(&str, glib::Value)],
    format: VideoFormat,
    result: &PoseResult,
) -> (gst::Buffer, gst_video::VideoInfo) {
    init();
    let el = gst::ElementFactory::make("sapiensoverlay").build().unwrap();
    for (k, v) in props {
        el.set_property_from_value(k, v);
    }
    let mut h = gst_check::Harness::with_element(&el, Some("sink"), Some("src"));
    h.play();
    let (mut b, info) = blank(format, 320, 240, 0);
    result.attach(b.get_mut().unwrap()).unwrap();
    h.set_src_caps(info.to_caps().unwrap());
    (h.push_and_pull(b).unwrap(), info)
}

#[test]
fn overlay_draws_official_colours_where_scores_pass_the_threshold() {
    const GREEN: [u8; 3] = [0, 255, 0];
    const ORANGE: [u8; 3] = [255, 128, 0];
    const LINK_5_6: [u8; 3] = [51, 153, 255];
    const BLACK: [u8; 3] = [0, 0, 0];
    for format in [VideoFormat::Rgb, VideoFormat::Bgrx, VideoFormat::Xrgb] {
        let (b, info) = overlay(
            &[("draw-boxes", false.to_value())],
            format,
            &coco_result(false),
        );
        assert_eq!(pixel(&b, &info, 60, 60), GREEN, "{format:?} keypoint 5");
        assert_eq!(pixel(&b, &info, 200, 60), ORANGE, "{format:?} keypoint 6");
        assert_eq!(pixel(&b, &info, 130, 60), LINK_5_6, "{format:?} link 5-6");
        assert_eq!(
            pixel(&b, &info, 60, 160),
            BLACK,
            "{format:?} keypoint 7 below threshold"
        );
        assert_eq!(
            pixel(&b, &info, 60, 110),
            BLACK,
            "{format:?} link 5-7 has an end below threshold"
        );
        assert_eq!(
            pixel(&b, &info, 2, 2),
            BLACK,
            "{format:?} no banner for trained weights"
        );
        assert_eq!(pixel(&b, &info, 20, 100), BLACK, "{format:?} boxes off");
    }
    // Toggles and threshold: links off, boxes on, threshold 0.1 shows keypoint 7.
    let props = [
        ("draw-links", false.to_value()),
        ("score-threshold", 0.1f32.to_value()),
    ];
    let (b, info) = overlay(&props, VideoFormat::Rgb, &coco_result(false));
    assert_eq!(pixel(&b, &info, 130, 60), BLACK, "links off");
    assert_eq!(
        pixel(&b, &info, 60, 160),
        GREEN,
        "keypoint 7 passes threshold 0.1"
    );
    assert_eq!(pixel(&b, &info, 20, 100), [0, 255, 0], "person box drawn");
    // Untrained weights: the red banner, whatever the toggles.
    let (b, info) = overlay(
        &[("draw-keypoints", false.to_value())],
        VideoFormat::Rgb,
        &coco_result(true),
    );
    assert_eq!(pixel(&b, &info, 1, 1), [200, 0, 0], "UNTRAINED banner");
    assert_eq!(
        pixel(&b, &info, 200, 65),
        BLACK,
        "keypoints off (inside the dot, off the link)"
    );
}

mod dense_overlay {
    use gst_video::VideoFormat;
    use gst_video::prelude::*;
    use sapiens_stream::config::SegMode;
    use sapiens_stream::meta::dense::{
        DenseInfo, DepthResult, NormalResult, PointmapResult, SegResult,
    };

    use super::pixel;
    use crate::common::*;

    const W: u32 = 64;
    const H: u32 = 48;
    /// Seg class of pixel (x, y): Hair (3, RGB 255,0,109) on the left half, background right.
    fn class(x: u32) -> u8 {
        if x < W / 2 { 3 } else { 0 }
    }

    /// A grey (120) frame carrying seg, depth (left half 2.0..4.0 by row, right NaN) and, when
    /// `with_normal`, normals (0.6, 0, 0.8) on the left.
    fn frame(format: VideoFormat, with_normal: bool) -> (gst::Buffer, gst_video::VideoInfo) {
        let (mut b, info) = painted_frame(format, W, H, 0, |_, _| [120, 120, 120]);
        let dense = DenseInfo {
            width: W,
            height: H,
            untrained: false,
            carried: false,
        };
        let labels: Vec<u8> = (0..H).flat_map(|_| (0..W).map(class)).collect();
        let depth: Vec<f32> = (0..H)
            .flat_map(|y| {
                (0..W).map(move |x| {
                    if class(x) == 0 {
                        f32::NAN
                    } else {
                        2.0 + 2.0 * y as f32 / (H - 1) as f32
                    }
                })
            })
            .collect();
        let normals: Vec<f32> = (0..W * H)
            .flat_map(|i| {
                if class(i % W) == 0 {
                    [f32::NAN; 3]
                } else {
                    [0.6, 0.0, 0.8]
                }
            })
            .collect();
        let buf = b.get_mut().unwrap();
        SegResult::new(dense, SegMode::Exact, Default::default(), labels)
            .attach(buf)
            .unwrap();
        DepthResult::new(dense, true, Some((2.0, 4.0)), depth)
            .attach(buf)
            .unwrap();
        if with_normal {
            NormalResult::new(dense, true, normals).attach(buf).unwrap();
        }
        (b, info)
    }

    fn run(
        layout: &str,
        b: gst::Buffer,
        info: &gst_video::VideoInfo,
    ) -> (gst::Buffer, gst_video::VideoInfo) {
        init();
        let el = gst::ElementFactory::make("sapiensoverlay")
            .property_from_str("layout", layout)
            .build()
            .unwrap();
        let mut h = gst_check::Harness::with_element(&el, Some("sink"), Some("src"));
        h.play();
        h.set_src_caps(info.to_caps().unwrap());
        let out = h.push_and_pull(b).unwrap();
        let caps = h.sinkpad().unwrap().current_caps().unwrap();
        (out, gst_video::VideoInfo::from_caps(&caps).unwrap())
    }

    fn close(a: [u8; 3], b: [u8; 3], tol: i32) -> bool {
        a.iter()
            .zip(b)
            .all(|(x, y)| (*x as i32 - y as i32).abs() <= tol)
    }

    #[test]
    fn grid_tiles_follow_the_official_visualizations() {
        for format in [VideoFormat::Rgb, VideoFormat::Bgrx] {
            let (b, info) = frame(format, true);
            let (out, oinfo) = run("grid", b, &info);
            assert_eq!(
                (oinfo.width(), oinfo.height()),
                (2 * W, 2 * H),
                "{format:?}: grid doubles the frame"
            );
            // Tile 0: the frame itself (no pose here).
            assert_eq!(pixel(&out, &oinfo, 10, 30), [120, 120, 120]);
            // Tile 1: 0.5 frame + 0.5 palette; Hair = (255, 0, 109), Background = (50, 50, 50).
            assert_eq!(
                pixel(&out, &oinfo, (W + 5) as usize, 30),
                [188, 60, 115],
                "{format:?} seg blend, hair"
            );
            assert_eq!(
                pixel(&out, &oinfo, (W + 50) as usize, 30),
                [85, 85, 85],
                "{format:?} seg blend, background"
            );
            // Tile 2: depth 1 - (d - min)/(max - min) through INFERNO: nearest (row 0) brightest.
            let near = pixel(&out, &oinfo, 5, H as usize);
            let far = pixel(&out, &oinfo, 5, (2 * H - 1) as usize);
            assert!(
                close(near, [252, 255, 164], 3),
                "{format:?} inferno(1) = {near:?}"
            );
            assert!(close(far, [0, 0, 4], 3), "{format:?} inferno(0) = {far:?}");
            assert_eq!(
                pixel(&out, &oinfo, 50, (H + 5) as usize),
                [100, 100, 100],
                "{format:?} depth background grey"
            );
            // Tile 3: (n + 1)/2 * 255 with n = (0.6, 0, 0.8); background black.
            assert_eq!(
                pixel(&out, &oinfo, (W + 5) as usize, (H + 5) as usize),
                [204, 127, 229],
                "{format:?} normal colour"
            );
            assert_eq!(
                pixel(&out, &oinfo, (W + 50) as usize, (H + 5) as usize),
                [0, 0, 0]
            );
        }
        // A missing head leaves its tile black.
        let (b, info) = frame(VideoFormat::Rgb, false);
        let (out, oinfo) = run("grid", b, &info);
        assert_eq!(
            pixel(&out, &oinfo, (W + 5) as usize, (H + 5) as usize),
            [0, 0, 0]
        );
    }

    /// TURBO (OpenCV's table) at `i`, RGB.
    fn turbo(i: u8) -> [u8; 3] {
        use opencv::prelude::*;
        let value = [i];
        let ramp = opencv::core::Mat::from_slice(&value).unwrap();
        let mut bgr = opencv::core::Mat::default();
        opencv::imgproc::apply_color_map(&ramp, &mut bgr, opencv::imgproc::COLORMAP_TURBO).unwrap();
        let p = bgr.data_bytes().unwrap();
        [p[2], p[1], p[0]]
    }

    #[test]
    fn grid_shows_a_sapiens2_pointmap_by_inverse_depth_where_depth_is_absent() {
        let (mut b, info) = painted_frame(VideoFormat::Rgb, W, H, 0, |_, _| [120, 120, 120]);
        let dense = DenseInfo {
            width: W,
            height: H,
            untrained: false,
            carried: false,
        };
        // Z from 2.0 (row 0) to 4.0 (last row) on the left half, background (NaN) right.
        let points: Vec<f32> = (0..H)
            .flat_map(|y| {
                (0..W).flat_map(move |x| {
                    if class(x) == 0 {
                        [f32::NAN; 3]
                    } else {
                        [0.1, 0.2, 2.0 + 2.0 * y as f32 / (H - 1) as f32]
                    }
                })
            })
            .collect();
        PointmapResult::new(dense, true, 1.0, 500.0, Some((2.0, 4.0)), points)
            .attach(b.get_mut().unwrap())
            .unwrap();
        let (out, oinfo) = run("grid", b, &info);
        // vis_pointmap.py: inv = 1/z between min_inv = max(1/250, 1/4) and max_inv = min(1/2, 10).
        let t = |z: f32| ((1.0 / z - 0.25) / 0.25 * 255.0).clamp(0.0, 255.0) as u8;
        let row_z = |y: u32| 2.0 + 2.0 * y as f32 / (H - 1) as f32;
        for y in [0, H / 2, H - 1] {
            let got = pixel(&out, &oinfo, 5, (H + y) as usize);
            let want = turbo(t(row_z(y)));
            assert!(close(got, want, 1), "row {y}: {got:?} vs turbo {want:?}");
        }
        assert_eq!(
            pixel(&out, &oinfo, 50, (H + 5) as usize),
            [100, 100, 100],
            "pointmap background grey"
        );
    }

    /// Every width/height in `caps` is a fixed size or a range with min < max (GStreamer refuses
    /// anything else with a GLib critical, which `G_DEBUG=fatal_warnings` turns into an abort).
    fn sizes_are_valid(caps: &gst::Caps) -> bool {
        caps.iter().all(|s| {
            ["width", "height"].iter().all(|f| {
                s.get::<i32>(*f).is_ok_and(|v| v >= 1)
                    || s.get::<gst::IntRange<i32>>(*f)
                        .is_ok_and(|r| 1 <= r.min() && r.min() < r.max())
            })
        })
    }

    #[test]
    fn grid_caps_halve_and_double_sizes_and_drop_what_cannot_fit() {
        init();
        let el = gst::ElementFactory::make("sapiensoverlay")
            .property_from_str("layout", "grid")
            .build()
            .unwrap();
        let src = el.static_pad("src").unwrap();
        let sink = el.static_pad("sink").unwrap();
        // Asked on the src pad with a downstream filter, the overlay maps the filter to the sizes
        // upstream would have to send: half of it.
        for (filter, expect) in [
            // An odd size cannot be the double of anything: no caps, not an empty range.
            ("video/x-raw,format=RGB,width=641,height=480", None),
            ("video/x-raw,format=RGB,width=640,height=481", None),
            // A range one wide halves to one size: a fixed value, not a collapsed range.
            (
                "video/x-raw,format=RGB,width=[640,641],height=480",
                Some((640, 480)),
            ),
            (
                "video/x-raw,format=RGB,width=1280,height=[959,961]",
                Some((1280, 960)),
            ),
        ] {
            let f: gst::Caps = filter.parse().unwrap();
            let got = src.query_caps(Some(&f));
            assert!(sizes_are_valid(&got), "{filter}: {got}");
            match expect {
                None => assert!(got.is_empty(), "{filter}: {got}"),
                Some((w, h)) => {
                    let fixed = {
                        let mut c = got.clone();
                        c.fixate();
                        c
                    };
                    let s = fixed.structure(0).unwrap();
                    assert_eq!(
                        (
                            s.get::<i32>("width").unwrap(),
                            s.get::<i32>("height").unwrap()
                        ),
                        (w, h),
                        "{filter}: {got}"
                    );
                }
            }
        }
        // Upstream sizes double on the way out, ranges included, and stay valid.
        let f: gst::Caps = "video/x-raw,format=RGB,width=[1,3],height=5"
            .parse()
            .unwrap();
        let got = sink.query_caps(Some(&f));
        assert!(sizes_are_valid(&got), "{got}");
        // A real negotiation with an odd downstream size fails cleanly (not-negotiated).
        let pipe = launch(
            "videotestsrc num-buffers=2 ! video/x-raw,format=RGB,width=[2,400],height=[2,300] ! \
             sapiensoverlay layout=grid ! video/x-raw,width=641,height=481 ! fakesink",
        );
        pipe.set_state(gst::State::Playing).unwrap();
        let msg = pipe
            .bus()
            .unwrap()
            .timed_pop_filtered(
                gst::ClockTime::from_seconds(10),
                &[gst::MessageType::Error, gst::MessageType::Eos],
            )
            .expect("the pipeline ends");
        assert_eq!(
            msg.type_(),
            gst::MessageType::Error,
            "odd grid output cannot negotiate"
        );
        pipe.set_state(gst::State::Null).unwrap();
    }

    #[test]
    fn overlay_layout_blends_seg_over_the_frame_in_place() {
        let (b, info) = frame(VideoFormat::Rgb, true);
        let (out, oinfo) = run("overlay", b, &info);
        assert_eq!((oinfo.width(), oinfo.height()), (W, H));
        assert_eq!(pixel(&out, &oinfo, 5, 5), [188, 60, 115]);
        assert_eq!(pixel(&out, &oinfo, 50, 5), [85, 85, 85]);
    }
}
