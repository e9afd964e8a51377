// The HTTP server of `grove serve` (see server.h and docs/http-api.md).
#include "server.h"

#include <fcntl.h>
#include <httplib.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "brush.h"
#include "grove/workflows/autocontext/autocontext.h"
#include "root_folder.h"
#include "tile_encoding.h"

#ifndef GROVE_WEB_BUILD_DIR
#define GROVE_WEB_BUILD_DIR ""
#endif

namespace grove::server {
namespace {

using nlohmann::json;

// httplib's server with its request processing opened up for Server::answer().
class HttpServer : public httplib::Server {
 public:
  void process(httplib::Stream& stream) {
    bool connection_closed = false;
    process_request(stream, /*close_connection=*/true, connection_closed, nullptr);
  }
};

// An in-memory connection for Server::answer(): reads a request from a string and collects the
// response.
class StringStream : public httplib::Stream {
 public:
  explicit StringStream(std::string_view request) : request_(request) {}
  bool is_readable() const override { return true; }
  bool is_writable() const override { return true; }
  ssize_t read(char* out, size_t size) override {
    const size_t n = std::min(size, request_.size() - position_);
    std::memcpy(out, request_.data() + position_, n);
    position_ += n;
    return static_cast<ssize_t>(n);
  }
  ssize_t write(const char* data, size_t size) override {
    response_.append(data, size);
    return static_cast<ssize_t>(size);
  }
  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    ip = "127.0.0.1";
    port = 0;
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    ip = "127.0.0.1";
    port = 0;
  }
  socket_t socket() const override { return 0; }
  std::string take_response() { return std::move(response_); }

 private:
  std::string_view request_;
  size_t position_ = 0;
  std::string response_;
};

// ----------------------------------------------------------------------------------------------
// Small helpers

// A request the page got wrong: answered with this status and message.
struct BadRequest {
  int status;
  std::string message;
};

bool file_exists(const std::string& path) {
  struct stat info;
  return ::stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode);
}

std::string executable_folder() {
  char buffer[PATH_MAX];
  ssize_t length = ::readlink("/proc/self/exe", buffer, sizeof(buffer) - 1);
  if (length <= 0) return "";
  buffer[length] = '\0';
  return std::filesystem::path(buffer).parent_path().string();
}

// Compares without an early exit, so the time taken says nothing about the token.
bool same_token(const std::string& given, const std::string& expected) {
  if (given.size() != expected.size()) return false;
  unsigned char difference = 0;
  for (size_t i = 0; i < given.size(); ++i) {
    difference |= static_cast<unsigned char>(given[i] ^ expected[i]);
  }
  return difference == 0;
}

int http_status_for(const Error& error) {
  switch (error.code()) {
    case ErrorCode::kInvalidArgument: return 400;
    case ErrorCode::kOutOfRange: return 400;
    case ErrorCode::kNotFound: return 404;
    case ErrorCode::kAlreadyExists: return 409;
    case ErrorCode::kCancelled: return 409;
    case ErrorCode::kUnsupported: return 422;
    case ErrorCode::kCorrupt: return 422;
    case ErrorCode::kIo: return 500;
    case ErrorCode::kResourceExhausted: return 507;
    case ErrorCode::kInternal: return 500;
  }
  return 500;
}

void send_json(httplib::Response& response, const json& value, int status = 200) {
  response.status = status;
  response.set_content(value.dump(-1, ' ', false, json::error_handler_t::replace),
                       "application/json");
}

void send_error(httplib::Response& response, int status, const std::string& message) {
  send_json(response, json{{"error", message}}, status);
}

void send_error(httplib::Response& response, const Error& error) {
  send_error(response, http_status_for(error), error.to_string());
}

// The request body as a JSON object; malformed JSON, another content type or a non-object is a
// BadRequest.
json parse_body(const httplib::Request& request) {
  if (request.body.empty()) return json::object();
  const std::string type = request.get_header_value("Content-Type");
  if (type.rfind("application/json", 0) != 0) {
    throw BadRequest{415, "request bodies must be JSON (Content-Type: application/json)"};
  }
  json body = json::parse(request.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) throw BadRequest{400, "the request body is not valid JSON"};
  if (!body.is_object()) throw BadRequest{400, "the request body must be a JSON object"};
  return body;
}

// What /api/export accepts for a project of stage_count stages.
std::set<std::string> export_sources(int stage_count) {
  std::set<std::string> sources{"probabilities", "simple-segmentation", "uncertainty"};
  if (stage_count < 2) return sources;
  for (int stage = 1; stage <= stage_count; ++stage) {
    for (const char* source : {"probabilities", "simple-segmentation", "uncertainty"})
      sources.insert(fmt::format("{}-stage-{}", source, stage));
  }
  sources.insert("probabilities-all-stages");
  return sources;
}

int64_t integer_value(const json& value, const std::string& name, int64_t min, int64_t max) {
  if (!value.is_number()) throw BadRequest{400, "'" + name + "' must be a number"};
  const double number = value.get<double>();
  if (!std::isfinite(number) || number != std::floor(number) || number < static_cast<double>(min) ||
      number > static_cast<double>(max)) {
    throw BadRequest{400, fmt::format("'{}' must be a whole number in [{}, {}]", name, min, max)};
  }
  return static_cast<int64_t>(number);
}

int64_t integer_field(const json& body, const std::string& name, int64_t min, int64_t max) {
  auto found = body.find(name);
  if (found == body.end()) throw BadRequest{400, "'" + name + "' is missing"};
  return integer_value(*found, name, min, max);
}

int64_t integer_field_or(const json& body, const std::string& name, int64_t min, int64_t max,
                         int64_t fallback) {
  auto found = body.find(name);
  if (found == body.end() || found->is_null()) return fallback;
  return integer_value(*found, name, min, max);
}

double number_field(const json& body, const std::string& name, double min, double max) {
  auto found = body.find(name);
  if (found == body.end() || !found->is_number()) {
    throw BadRequest{400, "'" + name + "' must be a number"};
  }
  const double number = found->get<double>();
  if (!std::isfinite(number) || number < min || number > max) {
    throw BadRequest{400, fmt::format("'{}' must lie in [{}, {}]", name, min, max)};
  }
  return number;
}

std::string string_field_or(const json& body, const std::string& name, std::string fallback,
                            size_t max_length = 4096) {
  auto found = body.find(name);
  if (found == body.end() || found->is_null()) return fallback;
  if (!found->is_string()) throw BadRequest{400, "'" + name + "' must be a string"};
  std::string value = found->get<std::string>();
  if (value.size() > max_length) throw BadRequest{400, "'" + name + "' is too long"};
  return value;
}

bool bool_field(const json& body, const std::string& name) {
  auto found = body.find(name);
  if (found == body.end() || !found->is_boolean()) {
    throw BadRequest{400, "'" + name + "' must be true or false"};
  }
  return found->get<bool>();
}

int64_t integer_param(const httplib::Request& request, const std::string& name, int64_t min,
                      int64_t max, std::optional<int64_t> fallback = std::nullopt) {
  if (!request.has_param(name)) {
    if (fallback) return *fallback;
    throw BadRequest{400, "query parameter '" + name + "' is missing"};
  }
  const std::string text = request.get_param_value(name);
  int64_t value = 0;
  size_t used = 0;
  try {
    value = std::stoll(text, &used);
  } catch (...) {
    used = 0;
  }
  if (used == 0 || used != text.size() || value < min || value > max) {
    throw BadRequest{400, fmt::format("query parameter '{}' must be a whole number in [{}, {}]",
                                      name, min, max)};
  }
  return value;
}

// A numeric id from the URL path (the route's regex allows digits only).
int64_t path_id(const std::string& text) {
  if (text.empty() || text.size() > 15) throw BadRequest{404, "no such id: " + text};
  return std::stoll(text);
}

bool valid_color(const std::string& color) {
  if (color.size() != 7 || color[0] != '#') return false;
  return std::all_of(color.begin() + 1, color.end(), [](char ch) { return std::isxdigit(ch); });
}

// ----------------------------------------------------------------------------------------------
// JSON forms of the backend's types (docs/http-api.md)

json shape_json(const Shape5& shape) {
  return json::array({shape.t(), shape.z(), shape.y(), shape.x(), shape.c()});
}

json box_json(const Box5& box) {
  return json{{"begin", shape_json(box.begin)}, {"end", shape_json(box.end)}};
}

json image_json(const ImageSummary& image, const RootFolder& root) {
  return json{{"id", image.id},
              {"name", image.name},
              {"path", root.relative(image.path)},
              {"shape", shape_json(image.shape)},
              {"dtype", std::string(dtype_name(image.dtype))},
              {"axes", image.axes},
              {"pixel_size", image.pixel_size},
              {"pixel_unit", image.pixel_unit},
              {"has_pixel_size", image.has_pixel_size},
              {"labelled_pixels", image.labelled_pixels}};
}

json features_json(const FeatureSelection& features) {
  json families = json::array();
  for (auto family : FeatureSelection::kFamilies) families.push_back(std::string(family));
  return json{{"families", families},
              {"scales", FeatureSelection::kScales},
              {"selected", features.selected},
              {"in_2d", features.in_2d}};
}

FeatureSelection features_from_json(const json& body) {
  FeatureSelection features;
  auto selected = body.find("selected");
  if (selected == body.end() || !selected->is_array() ||
      selected->size() != FeatureSelection::kFamilyCount) {
    throw BadRequest{400, "'selected' must be a 6 × 7 array of true/false (family × scale)"};
  }
  for (int family = 0; family < FeatureSelection::kFamilyCount; ++family) {
    const json& row = (*selected)[family];
    if (!row.is_array() || row.size() != FeatureSelection::kScaleCount) {
      throw BadRequest{400, "'selected' must be a 6 × 7 array of true/false (family × scale)"};
    }
    for (int scale = 0; scale < FeatureSelection::kScaleCount; ++scale) {
      if (!row[scale].is_boolean()) throw BadRequest{400, "'selected' must hold true/false"};
      const bool on = row[scale].get<bool>();
      if (on && !FeatureSelection::valid_cell(family, scale)) {
        throw BadRequest{
            400, fmt::format("{} is not available at scale {}", FeatureSelection::kFamilies[family],
                             FeatureSelection::kScales[scale])};
      }
      features.selected[family][scale] = on;
    }
  }
  auto in_2d = body.find("in_2d");
  if (in_2d != body.end()) {
    if (!in_2d->is_array() || in_2d->size() != FeatureSelection::kScaleCount) {
      throw BadRequest{400, "'in_2d' must be an array of 7 true/false"};
    }
    for (int scale = 0; scale < FeatureSelection::kScaleCount; ++scale) {
      if (!(*in_2d)[scale].is_boolean()) throw BadRequest{400, "'in_2d' must hold true/false"};
      features.in_2d[scale] = (*in_2d)[scale].get<bool>();
    }
  }
  return features;
}

// ----------------------------------------------------------------------------------------------
// Server-sent events: each connected page has a queue; publish() appends to all of them.

class EventHub {
 public:
  struct Subscriber {
    std::deque<std::string> messages;
    bool closed = false;
  };

  std::shared_ptr<Subscriber> subscribe() {
    std::lock_guard lock(mutex_);
    auto subscriber = std::make_shared<Subscriber>();
    if (closed_) subscriber->closed = true;
    subscribers_.insert(subscriber);
    return subscriber;
  }

  void unsubscribe(const std::shared_ptr<Subscriber>& subscriber) {
    std::lock_guard lock(mutex_);
    subscribers_.erase(subscriber);
  }

  void publish(const std::string& event, const json& data) {
    std::string message = "event: " + event +
                          "\ndata: " + data.dump(-1, ' ', false, json::error_handler_t::replace) +
                          "\n\n";
    {
      std::lock_guard lock(mutex_);
      for (const auto& subscriber : subscribers_) {
        // A page that stopped reading must not make the server hoard memory.
        if (subscriber->messages.size() < 10000) subscriber->messages.push_back(message);
      }
    }
    changed_.notify_all();
  }

  // Waits up to `timeout` for messages; returns them (empty on time-out). Closed: nullopt.
  std::optional<std::string> next(const std::shared_ptr<Subscriber>& subscriber,
                                  std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, timeout,
                      [&] { return subscriber->closed || !subscriber->messages.empty(); });
    if (subscriber->closed) return std::nullopt;
    std::string all;
    while (!subscriber->messages.empty()) {
      all += subscriber->messages.front();
      subscriber->messages.pop_front();
    }
    return all;
  }

  void close_all() {
    {
      std::lock_guard lock(mutex_);
      closed_ = true;
      for (const auto& subscriber : subscribers_) subscriber->closed = true;
    }
    changed_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::set<std::shared_ptr<Subscriber>> subscribers_;
  bool closed_ = false;
};

// ----------------------------------------------------------------------------------------------
// Retraining off the request threads: label edits call schedule(); edits that arrive while a
// training runs are folded into one more training after it (never a queue of stale ones).

class Trainer {
 public:
  Trainer(std::shared_ptr<Backend> backend, EventHub& events)
      : backend_(std::move(backend)), events_(events), thread_([this] { loop(); }) {}

  ~Trainer() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
      cancel_.cancel();
    }
    wake_.notify_all();
    thread_.join();
  }

  void schedule() {
    {
      std::lock_guard lock(mutex_);
      pending_ = true;
    }
    wake_.notify_all();
  }

  json state() {
    std::lock_guard lock(mutex_);
    return json{{"state", state_}, {"message", message_}};
  }

 private:
  void set_state(const std::string& state, const std::string& message, uint64_t generation) {
    {
      std::lock_guard lock(mutex_);
      state_ = state;
      message_ = message;
    }
    json event{{"state", state}, {"message", message}};
    if (generation > 0) event["generation"] = generation;
    events_.publish("training", event);
  }

  void loop() {
    for (;;) {
      CancelToken cancel;
      {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [&] { return pending_ || stopping_; });
        if (stopping_) return;
        pending_ = false;
        cancel = cancel_;
      }
      set_state("running", "", 0);
      Progress progress([this](int64_t done, int64_t total, const std::string& label) {
        events_.publish(
            "training",
            json{{"state", "running"}, {"done", done}, {"total", total}, {"message", label}});
      });
      Result<uint64_t> trained = backend_->train(cancel, progress);
      if (trained.ok()) {
        set_state("done", "", *trained);
        events_.publish("prediction", json{{"generation", *trained}});
      } else if (trained.error().code() == ErrorCode::kCancelled) {
        set_state("idle", "", 0);
      } else {
        // Too few labels is the normal state of a new project, not an alarm.
        set_state(trained.error().code() == ErrorCode::kInvalidArgument ? "waiting" : "failed",
                  trained.error().to_string(), 0);
      }
    }
  }

  std::shared_ptr<Backend> backend_;
  EventHub& events_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool pending_ = false;
  bool stopping_ = false;
  CancelToken cancel_;
  std::string state_ = "idle";
  std::string message_;
  std::thread thread_;  // last: starts after the members it uses exist
};

// ----------------------------------------------------------------------------------------------
// Jobs: exports and saves, on their own threads, with progress pushed to the page.

class Jobs {
 public:
  explicit Jobs(EventHub& events) : events_(events) {}

  ~Jobs() {
    std::map<std::string, std::shared_ptr<Job>> jobs;
    {
      std::lock_guard lock(mutex_);
      jobs = jobs_;
    }
    for (auto& [id, job] : jobs) {
      job->cancel.cancel();
      if (job->thread.joinable()) job->thread.join();
    }
  }

  using Work = std::function<Result<std::vector<std::string>>(const CancelToken&, Progress&)>;

  std::string start(const std::string& kind, Work work) {
    auto job = std::make_shared<Job>();
    {
      std::lock_guard lock(mutex_);
      job->id = fmt::format("{}-{}", kind, ++counter_);
      job->kind = kind;
      jobs_[job->id] = job;
    }
    publish(*job);
    job->thread = std::thread([this, job, work = std::move(work)] {
      Progress progress([this, job](int64_t done, int64_t total, const std::string& label) {
        {
          std::lock_guard lock(mutex_);
          job->done = done, job->total = total, job->label = label;
        }
        publish(*job);
      });
      Result<std::vector<std::string>> result = work(job->cancel, progress);
      {
        std::lock_guard lock(mutex_);
        if (result.ok()) {
          job->state = "succeeded";
          job->outputs = *result;
        } else {
          job->state = result.error().code() == ErrorCode::kCancelled ? "cancelled" : "failed";
          job->message = result.error().to_string();
        }
      }
      publish(*job);
    });
    return job->id;
  }

  bool cancel(const std::string& id) {
    std::lock_guard lock(mutex_);
    auto found = jobs_.find(id);
    if (found == jobs_.end()) return false;
    found->second->cancel.cancel();
    return true;
  }

  json list() {
    std::lock_guard lock(mutex_);
    json all = json::array();
    for (auto& [id, job] : jobs_) all.push_back(job_json_locked(*job));
    return all;
  }

 private:
  struct Job {
    std::string id, kind, state = "running", label, message;
    int64_t done = 0, total = 0;
    std::vector<std::string> outputs;
    CancelToken cancel;
    std::thread thread;
  };

  json job_json_locked(const Job& job) {
    return json{{"id", job.id},           {"kind", job.kind},      {"state", job.state},
                {"done", job.done},       {"total", job.total},    {"label", job.label},
                {"message", job.message}, {"outputs", job.outputs}};
  }

  void publish(const Job& job) {
    json event;
    {
      std::lock_guard lock(mutex_);
      event = job_json_locked(job);
    }
    events_.publish("job", event);
  }

  EventHub& events_;
  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<Job>> jobs_;
  int counter_ = 0;
};

// Tile requests in flight by the page's request id, so that the page can cancel them.
class TileRequests {
 public:
  void add(const std::string& id, const CancelToken& token) {
    if (id.empty()) return;
    std::lock_guard lock(mutex_);
    active_[id] = token;
  }
  void remove(const std::string& id) {
    if (id.empty()) return;
    std::lock_guard lock(mutex_);
    active_.erase(id);
  }
  int cancel(const std::vector<std::string>& ids) {
    std::lock_guard lock(mutex_);
    int cancelled = 0;
    for (const auto& id : ids) {
      auto found = active_.find(id);
      if (found == active_.end()) continue;
      found->second.cancel();
      ++cancelled;
    }
    return cancelled;
  }

 private:
  std::mutex mutex_;
  std::map<std::string, CancelToken> active_;
};

std::string content_type_for(const std::string& path) {
  static const std::map<std::string, std::string> types{{".html", "text/html; charset=utf-8"},
                                                        {".js", "text/javascript; charset=utf-8"},
                                                        {".mjs", "text/javascript; charset=utf-8"},
                                                        {".css", "text/css; charset=utf-8"},
                                                        {".json", "application/json"},
                                                        {".map", "application/json"},
                                                        {".svg", "image/svg+xml"},
                                                        {".png", "image/png"},
                                                        {".ico", "image/x-icon"},
                                                        {".woff2", "font/woff2"},
                                                        {".woff", "font/woff"},
                                                        {".txt", "text/plain; charset=utf-8"}};
  auto found = types.find(std::filesystem::path(path).extension().string());
  return found == types.end() ? "application/octet-stream" : found->second;
}

const char* kUnauthorisedPage = R"(<!doctype html>
<html><head><meta charset="utf-8"><title>grove: access token needed</title>
<style>body{font:16px system-ui,sans-serif;margin:15vh auto;max-width:34em;color:#223}</style>
</head><body><h1>grove</h1>
<p>This page needs the access token. Open the address that <code>grove serve</code> printed in
its terminal (it ends in <code>?token=…</code>).</p></body></html>)";

}  // namespace

// ------------------------------------------------------------------------------------------------

std::string find_web_assets() {
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("GROVE_WEB_DIR"); env != nullptr && *env != '\0') {
    candidates.push_back(env);
  }
  std::string exe = executable_folder();
  if (!exe.empty()) {
    candidates.push_back(exe + "/../web");
    candidates.push_back(exe + "/../share/grove/web");
  }
  if (std::string(GROVE_WEB_BUILD_DIR).size() > 0) candidates.push_back(GROVE_WEB_BUILD_DIR);
  for (const auto& candidate : candidates) {
    if (file_exists(candidate + "/index.html")) {
      char buffer[PATH_MAX];
      if (::realpath(candidate.c_str(), buffer) != nullptr) return buffer;
    }
  }
  return "";
}

Result<std::string> random_token() {
  int fd = ::open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return make_error(ErrorCode::kIo, "cannot open /dev/urandom: {}", std::strerror(errno));
  unsigned char bytes[32];
  size_t got = 0;
  while (got < sizeof(bytes)) {
    ssize_t n = ::read(fd, bytes + got, sizeof(bytes) - got);
    if (n <= 0) {
      ::close(fd);
      return make_error(ErrorCode::kIo, "cannot read /dev/urandom");
    }
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  std::string token;
  for (unsigned char byte : bytes) token += fmt::format("{:02x}", byte);
  return token;
}

struct Server::Impl {
  std::shared_ptr<Backend> backend;
  ServerOptions options;
  RootFolder root;
  std::string web_dir;
  std::string token;
  std::string cookie_name;
  int bound_port = 0;
  bool loopback = true;

  EventHub events;
  std::unique_ptr<Trainer> trainer;
  std::unique_ptr<Jobs> jobs;
  TileRequests tile_requests;
  HttpServer http;

  // Image shapes for validating tile requests without asking the backend each time.
  std::mutex images_mutex;
  std::map<ImageId, Shape5> image_shapes;
  std::atomic<bool> live_update{false};

  Impl(std::shared_ptr<Backend> backend_in, ServerOptions options_in, RootFolder root_in)
      : backend(std::move(backend_in)), options(std::move(options_in)), root(std::move(root_in)) {}

  void refresh_images(const ProjectState& state) {
    std::lock_guard lock(images_mutex);
    image_shapes.clear();
    for (const auto& image : state.images) image_shapes[image.id] = image.shape;
  }

  std::optional<Shape5> image_shape(ImageId id) {
    std::lock_guard lock(images_mutex);
    auto found = image_shapes.find(id);
    if (found == image_shapes.end()) return std::nullopt;
    return found->second;
  }

  Shape5 require_image(ImageId id) {
    std::optional<Shape5> shape = image_shape(id);
    if (!shape) throw BadRequest{404, fmt::format("image {} does not exist", id)};
    return *shape;
  }

  bool authorised(const httplib::Request& request) const {
    const std::string authorization = request.get_header_value("Authorization");
    if (authorization.rfind("Bearer ", 0) == 0 && same_token(authorization.substr(7), token)) {
      return true;
    }
    if (request.has_header("X-Grove-Token") &&
        same_token(request.get_header_value("X-Grove-Token"), token)) {
      return true;
    }
    const std::string cookies = request.get_header_value("Cookie");
    const std::string key = cookie_name + "=";
    size_t position = 0;
    while ((position = cookies.find(key, position)) != std::string::npos) {
      if (position == 0 || cookies[position - 1] == ' ' || cookies[position - 1] == ';') {
        size_t end = cookies.find(';', position);
        std::string value = cookies.substr(
            position + key.size(),
            end == std::string::npos ? std::string::npos : end - position - key.size());
        if (same_token(value, token)) return true;
      }
      position += key.size();
    }
    return false;
  }

  // Against DNS rebinding: a loopback server answers only to loopback host names.
  bool host_allowed(const httplib::Request& request) const {
    if (!loopback) return true;
    std::string host = request.get_header_value("Host");
    if (host.empty()) return true;  // HTTP/1.0 clients
    if (host.front() == '[') {
      host = host.substr(0, host.find(']') + 1);
    } else {
      host = host.substr(0, host.find(':'));
    }
    return host == "127.0.0.1" || host == "localhost" || host == "[::1]" || host == options.host;
  }

  void publish_project_changed() { events.publish("project", json::object()); }

  void labels_changed(const LabelChange& change) {
    if (change.box.empty()) return;
    events.publish("labels", json{{"image", change.image}, {"box", box_json(change.box)}});
    publish_project_changed();
    if (live_update) trainer->schedule();
  }

  // A handler with the errors of bad input turned into 4xx answers, never a crash.
  using Handler = std::function<void(const httplib::Request&, httplib::Response&)>;
  httplib::Server::Handler guarded(Handler handler) {
    return [handler = std::move(handler)](const httplib::Request& request,
                                          httplib::Response& response) {
      try {
        handler(request, response);
      } catch (const BadRequest& bad) {
        send_error(response, bad.status, bad.message);
      } catch (const json::exception& error) {
        send_error(response, 400, std::string("bad request: ") + error.what());
      } catch (const std::bad_alloc&) {
        send_error(response, 507, "out of memory while answering the request");
      } catch (const std::exception& error) {
        send_error(response, 500, std::string("internal error: ") + error.what());
      }
    };
  }

  json project_json() {
    ProjectState state = backend->state();
    refresh_images(state);
    live_update = state.live_update;
    json images = json::array();
    for (const auto& image : state.images) images.push_back(image_json(image, root));
    json classes = json::array();
    for (size_t i = 0; i < state.classes.size(); ++i) {
      classes.push_back(json{
          {"label", i + 1}, {"name", state.classes[i].name}, {"color", state.classes[i].color}});
    }
    return json{{"path", state.path.empty() ? "" : root.relative(state.path)},
                {"name", state.name},
                {"dirty", state.dirty},
                {"classes", classes},
                {"images", images},
                {"features", features_json(state.features)},
                {"live_update", state.live_update},
                {"trained", state.trained},
                {"generation", state.generation},
                {"can_undo", state.can_undo},
                {"can_redo", state.can_redo},
                {"stages", state.stage_count},
                {"stage", state.stage + 1},
                {"training", trainer->state()},
                {"root", root.path()}};
  }

  void register_routes();
  void serve_static(const httplib::Request& request, httplib::Response& response);
  void serve_tile(const httplib::Request& request, httplib::Response& response);
};

void Server::Impl::serve_static(const httplib::Request& request, httplib::Response& response) {
  if (web_dir.empty()) {
    response.status = 503;
    response.set_content(
        "grove: the web UI was not built (run `make`, or set GROVE_WEB_DIR to the built UI)",
        "text/plain; charset=utf-8");
    return;
  }
  std::string path = request.path;
  if (path.empty() || path == "/") path = "/index.html";
  if (path.find('\0') != std::string::npos || path.find('\\') != std::string::npos) {
    send_error(response, 400, "bad path");
    return;
  }
  for (const auto& part : std::filesystem::path(path)) {
    if (part == "..") {
      send_error(response, 403, "path traversal is not allowed");
      return;
    }
  }
  char buffer[PATH_MAX];
  std::string joined = web_dir + path;
  if (::realpath(joined.c_str(), buffer) == nullptr || !file_exists(buffer)) {
    send_error(response, 404, "not found: " + request.path);
    return;
  }
  std::string canonical = buffer;
  if (!path_is_under(web_dir, canonical)) {
    send_error(response, 403, "path outside the web UI's folder");
    return;
  }
  std::ifstream file(canonical, std::ios::binary);
  std::stringstream contents;
  contents << file.rdbuf();
  // Vite names assets by content hash, so they can be cached for good; index.html cannot.
  const bool hashed_asset = path.rfind("/assets/", 0) == 0;
  response.set_header("Cache-Control",
                      hashed_asset ? "public, max-age=31536000, immutable" : "no-cache");
  response.set_content(contents.str(), content_type_for(canonical).c_str());
}

void Server::Impl::serve_tile(const httplib::Request& request, httplib::Response& response) {
  TileRequest tile;
  tile.where.image = integer_param(request, "image", 0, INT64_MAX);
  const Shape5 shape = require_image(tile.where.image);
  std::optional<Layer> layer = parse_layer(request.get_param_value("layer"));
  if (!layer)
    throw BadRequest{400,
                     "'layer' must be raw, labels, probabilities, segmentation or uncertainty"};
  tile.layer = *layer;
  std::optional<Plane> plane =
      parse_plane(request.has_param("plane") ? request.get_param_value("plane") : "xy");
  if (!plane) throw BadRequest{400, "'plane' must be xy, xz or yz"};
  tile.where.plane = *plane;
  tile.where.t = integer_param(request, "t", 0, shape.t() - 1, 0);
  tile.where.slice = integer_param(request, "slice", 0, plane_depth(shape, *plane) - 1, 0);
  tile.level = static_cast<int>(integer_param(request, "level", 0, 24, 0));
  const auto extent = plane_extent(shape, *plane);
  const int64_t scale = int64_t{1} << tile.level;
  const int64_t level_width = (extent[0] + scale - 1) / scale;
  const int64_t level_height = (extent[1] + scale - 1) / scale;
  tile.u0 = integer_param(request, "u", 0, level_width - 1, 0);
  tile.v0 = integer_param(request, "v", 0, level_height - 1, 0);
  const int64_t width = integer_param(request, "w", 1, 1024, 256);
  const int64_t height = integer_param(request, "h", 1, 1024, 256);
  tile.width = static_cast<int>(std::min(width, level_width - tile.u0));
  tile.height = static_cast<int>(std::min(height, level_height - tile.v0));
  tile.channel = static_cast<int>(integer_param(request, "channel", -1, shape.c() - 1, -1));
  tile.priority = static_cast<int>(integer_param(request, "priority", -1000000, 1000000, 0));
  // Stages count from 1 in the API; 0 (or none) is the selected stage.
  tile.stage =
      static_cast<int>(integer_param(request, "stage", 0, kMaximumAutocontextStages, 0)) - 1;
  const std::string request_id = request.get_param_value("rid").substr(0, 128);
  tile_requests.add(request_id, tile.cancel);
  Result<Tile> result = backend->tile(tile);
  tile_requests.remove(request_id);
  if (!result.ok()) {
    send_error(response, result.error());
    return;
  }
  response.set_header("Cache-Control", "no-store");
  response.set_header("X-Grove-Generation", std::to_string(result->generation));
  if (result->data.is_null()) {
    response.status = 204;
    return;
  }
  Result<std::string> encoded = encode_tile(*result, tile);
  if (!encoded.ok()) {
    send_error(response, encoded.error());
    return;
  }
  response.set_content(*encoded, "application/octet-stream");
}

void Server::Impl::register_routes() {
  http.set_pre_routing_handler(
      [this](const httplib::Request& request, httplib::Response& response) {
        response.set_header("X-Content-Type-Options", "nosniff");
        response.set_header("X-Frame-Options", "DENY");
        response.set_header("Referrer-Policy", "no-referrer");
        if (!host_allowed(request)) {
          send_error(response, 403, "unexpected Host header");
          return httplib::Server::HandlerResponse::Handled;
        }
        if (request.path == "/" && request.has_param("token")) {
          if (!same_token(request.get_param_value("token"), token)) {
            response.status = 401;
            response.set_content(kUnauthorisedPage, "text/html; charset=utf-8");
            return httplib::Server::HandlerResponse::Handled;
          }
          // Keep the token in a cookie and take it out of the address bar (and the history).
          response.set_header("Set-Cookie",
                              cookie_name + "=" + token + "; Path=/; HttpOnly; SameSite=Strict");
          response.set_redirect("/");
          return httplib::Server::HandlerResponse::Handled;
        }
        if (!authorised(request)) {
          if (request.path.rfind("/api/", 0) == 0) {
            send_error(response, 401, "missing or wrong access token");
          } else {
            response.status = 401;
            response.set_content(kUnauthorisedPage, "text/html; charset=utf-8");
          }
          return httplib::Server::HandlerResponse::Handled;
        }
        if (request.path.rfind("/api/", 0) == 0) response.set_header("Cache-Control", "no-store");
        return httplib::Server::HandlerResponse::Unhandled;
      });

  http.set_exception_handler(
      [](const httplib::Request&, httplib::Response& response, std::exception_ptr) {
        send_error(response, 500, "internal error while answering the request");
      });

  // --- project
  http.Get("/api/project",
           guarded([this](const auto&, auto& response) { send_json(response, project_json()); }));
  http.Post("/api/save", guarded([this](const auto& request, auto& response) {
              json body = parse_body(request);
              std::string path = string_field_or(body, "path", "");
              if (!path.empty()) {
                ResolvedPath resolved = root.resolve_new(path);
                if (resolved.verdict != PathVerdict::inside) {
                  throw BadRequest{resolved.verdict == PathVerdict::outside ? 403 : 400,
                                   resolved.message};
                }
                path = resolved.path;
              }
              std::string id =
                  jobs->start("save",
                              [this, path](const CancelToken&,
                                           Progress& progress) -> Result<std::vector<std::string>> {
                                GROVE_RETURN_IF_ERROR(backend->save(path, progress));
                                publish_project_changed();
                                ProjectState state = backend->state();
                                return std::vector<std::string>{root.relative(state.path)};
                              });
              send_json(response, json{{"job", id}}, 202);
            }));

  // --- files under the root, for the "add image" dialog
  http.Get("/api/files", guarded([this](const auto& request, auto& response) {
             std::string dir = request.has_param("dir") ? request.get_param_value("dir") : "";
             ResolvedPath resolved = dir.empty()
                                         ? ResolvedPath{PathVerdict::inside, root.path(), ""}
                                         : root.resolve_existing(dir);
             if (resolved.verdict == PathVerdict::outside) throw BadRequest{403, resolved.message};
             if (resolved.verdict != PathVerdict::inside) throw BadRequest{404, resolved.message};
             std::error_code error;
             std::filesystem::directory_iterator it(resolved.path, error);
             if (error) throw BadRequest{400, dir + " is not a folder"};
             json entries = json::array();
             for (const auto& entry : it) {
               std::string name = entry.path().filename().string();
               if (name.empty() || name[0] == '.') continue;
               std::error_code entry_error;
               const bool is_dir = entry.is_directory(entry_error);
               json item{{"name", name}, {"type", is_dir ? "dir" : "file"}};
               if (!is_dir) item["size"] = entry.file_size(entry_error);
               entries.push_back(item);
               if (entries.size() >= 5000) break;
             }
             std::sort(entries.begin(), entries.end(), [](const json& a, const json& b) {
               if (a["type"] != b["type"]) return a["type"] == "dir";
               return a["name"].get<std::string>() < b["name"].get<std::string>();
             });
             send_json(response, json{{"dir", root.relative(resolved.path)}, {"entries", entries}});
           }));

  // --- images
  http.Post("/api/images", guarded([this](const auto& request, auto& response) {
              json body = parse_body(request);
              std::string path = string_field_or(body, "path", "");
              if (path.empty()) throw BadRequest{400, "'path' is missing"};
              ResolvedPath resolved = root.resolve_image(path);
              if (resolved.verdict == PathVerdict::outside) throw BadRequest{403, resolved.message};
              if (resolved.verdict == PathVerdict::not_found)
                throw BadRequest{404, resolved.message};
              if (resolved.verdict != PathVerdict::inside) throw BadRequest{400, resolved.message};
              Result<ImageSummary> image = backend->add_image(resolved.path);
              if (!image.ok()) return send_error(response, image.error());
              project_json();  // refreshes the shapes
              publish_project_changed();
              if (live_update) trainer->schedule();
              send_json(response, image_json(*image, root), 201);
            }));
  http.Delete(R"(/api/images/(\d+))", guarded([this](const auto& request, auto& response) {
                ImageId id = path_id(request.matches[1]);
                Status status = backend->remove_image(id);
                if (!status.ok()) return send_error(response, status.error());
                project_json();
                publish_project_changed();
                if (live_update) trainer->schedule();
                send_json(response, json{{"ok", true}});
              }));
  http.Get(R"(/api/images/(\d+)/range)", guarded([this](const auto& request, auto& response) {
             ImageId id = path_id(request.matches[1]);
             Shape5 shape = require_image(id);
             int channel = static_cast<int>(integer_param(request, "channel", 0, shape.c() - 1, 0));
             Result<ValueRange> range = backend->value_range(id, channel);
             if (!range.ok()) return send_error(response, range.error());
             send_json(response, json{{"min", range->min},
                                      {"max", range->max},
                                      {"low", range->low},
                                      {"high", range->high}});
           }));

  // --- classes
  auto class_from_body = [](const json& body, const LabelClass& base) {
    LabelClass label_class = base;
    label_class.name = string_field_or(body, "name", base.name, 200);
    label_class.color = string_field_or(body, "color", base.color, 7);
    if (label_class.name.empty()) throw BadRequest{400, "a class needs a name"};
    if (!valid_color(label_class.color)) throw BadRequest{400, "'color' must look like #rrggbb"};
    return label_class;
  };
  http.Post("/api/classes", guarded([this, class_from_body](const auto& request, auto& response) {
              json body = parse_body(request);
              static const char* palette[] = {"#e6194b", "#3cb44b", "#4363d8", "#f58231",
                                              "#911eb4", "#46f0f0", "#f032e6", "#bcf60c"};
              ProjectState state = backend->state();
              if (state.classes.size() >= 254) throw BadRequest{400, "at most 254 classes"};
              size_t n = state.classes.size();
              LabelClass label_class =
                  class_from_body(body, LabelClass{fmt::format("Class {}", n + 1), palette[n % 8]});
              Status status = backend->add_class(label_class);
              if (!status.ok()) return send_error(response, status.error());
              publish_project_changed();
              send_json(response, json{{"label", n + 1}}, 201);
            }));
  http.Patch(R"(/api/classes/(\d+))",
             guarded([this, class_from_body](const auto& request, auto& response) {
               json body = parse_body(request);
               int label = static_cast<int>(std::min<int64_t>(path_id(request.matches[1]), 100000));
               ProjectState state = backend->state();
               if (label < 1 || label > static_cast<int>(state.classes.size())) {
                 throw BadRequest{404, fmt::format("class {} does not exist", label)};
               }
               Status status =
                   backend->update_class(label, class_from_body(body, state.classes[label - 1]));
               if (!status.ok()) return send_error(response, status.error());
               publish_project_changed();
               send_json(response, json{{"ok", true}});
             }));
  http.Delete(R"(/api/classes/(\d+))", guarded([this](const auto& request, auto& response) {
                int label =
                    static_cast<int>(std::min<int64_t>(path_id(request.matches[1]), 100000));
                Status status = backend->remove_class(label);
                if (!status.ok()) return send_error(response, status.error());
                publish_project_changed();
                events.publish("labels", json{{"image", nullptr}});
                if (live_update) trainer->schedule();
                send_json(response, json{{"ok", true}});
              }));

  // --- labels
  http.Post("/api/labels/stroke", guarded([this](const auto& request, auto& response) {
              json body = parse_body(request);
              BrushStroke stroke;
              stroke.where.image = integer_field(body, "image", 0, INT64_MAX);
              const Shape5 shape = require_image(stroke.where.image);
              std::optional<Plane> plane = parse_plane(string_field_or(body, "plane", "xy", 8));
              if (!plane) throw BadRequest{400, "'plane' must be xy, xz or yz"};
              stroke.where.plane = *plane;
              stroke.where.t = integer_field_or(body, "t", 0, shape.t() - 1, 0);
              stroke.where.slice =
                  integer_field_or(body, "slice", 0, plane_depth(shape, *plane) - 1, 0);
              stroke.label = static_cast<int>(integer_field(body, "label", 0, 254));
              stroke.radius = number_field(body, "radius", 0.01, kMaxBrushRadius);
              auto points = body.find("points");
              if (points == body.end() || !points->is_array() || points->empty() ||
                  points->size() > kMaxStrokePoints) {
                throw BadRequest{400, fmt::format("'points' must be a list of 1 to {} [u, v] pairs",
                                                  kMaxStrokePoints)};
              }
              stroke.points.reserve(points->size());
              for (const json& point : *points) {
                if (!point.is_array() || point.size() != 2 || !point[0].is_number() ||
                    !point[1].is_number()) {
                  throw BadRequest{400, "each point must be [u, v]"};
                }
                stroke.points.push_back({point[0].get<double>(), point[1].get<double>()});
              }
              Result<LabelChange> change = backend->apply_stroke(stroke);
              if (!change.ok()) return send_error(response, change.error());
              labels_changed(*change);
              send_json(response, json{{"image", change->image}, {"box", box_json(change->box)}});
            }));
  auto history_step = [this](bool undo) {
    return guarded([this, undo](const auto& request, auto& response) {
      parse_body(request);
      Result<LabelChange> change = undo ? backend->undo() : backend->redo();
      if (!change.ok()) return send_error(response, change.error());
      labels_changed(*change);
      if (change->box.empty()) publish_project_changed();
      send_json(response, json{{"image", change->image}, {"box", box_json(change->box)}});
    });
  };
  http.Post("/api/labels/undo", history_step(true));
  http.Post("/api/labels/redo", history_step(false));
  http.Post("/api/labels/clear", guarded([this](const auto& request, auto& response) {
              json body = parse_body(request);
              std::optional<ImageId> image;
              if (body.contains("image") && !body["image"].is_null()) {
                image = integer_field(body, "image", 0, INT64_MAX);
                require_image(*image);
              }
              int label = static_cast<int>(integer_field_or(body, "label", 0, 254, 0));
              Result<std::vector<LabelChange>> changes = backend->clear_labels(image, label);
              if (!changes.ok()) return send_error(response, changes.error());
              json boxes = json::array();
              for (const auto& change : *changes) {
                labels_changed(change);
                boxes.push_back(json{{"image", change.image}, {"box", box_json(change.box)}});
              }
              publish_project_changed();
              send_json(response, json{{"changes", boxes}});
            }));

  // --- tiles
  http.Get("/api/tile",
           guarded([this](const auto& request, auto& response) { serve_tile(request, response); }));
  http.Post("/api/tiles/cancel", guarded([this](const auto& request, auto& response) {
              json body = parse_body(request);
              auto ids = body.find("ids");
              if (ids == body.end() || !ids->is_array() || ids->size() > 10000) {
                throw BadRequest{400, "'ids' must be a list of request ids"};
              }
              std::vector<std::string> list;
              for (const json& id : *ids) {
                if (id.is_string()) list.push_back(id.get<std::string>());
              }
              send_json(response, json{{"cancelled", tile_requests.cancel(list)}});
            }));

  // --- training, features
  http.Post("/api/live-update", guarded([this](const auto& request, auto& response) {
              json body = parse_body(request);
              const bool on = bool_field(body, "on");
              Status status = backend->set_live_update(on);
              if (!status.ok()) return send_error(response, status.error());
              live_update = on;
              if (on) trainer->schedule();
              publish_project_changed();
              send_json(response, json{{"live_update", on}});
            }));
  http.Post("/api/stage", guarded([this](const auto& request, auto& response) {
              json body = parse_body(request);
              const int64_t stage = integer_field(body, "stage", 1, kMaximumAutocontextStages);
              Status status = backend->select_stage(static_cast<int>(stage - 1));
              if (!status.ok()) return send_error(response, status.error());
              publish_project_changed();
              if (live_update) trainer->schedule();
              send_json(response, json{{"stage", stage}});
            }));
  http.Post("/api/stages", guarded([this](const auto& request, auto& response) {
              json body = parse_body(request);
              const int64_t count = integer_field(body, "count", 1, kMaximumAutocontextStages);
              Status status = backend->set_stage_count(static_cast<int>(count));
              if (!status.ok()) return send_error(response, status.error());
              publish_project_changed();
              send_json(response, json{{"stages", count}});
            }));
  http.Post("/api/train", guarded([this](const auto& request, auto& response) {
              parse_body(request);
              trainer->schedule();
              send_json(response, json{{"scheduled", true}}, 202);
            }));
  http.Get("/api/features", guarded([this](const auto&, auto& response) {
             send_json(response, features_json(backend->features()));
           }));
  http.Put("/api/features", guarded([this](const auto& request, auto& response) {
             json body = parse_body(request);
             FeatureSelection features = features_from_json(body);
             Status status = backend->set_features(features);
             if (!status.ok()) return send_error(response, status.error());
             publish_project_changed();
             if (live_update) trainer->schedule();
             send_json(response, features_json(features));
           }));
  http.Get("/api/feature-importance", guarded([this](const auto&, auto& response) {
             Result<std::vector<FeatureImportance>> importance = backend->feature_importance();
             if (!importance.ok()) return send_error(response, importance.error());
             json list = json::array();
             for (const auto& item : *importance) {
               list.push_back(json{{"family", item.family},
                                   {"scale", item.scale},
                                   {"channel", item.channel},
                                   {"component", item.component},
                                   {"in_2d", item.in_2d},
                                   {"importance", item.importance}});
             }
             send_json(response, json{{"features", list}});
           }));

  // --- export and jobs
  http.Post(
      "/api/export", guarded([this](const auto& request, auto& response) {
        json body = parse_body(request);
        ExportRequest export_request;
        if (body.contains("images") && !body["images"].is_null()) {
          if (!body["images"].is_array() || body["images"].size() > 100000) {
            throw BadRequest{400, "'images' must be a list of image ids"};
          }
          for (const json& id : body["images"]) {
            ImageId image = integer_value(id, "images[]", 0, INT64_MAX);
            require_image(image);
            export_request.images.push_back(image);
          }
        }
        export_request.source = string_field_or(body, "source", "probabilities", 64);
        if (!export_sources(backend->state().stage_count).count(export_request.source)) {
          throw BadRequest{400,
                           "'source' must be probabilities, simple-segmentation or uncertainty "
                           "(with several stages also <source>-stage-N or "
                           "probabilities-all-stages)"};
        }
        export_request.format = string_field_or(body, "format", "hdf5", 16);
        static const std::set<std::string> formats{"hdf5", "tiff", "png", "npy", "zarr", "n5"};
        if (!formats.count(export_request.format)) {
          throw BadRequest{400, "'format' must be hdf5, tiff, png, npy, zarr or n5"};
        }
        export_request.overwrite = body.value("overwrite", false);
        std::string pattern = string_field_or(body, "output", "");
        if (!pattern.empty()) {
          // Placeholders may stand in the file name, or {dataset_dir} at the start (the
          // images are under the root); the folder part must resolve under the root.
          const std::string dataset_dir = "{dataset_dir}";
          std::string rest = pattern;
          if (rest.rfind(dataset_dir, 0) == 0) rest = rest.substr(dataset_dir.size());
          for (const auto& part : std::filesystem::path(rest)) {
            if (part == "..") throw BadRequest{403, "'..' is not allowed in the output pattern"};
          }
          if (pattern.rfind(dataset_dir, 0) != 0) {
            std::filesystem::path folder = std::filesystem::path(pattern).parent_path();
            if (folder.string().find('{') != std::string::npos) {
              throw BadRequest{400,
                               "placeholders may only stand in the file name or as "
                               "{dataset_dir} at the start"};
            }
            ResolvedPath resolved =
                root.resolve_existing(folder.empty() ? root.path() : folder.string());
            if (resolved.verdict == PathVerdict::outside) throw BadRequest{403, resolved.message};
            if (resolved.verdict != PathVerdict::inside) throw BadRequest{404, resolved.message};
            pattern = resolved.path + "/" + std::filesystem::path(pattern).filename().string();
          }
        }
        export_request.output_pattern = pattern;
        std::string id = jobs->start(
            "export",
            [this, export_request](const CancelToken& cancel,
                                   Progress& progress) -> Result<std::vector<std::string>> {
              GROVE_ASSIGN_OR_RETURN(std::vector<std::string> outputs,
                                     backend->export_results(export_request, cancel, progress));
              for (auto& output : outputs) output = root.relative(output);
              return outputs;
            });
        send_json(response, json{{"job", id}}, 202);
      }));
  http.Get("/api/jobs", guarded([this](const auto&, auto& response) {
             send_json(response, json{{"jobs", jobs->list()}});
           }));
  http.Post(R"(/api/jobs/([A-Za-z0-9-]+)/cancel)",
            guarded([this](const auto& request, auto& response) {
              if (!jobs->cancel(request.matches[1])) throw BadRequest{404, "no such job"};
              send_json(response, json{{"ok", true}});
            }));

  // --- pushes
  http.Get("/api/events", [this](const httplib::Request&, httplib::Response& response) {
    auto subscriber = events.subscribe();
    response.set_header("Cache-Control", "no-store");
    response.set_header("X-Accel-Buffering", "no");
    response.set_chunked_content_provider(
        "text/event-stream",
        [this, subscriber](size_t, httplib::DataSink& sink) {
          std::optional<std::string> messages =
              events.next(subscriber, std::chrono::milliseconds(15000));
          if (!messages) {
            sink.done();
            return false;
          }
          const std::string chunk = messages->empty() ? std::string(": keep-alive\n\n") : *messages;
          return sink.write(chunk.data(), chunk.size());
        },
        [this, subscriber](bool) { events.unsubscribe(subscriber); });
    // The first message tells the page the stream is open (and the current generation).
    events.publish("hello", json{{"time", std::time(nullptr)}});
  });

  http.Get("/api/.*", [](const httplib::Request& request, httplib::Response& response) {
    send_error(response, 404, "no such API endpoint: " + request.path);
  });
  http.Get("/.*", [this](const httplib::Request& request, httplib::Response& response) {
    serve_static(request, response);
  });
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() {
  if (impl_) {
    impl_->events.close_all();
    impl_->http.stop();
    impl_->jobs.reset();
    impl_->trainer.reset();
  }
}

Result<std::unique_ptr<Server>> Server::create(std::shared_ptr<Backend> backend,
                                               ServerOptions options) {
  if (!backend) return make_error(ErrorCode::kInvalidArgument, "no backend");
  GROVE_ASSIGN_OR_RETURN(RootFolder root, RootFolder::open(options.root));
  auto impl = std::make_unique<Impl>(std::move(backend), options, std::move(root));
  if (options.token.empty()) {
    GROVE_ASSIGN_OR_RETURN(impl->token, random_token());
  } else {
    impl->token = options.token;
  }
  impl->web_dir = options.web_dir.empty() ? find_web_assets() : options.web_dir;
  if (!impl->web_dir.empty()) {
    char buffer[PATH_MAX];
    if (::realpath(impl->web_dir.c_str(), buffer) == nullptr) {
      return make_error(ErrorCode::kNotFound, "web UI folder {} does not exist", impl->web_dir);
    }
    impl->web_dir = buffer;
  }
  const std::string& host = options.host;
  impl->loopback =
      host == "127.0.0.1" || host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
  impl->trainer = std::make_unique<Trainer>(impl->backend, impl->events);
  impl->jobs = std::make_unique<Jobs>(impl->events);
  const int threads = std::max(4, options.threads);
  impl->http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  impl->http.set_payload_max_length(options.max_body_bytes);
  impl->http.set_keep_alive_max_count(10000);
  // An idle keep-alive connection holds its worker until this time-out, and stop() waits for
  // the workers: the default 5 s made every Ctrl+C (and each e2e server restart) take 5 s. The
  // browser reopens a closed connection at no noticeable cost on this machine.
  impl->http.set_keep_alive_timeout(1);
  impl->http.set_read_timeout(10, 0);
  impl->http.set_write_timeout(30, 0);
  impl->http.set_tcp_nodelay(true);
  impl->register_routes();
  impl->project_json();  // reads the images and the live-update flag
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

Status Server::bind() {
  Impl& impl = *impl_;
  if (impl.options.port == 0) {
    int port = impl.http.bind_to_any_port(impl.options.host);
    if (port <= 0) {
      return make_error(ErrorCode::kIo, "cannot listen on {} (any port)", impl.options.host);
    }
    impl.bound_port = port;
  } else {
    if (impl.options.port < 1 || impl.options.port > 65535) {
      return make_error(ErrorCode::kInvalidArgument, "--port {} is not a valid port",
                        impl.options.port);
    }
    if (!impl.http.bind_to_port(impl.options.host, impl.options.port)) {
      return make_error(ErrorCode::kIo,
                        "cannot listen on {}:{} (is the port taken? try --port with another "
                        "number, or --port 0 for any free one)",
                        impl.options.host, impl.options.port);
    }
    impl.bound_port = impl.options.port;
  }
  impl.cookie_name = fmt::format("grove-token-{}", impl.bound_port);
  return ok_status();
}

int Server::port() const { return impl_->bound_port; }

std::string Server::url() const {
  std::string host = impl_->options.host;
  if (host == "0.0.0.0" || host == "::") host = "127.0.0.1";
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return fmt::format("http://{}:{}/?token={}", host, impl_->bound_port, impl_->token);
}

const std::string& Server::token() const { return impl_->token; }
const std::string& Server::web_dir() const { return impl_->web_dir; }

Status Server::run() {
  if (!impl_->http.listen_after_bind()) {
    return make_error(ErrorCode::kIo, "the HTTP server stopped unexpectedly");
  }
  return ok_status();
}

std::string Server::answer(std::string_view raw_request) {
  StringStream stream(raw_request);
  impl_->http.process(stream);
  return stream.take_response();
}

void Server::stop() {
  impl_->events.close_all();
  impl_->http.stop();
}

}  // namespace grove::server
