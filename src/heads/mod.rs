//! Heads: model output tensors → results, as pure functions (no GStreamer).
pub mod depth;
pub mod normal;
pub mod pointmap;
pub mod pose;
pub mod seg;
pub mod upsample;

/// `c` planes of `h` rows × `w` columns, row-major: one item of an NCHW model output.
#[derive(Debug, Clone, Copy)]
pub struct Planes<'a> {
    pub data: &'a [f32],
    pub c: usize,
    pub h: usize,
    pub w: usize,
}

impl<'a> Planes<'a> {
    /// `data` as `[c, h, w]`; `None` when its length is not `c·h·w`.
    pub fn new(data: &'a [f32], [c, h, w]: [usize; 3]) -> Option<Self> {
        (data.len() == c * h * w).then_some(Self { data, c, h, w })
    }
}
