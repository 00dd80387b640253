// CUDA graphs: a stretch of work queued on the backend's stream is captured once (nothing runs
// while it is captured) and then replayed with one launch. The capture's allocations come from a
// private pool of the caching allocator (allocator.h), so the addresses the graph uses stay its
// own until the graph is destroyed. The capture state is process-wide and unsynchronised: captures
// begin on the GPU thread only (handles.h), which beginCapture checks. Host code only.
#pragma once
#include <cstdint>

namespace cr::cuda {

// True while a capture is under way on the backend's stream (false when CUDA was never used).
bool capturing();
// Throws "<what> cannot run while a CUDA graph is being captured: <why>" during a capture.
void refuseDuringCapture(const char* what, const char* why);

// Starts capturing the stream's work; returns the new graph's id. One capture at a time.
int64_t beginCapture();
// Ends the capture and instantiates the graph, ready to replay. When the capture failed (an
// operation that cannot be captured invalidates it), the graph is discarded and the error thrown.
void endCapture(int64_t graph);
// Ends a capture that its caller gave up on (an exception in the captured code) and discards it.
void abortCapture(int64_t graph);
// Queues one run of the graph on the stream.
void replayGraph(int64_t graph);
// Frees the graph and retires its memory pool. Unknown ids are ignored.
void destroyGraph(int64_t graph);

}  // namespace cr::cuda
