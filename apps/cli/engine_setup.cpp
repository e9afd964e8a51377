#include "engine_setup.h"

#include <glob.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "grove/core/memory.h"

namespace grove::cli {

namespace {

Result<int64_t> environment_number(const char* name, int64_t minimum) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return int64_t{0};
  char* end = nullptr;
  const long long parsed = std::strtoll(value, &end, 10);
  if (end == value || *end != '\0' || parsed < minimum) {
    return make_error(ErrorCode::kInvalidArgument,
                      "environment variable {}={} is not a whole number >= {}", name, value,
                      minimum);
  }
  return static_cast<int64_t>(parsed);
}

}  // namespace

void add_engine_options(CLI::App& command, EngineArguments& arguments) {
  command
      .add_option("--threads", arguments.threads,
                  "Worker threads (default: LAZYFLOW_THREADS or all cores)")
      ->check(CLI::Range(0, 4096));
  command
      .add_option("--ram-mb", arguments.ram_mb,
                  "Memory budget in MB (default: LAZYFLOW_TOTAL_RAM_MB or half the machine's RAM)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
}

Result<int64_t> memory_budget_bytes(const EngineArguments& arguments) {
  int64_t ram_mb = arguments.ram_mb;
  if (ram_mb == 0) {
    GROVE_ASSIGN_OR_RETURN(ram_mb, environment_number("LAZYFLOW_TOTAL_RAM_MB", 1));
  }
  if (ram_mb > 0 && ram_mb < 64) {
    return make_error(ErrorCode::kInvalidArgument,
                      "a memory budget of {} MB is too small (at least 64)", ram_mb);
  }
  return std::max<int64_t>(ram_mb, 0) * (int64_t{1} << 20);
}

Status apply_memory_budget(const EngineArguments& arguments) {
  GROVE_ASSIGN_OR_RETURN(const int64_t bytes, memory_budget_bytes(arguments));
  set_file_allocation_limit(bytes);
  return ok_status();
}

Result<std::unique_ptr<Engine>> make_engine(const EngineArguments& arguments, bool interactive) {
  EngineOptions options;
  options.threads = arguments.threads;
  if (options.threads == 0) {
    GROVE_ASSIGN_OR_RETURN(int64_t threads, environment_number("LAZYFLOW_THREADS", 1));
    options.threads = static_cast<int>(std::min<int64_t>(threads, 4096));
  }
  GROVE_ASSIGN_OR_RETURN(options.memory_bytes, memory_budget_bytes(arguments));
  // Again here: a distributed run narrows each process's budget after parsing.
  set_file_allocation_limit(options.memory_bytes);
  options.cache_fraction = interactive ? 0.5 : 0.05;
  return std::make_unique<Engine>(options);
}

Result<std::vector<std::string>> expand_inputs(const std::vector<std::string>& patterns) {
  std::vector<std::string> out;
  for (const std::string& pattern : patterns) {
    if (pattern.find_first_of("*?[") == std::string::npos) {
      out.push_back(pattern);
      continue;
    }
    glob_t matches{};
    const int rc = ::glob(pattern.c_str(), 0, nullptr, &matches);
    if (rc == GLOB_NOMATCH) {
      globfree(&matches);
      return make_error(ErrorCode::kNotFound, "no file matches {}", pattern);
    }
    if (rc != 0) {
      globfree(&matches);
      return make_error(ErrorCode::kInvalidArgument, "cannot expand {}", pattern);
    }
    for (size_t i = 0; i < matches.gl_pathc; ++i) out.emplace_back(matches.gl_pathv[i]);
    globfree(&matches);
  }
  return out;
}

Status check_output_writable(const std::string& path, bool overwrite) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!overwrite && fs::exists(path, ec)) {
    return make_error(ErrorCode::kAlreadyExists, "{} exists (add --overwrite to replace it)", path);
  }
  fs::path dir = fs::absolute(path, ec).parent_path();
  if (!fs::is_directory(dir, ec))
    return make_error(ErrorCode::kNotFound, "the folder {} does not exist", dir.string());
  if (::access(dir.c_str(), W_OK) != 0) {
    return make_error(ErrorCode::kIo, "the folder {} is not writable", dir.string());
  }
  return ok_status();
}

}  // namespace grove::cli
