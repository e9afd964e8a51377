// grove: interactive machine learning for (bio)image analysis, command-line entry point.
#include <cstdio>
#include <string>

#include "command.h"

namespace grove::cli {

int report_error(const Error& error) {
  std::string line = error.to_string();
  for (char& ch : line) {
    if (ch == '\n') ch = ' ';
  }
  std::fprintf(stderr, "grove: error: %s\n", line.c_str());
  return kExitBadInput;
}

}  // namespace grove::cli

int main(int argc, char** argv) {
  using namespace grove::cli;
  if (is_headless_call(argc, argv)) return run_headless(argc, argv);
  CLI::App app{"grove: interactive machine learning for (bio)image analysis", "grove"};
  app.footer(
      "ilastik's command line works too: grove --headless --project=P.ilp IMAGE... (grove "
      "--headless "
      "--help)\nDocs: docs/cli.md");
  app.set_version_flag("--version", std::string("grove 0.1.0"));
  app.require_subcommand(1);
  Action action;
  register_info(app, action);
  register_features(app, action);
  register_serve(app, action);
  register_pixel(app, action);
  register_run(app, action);
  register_import(app, action);
  register_autocontext(app, action);
  if (argc > 1 && argv[1][0] != '-') {
    bool known = false;
    for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
      if (sub->check_name(argv[1])) known = true;
    }
    if (!known) {
      std::fprintf(stderr, "grove: error: unknown command '%s' (see grove --help)\n", argv[1]);
      return kExitBadInput;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "grove: error: %s (see grove --help)\n", e.what());
    return kExitBadInput;
  }
  if (!action) return kExitOk;
  grove::Status status = action();
  if (!status.ok()) return report_error(status.error());
  return kExitOk;
}
