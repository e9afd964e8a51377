// The grove command line (DESIGN.md §7). Each subcommand lives in its own file and registers
// itself on the CLI11 app; main.cpp lists the registrations.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>

#include "grove/core/result.h"

namespace grove::cli {

// Exit statuses of the contract: 0 success, 2 bad usage or bad input (one line on stderr).
inline constexpr int kExitOk = 0;
inline constexpr int kExitBadInput = 2;

// A registered subcommand sets the action to run after parsing.
using Action = std::function<Status()>;

// Prints "grove: <error>" as one line on stderr and returns the exit status for it.
int report_error(const Error& error);

// Registrations (one per command file).
void register_info(CLI::App& app, Action& action);      // info_command.cpp
void register_features(CLI::App& app, Action& action);  // features_command.cpp
void register_serve(CLI::App& app, Action& action);     // serve_command.cpp
void register_pixel(CLI::App& app, Action& action);     // pixel_command.cpp
void register_run(CLI::App& app, Action& action);       // run_command.cpp
void register_import(CLI::App& app, Action& action);    // import_command.cpp

// autocontext_command.cpp
void register_autocontext(CLI::App& app, Action& action);

// ilastik's headless command line (headless_command.cpp).
bool is_headless_call(int argc, char** argv);
int run_headless(int argc, char** argv);

}  // namespace grove::cli
