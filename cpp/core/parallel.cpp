#include "parallel.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

// fork() exists on POSIX systems only; everything else here is standard C++.
#if defined(__unix__) || defined(__APPLE__)
#include <pthread.h>
#define TWOLAYER_HAVE_FORK 1
#endif

#ifdef TWOLAYER_POOL_TEST_HOOKS
// Only tests/cpp/test_parallel.cpp defines this: it compiles its own copy of this file with the
// definition set, to hold a worker asleep or make it wake late, or to hold the caller while it sets
// a call up. The library never calls these.
namespace twolayer::pool_test {
void worker_woke(int worker, const std::function<bool()>& call_is_current,
                 const std::function<bool()>& pool_is_stopping);
void call_described();  // by the caller, between a call's description and the ticket that opens it
void worker_falling_asleep(int worker, const std::function<bool()>& pool_is_stopping);
}  // namespace twolayer::pool_test
#endif

namespace twolayer {
namespace {

thread_local bool in_parallel_region = false;

using Body = std::function<void(std::size_t, std::size_t, int)>;
using Clock = std::chrono::steady_clock;

void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Polls ready() spinning for `spin`, then yielding the CPU to any other runnable thread until
// `spin + yield` has passed; true as soon as ready() is.
template <class Ready>
bool poll(Ready&& ready, std::chrono::microseconds spin, std::chrono::microseconds yield) {
  const auto start = Clock::now();
  while (!ready()) {
    const auto waited = Clock::now() - start;
    if (waited > spin + yield) return false;
    if (waited > spin) {
      std::this_thread::yield();
    } else {
      for (int i = 0; i < 64; ++i) cpu_relax();
    }
  }
  return true;
}

// How long threads poll before they sleep. A sleeping thread takes some 30-60 µs to wake here
// (2-core VM); a region of the gradient at batch 100 takes 30-50 µs.
// - Workers waiting for the next call poll briefly. A worker that sleeps only comes late, and a
//   late worker costs nothing but its help: the caller does the chunks itself. Polling long takes
//   the CPU from the threads that do work, in this process or another: the old pool's 200 µs spin
//   (with a caller that waited for every worker) made a gradient at batch 100 take 3.1 ms on
//   2 threads against 0.23 ms on one while other processes kept the machine busy. Measured with
//   the machine so loaded (load average 12-18 on 2 cores), polling 0, 50+50 (spin + yield) or
//   200 µs all gave 225-245 µs on 2 threads, as on one; in one quieter moment only 50+50 let
//   the second thread help (138 µs against 226 µs), hence these lengths.
// - The caller, once every chunk is claimed, waits only for chunks that running threads are
//   finishing, about a chunk's time, so it polls longer, yielding to any thread that needs its CPU.
constexpr std::chrono::microseconds kWorkerSpin{50}, kWorkerYield{50};
constexpr std::chrono::microseconds kCallerSpin{100}, kCallerYield{400};

class Pool {
 public:
  // Starts threads - 1 workers, or as many as the system allows: when it refuses one (a process
  // or memory limit), the pool keeps those it has and parallel_for shares the chunks among them.
  // Letting the exception out instead would destroy the condition variables under the waiting
  // workers (a hang) and then joinable threads (std::terminate).
  Pool(int threads, unsigned forks)
      : forks_(forks), requested_(threads), sleepers_(new Sleeper[threads]) {
    for (int w = 1; w < threads; ++w) {
      try {
        threads_.emplace_back([this, w] { work(w); });
      } catch (const std::exception&) {
        break;
      }
    }
  }

  ~Pool() {
    stopping_.store(true);
    for (std::size_t w = 1; w <= threads_.size(); ++w) wake(static_cast<int>(w));
    for (auto& t : threads_) t.join();
  }

  int requested() const { return requested_; }
  unsigned forks() const { return forks_; }

  // Returns false without running anything when another caller holds the pool.
  bool try_run(std::size_t n, std::size_t grain, int workers, const Body& body) {
    std::unique_lock<std::mutex> busy(busy_, std::try_to_lock);
    const std::size_t chunks = (n + grain - 1) / grain;
    if (!busy.owns_lock() || chunks > kMaxChunks) return false;
    // Closed first: a worker still in the last call holds that call's ticket, and without this
    // its compare-and-swap could claim a chunk against the new chunk count below (running a chunk
    // of this call twice and counting it past `chunks`: a caller that waited for ever, seen in CI).
    const std::uint32_t call = ++calls_;
    ticket_.store((std::uint64_t{call} << 32) | kClosed);
    // The call's description, published to the workers by the ticket's store below.
    body_ = &body;
    n_ = n;
    grain_ = grain;
    chunks_.store(static_cast<std::uint32_t>(chunks), std::memory_order_release);
    const int helpers = static_cast<int>(
        std::min<std::size_t>({static_cast<std::size_t>(workers), chunks, threads_.size() + 1}));
    helpers_.store(helpers, std::memory_order_relaxed);
    done_.store(0, std::memory_order_relaxed);
#ifdef TWOLAYER_POOL_TEST_HOOKS
    pool_test::call_described();
#endif
    ticket_.store(std::uint64_t{call} << 32);
    for (int w = 1; w < helpers; ++w)
      if (sleepers_[w].asleep.load()) wake_for_call(w);
    run_chunks(0, call);
    wait_until_done(static_cast<std::uint32_t>(chunks));
    body_ = nullptr;
    return true;
  }

 private:
  // The ticket packs the call's number (high 32 bits) and its next unclaimed chunk (low 32 bits),
  // so that claiming a chunk and checking that it belongs to the call one woke for are one
  // compare-and-swap: a worker that comes late can never claim a chunk of a later call.
  static constexpr std::uint64_t kMaxChunks = std::numeric_limits<std::uint32_t>::max();
  // A ticket's chunk index while its call is being set up: no call has that many chunks.
  static constexpr std::uint64_t kClosed = kMaxChunks;
  static std::uint32_t call_of(std::uint64_t ticket) {
    return static_cast<std::uint32_t>(ticket >> 32);
  }
  static std::uint32_t chunk_of(std::uint64_t ticket) { return static_cast<std::uint32_t>(ticket); }

  // Runs chunks of call `call` until none is left unclaimed, or until that call is over. The call's
  // description is read only once a chunk is claimed: the call cannot end before that chunk is
  // done, so the caller cannot be rewriting it for the next one.
  void run_chunks(int worker, std::uint32_t call) {
    in_parallel_region = true;
    std::uint64_t ticket = ticket_.load(std::memory_order_acquire);
    while (call_of(ticket) == call && chunk_of(ticket) < chunks_.load(std::memory_order_acquire)) {
      if (!ticket_.compare_exchange_weak(ticket, ticket + 1, std::memory_order_acq_rel,
                                         std::memory_order_acquire))
        continue;
      const std::size_t begin = chunk_of(ticket) * grain_;
      (*body_)(begin, std::min(n_, begin + grain_), worker);
      const std::uint32_t chunks = chunks_.load(std::memory_order_relaxed);
      if (done_.fetch_add(1) + 1 == chunks && worker != 0 && caller_asleep_.load()) {
        std::lock_guard<std::mutex> lock(done_mutex_);  // so that the caller is inside wait()
        done_cv_.notify_one();
      }
      ticket = ticket_.load(std::memory_order_acquire);
    }
    in_parallel_region = false;
  }

  // The call ends when all its chunks are done, whoever ran them: never waits for a worker that
  // has not claimed one.
  void wait_until_done(std::uint32_t chunks) {
    auto done = [&] { return done_.load(std::memory_order_acquire) == chunks; };
    if (poll(done, kCallerSpin, kCallerYield)) return;
    std::unique_lock<std::mutex> lock(done_mutex_);
    caller_asleep_.store(true);
    done_cv_.wait(lock, [&] { return done_.load() == chunks; });
    caller_asleep_.store(false);
  }

  void work(int worker) {
    std::uint32_t seen = 0;  // the last call this worker looked at
    for (;;) {
      const std::uint64_t ticket = wait_for_call(worker, seen);
      if (stopping_.load()) return;
      seen = call_of(ticket);
#ifdef TWOLAYER_POOL_TEST_HOOKS
      pool_test::worker_woke(
          worker, [&] { return call_of(ticket_.load()) == seen && !stopping_.load(); },
          [&] { return stopping_.load(); });
#endif
      // Read before a chunk is claimed, so maybe already the next call's: then the claim fails.
      if (worker < helpers_.load(std::memory_order_relaxed)) run_chunks(worker, seen);
    }
  }

  // The ticket of a call after `seen`, once that call is open (or any ticket once the pool is
  // stopping). A worker that took a closed ticket would find no chunk, count the call as seen and
  // miss all of it.
  std::uint64_t wait_for_call(int worker, std::uint32_t seen) {
    std::uint64_t ticket = 0;
    auto ready = [&] {
      ticket = ticket_.load(std::memory_order_acquire);
      return (call_of(ticket) != seen && chunk_of(ticket) != kClosed) ||
             stopping_.load(std::memory_order_relaxed);
    };
    if (poll(ready, kWorkerSpin, kWorkerYield)) return ticket;
    Sleeper& s = sleepers_[worker];
    std::unique_lock<std::mutex> lock(s.mutex);
    s.asleep.store(true);  // before ready() looks again: a caller then sees it and wakes us
#ifdef TWOLAYER_POOL_TEST_HOOKS
    pool_test::worker_falling_asleep(worker, [&] { return stopping_.load(); });
#endif
    s.wake.wait(lock, ready);
    s.asleep.store(false);
    return ticket;
  }

  void wake(int worker) {
    Sleeper& s = sleepers_[worker];
    {
      std::lock_guard<std::mutex> lock(s.mutex);
    }  // the worker is inside wait(), or has not yet looked
    s.wake.notify_one();
  }

  // As wake(), but never waits for the worker: one that holds its mutex (falling asleep, or just
  // woken) may be off the CPU for a time slice. Notified unlocked, it can miss the notify only if
  // it has already looked for a call and not yet started to wait; it then misses this call only,
  // whose chunks the others run.
  void wake_for_call(int worker) {
    Sleeper& s = sleepers_[worker];
    if (s.mutex.try_lock()) s.mutex.unlock();  // then as in wake()
    s.wake.notify_one();
  }

  // One per worker, so that a call wakes only the workers it can use.
  struct alignas(64) Sleeper {
    std::mutex mutex;
    std::condition_variable wake;
    std::atomic<bool> asleep{false};
  };

  const unsigned forks_;  // the process's fork count when the pool was made
  const int requested_;
  std::unique_ptr<Sleeper[]> sleepers_;
  std::vector<std::thread> threads_;
  std::mutex busy_;          // one call at a time
  std::uint32_t calls_ = 0;  // the caller's count of calls; workers read it from the ticket
  std::atomic<std::uint64_t> ticket_{0};
  // The call's description: written by the caller before it stores the ticket. The atomic parts
  // are read before a claim (maybe a later call's values, when the claim then fails).
  const Body* body_ = nullptr;
  std::size_t n_ = 0, grain_ = 1;
  std::atomic<std::uint32_t> chunks_{0};
  std::atomic<int> helpers_{0};                     // the workers [0, helpers) take part
  alignas(64) std::atomic<std::uint32_t> done_{0};  // chunks finished
  std::atomic<bool> caller_asleep_{false};
  std::mutex done_mutex_;
  std::condition_variable done_cv_;
  std::atomic<bool> stopping_{false};
};

int default_threads() {
  unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(hw);
}

std::mutex config_mutex;
int configured_threads = 0;  // 0: not chosen yet
unsigned forks = 0;  // how many fork()s made this process: the pool of another process is no use

#ifdef TWOLAYER_HAVE_FORK
// A fork() while another thread holds config_mutex would leave it locked for ever in the child:
// the forking thread takes it first, and both sides release it.
void lock_config() { config_mutex.lock(); }
void unlock_config() { config_mutex.unlock(); }
void unlock_config_in_child() {
  ++forks;
  config_mutex.unlock();
}
const int fork_guard = pthread_atfork(lock_config, unlock_config, unlock_config_in_child);
#endif

// Never destroyed: at exit the workers simply end with the process, and a forked child must not
// try to join threads it does not have.
std::shared_ptr<Pool>& pool = *new std::shared_ptr<Pool>();

// The pool for the current thread count, (re)built lazily. A pool replaced while another caller
// runs on it lives until that caller lets go. After fork() the child has none of the parent's
// threads, so the inherited pool is abandoned (leaked, never joined) and a fresh one is built.
std::shared_ptr<Pool> current_pool() {
  std::lock_guard<std::mutex> lock(config_mutex);
  if (configured_threads == 0) configured_threads = default_threads();
  if (pool && pool->forks() != forks) new std::shared_ptr<Pool>(std::move(pool));
  if (!pool || pool->requested() != configured_threads)
    pool = std::make_shared<Pool>(configured_threads, forks);
  return pool;
}

}  // namespace

int num_threads() {
  std::lock_guard<std::mutex> lock(config_mutex);
  return configured_threads == 0 ? default_threads() : configured_threads;
}

void set_num_threads(int n) {
  if (n < 1) throw std::invalid_argument("number of threads must be at least 1");
  std::lock_guard<std::mutex> lock(config_mutex);
  configured_threads = n;
}

void parallel_for(std::size_t n, std::size_t grain, int workers, const Body& body) {
  grain = std::max<std::size_t>(grain, 1);
  if (n == 0) return;
  if (n > grain && workers > 1 && !in_parallel_region && num_threads() > 1 &&
      current_pool()->try_run(n, grain, workers, body))
    return;
  for (std::size_t begin = 0; begin < n; begin += grain) body(begin, std::min(n, begin + grain), 0);
}

}  // namespace twolayer
