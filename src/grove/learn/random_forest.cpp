#include "grove/learn/random_forest.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

#if defined(__AVX__)
#include <immintrin.h>
#endif

namespace grove {

std::string_view forest_kind_name(ForestKind kind) {
  switch (kind) {
    case ForestKind::kClassification: return "classification";
    case ForestKind::kRegression: return "regression";
  }
  return "unknown";
}

float threshold_as_float(double threshold) {
  if (std::isnan(threshold)) return std::numeric_limits<float>::quiet_NaN();
  if (threshold > static_cast<double>(std::numeric_limits<float>::max()))
    return std::numeric_limits<float>::infinity();
  if (threshold < -static_cast<double>(std::numeric_limits<float>::max()))
    return -std::numeric_limits<float>::max();  // only -inf lies below
  float rounded = static_cast<float>(threshold);
  if (static_cast<double>(rounded) < threshold)
    rounded = std::nextafter(rounded, std::numeric_limits<float>::infinity());
  return rounded;
}

float threshold_between(float a, float b) {
  // The midpoint of two floats is exact in double; rounding it up keeps a < t <= b.
  return threshold_as_float(0.5 * (static_cast<double>(a) + static_cast<double>(b)));
}

namespace {

Error corrupt(const std::string& what) {
  return Error(ErrorCode::kCorrupt, "random forest: " + what);
}

Status check_offsets(const std::vector<int64_t>& begin, int64_t total, const char* what) {
  if (begin.size() < 2) return corrupt(fmt::format("no trees ({} offsets)", what));
  if (begin.front() != 0) return corrupt(fmt::format("{} offsets do not start at 0", what));
  for (size_t t = 1; t < begin.size(); ++t) {
    if (begin[t] <= begin[t - 1])
      return corrupt(fmt::format("tree {} has no {} (offsets {} then {})", t - 1, what,
                                 begin[t - 1], begin[t]));
    if (begin[t] - begin[t - 1] > std::numeric_limits<int32_t>::max())
      return corrupt(fmt::format("tree {} has too many {}", t - 1, what));
  }
  if (begin.back() != total)
    return corrupt(fmt::format("{} offsets end at {} but there are {}", what, begin.back(), total));
  return ok_status();
}

bool row_has_nan(const float* row, int64_t columns) {
  bool nan = false;
  for (int64_t c = 0; c < columns; ++c) nan |= std::isnan(row[c]);
  return nan;
}

// Prediction works on blocks of 64 rows, transposed: feature f of row r is at
// x[f * kBlockRows + r], so the values one node compares for the block are adjacent in memory
// (8 vector loads), and the block (49 features: 12.5 KiB) stays in the L1 cache.
constexpr int64_t kBlockRows = 64;

#if defined(__AVX__)
// Transposes 8 rows × 8 columns: in[i * in_stride + j] goes to out[j * kBlockRows + i]. Lane i
// of nan is set when row i holds a NaN (lanes already set stay set).
inline void transpose_8x8(const float* in, int64_t in_stride, float* out, __m256& nan) {
  __m256 r[8], t[8], s[8];
  for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(in + i * in_stride);
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 8; i += 4) {
    s[i] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    s[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    s[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    s[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  // s[k] holds columns k and k + 4 of rows 0-3, s[k + 4] the same of rows 4-7.
  for (int k = 0; k < 4; ++k) {
    const __m256 first = _mm256_permute2f128_ps(s[k], s[k + 4], 0x20);
    const __m256 second = _mm256_permute2f128_ps(s[k], s[k + 4], 0x31);
    _mm256_storeu_ps(out + k * kBlockRows, first);
    _mm256_storeu_ps(out + (k + 4) * kBlockRows, second);
    nan = _mm256_or_ps(nan, _mm256_cmp_ps(first, second, _CMP_UNORD_Q));
  }
}
#endif

// Copies rows begin .. begin + rows (rows <= kBlockRows) into the transposed block; returns the
// rows that hold a NaN (bit r: row begin + r), found on the way.
uint64_t transpose_block(FeatureMatrix features, int64_t begin, int64_t rows, float* transposed) {
  const int64_t columns = features.columns;
  uint64_t nan_rows = 0;
  int64_t r = 0;
#if defined(__AVX__)
  for (; r + 8 <= rows; r += 8) {
    const float* x = features.row(begin + r);
    __m256 nan = _mm256_setzero_ps();
    int64_t c = 0;
    for (; c + 8 <= columns; c += 8)
      transpose_8x8(x + c, features.row_stride, transposed + c * kBlockRows + r, nan);
    unsigned nan_lanes = static_cast<unsigned>(_mm256_movemask_ps(nan));
    for (; c < columns; ++c) {
      for (int64_t i = 0; i < 8; ++i) {
        const float value = x[i * features.row_stride + c];
        transposed[c * kBlockRows + r + i] = value;
        nan_lanes |= static_cast<unsigned>(std::isnan(value)) << i;
      }
    }
    nan_rows |= static_cast<uint64_t>(nan_lanes) << r;
  }
#endif
  for (; r < rows; ++r) {
    const float* x = features.row(begin + r);
    for (int64_t c = 0; c < columns; ++c) transposed[c * kBlockRows + r] = x[c];
    nan_rows |= static_cast<uint64_t>(row_has_nan(x, columns)) << r;
  }
  return nan_rows;
}

// The first address at or after `address` on a 64-byte boundary.
template <class T>
T* align_to_cache_line(T* address) {
  const auto bits = reinterpret_cast<std::uintptr_t>(address);
  return reinterpret_cast<T*>((bits + 63) & ~std::uintptr_t{63});
}

// Where walks end: a leaf's values, or an inner node's when a depth limit stops the walk.
struct ValueTables {
  const float* leaf;
  const float* inner;
  int64_t outputs;
};

// A node still to visit with the rows of the block that reached it (bit r: row r).
struct PendingWalk {
  int32_t node;
  int32_t depth;
  uint64_t rows;
};

// Bit r set when row r's feature value (column points at the feature's 64 values) is below the
// threshold. NaN compares false, so NaN goes right, as in ForestNode::next.
inline uint64_t rows_below(const float* column, float threshold) {
#if defined(__AVX2__)
  // The 8 compares' lanes are packed to bytes (32 bit -> 16 -> 8, which interleaves the 128-bit
  // halves; one permute restores the row order) so that two byte movemasks give all 64 bits.
  const __m256 t = _mm256_set1_ps(threshold);
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  auto below = [&](int group) {
    return _mm256_castps_si256(_mm256_cmp_ps(_mm256_load_ps(column + 8 * group), t, _CMP_LT_OQ));
  };
  auto bits32 = [&](int first) {
    const __m256i low = _mm256_packs_epi32(below(first), below(first + 1));
    const __m256i high = _mm256_packs_epi32(below(first + 2), below(first + 3));
    const __m256i bytes = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(low, high), order);
    return static_cast<uint32_t>(_mm256_movemask_epi8(bytes));
  };
  return static_cast<uint64_t>(bits32(0)) | (static_cast<uint64_t>(bits32(4)) << 32);
#elif defined(__AVX__)
  const __m256 t = _mm256_set1_ps(threshold);
  uint64_t below = 0;
  for (int group = 0; group < 8; ++group) {
    const __m256 values = _mm256_loadu_ps(column + 8 * group);
    below |= static_cast<uint64_t>(
                 static_cast<unsigned>(_mm256_movemask_ps(_mm256_cmp_ps(values, t, _CMP_LT_OQ))))
             << (8 * group);
  }
  return below;
#else
  uint64_t below = 0;
  for (int r = 0; r < kBlockRows; ++r) below |= static_cast<uint64_t>(column[r] < threshold) << r;
  return below;
#endif
}

// Adds value to the sums of the rows in the bit set (sum is outputs × kBlockRows, class-major),
// 8 rows at a time. Rows outside the set get -0.0f added, which leaves every float as it is
// (-0.0 is the exact identity of addition, +0.0 and -0.0 included), so each row still gets
// exactly the additions of the naive walk, and no branch depends on which lanes are set.
// The sums are floats, added in tree order, as VIGRA sums its trees' votes (into the float32
// probability array ilastik hands it).
template <int kOutputs>
inline void add_to_rows(float* sum, uint64_t rows, const float* value, int64_t outputs) {
  if constexpr (kOutputs > 0) outputs = kOutputs;
#if defined(__AVX2__)
  // Shifting lane i's copy of the group's 8 bits left by 31 - i puts bit i into the sign bit,
  // which is all that blendv looks at.
  const __m256i shifts = _mm256_setr_epi32(31, 30, 29, 28, 27, 26, 25, 24);
  const __m256 identity = _mm256_set1_ps(-0.0f);
  // All 8 groups, without a loop that branches on which are set: the branches mispredicted
  // more than the blends of empty groups cost.
  for (int group = 0; group < 8; ++group) {
    const auto lanes = static_cast<int32_t>((rows >> (8 * group)) & 0xFF);
    const __m256 select = _mm256_castsi256_ps(_mm256_sllv_epi32(_mm256_set1_epi32(lanes), shifts));
    for (int64_t c = 0; c < outputs; ++c) {
      float* s = sum + c * kBlockRows + 8 * group;
      const __m256 add = _mm256_blendv_ps(identity, _mm256_set1_ps(value[c]), select);
      _mm256_storeu_ps(s, _mm256_add_ps(_mm256_loadu_ps(s), add));
    }
  }
#else
  for (; rows != 0; rows &= rows - 1) {
    const int row = std::countr_zero(rows);
    for (int64_t c = 0; c < outputs; ++c) sum[c * kBlockRows + row] += value[c];
  }
#endif
}

// Where the rows of a block end in one tree, collected during the walk and added at its end:
// each row gets the slot (0-6) of its leaf, one byte per row, and the end of the walk adds
// the slots' values with one table lookup (vpermps) per 8 rows, instead of blending each
// leaf's values into the sums (a walk ends in about three leaves, each blended into up to 8
// row groups). Slot 7 holds -0.0, the identity of addition, for rows that take none of the
// slots: leaves after the seventh of a walk are added directly by add_to_rows. Every row thus
// gets exactly one value per tree, as in the naive walk.
template <int kOutputs>
class LeafSlots {
 public:
  static constexpr bool kTable = kOutputs > 0
#if !defined(__AVX2__)
                                 && false
#endif
      ;

  explicit LeafSlots(int64_t outputs) : outputs_(outputs) {
#if defined(__AVX2__)
    if constexpr (kTable) {
      slot_[0] = slot_[1] = _mm256_set1_epi8(kIdentitySlot);
      for (auto& table : values_) std::fill(table, table + 8, -0.0f);
    }
#endif
  }

  void add(float* sum, uint64_t rows, const float* value) {
#if defined(__AVX2__)
    if constexpr (kTable) {
      if (used_ < kIdentitySlot) {
        for (int c = 0; c < kOutputs; ++c) values_[c][used_] = value[c];
        const __m256i id = _mm256_set1_epi8(static_cast<char>(used_));
        const __m256i bits = _mm256_set1_epi64x(static_cast<int64_t>(rows));
        slot_[0] = _mm256_blendv_epi8(slot_[0], id, row_bytes(bits, 0));
        slot_[1] = _mm256_blendv_epi8(slot_[1], id, row_bytes(bits, 4));
        ++used_;
        return;
      }
    }
#endif
    add_to_rows<kOutputs>(sum, rows, value, outputs_);
  }

  // Adds the slots' values to the sums (nothing to do without the table).
  void finish(float* sum) const {
#if defined(__AVX2__)
    if constexpr (kTable) {
      alignas(32) uint8_t slots[kBlockRows];
      _mm256_store_si256(reinterpret_cast<__m256i*>(slots), slot_[0]);
      _mm256_store_si256(reinterpret_cast<__m256i*>(slots + 32), slot_[1]);
      __m256 table[kOutputs];
      for (int c = 0; c < kOutputs; ++c) table[c] = _mm256_loadu_ps(values_[c]);
      for (int group = 0; group < kBlockRows / 8; ++group) {
        const __m256i index = _mm256_cvtepu8_epi32(
            _mm_loadl_epi64(reinterpret_cast<const __m128i*>(slots + 8 * group)));
        for (int c = 0; c < kOutputs; ++c) {
          float* s = sum + c * kBlockRows + 8 * group;
          _mm256_storeu_ps(
              s, _mm256_add_ps(_mm256_loadu_ps(s), _mm256_permutevar8x32_ps(table[c], index)));
        }
      }
    }
#else
    (void)sum;
#endif
  }

 private:
#if defined(__AVX2__)
  static constexpr int kIdentitySlot = 7;
  // 0xFF in byte i for the rows (first_byte * 8 + i) that are set in the 64-bit row mask
  // broadcast in bits: byte i takes mask byte first_byte + i / 8 and tests bit i % 8 of it.
  static __m256i row_bytes(__m256i bits, char first_byte) {
    const char b = first_byte;
    const __m256i spread = _mm256_setr_epi8(b, b, b, b, b, b, b, b, b + 1, b + 1, b + 1, b + 1,
                                            b + 1, b + 1, b + 1, b + 1,  //
                                            b + 2, b + 2, b + 2, b + 2, b + 2, b + 2, b + 2, b + 2,
                                            b + 3, b + 3, b + 3, b + 3, b + 3, b + 3, b + 3, b + 3);
    const __m256i bit = _mm256_set1_epi64x(static_cast<int64_t>(0x8040201008040201ull));
    const __m256i bytes = _mm256_shuffle_epi8(bits, spread);
    return _mm256_cmpeq_epi8(_mm256_and_si256(bytes, bit), bit);
  }
  __m256i slot_[2];
  float values_[kOutputs > 0 ? kOutputs : 1][8];
  int used_ = 0;
#endif
  int64_t outputs_;
};

// Walks the rows of a transposed block through one tree, all together: a node is visited once
// with the set of rows that reached it (one vector compare per 8 rows), and the set splits as
// the rows part. Neighbouring pixels mostly take the same path, so a tree costs about a dozen
// node visits per block instead of a walk per row. Each row's sums get exactly one addition per
// tree, in tree order, as in the naive walk, so the results are the same bit for bit.
// kOutputs: the number of outputs when known at compile time (2, the usual case), else 0.
template <bool kLimited, int kOutputs>
void walk_block(const ForestNode* nodes, const float* x, int64_t rows, const ValueTables& tables,
                int max_depth, float* sum) {
  const int64_t outputs = kOutputs > 0 ? kOutputs : tables.outputs;
  // Pending walks hold nonempty, disjoint sets of rows, and the current walk holds another:
  // at most kBlockRows - 1 wait at any time.
  PendingWalk stack[kBlockRows];
  int pending = 0;
  PendingWalk at{0, 0, rows >= 64 ? ~uint64_t{0} : (uint64_t{1} << rows) - 1};
  LeafSlots<kOutputs> leaves(outputs);
  for (;;) {
    if constexpr (kLimited) {
      if (at.depth >= max_depth) {
        leaves.add(sum, at.rows, tables.inner + static_cast<int64_t>(at.node) * outputs);
        if (pending == 0) return leaves.finish(sum);
        at = stack[--pending];
        continue;
      }
    }
    const ForestNode& node = nodes[at.node];
    const uint64_t below =
        rows_below(x + static_cast<int64_t>(node.feature) * kBlockRows, node.threshold);
    uint64_t left = at.rows & below;
    uint64_t right = at.rows & ~below;
    const int32_t left_child = node.children[0];
    const int32_t right_child = node.children[1];
    if (right_child < 0 && right != 0) {
      leaves.add(sum, right, tables.leaf + ForestNode::leaf_of(right_child) * outputs);
      right = 0;
    }
    if (left_child < 0 && left != 0) {
      leaves.add(sum, left, tables.leaf + ForestNode::leaf_of(left_child) * outputs);
      left = 0;
    }
    if (left != 0) {
      if (right != 0) stack[pending++] = {right_child, at.depth + 1, right};
      at = {left_child, at.depth + 1, left};
    } else if (right != 0) {
      at = {right_child, at.depth + 1, right};
    } else if (pending > 0) {
      at = stack[--pending];
    } else {
      return leaves.finish(sum);
    }
  }
}

}  // namespace

Result<RandomForest> RandomForest::create(ForestParts parts) {
  if (parts.kind != ForestKind::kClassification && parts.kind != ForestKind::kRegression)
    return corrupt("unknown kind");
  if (parts.feature_count < 1 || parts.feature_count > std::numeric_limits<int32_t>::max())
    return corrupt(fmt::format("feature count {} out of range", parts.feature_count));
  if (parts.output_count < 1 || parts.output_count > (1 << 20))
    return corrupt(fmt::format("output count {} out of range", parts.output_count));
  if (parts.kind == ForestKind::kClassification) {
    if (static_cast<int64_t>(parts.class_labels.size()) != parts.output_count)
      return corrupt(fmt::format("{} class labels for {} classes", parts.class_labels.size(),
                                 parts.output_count));
    for (size_t k = 1; k < parts.class_labels.size(); ++k)
      if (parts.class_labels[k] <= parts.class_labels[k - 1])
        return corrupt("class labels are not strictly ascending");
  } else if (!parts.class_labels.empty()) {
    return corrupt("a regression forest has class labels");
  }
  const int64_t node_total = static_cast<int64_t>(parts.nodes.size());
  const int64_t leaf_total = static_cast<int64_t>(parts.leaf_weights.size());
  GROVE_RETURN_IF_ERROR(check_offsets(parts.tree_node_begin, node_total, "nodes"));
  GROVE_RETURN_IF_ERROR(check_offsets(parts.tree_leaf_begin, leaf_total, "leaves"));
  if (parts.tree_node_begin.size() != parts.tree_leaf_begin.size())
    return corrupt("node and leaf offsets disagree on the number of trees");
  if (static_cast<int64_t>(parts.leaf_values.size()) != leaf_total * parts.output_count)
    return corrupt(fmt::format("{} leaf values for {} leaves of {} outputs",
                               parts.leaf_values.size(), leaf_total, parts.output_count));
  for (float v : parts.leaf_values)
    if (!std::isfinite(v)) return corrupt("a leaf value is not finite");
  for (float w : parts.leaf_weights)
    if (!std::isfinite(w) || w < 0) return corrupt("a leaf weight is negative or not finite");
  if (!parts.training.gini_importance.empty() &&
      static_cast<int64_t>(parts.training.gini_importance.size()) != parts.feature_count)
    return corrupt("feature importance does not have one value per feature");

  const int64_t trees = static_cast<int64_t>(parts.tree_node_begin.size()) - 1;
  std::vector<int32_t> depth;
  int deepest = 0;
  for (int64_t t = 0; t < trees; ++t) {
    const int64_t first = parts.tree_node_begin[t];
    const int64_t nodes = parts.tree_node_begin[t + 1] - first;
    const int64_t leaves = parts.tree_leaf_begin[t + 1] - parts.tree_leaf_begin[t];
    depth.assign(nodes, 0);
    for (int64_t i = 0; i < nodes; ++i) {
      const ForestNode& node = parts.nodes[first + i];
      if (node.feature >= parts.feature_count)
        return corrupt(fmt::format("tree {} node {} splits on feature {} of {}", t, i, node.feature,
                                   parts.feature_count));
      if (std::isnan(node.threshold))
        return corrupt(fmt::format("tree {} node {} has a NaN threshold", t, i));
      for (int32_t child : {node.left(), node.right()}) {
        if (ForestNode::is_leaf(child)) {
          if (ForestNode::leaf_of(child) >= leaves)
            return corrupt(fmt::format("tree {} node {} points to leaf {} of {}", t, i,
                                       ForestNode::leaf_of(child), leaves));
          deepest = std::max(deepest, depth[i] + 1);
        } else {
          // Children after their parent: every walk moves forward, so it ends.
          if (child <= i || child >= nodes)
            return corrupt(
                fmt::format("tree {} node {} points to node {} (tree has {})", t, i, child, nodes));
          depth[child] = depth[i] + 1;
        }
      }
    }
  }
  RandomForest forest;
  forest.parts_ = std::move(parts);
  forest.max_depth_ = deepest;
  forest.compute_internal_values();
  return forest;
}

void RandomForest::compute_internal_values() {
  const int64_t outputs = parts_.output_count;
  internal_values_.assign(parts_.nodes.size() * outputs, 0.0f);
  std::vector<double> weight, sum(outputs);
  for (int64_t t = 0; t < tree_count(); ++t) {
    const int64_t first = parts_.tree_node_begin[t];
    const int64_t nodes = parts_.tree_node_begin[t + 1] - first;
    const int64_t first_leaf = parts_.tree_leaf_begin[t];
    weight.assign(nodes, 0.0);
    // Children come after parents, so a backward sweep meets children first.
    for (int64_t i = nodes - 1; i >= 0; --i) {
      const ForestNode& node = parts_.nodes[first + i];
      double total = 0.0;
      std::fill(sum.begin(), sum.end(), 0.0);
      const float* child_values[2];
      double child_weight[2];
      int side = 0;
      for (int32_t child : {node.left(), node.right()}) {
        if (ForestNode::is_leaf(child)) {
          const int64_t leaf = first_leaf + ForestNode::leaf_of(child);
          child_values[side] = &parts_.leaf_values[leaf * outputs];
          child_weight[side] = parts_.leaf_weights[leaf];
        } else {
          child_values[side] = &internal_values_[(first + child) * outputs];
          child_weight[side] = weight[child];
        }
        total += child_weight[side];
        ++side;
      }
      for (int s = 0; s < 2; ++s) {
        // Without weights (all zero), the two sides count equally.
        const double w = total > 0 ? child_weight[s] : 1.0;
        for (int64_t c = 0; c < outputs; ++c) sum[c] += w * child_values[s][c];
      }
      const double norm = total > 0 ? total : 2.0;
      for (int64_t c = 0; c < outputs; ++c)
        internal_values_[(first + i) * outputs + c] = static_cast<float>(sum[c] / norm);
      weight[i] = total;
    }
  }
}

Result<RandomForest> RandomForest::merge(std::span<const RandomForest> forests) {
  if (forests.empty()) return make_error(ErrorCode::kInvalidArgument, "no forests to merge");
  const RandomForest& first = forests.front();
  ForestParts parts;
  parts.kind = first.kind();
  parts.feature_count = first.feature_count();
  parts.output_count = first.output_count();
  parts.class_labels = first.class_labels();
  parts.tree_node_begin = {0};
  parts.tree_leaf_begin = {0};
  for (size_t f = 0; f < forests.size(); ++f) {
    const ForestParts& p = forests[f].parts();
    if (forests[f].empty()) return make_error(ErrorCode::kInvalidArgument, "forest {} is empty", f);
    if (p.kind != parts.kind || p.feature_count != parts.feature_count ||
        p.output_count != parts.output_count || p.class_labels != parts.class_labels)
      return make_error(ErrorCode::kInvalidArgument,
                        "forest {} ({} features, {} outputs) does not match forest 0 ({} "
                        "features, {} outputs) in kind, features, outputs or class labels",
                        f, p.feature_count, p.output_count, parts.feature_count,
                        parts.output_count);
    const int64_t node_base = static_cast<int64_t>(parts.nodes.size());
    const int64_t leaf_base = static_cast<int64_t>(parts.leaf_weights.size());
    parts.nodes.insert(parts.nodes.end(), p.nodes.begin(), p.nodes.end());
    parts.leaf_values.insert(parts.leaf_values.end(), p.leaf_values.begin(), p.leaf_values.end());
    parts.leaf_weights.insert(parts.leaf_weights.end(), p.leaf_weights.begin(),
                              p.leaf_weights.end());
    for (size_t t = 1; t < p.tree_node_begin.size(); ++t) {
      parts.tree_node_begin.push_back(node_base + p.tree_node_begin[t]);
      parts.tree_leaf_begin.push_back(leaf_base + p.tree_leaf_begin[t]);
    }
  }
  return create(std::move(parts));
}

std::span<const ForestNode> RandomForest::tree_nodes(int64_t tree) const {
  const int64_t begin = parts_.tree_node_begin[tree];
  return {parts_.nodes.data() + begin,
          static_cast<size_t>(parts_.tree_node_begin[tree + 1] - begin)};
}

const float* RandomForest::tree_leaf_values(int64_t tree) const {
  return parts_.leaf_values.data() + parts_.tree_leaf_begin[tree] * parts_.output_count;
}

Status RandomForest::check_prediction_shapes(FeatureMatrix features, MatrixView<float> out) const {
  if (empty()) return make_error(ErrorCode::kInvalidArgument, "the random forest has no trees");
  if (features.columns != feature_count())
    return make_error(ErrorCode::kInvalidArgument,
                      "the random forest expects {} features per sample, the input has {}",
                      feature_count(), features.columns);
  if (features.rows < 0 || features.row_stride < features.columns ||
      (features.rows > 0 && features.data == nullptr))
    return make_error(ErrorCode::kInvalidArgument, "invalid feature matrix ({} rows, stride {})",
                      features.rows, features.row_stride);
  if (out.rows != features.rows || out.columns != output_count() || out.row_stride < out.columns ||
      (out.rows > 0 && out.data == nullptr))
    return make_error(ErrorCode::kInvalidArgument,
                      "prediction output is {}×{}, expected {}×{} (samples × {})", out.rows,
                      out.columns, features.rows, output_count(),
                      kind() == ForestKind::kClassification ? "classes" : "outputs");
  return ok_status();
}

void RandomForest::predict_block(FeatureMatrix features, MatrixView<float> out,
                                 int max_depth) const {
  const int64_t columns = features.columns;
  const int64_t outputs = output_count();
  const int64_t trees = tree_count();
  const double tree_total = static_cast<double>(trees);
  const float nan_value =
      kind() == ForestKind::kClassification ? 0.0f : std::numeric_limits<float>::quiet_NaN();
  // Both on cache-line boundaries, so that no vector load or store straddles two lines. The
  // block is zero-initialised: rows past the end of a short block are compared (and ignored),
  // never uninitialised.
  std::vector<float> transposed_storage(columns * kBlockRows + 16, 0.0f);
  std::vector<float> sum_storage(outputs * kBlockRows + 16);
  float* transposed = align_to_cache_line(transposed_storage.data());
  float* sum = align_to_cache_line(sum_storage.data());
  for (int64_t begin = 0; begin < features.rows; begin += kBlockRows) {
    const int64_t rows = std::min(kBlockRows, features.rows - begin);
    const uint64_t nan_rows = transpose_block(features, begin, rows, transposed);
    std::fill(sum, sum + outputs * kBlockRows, 0.0f);
    const float* x = transposed;
    for (int64_t t = 0; t < trees; ++t) {
      const ForestNode* nodes = parts_.nodes.data() + parts_.tree_node_begin[t];
      const ValueTables tables{tree_leaf_values(t),
                               internal_values_.data() + parts_.tree_node_begin[t] * outputs,
                               outputs};
      if (max_depth > 0) {
        if (outputs == 2)
          walk_block<true, 2>(nodes, x, rows, tables, max_depth, sum);
        else
          walk_block<true, 0>(nodes, x, rows, tables, max_depth, sum);
      } else if (outputs == 2) {
        walk_block<false, 2>(nodes, x, rows, tables, max_depth, sum);
      } else {
        walk_block<false, 0>(nodes, x, rows, tables, max_depth, sum);
      }
    }
    for (int64_t r = 0; r < rows; ++r) {
      float* o = out.row(begin + r);
      const bool nan = (nan_rows >> r) & 1;
      for (int64_t c = 0; c < outputs; ++c)
        o[c] = nan ? nan_value
                   : static_cast<float>(static_cast<double>(sum[c * kBlockRows + r]) / tree_total);
    }
  }
}

Status RandomForest::predict(FeatureMatrix features, MatrixView<float> out, ThreadPool* pool,
                             const PredictOptions& options) const {
  GROVE_RETURN_IF_ERROR(check_prediction_shapes(features, out));
  if (options.max_depth < 0)
    return make_error(ErrorCode::kInvalidArgument, "max_depth {} < 0", options.max_depth);
  const int64_t block =
      options.block_rows > 0 ? std::min<int64_t>(options.block_rows, 1 << 20) : 1024;
  const int64_t blocks = (features.rows + block - 1) / block;
  auto run = [&](int64_t b) {
    const int64_t begin = b * block;
    const int64_t end = std::min(features.rows, begin + block);
    predict_block(features.row_range(begin, end), out.row_range(begin, end), options.max_depth);
  };
  if (pool != nullptr && blocks > 1) {
    pool->parallel_for(blocks, run);
  } else {
    for (int64_t b = 0; b < blocks; ++b) run(b);
  }
  return ok_status();
}

Status RandomForest::predict_naive(FeatureMatrix features, MatrixView<float> out,
                                   const PredictOptions& options) const {
  GROVE_RETURN_IF_ERROR(check_prediction_shapes(features, out));
  const int64_t outputs = output_count();
  std::vector<float> sum(outputs);
  for (int64_t r = 0; r < features.rows; ++r) {
    const float* row = features.row(r);
    std::fill(sum.begin(), sum.end(), 0.0f);
    for (int64_t t = 0; t < tree_count(); ++t) {
      const ForestNode* nodes = parts_.nodes.data() + parts_.tree_node_begin[t];
      const float* values = tree_leaf_values(t);
      const float* inner = internal_values_.data() + parts_.tree_node_begin[t] * outputs;
      int32_t at = 0;
      const float* value = nullptr;
      for (int depth = 0; value == nullptr; ++depth) {
        if (options.max_depth > 0 && depth >= options.max_depth) {
          value = inner + static_cast<int64_t>(at) * outputs;
          break;
        }
        const ForestNode& node = nodes[at];
        const int32_t next = node.next(row[node.feature]);
        if (ForestNode::is_leaf(next))
          value = values + ForestNode::leaf_of(next) * outputs;
        else
          at = next;
      }
      for (int64_t c = 0; c < outputs; ++c) sum[c] += value[c];
    }
    float* o = out.row(r);
    for (int64_t c = 0; c < outputs; ++c) {
      if (row_has_nan(row, features.columns))
        o[c] =
            kind() == ForestKind::kClassification ? 0.0f : std::numeric_limits<float>::quiet_NaN();
      else
        o[c] = static_cast<float>(static_cast<double>(sum[c]) / static_cast<double>(tree_count()));
    }
  }
  return ok_status();
}

Result<std::vector<int32_t>> RandomForest::predict_labels(FeatureMatrix features,
                                                          ThreadPool* pool) const {
  if (kind() != ForestKind::kClassification)
    return make_error(ErrorCode::kInvalidArgument, "predict_labels needs a classification forest");
  std::vector<float> probabilities(features.rows * output_count());
  GROVE_RETURN_IF_ERROR(predict(
      features, MatrixView<float>(probabilities.data(), features.rows, output_count()), pool));
  std::vector<int32_t> labels(features.rows);
  for (int64_t r = 0; r < features.rows; ++r) {
    const float* p = &probabilities[r * output_count()];
    labels[r] = class_labels()[std::max_element(p, p + output_count()) - p];
  }
  return labels;
}

}  // namespace grove
