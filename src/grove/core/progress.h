// Progress of long work. Producers call advance(); a sink shows it: a bar on stderr when stderr
// is a terminal (the CLI), a callback (the server pushes it to the browser), or nothing.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>

namespace grove {

class Progress {
 public:
  // Called with (done, total, label) at most every interval, and once at the end.
  using Callback = std::function<void(int64_t done, int64_t total, const std::string& label)>;

  Progress() = default;
  explicit Progress(Callback callback,
                    std::chrono::milliseconds interval = std::chrono::milliseconds(100))
      : callback_(std::move(callback)), interval_(interval) {}

  // Starts a new phase of total units.
  void start(int64_t total, std::string label);
  // Thread-safe.
  void advance(int64_t units = 1);
  void finish();

  int64_t done() const { return done_.load(); }
  int64_t total() const { return total_.load(); }

  // A progress that draws a bar on stderr if it is a terminal, else prints nothing.
  static Progress terminal_bar();
  // A progress that reports nothing.
  static Progress silent() { return Progress(); }

 private:
  void report(bool force);

  Callback callback_;
  std::chrono::milliseconds interval_{100};
  std::atomic<int64_t> done_{0};
  std::atomic<int64_t> total_{0};
  std::string label_;
  std::mutex mutex_;
  std::chrono::steady_clock::time_point last_report_{};
};

}  // namespace grove
