#include "grove/engine/block_cache.h"

namespace grove {

BlockCache::~BlockCache() { clear(); }

std::optional<AnyArray> BlockCache::get(const BlockKey& key) {
  std::lock_guard lock(mutex_);
  auto it = index_.find(key);
  if (it == index_.end()) {
    ++misses_;
    return std::nullopt;
  }
  ++hits_;
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->block;
}

bool BlockCache::put(const BlockKey& key, const AnyArray& block) {
  const int64_t bytes = static_cast<int64_t>(block.bytes());
  std::lock_guard lock(mutex_);
  if (bytes > max_bytes_) return false;
  if (auto it = index_.find(key); it != index_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second);
    return true;
  }
  while (!lru_.empty() && (bytes_ + bytes > max_bytes_ || budget_.available() < bytes)) {
    evict_one_locked();
  }
  if (!budget_.try_reserve(bytes)) return false;
  lru_.push_front(Entry{key, block, bytes});
  index_[key] = lru_.begin();
  bytes_ += bytes;
  return true;
}

void BlockCache::make_room(int64_t bytes) {
  std::lock_guard lock(mutex_);
  while (!lru_.empty() && budget_.available() < bytes) evict_one_locked();
}

void BlockCache::evict_one_locked() {
  Entry& victim = lru_.back();
  budget_.release(victim.bytes);
  bytes_ -= victim.bytes;
  index_.erase(victim.key);
  lru_.pop_back();
}

void BlockCache::drop_older(uint64_t node, uint64_t generation) {
  std::lock_guard lock(mutex_);
  for (auto it = lru_.begin(); it != lru_.end();) {
    if (it->key.node == node && it->key.generation < generation) {
      budget_.release(it->bytes);
      bytes_ -= it->bytes;
      index_.erase(it->key);
      it = lru_.erase(it);
    } else {
      ++it;
    }
  }
}

void BlockCache::clear() {
  std::lock_guard lock(mutex_);
  while (!lru_.empty()) evict_one_locked();
}

int64_t BlockCache::bytes() const {
  std::lock_guard lock(mutex_);
  return bytes_;
}

int64_t BlockCache::entries() const {
  std::lock_guard lock(mutex_);
  return static_cast<int64_t>(lru_.size());
}

}  // namespace grove
