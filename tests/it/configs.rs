//! Every shipped config parses; those whose model is in the repository load and match it.
use std::sync::Arc;

use sapiens_stream::config::Config;
use sapiens_stream::elements::inference::LoadedModel;
use sapiens_stream::elements::sapienspose::{PoseOptions, PoseStages};
use sapiens_stream::runtime::{ModelSession, RuntimeOptions};

use crate::common::*;

#[test]
fn every_shipped_config_loads_and_present_models_match_it() {
    let mut present = 0;
    for entry in std::fs::read_dir(root().join("configs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let config = Config::load(&path).unwrap_or_else(|e| panic!("{e}"));
        if config.model.path.is_file() {
            let session = Arc::new(
                ModelSession::load(
                    &config.model.path,
                    &RuntimeOptions {
                        provider: sapiens_stream::runtime::ProviderChoice::Cpu,
                        ..Default::default()
                    },
                )
                .unwrap(),
            );
            let loaded = LoadedModel { config, session };
            let options = PoseOptions {
                roi_type: "person".into(),
                score_threshold: Default::default(),
            };
            PoseStages::new(&loaded, options).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            present += 1;
        }
    }
    assert_eq!(
        present, 3,
        "the analytic and the two tiny pose models are in the repository"
    );
}
