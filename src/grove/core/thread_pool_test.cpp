#include "grove/core/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>

#include "grove/core/cancel.h"
#include "grove/core/memory.h"
#include "grove/core/progress.h"

namespace grove {
namespace {

TEST(ThreadPool, ParallelForRunsEachIndexOnce) {
  ThreadPool pool(3);
  std::vector<std::atomic<int>> hits(1000);
  pool.parallel_for(1000, [&](int64_t i) { hits[i].fetch_add(1); });
  for (auto& h : hits) EXPECT_EQ(h.load(), 1);
}

TEST(ThreadPool, NestedParallelForDoesNotDeadlock) {
  ThreadPool pool(2);
  std::atomic<int> total{0};
  pool.parallel_for(8,
                    [&](int64_t) { pool.parallel_for(8, [&](int64_t) { total.fetch_add(1); }); });
  EXPECT_EQ(total.load(), 64);
}

TEST(ThreadPool, HigherPriorityRunsFirst) {
  ThreadPool pool(1);
  std::promise<void> gate;
  auto gate_future = gate.get_future().share();
  pool.submit([gate_future] { gate_future.wait(); });  // occupy the only worker
  std::vector<int> order;
  std::mutex m;
  std::promise<void> all_done;
  std::atomic<int> remaining{3};
  for (int p : {1, 5, 3}) {
    pool.submit(
        [&, p] {
          {
            std::lock_guard lock(m);
            order.push_back(p);
          }
          if (--remaining == 0) all_done.set_value();
        },
        p);
  }
  gate.set_value();
  all_done.get_future().wait();
  EXPECT_EQ(order, (std::vector<int>{5, 3, 1}));
}

TEST(CancelToken, SharedBetweenCopies) {
  CancelToken a;
  CancelToken b = a;
  EXPECT_FALSE(b.cancelled());
  a.cancel();
  EXPECT_TRUE(b.cancelled());
}

TEST(Progress, CallbackSeesFinalCount) {
  int64_t last_done = -1, last_total = -1;
  Progress p([&](int64_t d, int64_t t, const std::string&) {
    last_done = d;
    last_total = t;
  });
  p.start(10, "work");
  for (int i = 0; i < 10; ++i) p.advance();
  p.finish();
  EXPECT_EQ(last_done, 10);
  EXPECT_EQ(last_total, 10);
}

TEST(MemoryBudget, ReserveRespectsLimit) {
  MemoryBudget budget(100);
  EXPECT_TRUE(budget.try_reserve(60));
  EXPECT_FALSE(budget.try_reserve(50));
  budget.release(60);
  EXPECT_TRUE(budget.try_reserve(100));
  EXPECT_GT(system_memory_bytes(), 0);
  EXPECT_GT(peak_rss_bytes(), 0);
}

}  // namespace
}  // namespace grove
