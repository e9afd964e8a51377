// Distributed and resumable exports (see distributed_export.h for the design).
#include "grove/workflows/pixel/distributed_export.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>
#include <cstring>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "grove/core/blocking.h"
#include "grove/io/chunk_store.h"
#include "grove/io/n5.h"
#include "grove/io/zarr.h"

namespace grove {

namespace fs = std::filesystem;
using Json = nlohmann::json;

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

Json shape_json(const Shape5& shape) {
  return Json::array({shape[0], shape[1], shape[2], shape[3], shape[4]});
}

Result<Shape5> shape_from_json(const Json& json, const std::string& where) {
  if (!json.is_array() || json.size() != kRank) {
    return make_error(ErrorCode::kCorrupt, "{}: expected 5 extents", where);
  }
  Shape5 shape;
  for (int a = 0; a < kRank; ++a) {
    if (!json[a].is_number_integer() || json[a].get<int64_t>() < 1) {
      return make_error(ErrorCode::kCorrupt, "{}: bad extent", where);
    }
    shape[a] = json[a].get<int64_t>();
  }
  return shape;
}

// A run's files: OUTPUT_FILE.grove-run/DATASET/ holds plan.json, the journals and (for HDF5
// outputs) parts.zarr.
fs::path work_directory(const ImagePath& target) {
  std::string key = target.internal;
  for (char& ch : key) {
    if (ch == '/') ch = '_';
  }
  if (key.empty()) key = "_root";
  return fs::path(target.file + ".grove-run") / key;
}

// Removes the work directory and its parent when that is left empty.
void remove_work_directory(const fs::path& directory) {
  std::error_code ignored;
  fs::remove_all(directory, ignored);
  if (fs::is_empty(directory.parent_path(), ignored)) fs::remove(directory.parent_path(), ignored);
}

// The linear index of a block of blocking (its begin is on the grid).
int64_t block_index(const Blocking& blocking, const Box5& block) {
  const Shape5 grid = blocking.grid();
  int64_t index = 0;
  for (int a = 0; a < kRank; ++a) {
    index = index * grid[a] + (block.begin[a] - blocking.domain.begin[a]) /
                                  std::max<int64_t>(blocking.block_shape[a], 1);
  }
  return index;
}

// Block indices named in the journals of directory (lines "INDEX\n"; a last line cut short by
// a kill is ignored), each < total.
Result<std::set<int64_t>> read_journals(const fs::path& directory, int64_t total) {
  std::set<int64_t> done;
  std::error_code error;
  for (const fs::directory_entry& entry : fs::directory_iterator(directory, error)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("journal-", 0) != 0) continue;
    GROVE_ASSIGN_OR_RETURN(std::string text, read_small_file(entry.path(), int64_t{1} << 30));
    size_t start = 0;
    for (size_t end = text.find('\n'); end != std::string::npos;
         start = end + 1, end = text.find('\n', start)) {
      const std::string line = text.substr(start, end - start);
      char* stop = nullptr;
      const long long value = std::strtoll(line.c_str(), &stop, 10);
      if (line.empty() || *stop != '\0' || value < 0 || value >= total) {
        return make_error(ErrorCode::kCorrupt, "{}: bad journal line '{}'", entry.path().string(),
                          line);
      }
      done.insert(value);
    }
  }
  if (error) {
    return make_error(ErrorCode::kIo, "cannot list {}: {}", directory.string(), error.message());
  }
  return done;
}

// This rank's journal: the blocks it finished, one line each, appended after the block's chunks
// are in place, so a line proves the block complete.
class Journal {
 public:
  static Result<std::unique_ptr<Journal>> open(const fs::path& path) {
    const int descriptor = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (descriptor < 0) {
      return make_error(ErrorCode::kIo, "cannot open the journal {}: {}", path.string(),
                        std::strerror(errno));
    }
    return std::unique_ptr<Journal>(new Journal(descriptor, path.string()));
  }
  ~Journal() { ::close(descriptor_); }

  Status append(int64_t index) {
    const std::string line = std::to_string(index) + "\n";
    std::lock_guard lock(mutex_);
    if (::write(descriptor_, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
      return make_error(ErrorCode::kIo, "cannot write the journal {}: {}", path_,
                        std::strerror(errno));
    }
    return ok_status();
  }

 private:
  Journal(int descriptor, std::string path) : descriptor_(descriptor), path_(std::move(path)) {}
  int descriptor_;
  std::string path_;
  std::mutex mutex_;
};

class LocalWorkQueue : public WorkQueue {
 public:
  LocalWorkQueue(int64_t total, int64_t min_batch, Progress* progress)
      : dealer_(total, 1), min_batch_(min_batch), progress_(progress) {
    if (progress_) progress_->start(total, "distributed export");
  }
  Result<std::optional<std::pair<int64_t, int64_t>>> next(int64_t completed) override {
    if (progress_ && completed > 0) progress_->advance(completed);
    return dealer_.take(min_batch_);
  }
  Status finish(bool failed) override {
    if (progress_) progress_->finish();
    return ok_status();
  }

 private:
  BatchDealer dealer_;
  int64_t min_batch_;
  Progress* progress_;
};

Status stall_for_test(int64_t finished, int64_t stall_after) {
  if (stall_after <= 0 || finished < stall_after) return ok_status();
  // Waits to be killed (the resume tests); gives up after a minute so nothing is left behind.
  std::this_thread::sleep_for(std::chrono::seconds(60));
  return Error(ErrorCode::kCancelled, "stalled for the test and was not killed");
}

bool is_block_format(const std::string& format) {
  return format == "zarr" || format == "n5" || format == "hdf5";
}

Result<std::unique_ptr<ImageWriter>> open_store_writer(const ImagePath& store,
                                                       const std::string& format) {
  if (format == "n5") return open_n5_writer(store);
  return open_zarr_writer(store);
}

// Everything that must match for --resume to continue an output: what is computed and how it
// is laid out.
Json plan_identity(const ExportRequest& request, const ExportPlan& plan) {
  return Json{{"input", request.input},
              {"input_axes", request.input_axes},
              {"source", std::string(export_source_name(request.source))},
              {"source_name", request.source_name},
              {"format", plan.format},
              {"output", plan.output},
              {"dtype", std::string(dtype_name(plan.node->info().dtype))},
              {"box_begin", shape_json(plan.box.begin)},
              {"box_end", shape_json(plan.box.end)},
              {"chunk_shape", shape_json(plan.options.chunk_shape)}};
}

}  // namespace

std::optional<std::pair<int64_t, int64_t>> BatchDealer::take(int64_t min_batch) {
  const int64_t left = total_ - next_;
  if (left <= 0) return std::nullopt;
  // Guided self-scheduling: half of an even share of what is left.
  const int64_t guided = (left + 2 * ranks_ - 1) / (2 * ranks_);
  const int64_t count = std::min(left, std::max<int64_t>({guided, min_batch, 1}));
  const std::pair<int64_t, int64_t> range{next_, next_ + count};
  next_ += count;
  return range;
}

Result<std::unique_ptr<WorkQueue>> LocalProcessGroup::deal(int64_t total, int64_t min_batch,
                                                           Progress* progress) {
  return std::unique_ptr<WorkQueue>(new LocalWorkQueue(total, min_batch, progress));
}

std::string DistributedStats::to_json() const {
  Json json{{"mode", mode},
            {"ranks", ranks},
            {"items_total", items_total},
            {"items_skipped", items_skipped},
            {"items_computed", items_computed},
            {"computed_per_rank", computed_per_rank},
            {"busy_seconds_per_rank", busy_seconds_per_rank},
            {"seconds", seconds},
            {"outputs", outputs}};
  return json.dump(2);
}

ExportFunctions pixel_export_functions(Engine& engine, const PixelClassification& workflow) {
  ExportFunctions functions;
  functions.plan = [&engine, &workflow](const ExportRequest& request) {
    return plan_export(engine, workflow, request);
  };
  functions.write = [&engine, &workflow](const ExportRequest& request) {
    return export_image(engine, workflow, request);
  };
  return functions;
}

bool export_is_complete(const std::string& output, const std::string& format) {
  const ImagePath path = split_image_path(output);
  std::error_code error;
  if (!fs::exists(path.file, error)) return false;
  if (format == "zarr") {
    Result<bool> complete = zarr_is_complete(path);
    return complete.ok() && *complete;
  }
  if (format == "n5") {
    Result<bool> complete = n5_is_complete(path);
    return complete.ok() && *complete;
  }
  if (format == "hdf5") return open_image(output).ok();
  // The other formats appear at their path only when complete (temporary + rename).
  return true;
}

namespace {

// What rank 0 decides before any block is computed, sent to every rank.
struct Setup {
  Shape5 block_shape;
  std::vector<int64_t> pending;  // block indices still to compute
  int64_t total = 0;
  int64_t part_total = -1;  // blocks of this part (--part), -1: all
  bool finished = false;    // the output was complete already (--resume)

  std::string to_text() const {
    // Pending blocks as ranges, so a resumed run with few gaps sends little.
    Json ranges = Json::array();
    for (size_t i = 0; i < pending.size();) {
      size_t j = i + 1;
      while (j < pending.size() && pending[j] == pending[j - 1] + 1) ++j;
      ranges.push_back(Json::array({pending[i], pending[j - 1] + 1}));
      i = j;
    }
    return Json{{"block_shape", shape_json(block_shape)},
                {"pending", ranges},
                {"total", total},
                {"part_total", part_total},
                {"finished", finished}}
        .dump();
  }
  static Result<Setup> from_text(const std::string& text) {
    Setup setup;
    try {
      const Json json = Json::parse(text);
      GROVE_ASSIGN_OR_RETURN(setup.block_shape, shape_from_json(json.at("block_shape"), "setup"));
      setup.total = json.at("total").get<int64_t>();
      setup.part_total = json.at("part_total").get<int64_t>();
      setup.finished = json.at("finished").get<bool>();
      for (const Json& range : json.at("pending")) {
        for (int64_t i = range.at(0).get<int64_t>(); i < range.at(1).get<int64_t>(); ++i)
          setup.pending.push_back(i);
      }
    } catch (const std::exception& e) {
      return make_error(ErrorCode::kInternal, "bad setup message: {}", e.what());
    }
    return setup;
  }
};

// Rank 0: creates (or, for --resume, reopens) the output store and decides what is to compute.
Result<Setup> prepare_output(Engine& engine, const ExportRequest& request, const ExportPlan& plan,
                             const ImagePath& store, const std::string& store_format,
                             const fs::path& work, const DistributedOptions& options,
                             std::unique_ptr<ImageWriter>& writer) {
  Setup setup;
  const Json identity = plan_identity(request, plan);
  const fs::path plan_file = work / "plan.json";
  std::error_code error;
  const bool has_work = fs::exists(plan_file, error);
  const bool part = options.part_count > 0;
  if (part && !has_work) {
    return make_error(ErrorCode::kInvalidArgument,
                      "--part needs an output made by --prepare first ({} has no plan)",
                      work.string());
  }
  if (options.resume && !has_work) {
    if (export_is_complete(plan.output, plan.format)) {
      setup.finished = true;
      setup.block_shape = Shape5(1, 1, 1, 1, 1);
      return setup;
    }
  }
  if ((options.resume || part) && has_work) {
    GROVE_ASSIGN_OR_RETURN(std::string text, read_small_file(plan_file));
    Json saved;
    try {
      saved = Json::parse(text);
    } catch (const std::exception& e) {
      return make_error(ErrorCode::kCorrupt, "{}: {}", plan_file.string(), e.what());
    }
    if (!saved.contains("identity") || saved["identity"] != identity) {
      return make_error(ErrorCode::kInvalidArgument,
                        "cannot resume {}: the interrupted run computed something else ({}); "
                        "use --overwrite to start again",
                        plan.output, plan_file.string());
    }
    GROVE_ASSIGN_OR_RETURN(setup.block_shape,
                           shape_from_json(saved["block_shape"], plan_file.string()));
    // Temporaries of writers the kill interrupted; no writer is active now (parts run at
    // once: theirs are not stale).
    if (!part) {
      if (auto removed = remove_stale_temporaries(store.file); !removed.ok())
        return std::move(removed).error();
    }
    GROVE_ASSIGN_OR_RETURN(writer, open_store_writer(store, store_format));
  } else {
    if (has_work && !request.overwrite) {
      return make_error(ErrorCode::kAlreadyExists,
                        "an interrupted run left {}: add --resume to finish it or --overwrite to "
                        "start again",
                        work.parent_path().string());
    }
    if (plan.format == "hdf5" && !request.overwrite &&
        fs::exists(split_image_path(plan.output).file, error) && open_image(plan.output).ok()) {
      return make_error(ErrorCode::kAlreadyExists, "{} exists (use --overwrite)", plan.output);
    }
    remove_work_directory(work);
    GROVE_RETURN_IF_ERROR(make_directories(work));
    WriteOptions store_options = plan.options;
    // The HDF5 parts store is ours alone; the axes and compression go to the final file.
    if (plan.format == "hdf5") {
      store_options.overwrite = true;
      store_options.axes = "";
      store_options.compression = "zstd";
    }
    const std::string store_path = plan.format == "hdf5" ? store.file : plan.output;
    GROVE_ASSIGN_OR_RETURN(
        writer, create_image(store_path, plan.box.shape(), plan.node->info().dtype, store_options,
                             store_format));
    setup.block_shape = engine.plan_block_shape(*plan.node, plan.box, plan.run_options);
    const Json saved{{"identity", identity}, {"block_shape", shape_json(setup.block_shape)}};
    GROVE_RETURN_IF_ERROR(write_file_atomically(plan_file, saved.dump(2)));
  }
  const Blocking blocking{plan.box, setup.block_shape};
  setup.total = blocking.block_count();
  if (part) {
    setup.part_total =
        (setup.total - options.part_index + options.part_count - 1) / options.part_count;
  }
  std::set<int64_t> done;
  if ((options.resume || part) && has_work) {
    GROVE_ASSIGN_OR_RETURN(done, read_journals(work, setup.total));
  }
  for (int64_t i = 0; i < setup.total; ++i) {
    if (part && i % options.part_count != options.part_index) continue;
    if (!done.count(i) && !options.prepare) setup.pending.push_back(i);
  }
  return setup;
}

// Rank 0, HDF5 outputs: copies the parts store into the .h5 file, block by block.
Status copy_parts_to_hdf5(const ExportPlan& plan, const ImagePath& parts,
                          const Shape5& block_shape) {
  GROVE_ASSIGN_OR_RETURN(std::unique_ptr<ImageReader> reader, open_zarr(parts));
  WriteOptions options = plan.options;
  GROVE_ASSIGN_OR_RETURN(
      std::unique_ptr<ImageWriter> writer,
      create_image(plan.output, plan.box.shape(), plan.node->info().dtype, options, "hdf5"));
  for (const Box5& block : Blocking{Box5::of(plan.box.shape()), block_shape}.blocks()) {
    GROVE_ASSIGN_OR_RETURN(AnyArray data, reader->read(block));
    GROVE_RETURN_IF_ERROR(writer->write(block, data));
  }
  return writer->commit();
}

// Rank 0: the per-rank figures into stats.
Status gather_stats(ProcessGroup& group, int64_t computed, double busy, DistributedStats& stats) {
  GROVE_ASSIGN_OR_RETURN(std::vector<std::string> texts,
                         group.gather(Json{{"computed", computed}, {"busy", busy}}.dump()));
  for (const std::string& text : texts) {
    try {
      const Json json = Json::parse(text);
      stats.computed_per_rank.push_back(json.at("computed").get<int64_t>());
      stats.busy_seconds_per_rank.push_back(json.at("busy").get<double>());
      stats.items_computed += stats.computed_per_rank.back();
    } catch (const std::exception& e) {
      return make_error(ErrorCode::kInternal, "bad statistics message: {}", e.what());
    }
  }
  return ok_status();
}

}  // namespace

Result<DistributedStats> distributed_export(Engine& engine, const ExportFunctions& exporter,
                                            const ExportRequest& request, ProcessGroup& group,
                                            const DistributedOptions& options, Progress* progress) {
  const Clock::time_point start = Clock::now();
  const bool root = group.rank() == 0;
  if (options.part_count > 0 &&
      (group.size() > 1 || options.part_index < 0 || options.part_index >= options.part_count)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "--part {}/{}: parts are single processes, numbered 0 to {}",
                      options.part_index, options.part_count, options.part_count - 1);
  }
  // Every rank builds the same plan (nodes are cheap; no pixels are read yet).
  Result<ExportPlan> planned = exporter.plan(request);
  Status plan_status = planned.ok() ? ok_status() : Status(planned.error());
  GROVE_RETURN_IF_ERROR(group.agree(plan_status));
  const ExportPlan& plan = *planned;
  if (!is_block_format(plan.format)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "a distributed or resumed run of one image writes zarr, n5 or hdf5, not {} "
                      "(use --format)",
                      plan.format);
  }
  const ImagePath target = split_image_path(plan.output);
  const fs::path work = work_directory(target);
  const bool to_hdf5 = plan.format == "hdf5";
  const ImagePath store = to_hdf5 ? ImagePath{(work / "parts.zarr").string(), ""} : target;
  const std::string store_format = to_hdf5 ? "zarr" : plan.format;

  // Rank 0 creates the store before anyone writes.
  std::unique_ptr<ImageWriter> writer;
  Result<Setup> prepared = Error(ErrorCode::kInternal, "not prepared");
  if (root) {
    prepared = prepare_output(engine, request, plan, store, store_format, work, options, writer);
  }
  GROVE_RETURN_IF_ERROR(
      group.agree(root && !prepared.ok() ? Status(prepared.error()) : ok_status()));
  GROVE_ASSIGN_OR_RETURN(std::string setup_text,
                         group.broadcast(root ? prepared->to_text() : std::string()));
  GROVE_ASSIGN_OR_RETURN(Setup setup, Setup::from_text(setup_text));

  DistributedStats stats;
  stats.mode = "blocks";
  stats.ranks = group.size();
  stats.items_total = setup.part_total >= 0 ? setup.part_total : setup.total;
  stats.items_skipped = stats.items_total - static_cast<int64_t>(setup.pending.size());
  if (setup.finished || options.prepare) {
    stats.items_skipped = setup.finished ? stats.items_total : 0;
    GROVE_RETURN_IF_ERROR(gather_stats(group, 0, 0.0, stats));
    if (options.prepare) stats.outputs.push_back(plan.output);
    stats.seconds = seconds_since(start);
    return stats;
  }

  // The other ranks open the store rank 0 made, and every rank its journal.
  Status open_status = ok_status();
  std::unique_ptr<Journal> journal;
  if (!root) {
    auto opened = open_store_writer(store, store_format);
    if (opened.ok()) {
      writer = std::move(*opened);
    } else {
      open_status = opened.error();
    }
  }
  if (open_status.ok()) {
    // Named by host and process too: parts of one output may run anywhere at once.
    char host[256] = {};
    ::gethostname(host, sizeof(host) - 1);
    auto opened =
        Journal::open(work / fmt::format("journal-{}-{}-{}.txt", group.rank(), host, ::getpid()));
    if (opened.ok()) {
      journal = std::move(*opened);
    } else {
      open_status = opened.error();
    }
  }
  GROVE_RETURN_IF_ERROR(group.agree(open_status));

  // Take batches of blocks from the queue until none are left.
  const Blocking blocking{plan.box, setup.block_shape};
  RunOptions run_options = plan.run_options;
  run_options.block_shape = setup.block_shape;
  GROVE_ASSIGN_OR_RETURN(std::unique_ptr<WorkQueue> queue,
                         group.deal(static_cast<int64_t>(setup.pending.size()), engine.threads(),
                                    root ? progress : nullptr));
  std::atomic<int64_t> finished{0};
  double busy = 0;
  int64_t completed = 0;
  Status work_status = ok_status();
  while (true) {
    auto range = queue->next(completed);
    if (!range.ok()) {
      work_status = range.error();
      break;
    }
    if (!range->has_value()) break;
    std::vector<Box5> blocks;
    for (int64_t i = (*range)->first; i < (*range)->second; ++i)
      blocks.push_back(blocking.block(setup.pending[static_cast<size_t>(i)]));
    const Clock::time_point batch_start = Clock::now();
    work_status = engine.run_blocks(
        plan.node, blocks, run_options, [&](const Box5& block, const AnyArray& data) -> Status {
          GROVE_RETURN_IF_ERROR(writer->write(block.relative_to(plan.box.begin), data)
                                    .context(fmt::format("writing block {}", block.to_string())));
          GROVE_RETURN_IF_ERROR(journal->append(block_index(blocking, block)));
          return stall_for_test(++finished, options.stall_after_blocks);
        });
    busy += seconds_since(batch_start);
    if (!work_status.ok()) break;
    completed = static_cast<int64_t>(blocks.size());
  }
  const Status finish_status = queue->finish(!work_status.ok());
  if (work_status.ok()) work_status = finish_status;
  GROVE_RETURN_IF_ERROR(group.agree(work_status));

  // Rank 0 completes the output: the HDF5 copy, or the store's completion mark.
  Status final_status = ok_status();
  const bool complete_output = !options.prepare && options.part_count == 0;
  if (root && complete_output) {
    final_status = [&]() -> Status {
      if (to_hdf5) {
        writer.reset();
        GROVE_RETURN_IF_ERROR(copy_parts_to_hdf5(plan, store, setup.block_shape));
      } else {
        GROVE_RETURN_IF_ERROR(writer->commit());
      }
      journal.reset();
      remove_work_directory(work);
      return ok_status();
    }();
  }
  GROVE_RETURN_IF_ERROR(group.agree(final_status));
  GROVE_RETURN_IF_ERROR(gather_stats(group, finished.load(), busy, stats));
  stats.outputs.push_back(plan.output);
  stats.seconds = seconds_since(start);
  return stats;
}

Result<DistributedStats> distributed_export_files(const ExportFunctions& exporter,
                                                  const std::vector<std::string>& files,
                                                  const ExportRequest& base, ProcessGroup& group,
                                                  const DistributedOptions& options,
                                                  Progress* progress) {
  const Clock::time_point start = Clock::now();
  if (options.prepare) {
    return Error(ErrorCode::kInvalidArgument,
                 "--prepare is for one image written in blocks; file batches need none");
  }
  // A part (--part K/N) takes every N-th file, from the K-th.
  std::vector<std::string> own;
  for (size_t i = 0; i < files.size(); ++i) {
    if (options.part_count == 0 ||
        static_cast<int>(i % static_cast<size_t>(options.part_count)) == options.part_index)
      own.push_back(files[i]);
  }
  DistributedStats stats;
  stats.mode = "files";
  stats.ranks = group.size();
  stats.items_total = static_cast<int64_t>(own.size());
  GROVE_ASSIGN_OR_RETURN(std::unique_ptr<WorkQueue> queue,
                         group.deal(stats.items_total, 1, group.rank() == 0 ? progress : nullptr));
  int64_t computed = 0, skipped = 0, completed = 0;
  double busy = 0;
  std::vector<std::string> outputs;
  Status work_status = ok_status();
  while (work_status.ok()) {
    auto range = queue->next(completed);
    if (!range.ok()) {
      work_status = range.error();
      break;
    }
    if (!range->has_value()) break;
    completed = 0;
    for (int64_t i = (*range)->first; i < (*range)->second && work_status.ok(); ++i) {
      ExportRequest request = base;
      request.input = own[static_cast<size_t>(i)];
      if (request.source == ExportSource::kLabels && options.lane_of_file)
        request.lane = options.lane_of_file(request.input);
      const Clock::time_point file_start = Clock::now();
      work_status = [&]() -> Status {
        if (options.resume) {
          GROVE_ASSIGN_OR_RETURN(ExportPlan plan, exporter.plan(request));
          if (export_is_complete(plan.output, plan.format)) {
            ++skipped;
            return ok_status();
          }
          // An incomplete output of the killed run is replaced.
          request.overwrite = true;
        }
        GROVE_ASSIGN_OR_RETURN(std::string output, exporter.write(request));
        std::printf("%s -> %s\n", request.input.c_str(), output.c_str());
        std::fflush(stdout);
        ++computed;
        return stall_for_test(computed, options.stall_after_blocks);
      }();
      busy += seconds_since(file_start);
      ++completed;
    }
  }
  const Status finish_status = queue->finish(!work_status.ok());
  if (work_status.ok()) work_status = finish_status;
  GROVE_RETURN_IF_ERROR(group.agree(work_status));
  GROVE_ASSIGN_OR_RETURN(
      std::vector<std::string> texts,
      group.gather(Json{{"computed", computed}, {"skipped", skipped}, {"busy", busy}}.dump()));
  for (const std::string& text : texts) {
    try {
      const Json json = Json::parse(text);
      stats.computed_per_rank.push_back(json.at("computed").get<int64_t>());
      stats.busy_seconds_per_rank.push_back(json.at("busy").get<double>());
      stats.items_computed += stats.computed_per_rank.back();
      stats.items_skipped += json.at("skipped").get<int64_t>();
    } catch (const std::exception& e) {
      return make_error(ErrorCode::kInternal, "bad statistics message: {}", e.what());
    }
  }
  stats.seconds = seconds_since(start);
  return stats;
}

}  // namespace grove
