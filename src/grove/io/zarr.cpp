// Zarr v2/v3 arrays and OME-Zarr metadata; see zarr.h. Spec facts used (zarr-specs v2 and v3,
// OME-NGFF 0.4 and 0.5) are noted where they matter.
#include "grove/io/zarr.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <numeric>
#include <optional>

#include "grove/io/chunk_store.h"
#include "grove/io/chunked_array.h"
#include "grove/io/codec.h"
#include "grove/io/metadata_json.h"

namespace grove {

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// ---- metadata ----

struct BytesStep {
  bool checksum = false;  // crc32c; otherwise a compressor
  Compression compression;
};

// How a chunk's elements become bytes: a permutation (C order over storage_order), a byte order
// and bytes-to-bytes steps in encoding order.
struct CodecChain {
  std::vector<int> storage_order;
  bool big_endian = false;
  std::vector<BytesStep> steps;
};

struct Sharding {
  std::vector<int64_t> inner_shape;
  CodecChain inner;
  bool index_big_endian = false;
  bool index_checksum = false;
  bool index_at_start = false;
};

struct ZarrArrayMetadata {
  int version = 2;
  fs::path directory;  // the array's directory
  std::vector<int64_t> shape;
  std::vector<int64_t> chunk_shape;  // the grid's cell: a shard when sharded
  DType dtype = DType::u8;
  FillValue fill{};
  CodecChain chain;
  std::optional<Sharding> sharding;
  bool v3_default_keys = false;  // "c/0/1" rather than "0.1"
  char separator = '.';
  std::vector<std::string> dimension_names;  // empty if none given
  json attributes = json::object();
};

std::string where_of(const fs::path& file) { return file.string(); }

std::vector<int> identity_order(size_t rank) {
  std::vector<int> order(rank);
  std::iota(order.begin(), order.end(), 0);
  return order;
}

// "<u2", "|b1", ">f8": numpy's type strings (zarr v2 "dtype").
Result<std::pair<DType, bool>> parse_v2_dtype(const json& value, const std::string& where) {
  if (!value.is_string()) {
    return make_error(ErrorCode::kUnsupported,
                      "{}: dtype {} is not supported (structured dtypes are not)", where,
                      value.dump());
  }
  const std::string text = value.get<std::string>();
  if (text.size() < 3 || (text[0] != '<' && text[0] != '>' && text[0] != '|' && text[0] != '=')) {
    return make_error(ErrorCode::kUnsupported, "{}: dtype \"{}\" is not supported", where, text);
  }
  const std::string kind = text.substr(1);
  static const std::pair<const char*, DType> kTypes[] = {
      {"u1", DType::u8},  {"u2", DType::u16}, {"u4", DType::u32},    {"u8", DType::u64},
      {"i1", DType::i8},  {"i2", DType::i16}, {"i4", DType::i32},    {"i8", DType::i64},
      {"f4", DType::f32}, {"f8", DType::f64}, {"b1", DType::boolean}};
  for (const auto& [name, dtype] : kTypes) {
    if (kind == name) return std::pair<DType, bool>(dtype, text[0] == '>');
  }
  return make_error(ErrorCode::kUnsupported, "{}: dtype \"{}\" is not supported (grove reads {})",
                    where, text, "u1-u8, i1-i8, f4, f8, b1");
}

std::string v2_dtype_string(DType dtype) {
  switch (dtype) {
    case DType::u8: return "|u1";
    case DType::u16: return "<u2";
    case DType::u32: return "<u4";
    case DType::u64: return "<u8";
    case DType::i8: return "|i1";
    case DType::i16: return "<i2";
    case DType::i32: return "<i4";
    case DType::i64: return "<i8";
    case DType::f32: return "<f4";
    case DType::f64: return "<f8";
    case DType::boolean: return "|b1";
  }
  return "|u1";
}

Result<DType> parse_v3_dtype(const json& value, const std::string& where) {
  if (value.is_string()) {
    const std::string name = value.get<std::string>();
    if (name == "bool") return DType::boolean;
    static const char* kNames[] = {"uint8", "uint16", "uint32", "uint64",  "int8",
                                   "int16", "int32",  "int64",  "float32", "float64"};
    for (const char* n : kNames) {
      if (name == n) return *parse_dtype(name);
    }
  }
  return make_error(ErrorCode::kUnsupported, "{}: data_type {} is not supported", where,
                    value.dump());
}

std::string v3_dtype_string(DType dtype) {
  return dtype == DType::boolean ? "bool" : std::string(dtype_name(dtype));
}

Result<FillValue> parse_fill(const json& value, DType dtype, const std::string& where) {
  if (value.is_null()) return FillValue{};
  if (value.is_boolean()) return fill_from_integer(value.get<bool>() ? 1 : 0, dtype, where);
  if (value.is_number_unsigned()) return fill_from_unsigned(value.get<uint64_t>(), dtype, where);
  if (value.is_number_integer()) return fill_from_integer(value.get<int64_t>(), dtype, where);
  if (value.is_number_float()) return fill_from_double(value.get<double>(), dtype, where);
  if (value.is_string() && dtype_is_float(dtype)) {
    const std::string text = value.get<std::string>();
    if (text == "NaN")
      return fill_from_double(std::numeric_limits<double>::quiet_NaN(), dtype, where);
    if (text == "Infinity")
      return fill_from_double(std::numeric_limits<double>::infinity(), dtype, where);
    if (text == "-Infinity")
      return fill_from_double(-std::numeric_limits<double>::infinity(), dtype, where);
    // Zarr v3: "0x7fc00000" gives a float's bits.
    const size_t digits = dtype == DType::f32 ? 8 : 16;
    if (text.size() == 2 + digits && text.starts_with("0x") &&
        text.find_first_not_of("0123456789abcdefABCDEF", 2) == std::string::npos) {
      const uint64_t bits = std::stoull(text.substr(2), nullptr, 16);
      FillValue fill{};
      if (dtype == DType::f32) {
        const uint32_t bits32 = static_cast<uint32_t>(bits);
        std::memcpy(fill.data(), &bits32, 4);
      } else {
        std::memcpy(fill.data(), &bits, 8);
      }
      return fill;
    }
  }
  return make_error(ErrorCode::kCorrupt, "{}: fill_value {} is not valid for {}", where,
                    value.dump(), dtype_name(dtype));
}

json fill_json(DType dtype) {
  if (dtype == DType::boolean) return false;
  if (dtype_is_float(dtype)) return 0.0;
  return 0;
}

// numcodecs' compressor configurations (zarr v2 "compressor").
Result<Compression> parse_v2_compressor(const json& value, const std::string& where) {
  Compression c;
  if (value.is_null()) return c;
  if (!value.is_object() || !value.contains("id") || !value["id"].is_string()) {
    return make_error(ErrorCode::kCorrupt, "{}: compressor {} has no \"id\"", where, value.dump());
  }
  const std::string id = value["id"].get<std::string>();
  auto level = [&](const char* key) -> Result<int> {
    if (!value.contains(key) || value[key].is_null()) return -1;
    GROVE_ASSIGN_OR_RETURN(int64_t l, json_int(value[key], where, key));
    return static_cast<int>(std::clamp<int64_t>(l, -1, 22));
  };
  if (id == "blosc") {
    c.compressor = Compressor::blosc;
    if (value.contains("cname") && value["cname"].is_string())
      c.blosc_inner = value["cname"].get<std::string>();
    GROVE_ASSIGN_OR_RETURN(c.level, level("clevel"));
    GROVE_ASSIGN_OR_RETURN(int shuffle, level("shuffle"));
    c.blosc_shuffle = shuffle;
  } else if (id == "zstd") {
    c.compressor = Compressor::zstd;
    GROVE_ASSIGN_OR_RETURN(c.level, level("level"));
  } else if (id == "gzip") {
    c.compressor = Compressor::gzip;
    GROVE_ASSIGN_OR_RETURN(c.level, level("level"));
  } else if (id == "zlib") {
    c.compressor = Compressor::zlib;
    GROVE_ASSIGN_OR_RETURN(c.level, level("level"));
  } else if (id == "bz2") {
    c.compressor = Compressor::bzip2;
    GROVE_ASSIGN_OR_RETURN(c.level, level("level"));
  } else if (id == "lzma") {
    // Only the .xz container (format 1) and the old .lzma one (2) carry their own filters.
    const int64_t format = value.contains("format") && value["format"].is_number_integer()
                               ? value["format"].get<int64_t>()
                               : 1;
    if ((format != 1 && format != 2) ||
        (value.contains("filters") && !value["filters"].is_null())) {
      return make_error(ErrorCode::kUnsupported,
                        "{}: lzma with format {} or custom filters is not supported", where,
                        format);
    }
    c.compressor = Compressor::xz;
    GROVE_ASSIGN_OR_RETURN(c.level, level("preset"));
  } else {
    return make_error(
        ErrorCode::kUnsupported,
        "{}: compressor \"{}\" is not supported (grove reads blosc, zstd, gzip, zlib, bz2, lzma)",
        where, id);
  }
  return c;
}

json v2_compressor_json(const Compression& c) {
  const int level = c.level;
  switch (c.compressor) {
    case Compressor::none: return nullptr;
    case Compressor::blosc:
      return {{"id", "blosc"},
              {"cname", c.blosc_inner},
              {"clevel", level < 0 ? 5 : level},
              {"shuffle", c.blosc_shuffle},
              {"blocksize", c.blosc_blocksize}};
    case Compressor::zstd: return {{"id", "zstd"}, {"level", level < 0 ? 3 : level}};
    case Compressor::gzip: return {{"id", "gzip"}, {"level", level < 0 ? 6 : level}};
    case Compressor::zlib: return {{"id", "zlib"}, {"level", level < 0 ? 6 : level}};
    case Compressor::bzip2: return {{"id", "bz2"}, {"level", level < 1 ? 9 : level}};
    case Compressor::xz:
      return {{"id", "lzma"},
              {"format", 1},
              {"check", -1},
              {"preset", level < 0 ? 6 : level},
              {"filters", nullptr}};
  }
  return nullptr;
}

Result<ZarrArrayMetadata> parse_v2_array(const json& j, const fs::path& directory) {
  const std::string where = where_of(directory / ".zarray");
  ZarrArrayMetadata m;
  m.version = 2;
  m.directory = directory;
  if (!j.is_object()) return make_error(ErrorCode::kCorrupt, "{}: not a JSON object", where);
  if (!j.contains("zarr_format") || j["zarr_format"] != 2) {
    return make_error(ErrorCode::kCorrupt, "{}: zarr_format is not 2", where);
  }
  GROVE_ASSIGN_OR_RETURN(m.shape, json_int_list(j, "shape", where));
  GROVE_ASSIGN_OR_RETURN(m.chunk_shape, json_int_list(j, "chunks", where));
  if (!j.contains("dtype")) return make_error(ErrorCode::kCorrupt, "{}: no dtype", where);
  GROVE_ASSIGN_OR_RETURN(auto dtype, parse_v2_dtype(j["dtype"], where));
  m.dtype = dtype.first;
  GROVE_RETURN_IF_ERROR(validate_geometry(m.shape, m.chunk_shape, m.dtype, where));
  m.chain.big_endian = dtype.second;
  m.chain.storage_order = identity_order(m.shape.size());
  const json order = j.value("order", json("C"));
  if (order == "F") {
    std::reverse(m.chain.storage_order.begin(), m.chain.storage_order.end());
  } else if (order != "C") {
    return make_error(ErrorCode::kCorrupt, "{}: order {} is neither \"C\" nor \"F\"", where,
                      order.dump());
  }
  if (j.contains("filters") && !j["filters"].is_null() &&
      !(j["filters"].is_array() && j["filters"].empty())) {
    return make_error(ErrorCode::kUnsupported, "{}: zarr filters ({}) are not supported", where,
                      j["filters"].dump());
  }
  GROVE_ASSIGN_OR_RETURN(Compression compression,
                         parse_v2_compressor(j.value("compressor", json()), where));
  if (compression.compressor != Compressor::none) m.chain.steps.push_back({false, compression});
  GROVE_ASSIGN_OR_RETURN(m.fill, parse_fill(j.value("fill_value", json()), m.dtype, where));
  const json separator = j.value("dimension_separator", json("."));
  if (separator == "/") {
    m.separator = '/';
  } else if (separator != ".") {
    return make_error(ErrorCode::kCorrupt, "{}: dimension_separator {} is neither \".\" nor \"/\"",
                      where, separator.dump());
  }
  // Attributes are optional; a broken .zattrs only loses the axis names.
  if (auto attributes = read_json(directory / ".zattrs");
      attributes.ok() && attributes->is_object()) {
    m.attributes = std::move(*attributes);
    if (m.attributes.contains("_ARRAY_DIMENSIONS") &&
        m.attributes["_ARRAY_DIMENSIONS"].is_array()) {
      for (const json& name : m.attributes["_ARRAY_DIMENSIONS"]) {
        m.dimension_names.push_back(name.is_string() ? name.get<std::string>() : "");
      }
    }
  }
  return m;
}

// One v3 codec entry: {"name": ..., "configuration": {...}} (or just the name).
std::pair<std::string, json> codec_entry(const json& entry) {
  if (entry.is_string()) return {entry.get<std::string>(), json::object()};
  if (!entry.is_object() || !entry.contains("name") || !entry["name"].is_string())
    return {"", json::object()};
  json configuration = entry.value("configuration", json::object());
  if (!configuration.is_object()) configuration = json::object();
  return {entry["name"].get<std::string>(), configuration};
}

Result<bool> parse_endian(const json& configuration, DType dtype, const std::string& where) {
  if (!configuration.contains("endian") || configuration["endian"].is_null()) {
    if (dtype_size(dtype) > 1)
      return make_error(ErrorCode::kCorrupt, "{}: the bytes codec needs an endian", where);
    return false;
  }
  if (configuration["endian"] == "little") return false;
  if (configuration["endian"] == "big") return true;
  return make_error(ErrorCode::kCorrupt, "{}: endian {} is neither \"little\" nor \"big\"", where,
                    configuration["endian"].dump());
}

Result<Compression> parse_v3_compressor(const std::string& name, const json& configuration,
                                        const std::string& where) {
  Compression c;
  auto level = [&](const char* key) -> Result<int> {
    if (!configuration.contains(key) || configuration[key].is_null()) return -1;
    GROVE_ASSIGN_OR_RETURN(int64_t l, json_int(configuration[key], where, key));
    return static_cast<int>(std::clamp<int64_t>(l, -1, 22));
  };
  if (name == "blosc") {
    c.compressor = Compressor::blosc;
    if (configuration.contains("cname") && configuration["cname"].is_string()) {
      c.blosc_inner = configuration["cname"].get<std::string>();
    }
    GROVE_ASSIGN_OR_RETURN(c.level, level("clevel"));
    const json shuffle = configuration.value("shuffle", json("noshuffle"));
    c.blosc_shuffle = shuffle == "shuffle" ? 1 : shuffle == "bitshuffle" ? 2 : 0;
  } else if (name == "gzip") {
    c.compressor = Compressor::gzip;
    GROVE_ASSIGN_OR_RETURN(c.level, level("level"));
  } else if (name == "zstd") {
    c.compressor = Compressor::zstd;
    GROVE_ASSIGN_OR_RETURN(c.level, level("level"));
  } else {
    return make_error(ErrorCode::kUnsupported,
                      "{}: codec \"{}\" is not supported (grove reads transpose, bytes, blosc, "
                      "gzip, zstd, crc32c, "
                      "sharding_indexed)",
                      where, name);
  }
  return c;
}

Result<CodecChain> parse_v3_codecs(const json& codecs, DType dtype, size_t rank,
                                   const std::string& where, std::optional<Sharding>* sharding,
                                   const std::vector<int64_t>& chunk_shape);

Result<Sharding> parse_sharding(const json& configuration, DType dtype, size_t rank,
                                const std::string& where, const std::vector<int64_t>& shard_shape) {
  Sharding s;
  GROVE_ASSIGN_OR_RETURN(s.inner_shape, json_int_list(configuration, "chunk_shape", where));
  GROVE_RETURN_IF_ERROR(validate_geometry(shard_shape, s.inner_shape, dtype, where));
  int64_t inner_count = 1;
  for (size_t d = 0; d < rank; ++d) {
    if (shard_shape[d] % s.inner_shape[d] != 0) {
      return make_error(ErrorCode::kCorrupt,
                        "{}: the inner chunk shape does not divide the shard shape", where);
    }
    inner_count *= shard_shape[d] / s.inner_shape[d];
    if (inner_count > (int64_t{1} << 22)) {
      return make_error(ErrorCode::kResourceExhausted, "{}: more than {} inner chunks per shard",
                        where, int64_t{1} << 22);
    }
  }
  if (!configuration.contains("codecs"))
    return make_error(ErrorCode::kCorrupt, "{}: sharding without codecs", where);
  GROVE_ASSIGN_OR_RETURN(s.inner, parse_v3_codecs(configuration["codecs"], dtype, rank, where,
                                                  nullptr, s.inner_shape));
  const json index_codecs = configuration.value(
      "index_codecs", json::array({{{"name", "bytes"}, {"configuration", {{"endian", "little"}}}},
                                   {{"name", "crc32c"}}}));
  if (!index_codecs.is_array() || index_codecs.empty()) {
    return make_error(ErrorCode::kCorrupt, "{}: index_codecs must be a list", where);
  }
  for (size_t k = 0; k < index_codecs.size(); ++k) {
    auto [name, config] = codec_entry(index_codecs[k]);
    if (k == 0 && name == "bytes") {
      GROVE_ASSIGN_OR_RETURN(s.index_big_endian, parse_endian(config, DType::u64, where));
    } else if (k == 1 && name == "crc32c") {
      s.index_checksum = true;
    } else {
      return make_error(ErrorCode::kUnsupported,
                        "{}: shard index codecs other than bytes + crc32c ({})", where,
                        index_codecs.dump());
    }
  }
  const json location = configuration.value("index_location", json("end"));
  if (location == "start") {
    s.index_at_start = true;
  } else if (location != "end") {
    return make_error(ErrorCode::kCorrupt, "{}: index_location {} is neither \"start\" nor \"end\"",
                      where, location.dump());
  }
  return s;
}

Result<CodecChain> parse_v3_codecs(const json& codecs, DType dtype, size_t rank,
                                   const std::string& where, std::optional<Sharding>* sharding,
                                   const std::vector<int64_t>& chunk_shape) {
  if (!codecs.is_array())
    return make_error(ErrorCode::kCorrupt, "{}: codecs must be a list", where);
  CodecChain chain;
  chain.storage_order = identity_order(rank);
  enum { kArrayToArray, kBytesToBytes } phase = kArrayToArray;
  bool transposed = false, compressed = false;
  for (const json& entry : codecs) {
    auto [name, configuration] = codec_entry(entry);
    if (name.empty())
      return make_error(ErrorCode::kCorrupt, "{}: codec {} has no name", where, entry.dump());
    if (phase == kArrayToArray) {
      if (name == "transpose") {
        std::vector<int> order;
        const json given = configuration.value("order", json());
        if (given == "C") {
          order = identity_order(rank);
        } else if (given == "F") {
          order = identity_order(rank);
          std::reverse(order.begin(), order.end());
        } else {
          GROVE_ASSIGN_OR_RETURN(std::vector<int64_t> values,
                                 json_int_list(configuration, "order", where));
          std::vector<bool> seen(rank, false);
          if (values.size() != rank)
            return make_error(ErrorCode::kCorrupt, "{}: transpose order of wrong length", where);
          for (int64_t v : values) {
            if (v < 0 || v >= static_cast<int64_t>(rank) || seen[v]) {
              return make_error(ErrorCode::kCorrupt, "{}: transpose order {} is not a permutation",
                                where, configuration["order"].dump());
            }
            seen[v] = true;
            order.push_back(static_cast<int>(v));
          }
        }
        // Encoded axis j is the previous encoding's axis order[j].
        std::vector<int> composed(rank);
        for (size_t j = 0; j < rank; ++j) composed[j] = chain.storage_order[order[j]];
        chain.storage_order = composed;
        transposed = true;
        continue;
      }
      if (name == "bytes" || name == "endian") {
        GROVE_ASSIGN_OR_RETURN(chain.big_endian, parse_endian(configuration, dtype, where));
        phase = kBytesToBytes;
        continue;
      }
      if (name == "sharding_indexed") {
        if (sharding == nullptr)
          return make_error(ErrorCode::kUnsupported, "{}: nested sharding", where);
        if (transposed)
          return make_error(ErrorCode::kUnsupported, "{}: transpose before sharding", where);
        GROVE_ASSIGN_OR_RETURN(Sharding s,
                               parse_sharding(configuration, dtype, rank, where, chunk_shape));
        *sharding = std::move(s);
        phase = kBytesToBytes;
        continue;
      }
      return make_error(ErrorCode::kUnsupported,
                        "{}: codec \"{}\" where an array codec belongs is not supported", where,
                        name);
    }
    if (name == "crc32c") {
      chain.steps.push_back({true, {}});
      continue;
    }
    if (compressed) {
      return make_error(ErrorCode::kUnsupported, "{}: more than one compressor in a codec chain",
                        where);
    }
    GROVE_ASSIGN_OR_RETURN(Compression compression,
                           parse_v3_compressor(name, configuration, where));
    chain.steps.push_back({false, compression});
    compressed = true;
  }
  if (phase != kBytesToBytes)
    return make_error(ErrorCode::kCorrupt, "{}: the codecs lack \"bytes\"", where);
  return chain;
}

json v3_codecs_json(const Compression& c, DType dtype) {
  json codecs = json::array();
  codecs.push_back({{"name", "bytes"}, {"configuration", {{"endian", "little"}}}});
  const int level = c.level;
  switch (c.compressor) {
    case Compressor::none: break;
    case Compressor::blosc: {
      const int shuffle = c.blosc_shuffle < 0 ? (dtype_size(dtype) == 1 ? 2 : 1) : c.blosc_shuffle;
      codecs.push_back({{"name", "blosc"},
                        {"configuration",
                         {{"cname", c.blosc_inner},
                          {"clevel", level < 0 ? 5 : level},
                          {"shuffle", shuffle == 0   ? "noshuffle"
                                      : shuffle == 2 ? "bitshuffle"
                                                     : "shuffle"},
                          {"typesize", dtype_size(dtype)},
                          {"blocksize", c.blosc_blocksize}}}});
      break;
    }
    case Compressor::zstd:
      codecs.push_back(
          {{"name", "zstd"},
           {"configuration", {{"level", level < 0 ? 3 : level}, {"checksum", false}}}});
      break;
    case Compressor::gzip:
      codecs.push_back({{"name", "gzip"}, {"configuration", {{"level", level < 0 ? 6 : level}}}});
      break;
    default: break;
  }
  return codecs;
}

Result<ZarrArrayMetadata> parse_v3_array(const json& j, const fs::path& directory) {
  const std::string where = where_of(directory / "zarr.json");
  ZarrArrayMetadata m;
  m.version = 3;
  m.directory = directory;
  if (!j.is_object() || j.value("zarr_format", json()) != 3 ||
      j.value("node_type", json()) != "array") {
    return make_error(ErrorCode::kCorrupt,
                      "{}: not a Zarr v3 array (zarr_format 3, node_type \"array\")", where);
  }
  GROVE_ASSIGN_OR_RETURN(m.shape, json_int_list(j, "shape", where));
  if (!j.contains("data_type")) return make_error(ErrorCode::kCorrupt, "{}: no data_type", where);
  GROVE_ASSIGN_OR_RETURN(m.dtype, parse_v3_dtype(j["data_type"], where));
  const json grid = j.value("chunk_grid", json());
  if (!grid.is_object() || grid.value("name", json()) != "regular" ||
      !grid.contains("configuration")) {
    return make_error(ErrorCode::kUnsupported, "{}: chunk_grid {} is not a regular grid", where,
                      grid.dump());
  }
  GROVE_ASSIGN_OR_RETURN(m.chunk_shape, json_int_list(grid["configuration"], "chunk_shape", where));
  GROVE_RETURN_IF_ERROR(validate_geometry(m.shape, m.chunk_shape, m.dtype, where, 32));
  const json encoding = j.value("chunk_key_encoding", json({{"name", "default"}}));
  const auto [encoding_name, encoding_configuration] = codec_entry(encoding);
  if (encoding_name == "default") {
    m.v3_default_keys = true;
    m.separator = '/';
  } else if (encoding_name == "v2") {
    m.separator = '.';
  } else {
    return make_error(ErrorCode::kUnsupported, "{}: chunk_key_encoding {} is not supported", where,
                      encoding.dump());
  }
  if (encoding_configuration.contains("separator")) {
    const json separator = encoding_configuration["separator"];
    if (separator == "/" || separator == ".") {
      m.separator = separator.get<std::string>()[0];
    } else {
      return make_error(ErrorCode::kCorrupt, "{}: separator {} is neither \".\" nor \"/\"", where,
                        separator.dump());
    }
  }
  if (!j.contains("fill_value")) return make_error(ErrorCode::kCorrupt, "{}: no fill_value", where);
  GROVE_ASSIGN_OR_RETURN(m.fill, parse_fill(j["fill_value"], m.dtype, where));
  if (!j.contains("codecs")) return make_error(ErrorCode::kCorrupt, "{}: no codecs", where);
  GROVE_ASSIGN_OR_RETURN(m.chain, parse_v3_codecs(j["codecs"], m.dtype, m.shape.size(), where,
                                                  &m.sharding, m.chunk_shape));
  if (j.contains("storage_transformers") &&
      !(j["storage_transformers"].is_array() && j["storage_transformers"].empty())) {
    return make_error(ErrorCode::kUnsupported, "{}: storage_transformers are not supported", where);
  }
  if (j.contains("dimension_names") && j["dimension_names"].is_array()) {
    for (const json& name : j["dimension_names"])
      m.dimension_names.push_back(name.is_string() ? name.get<std::string>() : "");
  }
  if (j.contains("attributes") && j["attributes"].is_object()) m.attributes = j["attributes"];
  return m;
}

// ---- nodes of the hierarchy ----

enum class NodeKind { missing, plain_directory, group, array };

struct Node {
  NodeKind kind = NodeKind::missing;
  int version = 0;  // 2 or 3 for groups and arrays
};

Node node_at(const fs::path& directory) {
  std::error_code error;
  if (!fs::is_directory(directory, error)) return {};
  if (fs::is_regular_file(directory / ".zarray", error)) return {NodeKind::array, 2};
  if (fs::is_regular_file(directory / "zarr.json", error)) {
    auto document = read_json(directory / "zarr.json");
    if (document.ok() && document->is_object() && document->value("node_type", json()) == "array") {
      return {NodeKind::array, 3};
    }
    return {NodeKind::group, 3};
  }
  if (fs::is_regular_file(directory / ".zgroup", error) ||
      fs::is_regular_file(directory / ".zattrs", error)) {
    return {NodeKind::group, 2};
  }
  return {NodeKind::plain_directory, 0};
}

// A group's attributes (v2 .zattrs, v3 zarr.json "attributes"); empty if none.
json group_attributes(const fs::path& directory) {
  if (auto v3 = read_json(directory / "zarr.json"); v3.ok() && v3->is_object()) {
    return v3->value("attributes", json::object());
  }
  if (auto v2 = read_json(directory / ".zattrs"); v2.ok() && v2->is_object()) return *v2;
  return json::object();
}

// OME-Zarr 0.5 keeps multiscales under "ome"; 0.4 and earlier at the top.
json multiscales_of(const json& attributes) {
  if (!attributes.is_object()) return json();
  if (attributes.contains("ome") && attributes["ome"].is_object() &&
      attributes["ome"].contains("multiscales")) {
    return attributes["ome"]["multiscales"];
  }
  return attributes.value("multiscales", json());
}

Result<std::string> normalize_internal(const std::string& internal) {
  std::string out;
  size_t start = 0;
  while (start <= internal.size()) {
    size_t slash = internal.find('/', start);
    if (slash == std::string::npos) slash = internal.size();
    const std::string part = internal.substr(start, slash - start);
    if (part == "..") {
      return make_error(ErrorCode::kInvalidArgument, "internal path \"{}\" may not contain \"..\"",
                        internal);
    }
    if (!part.empty() && part != ".") {
      if (!out.empty()) out += '/';
      out += part;
    }
    start = slash + 1;
  }
  return out;
}

std::string join_path(const std::string& a, const std::string& b) {
  if (a.empty()) return b;
  if (b.empty()) return a;
  return a + "/" + b;
}

// Arrays under internal path start (relative to root), depth first, sorted.
void collect_arrays(const fs::path& root, const std::string& start, int depth,
                    std::vector<std::string>& out) {
  if (depth > 16 || out.size() > 100000) return;
  const Node node = node_at(root / start);
  if (node.kind == NodeKind::array) {
    out.push_back(start);
    return;
  }
  if (node.kind == NodeKind::missing) return;
  std::error_code error;
  std::vector<std::string> children;
  for (fs::directory_iterator it(root / start, error), end; !error && it != end;
       it.increment(error)) {
    const std::string name = it->path().filename().string();
    if (name.empty() || name[0] == '.') continue;
    if (it->is_directory(error)) children.push_back(name);
  }
  std::sort(children.begin(), children.end());
  for (const std::string& child : children)
    collect_arrays(root, join_path(start, child), depth + 1, out);
}

// Resolves path.internal to an array: itself, datasets[0] of a multiscales group, or the only
// array inside a group.
Result<std::string> resolve_array(const fs::path& root, const std::string& internal,
                                  int depth = 0) {
  if (depth > 8)
    return make_error(ErrorCode::kCorrupt, "{}: multiscales refer to each other in a loop",
                      root.string());
  const fs::path directory = root / internal;
  const Node node = node_at(directory);
  const std::string shown = internal.empty() ? root.string() : (root / internal).string();
  if (node.kind == NodeKind::missing)
    return make_error(ErrorCode::kNotFound, "{}: no such Zarr array or group", shown);
  if (node.kind == NodeKind::array) return internal;
  const json multiscales = multiscales_of(group_attributes(directory));
  if (multiscales.is_array() && !multiscales.empty() && multiscales[0].is_object()) {
    const json datasets = multiscales[0].value("datasets", json());
    if (datasets.is_array() && !datasets.empty() && datasets[0].is_object() &&
        datasets[0].contains("path") && datasets[0]["path"].is_string()) {
      GROVE_ASSIGN_OR_RETURN(std::string relative,
                             normalize_internal(datasets[0]["path"].get<std::string>()));
      return resolve_array(root, join_path(internal, relative), depth + 1);
    }
  }
  std::vector<std::string> arrays;
  collect_arrays(root, internal, 0, arrays);
  if (arrays.size() == 1) return arrays[0];
  if (arrays.empty())
    return make_error(ErrorCode::kNotFound, "{}: the Zarr group holds no array", shown);
  std::string names;
  for (size_t i = 0; i < arrays.size() && i < 10; ++i) names += (i ? ", " : "") + arrays[i];
  if (arrays.size() > 10) names += ", ...";
  return make_error(ErrorCode::kInvalidArgument,
                    "{}: the Zarr group holds {} arrays ({}); name one, as in {}/{}", shown,
                    arrays.size(), names, root.string(), arrays[0]);
}

Result<ZarrArrayMetadata> read_array_metadata(const fs::path& root, const std::string& array_path) {
  const fs::path directory = root / array_path;
  const Node node = node_at(directory);
  if (node.kind != NodeKind::array) {
    return make_error(ErrorCode::kNotFound, "{}: not a Zarr array", directory.string());
  }
  if (node.version == 2) {
    GROVE_ASSIGN_OR_RETURN(json j, read_json(directory / ".zarray"));
    return parse_v2_array(j, directory);
  }
  GROVE_ASSIGN_OR_RETURN(json j, read_json(directory / "zarr.json"));
  return parse_v3_array(j, directory);
}

// ---- OME-Zarr axes and scale ----

struct OmeAxes {
  std::vector<std::string> names;  // letters of tzyxc where they can be told
  std::vector<std::string> units;
  std::vector<double> scale;
  bool has_scale = false;
};

Status multiply_scale(const json& transformations, std::vector<double>& scale, bool& has_scale,
                      const std::string& where) {
  if (!transformations.is_array()) return ok_status();
  for (const json& t : transformations) {
    if (!t.is_object() || t.value("type", json()) != "scale" || !t.contains("scale")) continue;
    const json& values = t["scale"];
    if (!values.is_array() || values.size() != scale.size()) {
      return make_error(ErrorCode::kCorrupt, "{}: a scale transformation has {} values for {} axes",
                        where, values.is_array() ? values.size() : 0, scale.size());
    }
    for (size_t d = 0; d < scale.size(); ++d) {
      if (!values[d].is_number() || !std::isfinite(values[d].get<double>()) ||
          values[d].get<double>() <= 0) {
        return make_error(ErrorCode::kCorrupt, "{}: scale {} is not a positive number", where,
                          values[d].dump());
      }
      scale[d] *= values[d].get<double>();
    }
    has_scale = true;
  }
  return ok_status();
}

Result<OmeAxes> parse_ome_axes(const json& multiscale, const json& dataset,
                               const std::string& where) {
  OmeAxes axes;
  const json given = multiscale.value("axes", json());
  if (given.is_array()) {
    for (const json& axis : given) {
      std::string name, type, unit;
      if (axis.is_string()) {
        name = axis.get<std::string>();
      } else if (axis.is_object()) {
        if (axis.contains("name") && axis["name"].is_string())
          name = axis["name"].get<std::string>();
        if (axis.contains("type") && axis["type"].is_string())
          type = axis["type"].get<std::string>();
        if (axis.contains("unit") && axis["unit"].is_string())
          unit = axis["unit"].get<std::string>();
      } else {
        return make_error(ErrorCode::kCorrupt, "{}: axis {} is neither a name nor an object", where,
                          axis.dump());
      }
      std::string lower = name;
      for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (lower.size() != 1 || std::strchr("tczyx", lower[0]) == nullptr) {
        if (type == "time")
          lower.assign(1, 't');
        else if (type == "channel")
          lower.assign(1, 'c');
      }
      axes.names.push_back(lower);
      axes.units.push_back(unit);
    }
  } else {
    // OME-Zarr 0.1 and 0.2 have no axes: always 5-d t,c,z,y,x.
    for (const char* name : {"t", "c", "z", "y", "x"}) {
      axes.names.emplace_back(name);
      axes.units.emplace_back();
    }
  }
  axes.scale.assign(axes.names.size(), 1.0);
  GROVE_RETURN_IF_ERROR(multiply_scale(dataset.value("coordinateTransformations", json()),
                                       axes.scale, axes.has_scale, where));
  GROVE_RETURN_IF_ERROR(multiply_scale(multiscale.value("coordinateTransformations", json()),
                                       axes.scale, axes.has_scale, where));
  return axes;
}

// The multiscales entry of the nearest group above array_path that lists it.
Result<std::optional<OmeAxes>> find_ome_axes(const fs::path& root, const std::string& array_path) {
  std::vector<std::string> parts;
  for (size_t start = 0; start < array_path.size();) {
    size_t slash = array_path.find('/', start);
    if (slash == std::string::npos) slash = array_path.size();
    parts.push_back(array_path.substr(start, slash - start));
    start = slash + 1;
  }
  for (size_t k = parts.size(); k-- > 0;) {
    std::string group, rest;
    for (size_t i = 0; i < parts.size(); ++i)
      (i < k ? group : rest) = join_path(i < k ? group : rest, parts[i]);
    const json multiscales = multiscales_of(group_attributes(root / group));
    if (!multiscales.is_array()) continue;
    for (const json& multiscale : multiscales) {
      if (!multiscale.is_object() || !multiscale.contains("datasets") ||
          !multiscale["datasets"].is_array())
        continue;
      for (const json& dataset : multiscale["datasets"]) {
        if (!dataset.is_object() || !dataset.contains("path") || !dataset["path"].is_string())
          continue;
        auto path = normalize_internal(dataset["path"].get<std::string>());
        if (!path.ok() || *path != rest) continue;
        const std::string where = (root / group).string() + " multiscales";
        GROVE_ASSIGN_OR_RETURN(OmeAxes axes, parse_ome_axes(multiscale, dataset, where));
        return std::optional<OmeAxes>(std::move(axes));
      }
    }
  }
  return std::optional<OmeAxes>();
}

// OME-NGFF wants UCUM-like unit names ("micrometer"); users write "um".
std::string ome_unit(const std::string& unit) {
  static const std::pair<const char*, const char*> kUnits[] = {{"um", "micrometer"},
                                                               {"µm", "micrometer"},
                                                               {"μm", "micrometer"},
                                                               {"micron", "micrometer"},
                                                               {"microns", "micrometer"},
                                                               {"nm", "nanometer"},
                                                               {"mm", "millimeter"},
                                                               {"cm", "centimeter"},
                                                               {"m", "meter"},
                                                               {"pm", "picometer"},
                                                               {"a", "angstrom"},
                                                               {"å", "angstrom"},
                                                               {"s", "second"},
                                                               {"sec", "second"},
                                                               {"seconds", "second"},
                                                               {"ms", "millisecond"},
                                                               {"us", "microsecond"},
                                                               {"min", "minute"},
                                                               {"h", "hour"}};
  std::string lower;
  for (char c : unit) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const auto& [from, to] : kUnits) {
    if (lower == from) return to;
  }
  return unit;
}

json ome_axes_json(const std::string& axes, const WriteOptions& options) {
  json out = json::array();
  for (char letter : axes) {
    json axis = {{"name", std::string(1, letter)}};
    const int index = static_cast<int>(std::strchr(kAxisNames, letter) - kAxisNames);
    axis["type"] = letter == 'c' ? "channel" : letter == 't' ? "time" : "space";
    if (letter != 'c' && options.has_pixel_size && !options.pixel_unit[index].empty()) {
      axis["unit"] = ome_unit(options.pixel_unit[index]);
    }
    out.push_back(axis);
  }
  return out;
}

json ome_scale_json(const std::string& axes, const WriteOptions& options) {
  json scale = json::array();
  for (char letter : axes) {
    const int index = static_cast<int>(std::strchr(kAxisNames, letter) - kAxisNames);
    const double value = letter != 'c' && options.has_pixel_size ? options.pixel_size[index] : 1.0;
    scale.push_back(value > 0 && std::isfinite(value) ? value : 1.0);
  }
  return scale;
}

// ---- the chunk format ----

int64_t product(std::span<const int64_t> values) {
  int64_t p = 1;
  for (int64_t v : values) p *= v;
  return p;
}

// The most a stored chunk may take for a decoded size: generous for every codec's worst case,
// yet bounded.
int64_t max_stored_bytes(int64_t decoded) { return decoded + decoded / 16 + (int64_t{1} << 20); }

class ZarrFormat : public ChunkedArrayFormat {
 public:
  ZarrFormat(ChunkedArrayLayout layout, ZarrArrayMetadata metadata, std::string display)
      : ChunkedArrayFormat(std::move(layout)),
        metadata_(std::move(metadata)),
        store_(metadata_.directory),
        display_(std::move(display)) {}

  Result<std::optional<ChunkBuffer>> read_chunk(
      std::span<const int64_t> grid_index) const override {
    if (metadata_.sharding) return read_inner_chunk(grid_index);
    const int64_t decoded =
        product(layout().chunk_shape) * static_cast<int64_t>(dtype_size(layout().dtype));
    GROVE_ASSIGN_OR_RETURN(auto bytes, store_.read(key(grid_index), max_stored_bytes(decoded)));
    if (!bytes) return std::optional<ChunkBuffer>();
    GROVE_ASSIGN_OR_RETURN(ChunkBuffer chunk,
                           decode(std::move(*bytes), metadata_.chain, layout().chunk_shape));
    return std::optional<ChunkBuffer>(std::move(chunk));
  }

  Result<ChunkBuffer> new_chunk(std::span<const int64_t>) const override {
    return make_chunk_buffer(layout().chunk_shape, metadata_.chain.storage_order,
                             dtype_size(layout().dtype));
  }

  Status write_chunk(std::span<const int64_t> grid_index, ChunkBuffer& chunk) const override {
    GROVE_RETURN_IF_ERROR(check_writable());
    const CodecChain& chain = metadata_.chain;
    const size_t element_size = dtype_size(layout().dtype);
    if (chain.big_endian)
      swap_bytes(chunk.data.get(), chunk.bytes / static_cast<int64_t>(element_size), element_size);
    std::span<const uint8_t> raw(chunk.data.get(), static_cast<size_t>(chunk.bytes));
    if (chain.steps.empty()) return store_.write(key(grid_index), raw);
    std::vector<uint8_t> current(raw.begin(), raw.end());
    for (const BytesStep& step : chain.steps) {
      if (step.checksum) {
        const uint32_t crc = crc32c(current);
        for (int b = 0; b < 4; ++b) current.push_back(static_cast<uint8_t>(crc >> (8 * b)));
      } else {
        GROVE_ASSIGN_OR_RETURN(current, compress(step.compression, current, element_size));
      }
    }
    return store_.write(key(grid_index), current);
  }

  bool chunk_exists(std::span<const int64_t> grid_index) const override {
    return store_.exists(key(grid_index));
  }

  std::string chunk_name(std::span<const int64_t> grid_index) const override {
    if (metadata_.sharding) return display_ + " (inner chunk of a shard)";
    return join_path(display_, key(grid_index));
  }

  Status check_writable() const override {
    if (metadata_.sharding) {
      return make_error(ErrorCode::kUnsupported, "{}: grove cannot write sharded Zarr v3 arrays",
                        display_);
    }
    return ok_status();
  }

  Status commit() const override { return set_complete(metadata_, true); }

  static Status set_complete(const ZarrArrayMetadata& metadata, bool complete) {
    if (metadata.version == 2) {
      const fs::path file = metadata.directory / ".zattrs";
      json attributes = json::object();
      if (auto existing = read_json(file); existing.ok() && existing->is_object())
        attributes = std::move(*existing);
      attributes["grove"]["complete"] = complete;
      return write_file_atomically(file, attributes.dump(4));
    }
    const fs::path file = metadata.directory / "zarr.json";
    GROVE_ASSIGN_OR_RETURN(json document, read_json(file));
    if (!document.contains("attributes") || !document["attributes"].is_object())
      document["attributes"] = json::object();
    document["attributes"]["grove"]["complete"] = complete;
    return write_file_atomically(file, document.dump(4));
  }

 private:
  std::string key(std::span<const int64_t> grid_index) const {
    std::string out = metadata_.v3_default_keys ? "c" : "";
    if (grid_index.empty()) return metadata_.v3_default_keys ? out : "0";
    for (size_t d = 0; d < grid_index.size(); ++d) {
      if (!out.empty()) out += metadata_.separator;
      out += std::to_string(grid_index[d]);
    }
    return out;
  }

  // Undoes the chain: checksums and the compressor (in reverse), byte order; the permutation is
  // expressed in the buffer's strides.
  Result<ChunkBuffer> decode(std::vector<uint8_t> bytes, const CodecChain& chain,
                             const std::vector<int64_t>& extents) const {
    const size_t element_size = dtype_size(layout().dtype);
    GROVE_ASSIGN_OR_RETURN(ChunkBuffer chunk,
                           make_chunk_buffer(extents, chain.storage_order, element_size));
    std::vector<uint8_t> current = std::move(bytes);
    bool in_chunk = false;
    for (size_t k = chain.steps.size(); k-- > 0;) {
      const BytesStep& step = chain.steps[k];
      if (step.checksum) {
        if (current.size() < 4)
          return make_error(ErrorCode::kCorrupt, "chunk shorter than its crc32c checksum");
        const size_t n = current.size() - 4;
        uint32_t stored = 0;
        for (int b = 0; b < 4; ++b) stored |= static_cast<uint32_t>(current[n + b]) << (8 * b);
        if (crc32c(std::span<const uint8_t>(current.data(), n)) != stored) {
          return make_error(ErrorCode::kCorrupt, "chunk fails its crc32c checksum");
        }
        current.resize(n);
        continue;
      }
      int64_t expected = chunk.bytes;
      for (size_t i = 0; i < k; ++i) expected += chain.steps[i].checksum ? 4 : 0;
      if (k == 0) {
        GROVE_RETURN_IF_ERROR(
            decompress(step.compression.compressor, current,
                       std::span<uint8_t>(chunk.data.get(), static_cast<size_t>(chunk.bytes))));
        in_chunk = true;
      } else {
        std::vector<uint8_t> next(static_cast<size_t>(expected));
        GROVE_RETURN_IF_ERROR(decompress(step.compression.compressor, current, next));
        current = std::move(next);
      }
    }
    if (!in_chunk) {
      if (static_cast<int64_t>(current.size()) != chunk.bytes) {
        return make_error(ErrorCode::kCorrupt, "uncompressed chunk has {} bytes, expected {}",
                          current.size(), chunk.bytes);
      }
      if (chunk.bytes > 0)
        std::memcpy(chunk.data.get(), current.data(), static_cast<size_t>(chunk.bytes));
    }
    const int64_t count = chunk.bytes / static_cast<int64_t>(element_size);
    if (chain.big_endian) swap_bytes(chunk.data.get(), count, element_size);
    if (layout().dtype == DType::boolean) {
      // Any non-zero byte is true; a bool must hold 0 or 1.
      for (int64_t i = 0; i < count; ++i) chunk.data[i] = chunk.data[i] != 0;
    }
    return chunk;
  }

  Result<std::optional<ChunkBuffer>> read_inner_chunk(std::span<const int64_t> inner_index) const {
    const Sharding& sharding = *metadata_.sharding;
    const size_t rank = inner_index.size();
    std::vector<int64_t> shard_index(rank);
    int64_t linear = 0, count = 1;
    for (size_t d = 0; d < rank; ++d) {
      const int64_t per_shard = metadata_.chunk_shape[d] / sharding.inner_shape[d];
      shard_index[d] = inner_index[d] / per_shard;
      linear = linear * per_shard + inner_index[d] % per_shard;
      count *= per_shard;
    }
    GROVE_ASSIGN_OR_RETURN(std::optional<StoreFile> file, store_.open(key(shard_index)));
    if (!file) return std::optional<ChunkBuffer>();
    const int64_t index_bytes = 16 * count + (sharding.index_checksum ? 4 : 0);
    if (file->size() < index_bytes) {
      return make_error(ErrorCode::kCorrupt,
                        "shard {} of {} bytes is shorter than its index of {} bytes", file->path(),
                        file->size(), index_bytes);
    }
    const int64_t index_offset = sharding.index_at_start ? 0 : file->size() - index_bytes;
    std::vector<uint8_t> entry;
    if (sharding.index_checksum) {
      GROVE_ASSIGN_OR_RETURN(std::vector<uint8_t> index, file->read(index_offset, index_bytes));
      const size_t n = index.size() - 4;
      uint32_t stored = 0;
      for (int b = 0; b < 4; ++b) stored |= static_cast<uint32_t>(index[n + b]) << (8 * b);
      if (crc32c(std::span<const uint8_t>(index.data(), n)) != stored) {
        return make_error(ErrorCode::kCorrupt, "the index of shard {} fails its crc32c checksum",
                          file->path());
      }
      entry.assign(index.begin() + linear * 16, index.begin() + linear * 16 + 16);
    } else {
      GROVE_ASSIGN_OR_RETURN(entry, file->read(index_offset + linear * 16, 16));
    }
    auto number = [&](int at) {
      uint64_t value = 0;
      for (int b = 0; b < 8; ++b) {
        const int shift = sharding.index_big_endian ? 8 * (7 - b) : 8 * b;
        value |= static_cast<uint64_t>(entry[at + b]) << shift;
      }
      return value;
    };
    const uint64_t offset = number(0), nbytes = number(8);
    if (offset == ~uint64_t{0} && nbytes == ~uint64_t{0}) return std::optional<ChunkBuffer>();
    const int64_t decoded =
        product(sharding.inner_shape) * static_cast<int64_t>(dtype_size(layout().dtype));
    if (offset > static_cast<uint64_t>(file->size()) ||
        nbytes > static_cast<uint64_t>(file->size()) - offset ||
        static_cast<int64_t>(nbytes) > max_stored_bytes(decoded)) {
      return make_error(ErrorCode::kCorrupt,
                        "shard {}: inner chunk at [{}, +{}) lies outside the {} bytes stored",
                        file->path(), offset, nbytes, file->size());
    }
    GROVE_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes,
                           file->read(static_cast<int64_t>(offset), static_cast<int64_t>(nbytes)));
    GROVE_ASSIGN_OR_RETURN(ChunkBuffer chunk,
                           decode(std::move(bytes), sharding.inner, sharding.inner_shape));
    return std::optional<ChunkBuffer>(std::move(chunk));
  }

  ZarrArrayMetadata metadata_;
  DirectoryStore store_;
  std::string display_;
};

struct OpenedArray {
  ImageInfo info;
  std::shared_ptr<const ZarrFormat> format;
};

Result<OpenedArray> open_array(const ImagePath& path) {
  const fs::path root = path.file;
  std::error_code error;
  if (!fs::is_directory(root, error)) {
    return make_error(ErrorCode::kNotFound, "{}: no such Zarr store (a directory)", path.file);
  }
  GROVE_ASSIGN_OR_RETURN(std::string internal, normalize_internal(path.internal));
  GROVE_ASSIGN_OR_RETURN(std::string array_path, resolve_array(root, internal));
  GROVE_ASSIGN_OR_RETURN(ZarrArrayMetadata metadata, read_array_metadata(root, array_path));
  const std::string display = array_path.empty() ? root.string() : (root / array_path).string();

  GROVE_ASSIGN_OR_RETURN(std::optional<OmeAxes> ome, find_ome_axes(root, array_path));
  std::vector<std::string> names;
  bool named = false;
  if (ome) {
    if (ome->names.size() != metadata.shape.size()) {
      return make_error(ErrorCode::kCorrupt,
                        "{}: the multiscales list {} axes for an array of {} dimensions", display,
                        ome->names.size(), metadata.shape.size());
    }
    names = ome->names;
    named = true;
  } else if (metadata.dimension_names.size() == metadata.shape.size() && !metadata.shape.empty()) {
    // xarray's _ARRAY_DIMENSIONS / v3 dimension_names count only if they are axis letters.
    auto mapped = map_axis_names(metadata.dimension_names, metadata.shape, display);
    if (mapped.ok()) {
      names = metadata.dimension_names;
      named = true;
    }
  }
  if (!named) {
    GROVE_ASSIGN_OR_RETURN(names, default_axis_names(metadata.shape, display));
  }
  ChunkedArrayLayout layout;
  layout.shape = metadata.shape;
  layout.chunk_shape = metadata.sharding ? metadata.sharding->inner_shape : metadata.chunk_shape;
  layout.dtype = metadata.dtype;
  layout.fill = metadata.fill;
  GROVE_ASSIGN_OR_RETURN(layout.axis_of_dimension, map_axis_names(names, metadata.shape, display));
  if (!layout.shape5().valid())
    return make_error(ErrorCode::kCorrupt, "{}: the shape overflows", display);

  ImageInfo info;
  info.shape = layout.shape5();
  info.chunk_shape = layout.chunk_shape5();
  info.dtype = layout.dtype;
  info.axes = axes_string(layout.axis_of_dimension);
  info.format = metadata.version == 2 ? "zarr" : "zarr3";
  Compression compression;
  for (const BytesStep& step :
       (metadata.sharding ? metadata.sharding->inner : metadata.chain).steps) {
    if (!step.checksum) compression = step.compression;
  }
  info.compression = compression_name(compression);
  if (ome && ome->has_scale) {
    for (size_t d = 0; d < metadata.shape.size(); ++d) {
      const int axis = layout.axis_of_dimension[d];
      if (axis < 0 || axis == kC) continue;
      info.pixel_size[axis] = ome->scale[d];
      info.pixel_unit[axis] = ome->units[d];
    }
    info.has_pixel_size = true;
  }
  auto format = std::make_shared<const ZarrFormat>(std::move(layout), std::move(metadata), display);
  return OpenedArray{std::move(info), std::move(format)};
}

// Writes group metadata where a directory on the way to a new node has none.
Status ensure_groups(const fs::path& root, const std::string& internal, int version) {
  std::string path;
  std::vector<std::string> levels{""};
  for (size_t start = 0; start < internal.size();) {
    size_t slash = internal.find('/', start);
    if (slash == std::string::npos) slash = internal.size();
    path = join_path(path, internal.substr(start, slash - start));
    levels.push_back(path);
    start = slash + 1;
  }
  levels.pop_back();  // the node itself is written by the caller
  for (const std::string& level : levels) {
    const fs::path directory = root / level;
    GROVE_RETURN_IF_ERROR(make_directories(directory));
    const Node node = node_at(directory);
    if (node.kind == NodeKind::array) {
      return make_error(ErrorCode::kAlreadyExists, "{} is a Zarr array, so it cannot hold {}",
                        directory.string(), internal);
    }
    if (node.kind == NodeKind::group) continue;
    if (version == 2) {
      GROVE_RETURN_IF_ERROR(
          write_file_atomically(directory / ".zgroup", json({{"zarr_format", 2}}).dump(4)));
    } else {
      GROVE_RETURN_IF_ERROR(write_file_atomically(
          directory / "zarr.json",
          json({{"zarr_format", 3}, {"node_type", "group"}, {"attributes", json::object()}})
              .dump(4)));
    }
  }
  return ok_status();
}

bool has_zarr_metadata(const fs::path& directory) {
  std::error_code error;
  for (const char* name : {".zgroup", ".zarray", ".zattrs", "zarr.json"}) {
    if (fs::is_regular_file(directory / name, error)) return true;
  }
  return false;
}

}  // namespace

Result<std::unique_ptr<ImageReader>> open_zarr(const ImagePath& path) {
  GROVE_ASSIGN_OR_RETURN(OpenedArray opened, open_array(path));
  return std::unique_ptr<ImageReader>(
      std::make_unique<ChunkedImageReader>(std::move(opened.info), std::move(opened.format)));
}

Result<std::unique_ptr<ImageWriter>> open_zarr_writer(const ImagePath& path) {
  GROVE_ASSIGN_OR_RETURN(OpenedArray opened, open_array(path));
  GROVE_RETURN_IF_ERROR(opened.format->check_writable());
  return std::unique_ptr<ImageWriter>(
      std::make_unique<ChunkedImageWriter>(std::move(opened.format)));
}

Result<bool> zarr_is_complete(const ImagePath& path) {
  GROVE_ASSIGN_OR_RETURN(OpenedArray opened, open_array(path));
  (void)opened;
  GROVE_ASSIGN_OR_RETURN(std::string internal, normalize_internal(path.internal));
  GROVE_ASSIGN_OR_RETURN(std::string array_path, resolve_array(path.file, internal));
  GROVE_ASSIGN_OR_RETURN(ZarrArrayMetadata metadata, read_array_metadata(path.file, array_path));
  const json& grove = metadata.attributes.value("grove", json());
  return grove.is_object() && grove.value("complete", json(false)) == true;
}

Result<std::unique_ptr<ImageWriter>> create_zarr(const ImagePath& path, const Shape5& shape,
                                                 DType dtype, const WriteOptions& options) {
  const fs::path root = path.file;
  const std::string shown = path.internal.empty() ? path.file : path.file + "/" + path.internal;
  if (!shape.valid())
    return make_error(ErrorCode::kInvalidArgument, "{}: invalid shape {}", shown,
                      shape.to_string());
  const int version = options.zarr_version;
  if (version != 2 && version != 3) {
    return make_error(ErrorCode::kInvalidArgument, "{}: zarr version {} (use 2 or 3)", shown,
                      version);
  }
  GROVE_ASSIGN_OR_RETURN(std::string internal, normalize_internal(path.internal));
  GROVE_ASSIGN_OR_RETURN(std::string axes, choose_storage_axes(options.axes, shape, true));
  Compression default_compression;
  default_compression.compressor = Compressor::blosc;
  default_compression.blosc_inner = "lz4";
  default_compression.blosc_shuffle = 1;
  GROVE_ASSIGN_OR_RETURN(
      Compression compression,
      parse_compression(options.compression, options.compression_level, default_compression));
  if (version == 3 &&
      (compression.compressor == Compressor::zlib || compression.compressor == Compressor::bzip2 ||
       compression.compressor == Compressor::xz)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "{}: Zarr v3 has no {} codec (use blosc, zstd, gzip or none)", shown,
                      compression_name(compression));
  }
  const Shape5 chunk5 = choose_chunk_shape(options.chunk_shape, shape, dtype);
  std::vector<int64_t> stored_shape, stored_chunks;
  std::vector<std::string> names;
  for (char letter : axes) {
    const int axis = static_cast<int>(std::strchr(kAxisNames, letter) - kAxisNames);
    stored_shape.push_back(shape[axis]);
    stored_chunks.push_back(chunk5[axis]);
    names.emplace_back(1, letter);
  }
  GROVE_RETURN_IF_ERROR(validate_geometry(stored_shape, stored_chunks, dtype, shown));

  // The image group: refuse or replace what is there.
  const fs::path group = root / internal;
  std::error_code error;
  if (fs::exists(group, error)) {
    const bool empty_directory = fs::is_directory(group, error) && fs::is_empty(group, error);
    if (!empty_directory) {
      if (!options.overwrite) {
        return make_error(ErrorCode::kAlreadyExists, "{} exists (overwrite it with --overwrite)",
                          shown);
      }
      if (!has_zarr_metadata(group)) {
        return make_error(ErrorCode::kAlreadyExists,
                          "{} exists and is no Zarr array or group: grove will not replace it",
                          shown);
      }
      fs::remove_all(group, error);
      if (error) return make_error(ErrorCode::kIo, "cannot remove {}: {}", shown, error.message());
    }
  }
  GROVE_RETURN_IF_ERROR(ensure_groups(root, join_path(internal, "0"), version));

  json multiscale = {
      {"name",
       internal.empty() ? root.filename().string() : fs::path(internal).filename().string()},
      {"axes", ome_axes_json(axes, options)},
      {"datasets",
       json::array(
           {{{"path", "0"},
             {"coordinateTransformations",
              json::array({{{"type", "scale"}, {"scale", ome_scale_json(axes, options)}}})}}})}};
  const fs::path array_directory = group / "0";
  GROVE_RETURN_IF_ERROR(make_directories(array_directory));
  json grove_attributes = {{"complete", false}};
  if (version == 2) {
    multiscale["version"] = "0.4";
    GROVE_RETURN_IF_ERROR(write_file_atomically(
        group / ".zattrs", json({{"multiscales", json::array({multiscale})}}).dump(4)));
    json zarray = {{"zarr_format", 2},
                   {"shape", stored_shape},
                   {"chunks", stored_chunks},
                   {"dtype", v2_dtype_string(dtype)},
                   {"compressor", v2_compressor_json(compression)},
                   {"fill_value", fill_json(dtype)},
                   {"order", "C"},
                   {"filters", nullptr},
                   {"dimension_separator", "/"}};
    GROVE_RETURN_IF_ERROR(write_file_atomically(array_directory / ".zarray", zarray.dump(4)));
    GROVE_RETURN_IF_ERROR(write_file_atomically(
        array_directory / ".zattrs",
        json({{"_ARRAY_DIMENSIONS", names}, {"grove", grove_attributes}}).dump(4)));
  } else {
    json group_json = {
        {"zarr_format", 3},
        {"node_type", "group"},
        {"attributes",
         {{"ome", {{"version", "0.5"}, {"multiscales", json::array({multiscale})}}}}}};
    GROVE_RETURN_IF_ERROR(write_file_atomically(group / "zarr.json", group_json.dump(4)));
    json array_json = {
        {"zarr_format", 3},
        {"node_type", "array"},
        {"shape", stored_shape},
        {"data_type", v3_dtype_string(dtype)},
        {"chunk_grid", {{"name", "regular"}, {"configuration", {{"chunk_shape", stored_chunks}}}}},
        {"chunk_key_encoding", {{"name", "default"}, {"configuration", {{"separator", "/"}}}}},
        {"fill_value", fill_json(dtype)},
        {"codecs", v3_codecs_json(compression, dtype)},
        {"dimension_names", names},
        {"attributes", {{"grove", grove_attributes}}}};
    GROVE_RETURN_IF_ERROR(write_file_atomically(array_directory / "zarr.json", array_json.dump(4)));
  }
  return open_zarr_writer(ImagePath{path.file, join_path(internal, "0")});
}

Result<std::vector<DatasetEntry>> list_zarr_datasets(const std::string& file) {
  std::error_code error;
  if (!fs::is_directory(file, error))
    return make_error(ErrorCode::kNotFound, "{}: no such Zarr store (a directory)", file);
  std::vector<std::string> arrays;
  collect_arrays(file, "", 0, arrays);
  std::vector<DatasetEntry> entries;
  for (const std::string& array : arrays) {
    auto opened = open_array(ImagePath{file, array});
    if (!opened.ok()) continue;
    entries.push_back({array, opened->info.shape, opened->info.dtype, opened->info.axes,
                       opened->info.stored_shape, opened->info.compression});
  }
  return entries;
}

bool is_zarr_store(const std::string& directory) { return has_zarr_metadata(directory); }

}  // namespace grove
