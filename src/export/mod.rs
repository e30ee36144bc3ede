//! Results out of the pipeline for systems that do not link GStreamer: one JSON object per frame
//! ([`record`], schema version [`record::SCHEMA_VERSION`]), written as JSON lines or published
//! to an MQTT broker ([`mqtt`]). The `sapiensjson` element and the CLI's `--json` / `--mqtt`.
//! A frame's 3-D points as PLY files ([`ply`], `sapienspointmap ply-location=…`).
pub mod clips;
pub mod mqtt;
pub mod ply;
pub mod record;
