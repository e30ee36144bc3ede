//! `sapiens serve`'s dashboard in a real browser: Debian's headless Chromium driven over
//! WebDriver (chromedriver, the `fantoccini` client) logs in with the token, sees the file's
//! camera with a live picture that changes, adds a camera through the form and removes it.
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{ClientBuilder, Locator};

use crate::common::*;
use crate::serve::Service;

/// chromedriver on 127.0.0.1 and the profile folder of the browser it starts; both stopped
/// when dropped (also when the test fails before closing its session: killing chromedriver
/// leaves the browser running).
struct Driver(Child, u16, std::path::PathBuf);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        let _ = Command::new("pkill")
            .args(["-f", "--"])
            .arg(format!("--user-data-dir={}", self.2.display()))
            .status();
    }
}

fn chromedriver(profile: std::path::PathBuf) -> Driver {
    let port = free_port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver (apt chromium-driver; scripts/setup.sh installs it)");
    let t = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "chromedriver did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Driver(child, port, profile)
}

/// Waits (at most `limit`) for `ready` to give a value.
async fn until<T, F: std::future::Future<Output = Option<T>>>(
    what: &str,
    limit: Duration,
    mut ready: impl FnMut() -> F,
) -> T {
    let t = Instant::now();
    loop {
        if let Some(v) = ready().await {
            return v;
        }
        assert!(t.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[test]
fn the_dashboard_shows_live_cameras_and_adds_and_removes_one_in_a_browser() {
    let dir = scratch("dashboard");
    let file = dir.join("cameras.toml");
    std::fs::write(
        &file,
        format!(
            "[defaults]\nconfig = [{cfg:?}]\nexecution_provider = \"cpu\"\npolicy = \"skip\"\n\
             detector = \"nanodet\"\ndetect_interval = 3\n\
             [[camera]]\nid = \"walkers\"\ninput = {vtest:?}\n",
            cfg = config("pose-tiny-coco17.toml").display().to_string(),
            vtest = vtest().display().to_string(),
        ),
    )
    .unwrap();
    let svc = Service::start(&file);
    svc.wait_running("walkers");
    let driver = chromedriver(dir.join("chromium-profile"));
    let artifact = root().join("target/test-artifacts");
    std::fs::create_dir_all(&artifact).unwrap();

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--window-size=1280,1000", format!("--user-data-dir={}", driver.2.display()),
                ],
            }),
        );
        let browser = ClientBuilder::new(
            hyper_util::client::legacy::connect::HttpConnector::new(),
        )
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.1))
        .await
        .expect("a Chromium session");

        // Without the cookie the page asks for the token.
        browser.goto(&svc.url).await.unwrap();
        let token_field = browser
            .wait()
            .at_most(Duration::from_secs(30))
            .for_element(Locator::Css("#token"))
            .await
            .unwrap();
        let login = browser.find(Locator::Css("#login")).await.unwrap();
        until("the login form", Duration::from_secs(30), || async {
            login.is_displayed().await.ok().filter(|shown| *shown)
        })
        .await;
        token_field.send_keys(&svc.token).await.unwrap();
        browser
            .find(Locator::Css("#login button"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();

        // The file's camera, with its live picture changing (people walk in vtest.avi).
        let img = browser
            .wait()
            .at_most(Duration::from_secs(60))
            .for_element(Locator::Css("#camera-walkers img"))
            .await
            .unwrap();
        let width = || async {
            let w = browser
                .execute(
                    "return document.querySelector('#camera-walkers img').naturalWidth",
                    vec![],
                )
                .await
                .ok()?;
            w.as_u64().filter(|w| *w > 0)
        };
        assert_eq!(until("a live picture", Duration::from_secs(60), width).await, 640);
        let first = img.screenshot().await.unwrap();
        let second = until("a new picture", Duration::from_secs(30), || async {
            let now = img.screenshot().await.ok()?;
            (now != first).then_some(now)
        })
        .await;
        assert_ne!(first, second);
        let state = browser
            .find(Locator::Css("#camera-walkers .state"))
            .await
            .unwrap();
        until("running", Duration::from_secs(30), || async {
            (state.text().await.ok()? == "running").then_some(())
        })
        .await;

        // Added through the form: it appears with a live picture.
        browser
            .find(Locator::Css("#add-id"))
            .await
            .unwrap()
            .send_keys("added")
            .await
            .unwrap();
        browser
            .find(Locator::Css("#add-input"))
            .await
            .unwrap()
            .send_keys(&vtest().display().to_string())
            .await
            .unwrap();
        browser
            .find(Locator::Css("#add button[type=submit]"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        until("the added camera's picture", Duration::from_secs(90), || async {
            let w = browser
                .execute(
                    "const i = document.querySelector('#camera-added img'); return i ? i.naturalWidth : 0",
                    vec![],
                )
                .await
                .ok()?;
            w.as_u64().filter(|w| *w > 0)
        })
        .await;
        // Both cameras' detectors and pose heads: one session each, shared.
        let sessions = |id: &str| -> Vec<u64> {
            svc.json(&format!("/api/cameras/{id}"))["heads"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| h["session_id"].as_u64().unwrap())
                .collect()
        };
        let (a, b) = (sessions("walkers"), sessions("added"));
        assert!(a.len() == 2 && a.iter().all(|s| *s > 0), "{a:?}");
        assert_eq!(a, b, "detector and pose sessions shared");
        std::fs::write(
            artifact.join("dashboard.png"),
            browser.screenshot().await.unwrap(),
        )
        .unwrap();

        // Removed with its button: gone from the page and from the service.
        browser
            .find(Locator::Css("#camera-added .remove"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        until("the camera removed", Duration::from_secs(60), || async {
            let left = browser
                .find_all(Locator::Css("#camera-added"))
                .await
                .ok()?;
            left.is_empty().then_some(())
        })
        .await;
        assert_eq!(svc.call("GET", "/api/cameras/added", None, None).0, 404);
        browser.close().await.unwrap();
    });
    // With the page gone, nobody watches: the live views close again.
    let t = Instant::now();
    while svc.json("/api/cameras/walkers")["viewers"] != 0 {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "a viewer left behind"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
