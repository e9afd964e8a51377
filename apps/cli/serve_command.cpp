// `grove serve [PROJECT] [--host 127.0.0.1] [--port 8080] [--root DIR] [--no-browser]
// [--autocontext N]`: the browser UI (issue 8), for pixel classification or, with an autocontext
// project (or --autocontext N for a new one), autocontext with a stage switcher (issue 10). Prints
// the address with its access token, opens it in the desktop's browser when there is a desktop, and
// serves until Ctrl+C.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "command.h"
#include "grove/core/memory.h"
#include "server/pixel_backend.h"
#include "server/server.h"

namespace grove::cli {
namespace {

struct ServeArguments {
  std::string project;
  std::string host = "127.0.0.1";
  int port = 8080;
  std::string root = ".";
  bool no_browser = false;
  int threads = 0;
  int64_t ram_mb = 0;
  int stages = 1;
};

server::Server* running_server = nullptr;

void stop_on_signal(int) {
  // stop() takes locks: not from inside the signal handler itself.
  if (running_server != nullptr) std::thread([] { running_server->stop(); }).detach();
}

// Opens url with xdg-open when a desktop session is there; never through a shell.
void open_browser(const std::string& url) {
  if (std::getenv("DISPLAY") == nullptr && std::getenv("WAYLAND_DISPLAY") == nullptr) return;
  pid_t child = ::fork();
  if (child == 0) {
    int null_fd = ::open("/dev/null", O_RDWR);
    if (null_fd >= 0) {
      ::dup2(null_fd, STDIN_FILENO);
      ::dup2(null_fd, STDOUT_FILENO);
      ::dup2(null_fd, STDERR_FILENO);
    }
    ::execlp("xdg-open", "xdg-open", url.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  if (child > 0) {
    // Reap it in the background so that it leaves no zombie.
    std::thread([child] { ::waitpid(child, nullptr, 0); }).detach();
  }
}

Status serve(const ServeArguments& arguments) {
  // Before the project and its images are opened: their headers' sizes are checked against it.
  set_file_allocation_limit(arguments.ram_mb * 1024 * 1024);
  server::PixelBackendOptions backend_options;
  backend_options.project_path = arguments.project;
  backend_options.threads = arguments.threads;
  backend_options.memory_bytes = arguments.ram_mb * 1024 * 1024;
  backend_options.stages = arguments.stages;
  GROVE_ASSIGN_OR_RETURN(std::shared_ptr<server::Backend> backend,
                         server::open_pixel_backend(backend_options));
  server::ServerOptions options;
  options.host = arguments.host;
  options.port = arguments.port;
  options.root = arguments.root;
  GROVE_ASSIGN_OR_RETURN(std::unique_ptr<server::Server> server,
                         server::Server::create(backend, options));
  GROVE_RETURN_IF_ERROR(server->bind());
  if (server->web_dir().empty()) {
    std::fprintf(stderr,
                 "grove: warning: the web UI is not built (run `make`, or set GROVE_WEB_DIR); "
                 "only the API is served\n");
  }
  if (arguments.host != "127.0.0.1" && arguments.host != "localhost" && arguments.host != "::1") {
    std::fprintf(stderr,
                 "grove: warning: listening on %s: anyone who can reach this machine and has the "
                 "token can use the page (traffic is not encrypted)\n",
                 arguments.host.c_str());
  }
  std::printf(
      "grove serve: %s\n  open this address in your browser:\n\n    %s\n\n"
      "  files can be opened from %s\n  press Ctrl+C to stop\n",
      arguments.project.empty() ? "new project" : arguments.project.c_str(), server->url().c_str(),
      arguments.root.c_str());
  std::fflush(stdout);
  if (!arguments.no_browser) open_browser(server->url());
  running_server = server.get();
  std::signal(SIGINT, stop_on_signal);
  std::signal(SIGTERM, stop_on_signal);
  Status status = server->run();
  running_server = nullptr;
  return status;
}

}  // namespace

void register_serve(CLI::App& app, Action& action) {
  auto arguments = std::make_shared<ServeArguments>();
  CLI::App* command = app.add_subcommand(
      "serve", "Serve the browser UI for interactive pixel classification and autocontext");
  command->add_option("PROJECT", arguments->project,
                      "project file to open (created when saved if it does not exist)");
  command->add_option("--host", arguments->host,
                      "address to listen on (default 127.0.0.1: this machine only)");
  command->add_option("--port", arguments->port, "port to listen on (0: any free port)")
      ->check(CLI::Range(0, 65535));
  command->add_option("--root", arguments->root,
                      "the only folder the page may open and write files in (default: .)");
  command->add_flag("--no-browser", arguments->no_browser, "do not open a browser");
  command->add_option("--threads", arguments->threads, "worker threads (default: all)");
  command->add_option("--ram-mb", arguments->ram_mb, "memory budget in MB (default: half the RAM)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
  command
      ->add_option("--autocontext", arguments->stages,
                   "a new project is an autocontext project of this many stages (2 or more; an "
                   "existing project keeps its workflow)")
      ->check(CLI::Range(2, 16));
  command->callback([arguments, &action] { action = [arguments] { return serve(*arguments); }; });
}

}  // namespace grove::cli
