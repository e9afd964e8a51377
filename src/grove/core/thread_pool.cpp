#include "grove/core/thread_pool.h"

#include <atomic>
#include <memory>

namespace grove {

int hardware_threads() {
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

ThreadPool::ThreadPool(int threads) {
  if (threads <= 0) threads = hardware_threads();
  workers_.reserve(threads);
  for (int i = 0; i < threads; ++i) workers_.emplace_back([this] { worker_loop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& w : workers_) w.join();
}

void ThreadPool::submit(std::function<void()> task, int priority) {
  {
    std::lock_guard lock(mutex_);
    queue_.push(Task{priority, sequence_++, std::move(task)});
  }
  wake_.notify_one();
}

bool ThreadPool::run_one_pending() {
  std::function<void()> run;
  {
    std::lock_guard lock(mutex_);
    if (queue_.empty()) return false;
    run = std::move(const_cast<Task&>(queue_.top()).run);
    queue_.pop();
  }
  run();
  return true;
}

void ThreadPool::worker_loop() {
  for (;;) {
    std::function<void()> run;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      run = std::move(const_cast<Task&>(queue_.top()).run);
      queue_.pop();
    }
    run();
  }
}

void ThreadPool::parallel_for(int64_t n, const std::function<void(int64_t)>& body) {
  if (n <= 0) return;
  if (n == 1) {
    body(0);
    return;
  }
  struct Shared {
    std::atomic<int64_t> next{0};
    std::atomic<int64_t> done{0};
    std::mutex mutex;
    std::condition_variable finished;
  };
  auto shared = std::make_shared<Shared>();
  auto drain = [shared, n, &body] {
    int64_t finished_here = 0;
    for (int64_t i; (i = shared->next.fetch_add(1)) < n;) {
      body(i);
      ++finished_here;
    }
    if (finished_here > 0 && shared->done.fetch_add(finished_here) + finished_here == n) {
      std::lock_guard lock(shared->mutex);
      shared->finished.notify_all();
    }
  };
  // body is captured by reference: the helpers only touch it while items remain, and this
  // function does not return before every item is done.
  const int helpers = static_cast<int>(std::min<int64_t>(size(), n - 1));
  for (int i = 0; i < helpers; ++i) submit(drain, 1 << 20);
  drain();
  std::unique_lock lock(shared->mutex);
  while (shared->done.load() < n) {
    // Help with other queued work while waiting, so nested parallel_for cannot deadlock.
    lock.unlock();
    const bool ran = run_one_pending();
    lock.lock();
    if (!ran) shared->finished.wait_for(lock, std::chrono::milliseconds(1));
  }
}

}  // namespace grove
