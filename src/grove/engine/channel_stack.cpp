#include "grove/engine/channel_stack.h"

#include <fmt/format.h>
#include <algorithm>

#include "grove/core/blocking.h"
#include "grove/engine/engine.h"

namespace grove {

namespace {

uint64_t mix_identity(uint64_t seed, uint64_t value) {
  return seed ^ (value + 0x9E3779B97F4A7C15ull + (seed << 6) + (seed >> 2));
}

int64_t array_bytes(const Box5& box, DType dtype) {
  return box.size() * static_cast<int64_t>(dtype_size(dtype));
}

class ChannelStackNode final : public Node {
 public:
  ChannelStackNode(std::vector<NodePtr> inputs, ArrayInfo info) : inputs_(std::move(inputs)) {
    info_ = info;
    uint64_t identity = 0xC4A77E15u;  // tags the stack, so it differs from any one input
    int64_t offset = 0;
    for (const NodePtr& input : inputs_) {
      identity = mix_identity(identity, input->identity());
      first_channel_.push_back(offset);
      offset += input->info().shape.c();
    }
    identity_ = identity;
    cache_block_shape_ = default_block_shape(info_.shape);
  }

  std::string describe() const override {
    std::string parts;
    for (const NodePtr& input : inputs_) {
      parts += parts.empty() ? "" : ", ";
      parts += input->describe();
    }
    return fmt::format("channel stack of ({})", parts);
  }

  Status compute(Engine& engine, const Box5& box, const AnyArray& out,
                 const RequestContext& context) const override {
    for (size_t i = 0; i < inputs_.size(); ++i) {
      auto part = input_part(i, box);
      if (!part) continue;
      GROVE_ASSIGN_OR_RETURN(AnyArray data, engine.fetch(*inputs_[i], part->first, context));
      const int64_t begin = part->second;
      GROVE_RETURN_IF_ERROR(data.copy_into(out.channels(begin, begin + part->first.shape().c())));
    }
    return ok_status();
  }

  int64_t working_bytes(const Box5& box) const override {
    // The parts are fetched one after the other and held until the stack is filled.
    int64_t held = array_bytes(box, info_.dtype), peak = 0;
    for (size_t i = 0; i < inputs_.size(); ++i) {
      auto part = input_part(i, box);
      if (!part) continue;
      held += array_bytes(part->first, info_.dtype);
      peak = std::max(peak, inputs_[i]->working_bytes(part->first));
    }
    return held + peak;
  }

  std::optional<Shape5> block_hint() const override {
    // The later inputs are the computed ones (the raw image comes first): prefer their hints.
    for (auto it = inputs_.rbegin(); it != inputs_.rend(); ++it) {
      if (auto hint = (*it)->block_hint()) return hint;
    }
    return std::nullopt;
  }

 private:
  // The box of input i that a box of the stack covers, and where its channels start in the
  // output array of that box; nothing if the box holds none of input i's channels.
  std::optional<std::pair<Box5, int64_t>> input_part(size_t i, const Box5& box) const {
    const int64_t first = first_channel_[i];
    const int64_t count = inputs_[i]->info().shape.c();
    const int64_t begin = std::max(box.begin[kC], first);
    const int64_t end = std::min(box.end[kC], first + count);
    if (begin >= end) return std::nullopt;
    return std::make_pair(box.with_channels(begin - first, end - first), begin - box.begin[kC]);
  }

  std::vector<NodePtr> inputs_;
  std::vector<int64_t> first_channel_;
};

}  // namespace

Result<NodePtr> channel_stack_node(std::vector<NodePtr> inputs) {
  if (inputs.empty()) return Error(ErrorCode::kInvalidArgument, "a channel stack needs inputs");
  for (const NodePtr& input : inputs) {
    if (!input) return Error(ErrorCode::kInvalidArgument, "a channel stack got a null input");
  }
  const ArrayInfo& first = inputs.front()->info();
  Shape5 shape = first.shape;
  int64_t channels = 0;
  for (const NodePtr& input : inputs) {
    const ArrayInfo& info = input->info();
    Shape5 a = info.shape, b = first.shape;
    a[kC] = b[kC] = 1;
    if (a != b) {
      return make_error(ErrorCode::kInvalidArgument,
                        "cannot stack the channels of {} (shape {}) onto {} (shape {}): their "
                        "t,z,y,x differ",
                        input->describe(), info.shape.to_string(), inputs.front()->describe(),
                        first.shape.to_string());
    }
    if (info.dtype != first.dtype) {
      return make_error(ErrorCode::kInvalidArgument,
                        "cannot stack the channels of {} ({}) onto {} ({}): their dtypes differ",
                        input->describe(), dtype_name(info.dtype), inputs.front()->describe(),
                        dtype_name(first.dtype));
    }
    channels += info.shape.c();
  }
  shape[kC] = channels;
  return NodePtr(
      std::make_shared<ChannelStackNode>(std::move(inputs), ArrayInfo{shape, first.dtype}));
}

}  // namespace grove
