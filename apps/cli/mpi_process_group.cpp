// MPI behind grove's ProcessGroup (distributed_export.h), compiled in when CMake finds MPI
// (GROVE_HAVE_MPI).
//
// Waiting: Open MPI's blocking calls spin on a core while they wait. A rank that waits for
// others (in a collective, or for its next batch) would then take a core from a rank that
// computes, which on a shared or oversubscribed node slows the whole job. So every wait here is
// a nonblocking call polled with short sleeps.
//
// The queue: rank 0 runs a small server thread that answers the other ranks' requests for
// work (request: blocks finished since the last one; answer: the next range, empty when none is
// left) and takes its own batches from the same dealer under a mutex. Only that thread calls
// MPI while the queue is open (rank 0's main thread computes), so MPI_THREAD_SERIALIZED is
// enough.
#include "mpi_process_group.h"

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>

#if GROVE_HAVE_MPI
#include <mpi.h>
#endif

namespace grove::cli {

bool launched_by_mpi() {
  return std::getenv("OMPI_COMM_WORLD_SIZE") || std::getenv("PMI_SIZE") ||
         std::getenv("PMIX_RANK") || std::getenv("PMI_RANK");
}

#if GROVE_HAVE_MPI

namespace {

constexpr int kRequestTag = 71;
constexpr int kAnswerTag = 72;
// A request with this many threads says: no more work for me (done, or failed).
constexpr int64_t kLeaving = -1;
constexpr int64_t kLeavingFailed = -2;

Error mpi_error(int code, const char* call) {
  char text[MPI_MAX_ERROR_STRING] = {};
  int length = 0;
  MPI_Error_string(code, text, &length);
  return make_error(ErrorCode::kInternal, "MPI: {} failed: {}", call, std::string(text, length));
}

#define GROVE_MPI(call)                                                           \
  do {                                                                            \
    const int grove_mpi_code_ = (call);                                           \
    if (grove_mpi_code_ != MPI_SUCCESS) return mpi_error(grove_mpi_code_, #call); \
  } while (0)

// Waits for request, sleeping between tests (never spinning).
Status wait_politely(MPI_Request& request) {
  auto pause = std::chrono::microseconds(50);
  while (true) {
    int done = 0;
    GROVE_MPI(MPI_Test(&request, &done, MPI_STATUS_IGNORE));
    if (done) return ok_status();
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::microseconds(2000));
  }
}

class MpiWorkQueue : public WorkQueue {
 public:
  MpiWorkQueue(int rank, int size, int64_t total, int64_t min_batch, Progress* progress)
      : rank_(rank), size_(size), dealer_(total, size), min_batch_(min_batch), progress_(progress) {
    if (rank_ == 0) {
      if (progress_) progress_->start(total, "distributed export");
      if (size_ > 1) server_ = std::thread([this] { server_status_ = serve(); });
    }
  }
  ~MpiWorkQueue() override {
    if (server_.joinable()) server_.join();
  }

  Result<std::optional<std::pair<int64_t, int64_t>>> next(int64_t completed) override {
    if (rank_ == 0) {
      std::lock_guard lock(mutex_);
      if (progress_ && completed > 0) progress_->advance(completed);
      return dealer_.take(min_batch_);
    }
    int64_t request[2] = {completed, min_batch_};
    int64_t answer[2] = {0, 0};
    GROVE_RETURN_IF_ERROR(exchange(request, answer));
    if (answer[0] >= answer[1]) {
      given_up_ = true;
      return std::optional<std::pair<int64_t, int64_t>>();
    }
    return std::optional<std::pair<int64_t, int64_t>>(std::make_pair(answer[0], answer[1]));
  }

  Status finish(bool failed) override {
    if (rank_ == 0) {
      if (failed) {
        std::lock_guard lock(mutex_);
        dealer_.stop();  // the others get no more work
      }
      if (server_.joinable()) server_.join();
      if (progress_) progress_->finish();
      return server_status_;
    }
    if (given_up_) return ok_status();  // rank 0 has counted this rank out already
    // Tell rank 0 to count this rank out (it answers nothing).
    int64_t request[2] = {0, failed ? kLeavingFailed : kLeaving};
    MPI_Request sent;
    GROVE_MPI(MPI_Isend(request, 2, MPI_INT64_T, 0, kRequestTag, MPI_COMM_WORLD, &sent));
    return wait_politely(sent);
  }

 private:
  Status exchange(int64_t (&request)[2], int64_t (&answer)[2]) {
    MPI_Request received, sent;
    GROVE_MPI(MPI_Irecv(answer, 2, MPI_INT64_T, 0, kAnswerTag, MPI_COMM_WORLD, &received));
    GROVE_MPI(MPI_Isend(request, 2, MPI_INT64_T, 0, kRequestTag, MPI_COMM_WORLD, &sent));
    GROVE_RETURN_IF_ERROR(wait_politely(sent));
    return wait_politely(received);
  }

  // Rank 0's server thread: answers until every other rank has left.
  Status serve() {
    int active = size_ - 1;
    auto pause = std::chrono::microseconds(50);
    while (active > 0) {
      int waiting = 0;
      MPI_Status status;
      GROVE_MPI(MPI_Iprobe(MPI_ANY_SOURCE, kRequestTag, MPI_COMM_WORLD, &waiting, &status));
      if (!waiting) {
        std::this_thread::sleep_for(pause);
        pause = std::min(pause * 2, std::chrono::microseconds(1000));
        continue;
      }
      pause = std::chrono::microseconds(50);
      int64_t request[2];
      GROVE_MPI(MPI_Recv(request, 2, MPI_INT64_T, status.MPI_SOURCE, kRequestTag, MPI_COMM_WORLD,
                         MPI_STATUS_IGNORE));
      if (request[1] == kLeaving || request[1] == kLeavingFailed) {
        --active;
        if (request[1] == kLeavingFailed) {
          std::lock_guard lock(mutex_);
          dealer_.stop();
        }
        continue;
      }
      int64_t answer[2] = {0, 0};
      {
        std::lock_guard lock(mutex_);
        if (progress_ && request[0] > 0) progress_->advance(request[0]);
        if (auto range = dealer_.take(request[1])) {
          answer[0] = range->first;
          answer[1] = range->second;
        }
      }
      // An empty answer tells the rank that it is done.
      if (answer[0] >= answer[1]) --active;
      MPI_Request sent;
      GROVE_MPI(
          MPI_Isend(answer, 2, MPI_INT64_T, status.MPI_SOURCE, kAnswerTag, MPI_COMM_WORLD, &sent));
      GROVE_RETURN_IF_ERROR(wait_politely(sent));
    }
    return ok_status();
  }

  int rank_;
  int size_;
  BatchDealer dealer_;
  int64_t min_batch_;
  Progress* progress_;
  std::mutex mutex_;
  std::thread server_;
  Status server_status_ = ok_status();
  bool given_up_ = false;
};

class MpiProcessGroup : public ProcessGroup {
 public:
  static Result<std::unique_ptr<ProcessGroup>> start() {
    int provided = 0;
    GROVE_MPI(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided));
    auto group = std::unique_ptr<MpiProcessGroup>(new MpiProcessGroup());
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    if (provided < MPI_THREAD_SERIALIZED) {
      return Error(ErrorCode::kUnsupported,
                   "the MPI library does not allow calls from more than one thread "
                   "(MPI_THREAD_SERIALIZED), which grove's work queue needs");
    }
    GROVE_MPI(MPI_Comm_rank(MPI_COMM_WORLD, &group->rank_));
    GROVE_MPI(MPI_Comm_size(MPI_COMM_WORLD, &group->size_));
    return std::unique_ptr<ProcessGroup>(std::move(group));
  }
  ~MpiProcessGroup() override { MPI_Finalize(); }

  int rank() const override { return rank_; }
  int size() const override { return size_; }

  Result<std::string> broadcast(const std::string& text) override {
    int64_t length = static_cast<int64_t>(text.size());
    MPI_Request request;
    GROVE_MPI(MPI_Ibcast(&length, 1, MPI_INT64_T, 0, MPI_COMM_WORLD, &request));
    GROVE_RETURN_IF_ERROR(wait_politely(request));
    std::string out = rank_ == 0 ? text : std::string(static_cast<size_t>(length), '\0');
    if (length > 0) {
      GROVE_MPI(
          MPI_Ibcast(out.data(), static_cast<int>(length), MPI_CHAR, 0, MPI_COMM_WORLD, &request));
      GROVE_RETURN_IF_ERROR(wait_politely(request));
    }
    return out;
  }

  Status agree(const Status& local) override {
    // The lowest failing rank, or size_ if none failed.
    int mine = local.ok() ? size_ : rank_;
    int first = size_;
    MPI_Request request;
    GROVE_MPI(MPI_Iallreduce(&mine, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD, &request));
    GROVE_RETURN_IF_ERROR(wait_politely(request));
    if (first == size_) return ok_status();
    // That rank's message to everyone (sent by it alone: a point-to-point broadcast).
    std::string message;
    ErrorCode code = ErrorCode::kInternal;
    if (rank_ == first) {
      message = local.error().to_string();
      code = local.error().code();
    }
    int64_t header[2] = {static_cast<int64_t>(code), static_cast<int64_t>(message.size())};
    GROVE_MPI(MPI_Ibcast(header, 2, MPI_INT64_T, first, MPI_COMM_WORLD, &request));
    GROVE_RETURN_IF_ERROR(wait_politely(request));
    message.resize(static_cast<size_t>(header[1]));
    if (header[1] > 0) {
      GROVE_MPI(MPI_Ibcast(message.data(), static_cast<int>(header[1]), MPI_CHAR, first,
                           MPI_COMM_WORLD, &request));
      GROVE_RETURN_IF_ERROR(wait_politely(request));
    }
    if (rank_ == first) return local;
    return make_error(static_cast<ErrorCode>(header[0]), "rank {}: {}", first, message);
  }

  Result<std::vector<std::string>> gather(const std::string& text) override {
    int length = static_cast<int>(text.size());
    std::vector<int> lengths(static_cast<size_t>(size_));
    MPI_Request request;
    GROVE_MPI(
        MPI_Igather(&length, 1, MPI_INT, lengths.data(), 1, MPI_INT, 0, MPI_COMM_WORLD, &request));
    GROVE_RETURN_IF_ERROR(wait_politely(request));
    std::vector<int> offsets(static_cast<size_t>(size_), 0);
    int total = 0;
    for (int r = 0; r < size_; ++r) {
      offsets[static_cast<size_t>(r)] = total;
      total += lengths[static_cast<size_t>(r)];
    }
    std::string all(static_cast<size_t>(rank_ == 0 ? total : 0), '\0');
    GROVE_MPI(MPI_Igatherv(text.data(), length, MPI_CHAR, all.data(), lengths.data(),
                           offsets.data(), MPI_CHAR, 0, MPI_COMM_WORLD, &request));
    GROVE_RETURN_IF_ERROR(wait_politely(request));
    std::vector<std::string> out;
    if (rank_ == 0) {
      for (int r = 0; r < size_; ++r) {
        out.push_back(all.substr(static_cast<size_t>(offsets[static_cast<size_t>(r)]),
                                 static_cast<size_t>(lengths[static_cast<size_t>(r)])));
      }
    }
    return out;
  }

  Result<std::unique_ptr<WorkQueue>> deal(int64_t total, int64_t min_batch,
                                          Progress* progress) override {
    return std::unique_ptr<WorkQueue>(new MpiWorkQueue(rank_, size_, total, min_batch, progress));
  }

 private:
  MpiProcessGroup() = default;
  int rank_ = 0;
  int size_ = 1;
};

}  // namespace

Result<std::unique_ptr<ProcessGroup>> make_process_group() {
  if (!launched_by_mpi()) return std::unique_ptr<ProcessGroup>(new LocalProcessGroup());
  return MpiProcessGroup::start();
}

#else  // no MPI

namespace {

int environment_integer(const char* name, int fallback) {
  const char* value = std::getenv(name);
  return value && *value ? std::atoi(value) : fallback;
}

// The number of ranks the launcher started, or -1 if it does not say.
int launched_size() {
  int size = environment_integer("OMPI_COMM_WORLD_SIZE", -1);
  if (size < 0) size = environment_integer("PMI_SIZE", -1);
  if (size < 0) size = environment_integer("PMIX_SIZE", -1);
  return size;
}

}  // namespace

Result<std::unique_ptr<ProcessGroup>> make_process_group() {
  if (launched_by_mpi() && launched_size() != 1) {
    return Error(ErrorCode::kUnsupported,
                 "grove was built without MPI: --distributed runs one process, so start it "
                 "without mpirun, or rebuild grove with MPI (apt-get install libopenmpi-dev)");
  }
  return std::unique_ptr<ProcessGroup>(new LocalProcessGroup());
}

#endif

}  // namespace grove::cli
