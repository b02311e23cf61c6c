// The thread pool: every chunk runs exactly once, results do not depend on which thread ran what,
// and a call never waits for a worker that is not running. CMake builds this test with its own
// copy of parallel.cpp compiled with TWOLAYER_POOL_TEST_HOOKS, through which the test holds a
// worker asleep or makes it wake late (the library itself has no such hook). CI also runs it under
// ThreadSanitizer (.ci/steps/*-tsan.sh).
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <thread>
#include <vector>

#include "check.hpp"
#include "net.hpp"
#include "parallel.hpp"

namespace {

using namespace std::chrono_literals;

using Clock = std::chrono::steady_clock;

enum class Mode { normal, hold, late, jitter, stale, slow_set_up, hold_falling_asleep };
std::atomic<Mode> mode{Mode::normal};
std::atomic<int> hook_calls{0};  // how often worker 1 entered the hook in the current mode
std::atomic<bool> held{false};   // worker 1 is being held right now
// Mode::stale: worker 1, woken for a call, waits in its hook until the caller is setting up a later
// call, and then goes on to claim chunks of the call it woke for, while the caller waits a moment.
std::atomic<bool> stale_waiting{false};  // worker 1 waits in its hook
std::atomic<bool> setting_up{false};     // the caller waits between a description and its ticket
std::atomic<int> stale_releases{0};      // how often worker 1 went on during a later call's set-up
std::atomic<int> set_ups{0};             // the caller's calls of its hook
std::atomic<int> told_during_set_up{0};  // Mode::slow_set_up: worker 1 woke for an unopened call

// When the current call started (Clock ticks; 0: none running). One call that has not returned in
// kCallLimit fails the test instead of blocking CTest, and so does the whole test after kTestLimit.
std::atomic<Clock::rep> call_started{0};
constexpr std::chrono::seconds kCallLimit{5}, kTestLimit{300};

void start_watchdog() {
  std::thread([] {
    const auto test_start = Clock::now();
    for (;;) {
      std::this_thread::sleep_for(50ms);
      const Clock::rep started = call_started;
      const auto now = Clock::now();
      if (started != 0 && now - Clock::time_point(Clock::duration(started)) > kCallLimit) {
        std::fprintf(stderr, "test_parallel: a call has not returned after %llds\n",
                     static_cast<long long>(kCallLimit.count()));
        std::_Exit(2);
      }
      if (now - test_start > kTestLimit) {
        std::fprintf(stderr, "test_parallel: still running after %llds\n",
                     static_cast<long long>(kTestLimit.count()));
        std::_Exit(2);
      }
    }
  }).detach();
}

// Marks one call for the watchdog while it exists.
struct WatchedCall {
  WatchedCall() { call_started = Clock::now().time_since_epoch().count(); }
  ~WatchedCall() { call_started = 0; }
  WatchedCall(const WatchedCall&) = delete;
  WatchedCall& operator=(const WatchedCall&) = delete;
};

// Waits until ready() or until `limit` has passed; ready()'s last answer.
template <class Ready>
bool wait_for(Ready&& ready, std::chrono::microseconds limit) {
  const auto start = Clock::now();
  while (!ready()) {
    if (Clock::now() - start > limit) return false;
    std::this_thread::sleep_for(10us);
  }
  return true;
}

// Runs call(i) for i = 0, 1, ... at least `calls` times, and on until enough(), for 30 s at most:
// a test that needs an interleaving to happen gets it on a loaded machine too, where it happens
// less often (in CI, with another job on each CPU, a run saw none in its first 500 calls).
template <class Enough, class Call>
void calls_until(int calls, Enough&& enough, Call&& call) {
  const auto start = Clock::now();
  for (int i = 0; i < calls || (!enough() && Clock::now() - start < 30s); ++i) call(i);
}

void set_mode(Mode m) {
  hook_calls = 0;
  mode = m;
}

// Each item's visits, by the thread count and chunking of one call.
void check_every_item_once(std::size_t n, std::size_t grain, int workers, int threads) {
  std::vector<std::atomic<int>> visits(n);
  std::atomic<bool> bad_chunk{false};
  twolayer::parallel_for(n, grain, workers, [&](std::size_t begin, std::size_t end, int w) {
    if (begin % grain != 0 || end != std::min(n, begin + grain) || w < 0 || w >= workers ||
        w >= threads)
      bad_chunk = true;
    for (std::size_t i = begin; i < end; ++i) visits[i].fetch_add(1);
  });
  CHECK(!bad_chunk);
  for (auto& v : visits) CHECK(v.load() == 1);
}

void every_item_once() {
  for (int threads : {1, 2, 3, 5}) {
    twolayer::set_num_threads(threads);
    for (std::size_t n : {1, 2, 7, 64, 1000})
      for (std::size_t grain : {1, 3, 64})
        for (int workers : {1, 2, 4, 8})
          check_every_item_once(n, grain, workers, std::min(threads, workers));
  }
}

// Per-chunk sums added in chunk order: the same bits whichever thread ran each chunk.
double chunked_sum(std::size_t n, int workers) {
  const std::size_t grain = 7;
  std::vector<double> sums((n + grain - 1) / grain);
  twolayer::parallel_for(n, grain, workers, [&](std::size_t begin, std::size_t end, int) {
    double s = 0;
    for (std::size_t i = begin; i < end; ++i) s += 1.0 / static_cast<double>(i + 1);
    sums[begin / grain] = s;
  });
  double total = 0;
  for (double s : sums) total += s;
  return total;
}

// Many short regions, while another thread changes the thread count and a third calls too.
void short_regions_with_resizes() {
  twolayer::set_num_threads(1);
  const double expected = chunked_sum(100, 1);
  std::atomic<bool> stop{false};
  std::thread resizer([&] {
    for (int i = 0; !stop; ++i) {
      twolayer::set_num_threads(1 + i % 4);
      std::this_thread::sleep_for(200us);
    }
  });
  std::atomic<int> wrong{0};
  auto caller = [&] {
    for (int i = 0; i < 20000; ++i)
      if (chunked_sum(100, 4) != expected) ++wrong;
  };
  std::thread other(caller);
  caller();
  other.join();
  stop = true;
  resizer.join();
  CHECK(wrong == 0);
}

// Workers that wake late: a late worker finds its call over and must not claim the next call's
// chunks; it never runs one, since it is late for every call.
void late_workers_never_run_chunks() {
  twolayer::set_num_threads(2);
  set_mode(Mode::late);
  std::atomic<int> by_late_worker{0};
  int wrong = 0;
  for (int call = 0; call < 2000; ++call) {
    std::vector<int> visits(64, 0);
    twolayer::parallel_for(64, 4, 2, [&](std::size_t begin, std::size_t end, int w) {
      if (w == 1) ++by_late_worker;
      for (std::size_t i = begin; i < end; ++i) ++visits[i];
    });
    for (int v : visits) wrong += v != 1;
    std::this_thread::sleep_for(20us);  // lets the worker have a CPU, on a loaded machine too
  }
  const int woke = hook_calls;
  set_mode(Mode::normal);
  CHECK(wrong == 0);
  CHECK(woke > 0);  // the worker did wake, late, for some calls
  CHECK(by_late_worker == 0);
}

// One call on 2 workers, watched: how many of its chunks did not run exactly once.
int chunks_not_run_once(std::size_t n, std::size_t grain) {
  std::vector<std::atomic<int>> runs((n + grain - 1) / grain);
  {
    WatchedCall watched;
    twolayer::parallel_for(n, grain, 2, [&](std::size_t begin, std::size_t, int) {
      runs[begin / grain].fetch_add(1);
    });
  }
  int wrong = 0;
  for (auto& r : runs) wrong += r.load() != 1;
  return wrong;
}

// A worker that comes back from a call only once the caller sets up the next one must not claim
// a chunk of it against its description (the race b948c82 fixed: the stale worker ran the next
// call's chunks, then the caller ran them again and counted done past the chunk count, waiting for
// ever). Chunk counts grow from call to call, so the stale call's next chunk index is in range.
void stale_worker_during_the_next_calls_set_up() {
  twolayer::set_num_threads(2);
  set_mode(Mode::stale);
  stale_releases = 0;
  int wrong = 0;
  calls_until(
      2000, [] { return stale_releases >= 100; },
      [&](int call) {
        const std::size_t grain = 1 + call % 3, chunks = 2 + call % 8;
        wrong += chunks_not_run_once(chunks * grain - (call % 2) * (grain - 1), grain);
      });
  const int releases = stale_releases;
  set_mode(Mode::normal);
  CHECK(wrong == 0);
  CHECK(releases > 0);  // the interleaving did happen (about 1,000 times in 2,000 calls, quiet)
}

// A worker must not be told of a call while the caller is still setting it up: it would find no
// chunk to claim, count the call as seen and miss all of it. The caller takes its time over each
// set-up here, while worker 1 polls for the next call (each call is short).
void workers_never_see_a_call_before_it_opens() {
  twolayer::set_num_threads(2);
  set_mode(Mode::slow_set_up);
  told_during_set_up = 0;
  // Worker 1 joins only some calls, depending on the machine's load (1 to 247 of 500 quiet).
  int wrong = 0;
  calls_until(
      500, [] { return hook_calls >= 20; }, [&](int) { wrong += chunks_not_run_once(16, 1); });
  const int woke = hook_calls;
  set_mode(Mode::normal);
  CHECK(wrong == 0);
  CHECK(woke > 0);
  CHECK(told_during_set_up == 0);
}

// A worker descheduled while it holds its sleeper's mutex, falling asleep: calls still complete
// without it (a caller that took that mutex to wake it waited as long as it was held).
void calls_complete_while_a_worker_falls_asleep() {
  twolayer::set_num_threads(2);
  set_mode(Mode::hold_falling_asleep);
  CHECK(wait_for([] { return held.load(); }, 5s));  // worker 1, idle, is falling asleep
  int wrong = 0;
  for (int call = 0; call < 200; ++call) wrong += chunks_not_run_once(16, 1);
  CHECK(held);  // still held: every call above ended without it
  set_mode(Mode::normal);
  CHECK(wait_for([] { return !held; }, 5s));
  CHECK(wrong == 0);
}

struct Problem {
  twolayer::Dims dims{784, 50, 10};
  std::size_t N = 100;
  std::vector<float> x;
  std::vector<std::int64_t> labels;
  twolayer::TwoLayerNet<double> net{dims};

  Problem() : x(N * dims.D), labels(N) {
    std::mt19937 gen(3);
    std::uniform_real_distribution<double> uniform(0.0, 1.0);
    for (auto& v : x) v = uniform(gen) < 0.81 ? 0.0f : static_cast<float>(uniform(gen));
    for (auto& t : labels) t = static_cast<std::int64_t>(gen() % dims.C);
    for (std::size_t i = 0; i < dims.size(); ++i) net.params()[i] = 0.1 * (uniform(gen) - 0.5);
  }

  std::vector<double> gradient() {
    std::vector<double> grads(dims.size());
    twolayer::Targets<double> t;
    t.labels = labels.data();
    net.gradient(grads.data(), x.data(), t, N);
    return grads;
  }
};

// A worker held asleep throughout: gradient calls still complete (the caller runs its chunks) and
// give the same bits as with every worker running.
void gradient_with_a_held_worker(Problem& p, int threads) {
  twolayer::set_num_threads(threads);
  const std::vector<double> expected = p.gradient();
  set_mode(Mode::hold);
  p.gradient();
  while (!held) std::this_thread::sleep_for(100us);  // worker 1 woke for a call and is held now
  int differ = 0;
  for (int i = 0; i < 200; ++i) differ += p.gradient() != expected;
  CHECK(held);  // still held: every call above ended without it
  set_mode(Mode::normal);
  while (held) std::this_thread::sleep_for(100us);
  CHECK(differ == 0);
}

void gradient_with_late_or_jittery_workers(Problem& p, Mode m) {
  twolayer::set_num_threads(3);
  const std::vector<double> expected = p.gradient();
  set_mode(m);
  int differ = 0;
  for (int i = 0; i < 1000; ++i) differ += p.gradient() != expected;
  const int woke = hook_calls;
  set_mode(Mode::normal);
  CHECK(differ == 0);
  CHECK(woke > 0);
}

}  // namespace

namespace twolayer::pool_test {

// Called by a worker of the pool each time it sees a new call, before it looks for chunks.
void worker_woke(int worker, const std::function<bool()>& call_is_current,
                 const std::function<bool()>& pool_is_stopping) {
  const Mode m = mode;
  if (worker != 1 || m == Mode::normal) return;
  ++hook_calls;
  if (m == Mode::hold) {
    held = true;
    while (mode == Mode::hold && !pool_is_stopping()) std::this_thread::sleep_for(50us);
    held = false;
  } else if (m == Mode::late) {
    while (mode == Mode::late && call_is_current()) std::this_thread::sleep_for(20us);
  } else if (m == Mode::slow_set_up) {
    if (setting_up && call_is_current()) ++told_during_set_up;
  } else if (m == Mode::stale) {
    if (setting_up) return;  // woke during a set-up: not stale
    stale_waiting = true;
    if (wait_for([&] { return setting_up || pool_is_stopping(); }, 5ms) && setting_up)
      ++stale_releases;
    stale_waiting = false;
  } else {
    thread_local std::minstd_rand gen(worker);
    std::this_thread::sleep_for(std::chrono::microseconds(gen() % 40));
  }
}

// Called by a worker of the pool holding its sleeper's mutex, just before it waits for a call.
void worker_falling_asleep(int worker, const std::function<bool()>& pool_is_stopping) {
  if (worker != 1 || mode != Mode::hold_falling_asleep) return;
  held = true;
  while (mode == Mode::hold_falling_asleep && !pool_is_stopping())
    std::this_thread::sleep_for(50us);
  held = false;
}

// Called by the caller between writing a call's description and storing the ticket that opens it.
// In Mode::stale every second call opens at once, so that worker 1 wakes for it, and the next
// waits for worker 1 to be in its hook, lets it go on and gives it time to look for chunks.
void call_described() {
  if (mode == Mode::slow_set_up) {
    setting_up = true;
    std::this_thread::sleep_for(200us);
    setting_up = false;
  }
  if (mode != Mode::stale || set_ups++ % 2 == 0) return;
  if (!wait_for([] { return stale_waiting.load(); }, 2ms)) return;
  setting_up = true;
  wait_for([] { return !stale_waiting; }, 5ms);
  std::this_thread::sleep_for(100us);
  setting_up = false;
}

}  // namespace twolayer::pool_test

int main() {
  start_watchdog();
  every_item_once();
  short_regions_with_resizes();
  late_workers_never_run_chunks();
  stale_worker_during_the_next_calls_set_up();
  workers_never_see_a_call_before_it_opens();
  calls_complete_while_a_worker_falls_asleep();
  Problem p;
  gradient_with_a_held_worker(p, 2);
  gradient_with_a_held_worker(p, 3);
  gradient_with_late_or_jittery_workers(p, Mode::late);
  gradient_with_late_or_jittery_workers(p, Mode::jitter);
  return twolayer_test::report("test_parallel");
}
