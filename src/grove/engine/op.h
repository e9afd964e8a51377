// The op contract (DESIGN.md §2). An op is plain data (its params) plus free functions found by
// argument-dependent lookup:
//
//   struct GaussianSmoothing {                       // params: a plain struct, JSON round-trip
//     double sigma = 1.0;
//     static constexpr std::string_view name = "gaussian_smoothing";
//   };
//   void to_json(nlohmann::json&, const GaussianSmoothing&);
//   void from_json(const nlohmann::json&, GaussianSmoothing&);
//   Result<ArrayInfo> infer(const GaussianSmoothing&, const ArrayInfo& input);
//   Box5 input_box(const GaussianSmoothing&, const Box5& out_box, const ArrayInfo& input);
//   Status compute(const GaussianSmoothing&, const AnyArray& in, const Box5& in_box,
//                  const AnyArray& out, const Box5& out_box);
//   // optional: std::optional<Shape5> block_hint(const P&, const ArrayInfo& input);
//   // optional: int64_t scratch_bytes(const P&, const Box5& out_box, const ArrayInfo& input);
//
// input_box returns the box of the input that out_box needs, before clipping to the input's
// bounds. The engine clips it and hands compute exactly that clipped box as (in, in_box); ops
// reflect at the edges of what they are given, which are the image borders wherever the halo
// was clipped. compute on any sub-box equals the same crop of compute on the whole image.
//
// Ops never choose blocking, threads or caching: the engine does. OpAdapter<P> turns a params
// struct into the type-erased Op the engine, CLI, server and Python module call.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "grove/core/array.h"

namespace grove {

struct ArrayInfo {
  Shape5 shape;
  DType dtype = DType::f32;
  friend bool operator==(const ArrayInfo&, const ArrayInfo&) = default;
};

class Op {
 public:
  virtual ~Op() = default;
  virtual std::string_view name() const = 0;
  virtual nlohmann::json params() const = 0;
  // Stable hash of (name, params), the op's identity in the block cache.
  uint64_t params_hash() const;
  virtual Result<ArrayInfo> infer(const ArrayInfo& input) const = 0;
  virtual Box5 input_box(const Box5& out_box, const ArrayInfo& input) const = 0;
  virtual Status compute(const AnyArray& in, const Box5& in_box, const AnyArray& out,
                         const Box5& out_box) const = 0;
  // A preferred output block shape, if the op has one (e.g. whole time points, all channels).
  virtual std::optional<Shape5> block_hint(const ArrayInfo& input) const { return std::nullopt; }
  // Temporary bytes compute needs for out_box beyond its input and output arrays (the engine
  // sizes blocks so that all blocks in flight fit the memory budget).
  virtual int64_t scratch_bytes(const Box5& out_box, const ArrayInfo& input) const { return 0; }
};

namespace op_detail {
// Unqualified calls outside any class, so argument-dependent lookup finds the op's functions.
template <class P>
Result<ArrayInfo> call_infer(const P& p, const ArrayInfo& input) {
  return infer(p, input);
}
template <class P>
Box5 call_input_box(const P& p, const Box5& out_box, const ArrayInfo& input) {
  return input_box(p, out_box, input);
}
template <class P>
Status call_compute(const P& p, const AnyArray& in, const Box5& in_box, const AnyArray& out,
                    const Box5& out_box) {
  return compute(p, in, in_box, out, out_box);
}
template <class P>
concept HasScratchBytes = requires(const P& p, const Box5& box, const ArrayInfo& info) {
  { scratch_bytes(p, box, info) } -> std::convertible_to<int64_t>;
};
template <class P>
int64_t call_scratch_bytes(const P& p, const Box5& out_box, const ArrayInfo& input) {
  return scratch_bytes(p, out_box, input);
}
template <class P>
concept HasBlockHint = requires(const P& p, const ArrayInfo& info) {
  { block_hint(p, info) } -> std::convertible_to<std::optional<Shape5>>;
};
template <class P>
std::optional<Shape5> call_block_hint(const P& p, const ArrayInfo& input) {
  return block_hint(p, input);
}
}  // namespace op_detail

template <class P>
class OpAdapter final : public Op {
 public:
  explicit OpAdapter(P params) : params_(std::move(params)) {}
  const P& get() const { return params_; }
  std::string_view name() const override { return P::name; }
  nlohmann::json params() const override { return nlohmann::json(params_); }
  Result<ArrayInfo> infer(const ArrayInfo& input) const override {
    return op_detail::call_infer(params_, input);
  }
  Box5 input_box(const Box5& out_box, const ArrayInfo& input) const override {
    return op_detail::call_input_box(params_, out_box, input);
  }
  Status compute(const AnyArray& in, const Box5& in_box, const AnyArray& out,
                 const Box5& out_box) const override {
    return op_detail::call_compute(params_, in, in_box, out, out_box);
  }
  std::optional<Shape5> block_hint(const ArrayInfo& input) const override {
    if constexpr (op_detail::HasBlockHint<P>) {
      return op_detail::call_block_hint(params_, input);
    } else {
      return std::nullopt;
    }
  }
  int64_t scratch_bytes(const Box5& out_box, const ArrayInfo& input) const override {
    if constexpr (op_detail::HasScratchBytes<P>) {
      return op_detail::call_scratch_bytes(params_, out_box, input);
    } else {
      return 0;
    }
  }

 private:
  P params_;
};

template <class P>
std::shared_ptr<const Op> make_op(P params) {
  return std::make_shared<OpAdapter<P>>(std::move(params));
}

}  // namespace grove
