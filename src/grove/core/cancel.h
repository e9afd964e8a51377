// A cancellation token: cheap to copy, shared by everyone working on one request. Long loops
// check cancelled() between blocks and return ErrorCode::kCancelled.
#pragma once

#include <atomic>
#include <memory>

namespace grove {

class CancelToken {
 public:
  CancelToken() : flag_(std::make_shared<std::atomic<bool>>(false)) {}
  void cancel() const { flag_->store(true, std::memory_order_relaxed); }
  bool cancelled() const { return flag_->load(std::memory_order_relaxed); }

 private:
  std::shared_ptr<std::atomic<bool>> flag_;
};

}  // namespace grove
