// A small persistent thread pool for the core's data-parallel loops.
#pragma once

#include <cstddef>
#include <functional>

namespace twolayer {

// Number of threads parallel_for may use (the calling thread included); at least 1.
int num_threads();
void set_num_threads(int n);

// Calls body(begin, end, worker) over consecutive chunks of [0, n) of at most `grain` items, on up
// to `workers` threads; `worker` in [0, workers) identifies the thread, so per-worker scratch sized
// by the caller needs no locking. The calling thread takes part. Runs serially (worker 0) when
// nested, when the pool is busy with another caller, or when there is a single chunk. body must not
// throw.
void parallel_for(std::size_t n, std::size_t grain, int workers,
                  const std::function<void(std::size_t, std::size_t, int)>& body);

}  // namespace twolayer
