// The engine's block cache: an LRU of computed blocks keyed by (node identity, generation,
// block index), under the engine's hard memory budget. Interactive use keeps feature blocks here
// so that retraining after a label edit only reruns the classifier.
#pragma once

#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "grove/core/array.h"
#include "grove/core/memory.h"

namespace grove {

struct BlockKey {
  uint64_t node = 0;        // the node's identity (op and params hash, chained with its input's)
  uint64_t generation = 0;  // bumped by interactive edits; older generations are dropped
  int64_t block = 0;        // linear block index in the node's blocking
  // The blocking's block shape (hashed): two nodes of equal identity may cache blocks of
  // different shapes (an op node over a cached input takes the input's), and a block index
  // means nothing without it.
  uint64_t blocking = 0;
  friend bool operator==(const BlockKey&, const BlockKey&) = default;
};

struct BlockKeyHash {
  size_t operator()(const BlockKey& k) const {
    uint64_t h = k.node * 0x9E3779B97F4A7C15ull;
    h ^= k.generation + 0x7F4A7C159E3779B9ull + (h << 6) + (h >> 2);
    h ^= static_cast<uint64_t>(k.block) + 0x94D049BB133111EBull + (h << 6) + (h >> 2);
    h ^= k.blocking + 0x2545F4914F6CDD1Dull + (h << 6) + (h >> 2);
    return static_cast<size_t>(h);
  }
};

class BlockCache {
 public:
  // Entries are charged to budget; the cache never holds more than max_bytes.
  BlockCache(MemoryBudget& budget, int64_t max_bytes) : budget_(budget), max_bytes_(max_bytes) {}
  ~BlockCache();

  std::optional<AnyArray> get(const BlockKey& key);
  // Stores a block if it fits (evicting least recently used blocks); returns whether it did.
  bool put(const BlockKey& key, const AnyArray& block);
  // Frees least recently used blocks until `bytes` more fit in the budget (or the cache is empty).
  void make_room(int64_t bytes);
  // Drops every block of a node whose generation is older than `generation`.
  void drop_older(uint64_t node, uint64_t generation);
  void clear();

  int64_t bytes() const;
  // The most the cache holds.
  int64_t capacity() const { return max_bytes_; }
  int64_t entries() const;
  int64_t hits() const { return hits_; }
  int64_t misses() const { return misses_; }

 private:
  struct Entry {
    BlockKey key;
    AnyArray block;
    int64_t bytes;
  };
  void evict_one_locked();

  MemoryBudget& budget_;
  int64_t max_bytes_;
  mutable std::mutex mutex_;
  std::list<Entry> lru_;  // front = most recently used
  std::unordered_map<BlockKey, std::list<Entry>::iterator, BlockKeyHash> index_;
  int64_t bytes_ = 0;
  int64_t hits_ = 0;
  int64_t misses_ = 0;
};

}  // namespace grove
