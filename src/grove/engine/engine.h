// The lazy block-wise engine (DESIGN.md §4): computes any box of a node block by block on a
// pool of worker threads, under a hard memory budget, with a block cache for interactive use,
// priorities (the viewport first), cancellation of outdated work, and progress.
#pragma once

#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>

#include "grove/core/cancel.h"
#include "grove/core/progress.h"
#include "grove/core/thread_pool.h"
#include "grove/engine/block_cache.h"
#include "grove/engine/node.h"

namespace grove {

struct EngineOptions {
  int threads = 0;           // <= 0: all hardware threads
  int64_t memory_bytes = 0;  // <= 0: half the machine's RAM (the --ram-mb budget)
  // Share of the budget the block cache may hold (the rest is for blocks in flight).
  double cache_fraction = 0.5;
};

struct RequestContext {
  CancelToken cancel;
  int priority = 0;         // higher first (the viewport's tiles above the rest)
  uint64_t generation = 0;  // interactive edits bump it; cache keys include it
};

struct RunOptions {
  RequestContext context;
  Progress* progress = nullptr;  // advanced once per output block
  // Output block shape; zeros: chosen by the engine from op hints, the budget and the
  // writer's chunks.
  Shape5 block_shape = Shape5::filled(0);
  // Chunk shape the blocks must align to (e.g. of a chunked output store), zeros if none.
  Shape5 align_to = Shape5::filled(0);
};

class Engine {
 public:
  explicit Engine(const EngineOptions& options = {});
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  int threads() const { return pool_.size(); }
  MemoryBudget& budget() { return budget_; }
  BlockCache& cache() { return cache_; }
  int64_t cache_capacity() const { return cache_.capacity(); }
  ThreadPool& pool() { return pool_; }

  // Computes box of node into a new array, its blocks in parallel (blocks of cacheable nodes
  // come from / go to the cache). Blocks the caller until done. Never call compute,
  // compute_to_writer or for_each_block from inside an op or a block task: use fetch there.
  Result<AnyArray> compute(const NodePtr& node, const Box5& box, const RunOptions& options = {});

  // The same, asynchronously: the blocks are queued at options.context.priority; cancelling the
  // token drops the blocks not yet started and the result is a kCancelled error.
  std::shared_future<Result<AnyArray>> submit(const NodePtr& node, const Box5& box,
                                              const RunOptions& options = {});

  // Streams box of node into writer block by block (never the whole output in memory), blocks
  // aligned to options.align_to. Does not commit the writer.
  Status compute_to_writer(const NodePtr& node, ImageWriter& writer, const Box5& box,
                           const RunOptions& options = {});

  // Runs body(block) for every block of box on the pool, within the memory budget; stops at the
  // first error or on cancellation. For work other than writing (e.g. gathering training data).
  Status for_each_block(const NodePtr& node, const Box5& box, const RunOptions& options,
                        const std::function<Status(const Box5& block, const AnyArray& data)>& body);

  // The same for a given list of boxes (e.g. the blocks that hold labels).
  Status run_blocks(const NodePtr& node, const std::vector<Box5>& blocks, const RunOptions& options,
                    const std::function<Status(const Box5& block, const AnyArray& data)>& body);

  // Used by nodes: box of node as an array, through the cache where the node is cacheable.
  // Runs on the calling thread.
  Result<AnyArray> fetch(const Node& node, const Box5& box, const RequestContext& context);

  // The block shape the engine would use for box of node (op hints, budget, alignment).
  Shape5 plan_block_shape(const Node& node, const Box5& box, const RunOptions& options) const;

 private:
  Result<AnyArray> fetch_cached_block(const Node& node, int64_t block_index, const Box5& block,
                                      const RequestContext& context);

  MemoryBudget budget_;
  std::atomic<int> in_flight_{0};  // blocks holding a memory reservation
  BlockCache cache_;
  // Blocks being computed right now, so that two requests for one block compute it once.
  std::mutex pending_mutex_;
  // (node identity, generation, block index, blocking) as in BlockKey.
  std::map<std::tuple<uint64_t, uint64_t, int64_t, uint64_t>, std::shared_future<Result<AnyArray>>>
      pending_;
  ThreadPool pool_;  // last: its workers stop before the members they use are destroyed
};

}  // namespace grove
