//! The cameras file of `sapiens serve` (`cameras.toml`): defaults at the top, one `[[camera]]`
//! table per camera. Every key but `id` is a `sapiens run` flag without its dashes
//! (`execution_provider` or `execution-provider`), parsed by the same clap definition, so a
//! camera takes exactly what `sapiens run` takes, with the same checks and defaults.
//!
//! ```toml
//! schema_version = 1
//! [defaults]
//! config = ["pose-tiny-coco17"]
//! policy = "skip"
//! [[camera]]
//! id = "door"
//! input = "rtsp://10.0.0.7/stream1"
//! output = "recordings/door.mp4"
//! ```
//! A file input plays at its own frame rate (`realtime = true`) unless the camera says
//! `realtime = false`. Relative paths (`input` files, `output`, `json`, `clips`, `rtsp_serve_credentials`, `.onnx`/`.toml` detectors, `config` and `analytics` files that
//! exist there) are relative to the cameras file's folder; a `config` not found there is looked
//! up as `sapiens run` does (a shipped config's name).
use std::path::{Path, PathBuf};

use clap::Parser;

use super::super::run::RunArgs;

/// The file's schema version.
pub const SCHEMA_VERSION: i64 = 1;

/// Keys of `sapiens run` a service camera does not take, and why.
const REFUSED: &[(&str, &str)] = &[
    (
        "max-frames",
        "a service camera runs until it is removed or its input ends",
    ),
    (
        "stats-json",
        "a service camera's figures are in GET /api/cameras/ID and /metrics",
    ),
    (
        "stats-interval",
        "a service prints no live lines: its figures are in the API",
    ),
];

/// What is wrong with a camera's settings: the camera, the key (when one is to blame) and why.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    pub camera: Option<String>,
    pub field: Option<String>,
    pub message: String,
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(c) = &self.camera {
            write!(f, "camera {c}: ")?;
        }
        if let Some(k) = &self.field {
            write!(f, "key {k}: ")?;
        }
        f.write_str(&self.message)
    }
}

fn field_error(camera: &str, field: Option<&str>, message: impl Into<String>) -> FieldError {
    FieldError {
        camera: Some(camera.to_string()),
        field: field.map(str::to_string),
        message: message.into(),
    }
}

/// One camera: its id, its keys as written (saved back by `POST /api/config/save`) and the run
/// settings they make with the defaults.
#[derive(Debug, Clone)]
pub struct CameraSpec {
    pub id: String,
    /// The camera's own keys (without `id`), as written in the file or the request.
    pub table: toml::Table,
    pub args: RunArgs,
}

/// The whole file.
#[derive(Debug, Clone)]
pub struct FleetFile {
    pub path: PathBuf,
    pub defaults: toml::Table,
    pub cameras: Vec<CameraSpec>,
}

/// `sapiens run`'s flags as a parser of their own (no program name in front).
#[derive(Debug, Parser)]
#[command(no_binary_name = true)]
struct CameraFlags {
    #[command(flatten)]
    run: RunArgs,
}

impl FleetFile {
    /// Reads and checks the cameras file at `path`: every camera must be valid, or none runs.
    pub fn load(path: &Path) -> Result<FleetFile, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cameras file {}: {e}", path.display()))?;
        let mut doc: toml::Table = text
            .parse()
            .map_err(|e| format!("cameras file {}: {e}", path.display()))?;
        let at = |m: String| format!("cameras file {}: {m}", path.display());
        match doc.remove("schema_version") {
            Some(toml::Value::Integer(SCHEMA_VERSION)) | None => {}
            Some(v) => {
                return Err(at(format!(
                    "schema_version {v} is not {SCHEMA_VERSION}, the version this sapiens reads"
                )));
            }
        }
        let defaults = match doc.remove("defaults") {
            Some(toml::Value::Table(t)) => t,
            None => toml::Table::new(),
            Some(_) => return Err(at("defaults must be a table ([defaults])".into())),
        };
        if defaults.contains_key("id") {
            return Err(at("defaults: id belongs to each camera".into()));
        }
        let cameras = match doc.remove("camera") {
            Some(toml::Value::Array(a)) => a,
            None => Vec::new(),
            Some(_) => {
                return Err(at(
                    "camera must be an array of tables ([[camera]] for each)".into(),
                ));
            }
        };
        if let Some(k) = doc.keys().next() {
            return Err(at(format!(
                "unknown key {k} (the file has schema_version, [defaults] and [[camera]] tables)"
            )));
        }
        let base = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        let mut specs: Vec<CameraSpec> = Vec::new();
        for (i, cam) in cameras.into_iter().enumerate() {
            let toml::Value::Table(table) = cam else {
                return Err(at(format!("camera {}: not a table", i + 1)));
            };
            let spec = camera(table, &defaults, &base).map_err(|e| at(e.to_string()))?;
            check_unique(&specs, &spec).map_err(|e| at(e.to_string()))?;
            specs.push(spec);
        }
        Ok(FleetFile {
            path: path.to_path_buf(),
            defaults,
            cameras: specs,
        })
    }

    /// The file as TOML text, with `cameras` in place of the ones read.
    pub fn to_toml(&self, cameras: &[CameraSpec]) -> String {
        let mut doc = toml::Table::new();
        doc.insert("schema_version".into(), SCHEMA_VERSION.into());
        if !self.defaults.is_empty() {
            doc.insert("defaults".into(), self.defaults.clone().into());
        }
        let list: Vec<toml::Value> = cameras
            .iter()
            .map(|c| {
                let mut t = toml::Table::new();
                t.insert("id".into(), c.id.clone().into());
                t.extend(c.table.clone());
                t.into()
            })
            .collect();
        doc.insert("camera".into(), list.into());
        toml::to_string_pretty(&doc).unwrap_or_default()
    }

    /// The folder relative paths start from.
    pub fn base(&self) -> PathBuf {
        self.path.parent().unwrap_or(Path::new(".")).to_path_buf()
    }
}

/// A camera is refused beside `others` when its id or its recording is already theirs.
pub fn check_unique(others: &[CameraSpec], spec: &CameraSpec) -> Result<(), FieldError> {
    if others.iter().any(|o| o.id == spec.id) {
        return Err(field_error(
            &spec.id,
            Some("id"),
            "another camera has this id",
        ));
    }
    if let Some(out) = &spec.args.output
        && let Some(o) = others.iter().find(|o| o.args.output.as_ref() == Some(out))
    {
        return Err(field_error(
            &spec.id,
            Some("output"),
            format!("{} is camera {}'s recording already", out.display(), o.id),
        ));
    }
    Ok(())
}

/// A camera from its table (`id` and run keys) over `defaults`, paths relative to `base`.
pub fn camera(
    mut table: toml::Table,
    defaults: &toml::Table,
    base: &Path,
) -> Result<CameraSpec, FieldError> {
    let id = match table.remove("id") {
        Some(toml::Value::String(id)) => id,
        Some(_) => {
            return Err(FieldError {
                camera: None,
                field: Some("id".into()),
                message: "must be a string".into(),
            });
        }
        None => {
            return Err(FieldError {
                camera: None,
                field: Some("id".into()),
                message: "every camera needs an id".into(),
            });
        }
    };
    let id_ok = !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !id_ok {
        return Err(FieldError {
            camera: None,
            field: Some("id".into()),
            message: format!("{id:?}: 1 to 64 letters, digits, - or _ (it names URLs and files)"),
        });
    }
    // A file camera plays at its own frame rate, as a camera would, unless told otherwise.
    let mut merged = toml::Table::from_iter([("realtime".to_string(), true.into())]);
    merged.extend(defaults.clone());
    merged.extend(table.clone());
    let argv = flags(&id, &merged, base)?;
    let mut args = CameraFlags::try_parse_from(&argv)
        .map_err(|e| clap_error(&id, &merged, &e))?
        .run;
    if args.json.as_deref() == Some("-") {
        return Err(field_error(
            &id,
            Some("json"),
            "a service camera writes its JSON lines to a file or MQTT, not stdout",
        ));
    }
    args.share_models = true;
    args.live_view = true;
    Ok(CameraSpec { id, table, args })
}

/// The command-line flags of `table`'s keys.
fn flags(id: &str, table: &toml::Table, base: &Path) -> Result<Vec<String>, FieldError> {
    let mut argv = Vec::new();
    for (key, value) in table {
        let flag = key.replace('_', "-");
        if let Some((_, why)) = REFUSED.iter().find(|(k, _)| *k == flag) {
            return Err(field_error(id, Some(key), *why));
        }
        let values: Vec<&toml::Value> = match value {
            toml::Value::Array(a) => a.iter().collect(),
            v => vec![v],
        };
        for v in values {
            let text = match v {
                toml::Value::String(s) => relative(&flag, s, base),
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Float(f) => f.to_string(),
                toml::Value::Boolean(true) => {
                    argv.push(format!("--{flag}"));
                    continue;
                }
                toml::Value::Boolean(false) => continue,
                _ => {
                    return Err(field_error(
                        id,
                        Some(key),
                        "takes a string, a number, true/false or a list of them",
                    ));
                }
            };
            argv.push(format!("--{flag}"));
            argv.push(text);
        }
    }
    Ok(argv)
}

/// `value` of `flag` with a relative path made relative to `base`.
fn relative(flag: &str, value: &str, base: &Path) -> String {
    let is_path = |v: &str| !v.contains("://") && !v.starts_with("/dev/") && v != "-";
    let joined = || base.join(value).to_string_lossy().into_owned();
    let relative = Path::new(value).is_relative();
    match flag {
        "input" | "output" | "json" | "clips" | "rtsp-serve-credentials"
            if relative && is_path(value) =>
        {
            joined()
        }
        "config" | "analytics" if relative && base.join(value).is_file() => joined(),
        "detector"
            if relative
                && (value.ends_with(".onnx") || value.ends_with(".toml"))
                && base.join(value).is_file() =>
        {
            joined()
        }
        _ => value.to_string(),
    }
}

/// A clap error as a [`FieldError`] naming the key it is about.
fn clap_error(id: &str, table: &toml::Table, e: &clap::Error) -> FieldError {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let arg = match e.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        _ => None,
    };
    // "--policy <POLICY>" → the key as the file spells it.
    let key = arg.as_deref().and_then(|a| {
        let flag = a.trim_start_matches('-').split([' ', '=']).next()?;
        table
            .keys()
            .find(|k| k.replace('_', "-") == flag)
            .cloned()
            .or_else(|| Some(flag.to_string()))
    });
    let message = match e.kind() {
        ErrorKind::UnknownArgument => {
            "unknown key (a camera takes id and the flags of `sapiens run`, without their dashes)"
                .to_string()
        }
        ErrorKind::MissingRequiredArgument => {
            let missing = match e.get(ContextKind::InvalidArg) {
                Some(ContextValue::Strings(v)) => v.join(", "),
                _ => String::new(),
            };
            return field_error(
                id,
                None,
                format!(
                    "missing {} (in the camera or in [defaults])",
                    missing.replace("--", "").replace(" <", "").replace('>', "")
                ),
            );
        }
        _ => e
            .render()
            .to_string()
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.contains("--help"))
            .map(|l| l.trim().trim_start_matches("error: ").replace("'--", "'"))
            .collect::<Vec<_>>()
            .join("; "),
    };
    field_error(id, key.as_deref(), message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> toml::Table {
        text.parse().unwrap()
    }

    #[test]
    fn a_camera_takes_run_flags_over_the_defaults() {
        let defaults = table("config = ['a.toml', 'b.toml']\npolicy = 'skip'\ninterval = 3");
        let spec = camera(
            table("id = 'door'\ninput = 'rtsp://h/s'\ninterval = 2\ntrack = true\ndetector = 'hog'\noutput = 'rec/door.mp4'"),
            &defaults,
            Path::new("/srv/cams"),
        )
        .unwrap();
        assert_eq!(spec.id, "door");
        assert_eq!(spec.args.input, "rtsp://h/s");
        assert_eq!(spec.args.interval, 2, "the camera's value wins");
        assert_eq!(spec.args.policy, crate::pipelining::Policy::Skip);
        assert!(spec.args.track && spec.args.share_models);
        assert_eq!(
            spec.args.output.as_deref(),
            Some(Path::new("/srv/cams/rec/door.mp4"))
        );
        // Configs not found beside the file are left for `sapiens run`'s own lookup.
        assert_eq!(spec.args.config.len(), 2);
        assert_eq!(spec.args.config[0], Path::new("a.toml"));
        // Only the camera's own keys are kept (saved back as written).
        assert!(!spec.table.contains_key("policy") && !spec.table.contains_key("id"));
    }

    #[test]
    fn errors_name_the_camera_and_the_key() {
        let d = table("config = ['a.toml']");
        let err = |t: &str| camera(table(t), &d, Path::new(".")).unwrap_err();
        let e = err("id = 'c1'\ninput = 'x.mp4'\npolicy = 'sometimes'");
        assert_eq!(
            (e.camera.as_deref(), e.field.as_deref()),
            (Some("c1"), Some("policy"))
        );
        assert!(e.message.contains("sometimes"), "{e}");
        let e = err("id = 'c1'\ninput = 'x.mp4'\nframe_rate = 3");
        assert_eq!(e.field.as_deref(), Some("frame_rate"));
        assert!(e.message.contains("unknown key"), "{e}");
        let e = err("id = 'c1'\ninput = 'x.mp4'\nmax_frames = 3");
        assert_eq!(e.field.as_deref(), Some("max_frames"));
        let e = err("id = 'c1'");
        assert!(e.message.contains("missing input"), "{e}");
        let e = err("id = 'c 1'\ninput = 'x.mp4'");
        assert_eq!(e.field.as_deref(), Some("id"));
        let e = err("input = 'x.mp4'");
        assert_eq!(e.field.as_deref(), Some("id"));
        let e = err("id = 'c1'\ninput = 'x.mp4'\ninterval = 0");
        assert_eq!(e.field.as_deref(), Some("interval"));
        let e = err("id = 'c1'\ninput = 'x.mp4'\njson = '-'");
        assert_eq!(e.field.as_deref(), Some("json"));
        let e = err("id = 'c1'\ninput = 'x.mp4'\npolicy = { a = 1 }");
        assert_eq!(e.field.as_deref(), Some("policy"));
    }

    #[test]
    fn ids_and_recordings_are_unique() {
        let d = table("config = ['a.toml']");
        let a = camera(
            table("id = 'a'\ninput = 'x.mp4'\noutput = 'o.mp4'"),
            &d,
            Path::new("."),
        )
        .unwrap();
        let same_id = camera(table("id = 'a'\ninput = 'y.mp4'"), &d, Path::new(".")).unwrap();
        assert_eq!(
            check_unique(std::slice::from_ref(&a), &same_id)
                .unwrap_err()
                .field
                .as_deref(),
            Some("id")
        );
        let same_out = camera(
            table("id = 'b'\ninput = 'y.mp4'\noutput = 'o.mp4'"),
            &d,
            Path::new("."),
        )
        .unwrap();
        assert_eq!(
            check_unique(&[a], &same_out).unwrap_err().field.as_deref(),
            Some("output")
        );
    }

    #[test]
    fn the_file_round_trips_through_save() {
        let dir = std::env::temp_dir().join(format!("sapiens-fleet-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("cameras.toml");
        std::fs::write(
            &path,
            "schema_version = 1\n[defaults]\nconfig = ['a.toml']\n[[camera]]\nid = 'a'\ninput = 'rtsp://h/a'\n[[camera]]\nid = 'b'\ninput = 'rtsp://h/b'\ninterval = 2\n",
        )
        .unwrap();
        let f = FleetFile::load(&path).unwrap();
        assert_eq!(f.cameras.len(), 2);
        std::fs::write(&path, f.to_toml(&f.cameras[1..])).unwrap();
        let again = FleetFile::load(&path).unwrap();
        assert_eq!(again.cameras.len(), 1);
        assert_eq!(
            (again.cameras[0].id.as_str(), again.cameras[0].args.interval),
            ("b", 2)
        );
        std::fs::write(&path, "schema_version = 2\n").unwrap();
        assert!(
            FleetFile::load(&path)
                .unwrap_err()
                .contains("schema_version 2")
        );
        std::fs::write(&path, "cameras = []\n").unwrap();
        assert!(
            FleetFile::load(&path)
                .unwrap_err()
                .contains("unknown key cameras")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
