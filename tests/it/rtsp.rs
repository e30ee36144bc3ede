//! An RTSP camera feed (a local gstreamer-rtsp-server on 127.0.0.1) through `sapiens run`.
use gst_rtsp_server::prelude::*;

use crate::common::*;

/// Serves H.264 test video at `rtsp://127.0.0.1:<port>/cam` from a thread; returns the URL.
fn serve() -> String {
    init();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let ctx = glib::MainContext::new();
        let _guard = ctx.acquire().unwrap();
        let server = gst_rtsp_server::RTSPServer::new();
        server.set_address("127.0.0.1");
        server.set_service("0");
        let factory = gst_rtsp_server::RTSPMediaFactory::new();
        factory.set_launch(
            "( videotestsrc is-live=true pattern=ball ! video/x-raw,width=320,height=240,framerate=15/1 ! \
             x264enc tune=zerolatency speed-preset=ultrafast key-int-max=15 ! rtph264pay name=pay0 pt=96 )",
        );
        factory.set_shared(true);
        server.mount_points().unwrap().add_factory("/cam", factory);
        let _source = server.attach(Some(&ctx)).unwrap();
        tx.send(server.bound_port()).unwrap();
        glib::MainLoop::new(Some(&ctx), false).run();
    });
    let port = rx.recv().unwrap();
    format!("rtsp://127.0.0.1:{port}/cam")
}

#[test]
fn cli_runs_pose_on_an_rtsp_feed_and_records_it() {
    let url = serve();
    let cfg = config("pose-tiny-coco17.toml");
    let args = [
        "--input",
        &url,
        "--config",
        cfg.to_str().unwrap(),
        "--max-frames",
        "10",
        "--policy",
        "skip",
    ];
    let (out, stats) = sapiens_run("rtsp", &args);
    let s = &stats["heads"][0]["stats"];
    assert_eq!(s["frames_in"], 10);
    // `skip` passes frames the model cannot take, carrying results; a frame is dropped only when
    // the element's backlog is full, and every loss is counted.
    let (out_n, dropped) = (
        s["frames_out"].as_u64().unwrap(),
        s["dropped"].as_u64().unwrap(),
    );
    assert_eq!(out_n + dropped, 10, "{s}");
    assert!(out_n >= 5 && s["carried"].as_u64().unwrap() > 0, "{s}");
    let (frames, w, h, _) = crate::pipeline::read_back(&out);
    assert_eq!((w, h), (320, 240));
    // Every frame that left the head is in the recording; with frames dropped, x264enc + mp4mux
    // can lose one more on irregular spacing (README, known issue outside these elements).
    let lost = if dropped > 0 { 1 } else { 0 };
    assert!(
        frames <= out_n && frames + lost >= out_n,
        "{frames} frames recorded, {out_n} left the head"
    );
}
