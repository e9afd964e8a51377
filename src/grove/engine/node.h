// Nodes of a lazy computation: an input (an image file, or an array in memory) or an op applied
// to another node. Nodes are immutable and shared; building them computes nothing. The engine
// computes any box of a node on demand, block by block.
#pragma once

#include <memory>
#include <string>

#include "grove/engine/op.h"
#include "grove/io/image.h"

namespace grove {

class Engine;
struct RequestContext;

class Node {
 public:
  virtual ~Node() = default;
  const ArrayInfo& info() const { return info_; }
  // Identity in the block cache: equal identities compute equal arrays.
  uint64_t identity() const { return identity_; }
  // Whether the engine keeps this node's blocks in its cache (interactive use).
  bool cacheable() const { return cacheable_; }
  // The blocking used for caching this node (fixed, so cache keys are stable).
  const Shape5& cache_block_shape() const { return cache_block_shape_; }
  // A short description for error context ("gaussian_smoothing of raw.h5/data").
  virtual std::string describe() const = 0;

  // Computes box (inside [0, info().shape)) into out (shape box.shape(), dtype info().dtype).
  virtual Status compute(Engine& engine, const Box5& box, const AnyArray& out,
                         const RequestContext& context) const = 0;
  // Bytes needed to compute box (this node's inputs, output and scratch, recursively).
  virtual int64_t working_bytes(const Box5& box) const = 0;
  // Preferred output block shape (op hints), if any.
  virtual std::optional<Shape5> block_hint() const { return std::nullopt; }

 protected:
  ArrayInfo info_;
  uint64_t identity_ = 0;
  bool cacheable_ = false;
  Shape5 cache_block_shape_;
};

using NodePtr = std::shared_ptr<const Node>;

// An image read through an io reader. identity should name the data (path + modification time),
// so that cache entries of a changed file are not reused.
NodePtr input_node(std::shared_ptr<ImageReader> reader, const std::string& identity);
// Opens path with the io layer and wraps it (identity: path, size and modification time).
Result<NodePtr> open_input_node(const std::string& path);
// An array held in memory (the UI's and Python's images).
NodePtr array_node(AnyArray array, const std::string& identity);
// op applied to input. Fails if the op rejects the input (infer).
Result<NodePtr> apply_op(std::shared_ptr<const Op> op, NodePtr input, bool cacheable = false);

}  // namespace grove
