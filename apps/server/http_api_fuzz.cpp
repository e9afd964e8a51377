// Fuzz target (libFuzzer, fuzz/README.md) for the HTTP API of `grove serve` (docs/http-api.md):
// the routes, query parameters and JSON bodies, answered by the real pixel-classification
// backend, in process (Server::answer, no socket). The input's first line is "METHOD TARGET"
// (e.g. "POST /api/labels/stroke"), the rest is the JSON body; the harness adds the access token
// and the headers. The server holds a 64 x 64 image (image 0) and two classes, and is made anew
// every 200 inputs so that state (labels, classes, undo history) stays small.
//
// Promises checked: every answer is an HTTP response, and none is a 500 "internal error" (an
// exception that escaped a handler is a bug: bad input must give a 4xx answer).
#include <memory>
#include <string>

#include "grove/io/fuzz_support.h"
#include "server/pixel_backend.h"
#include "server/server.h"

namespace {

using namespace grove;

constexpr const char* kToken = "fuzzfuzzfuzzfuzzfuzzfuzzfuzzfuzzfuzzfuzzfuzzfuzzfuzzfuzzfuzzfuzz";

std::string request(std::string_view method, std::string_view target, std::string_view body) {
  std::string text = std::string(method) + " " + std::string(target) + " HTTP/1.1\r\n";
  text += "Host: 127.0.0.1\r\n";
  text += std::string("Authorization: Bearer ") + kToken + "\r\n";
  text += "Content-Type: application/json\r\n";
  text += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  text += body;
  return text;
}

class Fixture {
 public:
  server::Server& server() {
    if (!server_ || ++answered_ > 200) make();
    return *server_;
  }

 private:
  void make() {
    server_.reset();
    answered_ = 0;
    const std::string root = fuzzing::fresh_directory("root");
    fuzzing::write_file(root + "/web/index.html", "<!doctype html><title>grove</title>");
    auto image = AnyArray::allocate(DType::u8, Shape5(1, 1, 64, 64, 1));
    if (!image.ok()) fuzzing::broken_promise("cannot allocate the test image");
    auto* pixels = static_cast<uint8_t*>(image->raw_data());
    for (int64_t i = 0; i < 64 * 64; ++i) pixels[i] = static_cast<uint8_t>((i * 7) ^ (i >> 6));
    if (!write_image(root + "/image.npy", *image).ok()) {
      fuzzing::broken_promise("cannot write the test image");
    }
    server::PixelBackendOptions backend_options;
    backend_options.project_path = root + "/project.grove";
    backend_options.threads = 1;
    backend_options.memory_bytes = int64_t{256} << 20;
    auto backend = server::open_pixel_backend(backend_options);
    if (!backend.ok()) fuzzing::broken_promise("cannot open the pixel backend");
    server::ServerOptions options;
    options.port = 0;
    options.root = root;
    options.web_dir = root + "/web";
    options.token = kToken;
    options.threads = 1;
    auto created = server::Server::create(*backend, options);
    if (!created.ok()) fuzzing::broken_promise("cannot create the server");
    server_ = std::move(*created);
    server_->answer(request("POST", "/api/images", R"({"path": "image.npy"})"));
    server_->answer(request("POST", "/api/classes", R"({"name": "background"})"));
    server_->answer(request("POST", "/api/classes", R"({"name": "cells"})"));
  }

  std::unique_ptr<server::Server> server_;
  int answered_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Fixture fixture;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t line_end = input.find('\n');
  const std::string_view line = input.substr(0, line_end);
  const std::string_view body =
      line_end == std::string_view::npos ? std::string_view() : input.substr(line_end + 1);
  const size_t space = line.find(' ');
  if (space == std::string_view::npos) return 0;
  const std::string_view method = line.substr(0, space);
  const std::string_view target = line.substr(space + 1);
  // The event stream answers until the server stops; '%' could spell its path in escapes.
  if (target.find("events") != std::string_view::npos ||
      target.find('%') != std::string_view::npos ||
      target.find_first_of(" \r\n") != std::string_view::npos) {
    return 0;
  }
  const std::string response = fixture.server().answer(request(method, target, body));
  if (response.rfind("HTTP/1.1 ", 0) != 0) fuzzing::broken_promise("no HTTP response");
  if (response.rfind("HTTP/1.1 500", 0) == 0 &&
      response.find("internal error") != std::string::npos) {
    std::fprintf(stderr, "%s\n", response.c_str());
    fuzzing::broken_promise("a request made the server fail with an internal error");
  }
  return 0;
}
