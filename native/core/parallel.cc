#include "parallel.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace cr {
namespace {

thread_local bool tInParallel = false;

// Workers sleep on a generation counter; each job is a function over chunk indices
// that workers and the caller claim with an atomic counter until none are left.
class Pool {
 public:
  explicit Pool(int n) : hardware_(n) {
    active_ = n;
    for (int i = 1; i < n; ++i) workers_.emplace_back([this] { loop(); });
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    for (auto& w : workers_) w.join();
  }
  int active() const { return active_; }
  int hardware() const { return hardware_; }
  void setActive(int n) { active_ = std::max(1, std::min(n, hardware_)); }

  void run(int64_t chunks, const std::function<void(int64_t)>& job) {
    std::unique_lock<std::mutex> runLock(runMutex_);  // one job at a time
    {
      std::lock_guard<std::mutex> lock(mutex_);
      job_ = &job;
      chunks_ = chunks;
      next_.store(0);
      pending_ = chunks;
      helpers_ = active_ - 1;
      ++generation_;
      published_.store(generation_, std::memory_order_release);
    }
    wake_.notify_all();
    work();
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [this] { return pending_ == 0 && busy_ == 0; });
    job_ = nullptr;
    // A worker that wakes only now must not join this finished job: it would be in work() while
    // the next run() resets next_ and chunks_, and could run a chunk of the next job twice (the
    // pending count then never reaches 0: a hang, seen with many small jobs in a row).
    helpers_ = 0;
  }

 private:
  void work() {
    bool was = tInParallel;
    tInParallel = true;
    for (;;) {
      int64_t i = next_.fetch_add(1);
      if (i >= chunks_) break;
      (*job_)(i);
      std::lock_guard<std::mutex> lock(mutex_);
      if (--pending_ == 0) done_.notify_all();
    }
    tInParallel = was;
  }
  void loop() {
    uint64_t seen = 0;
    for (;;) {
      // Spin briefly before sleeping: ops come in quick succession, and a sleeping thread can
      // take milliseconds to wake on a busy machine.
      auto spinUntil = std::chrono::steady_clock::now() + std::chrono::microseconds(200);
      while (published_.load(std::memory_order_acquire) == seen && std::chrono::steady_clock::now() < spinUntil) {
        std::this_thread::yield();
      }
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return stop_ || (generation_ != seen && helpers_ > 0); });
        if (stop_) return;
        seen = generation_;
        --helpers_;
        ++busy_;
      }
      work();
      std::lock_guard<std::mutex> lock(mutex_);
      if (--busy_ == 0 && pending_ == 0) done_.notify_all();
    }
  }

  int hardware_;
  std::atomic<int> active_{1};
  std::vector<std::thread> workers_;
  std::mutex runMutex_, mutex_;
  std::condition_variable wake_, done_;
  const std::function<void(int64_t)>* job_ = nullptr;
  int64_t chunks_ = 0;
  std::atomic<int64_t> next_{0};
  int64_t pending_ = 0;
  int helpers_ = 0;
  int busy_ = 0;
  uint64_t generation_ = 0;
  std::atomic<uint64_t> published_{0};  // generation_, readable without the lock
  bool stop_ = false;
};

Pool& pool() {
  static Pool p(std::max(1u, std::thread::hardware_concurrency()));
  return p;
}

}  // namespace

int numThreads() { return pool().active(); }
int setNumThreads(int n) {
  pool().setActive(n);
  return pool().active();
}
bool inParallelRegion() { return tInParallel; }

void parallelForImpl(int64_t begin, int64_t end, int64_t grain,
                     const std::function<void(int64_t, int64_t)>& fn) {
  int64_t n = end - begin;
  int64_t maxChunks = (n + grain - 1) / grain;
  int64_t chunks = std::min<int64_t>(maxChunks, numThreads() * 4);
  int64_t step = (n + chunks - 1) / chunks;
  chunks = (n + step - 1) / step;
  pool().run(chunks, [&](int64_t c) {
    int64_t b = begin + c * step;
    fn(b, std::min(end, b + step));
  });
}

}  // namespace cr
