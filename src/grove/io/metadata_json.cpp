// JSON metadata files of chunked stores; see metadata_json.h.
#include "grove/io/metadata_json.h"

#include <cmath>
#include <limits>

#include "grove/io/chunk_store.h"

namespace grove {

Result<nlohmann::json> read_json(const std::filesystem::path& path) {
  GROVE_ASSIGN_OR_RETURN(std::string text, read_small_file(path));
  nlohmann::json value = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded())
    return make_error(ErrorCode::kCorrupt, "{} is not valid JSON", path.string());
  return value;
}

Result<int64_t> json_int(const nlohmann::json& value, const std::string& where,
                         const std::string& field) {
  if (value.is_number_integer() && !value.is_number_unsigned()) return value.get<int64_t>();
  if (value.is_number_unsigned()) {
    const uint64_t v = value.get<uint64_t>();
    if (v <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      return static_cast<int64_t>(v);
  }
  if (value.is_number_float()) {
    const double v = value.get<double>();
    if (std::isfinite(v) && v == std::trunc(v) && std::fabs(v) < 9.0e18)
      return static_cast<int64_t>(v);
  }
  return make_error(ErrorCode::kCorrupt, "{}: {} holds {}, not a whole number", where, field,
                    value.dump());
}

Result<std::vector<int64_t>> json_int_list(const nlohmann::json& object, const std::string& key,
                                           const std::string& where) {
  if (!object.is_object() || !object.contains(key)) {
    return make_error(ErrorCode::kCorrupt, "{}: \"{}\" is missing", where, key);
  }
  const nlohmann::json& list = object[key];
  if (!list.is_array())
    return make_error(ErrorCode::kCorrupt, "{}: \"{}\" is not a list", where, key);
  if (list.size() > 64)
    return make_error(ErrorCode::kUnsupported, "{}: \"{}\" has {} entries", where, key,
                      list.size());
  std::vector<int64_t> values;
  for (const nlohmann::json& item : list) {
    GROVE_ASSIGN_OR_RETURN(int64_t v, json_int(item, where, key));
    values.push_back(v);
  }
  return values;
}

}  // namespace grove
