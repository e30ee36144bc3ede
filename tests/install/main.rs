//! Installing for real: `make install` (default prefix /usr/local) and the Debian package
//! (`make deb`, `apt-get install ./….deb`), each checked from an empty folder with an empty
//! environment (no `GST_PLUGIN_PATH`, no `ORT_DYLIB_PATH`, a fresh `HOME` so GStreamer scans its
//! plugin folders anew), then removed and checked gone.
//!
//! Its own test binary: cargo runs test binaries one after another, so no other test sees the
//! system plugin folder change under it. Needs root or passwordless sudo; refuses to touch an
//! existing install. `SAPIENS_SKIP_INSTALL_TESTS=1` skips it (printing why).
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is the report

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// The two tests install the same files: one at a time.
static SYSTEM: Mutex<()> = Mutex::new(());

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn plugin_dir() -> PathBuf {
    let out = Command::new("pkg-config")
        .args(["--variable=pluginsdir", "gstreamer-1.0"])
        .output()
        .unwrap();
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

/// `sudo` when not root; `None` (with the reason) when neither works.
fn privilege() -> Result<Vec<&'static str>, String> {
    let uid = Command::new("id").arg("-u").output().unwrap();
    if String::from_utf8_lossy(&uid.stdout).trim() == "0" {
        return Ok(vec![]);
    }
    let sudo = Command::new("sudo").args(["-n", "true"]).status();
    match sudo {
        Ok(s) if s.success() => Ok(vec!["sudo", "-n"]),
        _ => Err("installing needs root or passwordless sudo".into()),
    }
}

/// Runs `args` (as root when `privileged`), panicking with its output when it fails.
fn run(privileged: bool, args: &[&str]) -> String {
    let mut full: Vec<&str> = if privileged {
        privilege().unwrap()
    } else {
        vec![]
    };
    full.extend_from_slice(args);
    let out = Command::new(full[0])
        .args(&full[1..])
        .current_dir(root())
        .env("DEBIAN_FRONTEND", "noninteractive")
        .output()
        .unwrap_or_else(|e| panic!("{full:?}: {e}"));
    ok(&out, &format!("{full:?}"))
}

/// Runs `program args` in `dir` with nothing from this environment but a `PATH`.
fn bare(dir: &Path, program: &str, args: &[&str]) -> std::process::Output {
    let home = dir.join("home");
    std::fs::create_dir_all(&home).unwrap();
    Command::new(program)
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("HOME", &home)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"))
}

fn ok(out: &std::process::Output, what: &str) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{what} failed:\n{text}");
    text
}

/// A fresh, empty folder outside the tree.
fn scratch(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sapiens-install-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Skips (printing why) when asked to, or fails naming what is in the way.
fn preconditions(files: &[PathBuf]) -> bool {
    if std::env::var_os("SAPIENS_SKIP_INSTALL_TESTS").is_some_and(|v| v == "1") {
        eprintln!("skipped: SAPIENS_SKIP_INSTALL_TESTS=1");
        return false;
    }
    if let Err(why) = privilege() {
        panic!("{why} (or set SAPIENS_SKIP_INSTALL_TESTS=1 to skip the install tests)");
    }
    for f in files {
        assert!(
            !f.exists(),
            "{} exists: an installed sapiens-stream is present and the test would replace it; \
             remove it first",
            f.display()
        );
    }
    true
}

/// What a user relies on after installing, checked from an empty folder with no environment:
/// the element is registered from the system folder, the shipped configs are found by name, the
/// ONNX Runtime library loads, a pipeline and the CLI produce results.
fn check_installed(tag: &str, plugin: &Path, bin: &Path, data: &Path) {
    let dir = scratch(tag);
    let inspect = ok(
        &bare(&dir, "gst-inspect-1.0", &["sapienspose"]),
        "gst-inspect-1.0 sapienspose",
    );
    // The file GStreamer loaded it from (Debian's /lib is a link to /usr/lib: compare real paths).
    let loaded = inspect
        .lines()
        .find_map(|l| l.trim().strip_prefix("Filename"))
        .map(|f| std::fs::canonicalize(f.trim()).unwrap())
        .unwrap_or_else(|| panic!("no Filename in:\n{inspect}"));
    assert_eq!(loaded, std::fs::canonicalize(plugin).unwrap(), "{inspect}");

    // The configs the package ships, by name, with their models.
    let models = ok(
        &bare(&dir, bin.to_str().unwrap(), &["models"]),
        "sapiens models",
    );
    let line = models
        .lines()
        .find(|l| l.starts_with("pose-tiny-coco17.toml"))
        .unwrap_or_else(|| panic!("no pose-tiny-coco17 in:\n{models}"));
    assert!(line.contains("present"), "{line}");
    assert!(data.join("configs/pose-tiny-coco17.toml").is_file());

    // gst-launch: a config named without a path; 4 frames → 4 records of 17 keypoints.
    let json = dir.join("out.jsonl");
    let launch = format!(
        "videotestsrc num-buffers=4 ! video/x-raw,width=320,height=240 ! videoconvert ! \
         sapienspose config=pose-tiny-coco17 ! sapiensjson location={} ! fakesink",
        json.display()
    );
    let args: Vec<&str> = launch.split_whitespace().collect();
    ok(&bare(&dir, "gst-launch-1.0", &args), "gst-launch-1.0");
    let records: Vec<serde_json::Value> = std::fs::read_to_string(&json)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 4);
    for r in &records {
        let persons = r["pose"]["persons"].as_array().unwrap();
        assert_eq!(persons.len(), 1, "{r}");
        assert_eq!(persons[0]["keypoints"].as_array().unwrap().len(), 17);
    }

    // The CLI on the real video, config by name, stats out.
    let vtest = root().join("data/vtest.avi");
    let stats = dir.join("stats.json");
    let out = dir.join("out.mp4");
    ok(
        &bare(
            &dir,
            bin.to_str().unwrap(),
            &[
                "run",
                "--input",
                vtest.to_str().unwrap(),
                "--config",
                "pose-tiny-coco17",
                "--output",
                out.to_str().unwrap(),
                "--max-frames",
                "6",
                "--stats-json",
                stats.to_str().unwrap(),
            ],
        ),
        "sapiens run",
    );
    let stats: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&stats).unwrap()).unwrap();
    assert_eq!(stats["heads"][0]["stats"]["frames_out"], 6, "{stats}");
    assert!(std::fs::metadata(&out).unwrap().len() > 0);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// After removal: no file left, and GStreamer no longer finds the element.
fn check_removed(tag: &str, files: &[PathBuf]) {
    for f in files {
        assert!(!f.exists(), "{} left behind", f.display());
    }
    let dir = scratch(tag);
    let out = bare(&dir, "gst-inspect-1.0", &["sapienspose"]);
    assert!(
        !out.status.success(),
        "sapienspose still registered after removal"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Removes an install when a check fails half-way, so later test binaries (which load the
/// plugin from `target/`) never meet a second copy in the system folder.
struct Undo(Vec<&'static str>);

impl Drop for Undo {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let mut cmd: Vec<&str> = privilege().unwrap_or_default();
            cmd.extend_from_slice(&self.0);
            let _ = Command::new(cmd[0])
                .args(&cmd[1..])
                .current_dir(root())
                .status();
        }
    }
}

#[test]
fn make_install_then_uninstall() {
    let _one = SYSTEM.lock().unwrap_or_else(|e| e.into_inner());
    let prefix = Path::new("/usr/local");
    let plugin = plugin_dir().join("libgstsapiens.so");
    let bin = prefix.join("bin/sapiens");
    let data = prefix.join("share/sapiens-stream");
    let ort = prefix.join("lib/sapiens-stream/libonnxruntime.so.1.32.0");
    let files = [plugin.clone(), bin.clone(), data.clone(), ort.clone()];
    if !preconditions(&files) {
        return;
    }
    // Build as this user, copy as root (what the README tells a user to do).
    run(false, &["make", "install-build"]);
    let undo = Undo(vec!["make", "uninstall"]);
    run(true, &["make", "install"]);
    for f in &files {
        assert!(f.exists(), "make install did not create {}", f.display());
    }
    check_installed("make", &plugin, &bin, &data);
    run(true, &["make", "uninstall"]);
    check_removed("make-removed", &files);
    drop(undo);
}

#[test]
fn debian_package_installs_and_removes() {
    let _one = SYSTEM.lock().unwrap_or_else(|e| e.into_inner());
    let plugin = plugin_dir().join("libgstsapiens.so");
    let bin = PathBuf::from("/usr/bin/sapiens");
    let data = PathBuf::from("/usr/share/sapiens-stream");
    let ort = PathBuf::from("/usr/lib/sapiens-stream/libonnxruntime.so.1.32.0");
    let files = [plugin.clone(), bin.clone(), data.clone(), ort.clone()];
    if !preconditions(&files) {
        return;
    }
    run(false, &["make", "deb"]);
    let debs: Vec<PathBuf> = std::fs::read_dir(root().join("target/debian"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "deb"))
        .collect();
    assert_eq!(debs.len(), 1, "one package expected: {debs:?}");
    let deb = &debs[0];

    // What the package declares: the GStreamer plugin sets and the libraries it links.
    let fields = run(false, &["dpkg-deb", "--field", deb.to_str().unwrap()]);
    for dep in [
        "gstreamer1.0-plugins-good",
        "gstreamer1.0-plugins-ugly",
        "libgstreamer1.0-0",
        "libopencv-objdetect406",
        "libgstrtspserver-1.0-0",
    ] {
        assert!(fields.contains(dep), "Depends lacks {dep}:\n{fields}");
    }

    let undo = Undo(vec!["apt-get", "remove", "-y", "-qq", "sapiens-stream"]);
    let local = format!("./{}", deb.strip_prefix(root()).unwrap().display());
    run(true, &["apt-get", "install", "-y", "-qq", &local]);
    let listed = run(false, &["dpkg", "-L", "sapiens-stream"]);
    for f in &files {
        assert!(
            listed.contains(&f.display().to_string()),
            "dpkg -L lacks {}",
            f.display()
        );
    }
    check_installed("deb", &plugin, &bin, &data);
    run(true, &["apt-get", "remove", "-y", "-qq", "sapiens-stream"]);
    check_removed("deb-removed", &files);
    drop(undo);
}
