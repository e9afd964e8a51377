// The HTTP server of `grove serve`: the browser UI's static files, the JSON/binary API over a
// Backend (docs/http-api.md), and server-sent events for pushes (training, "prediction updated",
// job progress, errors). Access needs the random token printed in the URL; files are reachable
// only below --root. Also runs the long work off the request threads: retraining (coalesced
// while the user paints), exports and saves as jobs with progress.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "backend.h"
#include "grove/core/result.h"

namespace grove::server {

struct ServerOptions {
  std::string host = "127.0.0.1";    // loopback only unless the user says otherwise
  int port = 8080;                   // 0: any free port (see Server::port())
  std::string root = ".";            // the only folder the page may open files from
  std::string web_dir;               // the built UI; "" = find_web_assets()
  std::string token;                 // "" = a new random token
  size_t max_body_bytes = 8u << 20;  // larger request bodies get 413
  int threads = 24;                  // HTTP worker threads (each event stream holds one)
};

// Where the built web UI is: $GROVE_WEB_DIR if set, else <folder of the executable>/../web (the
// build tree puts it at build/web beside build/bin), else the build folder compiled in. ""
// when none of them holds an index.html.
std::string find_web_assets();

// 32 random bytes from /dev/urandom as 64 hex digits.
Result<std::string> random_token();

class Server {
 public:
  static Result<std::unique_ptr<Server>> create(std::shared_ptr<Backend> backend,
                                                ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds host:port; fails with a clear message when the port is taken.
  Status bind();
  // The bound port (after bind()).
  int port() const;
  // The address to open, with the token: http://127.0.0.1:8080/?token=...
  std::string url() const;
  const std::string& token() const;
  const std::string& web_dir() const;
  // Serves until stop() (from another thread or a signal handler's helper thread).
  Status run();
  // Answers one raw HTTP/1.1 request (request line, headers, body) in this thread, without a
  // socket, and returns the raw response: for the API's fuzz target (http_api_fuzz.cpp). Needs
  // no bind(); not for /api/events, whose answer streams until stop().
  std::string answer(std::string_view raw_request);
  void stop();

 private:
  struct Impl;
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace grove::server
