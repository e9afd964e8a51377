// Reading the random forests ilastik 1.x stores (VIGRA's RandomForest HDF5 format) into grove's
// own forest, so the fast predictor runs them. For .ilp import (pixel, autocontext, object, edge
// and division classification).
//
// The format, as ilastik projects hold it (a group per forest, e.g.
// PixelClassification/ClassifierForests/Forest0000; ilastik trains one forest per thread and
// averages their predictions weighted by tree count):
//   _ext_param/{column_count_, class_count_, labels, ...}   float64 scalars; labels: class ids
//   _options/{tree_count_, predict_weighted_, ...}          float64 scalars
//   Tree_NN/topology    int32: [column count, class count, then the nodes from index 2]
//   Tree_NN/parameters  float64
// A node at topology index i is [type, parameter index, ...]. Split nodes (type 0) are
// [0, p, left child, right child, column]: a sample goes to the left child when its feature
// `column` is < parameters[p + 1] (ties go right); parameters[p] is a weight. Leaves (type
// 0x40000000) are [type, p] with parameters[p] the training weight and parameters[p + 1 ..
// p + classes] the class distribution. A forest predicts the sum of its leaves' distributions
// divided by their total; rows holding a NaN get zeros.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "grove/io/hdf5_file.h"
#include "grove/learn/random_forest.h"

namespace grove {

struct VigraTree {
  std::vector<int32_t> topology;
  std::vector<double> parameters;
};

struct VigraForest {
  int64_t column_count = 0;  // features
  int64_t class_count = 0;
  std::vector<int64_t> labels;  // class id of each class; empty: 0..class_count-1
  bool predict_weighted = false;
  std::vector<VigraTree> trees;
};

// Converts one VIGRA forest. Every index is checked: a corrupt forest gives kCorrupt, a node
// type other than threshold splits and constant-probability leaves gives kUnsupported.
// Thresholds become floats rounded so that every float feature value compares as before.
Result<RandomForest> forest_from_vigra(const VigraForest& vigra);

// Reads one VIGRA forest group (e.g. PixelClassification/ClassifierForests/Forest0000).
Result<VigraForest> read_vigra_forest(const hdf5::Group& group);

// Reads every VIGRA forest group directly below group (ilastik's "ClassifierForests"; members
// named Forest* holding _ext_param) and merges them into one grove forest, whose prediction is
// ilastik's: the forests' predictions averaged weighted by their tree counts. kNotFound if there
// is none (an ilastik project saved before training).
Result<RandomForest> read_ilastik_forests(const hdf5::Group& group);

}  // namespace grove
