//! Every shipped config parses; those whose model is in the repository load and match it.
use std::sync::Arc;

use sapiens_stream::config::{Config, Head};
use sapiens_stream::elements::dense::{DenseStages, InputSharing};
use sapiens_stream::elements::inference::LoadedModel;
use sapiens_stream::elements::sapiensdepth::DepthHead;
use sapiens_stream::elements::sapiensdetect::OnnxDetector;
use sapiens_stream::elements::sapiensnormal::NormalHead;
use sapiens_stream::elements::sapienspointmap::PointmapHead;
use sapiens_stream::elements::sapienspose::PoseStages;
use sapiens_stream::elements::sapiensseg::{ModeProperty, SegHead};
use sapiens_stream::runtime::shared::Runner;
use sapiens_stream::runtime::{ModelSession, ProviderChoice, RuntimeOptions};

use crate::common::*;

/// Builds the head's stages, which checks the model against the config.
fn check(loaded: &LoadedModel) -> sapiens_stream::Result<()> {
    let sharing = InputSharing {
        share: true,
        counters: Arc::new(Default::default()),
    };
    match loaded.config.head() {
        Head::Pose => PoseStages::new(loaded, Default::default(), Default::default(), 1).map(drop),
        Head::Seg => DenseStages::new(
            loaded,
            SegHead::new(ModeProperty::Config, &loaded.config),
            sharing,
        )
        .map(drop),
        Head::Depth => DenseStages::new(loaded, DepthHead, sharing).map(drop),
        Head::Normal => DenseStages::new(loaded, NormalHead, sharing).map(drop),
        Head::Pointmap => DenseStages::new(
            loaded,
            PointmapHead {
                canonical_focal_px: 768.0,
                ply: None,
            },
            sharing,
        )
        .map(drop),
        Head::Detector => OnnxDetector::new(loaded).map(drop),
    }
}

#[test]
fn every_shipped_analytics_file_loads() {
    let mut n = 0;
    for entry in std::fs::read_dir(root().join("configs/analytics")).unwrap() {
        let path = entry.unwrap().path();
        let rules = sapiens_stream::analytics::Rules::load(&path).unwrap_or_else(|e| panic!("{e}"));
        assert!(!rules.zones.is_empty() || !rules.lines.is_empty());
        n += 1;
    }
    assert!(n >= 1);
}

#[test]
fn every_shipped_config_loads_and_present_models_match_it() {
    let mut present = Vec::new();
    for entry in std::fs::read_dir(root().join("configs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let config = Config::load(&path).unwrap_or_else(|e| panic!("{e}"));
        if config.model.path.is_file() {
            let opts = RuntimeOptions {
                provider: ProviderChoice::Cpu,
                ..Default::default()
            };
            let session = Arc::new(ModelSession::load(&config.model.path, &opts).unwrap());
            check(&LoadedModel {
                config,
                runner: Runner::Own(session.clone()),
                session,
            })
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            present.push(path.file_name().unwrap().to_string_lossy().to_string());
        }
    }
    present.sort();
    let want = [
        "depth-analytic.toml",
        "detector-analytic-mmdeploy.toml",
        "detector-analytic-yolov8.toml",
        "detector-analytic-yolox.toml",
        "detector-nanodet.toml",
        "depth-tiny.toml",
        "normal-analytic.toml",
        "normal-tiny.toml",
        "pose-analytic-coco17.toml",
        "pose-efficientpose-mpii16.toml",
        "pose-tiny-coco17.toml",
        "pose-tiny-goliath308.toml",
        "pointmap-analytic.toml",
        "seg-analytic.toml",
        "seg-selfie-person.toml",
        "seg29-analytic.toml",
        "seg-tiny.toml",
    ];
    // A user's exported real models may be present too: the generated ones must be among them.
    let missing: Vec<_> = want
        .iter()
        .filter(|w| !present.contains(&w.to_string()))
        .collect();
    assert!(
        missing.is_empty(),
        "the generated models (in the repository) and the converted trained ones (scripts/setup-trained.sh) match their configs; missing: {missing:?}"
    );
}

/// What SAPIENS.md (v1) and SAPIENS2.md (v2) say each task's model takes and gives at 1024×768:
/// output item `[C, H, W]`, input mean, whether the input is letterboxed, extra outputs' items.
struct Documented {
    output: [i64; 3],
    mean: [f32; 3],
    letterbox: bool,
    extras: Vec<Vec<i64>>,
}

fn documented(family: &str, task: &str) -> Documented {
    let (v1_mean, v2_mean) = ([123.5, 116.5, 103.5], [123.675, 116.28, 103.53]);
    let (output, letterbox, extras) = match (family, task) {
        ("v1", "pose-goliath") | ("v2", "pose") => ([308, 256, 192], false, vec![]),
        ("v1", "pose-coco-wholebody") => ([133, 256, 192], false, vec![]),
        ("v1", "pose-coco") => ([17, 256, 192], false, vec![]),
        ("v1", "seg") => ([28, 512, 384], false, vec![]),
        ("v1", "depth") => ([1, 1024, 768], false, vec![]),
        ("v1", "normal") => ([3, 512, 384], false, vec![]),
        ("v2", "seg") => ([29, 1024, 768], false, vec![]),
        ("v2", "normal") => ([3, 1024, 768], true, vec![]),
        ("v2", "pointmap") => ([3, 1024, 768], true, vec![vec![1]]),
        other => panic!("no documented shape for {other:?}"),
    };
    Documented {
        output,
        mean: if family == "v1" { v1_mean } else { v2_mean },
        letterbox,
        extras,
    }
}

#[test]
fn every_task_and_size_of_both_families_has_a_config_with_the_documented_shapes() {
    // Released checkpoints (SAPIENS.md section 5 table; SAPIENS2.md section 3.1): v1 has no 2b
    // Goliath pose or seg.
    let mut expected: Vec<(String, &str, &str)> = Vec::new();
    for size in ["0.3b", "0.6b", "1b", "2b"] {
        for task in [
            "pose-goliath",
            "pose-coco-wholebody",
            "pose-coco",
            "seg",
            "depth",
            "normal",
        ] {
            if size == "2b" && (task == "pose-goliath" || task == "seg") {
                continue;
            }
            let name = match task.strip_prefix("pose-") {
                Some(set) => format!("pose-{size}-{set}.toml"),
                None => format!("{task}-{size}.toml"),
            };
            expected.push((name, "v1", task));
        }
    }
    for size in ["0.4b", "0.8b", "1b", "5b"] {
        for task in ["pose", "seg", "normal", "pointmap"] {
            expected.push((format!("sapiens2-{size}-{task}.toml"), "v2", task));
        }
    }
    assert_eq!(expected.len(), 22 + 16);
    for (name, family, task) in &expected {
        let cfg = Config::load(root().join("configs").join(name))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let want = documented(family, task);
        assert_eq!(cfg.output_item().unwrap(), want.output, "{name}: output");
        assert_eq!(
            (cfg.input.height, cfg.input.width),
            (1024, 768),
            "{name}: input"
        );
        assert_eq!(cfg.input.mean, want.mean, "{name}: mean");
        assert_eq!(
            cfg.input.resize == sapiens_stream::config::DenseResize::Letterbox,
            want.letterbox,
            "{name}: resize"
        );
        let extras: Vec<Vec<i64>> = cfg
            .extra_outputs()
            .iter()
            .map(|e| e.item.to_vec())
            .collect();
        assert_eq!(extras, want.extras, "{name}: extra outputs");
        assert_eq!(cfg.model.weights, sapiens_stream::config::Weights::Trained);
        let model = cfg.model.path.file_name().unwrap().to_string_lossy();
        let prefix = if *family == "v1" {
            "sapiens_"
        } else {
            "sapiens2_"
        };
        assert!(model.starts_with(prefix), "{name}: model {model}");
    }
}
