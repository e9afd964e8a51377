// A TEST DOUBLE of the server's Backend, for the server's own tests and for developing the
// browser UI without the pixel-classification workflow. It is never part of `grove serve`.
//
// It holds images in memory (HDF5 datasets read with the HDF5 C API, or a synthetic image of
// bright discs for any other file), labels as dense arrays with an undo history, and a stand-in
// "classifier": per class, the mean and spread of the lightly smoothed intensity under its
// labels, turned into probabilities by Gaussian likelihoods. That is enough to tell nuclei from
// background in the end-to-end tests, and nothing like the real random forest.
#pragma once

#include <memory>
#include <string>

#include "../backend.h"

namespace grove::server::testing {

struct TestBackendOptions {
  std::string project_path;  // loaded if the file exists (the double's own JSON format)
  int train_delay_ms = 0;    // to make training observable in tests
};

std::shared_ptr<Backend> make_test_backend(const TestBackendOptions& options = {});

}  // namespace grove::server::testing
