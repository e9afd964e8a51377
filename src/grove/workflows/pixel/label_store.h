// Sparse labels of one image: uint8 class ids (0 = unlabelled, k = class k) kept only in the
// blocks a user painted. A 1024² image with a few strokes costs a few 64² blocks, not a
// megabyte; a 4 GB volume with strokes on three slices costs a few slices' worth.
// Thread-safe: the UI paints while training reads.
#pragma once

#include <map>
#include <shared_mutex>
#include <vector>

#include "grove/core/array.h"

namespace grove {

// The previous contents of a box, returned by every edit so that it can be undone.
struct LabelEdit {
  Box5 box;
  AnyArray previous;  // uint8, box.shape()
};

class LabelStore {
 public:
  // shape: the image's t,z,y,x (its channel extent is ignored; labels have one channel).
  explicit LabelStore(const Shape5& image_shape);
  LabelStore(const LabelStore& other);
  LabelStore& operator=(const LabelStore& other);

  const Shape5& shape() const { return shape_; }
  const Shape5& block_shape() const { return block_shape_; }

  // Writes a dense uint8 (or any integer dtype < 256) array into box, 0 included (erases).
  Result<LabelEdit> write(const Box5& box, const AnyArray& labels);
  // Sets the pixels of box where mask (integer or bool, box.shape()) is nonzero to value
  // (0 erases).
  Result<LabelEdit> paint(const Box5& box, const AnyArray& mask, uint8_t value);
  // Puts back what an edit replaced; returns the edit that redoes it.
  Result<LabelEdit> undo(const LabelEdit& edit) { return write(edit.box, edit.previous); }
  // Removes every label (or every label of one class).
  void clear();
  void clear_class(uint8_t value);
  // Replaces class `from` by `to` (e.g. when a class is removed and later ones move down).
  void relabel(uint8_t from, uint8_t to);

  // Dense labels of box (zeros where nothing is painted).
  Result<AnyArray> read(const Box5& box) const;
  // Boxes of the blocks that hold at least one label, in block order.
  std::vector<Box5> labelled_blocks() const;
  // Number of labelled pixels per class value (index 0 unused), up to the highest value used.
  std::vector<int64_t> counts() const;
  bool empty() const;
  // Bumped on every change (for caches and the UI).
  uint64_t generation() const;

 private:
  Result<LabelEdit> apply(const Box5& box, const AnyArray& mask_or_labels, bool write_values,
                          uint8_t value);
  Box5 block_box(int64_t index) const;
  void prune_empty_locked();

  Shape5 shape_;
  Shape5 block_shape_;
  mutable std::shared_mutex mutex_;
  std::map<int64_t, std::vector<uint8_t>> blocks_;  // block index -> dense block (C order)
  uint64_t generation_ = 0;
};

}  // namespace grove
