use super::*;

const T: i64 = (7 << 24) | 7;

fn span(thread: i64, start: i64, end: i64, kind: CaptureApi) -> ApiSpan {
    ApiSpan {
        thread,
        start,
        end,
        kind,
    }
}

fn launch(start: i64) -> ApiSpan {
    span(T, start, start + 5, CaptureApi::Launch)
}

/// A capture on `T` from `begin` to `end` with `n` launches 10 ns apart.
fn capture(begin: i64, n: i64, end: i64) -> Vec<ApiSpan> {
    let mut spans = vec![span(T, begin, begin + 2, CaptureApi::Begin)];
    spans.extend((0..n).map(|i| launch(begin + 10 + 10 * i)));
    spans.push(span(T, end, end + 3, CaptureApi::End));
    spans
}

fn replay(start: i64, streams: &[i64], first_kernel: usize) -> Replay {
    Replay {
        thread: T,
        start,
        // Listed out of order: the matcher orders by start.
        ops: streams
            .iter()
            .enumerate()
            .rev()
            .map(|(i, &stream)| Op {
                start: start + 100 + i as i64,
                stream,
                kernel: (i != 1).then_some(first_kernel + i),
            })
            .collect(),
    }
}

#[test]
fn names_the_capture_apis() {
    for name in [
        "cudaLaunchKernel",
        "cudaLaunchKernelExC",
        "cuLaunchKernelEx",
    ] {
        assert_eq!(capture_api(name), Some(CaptureApi::Launch), "{name}");
    }
    for name in [
        "cuLaunchKernel",
        "cudaLaunchCooperativeKernel",
        "cudaMemcpyAsync",
        "cudaMemcpy2DAsync_v3020",
        "cudaMemsetAsync_ptsz",
        "cuMemsetD32Async",
        "hipLaunchKernel",
        "hipExtModuleLaunchKernel",
        "hipModuleLaunchKernel",
        "hipMemcpyAsync",
        "hipMemsetD32Async",
    ] {
        assert_eq!(capture_api(name), Some(CaptureApi::Launch), "{name}");
    }
    assert_eq!(
        capture_api("cudaStreamBeginCapture_v10000"),
        Some(CaptureApi::Begin)
    );
    assert_eq!(capture_api("cudaStreamEndCapture"), Some(CaptureApi::End));
    assert_eq!(
        capture_api("hipStreamBeginCapture"),
        Some(CaptureApi::Begin)
    );
    assert_eq!(capture_api("hipStreamEndCapture"), Some(CaptureApi::End));
    for name in [
        "cudaMemcpy",
        "cudaGraphLaunch",
        "cudaStreamIsCapturing",
        "hipMemcpyWithStream",
        "hipGraphLaunch",
        "INVALID",
    ] {
        assert_eq!(capture_api(name), None, "{name}");
    }
    assert!(is_graph_launch("cudaGraphLaunch") && !is_graph_launch("cudaLaunchKernel"));
    assert!(is_graph_launch("hipGraphLaunch") && !is_graph_launch("hipLaunchKernel"));
}

#[test]
fn captures_pair_begin_and_end_and_drop_nested_driver_calls() {
    let mut spans = capture(1000, 3, 2000);
    // A driver launch inside the runtime launch at 1010..1015: the same node.
    spans.push(span(T, 1011, 1014, CaptureApi::Launch));
    // Outside any capture, and an unended capture on another thread.
    spans.push(launch(500));
    spans.push(span(T + 1, 1000, 1001, CaptureApi::Begin));
    spans.push(span(T + 1, 1100, 1101, CaptureApi::Launch));
    spans.reverse();
    assert_eq!(
        captures(spans),
        vec![Capture {
            thread: T,
            begin: 1000,
            end: 2003,
            launches: vec![1010, 1020, 1030],
        }]
    );
}

#[test]
fn replays_take_the_latest_earlier_capture_of_their_op_count() {
    let mut spans = capture(1000, 3, 2000);
    spans.extend(capture(3000, 4, 4000));
    spans.extend(capture(5000, 3, 6000));
    let caps = captures(spans);
    let nodes = |capture: usize| -> Vec<i64> {
        let first: usize = caps[..capture].iter().map(|c| c.launches.len()).sum();
        (first..first + caps[capture].launches.len())
            .map(|i| i as i64 + 1)
            .collect()
    };
    let matched = match_replays(
        &caps,
        vec![
            replay(2500, &[7, 7, 7], 0),
            replay(4500, &[7, 7, 7, 7], 10),
            replay(6500, &[7, 7, 7], 20),
        ],
    );
    assert_eq!(matched.nodes.len(), 10);
    assert_eq!(matched.nodes[3].start, 3010);
    assert_eq!(matched.nodes[3].thread, Some(T));
    let node = |kernel: usize| matched.kernels[&kernel];
    // The first replay: capture 0's nodes in order (op 1 is a memop).
    assert_eq!((node(0), node(2)), (Ok(nodes(0)[0]), Ok(nodes(0)[2])));
    assert!(!matched.kernels.contains_key(&1));
    assert_eq!(node(13), Ok(nodes(1)[3]));
    // Capture 2 is later than capture 0, also of three launches.
    assert_eq!(node(20), Ok(nodes(2)[0]));
}

#[test]
fn replays_without_a_capture_of_their_count_or_on_many_streams_match_nothing() {
    let caps = captures(capture(1000, 3, 2000));
    let matched = match_replays(
        &caps,
        vec![
            // Four ops: no capture of four launches.
            replay(2500, &[7, 7, 7, 7], 0),
            // Before the capture ended.
            replay(1500, &[7, 7, 7], 10),
            // Three ops, but on two streams.
            replay(3500, &[7, 8, 7], 20),
            // Another process.
            Replay {
                thread: T + (1 << 24),
                ..replay(3500, &[7, 7, 7], 30)
            },
        ],
    );
    assert_eq!(matched.kernels[&0], Err(GraphMiss::NoCaptureMatch));
    assert_eq!(matched.kernels[&3], Err(GraphMiss::NoCaptureMatch));
    assert_eq!(matched.kernels[&10], Err(GraphMiss::NoCaptureMatch));
    assert_eq!(matched.kernels[&20], Err(GraphMiss::MultiStreamReplay));
    assert_eq!(matched.kernels[&32], Err(GraphMiss::NoCaptureMatch));
    assert_eq!(matched.kernels.len(), 9);
}
