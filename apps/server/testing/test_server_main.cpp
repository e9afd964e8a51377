// grove_test_server: the HTTP server over the TEST DOUBLE backend, for the browser tests and for
// developing the page without the workflow. Not installed, not part of `grove`.
//
//   grove_test_server [--port N] [--root DIR] [--project FILE] [--token T] [--web DIR]
//                     [--train-delay-ms N]
// Prints "grove-test-server: URL" on stdout once listening.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "server/server.h"
#include "test_backend.h"

namespace {
grove::server::Server* running_server = nullptr;
void on_signal(int) {
  if (running_server) std::thread([] { running_server->stop(); }).detach();
}
}  // namespace

int main(int argc, char** argv) {
  grove::server::ServerOptions options;
  options.port = 0;
  grove::server::testing::TestBackendOptions backend_options;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--port")
      options.port = std::atoi(value.c_str());
    else if (flag == "--root")
      options.root = value;
    else if (flag == "--project")
      backend_options.project_path = value;
    else if (flag == "--token")
      options.token = value;
    else if (flag == "--web")
      options.web_dir = value;
    else if (flag == "--host")
      options.host = value;
    else if (flag == "--train-delay-ms")
      backend_options.train_delay_ms = std::atoi(value.c_str());
    else {
      std::fprintf(stderr, "grove_test_server: unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  auto server = grove::server::Server::create(
      grove::server::testing::make_test_backend(backend_options), options);
  if (!server.ok()) {
    std::fprintf(stderr, "grove_test_server: %s\n", server.error().to_string().c_str());
    return 2;
  }
  grove::Status bound = (*server)->bind();
  if (!bound.ok()) {
    std::fprintf(stderr, "grove_test_server: %s\n", bound.error().to_string().c_str());
    return 2;
  }
  running_server = server->get();
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::printf("grove-test-server: %s\n", (*server)->url().c_str());
  std::fflush(stdout);
  grove::Status status = (*server)->run();
  running_server = nullptr;
  return status.ok() ? 0 : 1;
}
