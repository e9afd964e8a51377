#include "grove/workflows/pixel/label_store.h"

#include <algorithm>
#include <mutex>

#include "grove/core/blocking.h"

namespace grove {

namespace {

Shape5 label_block_shape(const Shape5& shape) {
  if (shape.z() > 1) return {1, 32, 64, 64, 1};
  return {1, 1, 128, 128, 1};
}

}  // namespace

LabelStore::LabelStore(const Shape5& image_shape) : shape_(image_shape) {
  shape_[kC] = 1;
  block_shape_ = label_block_shape(shape_);
}

LabelStore::LabelStore(const LabelStore& other) { *this = other; }

LabelStore& LabelStore::operator=(const LabelStore& other) {
  if (this == &other) return *this;
  std::shared_lock other_lock(other.mutex_);
  std::unique_lock lock(mutex_);
  shape_ = other.shape_;
  block_shape_ = other.block_shape_;
  blocks_ = other.blocks_;
  generation_ = other.generation_ + 1;
  return *this;
}

Box5 LabelStore::block_box(int64_t index) const {
  return Blocking{Box5::of(shape_), block_shape_}.block(index);
}

Result<LabelEdit> LabelStore::write(const Box5& box, const AnyArray& labels) {
  return apply(box, labels, true, 0);
}

Result<LabelEdit> LabelStore::paint(const Box5& box, const AnyArray& mask, uint8_t value) {
  return apply(box, mask, false, value);
}

Result<LabelEdit> LabelStore::apply(const Box5& box, const AnyArray& mask_or_labels,
                                    bool write_values, uint8_t value) {
  if (!Box5::of(shape_).contains(box) || box.shape().c() != 1) {
    return make_error(ErrorCode::kOutOfRange,
                      "label box {} is outside the image's labels of shape {}", box.to_string(),
                      shape_.to_string());
  }
  if (mask_or_labels.shape() != box.shape()) {
    return make_error(ErrorCode::kInvalidArgument, "labels of shape {} do not fit box {}",
                      mask_or_labels.shape().to_string(), box.to_string());
  }
  if (dtype_is_float(mask_or_labels.dtype())) {
    return make_error(ErrorCode::kInvalidArgument, "labels must be integers, got {}",
                      dtype_name(mask_or_labels.dtype()));
  }
  GROVE_ASSIGN_OR_RETURN(AnyArray source, mask_or_labels.convert(DType::i64));
  View<const int64_t> in = source.view<int64_t>();
  bool out_of_range = false;
  in.for_each([&](const int64_t& v) { out_of_range |= v < 0 || v > 255; });
  if (write_values && out_of_range) {
    return make_error(ErrorCode::kInvalidArgument, "label values must be 0..255");
  }
  GROVE_ASSIGN_OR_RETURN(AnyArray previous, read(box));
  std::unique_lock lock(mutex_);
  Blocking blocking{Box5::of(shape_), block_shape_};
  for (int64_t id : blocking.blocks_intersecting(box)) {
    const Box5 block = blocking.block(id);
    const Box5 overlap = block.intersect(box);
    auto it = blocks_.find(id);
    if (it == blocks_.end()) {
      // Skip creating a block when nothing nonzero would be set in it.
      if (!write_values && value == 0) continue;
      bool any = false;
      View<const int64_t> part = in.crop(overlap.relative_to(box.begin));
      part.for_each([&](const int64_t& v) { any |= v != 0; });
      if (!any) continue;
      it = blocks_.emplace(id, std::vector<uint8_t>(static_cast<size_t>(block.size()), 0)).first;
    }
    View<uint8_t> dst(it->second.data(), block.shape());
    const Shape5 s = overlap.shape();
    for (int64_t t = 0; t < s[0]; ++t)
      for (int64_t z = 0; z < s[1]; ++z)
        for (int64_t y = 0; y < s[2]; ++y)
          for (int64_t x = 0; x < s[3]; ++x) {
            const int64_t v =
                in(t + overlap.begin[0] - box.begin[0], z + overlap.begin[1] - box.begin[1],
                   y + overlap.begin[2] - box.begin[2], x + overlap.begin[3] - box.begin[3], 0);
            uint8_t& d = dst(
                t + overlap.begin[0] - block.begin[0], z + overlap.begin[1] - block.begin[1],
                y + overlap.begin[2] - block.begin[2], x + overlap.begin[3] - block.begin[3], 0);
            if (write_values) {
              d = static_cast<uint8_t>(v);
            } else if (v != 0) {
              d = value;
            }
          }
  }
  prune_empty_locked();
  ++generation_;
  return LabelEdit{box, std::move(previous)};
}

void LabelStore::prune_empty_locked() {
  for (auto it = blocks_.begin(); it != blocks_.end();) {
    if (std::all_of(it->second.begin(), it->second.end(), [](uint8_t v) { return v == 0; })) {
      it = blocks_.erase(it);
    } else {
      ++it;
    }
  }
}

void LabelStore::clear() {
  std::unique_lock lock(mutex_);
  blocks_.clear();
  ++generation_;
}

void LabelStore::clear_class(uint8_t value) { relabel(value, 0); }

void LabelStore::relabel(uint8_t from, uint8_t to) {
  std::unique_lock lock(mutex_);
  for (auto& [id, data] : blocks_) std::replace(data.begin(), data.end(), from, to);
  prune_empty_locked();
  ++generation_;
}

Result<AnyArray> LabelStore::read(const Box5& box) const {
  Box5 request = box.with_channels(0, 1);
  if (!Box5::of(shape_).contains(request)) {
    return make_error(ErrorCode::kOutOfRange, "label box {} is outside the labels of shape {}",
                      box.to_string(), shape_.to_string());
  }
  GROVE_ASSIGN_OR_RETURN(AnyArray out, AnyArray::allocate(DType::u8, request.shape()));
  std::shared_lock lock(mutex_);
  Blocking blocking{Box5::of(shape_), block_shape_};
  for (int64_t id : blocking.blocks_intersecting(request)) {
    auto it = blocks_.find(id);
    if (it == blocks_.end()) continue;
    const Box5 block = blocking.block(id);
    const Box5 overlap = block.intersect(request);
    AnyArray source = AnyArray::wrap(DType::u8, const_cast<uint8_t*>(it->second.data()),
                                     block.shape(), contiguous_strides(block.shape()), nullptr);
    GROVE_RETURN_IF_ERROR(source.crop(overlap.relative_to(block.begin))
                              .copy_into(out.crop(overlap.relative_to(request.begin))));
  }
  return out;
}

std::vector<Box5> LabelStore::labelled_blocks() const {
  std::shared_lock lock(mutex_);
  std::vector<Box5> out;
  for (const auto& [id, data] : blocks_) out.push_back(block_box(id));
  return out;
}

std::vector<int64_t> LabelStore::counts() const {
  std::shared_lock lock(mutex_);
  std::vector<int64_t> counts(256, 0);
  for (const auto& [id, data] : blocks_)
    for (uint8_t v : data) ++counts[v];
  int highest = 0;
  for (int v = 1; v < 256; ++v)
    if (counts[v] > 0) highest = v;
  counts.resize(highest + 1);
  counts[0] = 0;
  return counts;
}

bool LabelStore::empty() const {
  std::shared_lock lock(mutex_);
  return blocks_.empty();
}

uint64_t LabelStore::generation() const {
  std::shared_lock lock(mutex_);
  return generation_;
}

}  // namespace grove
