// `grove run --distributed / --resume`: this rank's share of a distributed run (see
// distributed_run.h and docs/distributed.md).
#include "distributed_run.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "command.h"
#include "grove/core/memory.h"
#include "grove/project/project_export.h"
#include "mpi_process_group.h"

namespace grove::cli {

namespace {

Result<Shape5> parse_shape(const std::string& text, const std::string& option) {
  std::vector<int64_t> values;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = std::min(text.find(',', start), text.size());
    const std::string part = text.substr(start, comma - start);
    char* stop = nullptr;
    const long long value = std::strtoll(part.c_str(), &stop, 10);
    if (part.empty() || *stop != '\0' || value < 1 || value > (int64_t{1} << 30)) {
      return make_error(ErrorCode::kInvalidArgument,
                        "{}: '{}' is not a list of 2 to 4 positive extents (y,x; z,y,x; t,z,y,x)",
                        option, text);
    }
    values.push_back(value);
    start = comma + 1;
  }
  if (values.size() < 2 || values.size() > 4) {
    return make_error(ErrorCode::kInvalidArgument,
                      "{}: '{}' is not a list of 2 to 4 positive extents (y,x; z,y,x; t,z,y,x)",
                      option, text);
  }
  Shape5 shape(1, 1, 1, 1, 1);
  const int first = kC - static_cast<int>(values.size());
  for (size_t i = 0; i < values.size(); ++i) shape[first + static_cast<int>(i)] = values[i];
  return shape;
}

int environment_integer(const char* name) {
  const char* value = std::getenv(name);
  return value && *value ? std::atoi(value) : 0;
}

}  // namespace

void add_distributed_options(CLI::App& command, DistributedArguments& arguments) {
  command.add_flag("--distributed", arguments.distributed,
                   "Share the work among the processes of mpirun/srun: one image's blocks, or "
                   "many images (docs/distributed.md)");
  command.add_flag("--resume", arguments.resume,
                   "Finish an interrupted run: compute only the blocks (or images) not complete");
  command.add_flag("--prepare", arguments.prepare,
                   "Create the output of one image and plan its blocks, computing nothing (then "
                   "--part K/N runs, then --resume; for dask or job arrays without MPI)");
  command.add_option("--part", arguments.part,
                     "K/N: compute part K (0..N-1) of the blocks (or files), as one process "
                     "without MPI; the output stays incomplete until a final --resume");
  command.add_option("--report", arguments.report,
                     "Write the run's figures (blocks computed per rank, seconds) as JSON");
  command.add_option("--chunk-shape", arguments.chunk_shape,
                     "Chunks of zarr/n5/hdf5 outputs, e.g. 64,64,64 (z,y,x) or 256,256 (y,x)");
  command.add_option("--block-shape", arguments.block_shape,
                     "Blocks computed at a time (multiples of the chunks), e.g. 128,128,128");
}

Status apply_shape_options(const DistributedArguments& arguments, ExportRequest& request) {
  if (!arguments.chunk_shape.empty()) {
    GROVE_ASSIGN_OR_RETURN(request.chunk_shape,
                           parse_shape(arguments.chunk_shape, "--chunk-shape"));
  }
  if (!arguments.block_shape.empty()) {
    GROVE_ASSIGN_OR_RETURN(request.block_shape,
                           parse_shape(arguments.block_shape, "--block-shape"));
  }
  return ok_status();
}

Status run_distributed(const Project& project, const std::vector<std::string>& inputs,
                       const ExportRequest& base, const EngineArguments& engine_arguments,
                       const DistributedArguments& arguments) {
  GROVE_ASSIGN_OR_RETURN(std::vector<std::string> files, expand_inputs(inputs));
  if (files.empty()) return Error(ErrorCode::kInvalidArgument, "give at least one input image");
  GROVE_ASSIGN_OR_RETURN(std::string format, normalize_format(base.format));

  // The ranks on one machine share its cores and memory, unless told otherwise.
  EngineArguments engine_settings = engine_arguments;
  const int local_ranks = std::max(1, environment_integer("OMPI_COMM_WORLD_LOCAL_SIZE"));
  if (engine_settings.threads == 0 && !std::getenv("LAZYFLOW_THREADS") && local_ranks > 1) {
    const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    engine_settings.threads = std::max(1, cores / local_ranks);
  }
  if (engine_settings.ram_mb == 0 && !std::getenv("LAZYFLOW_TOTAL_RAM_MB") && local_ranks > 1) {
    engine_settings.ram_mb = std::max<int64_t>(64, system_memory_bytes() / 2 / local_ranks >> 20);
  }

  GROVE_ASSIGN_OR_RETURN(std::unique_ptr<ProcessGroup> group, make_process_group());
  GROVE_ASSIGN_OR_RETURN(std::unique_ptr<Engine> engine,
                         make_engine(engine_settings, /*interactive=*/false));
  const bool root = group->rank() == 0;
  Progress progress = root ? Progress::terminal_bar() : Progress::silent();

  DistributedOptions options;
  options.resume = arguments.resume;
  options.prepare = arguments.prepare;
  if (!arguments.part.empty()) {
    const size_t slash = arguments.part.find('/');
    char* stop_index = nullptr;
    char* stop_count = nullptr;
    const std::string index_text = arguments.part.substr(0, slash);
    const std::string count_text =
        slash == std::string::npos ? std::string() : arguments.part.substr(slash + 1);
    const long index = std::strtol(index_text.c_str(), &stop_index, 10);
    const long count = std::strtol(count_text.c_str(), &stop_count, 10);
    if (index_text.empty() || count_text.empty() || *stop_index || *stop_count || count < 1 ||
        count > 1000000 || index < 0 || index >= count) {
      return make_error(ErrorCode::kInvalidArgument,
                        "--part: '{}' is not K/N with 0 <= K < N (e.g. 3/10)", arguments.part);
    }
    options.part_index = static_cast<int>(index);
    options.part_count = static_cast<int>(count);
    if (arguments.prepare) {
      return Error(ErrorCode::kInvalidArgument, "--prepare and --part are separate steps");
    }
  }
  options.stall_after_blocks = environment_integer("GROVE_TEST_STALL_AFTER_BLOCKS");
  options.lane_of_file = [&project](const std::string& file) -> std::optional<size_t> {
    const std::vector<PixelLane>& lanes = project_lanes(project);
    for (size_t i = 0; i < lanes.size(); ++i) {
      if (lanes[i].path == file) return i;
    }
    return std::nullopt;
  };
  // The project's workflow (pixel classification or autocontext) plans and writes.
  ExportFunctions exporter;
  exporter.plan = [&](const ExportRequest& request) {
    return plan_project_export(*engine, project, request);
  };
  exporter.write = [&](const ExportRequest& request) {
    return export_project_image(*engine, project, request);
  };
  Result<DistributedStats> stats = Error(ErrorCode::kInternal, "not run");
  const bool one_image_in_blocks =
      files.size() == 1 && (format == "zarr" || format == "n5" || format == "hdf5");
  if (one_image_in_blocks) {
    ExportRequest request = base;
    request.input = files.front();
    if (request.source == ExportSource::kLabels) request.lane = options.lane_of_file(request.input);
    stats = distributed_export(*engine, exporter, request, *group, options, &progress);
    if (stats.ok() && root) {
      std::printf("%s -> %s\n", request.input.c_str(),
                  stats->outputs.empty() ? "(complete already)" : stats->outputs.front().c_str());
    }
  } else {
    stats = distributed_export_files(exporter, files, base, *group, options, &progress);
  }
  if (!root) {
    if (stats.ok()) return ok_status();
    // Every rank has the same error (agreed); rank 0 prints it, the others exit quietly.
    engine.reset();
    group.reset();
    std::fflush(stdout);
    std::exit(kExitBadInput);
  }
  if (!stats.ok()) return std::move(stats).error();
  std::string per_rank;
  for (int64_t n : stats->computed_per_rank)
    per_rank += (per_rank.empty() ? "" : ", ") + std::to_string(n);
  std::printf(
      "grove: %s run on %d rank%s: %lld %s, %lld computed (per rank: %s), %lld already "
      "complete, %.2f s\n",
      stats->mode == "blocks" ? "block-wise" : "file-wise", stats->ranks,
      stats->ranks == 1 ? "" : "s", static_cast<long long>(stats->items_total),
      stats->mode == "blocks" ? "blocks" : "files", static_cast<long long>(stats->items_computed),
      per_rank.c_str(), static_cast<long long>(stats->items_skipped), stats->seconds);
  std::fflush(stdout);
  if (!arguments.report.empty()) {
    std::ofstream out(arguments.report);
    out << stats->to_json() << "\n";
    if (!out) {
      return make_error(ErrorCode::kIo, "--report: cannot write {}", arguments.report);
    }
  }
  return ok_status();
}

}  // namespace grove::cli
