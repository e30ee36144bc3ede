//! Analytics on the body: zones and counting lines tested on a keypoint anchor (e.g. the
//! ankles) rather than the box, dwell, occupancy, and the events they give. Pure code over
//! tracked persons; the `sapiensanalytics` element applies it to frames.
//!
//! Rules come from a TOML file ([`rules`]); [`engine::Analytics`] keeps the state of every
//! track against every rule; [`result`] is what one frame gives.
pub mod engine;
pub mod fall;
pub mod result;
pub mod rules;
pub mod shapes;

#[cfg(test)]
mod tests;

pub use engine::{Analytics, FrameIn, PersonIn};
pub use result::{AnalyticsResult, Event, EventKind};
pub use rules::Rules;
