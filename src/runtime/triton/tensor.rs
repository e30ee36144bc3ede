//! Tensor element types of the v2 protocol and their raw little-endian bytes.
use std::fmt;

/// The element types the client exchanges (the protocol's `datatype` strings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataType {
    Fp32,
    Fp16,
    Int64,
    Int32,
    /// Frame bytes (a pose model's pixel form); never sent by the client.
    Uint8,
    /// Crop maps (a pose model's pixel form); never sent by the client.
    Fp64,
}

impl DataType {
    /// The type a `datatype` string names, `None` for types the client does not read.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "FP32" => Some(Self::Fp32),
            "FP16" => Some(Self::Fp16),
            "INT64" => Some(Self::Int64),
            "INT32" => Some(Self::Int32),
            "UINT8" => Some(Self::Uint8),
            "FP64" => Some(Self::Fp64),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fp32 => "FP32",
            Self::Fp16 => "FP16",
            Self::Int64 => "INT64",
            Self::Int32 => "INT32",
            Self::Uint8 => "UINT8",
            Self::Fp64 => "FP64",
        }
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            Self::Fp32 | Self::Int32 => 4,
            Self::Fp16 => 2,
            Self::Int64 | Self::Fp64 => 8,
            Self::Uint8 => 1,
        }
    }

    /// Whether values of this type can be sent from f32 (a model input).
    pub fn is_float(self) -> bool {
        matches!(self, Self::Fp32 | Self::Fp16)
    }

    /// `values` as this type's raw bytes (FP16 rounds to nearest); `None` for other types.
    pub fn encode(self, values: &[f32]) -> Option<Vec<u8>> {
        match self {
            Self::Fp32 => Some(values.iter().flat_map(|v| v.to_le_bytes()).collect()),
            Self::Fp16 => Some(
                values
                    .iter()
                    .flat_map(|v| half::f16::from_f32(*v).to_le_bytes())
                    .collect(),
            ),
            Self::Int64 | Self::Int32 | Self::Uint8 | Self::Fp64 => None,
        }
    }

    /// Raw bytes of this type as f32 (integers converted, as for local integer outputs).
    /// `None` when the length is not a whole number of elements.
    pub fn decode(self, bytes: &[u8]) -> Option<Vec<f32>> {
        let size = self.size();
        if !bytes.len().is_multiple_of(size) {
            return None;
        }
        let chunks = bytes.chunks_exact(size);
        Some(match self {
            Self::Fp32 => chunks
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
            Self::Fp16 => chunks
                .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
            Self::Int32 => chunks
                .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f32)
                .collect(),
            Self::Int64 => chunks
                .map(|c| i64::from_le_bytes(eight(c)) as f32)
                .collect(),
            Self::Fp64 => chunks
                .map(|c| f64::from_le_bytes(eight(c)) as f32)
                .collect(),
            Self::Uint8 => bytes.iter().map(|b| *b as f32).collect(),
        })
    }
}

fn eight(c: &[u8]) -> [u8; 8] {
    let mut b = [0u8; 8];
    b.copy_from_slice(c);
    b
}

impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_survive_the_wire_in_each_type() {
        let v = [0.0f32, 1.5, -2.25, 65504.0, 1e-3];
        let fp32 = DataType::Fp32.encode(&v).unwrap();
        assert_eq!(fp32.len(), 20);
        assert_eq!(&fp32[4..8], &1.5f32.to_le_bytes());
        assert_eq!(DataType::Fp32.decode(&fp32).unwrap(), v);
        let fp16 = DataType::Fp16.encode(&v).unwrap();
        assert_eq!(fp16.len(), 10);
        // 1.5 in IEEE half: sign 0, exponent 15, mantissa 0x200 -> 0x3E00.
        assert_eq!(&fp16[2..4], &[0x00, 0x3E]);
        let back = DataType::Fp16.decode(&fp16).unwrap();
        assert_eq!(&back[..4], &v[..4], "exact in half precision");
        assert!((back[4] - 1e-3).abs() < 1e-6, "{}", back[4]);
        let ints: Vec<u8> = [7i64, -3].iter().flat_map(|i| i.to_le_bytes()).collect();
        assert_eq!(DataType::Int64.decode(&ints).unwrap(), vec![7.0, -3.0]);
        assert_eq!(DataType::Int64.encode(&v), None);
        assert_eq!(DataType::Fp32.decode(&[0, 0, 0]), None, "partial element");
        assert_eq!(DataType::parse("BF16"), None);
    }
}
