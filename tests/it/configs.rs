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
        "depth-tiny.toml",
        "normal-analytic.toml",
        "normal-tiny.toml",
        "pose-analytic-coco17.toml",
        "pose-tiny-coco17.toml",
        "pose-tiny-goliath308.toml",
        "pointmap-analytic.toml",
        "seg-analytic.toml",
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
        "the generated models are in the repository and match their configs; missing: {missing:?}"
    );
}
