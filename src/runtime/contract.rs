//! Checks a loaded model against what its config promises, before any frame runs.
use std::path::Path;

use super::{ModelSession, TensorInfo};
use crate::error::{Error, Result};

/// The model's tensors a head uses, resolved against the config's (optional) names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contract {
    pub input: String,
    pub output: String,
    /// Further outputs the head reads (e.g. pointmap's scale), in the order asked.
    pub extra: Vec<String>,
}

/// A further output a head reads besides the main one: its name (default: the model's next
/// output after the main one, in model order) and item shape.
#[derive(Debug, Clone, Copy)]
pub struct ExtraOutput<'a> {
    pub name: Option<&'a str>,
    pub item: &'a [i64],
}

/// A pose model with its crop pre-processing in the graph (`scripts/preprocess_graph.py`): it
/// takes `frames` uint8 `[F, H, W, channels]`, `affine` float64 `[N, 2, 3]` (frame px → crop
/// px) and `frame_index` int64 `[N]` instead of a float tensor of crops.
#[derive(Debug, Clone, Copy, PartialEq, serde::Deserialize)]
pub struct PixelInputs {
    /// Bytes per pixel the graph reads: 4 = B, G, R, padding; 3 = R, G, B.
    pub channels: usize,
    /// The crop the graph cuts (px) and its normalization (RGB, 0..255 scale): the model's
    /// [`PIXEL_FORM_KEY`] record, to be checked against the config's `[input]`.
    pub height: u32,
    pub width: u32,
    pub mean: [f32; 3],
    pub std: [f32; 3],
}

/// Model metadata key of a pixel-form model's pre-processing record (JSON, written by
/// `scripts/preprocess_graph.py`).
pub const PIXEL_FORM_KEY: &str = "sapiens.pixel_form";

/// The model's [`PixelInputs`] when it has an input named `frames`, checked; `None` otherwise.
pub fn pixel_inputs(session: &ModelSession, config: &Path) -> Result<Option<PixelInputs>> {
    use super::triton::DataType;
    let Some(frames) = session.inputs.iter().find(|t| t.name == "frames") else {
        return Ok(None);
    };
    let want: [(&str, DataType, &[i64]); 3] = [
        ("frames", DataType::Uint8, &[-1, -1, -1, -1]),
        ("affine", DataType::Fp64, &[-1, 2, 3]),
        ("frame_index", DataType::Int64, &[-1]),
    ];
    let channels = frames.shape.last().copied().unwrap_or(0);
    let fits = |(name, dtype, shape): &(&str, DataType, &[i64])| {
        session.inputs.iter().any(|t| {
            t.name == *name
                && t.dtype == Some(*dtype)
                && t.shape.len() == shape.len()
                && t.shape
                    .iter()
                    .zip(*shape)
                    .all(|(m, c)| *m < 0 || *c < 0 || m == c)
        })
    };
    if session.inputs.len() != 3 || !want.iter().all(fits) || !(channels == 3 || channels == 4) {
        let inputs: Vec<String> = session.inputs.iter().map(|t| t.to_string()).collect();
        return Err(Error::ModelMismatch {
            model: session.path().to_owned(),
            config: config.to_owned(),
            msg: format!(
                "an input named 'frames' means the pixel form (scripts/preprocess_graph.py): \
                 inputs 'frames' UINT8 [frames,height,width,3 or 4], 'affine' FP64 [crops,2,3], \
                 'frame_index' INT64 [crops]; the model has {}",
                inputs.join(", ")
            ),
        });
    }
    let record: PixelInputs = session
        .metadata
        .get(PIXEL_FORM_KEY)
        .ok_or_else(|| "no record".to_owned())
        .and_then(|r| serde_json::from_str(r).map_err(|e| e.to_string()))
        .map_err(|why| Error::ModelMismatch {
            model: session.path().to_owned(),
            config: config.to_owned(),
            msg: format!(
                "a pixel-form model carries its crop size and normalization as metadata '{PIXEL_FORM_KEY}' \
                 (scripts/preprocess_graph.py writes it): {why}"
            ),
        })?;
    if record.channels != channels as usize {
        return Err(Error::ModelMismatch {
            model: session.path().to_owned(),
            config: config.to_owned(),
            msg: format!(
                "input 'frames' has {channels} channels, its '{PIXEL_FORM_KEY}' record says {}",
                record.channels
            ),
        });
    }
    Ok(Some(record))
}

/// Resolves the input/output names (config names, else the model's only input and first output)
/// and checks their shapes: input `[batch, 3, height, width]` (`input_item` `None`: the pixel
/// form, whose inputs [`pixel_inputs`] checks) and output `[batch, ..form.item]` (float32, or
/// integers for a form that holds class labels).
/// Dynamic model dimensions (-1) match anything; a mismatch names both sides.
pub fn check(
    session: &ModelSession,
    config: &Path,
    input_name: Option<&str>,
    output_name: Option<&str>,
    input_item: Option<[i64; 3]>,
    form: &OutputForm,
    extras: &[ExtraOutput<'_>],
) -> Result<Contract> {
    let (output_item, integer_output) = (&form.item[..], form.integer);
    let mismatch = |msg: String| Error::ModelMismatch {
        model: session.path().to_owned(),
        config: config.to_owned(),
        msg,
    };
    let list = |t: &[TensorInfo]| {
        t.iter()
            .map(|t| t.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let input = match (input_item, input_name) {
        (None, _) => None,
        (Some(_), Some(name)) => session
            .inputs
            .iter()
            .find(|t| t.name == name)
            .ok_or_else(|| {
                mismatch(format!(
                    "config names input '{name}', the model has {}",
                    list(&session.inputs)
                ))
            })
            .map(Some)?,
        (Some(_), None) if session.inputs.len() == 1 => Some(&session.inputs[0]),
        (Some(_), None) => {
            return Err(mismatch(format!(
                "the model has {} inputs ({}): name one with model.input_name",
                session.inputs.len(),
                list(&session.inputs)
            )));
        }
    };
    let output = match output_name {
        Some(name) => session
            .outputs
            .iter()
            .find(|t| t.name == name)
            .ok_or_else(|| {
                mismatch(format!(
                    "config names output '{name}', the model has {}",
                    list(&session.outputs)
                ))
            })?,
        None => session
            .outputs
            .first()
            .ok_or_else(|| mismatch("the model has no outputs".into()))?,
    };
    let mut others = session.outputs.iter().filter(|t| t.name != output.name);
    let mut extra = Vec::new();
    for e in extras {
        let t = match e.name {
            Some(name) => session.outputs.iter().find(|t| t.name == name),
            None => others.next(),
        }
        .ok_or_else(|| {
            mismatch(format!(
                "the head reads {} output(s) besides '{}'; the model has {}",
                extras.len(),
                output.name,
                list(&session.outputs)
            ))
        })?;
        extra.push((t, e.item));
    }
    let input_check = input.zip(input_item.as_ref());
    let mains = input_check
        .map(|(t, item)| (t, &item[..], "input", false))
        .into_iter()
        .chain([(output, output_item, "output", integer_output)]);
    for (t, item, what, integer) in
        mains.chain(extra.iter().map(|(t, item)| (*t, *item, "output", false)))
    {
        let integer_ok = integer
            && matches!(
                t.dtype,
                Some(super::triton::DataType::Int32 | super::triton::DataType::Int64)
            );
        let fits = (t.is_f32 || integer_ok)
            && t.shape.len() == item.len() + 1
            && t.shape[1..].iter().zip(item).all(|(m, c)| *m < 0 || m == c);
        if !fits {
            let want: Vec<String> = item.iter().map(|d| d.to_string()).collect();
            return Err(mismatch(format!(
                "{what} {t} but the config expects {} [batch,{}]",
                if integer { "int32/int64" } else { "float32" },
                want.join(",")
            )));
        }
    }
    Ok(Contract {
        input: input.map_or("frames", |t| &t.name).to_owned(),
        output: output.name.clone(),
        extra: extra.iter().map(|(t, _)| t.name.clone()).collect(),
    })
}

/// An output item a head accepts: what it is (for messages), its shape without the batch, and
/// whether it holds integers (class labels) instead of float32.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputForm {
    pub what: &'static str,
    pub item: Vec<i64>,
    pub integer: bool,
}

/// [`check`] against each of `forms` in turn (the config's own first); the contract and the
/// index of the form the model has. A model of none is refused naming them all.
#[allow(clippy::too_many_arguments)]
pub fn check_forms(
    session: &ModelSession,
    config: &Path,
    input_name: Option<&str>,
    output_name: Option<&str>,
    input_item: Option<[i64; 3]>,
    forms: &[OutputForm],
    extras: &[ExtraOutput<'_>],
) -> Result<(Contract, usize)> {
    let mut first_err = None;
    for (i, form) in forms.iter().enumerate() {
        match check(
            session,
            config,
            input_name,
            output_name,
            input_item,
            form,
            extras,
        ) {
            Ok(c) => return Ok((c, i)),
            Err(e) if first_err.is_none() => first_err = Some(e),
            Err(_) => {}
        }
    }
    Err(match first_err {
        Some(Error::ModelMismatch { model, config, msg }) if forms.len() > 1 => {
            let others: Vec<String> = forms[1..]
                .iter()
                .map(|f| {
                    let dims: Vec<String> = f.item.iter().map(|d| d.to_string()).collect();
                    format!("{}: [batch,{}]", f.what, dims.join(","))
                })
                .collect();
            Error::ModelMismatch {
                model,
                config,
                msg: format!("{msg} (or {})", others.join(", or ")),
            }
        }
        Some(e) => e,
        None => Error::Invalid("no output form to check the model against".into()),
    })
}
