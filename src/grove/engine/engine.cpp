#include "grove/engine/engine.h"

#include <fmt/format.h>
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <thread>

#include "grove/core/blocking.h"

namespace grove {

namespace {

// More blocks than any run gets through (each block costs at least microseconds, and the list of
// blocks is made up front): an image this large comes from a damaged or hostile header, and is
// refused before the list is allocated.
constexpr int64_t kMaxBlocks = int64_t{1} << 21;

Status check_block_count(const Blocking& blocking, const Node& node) {
  const int64_t count = blocking.block_count();
  if (count > kMaxBlocks) {
    return make_error(ErrorCode::kResourceExhausted,
                      "{} of shape {} would take {} blocks of {}, more than grove can schedule "
                      "({}); is its size right?",
                      node.describe(), node.info().shape.to_string(), count,
                      blocking.block_shape.to_string(), kMaxBlocks);
  }
  return ok_status();
}

int64_t resolve_memory(int64_t requested) {
  return requested > 0 ? requested : system_memory_bytes() / 2;
}

// Holds a reservation on the budget for a block in flight.
class Reservation {
 public:
  Reservation(MemoryBudget& budget, BlockCache& cache, int64_t bytes, std::atomic<int>& in_flight)
      : budget_(budget), bytes_(bytes), in_flight_(in_flight) {
    // Wait until the block fits, freeing cache entries first; a block larger than the whole
    // budget runs alone (anything else would never make progress).
    for (int attempt = 0;; ++attempt) {
      cache.make_room(bytes);
      if (budget.try_reserve(bytes)) break;
      if (in_flight.load() == 0) {
        budget.force_reserve(bytes);
        break;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(attempt < 100 ? 200 : 2000));
    }
    in_flight_.fetch_add(1);
  }
  ~Reservation() {
    budget_.release(bytes_);
    in_flight_.fetch_sub(1);
  }
  Reservation(const Reservation&) = delete;
  Reservation& operator=(const Reservation&) = delete;

 private:
  MemoryBudget& budget_;
  int64_t bytes_;
  std::atomic<int>& in_flight_;
};

}  // namespace

Engine::Engine(const EngineOptions& options)
    : budget_(resolve_memory(options.memory_bytes)),
      cache_(budget_,
             static_cast<int64_t>(static_cast<double>(resolve_memory(options.memory_bytes)) *
                                  std::clamp(options.cache_fraction, 0.0, 1.0))),
      pool_(options.threads) {}

Engine::~Engine() { cache_.clear(); }

Shape5 Engine::plan_block_shape(const Node& node, const Box5& box,
                                const RunOptions& options) const {
  const Shape5 extent = box.shape();
  Shape5 block = options.block_shape;
  if (block.size() == 0) {
    block = node.block_hint().value_or(default_block_shape(node.info().shape));
  }
  block[kC] = extent[kC];
  const bool aligned = options.align_to.size() > 0;
  for (int a = 0; a < kRank; ++a) {
    block[a] = std::clamp<int64_t>(block[a], 1, std::max<int64_t>(extent[a], 1));
    if (aligned && a != kC) {
      const int64_t chunk = std::max<int64_t>(options.align_to[a], 1);
      block[a] = std::max<int64_t>(chunk, block[a] / chunk * chunk);
    }
  }
  if (options.block_shape.size() > 0) return block;
  // Shrink until the blocks in flight fit the share of the budget that is not cache.
  const double work_share =
      1.0 - std::clamp(static_cast<double>(cache_.bytes()) /
                           static_cast<double>(std::max<int64_t>(budget_.limit(), 1)),
                       0.0, 0.9);
  const int64_t per_block =
      static_cast<int64_t>(static_cast<double>(budget_.limit()) * work_share) /
      std::max(1, threads());
  constexpr int64_t kMinimumExtent = 16;
  for (int guard = 0; guard < 64; ++guard) {
    Box5 probe = Box5::of(block).translated(box.begin);
    if (node.working_bytes(probe) <= per_block) break;
    int largest = -1;
    for (int a : {kZ, kY, kX, kT}) {
      const int64_t chunk = aligned ? std::max<int64_t>(options.align_to[a], 1) : 1;
      const int64_t half = block[a] / 2;
      if (half >= kMinimumExtent && half % chunk == 0 &&
          (largest < 0 || block[a] > block[largest])) {
        largest = a;
      }
    }
    if (largest < 0) break;
    block[largest] /= 2;
  }
  return block;
}

Result<AnyArray> Engine::fetch_cached_block(const Node& node, int64_t block_index,
                                            const Box5& block, const RequestContext& context) {
  uint64_t blocking = 0xCBF29CE484222325ull;
  for (int a = 0; a < kRank; ++a)
    blocking = (blocking ^ static_cast<uint64_t>(node.cache_block_shape()[a])) * 0x100000001B3ull;
  const BlockKey key{node.identity(), context.generation, block_index, blocking};
  if (auto hit = cache_.get(key)) return *hit;
  const auto pending_key = std::make_tuple(key.node, key.generation, key.block, key.blocking);
  std::promise<Result<AnyArray>> promise;
  {
    std::unique_lock lock(pending_mutex_);
    if (auto it = pending_.find(pending_key); it != pending_.end()) {
      auto future = it->second;
      lock.unlock();
      return future.get();
    }
    pending_.emplace(pending_key, promise.get_future().share());
  }
  Result<AnyArray> result = [&]() -> Result<AnyArray> {
    GROVE_ASSIGN_OR_RETURN(AnyArray out,
                           AnyArray::allocate_uninitialized(node.info().dtype, block.shape()));
    GROVE_RETURN_IF_ERROR(node.compute(*this, block, out, context));
    cache_.put(key, out);
    return out;
  }();
  promise.set_value(result);
  {
    std::lock_guard lock(pending_mutex_);
    pending_.erase(pending_key);
  }
  return result;
}

Result<AnyArray> Engine::fetch(const Node& node, const Box5& box, const RequestContext& context) {
  if (context.cancel.cancelled()) return Error(ErrorCode::kCancelled, "cancelled");
  if (!Box5::of(node.info().shape).contains(box)) {
    return make_error(ErrorCode::kOutOfRange, "box {} is outside {} of shape {}", box.to_string(),
                      node.describe(), node.info().shape.to_string());
  }
  if (!node.cacheable()) {
    GROVE_ASSIGN_OR_RETURN(AnyArray out,
                           AnyArray::allocate_uninitialized(node.info().dtype, box.shape()));
    GROVE_RETURN_IF_ERROR(node.compute(*this, box, out, context));
    return out;
  }
  Blocking blocking{Box5::of(node.info().shape), node.cache_block_shape()};
  const std::vector<int64_t> ids = blocking.blocks_intersecting(box);
  if (ids.size() == 1 && blocking.block(ids[0]) == box) {
    return fetch_cached_block(node, ids[0], box, context);
  }
  GROVE_ASSIGN_OR_RETURN(AnyArray out,
                         AnyArray::allocate_uninitialized(node.info().dtype, box.shape()));
  for (int64_t id : ids) {
    const Box5 block = blocking.block(id);
    GROVE_ASSIGN_OR_RETURN(AnyArray data, fetch_cached_block(node, id, block, context));
    const Box5 overlap = block.intersect(box);
    GROVE_RETURN_IF_ERROR(data.crop(overlap.relative_to(block.begin))
                              .copy_into(out.crop(overlap.relative_to(box.begin))));
  }
  return out;
}

Status Engine::for_each_block(const NodePtr& node, const Box5& box, const RunOptions& options,
                              const std::function<Status(const Box5&, const AnyArray&)>& body) {
  if (!Box5::of(node->info().shape).contains(box)) {
    return make_error(ErrorCode::kOutOfRange, "box {} is outside {} of shape {}", box.to_string(),
                      node->describe(), node->info().shape.to_string());
  }
  const Shape5 block_shape = plan_block_shape(*node, box, options);
  const Blocking blocking{box, block_shape};
  GROVE_RETURN_IF_ERROR(check_block_count(blocking, *node));
  return run_blocks(node, blocking.blocks(), options, body);
}

Status Engine::run_blocks(const NodePtr& node, const std::vector<Box5>& blocks,
                          const RunOptions& options,
                          const std::function<Status(const Box5&, const AnyArray&)>& body) {
  for (const Box5& block : blocks) {
    if (!Box5::of(node->info().shape).contains(block)) {
      return make_error(ErrorCode::kOutOfRange, "block {} is outside {} of shape {}",
                        block.to_string(), node->describe(), node->info().shape.to_string());
    }
  }
  if (options.progress)
    options.progress->start(static_cast<int64_t>(blocks.size()), node->describe());

  struct Shared {
    std::mutex mutex;
    std::condition_variable done;
    int64_t remaining;
    std::optional<Error> error;
    std::atomic<bool> failed{false};
  };
  auto shared = std::make_shared<Shared>();
  shared->remaining = static_cast<int64_t>(blocks.size());
  std::atomic<int>& in_flight = in_flight_;
  const RequestContext& context = options.context;

  for (const Box5& block : blocks) {
    pool_.submit(
        [&, block, shared] {
          Status status = [&]() -> Status {
            if (shared->failed.load()) return ok_status();
            if (context.cancel.cancelled()) return Error(ErrorCode::kCancelled, "cancelled");
            Reservation reservation(budget_, cache_, node->working_bytes(block), in_flight);
            GROVE_ASSIGN_OR_RETURN(AnyArray data, fetch(*node, block, context));
            return body(block, data);
          }();
          if (options.progress) options.progress->advance();
          std::lock_guard lock(shared->mutex);
          if (!status.ok() && !shared->error) {
            shared->error = std::move(status).error();
            shared->failed = true;
          }
          if (--shared->remaining == 0) shared->done.notify_all();
        },
        context.priority);
  }
  std::unique_lock lock(shared->mutex);
  shared->done.wait(lock, [&] { return shared->remaining == 0; });
  if (options.progress) options.progress->finish();
  if (shared->error) return *shared->error;
  return ok_status();
}

Status Engine::compute_to_writer(const NodePtr& node, ImageWriter& writer, const Box5& box,
                                 const RunOptions& options) {
  return for_each_block(node, box, options, [&](const Box5& block, const AnyArray& data) {
    return writer.write(block.relative_to(box.begin), data)
        .context(fmt::format("writing block {}", block.to_string()));
  });
}

Result<AnyArray> Engine::compute(const NodePtr& node, const Box5& box, const RunOptions& options) {
  return submit(node, box, options).get();
}

std::shared_future<Result<AnyArray>> Engine::submit(const NodePtr& node, const Box5& box,
                                                    const RunOptions& options) {
  struct Shared {
    std::promise<Result<AnyArray>> promise;
    AnyArray out;
    std::mutex mutex;
    int64_t remaining = 0;
    std::optional<Error> error;
  };
  auto shared = std::make_shared<Shared>();
  std::shared_future<Result<AnyArray>> future = shared->promise.get_future().share();
  if (!Box5::of(node->info().shape).contains(box)) {
    shared->promise.set_value(make_error(ErrorCode::kOutOfRange, "box {} is outside {} of shape {}",
                                         box.to_string(), node->describe(),
                                         node->info().shape.to_string()));
    return future;
  }
  auto out = AnyArray::allocate_uninitialized(node->info().dtype, box.shape());
  if (!out.ok()) {
    shared->promise.set_value(std::move(out).error());
    return future;
  }
  shared->out = *out;
  // Cacheable nodes are split along their cache blocks, so each block is computed once.
  const Shape5 block_shape =
      node->cacheable() ? node->cache_block_shape() : plan_block_shape(*node, box, options);
  std::vector<Box5> blocks;
  if (Status count = check_block_count(Blocking{box, block_shape}, *node); !count.ok()) {
    shared->promise.set_value(std::move(count).error());
    return future;
  }
  if (node->cacheable()) {
    Blocking grid{Box5::of(node->info().shape), block_shape};
    for (int64_t id : grid.blocks_intersecting(box))
      blocks.push_back(grid.block(id).intersect(box));
  } else {
    blocks = Blocking{box, block_shape}.blocks();
  }
  shared->remaining = static_cast<int64_t>(blocks.size());
  if (options.progress) options.progress->start(shared->remaining, node->describe());
  std::atomic<int>& in_flight = in_flight_;
  for (const Box5& block : blocks) {
    pool_.submit(
        [this, node, box, block, shared, options, &in_flight] {
          Status status = [&]() -> Status {
            {
              std::lock_guard lock(shared->mutex);
              if (shared->error) return ok_status();
            }
            if (options.context.cancel.cancelled())
              return Error(ErrorCode::kCancelled, "cancelled");
            Reservation reservation(budget_, cache_, node->working_bytes(block), in_flight);
            GROVE_ASSIGN_OR_RETURN(AnyArray data, fetch(*node, block, options.context));
            return data.copy_into(shared->out.crop(block.relative_to(box.begin)));
          }();
          if (options.progress) options.progress->advance();
          std::lock_guard lock(shared->mutex);
          if (!status.ok() && !shared->error) shared->error = std::move(status).error();
          if (--shared->remaining == 0) {
            if (options.progress) options.progress->finish();
            if (shared->error) {
              shared->promise.set_value(*shared->error);
            } else {
              shared->promise.set_value(shared->out);
            }
          }
        },
        options.context.priority);
  }
  if (blocks.empty()) shared->promise.set_value(shared->out);
  return future;
}

}  // namespace grove
