#include "grove/core/progress.h"

#include <unistd.h>
#include <cstdio>

namespace grove {

void Progress::start(int64_t total, std::string label) {
  std::lock_guard lock(mutex_);
  total_ = total;
  done_ = 0;
  label_ = std::move(label);
  last_report_ = {};
}

void Progress::advance(int64_t units) {
  done_.fetch_add(units);
  if (callback_) report(false);
}

void Progress::finish() {
  if (callback_) report(true);
}

void Progress::report(bool force) {
  std::lock_guard lock(mutex_);
  auto now = std::chrono::steady_clock::now();
  if (!force && now - last_report_ < interval_) return;
  last_report_ = now;
  callback_(done_.load(), total_.load(), label_);
}

Progress Progress::terminal_bar() {
  if (!isatty(STDERR_FILENO)) return Progress();
  return Progress([](int64_t done, int64_t total, const std::string& label) {
    const int width = 40;
    const double fraction =
        total > 0 ? static_cast<double>(done) / static_cast<double>(total) : 1.0;
    const int filled = static_cast<int>(fraction * width + 0.5);
    std::string bar(filled, '#');
    bar.resize(width, '.');
    std::fprintf(stderr, "\r%s [%s] %3d%% (%lld/%lld)", label.c_str(), bar.c_str(),
                 static_cast<int>(fraction * 100.0 + 0.5), static_cast<long long>(done),
                 static_cast<long long>(total));
    if (done >= total) std::fprintf(stderr, "\n");
    std::fflush(stderr);
  });
}

}  // namespace grove
