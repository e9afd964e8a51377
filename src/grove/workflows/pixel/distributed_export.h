// Distributed and resumable exports: `mpirun -n N grove run PROJECT INPUT --distributed` and
// `grove run ... --resume` (docs/distributed.md). For the CLI (which brings MPI) and for anyone
// who runs several grove processes on one job.
//
// Two kinds of work are dealt to the processes ("ranks"):
// - One large image written to Zarr, N5 or HDF5: rank 0 creates the output store (all metadata)
//   before anyone computes; the output's blocks (aligned to the store's chunks, so no two
//   ranks ever write one chunk) are dealt from a shared queue, each rank reads only its
//   blocks plus halo and writes whole chunks atomically, then appends the block to its journal
//   (the completion marker). HDF5 cannot be written safely by several processes with Debian's
//   serial libhdf5, so ranks write a temporary Zarr store of the same chunks and rank 0 copies
//   it into the .h5 file at the end.
// - Many images: whole files are dealt, each written by one rank as `grove run` would.
//
// --resume skips what a killed run finished: blocks named in the journals (and, for file
// batches, outputs that are complete), so only missing blocks are recomputed. The journals and
// the plan live beside the output in OUTPUT_FILE.grove-run/ and are removed on success.
//
// The processes talk through a ProcessGroup: one process (LocalProcessGroup) or MPI
// (apps/cli/mpi_process_group.cpp), so this file needs no MPI.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "grove/workflows/pixel/export.h"

namespace grove {

// Hands out ranges [begin, end) of work items (blocks or files) to the calling rank, so that a
// slow rank takes fewer: a shared queue, not a fixed split.
class WorkQueue {
 public:
  virtual ~WorkQueue() = default;
  // The next range for this rank, or nullopt when no work is left. completed: the items this
  // rank finished since its last call (for rank 0's progress).
  virtual Result<std::optional<std::pair<int64_t, int64_t>>> next(int64_t completed) = 0;
  // This rank takes no more work (after nullopt, or after an error: then failed is true and
  // the others are handed no more either). Must be called once by every rank.
  virtual Status finish(bool failed) = 0;
};

// The processes of one distributed run. Every rank must make the same collective calls
// (broadcast, agree, gather, deal) in the same order.
class ProcessGroup {
 public:
  virtual ~ProcessGroup() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // Rank 0's text, on every rank.
  virtual Result<std::string> broadcast(const std::string& text) = 0;
  // Every rank's status in, one status out on every rank: ok if all were ok, else the error
  // of the lowest failing rank (its message, prefixed with the rank).
  virtual Status agree(const Status& local) = 0;
  // Every rank's text, in rank order, at rank 0 (others get an empty list).
  virtual Result<std::vector<std::string>> gather(const std::string& text) = 0;
  // Starts dealing items [0, total) with a batch of at least min_batch items per call (the
  // caller's threads). progress (rank 0's, may be null) advances as ranks report completions.
  virtual Result<std::unique_ptr<WorkQueue>> deal(int64_t total, int64_t min_batch,
                                                  Progress* progress) = 0;
};

// A group of one process: for `grove run --resume` and `--distributed` without mpirun.
class LocalProcessGroup : public ProcessGroup {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  Result<std::string> broadcast(const std::string& text) override { return text; }
  Status agree(const Status& local) override { return local; }
  Result<std::vector<std::string>> gather(const std::string& text) override {
    return std::vector<std::string>{text};
  }
  Result<std::unique_ptr<WorkQueue>> deal(int64_t total, int64_t min_batch,
                                          Progress* progress) override;
};

// The part of the queue that decides batch sizes, shared by every ProcessGroup: guided
// self-scheduling (a batch is a share of what is left, shrinking towards the end so that the
// ranks finish together), never below the asking rank's min_batch.
class BatchDealer {
 public:
  BatchDealer(int64_t total, int ranks) : total_(total), ranks_(std::max(ranks, 1)) {}
  std::optional<std::pair<int64_t, int64_t>> take(int64_t min_batch);
  void stop() { next_ = total_; }
  int64_t remaining() const { return total_ - next_; }

 private:
  int64_t total_;
  int ranks_;
  int64_t next_ = 0;
};

struct DistributedOptions {
  bool resume = false;
  // Runs without MPI (dask tasks, job arrays; one image only): `prepare` creates the output and
  // the plan and computes nothing; then part_index of part_count computes the pending blocks
  // whose index is part_index modulo part_count, leaving the output uncommitted (the parts run
  // at once, in any order, on any machines sharing the file system); a final run with resume
  // finds every block journaled and completes the output.
  bool prepare = false;
  int part_index = 0;
  int part_count = 0;  // 0: not a part
  // Test hook for the resume tests (GROVE_TEST_STALL_AFTER_BLOCKS): each rank stops after
  // finishing this many blocks and waits (up to a minute) to be killed. 0: off.
  int64_t stall_after_blocks = 0;
  // For label exports of file batches: the project lane of a file (nullopt: none).
  std::function<std::optional<size_t>(const std::string& file)> lane_of_file;
};

// How the project's workflow exports one image (pixel classification, autocontext, ...):
// plan() for images split into blocks, write() for whole images of a batch.
struct ExportFunctions {
  std::function<Result<ExportPlan>(const ExportRequest& request)> plan;
  std::function<Result<std::string>(const ExportRequest& request)> write;
};
// The pixel-classification workflow's (plan_export, export_image).
ExportFunctions pixel_export_functions(Engine& engine, const PixelClassification& workflow);

// What a distributed run did (rank 0 has the totals; `--report` writes them as JSON).
struct DistributedStats {
  std::string mode;  // "blocks" or "files"
  int ranks = 1;
  int64_t items_total = 0;     // blocks of the output, or files
  int64_t items_skipped = 0;   // already complete (--resume)
  int64_t items_computed = 0;  // computed by this run, all ranks
  std::vector<int64_t> computed_per_rank;
  std::vector<double> busy_seconds_per_rank;  // time in computing and writing
  double seconds = 0;                         // wall time of the whole run
  std::vector<std::string> outputs;           // the output paths written (rank 0)
  std::string to_json() const;
};

// Exports one image, its blocks dealt to the group's ranks. The format must be zarr, n5 or
// hdf5. Every rank calls it with the same request; returns the same status on all ranks.
Result<DistributedStats> distributed_export(Engine& engine, const ExportFunctions& exporter,
                                            const ExportRequest& request, ProcessGroup& group,
                                            const DistributedOptions& options,
                                            Progress* progress = nullptr);

// Exports each of files (whole files dealt to ranks), base giving everything but the input.
Result<DistributedStats> distributed_export_files(const ExportFunctions& exporter,
                                                  const std::vector<std::string>& files,
                                                  const ExportRequest& base, ProcessGroup& group,
                                                  const DistributedOptions& options,
                                                  Progress* progress = nullptr);

// True if the export output (a path as ExportPlan::output) in format is complete: it exists
// and, for Zarr/N5, was committed.
bool export_is_complete(const std::string& output, const std::string& format);

}  // namespace grove
