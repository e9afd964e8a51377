// Axis bookkeeping shared by the readers and writers: the axis order an array is stored in
// ("zyx", "tyxc", "txyc", ...) versus grove's t,z,y,x,c (DESIGN.md §3), the rule that guesses the
// axes of a file that does not name them, and views that present stored data as t,z,y,x,c.
//
// The guess, by the number of stored dimensions (used for HDF5 without axistags and .npy):
//   1: x          2: yx
//   3: yxc if the last extent is <= 4 (an RGB(A) or few-channel image), else zyx
//   4: zyxc if the last extent is <= 4, else tzyx
//   5: tzyxc
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "grove/core/array.h"
#include "grove/core/result.h"

namespace grove::io {

// Index of an axis letter in t,z,y,x,c (upper or lower case), or -1.
int axis_index(char letter);

// Checks that axes has one letter per dimension, all from "tzyxc", none twice.
Status validate_axes(std::string_view axes, size_t rank);

// The axes assumed for stored dims the file does not describe (rule above).
Result<std::string> guess_axes(const std::vector<int64_t>& dims);

// The t,z,y,x,c shape of stored dims with these axes (absent axes get extent 1).
Shape5 shape_from_stored(const std::vector<int64_t>& dims, std::string_view axes);

// The stored dims of a t,z,y,x,c shape stored with these axes.
std::vector<int64_t> stored_dims(const Shape5& shape, std::string_view axes);

// The part of a t,z,y,x,c box in the stored dims (start, count per stored dim).
void stored_box(const Box5& box, std::string_view axes, std::vector<int64_t>& start,
                std::vector<int64_t>& count);

// The element strides, in t,z,y,x,c, of a C-order buffer holding dims stored with these axes.
// Axes that are not stored get stride 0 (their extent is 1).
Strides5 strides_of_stored(const std::vector<int64_t>& dims, std::string_view axes);

// True when the stored axes appear in t,z,y,x,c order, so a C-order stored buffer already is a
// C-order t,z,y,x,c array.
bool stored_in_grove_order(std::string_view axes);

// The axes a writer stores by default: t and z when their extent is > 1, then y, x, c.
std::string default_write_axes(const Shape5& shape);

// Checks an axes string a caller gave for writing: valid letters, and every axis of extent > 1
// present.
Status check_write_axes(std::string_view axes, const Shape5& shape);

// Product of the extents, or an error if it overflows int64 or an extent is negative.
Result<int64_t> checked_product(const std::vector<int64_t>& dims, int64_t factor = 1);

// Checks that box lies inside [0, shape) and has no negative extent.
Status check_box_inside(const Box5& box, const Shape5& shape);

// Presents a C-order buffer holding box's data in the stored axes order as a t,z,y,x,c array
// (sharing the buffer), then makes it contiguous in t,z,y,x,c (a copy only when the stored
// order differs).
Result<AnyArray> stored_buffer_to_grove(AnyArray stored_buffer, const std::vector<int64_t>& count,
                                        std::string_view axes, const Shape5& box_shape);

}  // namespace grove::io
