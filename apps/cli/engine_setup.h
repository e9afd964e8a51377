// What every computing command shares: --threads and --ram-mb (with ilastik's LAZYFLOW_THREADS
// and LAZYFLOW_TOTAL_RAM_MB as fallbacks), input globs, and output checks.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>
#include <vector>

#include "grove/engine/engine.h"

namespace grove::cli {

struct EngineArguments {
  int threads = 0;     // 0: LAZYFLOW_THREADS, else all cores
  int64_t ram_mb = 0;  // 0: LAZYFLOW_TOTAL_RAM_MB, else half the machine's RAM
};

void add_engine_options(CLI::App& command, EngineArguments& arguments);
// The memory budget in bytes that --ram-mb (else LAZYFLOW_TOTAL_RAM_MB) gives; 0 when neither
// does (half the machine's RAM).
Result<int64_t> memory_budget_bytes(const EngineArguments& arguments);
// Makes the budget the limit of any allocation that a file's header sizes (core/memory.h), so that
// a file asking for more than the budget fails when it is opened, before anything is allocated.
// Commands call it before they open any file; make_engine calls it too.
Status apply_memory_budget(const EngineArguments& arguments);
// interactive: keep a block cache (the server); batch runs stream and cache little.
Result<std::unique_ptr<Engine>> make_engine(const EngineArguments& arguments, bool interactive);

// Expands shell-style globs (an argument without wildcards is kept as given).
Result<std::vector<std::string>> expand_inputs(const std::vector<std::string>& patterns);

// Fails if path exists and overwrite is false, or its folder does not exist or is not writable.
Status check_output_writable(const std::string& path, bool overwrite);

}  // namespace grove::cli
