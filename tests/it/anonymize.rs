//! `sapiensoverlay anonymize=…`: people hidden by their seg mask or their box, the rest of the
//! picture untouched, compared pixel by pixel with the source frame.
use gst_video::VideoFormat;

use crate::common::*;

const W: i32 = 320;
const H: i32 = 240;
/// The person box of the scripts: x 100..160, y 40..200.
const BOX: (u32, u32, u32, u32) = (100, 40, 60, 160);

/// A textured value for pixel (x, y), channel c (a hash: neighbouring pixels unrelated).
fn noise(x: i32, y: i32, c: i32) -> u8 {
    let mut v = (x as u32).wrapping_mul(73_856_093)
        ^ (y as u32).wrapping_mul(19_349_663)
        ^ (c as u32).wrapping_mul(83_492_791);
    v ^= v >> 13;
    v = v.wrapping_mul(0x5bd1_e995);
    (v >> 24) as u8
}

fn inside(x: i32, y: i32) -> bool {
    let (bx, by, bw, bh) = (BOX.0 as i32, BOX.1 as i32, BOX.2 as i32, BOX.3 as i32);
    x >= bx && x < bx + bw && y >= by && y < by + bh
}

/// RGB bytes of a 320×240 RGB buffer, row by row.
fn rgb(b: &gst::BufferRef) -> Vec<u8> {
    b.map_readable().unwrap().as_slice().to_vec()
}

fn pixel(data: &[u8], x: i32, y: i32) -> [u8; 3] {
    // RGB rows of 320×3 = 960 bytes (a multiple of 4: no padding).
    let o = (y * W * 3 + x * 3) as usize;
    [data[o], data[o + 1], data[o + 2]]
}

/// The textured frame with a person box meta, through `chain`.
fn through_overlay(chain: &str) -> (Vec<u8>, Vec<u8>) {
    let (mut frame, info) = painted_frame(VideoFormat::Rgb, W as u32, H as u32, 0, |x, y| {
        [noise(x, y, 0), noise(x, y, 1), noise(x, y, 2)]
    });
    let source = rgb(&frame);
    add_person(&mut frame, BOX);
    let (out, _) = through(chain, &info.to_caps().unwrap(), &[frame]);
    (source, rgb(&out[0]))
}

const NO_DRAWING: &str = "draw-boxes=false draw-keypoints=false draw-links=false";

#[test]
fn each_mode_hides_the_box_and_leaves_the_rest_untouched() {
    for mode in ["fill", "blur", "pixelate"] {
        let (src, out) = through_overlay(&format!("sapiensoverlay anonymize={mode} {NO_DRAWING}"));
        let mut kept = 0;
        for y in 0..H {
            for x in 0..W {
                let (a, b) = (pixel(&src, x, y), pixel(&out, x, y));
                if !inside(x, y) {
                    assert_eq!(a, b, "{mode}: ({x},{y}) outside the person changed");
                } else if mode == "fill" {
                    assert_eq!(b, [70, 70, 70], "{mode}: ({x},{y})");
                } else if a.iter().zip(&b).all(|(p, q)| p.abs_diff(*q) <= 3) {
                    kept += 1;
                }
            }
        }
        // Blur and pixelation average the texture: a pixel keeps its colour (all three
        // channels within 3) only by chance (about 1 in 50 000 for uniform noise).
        let area = (BOX.2 * BOX.3) as usize;
        assert!(
            kept * 1000 < area,
            "{mode}: {kept} of {area} pixels kept their colour"
        );
    }
    // The whole picture: black everywhere, or blurred everywhere.
    let (_, out) = through_overlay(&format!("sapiensoverlay anonymize=blank {NO_DRAWING}"));
    assert!(out.iter().all(|&v| v == 0));
    let (src, out) = through_overlay(&format!("sapiensoverlay anonymize=blur-all {NO_DRAWING}"));
    let same = src
        .chunks(3)
        .zip(out.chunks(3))
        .filter(|(a, b)| a == b)
        .count();
    assert!(same * 1000 < (W * H) as usize, "{same} pixels unchanged");
    // Nothing asked, nothing hidden.
    let (src, out) = through_overlay(&format!("sapiensoverlay {NO_DRAWING}"));
    assert_eq!(src, out);
}

/// Rows the UNTRAINED WEIGHTS banner covers (the analytic seg model is a test model).
const BANNER_ROWS: i32 = 30;

#[test]
fn a_seg_mask_hides_the_person_exactly_where_the_seg_head_found_them() {
    // The analytic seg model labels the nearest palette colour: a torso-coloured figure on the
    // background colour, inside a person box twice its width. The box's pixels outside the
    // figure are background: with a seg result there, they must stay as they were.
    let text = std::fs::read_to_string(root().join("configs/classes/goliath-seg-28.json")).unwrap();
    let classes: serde_json::Value = serde_json::from_str(&text).unwrap();
    let colour = |k: usize| -> [u8; 3] {
        let c = &classes["classes"][k]["color_rgb"];
        [0, 1, 2].map(|i| c[i].as_u64().unwrap() as u8)
    };
    let (bg, torso) = (colour(0), colour(21));
    let figure = |x: i32, y: i32| (116..144).contains(&x) && (60..180).contains(&y);
    let (mut frame, info) = painted_frame(VideoFormat::Rgb, W as u32, H as u32, 0, |x, y| {
        if figure(x, y) { torso } else { bg }
    });
    let src = rgb(&frame);
    add_person(&mut frame, BOX);
    let (out, _) = through(
        &format!(
            "sapiensseg config=\"{}\" ! sapiensoverlay anonymize=fill draw-seg=false {NO_DRAWING}",
            config("seg-analytic.toml").display()
        ),
        &info.to_caps().unwrap(),
        &[frame],
    );
    let seg = sapiens_stream::meta::dense::SegResult::from_buffer(&out[0])
        .unwrap()
        .expect("seg result");
    let labels = seg.labels();
    let data = rgb(&out[0]);
    let mut hidden = 0;
    for y in 0..H {
        for x in 0..W {
            let person = labels[(y * W + x) as usize] != 0;
            let (a, b) = (pixel(&src, x, y), pixel(&data, x, y));
            if person {
                assert_eq!(b, [70, 70, 70], "({x},{y}) is the person's");
                hidden += 1;
            } else if y >= BANNER_ROWS {
                assert_eq!(a, b, "({x},{y}) is not the person's");
            }
        }
    }
    // The mask is the figure (give or take the seg edges), not the box.
    let figure_area = 28 * 120;
    assert!(
        (hidden as f64 / figure_area as f64 - 1.0).abs() < 0.1,
        "{hidden} hidden, the figure has {figure_area}"
    );
    assert!(
        figure(130, 100) && pixel(&data, 130, 100) == [70, 70, 70] && pixel(&data, 104, 100) == bg,
        "figure hidden, box beside it kept"
    );
}
