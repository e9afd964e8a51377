// Reading the small JSON files of chunked stores (.zarray, zarr.json, attributes.json) without
// exceptions: a missing file is kNotFound, a broken one kCorrupt naming the file and field.
// For zarr.cpp and n5.cpp.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "grove/core/result.h"

namespace grove {

// Parses a JSON file of at most 64 MiB.
Result<nlohmann::json> read_json(const std::filesystem::path& path);
// value as a whole number that fits int64 (field names it in messages).
Result<int64_t> json_int(const nlohmann::json& value, const std::string& where,
                         const std::string& field);
// object[key] as a list of whole numbers.
Result<std::vector<int64_t>> json_int_list(const nlohmann::json& object, const std::string& key,
                                           const std::string& where);

}  // namespace grove
