//! What a Kineto trace's names and file name tell: nsys-style short kernel names,
//! the rank (`-TP-<r>`, `rank<r>`) and SGLang's stage suffix (`-EXTEND`, `-DECODE`).

use std::path::Path;

/// Base kernel name from a demangled one, like nsys `shortName`:
/// `void at::native::foo<8>(int)` → `foo`. ROCm's code-object suffixes go too
/// (rocprofiler-sdk names kernels `foo(int) [clone .kd]`, Triton and asm kernels
/// `foo.kd`), so anchored rules match on both vendors.
pub fn short_name(demangled: &str) -> &str {
    let name = demangled.strip_prefix("void ").unwrap_or(demangled);
    let name = name.strip_suffix(" [clone .kd]").unwrap_or(name);
    let name = name.strip_suffix(".kd").unwrap_or(name);
    let mut end = name.len();
    let bytes = name.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'(' if name[i..].starts_with("(anonymous namespace)") => {
                i += "(anonymous namespace)".len() - 1
            }
            b'<' | b'(' => {
                end = i;
                break;
            }
            _ => {}
        }
        i += 1;
    }
    let head = &name[..end];
    head.rsplit("::").next().unwrap_or(head)
}

/// The phase SGLang's stage suffix names, if any.
pub fn phase_from_file_name(path: &Path) -> Option<&'static str> {
    let name = path.file_name()?.to_string_lossy().to_uppercase();
    if name.contains("-EXTEND") || name.contains("-PREFILL") {
        Some("prefill")
    } else if name.contains("-DECODE") {
        Some("decode")
    } else {
        None
    }
}

/// Rank from the file name: `-TP-<r>` or `rank<r>`.
pub fn rank_from_file_name(path: &Path) -> Option<i64> {
    let name = path.file_name()?.to_string_lossy().to_string();
    let digits = |s: &str| -> Option<i64> {
        let d: String = s.chars().take_while(char::is_ascii_digit).collect();
        d.parse().ok()
    };
    if let Some(at) = name.find("-TP-") {
        return digits(&name[at + 4..]);
    }
    let lower = name.to_lowercase();
    lower.find("rank").and_then(|at| digits(&lower[at + 4..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_match_nsys_style() {
        assert_eq!(short_name("void at::native::vectorized_elementwise_kernel<8, at::native::FillFunctor<c10::BFloat16>, std::array<char*, 1ul> >(int, at::native::FillFunctor<c10::BFloat16>, std::array<char*, 1ul>)"), "vectorized_elementwise_kernel");
        assert_eq!(
            short_name(
                "ncclDevKernel_AllReduce_Sum_bf16_RING_LL(ncclDevKernelArgsStorage<4096ul>)"
            ),
            "ncclDevKernel_AllReduce_Sum_bf16_RING_LL"
        );
        assert_eq!(short_name("void at::native::(anonymous namespace)::indexSelectSmallIndex<c10::BFloat16, long>(int)"), "indexSelectSmallIndex");
        assert_eq!(
            short_name("nvjet_sm90_tst_64x8_64x16_4x1_v_bz_TNT"),
            "nvjet_sm90_tst_64x8_64x16_4x1_v_bz_TNT"
        );
        assert_eq!(short_name("_fwd_kernel.kd"), "_fwd_kernel");
        assert_eq!(
            short_name("void wvSplitK_hf_sml_<__hip_bfloat16, 64>(int, int) [clone .kd]"),
            "wvSplitK_hf_sml_"
        );
    }

    #[test]
    fn rank_and_phase_from_file_names() {
        assert_eq!(
            rank_from_file_name(Path::new("x-TP-3-EXTEND.trace.json.gz")),
            Some(3)
        );
        assert_eq!(
            rank_from_file_name(Path::new("tp2_rank1.kineto.json.gz")),
            Some(1)
        );
        assert_eq!(rank_from_file_name(Path::new("trace.json")), None);
        assert_eq!(
            phase_from_file_name(Path::new("x-TP-3-EXTEND.trace.json.gz")),
            Some("prefill")
        );
        assert_eq!(
            phase_from_file_name(Path::new("x-TP-0-DECODE.trace.json.gz")),
            Some("decode")
        );
    }
}
