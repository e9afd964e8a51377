#include "grove/engine/node.h"

#include <fmt/format.h>

#include "grove/core/blocking.h"
#include "grove/engine/engine.h"

namespace grove {

namespace {

uint64_t hash_string(std::string_view text, uint64_t seed = 1469598103934665603ull) {
  uint64_t hash = seed;
  for (unsigned char ch : text) {
    hash ^= ch;
    hash *= 1099511628211ull;
  }
  return hash;
}

uint64_t combine(uint64_t a, uint64_t b) {
  return a ^ (b + 0x9E3779B97F4A7C15ull + (a << 6) + (a >> 2));
}

int64_t array_bytes(const Box5& box, DType dtype) {
  return box.size() * static_cast<int64_t>(dtype_size(dtype));
}

class InputNode final : public Node {
 public:
  InputNode(std::shared_ptr<ImageReader> reader, const std::string& identity)
      : reader_(std::move(reader)), name_(identity) {
    info_ = ArrayInfo{reader_->info().shape, reader_->info().dtype};
    identity_ = hash_string(identity);
    cache_block_shape_ = default_block_shape(info_.shape);
  }
  std::string describe() const override { return name_; }
  Status compute(Engine&, const Box5& box, const AnyArray& out,
                 const RequestContext&) const override {
    GROVE_ASSIGN_OR_RETURN(AnyArray data, reader_->read(box));
    return data.copy_into(out);
  }
  int64_t working_bytes(const Box5& box) const override {
    return 2 * array_bytes(box, info_.dtype);
  }

 private:
  std::shared_ptr<ImageReader> reader_;
  std::string name_;
};

class ArrayNode final : public Node {
 public:
  ArrayNode(AnyArray array, const std::string& identity)
      : array_(std::move(array)), name_(identity) {
    info_ = ArrayInfo{array_.shape(), array_.dtype()};
    identity_ = hash_string(identity, 0x51ED270B7A3C4F11ull);
    cache_block_shape_ = default_block_shape(info_.shape);
  }
  std::string describe() const override { return name_; }
  Status compute(Engine&, const Box5& box, const AnyArray& out,
                 const RequestContext&) const override {
    return array_.crop(box).copy_into(out);
  }
  int64_t working_bytes(const Box5& box) const override { return array_bytes(box, info_.dtype); }

 private:
  AnyArray array_;
  std::string name_;
};

class OpNode final : public Node {
 public:
  OpNode(std::shared_ptr<const Op> op, NodePtr input, ArrayInfo info, bool cacheable)
      : op_(std::move(op)), input_(std::move(input)) {
    info_ = info;
    identity_ = combine(op_->params_hash(), input_->identity());
    cacheable_ = cacheable;
    // Without a hint of its own, a node over a cached input caches blocks of the input's shape,
    // so that each of its blocks reads exactly one of the input's (no copy of a part of one).
    const Shape5 fallback = cacheable && input_->cacheable() ? input_->cache_block_shape()
                                                             : default_block_shape(info_.shape);
    cache_block_shape_ = op_->block_hint(input_->info()).value_or(fallback);
    cache_block_shape_[kC] = info_.shape[kC];
  }
  std::string describe() const override {
    return fmt::format("{} of {}", op_->name(), input_->describe());
  }
  Status compute(Engine& engine, const Box5& box, const AnyArray& out,
                 const RequestContext& context) const override {
    const Box5 in_box = input_box(box);
    GROVE_ASSIGN_OR_RETURN(AnyArray in, engine.fetch(*input_, in_box, context));
    return op_->compute(in, in_box, out, box)
        .context(fmt::format("computing {} of block {}", op_->name(), box.to_string()));
  }
  int64_t working_bytes(const Box5& box) const override {
    const Box5 in_box = input_box(box);
    const int64_t own = array_bytes(in_box, input_->info().dtype) + array_bytes(box, info_.dtype) +
                        op_->scratch_bytes(box, input_->info());
    return std::max(own, input_->working_bytes(in_box) + array_bytes(box, info_.dtype));
  }
  std::optional<Shape5> block_hint() const override {
    if (auto hint = op_->block_hint(input_->info())) return hint;
    return input_->block_hint();
  }

 private:
  Box5 input_box(const Box5& box) const {
    return op_->input_box(box, input_->info()).intersect(Box5::of(input_->info().shape));
  }
  std::shared_ptr<const Op> op_;
  NodePtr input_;
};

}  // namespace

NodePtr input_node(std::shared_ptr<ImageReader> reader, const std::string& identity) {
  return std::make_shared<InputNode>(std::move(reader), identity);
}

NodePtr array_node(AnyArray array, const std::string& identity) {
  return std::make_shared<ArrayNode>(std::move(array), identity);
}

Result<NodePtr> apply_op(std::shared_ptr<const Op> op, NodePtr input, bool cacheable) {
  GROVE_ASSIGN_OR_RETURN(ArrayInfo info, std::move(op->infer(input->info()))
                                             .context(fmt::format("applying {} to {}", op->name(),
                                                                  input->describe())));
  if (!info.shape.valid()) {
    return make_error(ErrorCode::kInternal, "{} inferred an invalid shape {}", op->name(),
                      info.shape.to_string());
  }
  return NodePtr(std::make_shared<OpNode>(std::move(op), std::move(input), info, cacheable));
}

}  // namespace grove
