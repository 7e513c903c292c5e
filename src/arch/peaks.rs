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
    }
}
