#include "grove/engine/channel_stack.h"

#include <fmt/format.h>
#include <algorithm>

#include "grove/core/blocking.h"
#include "grove/engine/engine.h"

namespace grove {

namespace {

// "a, b, c": the descriptions of nodes, for a node's own description.
std::string describe_all(const std::vector<NodePtr>& nodes) {
  std::string parts;
  for (const NodePtr& node : nodes) {
    parts += parts.empty() ? "" : ", ";
    parts += node->describe();
  }
  return parts;
}

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
    return fmt::format("channel stack of ({})", describe_all(inputs_));
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

// The common t,z,y,x shape and dtype of inputs (c: their channel total).
Result<ArrayInfo> stacked_info(const std::vector<NodePtr>& inputs) {
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
  return ArrayInfo{shape, first.dtype};
}

// out[p, to] = in[p, from] for every pixel p and (to, from) pair, both arrays contiguous with
// channels last (a pixel's channels side by side): one pass over the pixels, instead of one
// strided pass per channel.
template <class T>
void gather_pixels_of(const T* in, int64_t in_channels, T* out, int64_t out_channels,
                      int64_t pixels, const std::vector<std::pair<int64_t, int64_t>>& pairs) {
  for (int64_t p = 0; p < pixels; ++p) {
    const T* from = in + p * in_channels;
    T* to = out + p * out_channels;
    for (const auto& [o, i] : pairs) to[o] = from[i];
  }
}

void gather_pixels(const AnyArray& in, const AnyArray& out,
                   const std::vector<std::pair<int64_t, int64_t>>& pairs) {
  const int64_t pixels = in.shape().size() / std::max<int64_t>(in.shape().c(), 1);
  const int64_t in_channels = in.shape().c(), out_channels = out.shape().c();
  switch (dtype_size(in.dtype())) {
    case 1:
      return gather_pixels_of(static_cast<const uint8_t*>(in.raw_data()), in_channels,
                              static_cast<uint8_t*>(out.raw_data()), out_channels, pixels, pairs);
    case 2:
      return gather_pixels_of(static_cast<const uint16_t*>(in.raw_data()), in_channels,
                              static_cast<uint16_t*>(out.raw_data()), out_channels, pixels, pairs);
    case 4:
      return gather_pixels_of(static_cast<const uint32_t*>(in.raw_data()), in_channels,
                              static_cast<uint32_t*>(out.raw_data()), out_channels, pixels, pairs);
    default:
      return gather_pixels_of(static_cast<const uint64_t*>(in.raw_data()), in_channels,
                              static_cast<uint64_t*>(out.raw_data()), out_channels, pixels, pairs);
  }
}

class ChannelGatherNode final : public Node {
 public:
  ChannelGatherNode(std::vector<NodePtr> inputs, std::vector<ChannelSource> sources, ArrayInfo info)
      : inputs_(std::move(inputs)), sources_(std::move(sources)) {
    info_ = info;
    info_.shape[kC] = static_cast<int64_t>(sources_.size());
    uint64_t identity = 0x6A7E5u;  // tags the gather, so it differs from a stack of the inputs
    for (const NodePtr& input : inputs_) identity = mix_identity(identity, input->identity());
    for (const ChannelSource& source : sources_) {
      identity = mix_identity(identity, source.input);
      identity = mix_identity(identity, static_cast<uint64_t>(source.channel));
    }
    identity_ = identity;
    cache_block_shape_ = default_block_shape(info_.shape);
  }

  std::string describe() const override {
    return fmt::format("channels gathered from ({})", describe_all(inputs_));
  }

  Status compute(Engine& engine, const Box5& box, const AnyArray& out,
                 const RequestContext& context) const override {
    for (size_t i = 0; i < inputs_.size(); ++i) {
      auto range = input_range(i, box);
      if (!range) continue;
      GROVE_ASSIGN_OR_RETURN(
          AnyArray data,
          engine.fetch(*inputs_[i], box.with_channels(range->first, range->second), context));
      // (output channel, input channel) pairs of this input, relative to the two boxes.
      std::vector<std::pair<int64_t, int64_t>> pairs;
      for (int64_t j = box.begin[kC]; j < box.end[kC]; ++j) {
        const ChannelSource& source = sources_[static_cast<size_t>(j)];
        if (source.input == i) pairs.emplace_back(j - box.begin[kC], source.channel - range->first);
      }
      if (data.contiguous() && out.contiguous()) {
        gather_pixels(data, out, pairs);
        continue;
      }
      for (const auto& [to, from] : pairs) {
        GROVE_RETURN_IF_ERROR(data.channels(from, from + 1).copy_into(out.channels(to, to + 1)));
      }
    }
    return ok_status();
  }

  int64_t working_bytes(const Box5& box) const override {
    int64_t held = array_bytes(box, info_.dtype), peak = 0;
    for (size_t i = 0; i < inputs_.size(); ++i) {
      auto range = input_range(i, box);
      if (!range) continue;
      const Box5 part = box.with_channels(range->first, range->second);
      held += array_bytes(part, info_.dtype);
      peak = std::max(peak, inputs_[i]->working_bytes(part));
    }
    return held + peak;
  }

  std::optional<Shape5> block_hint() const override {
    for (auto it = inputs_.rbegin(); it != inputs_.rend(); ++it) {
      if (auto hint = (*it)->block_hint()) return hint;
    }
    return std::nullopt;
  }

 private:
  // The channels [first, last) of input i that the output channels of box need, if any.
  std::optional<std::pair<int64_t, int64_t>> input_range(size_t i, const Box5& box) const {
    int64_t low = -1, high = -1;
    for (int64_t j = box.begin[kC]; j < box.end[kC]; ++j) {
      const ChannelSource& source = sources_[static_cast<size_t>(j)];
      if (source.input != i) continue;
      low = low < 0 ? source.channel : std::min(low, source.channel);
      high = std::max(high, source.channel + 1);
    }
    if (low < 0) return std::nullopt;
    return std::make_pair(low, high);
  }

  std::vector<NodePtr> inputs_;
  std::vector<ChannelSource> sources_;
};

}  // namespace

Result<NodePtr> channel_stack_node(std::vector<NodePtr> inputs) {
  GROVE_ASSIGN_OR_RETURN(ArrayInfo info, stacked_info(inputs));
  return NodePtr(std::make_shared<ChannelStackNode>(std::move(inputs), info));
}

Result<NodePtr> channel_gather_node(std::vector<NodePtr> inputs,
                                    std::vector<ChannelSource> sources) {
  GROVE_ASSIGN_OR_RETURN(ArrayInfo info, stacked_info(inputs));
  if (sources.empty()) return Error(ErrorCode::kInvalidArgument, "a channel gather needs sources");
  for (const ChannelSource& source : sources) {
    if (source.input >= inputs.size() || source.channel < 0 ||
        source.channel >= inputs[source.input]->info().shape.c()) {
      return make_error(ErrorCode::kInvalidArgument,
                        "a channel gather names channel {} of input {}, which does not exist",
                        source.channel, source.input);
    }
  }
  return NodePtr(std::make_shared<ChannelGatherNode>(std::move(inputs), std::move(sources), info));
}

}  // namespace grove
