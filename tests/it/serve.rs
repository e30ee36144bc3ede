//! `sapiens serve`: cameras from one file in one process, the REST API (with its token), the
//! metrics as Prometheus scrapes them, and a drain that finalizes every recording.
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::*;
use crate::rtsp::{Camera, one_camera_at_a_time, read_video, spawn_camera};
use crate::signals::{signal, wait};

/// A `sapiens serve` process; killed when dropped unfinished.
pub(crate) struct Service {
    child: Option<Child>,
    pub(crate) url: String,
    pub(crate) token: String,
    lines: mpsc::Receiver<String>,
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// An HTTP client that returns 4xx/5xx answers instead of failing on them.
fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

impl Service {
    /// Starts `sapiens serve -c cameras` on a free port; returns once it serves.
    pub(crate) fn start(cameras: &Path) -> Service {
        Self::start_with(cameras, &[], "http")
    }

    /// `start` with `extra` arguments, served over `scheme` (`https` with --tls-cert).
    pub(crate) fn start_with(cameras: &Path, extra: &[&str], scheme: &str) -> Service {
        let port = free_port();
        let mut child = Command::new(env!("CARGO_BIN_EXE_sapiens"))
            .args(["serve", "-c"])
            .arg(cameras)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(extra)
            .env_remove("G_DEBUG")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the sapiens binary");
        let (tx, lines) = mpsc::channel();
        for pipe in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for l in BufReader::new(pipe).lines().map_while(Result::ok) {
                    let _ = tx.send(l);
                }
            });
        }
        let mut seen = Vec::new();
        let token = loop {
            let l = lines
                .recv_timeout(Duration::from_secs(120))
                .unwrap_or_else(|_| panic!("no token line: {seen:?}"));
            if let Some(t) = l.split("shown this once): ").nth(1) {
                break t.trim().to_string();
            }
            seen.push(l);
        };
        let token_file = cameras.with_extension("token");
        assert_eq!(
            std::fs::read_to_string(&token_file).unwrap().trim(),
            token,
            "the printed token is the saved one"
        );
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&token_file).unwrap().permissions().mode() & 0o777,
            0o600
        );
        Service {
            child: Some(child),
            url: format!("{scheme}://127.0.0.1:{port}"),
            token,
            lines,
        }
    }

    /// `method path` with the token (`auth`: the Authorization header to send instead, or none);
    /// status and body.
    pub(crate) fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
        auth: Option<&str>,
    ) -> (u16, String) {
        let url = format!("{}{path}", self.url);
        let bearer = format!("Bearer {}", self.token);
        let auth = auth.unwrap_or(&bearer);
        let a = agent();
        let r = match (method, body) {
            ("GET", _) => a.get(&url).header("Authorization", auth).call(),
            ("DELETE", _) => a.delete(&url).header("Authorization", auth).call(),
            ("PATCH", b) => a
                .patch(&url)
                .header("Authorization", auth)
                .header("Content-Type", "application/json")
                .send(b.unwrap_or("")),
            ("POST", b) => a
                .post(&url)
                .header("Authorization", auth)
                .header("Content-Type", "application/json")
                .send(b.unwrap_or("")),
            _ => unreachable!(),
        };
        let mut r = r.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = r.status().as_u16();
        (status, r.body_mut().read_to_string().unwrap())
    }

    /// Threads, open files and resident memory (kB) of the service process now.
    fn resources(&self) -> (u64, u64, u64) {
        let pid = self.child.as_ref().unwrap().id();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let field = |name: &str| -> u64 {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
                .unwrap()
        };
        let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
            .unwrap()
            .count() as u64;
        (field("Threads:"), fds, field("VmRSS:"))
    }

    pub(crate) fn json(&self, path: &str) -> Value {
        let (status, body) = self.call("GET", path, None, None);
        assert_eq!(status, 200, "GET {path}: {body}");
        serde_json::from_str(&body).unwrap()
    }

    /// Waits (at most two minutes) until camera `id` runs with frames out of its heads.
    pub(crate) fn wait_running(&self, id: &str) -> Value {
        let t = Instant::now();
        loop {
            let c = self.json(&format!("/api/cameras/{id}"));
            if c["state"] == "running" && c["frames_out"].as_u64().unwrap() >= 5 {
                return c;
            }
            assert!(t.elapsed() < Duration::from_secs(120), "not running: {c}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// The value of the sample `name{labels}` in an exposition, labels as written.
fn sample(text: &str, name_and_labels: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name_and_labels)?.trim().parse().ok())
}

/// The cameras file of the tests: the test camera `cam` (recorded into rec/) and vtest.avi as
/// `file`, both running pose on the whole frame.
fn cameras_file(dir: &Path, camera_url: &str) -> std::path::PathBuf {
    std::fs::create_dir_all(dir.join("rec")).unwrap();
    let path = dir.join("cameras.toml");
    std::fs::write(
        &path,
        format!(
            "schema_version = 1\n\
             [defaults]\n\
             config = [{cfg:?}]\n\
             execution_provider = \"cpu\"\n\
             policy = \"skip\"\n\
             no_overlay = true\n\
             [[camera]]\n\
             id = \"cam\"\n\
             input = {camera_url:?}\n\
             output = \"rec/cam.mp4\"\n\
             stall_timeout = 20\n\
             [[camera]]\n\
             id = \"file\"\n\
             input = {vtest:?}\n",
            cfg = config("pose-tiny-coco17.toml").display().to_string(),
            vtest = vtest().display().to_string(),
        ),
    )
    .unwrap();
    path
}

#[test]
fn serve_runs_the_file_s_cameras_behind_a_token_adds_removes_and_drains_them() {
    let _camera = one_camera_at_a_time();
    let camera = Camera::start(0);
    let dir = scratch("serve");
    let file = cameras_file(&dir, &camera.url);
    let svc = Service::start(&file);

    // Open: the health checks. Everything else needs the token.
    assert_eq!(svc.call("GET", "/healthz", None, Some("")).0, 200);
    for auth in ["", "Bearer wrong", &svc.token.clone()] {
        let (status, body) = svc.call("GET", "/api/cameras", None, Some(auth));
        assert_eq!(status, 401, "{auth:?}: {body}");
    }
    assert_eq!(svc.call("GET", "/metrics", None, Some("")).0, 401);

    let cam = svc.wait_running("cam");
    let f = svc.wait_running("file");
    assert_eq!(svc.call("GET", "/readyz", None, Some("")).0, 200);
    let list = svc.json("/api/cameras");
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["cam", "file"]);
    // Whole-frame pose: one person per frame; the camera's recording grows.
    assert_eq!(cam["persons"], 1, "{cam}");
    assert!(
        cam["recording"]["path"]
            .as_str()
            .unwrap()
            .ends_with("rec/cam.mp4")
    );
    assert_eq!(cam["heads"][0]["element"], "sapienspose");
    assert!(cam["camera"]["outages"].is_u64(), "RTSP figures: {cam}");
    // vtest.avi plays at its own 10 fps (as a camera would), not as fast as it decodes.
    let t = Instant::now();
    let first = svc.json("/api/cameras/file")["frames_in"].as_u64().unwrap();
    std::thread::sleep(Duration::from_secs(3));
    let later = svc.json("/api/cameras/file")["frames_in"].as_u64().unwrap();
    let fps = (later - first) as f64 / t.elapsed().as_secs_f64();
    assert!(fps > 5.0 && fps < 13.0, "vtest.avi read at {fps:.1} fps");
    // The live view: an annotated JPEG picture, 640 px wide (only while someone asks).
    let (status, jpeg) = {
        let mut r = agent()
            .get(format!("{}/api/cameras/file/live.jpg", svc.url))
            .header("Authorization", format!("Bearer {}", svc.token))
            .call()
            .unwrap();
        let status = r.status().as_u16();
        (status, r.body_mut().read_to_vec().unwrap())
    };
    assert_eq!(status, 200);
    assert_eq!(&jpeg[..3], &[0xff, 0xd8, 0xff], "a JPEG");
    // The same config with the same options: one session for both cameras.
    let session = |c: &Value| c["heads"][0]["session_id"].as_u64().unwrap();
    assert!(session(&cam) > 0);
    assert_eq!(session(&cam), session(&f), "one session shared");

    // Errors name what is wrong.
    let (status, body) = svc.call("GET", "/api/cameras/nope", None, None);
    assert_eq!(status, 404, "{body}");
    let (status, body) = svc.call("POST", "/api/cameras", Some("{not json"), None);
    assert_eq!(status, 400, "{body}");
    let bad = format!(
        r#"{{"id": "x", "input": "{}", "policy": "sometimes"}}"#,
        camera.url
    );
    let (status, body) = svc.call("POST", "/api/cameras", Some(&bad), None);
    assert_eq!(status, 400, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["field"], "policy", "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("sometimes"),
        "{body}"
    );
    let dup = format!(r#"{{"id": "cam", "input": "{}"}}"#, camera.url);
    let (status, body) = svc.call("POST", "/api/cameras", Some(&dup), None);
    assert_eq!(status, 409, "{body}");
    assert!(body.contains(r#""field":"id""#), "{body}");

    // Added at run time: it runs beside the others, on the same session.
    let add = format!(r#"{{"id": "cam2", "input": "{}"}}"#, camera.url);
    let (status, body) = svc.call("POST", "/api/cameras", Some(&add), None);
    assert_eq!(status, 201, "{body}");
    let cam2 = svc.wait_running("cam2");
    assert_eq!(session(&cam2), session(&cam));
    // Saved back: a restart keeps it.
    let (status, body) = svc.call("POST", "/api/config/save", None, None);
    assert_eq!(status, 200, "{body}");
    let saved = std::fs::read_to_string(&file).unwrap();
    assert!(saved.contains("id = \"cam2\""), "{saved}");

    // The metrics, checked by Prometheus' own tool.
    let (status, text) = svc.call("GET", "/metrics", None, None);
    assert_eq!(status, 200);
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (apt prometheus; scripts/setup.sh installs it)");
    std::io::Write::write_all(&mut promtool.stdin.take().unwrap(), text.as_bytes()).unwrap();
    let checked = promtool.wait_with_output().unwrap();
    assert!(
        checked.status.success(),
        "promtool: {}{}\n{text}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
    assert_eq!(
        sample(&text, r#"sapiens_cameras{state="running"}"#),
        Some(3.0),
        "{text}"
    );
    let out = sample(
        &text,
        r#"sapiens_head_frames_out_total{camera="cam",head="head0",element="sapienspose"}"#,
    )
    .unwrap();
    assert!(out >= 5.0, "{text}");
    let runs = sample(
        &text,
        r#"sapiens_head_inference_seconds_count{camera="cam",head="head0",element="sapienspose"}"#,
    )
    .unwrap();
    // The session the three cameras share: its runs, and the batches it formed (one item
    // each at the default batch-size 1).
    let shared_runs = text
        .lines()
        .find(|l| {
            l.starts_with("sapiens_session_runs_total{session=")
                && l.contains("pose-tiny-coco17.toml")
        })
        .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no shared session metric: {text}"));
    let batched = text
        .lines()
        .find(|l| {
            l.starts_with("sapiens_session_batch_items_bucket{le=\"1\",session=")
                || l.starts_with("sapiens_session_batch_items_bucket{le=\"1.0\",session=")
        })
        .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no batch histogram: {text}"));
    assert!(
        shared_runs >= 3.0 && batched == shared_runs,
        "{shared_runs} runs, {batched} of one item"
    );
    let api_runs = svc.json("/api/cameras/cam")["heads"][0]["stats"]["runs"]
        .as_u64()
        .unwrap();
    assert!(
        runs >= 1.0 && runs <= api_runs as f64,
        "{runs} runs, {api_runs} now"
    );

    // A real Prometheus server scrapes it (OpenMetrics, with the token from the token file).
    let scraped = prometheus_scrape(&svc, &file.with_extension("token"), &dir);
    assert!(
        scraped >= 5.0,
        "Prometheus read {scraped} frames out of cam"
    );

    // A camera that fails (nothing listens at its address: it gives up after 1 s) fails alone:
    // it is restarted with backoff, the readiness check names it, the others go on.
    let dead = r#"{"id": "dead", "input": "rtsp://127.0.0.1:1/none", "first_frame_timeout": 1}"#;
    let (status, body) = svc.call("POST", "/api/cameras", Some(dead), None);
    assert_eq!(status, 201, "{body}");
    let t = Instant::now();
    let failed = loop {
        let d = svc.json("/api/cameras/dead");
        if d["restarts"].as_u64().unwrap() >= 1 && d["state"] == "failed" {
            break d;
        }
        assert!(t.elapsed() < Duration::from_secs(60), "never failed: {d}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        failed["error"].as_str().unwrap().contains("refused"),
        "{failed}"
    );
    let (status, body) = svc.call("GET", "/readyz", None, Some(""));
    assert!(status == 503 && body.contains("dead"), "{status} {body}");
    let before = svc.json("/api/cameras/cam")["frames_out"].as_u64().unwrap();
    let t = Instant::now();
    while svc.json("/api/cameras/cam")["frames_out"].as_u64().unwrap() < before + 5 {
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "cam stopped with dead"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let (status, body) = svc.call("DELETE", "/api/cameras/dead", None, None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(svc.call("GET", "/readyz", None, Some("")).0, 200);

    // Changed while it runs: the rate and the policy on the playing elements, nothing rebuilt.
    let frames_before = svc.json("/api/cameras/cam")["frames_in"].as_u64().unwrap();
    let (status, body) = svc.call(
        "PATCH",
        "/api/cameras/cam",
        Some(r#"{"interval": 3, "policy": "drop"}"#),
        None,
    );
    assert_eq!(status, 200, "{body}");
    let c: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (&c["heads"][0]["interval"], &c["heads"][0]["policy"]),
        (&Value::from(3), &Value::from("drop")),
        "{c}"
    );
    assert_eq!(c["settings"]["interval"], 3);
    assert!(
        c["frames_in"].as_u64().unwrap() >= frames_before,
        "not rebuilt"
    );
    assert_eq!(c["restarts"], 0);
    for (patch, status_wanted, field) in [
        (r#"{"policy": "sometimes"}"#, 400, "policy"),
        (r#"{"id": "other"}"#, 400, "id"),
        (r#"{"stall_timeout": 30}"#, 409, "stall_timeout"),
    ] {
        let (status, body) = svc.call("PATCH", "/api/cameras/cam", Some(patch), None);
        assert_eq!(status, status_wanted, "{patch}: {body}");
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["field"], field, "{body}");
    }
    // With ?restart=true: drained (its recording finalized) and built again with the key; it
    // records on into rec/cam-1.mp4.
    let (status, body) = svc.call(
        "PATCH",
        "/api/cameras/cam?restart=true",
        Some(r#"{"stall_timeout": 30}"#),
        None,
    );
    assert_eq!(status, 200, "{body}");
    let t = Instant::now();
    let restarted = loop {
        let c = svc.json("/api/cameras/cam");
        if c["earlier_recordings"].as_array().unwrap().len() == 1 && c["state"] == "running" {
            break c;
        }
        assert!(t.elapsed() < Duration::from_secs(120), "not restarted: {c}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        restarted["recording"]["path"]
            .as_str()
            .unwrap()
            .ends_with("rec/cam-1.mp4"),
        "{restarted}"
    );
    assert_eq!(
        restarted["heads"][0]["interval"], 3,
        "the live change is kept"
    );
    assert_eq!(restarted["settings"]["stall_timeout"], 30);

    // Every operation the OpenAPI file documents is served (a bad request gets the API's own
    // answer, not the router's 404 or 405).
    let doc: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("docs/serve-openapi.json")).unwrap(),
    )
    .unwrap();
    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in ["get", "post", "patch", "delete"] {
            if item.get(method).is_none() {
                continue;
            }
            operations += 1;
            let path = path.replace("{id}", "none");
            let body = (path != "/api/config/save").then_some("not json");
            let (status, answer) = svc.call(&method.to_uppercase(), &path, body, None);
            assert!(
                status != 405 && (status != 404 || answer.contains("no camera none")),
                "{method} {path}: {status} {answer}"
            );
        }
    }
    assert_eq!(operations, 13);

    // Removed: drained and gone; the others go on.
    let (status, body) = svc.call("DELETE", "/api/cameras/cam2", None, None);
    assert_eq!(status, 200, "{body}");
    let report: Value = serde_json::from_str(&body).unwrap();
    assert!(
        report["error"].is_null(),
        "drained by its EOS, not by the timeouts: {report}"
    );
    assert_eq!(svc.call("GET", "/api/cameras/cam2", None, None).0, 404);
    let before = svc.json("/api/cameras/cam")["frames_out"].as_u64().unwrap();
    let t = Instant::now();
    while svc.json("/api/cameras/cam")["frames_out"].as_u64().unwrap() < before + 5 {
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "cam stopped with cam2"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // SIGTERM: every camera drained, the recording finalized, a clean exit.
    let mut svc = svc;
    let child = svc.child.take().unwrap();
    signal(&child, "-TERM");
    let (status, _) = wait(child, Duration::from_secs(90));
    let lines: Vec<String> = svc.lines.try_iter().collect();
    assert!(status.success(), "{status:?}: {lines:?}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("camera cam: ") && l.contains("rec/cam.mp4")),
        "{lines:?}"
    );
    for rec in ["rec/cam.mp4", "rec/cam-1.mp4"] {
        let video = read_video(&dir.join(rec));
        assert!(video["frames"].as_u64().unwrap() >= 5, "{rec}: {video}");
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("camera cam: ") && l.contains(rec)),
            "{lines:?}"
        );
    }
    assert!(
        !lines.iter().any(|l| l.contains(&svc.token)),
        "the token is printed once only, at its making"
    );
}

/// A Prometheus server, stopped when dropped.
struct Prometheus(Child);

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts Debian's Prometheus scraping `svc` every second with the token in `token_file` and
/// waits (at most two minutes) for its first sample of camera `cam`'s pose frames; that value.
fn prometheus_scrape(svc: &Service, token_file: &Path, dir: &Path) -> f64 {
    let port = free_port();
    let conf = dir.join("prometheus.yml");
    std::fs::write(
        &conf,
        format!(
            "global: {{scrape_interval: 1s, scrape_timeout: 1s}}\n\
             scrape_configs:\n\
             - job_name: sapiens\n  \
               authorization: {{credentials_file: {:?}}}\n  \
               static_configs: [{{targets: [{:?}]}}]\n",
            token_file.display().to_string(),
            svc.url.trim_start_matches("http://"),
        ),
    )
    .unwrap();
    let _server = Prometheus(
        Command::new("prometheus")
            .arg(format!("--config.file={}", conf.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus (apt prometheus; scripts/setup.sh installs it)"),
    );
    let t = Instant::now();
    let query = r#"sapiens_head_frames_out_total{camera="cam",head="head0"}"#;
    loop {
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "Prometheus never scraped the service"
        );
        std::thread::sleep(Duration::from_millis(500));
        let Ok(mut r) = agent()
            .get(format!("http://127.0.0.1:{port}/api/v1/query"))
            .query("query", query)
            .call()
        else {
            continue;
        };
        let Ok(answer) = r.body_mut().read_json::<Value>() else {
            continue;
        };
        if let Some(v) = answer["data"]["result"][0]["value"][1].as_str() {
            return v.parse().unwrap();
        }
    }
}

/// Adding and removing a camera again and again leaves the service's threads and open files
/// where they were (`SAPIENS_CHURN=N` cycles, 8 by default; the README's figures are from 50).
#[test]
fn cameras_added_and_removed_again_and_again_leave_nothing_behind() {
    // The camera that stays: the RTSP test camera (a file would end during a long run).
    let _camera = one_camera_at_a_time();
    let camera = Camera::start(0);
    let dir = scratch("serve-churn");
    let file = dir.join("cameras.toml");
    let cfg = config("pose-tiny-coco17.toml").display().to_string();
    let input = vtest().display().to_string();
    std::fs::write(
        &file,
        format!(
            "[defaults]\nconfig = [{cfg:?}]\nexecution_provider = \"cpu\"\npolicy = \"skip\"\n\
             [[camera]]\nid = \"base\"\ninput = {url:?}\n",
            url = camera.url
        ),
    )
    .unwrap();
    let svc = Service::start(&file);
    svc.wait_running("base");
    let cycles: u32 = std::env::var("SAPIENS_CHURN")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8);
    let add = format!(r#"{{"id": "churn", "input": {input:?}, "output": "rec/churn.mp4"}}"#);
    let cycle = |i: u32| {
        let (status, body) = svc.call("POST", "/api/cameras", Some(&add), None);
        assert_eq!(status, 201, "cycle {i}: {body}");
        svc.wait_running("churn");
        let (status, body) = svc.call("DELETE", "/api/cameras/churn", None, None);
        assert_eq!(status, 200, "cycle {i}: {body}");
        let report: Value = serde_json::from_str(&body).unwrap();
        assert!(report["error"].is_null(), "cycle {i}: {report}");
    };
    // One cycle first: what a first camera loads once (codecs, thread pools) is not a leak.
    cycle(0);
    let before = svc.resources();
    for i in 1..=cycles {
        cycle(i);
    }
    // Threads end a moment after their pipeline: wait for them (bounded) before comparing.
    let t = Instant::now();
    let mut after = svc.resources();
    while (after.0 > before.0 || after.1 > before.1) && t.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(200));
        after = svc.resources();
    }
    eprintln!(
        "after 1 + {cycles} add/remove cycles: threads {} → {}, open files {} → {}, RSS {} → {} MiB",
        before.0,
        after.0,
        before.1,
        after.1,
        before.2 / 1024,
        after.2 / 1024
    );
    assert!(
        after.0 <= before.0 && after.1 <= before.1,
        "threads {} → {}, open files {} → {}",
        before.0,
        after.0,
        before.1,
        after.1
    );
    assert_eq!(svc.json("/api/cameras").as_array().unwrap().len(), 1);
}

/// A camera whose server dies is reconnected by itself while the other goes on; `kill -9` of
/// the service leaves both recordings playable.
#[test]
fn a_dead_camera_comes_back_alone_and_a_killed_service_leaves_playable_recordings() {
    let _camera = one_camera_at_a_time();
    let stays = Camera::start(0);
    let port = free_port();
    let mut server = spawn_camera(port);
    let dir = scratch("serve-outage");
    let file = dir.join("cameras.toml");
    std::fs::write(
        &file,
        format!(
            "[defaults]\nconfig = [{cfg:?}]\nexecution_provider = \"cpu\"\npolicy = \"skip\"\n\
             no_overlay = true\nstall_timeout = 3\nretry_delay = 0.5\n\
             [[camera]]\nid = \"stays\"\ninput = {stays:?}\noutput = \"rec/stays.mp4\"\n\
             [[camera]]\nid = \"dies\"\ninput = \"rtsp://127.0.0.1:{port}/cam\"\noutput = \"rec/dies.mp4\"\n",
            cfg = config("pose-tiny-coco17.toml").display().to_string(),
            stays = stays.url,
        ),
    )
    .unwrap();
    let mut svc = Service::start(&file);
    svc.wait_running("stays");
    svc.wait_running("dies");
    let frames = |id: &str| {
        svc.json(&format!("/api/cameras/{id}"))["frames_out"]
            .as_u64()
            .unwrap()
    };
    let wait_state = |id: &str, want: &str| {
        let t = Instant::now();
        loop {
            let c = svc.json(&format!("/api/cameras/{id}"));
            if c["state"] == want {
                return c;
            }
            assert!(t.elapsed() < Duration::from_secs(60), "never {want}: {c}");
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    server.kill();
    wait_state("dies", "reconnecting");
    // The other camera goes on through the outage.
    let before = frames("stays");
    let t = Instant::now();
    while frames("stays") < before + 10 {
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "stays stopped with dies"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(svc.json("/api/cameras/dies")["state"], "reconnecting");
    // Its server back: the camera comes back by itself, one outage counted.
    let _server = spawn_camera(port);
    let back = wait_state("dies", "running");
    assert_eq!(back["camera"]["outages"], 1, "{back}");
    assert_eq!(back["restarts"], 0, "reconnected, not restarted: {back}");
    let before = frames("dies");
    let t = Instant::now();
    while frames("dies") < before + 10 {
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "dies did not come back"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // kill -9: both fragmented recordings play up to their last fragment.
    let mut child = svc.child.take().unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    for rec in ["rec/stays.mp4", "rec/dies.mp4"] {
        let video = read_video(&dir.join(rec));
        assert!(video["frames"].as_u64().unwrap() >= 10, "{rec}: {video}");
    }
}

#[test]
fn the_shipped_cameras_file_is_valid() {
    let out = Command::new(env!("CARGO_BIN_EXE_sapiens"))
        .args(["serve", "--check", "-c"])
        .arg(root().join("configs/serve/cameras.toml"))
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && said.contains("3 cameras, all valid"),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !root().join("configs/serve/recordings").exists(),
        "--check makes no folder"
    );
}

#[test]
fn serve_refuses_a_bad_cameras_file_naming_the_camera_and_the_key() {
    let dir = scratch("serve-bad");
    for (camera, says) in [
        (
            "id = \"door\"\ninput = \"x.mp4\"\npolicy = \"sometimes\"",
            "camera door: key policy",
        ),
        (
            "id = \"door\"\ninput = \"x.mp4\"\nframerate = 5",
            "camera door: key framerate: unknown key",
        ),
        ("input = \"x.mp4\"", "key id: every camera needs an id"),
        (
            "id = \"door\"\ninput = \"missing.mp4\"",
            "camera door: --input",
        ),
    ] {
        std::fs::write(dir.join("x.mp4"), b"").unwrap();
        let file = dir.join("cameras.toml");
        std::fs::write(
            &file,
            format!(
                "[defaults]\nconfig = [{:?}]\n[[camera]]\n{camera}\n",
                config("pose-tiny-coco17.toml").display().to_string()
            ),
        )
        .unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_sapiens"))
            .args(["serve", "-c"])
            .arg(&file)
            .args(["--listen", &format!("127.0.0.1:{}", free_port())])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{camera}: accepted");
        assert!(err.contains(says), "{camera}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(
            !file.with_extension("token").exists(),
            "no token made for a service that did not start"
        );
    }
}

#[test]
fn a_camera_with_analytics_counts_its_events_in_the_api_and_the_metrics() {
    let dir = scratch("serve-analytics");
    // The whole picture is one zone: every person the tracker follows enters it.
    std::fs::write(
        dir.join("all.toml"),
        "schema_version = 1\nunits = \"normalized\"\n[defaults]\nanchor = \"box-bottom\"\n\
         [[zone]]\nname = \"all\"\npolygon = [[0, 0], [1, 0], [1, 1], [0, 1]]\n",
    )
    .unwrap();
    let file = dir.join("cameras.toml");
    std::fs::write(
        &file,
        format!(
            "schema_version = 1\n[[camera]]\nid = \"file\"\ninput = {:?}\nconfig = [{:?}]\n\
             detector = \"hog\"\ntrack = true\nanalytics = \"all.toml\"\nno_overlay = true\n",
            vtest().display().to_string(),
            config("pose-tiny-coco17.toml").display().to_string(),
        ),
    )
    .unwrap();
    let svc = Service::start(&file);
    svc.wait_running("file");
    let t = Instant::now();
    let cam = loop {
        let c = svc.json("/api/cameras/file");
        if c["events"].as_array().is_some_and(|e| !e.is_empty()) {
            break c;
        }
        assert!(t.elapsed() < Duration::from_secs(120), "no events: {c}");
        std::thread::sleep(Duration::from_millis(200));
    };
    let count = &cam["events"][0];
    assert_eq!(
        (count["type"].as_str(), count["rule"].as_str()),
        (Some("zone_entered"), Some("all"))
    );
    let n = count["count"].as_u64().unwrap();
    // The recent events are those entries: each a tracked person (an id) entering "all".
    let recent = cam["recent_events"].as_array().unwrap();
    assert!(!recent.is_empty() && recent.len() as u64 <= n.max(50));
    for e in recent {
        assert_eq!(
            (e["type"].as_str(), e["rule"].as_str()),
            (Some("zone_entered"), Some("all")),
            "{e}"
        );
        assert!(e["id"].is_u64() && e["anchor"] == "box-bottom", "{e}");
    }
    let (status, text) = svc.call("GET", "/metrics", None, None);
    assert_eq!(status, 200);
    let m = sample(
        &text,
        "sapiens_analytics_events_total{camera=\"file\",type=\"zone_entered\",rule=\"all\"}",
    )
    .unwrap_or_else(|| panic!("no analytics counter: {text}"));
    assert!(m >= n as f64, "{m} < {n}");
}

#[test]
fn tls_serves_the_api_over_https_only_with_a_secure_cookie() {
    let dir = scratch("serve-tls");
    // A self-signed certificate for 127.0.0.1, the client's only trusted root.
    let rcgen::CertifiedKey { cert, key_pair } =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .unwrap();
    let (cert_pem, key_pem) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_pem, cert.pem()).unwrap();
    std::fs::write(&key_pem, key_pair.serialize_pem()).unwrap();
    let file = dir.join("cameras.toml");
    std::fs::write(&file, "schema_version = 1\n").unwrap();
    let svc = Service::start_with(
        &file,
        &[
            "--tls-cert",
            cert_pem.to_str().unwrap(),
            "--tls-key",
            key_pem.to_str().unwrap(),
        ],
        "https",
    );
    let root = ureq::tls::Certificate::from_pem(cert.pem().as_bytes())
        .unwrap()
        .to_owned();
    let https: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .tls_config(
            ureq::tls::TlsConfig::builder()
                .root_certs(ureq::tls::RootCerts::new_with_certs(&[root]))
                .build(),
        )
        .build()
        .into();
    let get = |path: &str, auth: &str| {
        let mut r = https
            .get(format!("{}{path}", svc.url))
            .header("Authorization", auth)
            .call()
            .unwrap_or_else(|e| panic!("GET {path} over TLS: {e}"));
        (r.status().as_u16(), r.body_mut().read_to_string().unwrap())
    };
    assert_eq!(get("/healthz", "").0, 200);
    assert_eq!(get("/api/cameras", "Bearer wrong").0, 401);
    let (status, body) = get("/api/cameras", &format!("Bearer {}", svc.token));
    assert_eq!((status, body.as_str()), (200, "[]"));
    // The login cookie is never sent back over plain HTTP.
    let r = https
        .post(format!("{}/api/login", svc.url))
        .header("Content-Type", "application/json")
        .send(format!(r#"{{"token": "{}"}}"#, svc.token))
        .unwrap();
    let cookie = r
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("Secure"),
        "{cookie}"
    );
    // Plain HTTP on the same port gets no answer it could read as HTTP.
    let plain = agent()
        .get(svc.url.replace("https://", "http://") + "/healthz")
        .call();
    assert!(
        plain.as_ref().map_or(true, |r| r.status().as_u16() != 200),
        "plain HTTP answered: {:?}",
        plain.map(|r| r.status())
    );
    drop(svc);
    // A key that is not one: the service refuses to start and names both files.
    std::fs::write(&key_pem, "not a key").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sapiens"))
        .args(["serve", "-c"])
        .arg(&file)
        .args(["--listen", &format!("127.0.0.1:{}", free_port())])
        .arg("--tls-cert")
        .arg(&cert_pem)
        .arg("--tls-key")
        .arg(&key_pem)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("key.pem") && err.contains("--tls-key"),
        "{err}"
    );
    // --tls-cert alone is a usage error.
    let out = Command::new(env!("CARGO_BIN_EXE_sapiens"))
        .args(["serve", "-c"])
        .arg(&file)
        .arg("--tls-cert")
        .arg(&cert_pem)
        .output()
        .unwrap();
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("--tls-key"));
}
