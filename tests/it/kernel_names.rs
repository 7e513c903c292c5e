//! The shipped kernel-name rules (`conf/kernels.yaml`) against real kernel names of
//! current engines: SGLang, vLLM, TensorRT-LLM, FlashInfer (incl. trtllm-gen),
//! FlashAttention 2/3/4, FlashMLA, DeepGEMM, DeepEP, CUTLASS, cuBLAS, NCCL and the
//! custom all-reduces, and on AMD ROCm hipBLASLt/Tensile, rocBLAS, Composable Kernel,
//! aiter, RCCL, vLLM's ROCm kernels and ROCclr's blit kernels; plus the rules file's own contract (it parses, every rule
//! cites a source, every rule is exercised by a real name) and the categories of
//! every kernel in the fixture traces.
//!
//! Each name below is copied from where it is cited: a kernel declaration (the
//! short name nsys stores is the bare function name; the demangled name starts with
//! the qualified name, given here without template arguments), a generated-kernel
//! name list, a public benchmark that filters profiler output by the name, or one
//! of our fixture traces. An empty demangled name means "same as the short name",
//! as nsys stores it for `extern "C"` cubin kernels and Triton kernels.

use std::collections::{BTreeMap, BTreeSet};

use regex::Regex;
use rusqlite::Connection;
use serde::Deserialize;
use sgl_trace::attribute::rules::Rules;
use sgl_trace::vocab::CATEGORIES;

use crate::common::{fixture, root};

/// (short name, demangled name or "", expected category, where the name comes from)
const NAMES: &[(&str, &str, &str, &str)] = &[
    // --- communication ---
    ("ncclDevKernel_AllReduce_Sum_bf16_RING_LL", "ncclDevKernel_AllReduce_Sum_bf16_RING_LL(ncclDevKernelArgsStorage<(unsigned long)4096>)", "communication", "fixtures/nsys/tp2.sqlite"),
    ("ncclSymkDevKernel_AllReduce_AGxLLMC_R_sum_bf16", "", "communication", "NVIDIA/nccl src/device/symmetric/generate.py kernel_cname"),
    ("cross_device_reduce_1stage", "", "communication", "vllm-project/vllm csrc/custom_all_reduce.cuh"),
    ("cross_device_reduce_2stage", "", "communication", "sgl-project/sglang sgl-kernel/csrc/allreduce/custom_all_reduce.cuh"),
    ("allreduce_LL_1node", "", "communication", "sgl-project/sglang sgl-kernel/csrc/allreduce/mscclpp_allreduce.cuh"),
    ("fused_rs_ln_ag_cta_kernel", "vllm::fused_rs_ln_ag_cta_kernel", "communication", "sgl-project/sglang sgl-kernel/csrc/allreduce_rmsnorm_fusion/fused_kernels.cu"),
    ("allreduce_fusion_kernel_oneshot_lamport", "flashinfer::trtllm_allreduce_fusion::allreduce_fusion_kernel_oneshot_lamport", "communication", "flashinfer-ai/flashinfer include/flashinfer/comm/trtllm_allreduce_fusion.cuh"),
    ("allreduce_fusion_kernel_twoshot_sync", "flashinfer::trtllm_allreduce_fusion::allreduce_fusion_kernel_twoshot_sync", "communication", "flashinfer-ai/flashinfer include/flashinfer/comm/trtllm_allreduce_fusion.cuh"),
    ("moefinalize_allreduce_fusion_kernel_oneshot_lamport", "flashinfer::trtllm_moe_allreduce_fusion::moefinalize_allreduce_fusion_kernel_oneshot_lamport", "communication", "flashinfer-ai/flashinfer include/flashinfer/comm/trtllm_moe_allreduce_fusion.cuh"),
    ("oneShotAllReduceKernel", "flashinfer::trtllm_allreduce::oneShotAllReduceKernel", "communication", "flashinfer-ai/flashinfer include/flashinfer/comm/trtllm_allreduce.cuh"),
    ("twoShotAllReduceKernel", "flashinfer::trtllm_allreduce::twoShotAllReduceKernel", "communication", "flashinfer-ai/flashinfer include/flashinfer/comm/trtllm_allreduce.cuh"),
    ("rms_norm_kernel", "flashinfer::trtllm_allreduce::reduce_fusion::rms_norm_kernel", "communication", "flashinfer-ai/flashinfer include/flashinfer/comm/trtllm_allreduce.cuh (norm half of the fused all-reduce)"),
    ("oneshotAllreduceFusionKernel", "flashinfer::trtllm_mnnvl_allreduce::oneshotAllreduceFusionKernel", "communication", "flashinfer-ai/flashinfer include/flashinfer/comm/trtllm_mnnvl_allreduce.cuh"),
    ("twoshotAllreduceKernel", "flashinfer::trtllm_mnnvl_allreduce::twoshotAllreduceKernel", "communication", "flashinfer-ai/flashinfer include/flashinfer/comm/trtllm_mnnvl_allreduce.cuh"),
    ("rmsNormLamport", "flashinfer::trtllm_mnnvl_allreduce::rmsNormLamport", "communication", "flashinfer-ai/flashinfer include/flashinfer/comm/trtllm_mnnvl_allreduce.cuh"),
    ("dispatch", "deep_ep::legacy::internode_ll::dispatch", "communication", "deepseek-ai/DeepEP csrc/kernels/legacy/internode_ll.cu"),
    ("moeA2ADispatchKernel", "tensorrt_llm::kernels::moe_alltoall::moeA2ADispatchKernel", "communication", "flashinfer-ai/flashinfer csrc/nv_internal/tensorrt_llm/kernels/communicationKernels/moeAlltoAllKernels.cu"),
    ("moeAllToAllKernel", "flashinfer::trtllm_alltoall::moeAllToAllKernel", "communication", "flashinfer-ai/flashinfer include/flashinfer/comm/trtllm_alltoall.cuh"),
    ("multimem_all_reduce_kernel", "", "communication", "pytorch/pytorch torch/csrc/distributed/c10d/symm_mem/CUDASymmetricMemoryOps.cu"),
    // --- attention ---
    ("device_kernel", "flash::FlashAttnFwdSm90", "attention", "Dao-AILab/flash-attention hopper/flash_fwd_kernel_sm90.h (FA3 inside cutlass::device_kernel)"),
    ("prepare_varlen_num_blocks_kernel", "", "attention", "Dao-AILab/flash-attention hopper/flash_prepare_scheduler.cu"),
    ("flash_fwd_splitkv_kernel", "", "attention", "Dao-AILab/flash-attention csrc/flash_attn/src/flash_fwd_kernel.h"),
    ("kernel_cutlass_kernel_flash_attncuteflash_fwd_sm100FlashAttentionForwardSm100", "", "attention", "modular/modular max/kernels/benchmarks/misc/comparison/bench_blackwell_prefill.py (FA4 kernel filter)"),
    ("flash_fwd_splitkv_mla_kernel", "", "attention", "deepseek-ai/FlashMLA csrc/sm90/decode/dense/splitkv_mla.cuh"),
    ("flash_fwd_splitkv_mla_fp8_sparse_kernel", "", "attention", "deepseek-ai/FlashMLA csrc/sm90/decode/sparse_fp8/splitkv_mla.cuh"),
    ("sparse_attn_fwd_kernel", "", "attention", "deepseek-ai/FlashMLA csrc/sm100/prefill/sparse/fwd/head128/phase1.cuh"),
    ("get_mla_metadata_kernel", "", "attention", "deepseek-ai/FlashMLA csrc/smxx/decode/get_decoding_sched_meta/get_decoding_sched_meta.cu"),
    ("BatchPrefillWithPagedKVCacheKernel", "flashinfer::BatchPrefillWithPagedKVCacheKernel", "attention", "flashinfer-ai/flashinfer include/flashinfer/attention/prefill.cuh"),
    ("MergeStatesKernel", "flashinfer::MergeStatesKernel", "attention", "flashinfer-ai/flashinfer include/flashinfer/attention/cascade.cuh"),
    ("fmhaSm100aKernel_QE4m3KvE2m1OE4m3H128PagedKvCausalP32VarSeqQ128Kv128PersistentContext", "", "attention", "flashinfer-ai/flashinfer tests/test_artifacts.py (trtllm-gen FMHA cubin)"),
    ("kernel_mha", "", "attention", "flashinfer-ai/flashinfer csrc/xqa/mha_sm90.cu (CUBIN_EXPORT kernel_mha)"),
    ("_fwd_kernel", "", "attention", "sgl-project/sglang python/sglang/srt/layers/attention/triton_ops/extend_attention.py"),
    ("_fwd_grouped_kernel_stage1", "", "attention", "sgl-project/sglang python/sglang/srt/layers/attention/triton_ops/decode_attention.py"),
    ("kernel_unified_attention", "", "attention", "vllm-project/vllm vllm/v1/attention/ops/triton_unified_attention.py"),
    ("reduce_segments", "", "attention", "vllm-project/vllm vllm/v1/attention/ops/triton_unified_attention.py"),
    ("sm100_paged_mqa_logits", "deep_gemm::sm100_paged_mqa_logits", "attention", "deepseek-ai/DeepGEMM deep_gemm/include/deep_gemm/impls/sm100_mqa_logits.cuh"),
    ("cudnn_generated_fort_native_sdpa_sm90_flash_fprop_wgmma_f16_knob_7_64x128x128_4x1x1_cga1x1x1_kernel0_0", "", "attention", "fixtures/nsys/hf_capture.sqlite"),
    // --- moe ---
    ("bmm_Bfloat16_E2m1E2m1_Fp32_t128x16x256u2_et128x16_m128x16x64_cga1x1x1_16dp256b_TN_transOut_schedS_bN_dynBatch_sm100a", "", "moe", "NVIDIA/TensorRT-LLM cpp/tensorrt_llm/kernels/trtllmGenKernels/batchedGemm/trtllmGen_bmm_export/KernelMetaInfo.h"),
    ("routingIndicesClusterKernel", "moe::dev::routing::routingCustom::routingIndicesClusterKernel", "moe", "flashinfer-ai/flashinfer csrc/fused_moe/trtllm_backend/trtllm_fused_moe_routing_custom.cuh"),
    ("routingMainKernel", "moe::dev::routing::routingDeepSeek::routingMainKernel", "moe", "flashinfer-ai/flashinfer csrc/fused_moe/trtllm_backend/trtllm_fused_moe_routing_deepseek.cu"),
    ("finalizeKernelVecLoad", "moe::dev::finalize::finalizeKernelVecLoad", "moe", "flashinfer-ai/flashinfer csrc/fused_moe/trtllm_backend/trtllm_fused_moe_dev_kernel.cu"),
    ("activationDeepSeekKernel", "moe::dev::activation::activationDeepSeekKernel", "moe", "flashinfer-ai/flashinfer csrc/fused_moe/trtllm_backend/trtllm_fused_moe_dev_kernel.cu"),
    ("expandInputRowsKernel", "tensorrt_llm::kernels::cutlass_kernels::expandInputRowsKernel", "moe", "flashinfer-ai/flashinfer csrc/fused_moe/cutlass_backend/cutlass_fused_moe_kernels.cuh"),
    ("doActivationKernel", "tensorrt_llm::kernels::cutlass_kernels::doActivationKernel", "moe", "flashinfer-ai/flashinfer csrc/fused_moe/cutlass_backend/cutlass_fused_moe_kernels.cuh"),
    ("finalizeMoeRoutingKernel", "tensorrt_llm::kernels::cutlass_kernels::finalizeMoeRoutingKernel", "moe", "flashinfer-ai/flashinfer csrc/fused_moe/cutlass_backend/cutlass_fused_moe_kernels.cuh"),
    ("deepseek_v3_topk_kernel", "tensorrt_llm::kernels::deepseek_v3_topk_kernel", "moe", "flashinfer-ai/flashinfer csrc/fused_moe/noAuxTcKernels.cu"),
    ("moePermuteKernel", "", "moe", "flashinfer-ai/flashinfer csrc/nv_internal/tensorrt_llm/kernels/cuteDslKernels/moeUtils.cu"),
    // The CuTe DSL kernel name embeds this class name (see the FA4 entry for the scheme).
    ("Sm100BlockScaledContiguousGroupedGemmFinalizeFusionKernel", "", "moe", "flashinfer-ai/flashinfer flashinfer/fused_moe/cute_dsl/blackwell/blockscaled_contiguous_grouped_gemm_finalize_fusion.py"),
    ("_p_matmul_ogs", "", "moe", "triton-lang/triton python/triton_kernels/triton_kernels/matmul_ogs_details/_p_matmul_ogs.py"),
    ("_combined_routing_compute", "", "moe", "triton-lang/triton python/triton_kernels/triton_kernels/routing_details/_routing_compute.py"),
    ("_topk_forward", "", "moe", "triton-lang/triton python/triton_kernels/triton_kernels/topk_details/_topk_forward.py"),
    ("prepare_grouped_gemm_data", "void at::cuda::detail::prepare_grouped_gemm_data<cutlass::bfloat16_t, cutlass::bfloat16_t, cutlass::bfloat16_t, float, cute::tuple<int, int, int>, ", "moe", "fixtures/nsys/hf_capture.sqlite"),
    ("fused_moe_kernel", "", "moe", "sgl-project/sglang python/sglang/srt/layers/moe/fused_moe_triton/fused_moe.py"),
    ("_fwd_kernel_ep_scatter_1", "", "moe", "sgl-project/sglang python/sglang/srt/layers/moe/ep_moe/kernels.py"),
    ("moe_align_block_size_kernel", "", "moe", "sgl-project/sglang sgl-kernel/csrc/moe/moe_align_kernel.cu"),
    ("count_and_sort_expert_tokens_kernel", "", "moe", "sgl-project/sglang sgl-kernel/csrc/moe/moe_align_kernel.cu"),
    ("topkGatingSoftmax", "", "moe", "sgl-project/sglang sgl-kernel/csrc/moe/moe_topk_softmax_kernels.cu"),
    ("moe_fused_gate_kernel", "", "moe", "sgl-project/sglang sgl-kernel/csrc/moe/moe_fused_gate.cu"),
    ("router_gemm_kernel_float_output", "", "moe", "sgl-project/sglang sgl-kernel/csrc/gemm/dsv3_router_gemm_float_out.cu"),
    ("device_kernel", "void cutlass::device_kernel<at::cuda::detail::enable_3x_kernel_for_sm9x<cutlass::gemm::kernel::GemmUniversal<cutlass::gemm::GroupProblemShape<cute::tuple<int, int, int>>, ", "moe", "fixtures/nsys/hf_capture.sqlite (torch._grouped_mm)"),
    ("sm100_fp8_fp4_mega_moe_impl", "deep_gemm::sm100_fp8_fp4_mega_moe_impl", "moe", "deepseek-ai/DeepGEMM deep_gemm/include/deep_gemm/impls/sm100_fp8_fp4_mega_moe.cuh"),
    // --- gemm ---
    ("nvjet_sm90_tst_320x128_64x3_1x2_h_bz_coopB_TNT", "", "gemm", "fixtures/nsys/hf_capture.sqlite"),
    ("splitKreduce_kernel", "void cublasLt::splitKreduce_kernel<(int)32, (int)16, int, float, __nv_bfloat16, float, __nv_bfloat16, (bool)0, float, __nv_bfloat16, __nv_bfloat16, (bool)1, (bool)0, (bool)0, (bool)0>(cublasLt::cublasSplitKParams<T6>, co", "gemm", "fixtures/nsys/hf_capture.sqlite"),
    ("Kernel2", "void cutlass::Kernel2<cutlass_80_simt_sgemm_128x32_8x5_nn_align1>(T1::Params)", "gemm", "fixtures/nsys/hf_capture.sqlite"),
    // The CuTe DSL kernel name embeds this class name.
    ("Sm100BlockScaledPersistentDenseGemmKernel", "", "gemm", "flashinfer-ai/flashinfer flashinfer/gemm/kernels/dense_blockscaled_gemm_sm100.py"),
    ("gemm_Bfloat16_E4m3E4m3_Fp32_t128x8x128u2_s6_et64x8_m64x8x32_c1x1x1_rM_TN_transOut_noShfl_dsFp8_schPd2x2x1x3_sm100f", "", "gemm", "flashinfer-ai/flashinfer csrc/trtllm_gemm_runner.cu"),
    ("sm90_fp8_gemm_1d2d_impl", "deep_gemm::sm90_fp8_gemm_1d2d_impl", "gemm", "deepseek-ai/DeepGEMM deep_gemm/include/deep_gemm/impls/sm90_fp8_gemm_1d2d.cuh"),
    ("_w8a8_block_fp8_matmul", "", "gemm", "sgl-project/sglang python/sglang/srt/layers/quantization/fp8_kernel.py"),
    // --- norm ---
    ("fusedQKNormRopeKernel", "", "norm", "flashinfer-ai/flashinfer include/flashinfer/norm/fused_qk_rmsnorm_rope.cuh"),
    ("RMSNormKernel", "flashinfer::norm::RMSNormKernel", "norm", "flashinfer-ai/flashinfer include/flashinfer/norm.cuh"),
    ("rms_norm_cvt_fp16_to_fp4", "vllm::rms_norm_cvt_fp16_to_fp4", "norm", "vllm-project/vllm csrc/quantization/fp4/rmsnorm_nvfp4_quant_kernels.cu"),
    ("vectorized_layer_norm_kernel", "", "norm", "fixtures/nsys/mini.sqlite"),
    ("generalRmsNorm", "tensorrt_llm::kernels::generalRmsNorm", "norm", "NVIDIA/TensorRT-LLM cpp/tensorrt_llm/kernels/rmsnormKernels.cu"),
    // --- rotary, activation ---
    ("BatchQKApplyRotaryPosIdsCosSinCacheKernel", "", "rotary", "flashinfer-ai/flashinfer include/flashinfer/pos_enc.cuh"),
    ("act_and_mul_kernel", "flashinfer::activation::act_and_mul_kernel", "activation", "flashinfer-ai/flashinfer include/flashinfer/activation.cuh"),
    // --- quantization ---
    ("per_token_group_quant_8bit_kernel", "", "quantization", "sgl-project/sglang sgl-kernel/csrc/gemm/per_token_group_quant_8bit.cu"),
    ("quantize_with_block_size", "tensorrt_llm::kernels::quantize_with_block_size", "quantization", "flashinfer-ai/flashinfer csrc/nv_internal/tensorrt_llm/kernels/quantization.cuh"),
    ("nvfp4QuantAndPerTokenScaleKernel", "tensorrt_llm::kernels::nvfp4QuantAndPerTokenScaleKernel", "quantization", "flashinfer-ai/flashinfer csrc/nv_internal/tensorrt_llm/kernels/quantization.cuh"),
    ("cvt_fp16_to_fp4", "vllm::cvt_fp16_to_fp4", "quantization", "vllm-project/vllm csrc/quantization/fp4/nvfp4_quant_kernels.cu"),
    ("scale_1x128_kernel", "tensorrt_llm::kernels::fp8_blockscale_gemm::scale_1x128_kernel", "quantization", "flashinfer-ai/flashinfer csrc/nv_internal/tensorrt_llm/kernels/cutlass_kernels/fp8_blockscale_gemm/fp8_blockscale_gemm_kernel.cuh"),
    // The CuTe DSL kernel name embeds this class name.
    ("MXFP8QuantizeSwizzledKernel", "", "quantization", "flashinfer-ai/flashinfer flashinfer/quantization/kernels/mxfp8_quantize.py"),
    // --- sampling, kv_cache, memory, compiled, elementwise ---
    ("softmax_warp_forward", "", "sampling", "fixtures/nsys/hf_capture.sqlite"),
    ("reduce_kernel", "void at::native::reduce_kernel<(int)512, (int)1, at::native::ReduceOp<c10::BFloat16, at::native::ArgMaxOps<float>, unsigned int, long, (int)4, (int)4>>(T3)", "sampling", "fixtures/nsys/hf_capture.sqlite"),
    ("reshape_and_cache_flash_kernel", "vllm::reshape_and_cache_flash_kernel", "kv_cache", "vllm-project/vllm csrc/cache_kernels.cu"),
    ("clamp_position_kernel", "", "kv_cache", "sgl-project/sglang python/sglang/kernels/ops/attention/clamp_position.py; fixtures/nsys/sglang_llama3_2l_markers.sqlite"),
    ("_router_triton_kernel", "", "moe", "sgl-project/sglang python/sglang/kernels/ops/moe/moe_fused_gate.py; fixtures/nsys/sglang_qwen3moe_2l.sqlite"),
    ("store_kvcache", "", "kv_cache", "sgl-project/sglang python/sglang/kernels/jit/csrc/elementwise/kvcache.cuh; fixtures/nsys/sglang_qwen3moe_2l.sqlite"),
    ("CatArrayBatchedCopy", "", "memory", "fixtures/nsys/hf_capture.sqlite"),
    ("[CUDA memcpy Host-to-Device]", "", "memory", "nsys MEMCPY rows as the importer names them"),
    ("triton_poi_fused_add_0", "", "compiled", "pytorch/pytorch torch/_inductor (generated kernel name)"),
    ("kernelHistogram1D", "void at::cuda::kernelHistogram1D<int, int, long, (int)1, (int)2, (int)-1, (at::cuda::CUDAHistogramMemoryType)0, ", "elementwise", "fixtures/nsys/hf_capture.sqlite"),
    ("vectorized_elementwise_kernel", "", "elementwise", "fixtures/nsys/hf_capture.sqlite"),
    // --- names from real public traces and the research notes (2026-11) ---
    ("combine", "void dpsk::ep::internode::combine<(dpsk::ep::internode::CombineMode)0>", "communication", "deepseek-ai/profile-data train.json"),
    ("compute_attn_ws", "void flash::compute_attn_ws<Flash_fwd_kernel_traits<192, 128, 128, 16, 2, false, 1, cutlass::bfloat16_t>, true, flash::SingleTileScheduler", "attention", "deepseek-ai/profile-data train.json"),
    ("fmhaReductionKernel", "", "attention", "NVIDIA/TensorRT-LLM cpp/tensorrt_llm/kernels/trtllmGenKernels/fmha/fmhaReduction.cu"),
    ("computeCountAndIndiceDevice", "tensorrt_llm::kernels::computeCountAndIndiceDevice", "moe", "NVIDIA/TensorRT-LLM cpp/tensorrt_llm/kernels/moePrepareKernels.cu"),
    ("device_kernel", "void cutlass::device_kernel<dpsk::grouped_gemm::cuda::m_grouped_fp8_ptp128c::GemmKernel>", "moe", "deepseek-ai/profile-data train.json"),
    ("_gemma4_routing_kernel", "", "moe", "tlrmchlsmth/vllm-synthid gemma4-h200 trace summaries"),
    ("device_kernel", "void cutlass::device_kernel<dpsk::grouped_gemm::cuda::fp8_ptp128c::GemmKernel>", "gemm", "deepseek-ai/profile-data train.json"),
    ("applyMLARopeAndAssignQKVKernelOptContext", "tensorrt_llm::kernels::applyMLARopeAndAssignQKVKernelOptContext", "rotary", "NVIDIA/TensorRT-LLM cpp/tensorrt_llm/kernels/mlaKernels.cu"),
    ("_copy_page_indices_kernel", "", "kv_cache", "fixtures/public/vllm_gptoss_b200_tp8_prefill_rank0.json.gz"),
    ("Memcpy DtoD (Device -> Device)", "", "memory", "fixtures/public/vllm_gptoss_b200_tp8_prefill_rank0.json.gz (Kineto copy name)"),
    ("multimem_all_reduce_kernel", "void (anonymous namespace)::multimem_all_reduce_kernel<c10::BFloat16, 16>(c10::BFloat16*, unsigned long, unsigned int**, unsigned long, unsigned long)", "communication", "fixtures/public/vllm_gptoss_b200_tp8_prefill_rank0.json.gz"),
    ("bmm_MxE4m3_MxE2m1MxE4m3_Fp32_t128x16x256u2_s3_et128x16_m128x16x32_cga1x1x1_16dp256b_rM_TN_transOut_schedP2x1x2x3_biasM_bN_tma_tmaOpt_clmp_swiGlu_dynBatch_sm100f", "", "moe", "fixtures/public/vllm_gptoss_b200_tp8_prefill_rank0.json.gz"),
    ("routingIndicesHistogramKernel", "void moe::dev::routing::routingIndicesHistogramKernel<moe::dev::routing::routingRenormalize::KernelParams<__nv_bfloat16, __nv_bfloat16, 128, false, true, true> >", "moe", "fixtures/public/vllm_gptoss_b200_tp8_prefill_rank0.json.gz"),
    ("fmhaSm100aKernel_QkvE4m3OBfloat16H64PagedKvCausalP16VarSeqQ128Kv128PersistentContext", "", "attention", "fixtures/public/vllm_gptoss_b200_tp8_prefill_rank0.json.gz"),
    ("device_kernel", "void cutlass::device_kernel<flash::FlashAttnBwd<flash::CollectiveMainloopBwd<2, cute::tuple<cute::C<1>, cute::C<1>, cute", "attention", "deepseek-ai/profile-data train.json"),
    ("reduce_fused_impl", "void cuda::reduce_fused_impl<__nv_bfloat16, false, false>(int4 const*, float const*, int const*, int4*, int, int, int", "moe", "deepseek-ai/profile-data train.json"),
    ("swiglu_forward_backward_with_weight_impl", "void cuda::swiglu_forward_backward_with_weight_impl<__nv_bfloat16>(__nv_bfloat16*, __nv_bfloat16*, __nv_bfloat16*", "activation", "deepseek-ai/profile-data train.json"),
    ("per_token_cast_to_fp8_with_channels", "void cuda::per_token_cast_to_fp8_with_channels<__nv_bfloat16, 128, false, 128, false>(__nv_bfloat16 const*, int", "quantization", "deepseek-ai/profile-data train.json"),
    // --- linear-attention / SSM token mixers and vLLM V1 slot mapping (issue 10) ---
    ("fused_recurrent_gated_delta_rule_packed_decode_kernel", "", "attention", "fixtures/public/vllm_qwen35_gb10_decode.json.gz"),
    ("fused_recurrent_gated_delta_rule_fwd_kernel", "", "attention", "vllm-project/vllm vllm/model_executor/layers/fla/ops/fused_recurrent.py"),
    ("fused_recurrent_fwd_kernel", "", "attention", "fla-org/flash-linear-attention fla/ops/common/fused_recurrent.py"),
    ("fused_sigmoid_gating_delta_rule_update_kernel", "", "attention", "vllm-project/vllm vllm/model_executor/layers/fla/ops/fused_sigmoid_gating.py"),
    ("fused_gdn_gating_kernel", "", "attention", "vllm-project/vllm vllm/model_executor/layers/fla/ops/fused_gdn_gating.py"),
    ("chunk_gated_delta_rule_fwd_kernel_h_blockdim64", "", "attention", "fla-org/flash-linear-attention fla/ops/common/chunk_delta_h.py"),
    ("chunk_gated_delta_rule_fwd_kkt_solve_kernel", "", "attention", "fla-org/flash-linear-attention fla/ops/gated_delta_rule/chunk_fwd.py"),
    ("chunk_fwd_kernel_o", "", "attention", "fla-org/flash-linear-attention fla/ops/common/chunk_o.py"),
    ("chunk_scaled_dot_kkt_fwd_kernel", "", "attention", "fla-org/flash-linear-attention fla/ops/common/chunk_scaled_dot_kkt.py"),
    ("recompute_w_u_fwd_kernel", "", "attention", "fla-org/flash-linear-attention fla/ops/gated_delta_rule/wy_fast.py"),
    ("solve_tril_16x16_kernel", "", "attention", "fla-org/flash-linear-attention fla/ops/utils/solve_tril.py"),
    ("merge_16x16_to_64x64_inverse_kernel", "", "attention", "fla-org/flash-linear-attention fla/ops/utils/solve_tril.py"),
    ("chunk_local_cumsum_scalar_kernel", "", "attention", "fla-org/flash-linear-attention fla/ops/utils/cumsum.py"),
    ("_causal_conv1d_update_kernel", "", "attention", "fixtures/public/vllm_qwen35_gb10_decode.json.gz"),
    ("_causal_conv1d_fwd_kernel", "", "attention", "vllm-project/vllm vllm/model_executor/layers/mamba/ops/causal_conv1d.py"),
    ("causal_conv1d_update_kernel", "", "attention", "fla-org/flash-linear-attention fla/modules/conv/triton/kernels.py"),
    ("causal_conv1d_channellast_fwd_kernel", "", "attention", "vllm-project/vllm csrc/mamba/causal_conv1d/causal_conv1d.cu"),
    ("_selective_scan_update_kernel", "", "attention", "vllm-project/vllm vllm/model_executor/layers/mamba/ops/mamba_ssm.py"),
    ("selective_state_update_kernel_simple", "flashinfer::mamba::selective_state_update_kernel_simple", "attention", "flashinfer-ai/flashinfer include/flashinfer/mamba/kernel_selective_state_update_stp.cuh"),
    ("selective_scan_fwd_kernel", "", "attention", "vllm-project/vllm csrc/mamba/mamba_ssm/selective_scan_fwd.cu"),
    ("_chunk_cumsum_fwd_kernel", "", "attention", "vllm-project/vllm vllm/model_executor/layers/mamba/ops/ssd_chunk_state.py"),
    ("_chunk_state_varlen_kernel", "", "attention", "vllm-project/vllm vllm/model_executor/layers/mamba/ops/ssd_chunk_state.py"),
    ("_state_passing_fwd_kernel", "", "attention", "vllm-project/vllm vllm/model_executor/layers/mamba/ops/ssd_state_passing.py"),
    ("_bmm_chunk_fwd_kernel", "", "attention", "vllm-project/vllm vllm/model_executor/layers/mamba/ops/ssd_bmm.py"),
    ("_chunk_scan_fwd_kernel", "", "attention", "vllm-project/vllm vllm/model_executor/layers/mamba/ops/ssd_chunk_scan.py"),
    ("_compute_slot_mapping_kernel", "", "kv_cache", "fixtures/public/vllm_qwen35_gb10_decode.json.gz"),
    ("_compute_slot_mappings_kernel", "", "kv_cache", "vllm-project/vllm vllm/v1/worker/gpu/block_table.py"),    // --- AMD ROCm (hipBLASLt/Tensile, Composable Kernel, aiter, RCCL, vLLM ROCm, ROCclr) ---
    ("gemm_batched_general_kernel", "", "gemm", "ROCm/rocBLAS library/src/blas_ex (gemm_batched_general_kernel)"),
    ("rocblas_internal_gemmt_kernel", "", "gemm", "ROCm/rocBLAS library/src/blas3 (rocblas_internal_gemmt_kernel)"),
    ("Cijk_Alik_Bljk_BBS_BH_Bias_HA_S_SAV_UserArgs_MT32x16x512_MI16x16x1_SN_LDSB0_AFC0_AFEM1_AFEM1_ASEM1_CLR1_CADS0", "", "gemm", "ROCm/Tensile Tensile/SolutionStructs.py"),
    ("Cijk_Ailk_Bljk_BBS_BH_Bias_HA_S_SAV_UserArgs_MT256x256x32_MI32x32x1_SN", "", "gemm", "ROCm/Tensile Tensile/SolutionStructs.py"),
    ("Cijk_Ailk_Bjlk_HHS_BH_MT128x128x32_MI32x32x8x1_SN_1LDSB0_APM1_ABV0_ACED0_AF0EM1", "", "gemm", "ROCm/Tensile Tensile/SolutionStructs.py"),
    ("Cijk_SB_Bias_PostGSU4_VW4", "", "gemm", "ROCm/Tensile Tensile/SolutionStructs.py"),
    ("Cijk_Ailk_Bjlk_BBS_BH_Bias_GG_HAS_SAV_UserArgs_MT128x128x64_MI16x16x1", "", "moe", "ROCm/hipBLASLt tensilelite/Tensile/SolutionStructs.py"),
    ("Custom_Cijk_Alik_Bljk_BBS_BH_Bias_AS_SAV_UserArgs_MT256x256x64", "", "gemm", "ROCm/Tensile Tensile/SolutionStructs.py"),
    ("wvSplitK_hf_sml_", "void wvSplitK_hf_sml_<__hip_bfloat16, 64, 2, 16, 8, 2, 1>(int, int, int, int, int, int, __hip_bfloat16 const*) [clone .kd]", "gemm", "vllm-project/vllm csrc/rocm/skinny_gemms.cu"),
    ("wvSplitKQ_hf_", "void wvSplitKQ_hf_<__hip_bfloat16, __hip_fp8_e4m3, 64, 2, 16, 16, 2, 1>(int, int, int)", "gemm", "vllm-project/vllm csrc/rocm/skinny_gemms.cu"),
    ("LLGemm1_kernel", "void LLGemm1_kernel<c10::BFloat16, 4>(c10::BFloat16 const*, c10::BFloat16 const*, c10::BFloat16*, int)", "gemm", "vllm-project/vllm csrc/rocm/skinny_gemms.cu"),
    ("wvSplitK_hf_", "void aiter::wvSplitK_hf_<__hip_bfloat16, 64, 2, 16, 8, 2, 1>(int, int)", "gemm", "vllm-project/vllm csrc/rocm/skinny_gemms.cu"),
    ("_ZN5aiter37bf16gemm_fp32bf16_tn_32x64_pf3_splitkE", "_ZN5aiter37bf16gemm_fp32bf16_tn_32x64_pf3_splitkE.kd", "gemm", "ROCm/aiter hsa/gfx942,gfx950/bf16gemm/bf16gemm_fp32bf16.csv"),
    ("bf16gemm_bf16_tn_256x256_bpreshuffle", "aiter::bf16gemm_bf16_tn_256x256_bpreshuffle", "gemm", "ROCm/aiter hsa/gfx942,gfx950/bf16gemm/bf16gemm_fp32bf16.csv"),
    ("_ZN5aiter43fp8gemm_bf16_blockscale_BpreShuffle_128x128E", "", "gemm", "ROCm/aiter hsa/gfx942,gfx950/bf16gemm/bf16gemm_fp32bf16.csv"),
    ("_ZN5aiter44f4gemm_bf16_per1x32Fp4_noBpreShuffle_256x256E", "", "gemm", "ROCm/aiter hsa/gfx942,gfx950/bf16gemm/bf16gemm_fp32bf16.csv"),
    ("hgemm_bf16_16x64x64x7_SPK4_W1x2x1_BLDS1_TN_AS1_0", "hgemm_bf16_16x64x64x7_SPK4_W1x2x1_BLDS1_TN_AS1_0.kd", "gemm", "vllm-project/vllm csrc/rocm/skinny_gemms.cu"),
    ("gemm_a16w16_flatmm_splitk_kernel", "void gemm_a16w16_flatmm_splitk_kernel<opus_flatmm_splitk_traits_gfx950<256, opus::seq<32, 128, 64>>>(int)", "gemm", "vllm-project/vllm csrc/rocm/skinny_gemms.cu"),
    ("splitk_reduce_kernel", "void splitk_reduce_kernel<16, 64, std::bfloat16_t, false, std::bfloat16_t, true>(opus_splitk_ws_handle const*)", "gemm", "vllm-project/vllm csrc/rocm/skinny_gemms.cu"),
    ("_batched_gemm_a16wfp4_kernel_BLOCK_SIZE_M_16_BLOCK_SIZE_N_64_BLOCK_SIZE_K_256_GROUP_SIZE_M_1_NUM_KSPLIT_1_S", "_batched_gemm_a16wfp4_kernel_BLOCK_SIZE_M_16_BLOCK_SIZE_N_64_BLOCK_SIZE_K_256_GROUP_SIZE_M_1_NUM_KSPLIT_1_S.kd", "gemm", "vllm-project/vllm csrc/rocm/skinny_gemms.cu"),
    ("_gemm_a8w8_blockscale_kernel", "", "gemm", "vllm-project/vllm csrc/rocm/skinny_gemms.cu"),
    ("_ZN2ck40kernel_gemm_xdl_cshuffle_v3_multi_d_b_preshuffleINS_30GridwiseGemmMultiD_xdl_cshuffle_v3", "", "gemm", "ROCm/composable_kernel include/ck/tensor_operation/gpu/grid/gridwise_gemm_xdl_cshuffle_v3*.hpp"),
    ("kernel_gemm_xdl_cshuffle_v3", "void ck::kernel_gemm_xdl_cshuffle_v3<ck::GridwiseGemm_xdl_cshuffle_v3<ck::tensor_layout::gemm::RowMajor>, true, (ck::InMemoryDataOperationEnum)0, 2>(ck::GridwiseGemm_xdl_cshuffle_v3<>::Argument)", "gemm", "ROCm/composable_kernel include/ck/tensor_operation/gpu/grid/gridwise_gemm_xdl_cshuffle_v3*.hpp"),
    ("kentry", "void ck_tile::kentry<256, 1, ck_tile::GemmKernel<ck_tile::GemmTile1DPartitioner<>, ck_tile::GemmPipelineAgBgCrCompV3<>>>(ck_tile::GemmKernelArgs)", "gemm", "ROCm/composable_kernel include/ck/tensor_operation/gpu/grid/gridwise_gemm_xdl_cshuffle_v3*.hpp"),
    ("rocblas_gemvt_kernel", "void rocblas_gemvt_kernel<false, 256, int, float>(int, int)", "gemm", "fixtures/nsys/hf_capture.sqlite (nvjet_sm90_tst_*"),
    ("flatmm_uk_gfx9_f16f8_128x256x128_1x4x1_16x16x32", "", "gemm", "ROCm/aiter hsa/gfx942,gfx950/bf16gemm/bf16gemm_fp32bf16.csv"),
    ("paged_attention_ll4mi_QKV_mfma16_kernel", "", "attention", "vllm-project/vllm csrc/rocm/attention.cu"),
    ("paged_attention_ll4mi_QKV_mfma4_kernel", "void paged_attention_ll4mi_QKV_mfma4_kernel<__hip_bfloat16, __hip_bfloat16, (vllm::Fp8KVCacheDataType)0, __hip_bfloat16, 16, 128, 256, false, 4>(__hip_bfloat16 const*) [clone .kd]", "attention", "vllm-project/vllm csrc/rocm/attention.cu"),
    ("paged_attention_ll4mi_reduce_kernel", "void paged_attention_ll4mi_reduce_kernel<__hip_bfloat16, __hip_bfloat16, 128, 128, 256, 8>(__hip_bfloat16*)", "attention", "vllm-project/vllm csrc/rocm/attention.cu"),
    ("_ZN5aiter19fmha_fwd_hd128_bf16E", "", "attention", "ROCm/aiter hsa/gfx942/{fmha_v3_fwd,fmha_v3_bwd,fmha_v4_fwd,mla,pa}/*.csv"),
    ("fmha_fwd_hd128_bf16_causal", "aiter::fmha_fwd_hd128_bf16_causal [clone .kd]", "attention", "ROCm/aiter hsa/gfx942/{fmha_v3_fwd,fmha_v3_bwd,fmha_v4_fwd,mla,pa}/*.csv"),
    ("_ZN5aiter45mla_a8w8_qh32_qseqlen4_gqaratio32_lse_cprr_psE", "_ZN5aiter45mla_a8w8_qh32_qseqlen4_gqaratio32_lse_cprr_psE.kd", "attention", "ROCm/aiter hsa/gfx942/{fmha_v3_fwd,fmha_v3_bwd,fmha_v4_fwd,mla,pa}/*.csv"),
    ("_ZN5aiter41mla_dec_stage1_bf16_a16w16_subQ128_mqa128E", "", "attention", "ROCm/aiter hsa/gfx942/{fmha_v3_fwd,fmha_v3_bwd,fmha_v4_fwd,mla,pa}/*.csv"),
    ("_ZN5aiter44PA_A16W8_BLK256_1TG_4W_16mx1_64nx4_MTP_PS_PBE", "", "attention", "ROCm/aiter hsa/gfx942/{fmha_v3_fwd,fmha_v3_bwd,fmha_v4_fwd,mla,pa}/*.csv"),
    ("pa_bf16_pertokenFp8_gqa16_2tg_4w", "aiter::pa_bf16_pertokenFp8_gqa16_2tg_4w", "attention", "ROCm/aiter hsa/gfx942/{fmha_v3_fwd,fmha_v3_bwd,fmha_v4_fwd,mla,pa}/*.csv"),
    ("kn_mla_reduce_v1", "void kn_mla_reduce_v1<MlaReduceKernelV1Traits<512, 128, 1>, float, std::bfloat16_t>(MlaReduceKernelV1Params)", "attention", "vllm-project/vllm csrc/rocm/attention.cu"),
    ("kn_get_mla_metadata_v1_2", "void kn_get_mla_metadata_v1_2<MlaMetadataV12Traits<128, true, 0, true, false> >(MlaMetadataV1KernelParameter)", "attention", "vllm-project/vllm csrc/rocm/attention.cu"),
    ("_ZN7ck_tile6kentryILi1ENS_13FmhaFwdKernelEEEvv", "", "attention", "ROCm/composable_kernel include/ck_tile/ops/fmha/kernel/"),
    ("kentry", "void ck_tile::kentry<64, 1, ck_tile::FmhaBatchPrefillWithPagedKVCacheKernel<ck_tile::BlockFmhaBatchPrefillPipelineQRKSVSAsync<>>>(ck_tile::FmhaBatchPrefillWithPagedKVCacheKernel<>::Kargs)", "attention", "ROCm/composable_kernel include/ck_tile/ops/fmha/kernel/"),
    ("kentry", "void ck_tile::kentry<256, 1, ck_tile::FmhaFwdSplitKVCombineKernel<>>(int)", "attention", "ROCm/composable_kernel include/ck_tile/ops/fmha/kernel/"),
    ("kernel_unified_attention_2d", "kernel_unified_attention_2d.kd", "attention", "vllm-project/vllm vllm/v1/attention/ops/triton_unified_attention.py"),
    ("_fwd_grouped_kernel_stage1", "_fwd_grouped_kernel_stage1.kd", "attention", "sgl-project/sglang python/sglang/srt/layers/attention/triton_ops/extend_attention.py"),
    ("_fwd_kernel", "_fwd_kernel.kd", "attention", "sgl-project/sglang python/sglang/srt/layers/attention/triton_ops/extend_attention.py"),
    ("_attn_fwd", "", "attention", "ROCm/aiter aiter/ops/triton/_triton_kernels/attention/mha.py"),
    ("la_persistent", "", "attention", "ROCm/aiter aiter/ops/triton/_triton_kernels/attention/mha.py"),
    ("_paged_attn_decode_v2_w_dot_kernel", "", "attention", "ROCm/aiter aiter/ops/triton/_triton_kernels/attention/mha.py"),
    ("kernel_paged_attention_2d", "", "attention", "ROCm/aiter aiter/ops/triton/_triton_kernels/attention/mha.py"),
    ("_mla_decode_fwd_kernel", "", "attention", "ROCm/aiter aiter/ops/triton/_triton_kernels/attention/mha.py"),
    ("pa_decode_ps_reduce_hip_kernel", "", "attention", "vllm-project/vllm csrc/rocm/attention.cu"),
    ("_causal_conv1d_update_kernel", "_causal_conv1d_update_kernel.kd", "attention", "vllm-project/vllm vllm/model_executor/layers/mamba/ops/causal_conv1d.py"),
    ("_ZN5aiter52fmoe_bf16_blockscaleFp8_g1u1_novs_silu_1tg_ps_32x256E", "", "moe", "ROCm/aiter hsa/gfx942,gfx950/fmoe/{silu,gelu}/*.csv"),
    ("fmoe_stage1_bf16_pertokenFp8_g1u1_16x128_4tg_pf2", "aiter::fmoe_stage1_bf16_pertokenFp8_g1u1_16x128_4tg_pf2", "moe", "ROCm/aiter hsa/gfx942,gfx950/fmoe/{silu,gelu}/*.csv"),
    ("fmoe_kernel_func", "", "moe", "ROCm/aiter hsa/gfx942,gfx950/fmoe/{silu,gelu}/*.csv"),
    ("_ZN5aiter19topksoftmax_4x128x4E", "", "moe", "ROCm/aiter hsa/gfx942,gfx950/fmoe/{silu,gelu}/*.csv"),
    ("grouped_topk_kernel", "void aiter::grouped_topk_kernel<float, float __vector(4), 1, true, true, false>(float*, float const*)", "moe", "ROCm/aiter csrc/include/topk_gating_kernels.cuh"),
    ("_ZN5aiter30fused_mx_quant_moe_sort_kernelIDF16bDB8_Li256ELi16EEEvPT0_PhPKT_PKiS9_PKfiiiiiiiii", "_ZN5aiter30fused_mx_quant_moe_sort_kernelIDF16bDB8_Li256ELi16EEEvPT0_PhPKT_PKiS9_PKfiiiiiiiii.kd", "moe", "ROCm/aiter csrc/include/topk_gating_kernels.cuh"),
    ("opus_moe_sorting_entry", "void aiter::opus_moe_sorting_entry<aiter::MoeSortingMultiPhaseKernel_P23<aiter::MoeSortingProblemMp<int, float>>>(int)", "moe", "ROCm/aiter hsa/gfx942,gfx950/fmoe/{silu,gelu}/*.csv"),
    ("_ZN7ck_tile6kentryILi1ENS_16MoeSortingKernelINS_16MoeSortingProblemEEEEEvNT0_5KargsE", "", "moe", "ROCm/aiter hsa/gfx942,gfx950/fmoe/{silu,gelu}/*.csv"),
    ("kernel_moe_gemm", "void ck::kernel_moe_gemm<ck::GridwiseMoeGemm<ck::tensor_layout::gemm::RowMajor>, true, (ck::InMemoryDataOperationEnum)0, 1, (ck::TailNumber)0>(ck::GridwiseMoeGemm<>::Argument)", "moe", "ROCm/aiter hsa/gfx942,gfx950/fmoe/{silu,gelu}/*.csv"),
    ("kernel_moe_mxgemm_2lds", "void ck::kernel_moe_mxgemm_2lds<ck::GridwiseMoeGemmMX<>, true>(int)", "moe", "ROCm/aiter hsa/gfx942,gfx950/fmoe/{silu,gelu}/*.csv"),
    ("kentry", "void ck_tile::kentry<256, 1, ck_tile::MoeFlatmmKernel<ck_tile::GemmTile1DPartitioner<>>>(int)", "moe", "ROCm/aiter hsa/gfx942,gfx950/fmoe/{silu,gelu}/*.csv"),
    ("moe_align_block_size_kernel", "void aiter::moe_align_block_size_kernel<int>(int)", "moe", "sgl-project/sglang python/sglang/srt/layers/moe/fused_moe_triton/fused_moe.py"),
    ("topkGatingSoftmax", "void aiter::topkGatingSoftmax<4, 128, 4, 16, int>(float const*)", "moe", "sgl-project/sglang python/sglang/srt/layers/moe/fused_moe_triton/fused_moe.py"),
    ("topk_gating_kernel", "void aiter::topk_gating_kernel<aiter::SCORE_SOFTMAX, 8, 256>(float const*)", "moe", "ROCm/aiter csrc/include/topk_gating_kernels.cuh"),
    ("moe_sum_kernel", "void aiter::moe_sum_kernel<__hip_bfloat16, 8>(__hip_bfloat16*)", "moe", "sgl-project/sglang python/sglang/srt/layers/moe/fused_moe_triton/fused_moe.py"),
    ("moe_smooth_per_token_scaled_quant_kernel_v1", "aiter::moe_smooth_per_token_scaled_quant_kernel_v1", "moe", "ROCm/aiter csrc/include/topk_gating_kernels.cuh"),
    ("mxfp4_moe_sort_kernel", "void aiter::mxfp4_moe_sort_kernel<__hip_bfloat16>(int)", "moe", "ROCm/aiter csrc/include/topk_gating_kernels.cuh"),
    ("mfma_moe1_silu_mul_afp8_wfp4_fp8_t32x128x256_pm1_fp8q_sort_async_gui_xcd4_situv2_sb4p0_slb25p0_v2out_v32", "mfma_moe1_silu_mul_afp8_wfp4_fp8_t32x128x256_pm1_fp8q_sort_async_gui_xcd4_situv2_sb4p0_slb25p0_v2out_v32.kd", "moe", "ROCm/aiter aiter/ops/triton/_triton_kernels/moe/*.py"),
    ("gemm2_a4w4_port_hmax8192_imax8192_bm32_bn128_bk128_atomic_a8_g2ks2_bhoist_apf_spart4x2_v2", "gemm2_a4w4_port_hmax8192_imax8192_bm32_bn128_bk128_atomic_a8_g2ks2_bhoist_apf_spart4x2_v2.kd", "moe", "ROCm/aiter aiter/ops/triton/_triton_kernels/moe/*.py"),
    ("_fused_moe_kernel", "", "moe", "ROCm/aiter aiter/ops/triton/_triton_kernels/moe/*.py"),
    ("moe_fused_gate_kernel", "void aiter::moe_fused_gate_kernel<float, 256>(float*)", "moe", "sgl-project/sglang python/sglang/srt/layers/moe/fused_moe_triton/fused_moe.py"),
    ("ncclDevKernel_Generic_1", "ncclDevKernel_Generic_1(ncclDevKernelArgsStorage<4096ul>) [clone .kd]", "communication", "NVIDIA/nccl src/device/generate.py"),
    ("ncclDevKernel_Generic_4", "ncclDevKernel_Generic_4(ncclDevKernelArgsStorage<4096ul>)", "communication", "NVIDIA/nccl src/device/generate.py"),
    ("ncclDevKernelDebug_Generic", "ncclDevKernelDebug_Generic(ncclDevComm*, channelMasks, ncclWork*)", "communication", "ROCm/rccl src/device/common.cu"),
    ("rcclGenericKernel", "void rcclGenericKernel<1, false>(ncclDevKernelArgsStorage<4096ul>)", "communication", "ROCm/rccl src/device/common.cu"),
    ("mscclKernel_Sum_hip_bfloat16_Simple_false", "mscclKernel_Sum_hip_bfloat16_Simple_false(ncclDevComm*, mscclAlgo*, mscclWork*) [clone .kd]", "communication", "ROCm/rccl src/device/common.cu"),
    ("cross_device_reduce_2stage", "void aiter::cross_device_reduce_2stage<std::bfloat16_t, 8, false>(aiter::RankData*, aiter::RankData*)", "communication", "vllm-project/vllm csrc/custom_all_reduce.cuh"),
    ("cross_device_reduce_1stage", "void sglang::cross_device_reduce_1stage<__hip_bfloat16, 8>(sglang::RankData*)", "communication", "vllm-project/vllm csrc/custom_all_reduce.cuh"),
    ("allreduce_prototype_twoshot", "void aiter::allreduce_prototype_twoshot<aiter::quickreduce::AllReduceTwoshot<__hip_bfloat16, aiter::quickreduce::CodecFP<__hip_bfloat16>, true>, __hip_bfloat16>(__hip_bfloat16 const*)", "communication", "ROCm/aiter csrc/include/quick_all_reduce.cuh"),
    ("allreduce_fusion_kernel_1stage", "void aiter::allreduce_fusion_kernel_1stage<__hip_bfloat16, 8>(int)", "communication", "flashinfer-ai/flashinfer include/flashinfer/comm/trtllm_allreduce.cuh"),
    ("local_device_load_rmsnorm", "void aiter::local_device_load_rmsnorm<__hip_bfloat16, 512>(int)", "communication", "ROCm/aiter csrc/include/quick_all_reduce.cuh"),
    ("ep_dispatch_intranode", "", "communication", "ROCm/aiter csrc/include/quick_all_reduce.cuh"),
    ("add_rmsnorm_quant_kernel", "void aiter::add_rmsnorm_quant_kernel<std::bfloat16_t, std::bfloat16_t, 256, 16, false, false, true, 1>(std::bfloat16_t*)", "norm", "flashinfer-ai/flashinfer include/flashinfer/norm.cuh"),
    ("fused_qk_rmsnorm_kernel", "void aiter::fused_qk_rmsnorm_kernel<std::bfloat16_t, 256, 8, true, 1>(std::bfloat16_t*)", "norm", "flashinfer-ai/flashinfer include/flashinfer/norm.cuh"),
    ("_ZN5aiter35fused_qk_rmsnorm_group_quant_kernelIDF16bDB8_Li512ELi16ELi8ELb0ELb1ELb1ELb1ELb0ELb0EEE", "", "norm", "flashinfer-ai/flashinfer include/flashinfer/norm.cuh"),
    ("layer_norm_gated_fwd_kernel", "layer_norm_gated_fwd_kernel.kd", "norm", "flashinfer-ai/flashinfer include/flashinfer/norm.cuh"),
    ("rms_norm_kernel", "void vllm::rms_norm_kernel<c10::BFloat16, 8, 3, true>(c10::BFloat16*)", "norm", "flashinfer-ai/flashinfer include/flashinfer/norm.cuh"),
    ("kentry", "void ck_tile::kentry<256, 1, ck_tile::Rmsnorm2dFwd<ck_tile::Rmsnorm2dFwdPipelineOnePass<>>>(int)", "norm", "flashinfer-ai/flashinfer include/flashinfer/norm.cuh"),
    ("_layernorm_kernel", "", "norm", "ROCm/aiter aiter/ops/triton/_triton_kernels/normalization/norm.py"),
    ("_fused_rms_fp8_group_quant_kernel", "", "norm", "ROCm/aiter aiter/ops/triton/_triton_kernels/normalization/norm.py"),
    ("fused_mrope_rms_kv_kernel", "", "norm", "ROCm/aiter csrc/kernels/fused_qk_norm_rope_cache_quant.cu"),
    ("fuse_qk_norm_rope_group_quant_cache_kernel", "void aiter::fuse_qk_norm_rope_group_quant_cache_kernel<__hip_bfloat16>(int)", "norm", "ROCm/aiter csrc/kernels/fused_qk_norm_rope_cache_quant.cu"),
    ("rmsnorm_opus_kernel", "void aiter::rmsnorm_opus_kernel<__hip_bfloat16, 256>(int)", "norm", "flashinfer-ai/flashinfer include/flashinfer/norm.cuh"),
    ("kn_entry_1c_sbhd_uncached", "void aiter::kn_entry_1c_sbhd_uncached<aiter::OpUncachedFwd, 0, true, false, true, true, 1, __hip_bfloat16, float>(__hip_bfloat16*)", "rotary", "ROCm/aiter csrc/kernels/rope/rope_common.h"),
    ("rotary_embedding_kernel", "void vllm::rotary_embedding_kernel<c10::BFloat16, float, false>(long const*)", "rotary", "flashinfer-ai/flashinfer include/flashinfer/pos_enc.cuh"),
    ("_rope_kernel_sbhd_fwd", "", "rotary", "flashinfer-ai/flashinfer include/flashinfer/pos_enc.cuh"),
    ("act_and_mul_kernel", "void aiter::act_and_mul_kernel<__hip_bfloat16, &aiter::silu_kernel<__hip_bfloat16>>(__hip_bfloat16*)", "activation", "flashinfer-ai/flashinfer include/flashinfer/activation.cuh"),
    ("scaled_act_and_mul_kernel", "void aiter::scaled_act_and_mul_kernel<__hip_bfloat16>(int)", "activation", "flashinfer-ai/flashinfer include/flashinfer/activation.cuh"),
    ("_act_mul_and_dynamic_fp8_group_quant_kernel", "", "activation", "ROCm/aiter csrc/kernels/activation_kernels.cu"),
    ("triton_poi_fused_mul_silu_slice_0", "triton_poi_fused_mul_silu_slice_0.kd", "compiled", "pytorch/pytorch torch/_inductor/codegen/triton.py"),
    ("dynamic_per_token_scaled_quant_kernel", "void aiter::dynamic_per_token_scaled_quant_kernel<__hip_fp8_e4m3_fnuz, __hip_bfloat16>(int)", "quantization", "sgl-project/sglang sgl-kernel/csrc/gemm/per_token_group_quant_8bit.cu"),
    ("dynamic_per_group_scaled_quant_kernel", "void aiter::dynamic_per_group_scaled_quant_kernel<__hip_bfloat16>(int)", "quantization", "ROCm/aiter csrc/kernels/quant_kernels.cu"),
    ("dynamic_per_token_scaled_fp8_quant_kernel_strided", "", "quantization", "sgl-project/sglang sgl-kernel/csrc/gemm/per_token_group_quant_8bit.cu"),
    ("_dynamic_mxfp4_quant_kernel", "", "quantization", "ROCm/aiter csrc/kernels/quant_kernels.cu"),
    ("AMax_Ti_B_To_S_W_256_C_4", "", "quantization", "ROCm/aiter csrc/kernels/quant_kernels.cu"),
    ("concat_and_cache_mla_kernel", "void vllm::concat_and_cache_mla_kernel<__hip_bfloat16, unsigned char, (vllm::Fp8KVCacheDataType)1>(__hip_bfloat16*)", "kv_cache", "ROCm/aiter csrc/kernels/cache_kernels.cu"),
    ("indexer_k_quant_and_cache_kernel", "void aiter::indexer_k_quant_and_cache_kernel<__hip_bfloat16, __hip_fp8_e4m3, 128>(int)", "kv_cache", "ROCm/aiter csrc/kernels/cache_kernels.cu"),
    ("reshape_and_cache_flash_kernel", "void vllm::reshape_and_cache_flash_kernel<__hip_bfloat16, __hip_bfloat16, (vllm::Fp8KVCacheDataType)0>(int)", "kv_cache", "ROCm/aiter csrc/kernels/cache_kernels.cu"),
    ("_compute_slot_mappings_kernel", "_compute_slot_mappings_kernel.kd", "kv_cache", "vllm-project/vllm vllm/v1/attention/backends/flashinfer.py"),
    ("_gather_block_tables_kernel", "_gather_block_tables_kernel.kd", "kv_cache", "vllm-project/vllm vllm/v1/attention/backends/flashinfer.py"),
    ("greedy_sample_kernel", "void aiter::greedy_sample_kernel<float>(int)", "sampling", "ROCm/aiter csrc/kernels/sample_kernels.cu"),
    ("__amd_rocclr_copyBuffer", "__amd_rocclr_copyBuffer.kd", "memory", "ROCm/clr rocclr/device/rocm/rocblit.hpp"),
    ("__amd_rocclr_fillBufferAligned", "__amd_rocclr_fillBufferAligned.kd", "memory", "ROCm/clr rocclr/device/rocm/rocblit.hpp"),
    ("__amd_rocclr_copyBufferRectAligned", "", "memory", "ROCm/clr rocclr/device/rocm/rocblit.hpp"),
    ("Memcpy HtoD ", "Memcpy HtoD (Host -> Device)", "memory", "pytorch/kineto libkineto/src/CuptiActivity.cpp"),
    ("Memcpy DtoD ", "Memcpy DtoD (Device -> Device)", "memory", "pytorch/kineto libkineto/src/CuptiActivity.cpp"),
    ("Memset ", "Memset (Device)", "memory", "pytorch/kineto libkineto/src/CuptiActivity.cpp"),
    ("MEMORY_COPY_HOST_TO_DEVICE", "", "memory", "ROCm/clr rocclr/device/rocm/rocblit.hpp"),
    ("elementwise_kernel_manual_unroll", "void at::native::elementwise_kernel_manual_unroll<128, 4, at::native::gpu_kernel_impl<at::native::direct_copy_kernel_cuda(at::TensorIteratorBase&)::{lambda()#3}::operator()() const::{lambda()#4}::operator()() const::{lambda(long)#1}>(at::TensorIteratorBase&)>(int) [clone .kd]", "memory", "pytorch/pytorch aten/src/ATen/native/cuda/Copy.cu"),
    ("vectorized_templated_elementwise_kernel", "void at::native::vectorized_templated_elementwise_kernel<4, at::native::CUDAFunctor_add<float>>(int)", "elementwise", "pytorch/pytorch aten/src/ATen/native/cuda/CUDALoops.cuh"),
    ("elementwise_kernel_manual_unroll", "void at::native::elementwise_kernel_manual_unroll<128, 8, at::native::gpu_kernel_impl_nocast<at::native::CUDAFunctorOnSelf_add<int>>>(int)", "elementwise", "pytorch/pytorch aten/src/ATen/native/cuda/CUDALoops.cuh"),
    ("trampoline_kernel", "void rocprim::ROCPRIM_400200_NS::detail::trampoline_kernel<rocprim::ROCPRIM_400200_NS::detail::wrapped_scan_config<>>(int)", "elementwise", ""),
    ("operator_contiguous_kernel", "void aiter::operator_contiguous_kernel<__hip_bfloat16>(int)", "elementwise", ""),
    ("triton_poi_fused__to_copy_cat_clamp_mul_reciprocal_view_0", "triton_poi_fused__to_copy_cat_clamp_mul_reciprocal_view_0.kd", "compiled", "pytorch/pytorch torch/_inductor/codegen/triton.py"),
];

#[derive(Deserialize)]
struct RulesFile {
    rules: Vec<RuleEntry>,
}

#[derive(Deserialize)]
struct RuleEntry {
    category: String,
    pattern: String,
}

/// The shipped rules, compiled in file order.
fn shipped_rules() -> Vec<(String, Regex)> {
    let text = std::fs::read_to_string(root().join("conf/kernels.yaml")).unwrap();
    let file: RulesFile = serde_yaml_ng::from_str(&text).unwrap();
    file.rules
        .into_iter()
        .map(|r| (r.category, Regex::new(&r.pattern).unwrap()))
        .collect()
}

fn demangled_or_short<'a>(short: &'a str, demangled: &'a str) -> &'a str {
    if demangled.is_empty() {
        short
    } else {
        demangled
    }
}

#[test]
fn real_kernel_names_get_their_category() {
    let rules = Rules::builtin().unwrap();
    let mut wrong = Vec::new();
    for (short, demangled, want, source) in NAMES {
        let got = rules.classify(short, demangled_or_short(short, demangled));
        if got != *want {
            wrong.push(format!("{short} ({source}): got {got}, want {want}"));
        }
    }
    assert!(wrong.is_empty(), "misclassified:\n{}", wrong.join("\n"));
}

#[test]
fn every_rule_is_exercised_by_a_real_name() {
    let rules = shipped_rules();
    let mut hit = BTreeSet::new();
    for (short, demangled, _, _) in NAMES {
        let demangled = demangled_or_short(short, demangled);
        if let Some(index) = rules
            .iter()
            .position(|(_, re)| re.is_match(short) || re.is_match(demangled))
        {
            hit.insert(index);
        }
    }
    let unexercised: Vec<String> = (0..rules.len())
        .filter(|i| !hit.contains(i))
        .map(|i| format!("rule {} ({})", i + 1, rules[i].0))
        .collect();
    assert!(
        unexercised.is_empty(),
        "no name in the table reaches: {unexercised:?}"
    );
}

#[test]
fn rules_file_parses_and_every_rule_cites_its_source() {
    let path = root().join("conf/kernels.yaml");
    let loaded = Rules::load(&path).unwrap();
    assert_eq!(loaded.hash, Rules::builtin().unwrap().hash);
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    // `owner/repo` of a public project, or one of our fixtures.
    let cites = Regex::new(r"source:\s*\S*[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+").unwrap();
    let mut rules_seen = 0;
    let mut categories = BTreeSet::new();
    for (n, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        if !trimmed.starts_with("- {category:") {
            continue;
        }
        rules_seen += 1;
        let comment: Vec<&str> = lines[..n]
            .iter()
            .rev()
            .take_while(|l| l.trim_start().starts_with('#'))
            .copied()
            .collect();
        assert!(
            comment.iter().any(|l| cites.is_match(l)),
            "conf/kernels.yaml:{}: rule has no `# source: owner/repo path` comment right above it",
            n + 1
        );
        let category = trimmed["- {category:".len()..]
            .split(',')
            .next()
            .unwrap()
            .trim();
        categories.insert(category.to_string());
    }
    assert_eq!(rules_seen, shipped_rules().len());
    // Every category except `other` has at least one rule.
    for category in CATEGORIES.iter().filter(|c| **c != "other") {
        assert!(categories.contains(*category), "no rule for {category}");
    }
}

/// Distinct (short, demangled) kernel names of an nsys export.
pub(crate) fn kernel_names(file: &str) -> Vec<(String, String)> {
    let conn = Connection::open(fixture(file)).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT DISTINCT s.value, d.value FROM CUPTI_ACTIVITY_KIND_KERNEL k \
             JOIN StringIds s ON s.id = k.shortName JOIN StringIds d ON d.id = k.demangledName",
        )
        .unwrap();
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
    rows.map(Result::unwrap).collect()
}

#[test]
fn fixture_kernels_leave_only_the_cudnn_reduction_unattributed() {
    let rules = Rules::builtin().unwrap();
    let mut other = BTreeMap::new();
    for file in [
        "nsys/mini.sqlite",
        "nsys/mini_range.sqlite",
        "nsys/tp2.sqlite",
        "nsys/hf_capture.sqlite",
    ] {
        for (short, demangled) in kernel_names(file) {
            if rules.classify(&short, &demangled) == "other" {
                other.insert(short, file);
            }
        }
    }
    // cuDNN's SDPA statistics reduction: a name that says neither attention nor anything else.
    let expected: Vec<&str> = vec!["lean_reduction_kernel"];
    assert_eq!(
        other.keys().map(String::as_str).collect::<Vec<_>>(),
        expected
    );
}
