//! Peak dense throughput and memory bandwidth per GPU, for MFU and MBU.
//! Vendor figures (dense = half the "with sparsity" numbers); see
//! `reference/sglang_profiling.md` §7.4.

/// Peaks of one GPU model.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Peak {
    pub name: &'static str,
    pub bf16_tflops: f64,
    pub fp8_tflops: f64,
    pub memory_tb_s: f64,
}

/// The precision a model's matmuls run at, which picks the peak MFU is measured against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    Fp8,
    Bf16,
}

impl Precision {
    /// One-byte weights (an `fp8` quantization config) run fp8; the rest bf16.
    pub fn of(arch: &super::Arch) -> Precision {
        if arch.weight_bytes == 1 {
            Precision::Fp8
        } else {
            Precision::Bf16
        }
    }

    /// `fp8` or `bf16`, as the `model_flops.dtype` column stores it.
    pub fn as_str(self) -> &'static str {
        match self {
            Precision::Fp8 => "fp8",
            Precision::Bf16 => "bf16",
        }
    }
}

impl Peak {
    /// Dense peak FLOP/s at `precision`: the one place the fp8/bf16 choice is made.
    pub fn flops_per_s(&self, precision: Precision) -> f64 {
        1e12 * match precision {
            Precision::Fp8 => self.fp8_tflops,
            Precision::Bf16 => self.bf16_tflops,
        }
    }
}

/// Known GPUs, matched by substring of the reported name (most specific first).
pub const PEAKS: &[(&str, Peak)] = &[
    (
        "H200",
        Peak {
            name: "H200 SXM",
            bf16_tflops: 989.4,
            fp8_tflops: 1978.9,
            memory_tb_s: 4.8,
        },
    ),
    (
        "H100 PCIe",
        Peak {
            name: "H100 PCIe",
            bf16_tflops: 756.0,
            fp8_tflops: 1513.0,
            memory_tb_s: 2.0,
        },
    ),
    (
        "H100",
        Peak {
            name: "H100 SXM",
            bf16_tflops: 989.4,
            fp8_tflops: 1978.9,
            memory_tb_s: 3.35,
        },
    ),
];

/// Peaks for a GPU name as nsys or PyTorch reports it (`NVIDIA H100 80GB HBM3`).
pub fn for_gpu(name: &str) -> Option<Peak> {
    PEAKS
        .iter()
        .find(|(key, _)| name.contains(key))
        .map(|(_, p)| *p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_reported_names() {
        assert_eq!(for_gpu("NVIDIA H100 80GB HBM3").unwrap().memory_tb_s, 3.35);
        assert_eq!(for_gpu("NVIDIA H200").unwrap().memory_tb_s, 4.8);
        assert_eq!(for_gpu("NVIDIA H100 PCIe").unwrap().bf16_tflops, 756.0);
        assert!(for_gpu("Tesla T4").is_none());
        let h100 = for_gpu("NVIDIA H100 80GB HBM3").unwrap();
        assert_eq!(h100.flops_per_s(Precision::Fp8), 1978.9e12);
        assert_eq!(h100.flops_per_s(Precision::Bf16), 989.4e12);
    }
}
