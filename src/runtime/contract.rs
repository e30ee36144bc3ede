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

/// Resolves the input/output names (config names, else the model's only input and first output)
/// and checks their shapes: input `[batch, 3, height, width]` and output `[batch, ..form.item]`
/// (float32, or integers for a form that holds class labels).
/// Dynamic model dimensions (-1) match anything; a mismatch names both sides.
pub fn check(
    session: &ModelSession,
    config: &Path,
    input_name: Option<&str>,
    output_name: Option<&str>,
    input_item: [i64; 3],
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
    let input = match input_name {
        Some(name) => session
            .inputs
            .iter()
            .find(|t| t.name == name)
            .ok_or_else(|| {
                mismatch(format!(
                    "config names input '{name}', the model has {}",
                    list(&session.inputs)
                ))
            })?,
        None if session.inputs.len() == 1 => &session.inputs[0],
        None => {
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
    let mains = [
        (input, &input_item[..], "input", false),
        (output, output_item, "output", integer_output),
    ];
    for (t, item, what, integer) in mains
        .into_iter()
        .chain(extra.iter().map(|(t, item)| (*t, *item, "output", false)))
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
        input: input.name.clone(),
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
    input_item: [i64; 3],
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
