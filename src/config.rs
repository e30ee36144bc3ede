//! Typed TOML model configs (`configs/*.toml`).
//!
//! A config names the ONNX model (path relative to the config file), the model's input contract
//! (size, RGB mean/std on the 0..255 scale) and the head's settings. Unknown keys are errors.
//! Precedence everywhere: element property > config > default. See `configs/README.md`.
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::labels::{KeypointSetId, SegClassSetId};
use crate::runtime::{RuntimeOptions, RuntimeOverrides};

/// The config schema this build reads.
pub const SCHEMA_VERSION: u32 = 1;

/// A parsed, validated model config.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "ConfigFile")]
pub struct Config {
    pub schema_version: u32,
    pub model: ModelSection,
    pub input: InputSection,
    /// `[runtime]`: session defaults that element properties may override.
    pub runtime: RuntimeOverrides,
    /// The one head section the file has.
    pub head: HeadSection,
    /// Where this config was read from (set by [`Config::load`]).
    pub source: PathBuf,
}

/// The head a config is for, with its section.
#[derive(Debug, Clone)]
pub enum HeadSection {
    Pose(PoseSection),
    Seg(SegSection),
    Depth(DepthSection),
    Normal(NormalSection),
    Pointmap(PointmapSection),
    Detector(DetectorSection),
}

/// The file as written: one of the head sections must be there.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    schema_version: u32,
    model: ModelSection,
    #[serde(default)]
    input: InputSection,
    #[serde(default)]
    runtime: RuntimeOverrides,
    pose: Option<PoseSection>,
    seg: Option<SegSection>,
    depth: Option<DepthSection>,
    normal: Option<NormalSection>,
    pointmap: Option<PointmapSection>,
    detector: Option<DetectorSection>,
}

impl TryFrom<ConfigFile> for Config {
    type Error = String;
    fn try_from(f: ConfigFile) -> std::result::Result<Self, String> {
        let mut heads = [
            f.pose.map(HeadSection::Pose),
            f.seg.map(HeadSection::Seg),
            f.depth.map(HeadSection::Depth),
            f.normal.map(HeadSection::Normal),
            f.pointmap.map(HeadSection::Pointmap),
            f.detector.map(HeadSection::Detector),
        ]
        .into_iter()
        .flatten();
        let (Some(head), None) = (heads.next(), heads.next()) else {
            return Err(
                "expected exactly one head section: one of [pose], [seg], [depth], [normal], [pointmap], [detector]"
                    .into(),
            );
        };
        Ok(Config {
            schema_version: f.schema_version,
            model: f.model,
            input: f.input,
            runtime: f.runtime,
            head,
            source: PathBuf::new(),
        })
    }
}

/// `[model]`: which ONNX file, and which of its tensors.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSection {
    /// ONNX file; relative paths are relative to the config file.
    pub path: PathBuf,
    /// Input tensor name; default: the model's only input.
    pub input_name: Option<String>,
    /// Output tensor name; default: the model's first output.
    pub output_name: Option<String>,
    /// `trained` (official weights) or `untrained` (generated test/demo weights: outputs are
    /// noise, and every visual output says so).
    #[serde(default)]
    pub weights: Weights,
    /// Free text shown by `sapiens models`.
    #[serde(default)]
    pub description: String,
    /// The command that makes `path` (run from the repository root), printed by `sapiens
    /// models` when the file is missing.
    pub export: Option<String>,
}

/// Whether a model's weights are real.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Weights {
    #[default]
    Trained,
    Untrained,
}

/// `[input]`: the model's input contract. Defaults are the Sapiens ones.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InputSection {
    /// Model input height in pixels (1024 for Sapiens).
    pub height: u32,
    /// Model input width in pixels (768 for Sapiens).
    pub width: u32,
    /// Per-channel mean, RGB order, 0..255 scale.
    pub mean: [f32; 3],
    /// Per-channel standard deviation, RGB order, 0..255 scale.
    pub std: [f32; 3],
    /// How a dense head's frame reaches the input size: `stretch` (v1, Sapiens2 seg) or
    /// `letterbox` (Sapiens2 normal and pointmap: aspect kept, centred zero padding, cropped off
    /// the output). Pose crops and detectors have their own geometry.
    pub resize: DenseResize,
}

/// How a dense head's input is made from the whole frame (SAPIENS2.md 4.3).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DenseResize {
    #[default]
    Stretch,
    /// `s = min(W_in/W, H_in/H)`, resized to `(⌊W·s⌋, ⌊H·s⌋)`, padded with black (0 before
    /// normalization) split `pad//2` left/top, the rest right/bottom.
    Letterbox,
}

impl Default for InputSection {
    fn default() -> Self {
        // SAPIENS.md section 3.1, the lite demo's values.
        Self {
            height: 1024,
            width: 768,
            mean: [123.5, 116.5, 103.5],
            std: [58.5, 57.0, 57.5],
            resize: DenseResize::Stretch,
        }
    }
}

/// `[pose]`: top-down keypoint head settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoseSection {
    /// Heatmap channel order: `goliath-308`, `coco-wholebody-133`, `coco-17` or `mpii-16`.
    pub keypoint_set: KeypointSetId,
    /// Keypoints scoring below this are kept in the result but not drawn (official: 0.3).
    #[serde(default = "default_score_threshold")]
    pub score_threshold: f32,
    /// Person box padding factor before the 3:4 aspect fix (official: 1.25).
    #[serde(default = "default_box_padding")]
    pub box_padding: f32,
    /// Heatmap size is input size / this (4 for Sapiens: 1024x768 -> 256x192).
    #[serde(default = "default_heatmap_stride")]
    pub heatmap_stride: u32,
    /// Flip test, as the official Sapiens2 demo: each crop also runs mirrored, and the mirrored
    /// heatmaps (flipped back, left/right channels swapped) are averaged in. Twice the model time.
    #[serde(default)]
    pub flip_test: bool,
}

/// `[seg]`: body-part segmentation.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegSection {
    /// The logits' classes: `goliath-seg-28` (v1), `dome-seg-29` (Sapiens2), or `person-2` (a
    /// person mask model's one probability plane).
    #[serde(default)]
    pub classes: SegClassSetId,
    /// `exact` (upsample logits, then argmax: the official demo) or `fast` (argmax at model
    /// resolution, then nearest upsample).
    #[serde(default)]
    pub mode: SegMode,
    /// Logits are input size / this (2 for Sapiens: 1024x768 -> 512x384).
    #[serde(default = "two")]
    pub output_stride: u32,
}

/// `[detector]`: a person detector model (`sapiensdetect backend=onnx`); its output layout is
/// recognized from the model (YOLOv8/YOLO11, YOLOX/YOLOv5, mmdeploy RTMDet).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetectorSection {
    /// How the frame reaches the `[input]` size.
    #[serde(default)]
    pub resize: DetectorResize,
    /// Grey level of the letterbox padding (114 for YOLO and mmdet).
    #[serde(default = "default_pad")]
    pub pad_value: u8,
    /// Channel order the model takes (`[input]` mean and std are in this order).
    #[serde(default)]
    pub channel_order: ChannelOrder,
    /// Class index of "person" in the model's classes (0 for COCO).
    #[serde(default)]
    pub person_class: usize,
    /// How many classes the model scores (80 for COCO): tells a GFL head's score tensors from
    /// its box tensors. The other layouts read it from their output shapes.
    #[serde(default = "default_classes")]
    pub classes: usize,
    /// Least score of a person box (the official Sapiens pipeline: 0.3).
    #[serde(default = "default_det_threshold")]
    pub score_threshold: f32,
    /// Boxes overlapping a better one by more than this IoU are dropped (official: 0.3).
    #[serde(default = "default_det_threshold")]
    pub nms_iou: f32,
    /// At most this many boxes a frame.
    #[serde(default = "default_max_detections")]
    pub max_detections: usize,
    /// Boxes shorter or narrower than this (frame px) are left out.
    #[serde(default)]
    pub min_size: f32,
}

/// How a detector's input is made from the frame.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DetectorResize {
    /// Keep the aspect, pad bottom and right (mmdet, YOLOX).
    #[default]
    Letterbox,
    /// Keep the aspect, pad both sides equally (ultralytics YOLOv8/YOLO11).
    LetterboxCenter,
    /// Stretch the whole frame to the input size.
    Stretch,
}

/// A model's input channel order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChannelOrder {
    #[default]
    Rgb,
    Bgr,
}

fn default_pad() -> u8 {
    114
}
fn default_det_threshold() -> f32 {
    0.3
}
fn default_classes() -> usize {
    80
}

fn default_max_detections() -> usize {
    100
}

/// How seg logits become a frame-size label map.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SegMode {
    #[default]
    Exact,
    Fast,
}

/// `[depth]`: relative depth.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DepthSection {
    /// Depth map is input size / this (1 for Sapiens: 1024x768).
    #[serde(default = "one")]
    pub output_stride: u32,
}

/// `[normal]`: surface normals.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NormalSection {
    /// Normal map is input size / this (2 for Sapiens: 1024x768 -> 512x384).
    #[serde(default = "two")]
    pub output_stride: u32,
}

/// `[pointmap]`: Sapiens2's per-pixel XYZ (canonical camera) and scale; metric XYZ =
/// pointmap / scale (SAPIENS2.md 2.4).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PointmapSection {
    /// Pointmap is input size / this (1 for Sapiens2: 1024x768).
    #[serde(default = "one")]
    pub output_stride: u32,
    /// The `[batch, 1]` scale output; default: the model's output after the pointmap.
    pub scale_output: Option<String>,
    /// The focal length, input px, the model's canonical camera has (Sapiens2: 768): the frame's
    /// focal length is this / scale, over the resize factor.
    #[serde(default = "canonical_focal")]
    pub canonical_focal_px: f32,
}

fn canonical_focal() -> f32 {
    768.0
}

/// Which head a config is for (exactly one head section per config).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Head {
    Pose,
    Seg,
    Depth,
    Normal,
    Pointmap,
    /// A person detector model.
    Detector,
}

impl Head {
    /// What its model's main output holds (error messages).
    pub fn output_what(self) -> &'static str {
        match self {
            Head::Pose => "heatmaps",
            Head::Seg => "class logits",
            Head::Depth => "depth",
            Head::Normal => "normals",
            Head::Pointmap => "points",
            Head::Detector => "detections",
        }
    }

    /// Its config section, e.g. `[pose]`.
    pub fn section(self) -> &'static str {
        match self {
            Head::Pose => "[pose]",
            Head::Seg => "[seg]",
            Head::Depth => "[depth]",
            Head::Normal => "[normal]",
            Head::Pointmap => "[pointmap]",
            Head::Detector => "[detector]",
        }
    }

    /// The element that runs it.
    pub fn element(self) -> &'static str {
        match self {
            Head::Pose => "sapienspose",
            Head::Seg => "sapiensseg",
            Head::Depth => "sapiensdepth",
            Head::Normal => "sapiensnormal",
            Head::Pointmap => "sapienspointmap",
            Head::Detector => "sapiensdetect",
        }
    }
}

fn one() -> u32 {
    1
}
fn two() -> u32 {
    2
}

fn default_score_threshold() -> f32 {
    0.3
}
fn default_box_padding() -> f32 {
    1.25
}
fn default_heatmap_stride() -> u32 {
    4
}

impl Config {
    /// Finds `path` (as given, else in the installed data folder: [`crate::datadir`]), reads,
    /// parses and validates it; resolves the model path against the file's folder.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = crate::datadir::resolve_config(path.as_ref()).map_err(|tried| {
            let list: Vec<_> = tried.iter().map(|p| p.display().to_string()).collect();
            Error::Config {
                path: path.as_ref().to_owned(),
                msg: format!("cannot read: no such file (looked for {})", list.join(", ")),
            }
        })?;
        let path = path.as_path();
        let err = |msg: String| Error::Config {
            path: path.to_owned(),
            msg,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(format!("cannot read: {e}")))?;
        let mut cfg: Config = toml::from_str(&text).map_err(|e| err(e.to_string()))?;
        cfg.source = path.to_owned();
        if cfg.model.path.is_relative() {
            let dir = path.parent().unwrap_or(Path::new("."));
            cfg.model.path = dir.join(&cfg.model.path);
        }
        cfg.validate()?;
        Ok(cfg)
    }

    fn validate(&self) -> Result<()> {
        let err = |msg: String| Error::Config {
            path: self.source.clone(),
            msg,
        };
        if self.schema_version != SCHEMA_VERSION {
            return Err(err(format!(
                "schema_version = {} is not supported (this build reads {SCHEMA_VERSION})",
                self.schema_version
            )));
        }
        let i = &self.input;
        if i.height == 0 || i.width == 0 {
            return Err(err(format!(
                "input size {}x{} must be positive",
                i.height, i.width
            )));
        }
        if let Some(k) = i.std.iter().position(|s| s.is_nan() || *s <= 0.0) {
            return Err(err(format!("input.std[{k}] = {} must be > 0", i.std[k])));
        }
        if i.resize == DenseResize::Letterbox && self.dense_stride().is_none() {
            return Err(err(format!(
                "input.resize = \"letterbox\" is for dense heads; a {} config has its own geometry{}",
                self.head().section(),
                if self.detector().is_some() {
                    " (detector.resize)"
                } else {
                    ""
                }
            )));
        }
        let stride = match &self.head {
            HeadSection::Pose(_) => self.validate_pose()?,
            HeadSection::Seg(s) => ("seg.output_stride", s.output_stride),
            HeadSection::Depth(s) => ("depth.output_stride", s.output_stride),
            HeadSection::Normal(s) => ("normal.output_stride", s.output_stride),
            HeadSection::Pointmap(s) => ("pointmap.output_stride", s.output_stride),
            HeadSection::Detector(d) => {
                for (key, v) in [
                    ("score_threshold", d.score_threshold),
                    ("nms_iou", d.nms_iou),
                ] {
                    if !(0.0..=1.0).contains(&v) {
                        return Err(err(format!("detector.{key} = {v} must be in [0, 1]")));
                    }
                }
                return Ok(());
            }
        };
        if stride.1 == 0 || !i.height.is_multiple_of(stride.1) || !i.width.is_multiple_of(stride.1)
        {
            return Err(err(format!(
                "{} = {} must divide the input size {}x{}",
                stride.0, stride.1, i.height, i.width
            )));
        }
        Ok(())
    }

    /// Checks `[pose]`; returns its stride key and value.
    fn validate_pose(&self) -> Result<(&'static str, u32)> {
        let err = |msg: String| Error::Config {
            path: self.source.clone(),
            msg,
        };
        let pose = self.pose()?;
        if !(0.0..=1.0).contains(&pose.score_threshold) {
            return Err(err(format!(
                "pose.score_threshold = {} must be in [0, 1]",
                pose.score_threshold
            )));
        }
        if pose.box_padding.is_nan() || pose.box_padding < 1.0 {
            return Err(err(format!(
                "pose.box_padding = {} must be >= 1",
                pose.box_padding
            )));
        }
        Ok(("pose.heatmap_stride", pose.heatmap_stride))
    }

    /// The head this config is for.
    pub fn head(&self) -> Head {
        match self.head {
            HeadSection::Pose(_) => Head::Pose,
            HeadSection::Seg(_) => Head::Seg,
            HeadSection::Depth(_) => Head::Depth,
            HeadSection::Normal(_) => Head::Normal,
            HeadSection::Pointmap(_) => Head::Pointmap,
            HeadSection::Detector(_) => Head::Detector,
        }
    }

    /// The `[detector]` section, when the config is for a detector.
    pub fn detector(&self) -> Option<&DetectorSection> {
        match &self.head {
            HeadSection::Detector(d) => Some(d),
            _ => None,
        }
    }

    /// The `[pose]` section; an error naming the file when the config is for another head.
    pub fn pose(&self) -> Result<&PoseSection> {
        match &self.head {
            HeadSection::Pose(p) => Ok(p),
            _ => Err(Error::Config {
                path: self.source.clone(),
                msg: format!("missing [pose]: the config is for {}", self.element()),
            }),
        }
    }

    /// The `[seg]` section, when the config is for seg.
    pub fn seg(&self) -> Option<&SegSection> {
        match &self.head {
            HeadSection::Seg(s) => Some(s),
            _ => None,
        }
    }

    /// The `[pointmap]` section, when the config is for pointmap.
    pub fn pointmap(&self) -> Option<&PointmapSection> {
        match &self.head {
            HeadSection::Pointmap(s) => Some(s),
            _ => None,
        }
    }

    /// The outputs the head reads besides the main one: pointmap's `[batch, 1]` scale.
    pub fn extra_outputs(&self) -> Vec<crate::runtime::contract::ExtraOutput<'_>> {
        match &self.head {
            HeadSection::Pointmap(p) => vec![crate::runtime::contract::ExtraOutput {
                name: p.scale_output.as_deref(),
                item: &[1],
            }],
            _ => Vec::new(),
        }
    }

    /// The GStreamer element that runs this config's head.
    pub fn element(&self) -> &'static str {
        self.head().element()
    }

    /// The model output one item must have, `[channels, height, width]`: pose K heatmaps at
    /// input / heatmap stride; seg 28 or 29, depth 1, normal and pointmap 3 planes at input /
    /// output stride.
    pub fn output_item(&self) -> Result<[i64; 3]> {
        let (c, s) = match &self.head {
            HeadSection::Pose(p) => (p.keypoint_set.set().len(), p.heatmap_stride),
            HeadSection::Seg(s) if s.classes.is_probability() => (1, s.output_stride),
            HeadSection::Seg(s) => (s.classes.count(), s.output_stride),
            HeadSection::Depth(s) => (1, s.output_stride),
            HeadSection::Normal(s) => (3, s.output_stride),
            HeadSection::Pointmap(s) => (3, s.output_stride),
            HeadSection::Detector(_) => {
                return Err(Error::Config {
                    path: self.source.clone(),
                    msg: "a [detector] config has no single output item (its layout is read from the model)".into(),
                });
            }
        };
        Ok([
            c as i64,
            (self.input.height / s) as i64,
            (self.input.width / s) as i64,
        ])
    }

    /// The output items the head accepts, the config's own ([`Self::output_item`]) first; pose
    /// also takes keypoints decoded in the model's graph (`[K, DECODED_LEN]`), seg class labels
    /// computed there (`[1, h, w]`; `scripts/postprocess_graph.py`).
    pub fn output_forms(&self) -> Result<Vec<crate::runtime::contract::OutputForm>> {
        use crate::runtime::contract::OutputForm;
        let item = self.output_item()?;
        let mut forms = vec![OutputForm {
            what: self.head().output_what(),
            item: item.to_vec(),
            integer: false,
        }];
        match self.head() {
            Head::Pose => forms.push(OutputForm {
                what: "keypoints decoded in the graph",
                item: vec![item[0], crate::heads::pose::DECODED_LEN as i64],
                integer: false,
            }),
            Head::Seg => forms.push(OutputForm {
                what: "class labels computed in the graph",
                item: vec![1, item[1], item[2]],
                integer: true,
            }),
            _ => {}
        }
        Ok(forms)
    }

    /// The output stride of a dense head (`[seg]`, `[depth]`, `[normal]`, `[pointmap]`); `None`
    /// for pose and detectors.
    pub fn dense_stride(&self) -> Option<u32> {
        match &self.head {
            HeadSection::Pose(_) | HeadSection::Detector(_) => None,
            HeadSection::Seg(s) => Some(s.output_stride),
            HeadSection::Depth(s) => Some(s.output_stride),
            HeadSection::Normal(s) => Some(s.output_stride),
            HeadSection::Pointmap(s) => Some(s.output_stride),
        }
    }

    /// Runtime options from `[runtime]`, over the built-in defaults.
    pub fn runtime_options(&self) -> RuntimeOptions {
        self.runtime.resolve()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn tmpdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("sapiens-config-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    const GOOD: &str = r#"
schema_version = 1
[model]
path = "m.onnx"
[pose]
keypoint_set = "coco-17"
"#;

    #[test]
    fn defaults_and_relative_model_path() {
        let d = tmpdir("good");
        let cfg = Config::load(write(&d, "a.toml", GOOD)).unwrap();
        assert_eq!(cfg.model.path, d.join("m.onnx"));
        assert_eq!((cfg.input.height, cfg.input.width), (1024, 768));
        assert_eq!(cfg.input.mean, [123.5, 116.5, 103.5]);
        let p = cfg.pose().unwrap();
        assert_eq!(
            (p.score_threshold, p.box_padding, p.heatmap_stride),
            (0.3, 1.25, 4)
        );
        assert_eq!(p.keypoint_set, KeypointSetId::Coco17);
        assert_eq!(cfg.model.weights, Weights::Trained);
    }

    #[test]
    fn errors_name_the_key() {
        let d = tmpdir("bad");
        let cases = [
            (
                GOOD.replace("[pose]", "[pose]\nthreshold = 0.2"),
                "unknown field `threshold`",
            ),
            (GOOD.replace("coco-17", "coco-18"), "coco-18"),
            (
                GOOD.replace("schema_version = 1", "schema_version = 7"),
                "schema_version = 7",
            ),
            (
                GOOD.replace("[pose]", "[pose]\nscore_threshold = 1.5"),
                "pose.score_threshold = 1.5",
            ),
            (
                GOOD.replace("[pose]", "[pose]\nbox_padding = 0.5"),
                "pose.box_padding = 0.5",
            ),
            (
                GOOD.replace("[pose]\nkeypoint_set = \"coco-17\"", ""),
                "exactly one head section",
            ),
            (
                format!("{GOOD}\n[input]\nstd = [1.0, 0.0, 1.0]"),
                "input.std[1]",
            ),
        ];
        for (i, (text, want)) in cases.iter().enumerate() {
            let p = write(&d, &format!("c{i}.toml"), text);
            let e = Config::load(&p).unwrap_err().to_string();
            assert!(e.contains(want), "case {i}: {e:?} should mention {want:?}");
            assert!(
                e.contains(&p.display().to_string()),
                "case {i}: {e:?} should name the file"
            );
        }
        let e = Config::load(d.join("missing.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("missing.toml") && e.contains("cannot read"),
            "{e}"
        );
    }

    #[test]
    fn the_documented_example_config_parses_with_every_runtime_key() {
        let doc = include_str!("../configs/README.md");
        let start = doc.find("```toml\n").expect("a toml block") + 8;
        let end = start + doc[start..].find("```").expect("its end");
        let cfg: Config = toml::from_str(&doc[start..end]).unwrap_or_else(|e| panic!("{e}"));
        let r = cfg.runtime.resolve();
        assert_eq!(r.precision, crate::runtime::engines::Precision::Fp32);
        assert_eq!(r.remote.server, "grpc://127.0.0.1:8001");
        assert_eq!(r.remote.request_timeout_ms, 10_000);
    }
}
