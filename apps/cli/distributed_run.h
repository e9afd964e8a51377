// `grove run ... --distributed / --resume` and `grove --headless ... --distributed`: sets up the
// process group and the engine of this rank and runs distributed_export(_files)
// (docs/distributed.md). For run_command.cpp and headless_command.cpp.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "engine_setup.h"
#include "grove/project/project.h"
#include "grove/workflows/pixel/export.h"

namespace grove::cli {

struct DistributedArguments {
  // True if any option asks for the distributed/resumable path (--report too: its figures
  // come from it).
  bool any() const { return distributed || resume || prepare || !part.empty() || !report.empty(); }
  bool distributed = false;
  bool resume = false;
  std::string report;       // a JSON file with the run's figures (rank 0 writes it)
  std::string chunk_shape;  // "z,y,x" / "y,x" / "t,z,y,x"
  std::string block_shape;
  bool prepare = false;  // create the output and plan only (before --part runs)
  std::string part;      // "K/N": this process computes part K of N, without MPI
};

// Adds --distributed, --resume, --prepare, --part, --report, --chunk-shape and --block-shape.
void add_distributed_options(CLI::App& command, DistributedArguments& arguments);

// Reads --chunk-shape / --block-shape ("16,64,64": the trailing t,z,y,x extents; leading axes
// 1, channels all) into request.
Status apply_shape_options(const DistributedArguments& arguments, ExportRequest& request);

// Runs the exports of inputs across the ranks: one input to zarr/n5/hdf5 is split into blocks,
// several inputs are dealt whole.
Status run_distributed(const Project& project, const std::vector<std::string>& inputs,
                       const ExportRequest& base, const EngineArguments& engine_arguments,
                       const DistributedArguments& arguments);

}  // namespace grove::cli
