// A fixed pool of worker threads with a priority queue. The engine runs blocks on it; kernels
// never start threads of their own (DESIGN.md §2: the engine chooses threads).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <queue>
#include <thread>
#include <vector>

namespace grove {

// Number of hardware threads (at least 1).
int hardware_threads();

class ThreadPool {
 public:
  // threads <= 0 means hardware_threads().
  explicit ThreadPool(int threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()); }

  // Queues a task; higher priority runs first, equal priorities run in submission order.
  void submit(std::function<void()> task, int priority = 0);

  // Runs body(i) for i in [0, n) on the pool and the calling thread; returns when all are done.
  // Safe to call from inside a pool task (the caller helps instead of blocking a worker).
  void parallel_for(int64_t n, const std::function<void(int64_t)>& body);

 private:
  struct Task {
    int priority;
    uint64_t sequence;
    std::function<void()> run;
    bool operator<(const Task& other) const {
      if (priority != other.priority) return priority < other.priority;
      return sequence > other.sequence;
    }
  };
  void worker_loop();
  bool run_one_pending();

  std::vector<std::thread> workers_;
  std::priority_queue<Task> queue_;
  std::mutex mutex_;
  std::condition_variable wake_;
  uint64_t sequence_ = 0;
  bool stopping_ = false;
};

}  // namespace grove
