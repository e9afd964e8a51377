// A node that stacks the channels of several nodes of one t,z,y,x shape and dtype: the channels
// of inputs[0] first, then those of inputs[1], and so on. Autocontext feeds each stage the raw
// image stacked with the previous stage's probabilities this way, and its "all stages" export
// stacks every stage's probabilities.
//
// A box of the stack asks each input for the same t,z,y,x box (the stack has no halo of its
// own), so the halos of ops downstream compose through it as they do through op nodes: an op
// that needs a halo around a block of the stack gets it computed from each input's own chain.
#pragma once

#include <vector>

#include "grove/engine/node.h"

namespace grove {

// Fails if inputs is empty, holds a null node, or the inputs differ in t,z,y,x shape or dtype.
Result<NodePtr> channel_stack_node(std::vector<NodePtr> inputs);

// Where one output channel of a gather comes from: channel `channel` of inputs[input].
struct ChannelSource {
  size_t input = 0;
  int64_t channel = 0;
};

// A node whose output channel j is sources[j] (any order, any subset): autocontext builds a
// stage's features from the raw image's features (computed once, shared with stage 1 through
// the cache) and the probability channels' features, interleaved in ilastik's channel order.
// Fails like channel_stack_node, and if a source names an input or channel that does not exist.
Result<NodePtr> channel_gather_node(std::vector<NodePtr> inputs,
                                    std::vector<ChannelSource> sources);

}  // namespace grove
