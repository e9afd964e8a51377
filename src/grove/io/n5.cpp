// N5 datasets; see n5.h. Format facts: the N5 specification (saalfeldlab/n5 README) and what
// zarr's N5Store and z5 write.
#include "grove/io/n5.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>

#include "grove/io/chunk_store.h"
#include "grove/io/chunked_array.h"
#include "grove/io/codec.h"
#include "grove/io/metadata_json.h"

namespace grove {

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr const char* kN5Version = "2.0.0";
constexpr const char* kAttributes = "attributes.json";

struct N5Dataset {
  fs::path directory;
  std::vector<int64_t> shape;        // slowest first (N5's dimensions reversed)
  std::vector<int64_t> block_shape;  // slowest first
  DType dtype = DType::u8;
  Compression compression;
  json attributes;
};

Result<DType> parse_n5_dtype(const json& value, const std::string& where) {
  if (value.is_string()) {
    const std::string name = value.get<std::string>();
    static const char* kNames[] = {"uint8", "uint16", "uint32", "uint64",  "int8",
                                   "int16", "int32",  "int64",  "float32", "float64"};
    for (const char* n : kNames) {
      if (name == n) return *parse_dtype(name);
    }
  }
  return make_error(ErrorCode::kUnsupported, "{}: dataType {} is not supported", where,
                    value.dump());
}

Result<Compression> parse_n5_compression(const json& attributes, const std::string& where) {
  Compression c;
  json configuration;
  std::string type;
  if (attributes.contains("compression")) {
    configuration = attributes["compression"];
    if (!configuration.is_object() || !configuration.contains("type") ||
        !configuration["type"].is_string()) {
      return make_error(ErrorCode::kCorrupt, "{}: compression {} has no \"type\"", where,
                        configuration.dump());
    }
    type = configuration["type"].get<std::string>();
  } else if (attributes.contains("compressionType") && attributes["compressionType"].is_string()) {
    // N5 before 1.0: just a name.
    type = attributes["compressionType"].get<std::string>();
    configuration = json::object();
  } else {
    type = "raw";
    configuration = json::object();
  }
  auto integer = [&](const char* key) -> Result<int> {
    if (!configuration.contains(key) || configuration[key].is_null()) return -1;
    GROVE_ASSIGN_OR_RETURN(int64_t v, json_int(configuration[key], where, key));
    return static_cast<int>(std::clamp<int64_t>(v, -1, 22));
  };
  if (type == "raw") {
    c.compressor = Compressor::none;
  } else if (type == "gzip") {
    c.compressor =
        configuration.value("useZlib", json(false)) == true ? Compressor::zlib : Compressor::gzip;
    GROVE_ASSIGN_OR_RETURN(c.level, integer("level"));
  } else if (type == "zstd") {
    c.compressor = Compressor::zstd;
    GROVE_ASSIGN_OR_RETURN(c.level, integer("level"));
  } else if (type == "blosc") {
    c.compressor = Compressor::blosc;
    if (configuration.contains("cname") && configuration["cname"].is_string()) {
      c.blosc_inner = configuration["cname"].get<std::string>();
    }
    GROVE_ASSIGN_OR_RETURN(c.level, integer("clevel"));
    GROVE_ASSIGN_OR_RETURN(c.blosc_shuffle, integer("shuffle"));
  } else if (type == "bzip2") {
    c.compressor = Compressor::bzip2;
    GROVE_ASSIGN_OR_RETURN(c.level, integer("blockSize"));
  } else if (type == "xz") {
    c.compressor = Compressor::xz;
    GROVE_ASSIGN_OR_RETURN(c.level, integer("preset"));
  } else {
    return make_error(
        ErrorCode::kUnsupported,
        "{}: compression \"{}\" is not supported (grove reads raw, gzip, zstd, blosc, bzip2, xz)",
        where, type);
  }
  return c;
}

json n5_compression_json(const Compression& c) {
  const int level = c.level;
  switch (c.compressor) {
    case Compressor::none: return {{"type", "raw"}};
    case Compressor::gzip:
      return {{"type", "gzip"}, {"level", level < 0 ? 1 : level}, {"useZlib", false}};
    case Compressor::zlib:
      return {{"type", "gzip"}, {"level", level < 0 ? 1 : level}, {"useZlib", true}};
    case Compressor::zstd: return {{"type", "zstd"}, {"level", level < 0 ? 3 : level}};
    case Compressor::blosc:
      return {{"type", "blosc"},
              {"cname", c.blosc_inner},
              {"clevel", level < 0 ? 5 : level},
              {"shuffle", c.blosc_shuffle},
              {"blocksize", c.blosc_blocksize},
              {"nthreads", 1}};
    case Compressor::bzip2: return {{"type", "bzip2"}, {"blockSize", level < 1 ? 9 : level}};
    case Compressor::xz: return {{"type", "xz"}, {"preset", level < 0 ? 6 : level}};
  }
  return {{"type", "raw"}};
}

bool is_dataset_attributes(const json& attributes) {
  return attributes.is_object() && attributes.contains("dimensions") &&
         attributes.contains("dataType");
}

Result<N5Dataset> parse_dataset(const json& attributes, const fs::path& directory) {
  const std::string where = (directory / kAttributes).string();
  N5Dataset d;
  d.directory = directory;
  d.attributes = attributes;
  GROVE_ASSIGN_OR_RETURN(d.shape, json_int_list(attributes, "dimensions", where));
  GROVE_ASSIGN_OR_RETURN(d.block_shape, json_int_list(attributes, "blockSize", where));
  std::reverse(d.shape.begin(), d.shape.end());
  std::reverse(d.block_shape.begin(), d.block_shape.end());
  if (!attributes.contains("dataType"))
    return make_error(ErrorCode::kCorrupt, "{}: no dataType", where);
  GROVE_ASSIGN_OR_RETURN(d.dtype, parse_n5_dtype(attributes["dataType"], where));
  if (d.shape.empty())
    return make_error(ErrorCode::kUnsupported, "{}: a dataset without dimensions", where);
  GROVE_RETURN_IF_ERROR(validate_geometry(d.shape, d.block_shape, d.dtype, where));
  for (int64_t extent : d.block_shape) {
    if (extent > std::numeric_limits<uint32_t>::max()) {
      return make_error(ErrorCode::kCorrupt, "{}: block extent {} does not fit N5's 32-bit header",
                        where, extent);
    }
  }
  GROVE_ASSIGN_OR_RETURN(d.compression, parse_n5_compression(attributes, where));
  return d;
}

// A list attribute given in N5 order (x first), reversed to slowest first; empty if absent or of
// the wrong length.
std::vector<json> reversed_list(const json& attributes, const char* key, size_t rank) {
  if (!attributes.contains(key) || !attributes[key].is_array() || attributes[key].size() != rank)
    return {};
  std::vector<json> values(attributes[key].begin(), attributes[key].end());
  std::reverse(values.begin(), values.end());
  return values;
}

// Axis names slowest first: "axes" (N5 order), else ilastik's "axistags" (slowest first).
std::vector<std::string> axis_names_of(const json& attributes, size_t rank) {
  std::vector<std::string> names;
  for (const json& name : reversed_list(attributes, "axes", rank)) {
    names.push_back(name.is_string() ? name.get<std::string>() : "");
  }
  if (!names.empty()) return names;
  if (attributes.contains("axistags")) {
    json tags = attributes["axistags"];
    if (tags.is_string()) tags = json::parse(tags.get<std::string>(), nullptr, false);
    if (tags.is_object() && tags.contains("axes") && tags["axes"].is_array() &&
        tags["axes"].size() == rank) {
      for (const json& axis : tags["axes"]) {
        names.push_back(axis.is_object() && axis.contains("key") && axis["key"].is_string()
                            ? axis["key"].get<std::string>()
                            : "");
      }
    }
  }
  return names;
}

class N5Format : public ChunkedArrayFormat {
 public:
  N5Format(ChunkedArrayLayout layout, N5Dataset dataset, std::string display)
      : ChunkedArrayFormat(std::move(layout)),
        dataset_(std::move(dataset)),
        store_(dataset_.directory),
        display_(std::move(display)) {}

  Result<std::optional<ChunkBuffer>> read_chunk(
      std::span<const int64_t> grid_index) const override {
    const ChunkedArrayLayout& l = layout();
    const int rank = l.rank();
    const size_t element_size = dtype_size(l.dtype);
    int64_t full = static_cast<int64_t>(element_size);
    for (int64_t extent : l.chunk_shape) full *= extent;
    const int64_t header_limit = 8 + 4 * static_cast<int64_t>(rank);
    GROVE_ASSIGN_OR_RETURN(
        auto stored, store_.read(key(grid_index), header_limit + full + full / 16 + (1 << 20)));
    if (!stored) return std::optional<ChunkBuffer>();
    const std::vector<uint8_t>& bytes = *stored;
    auto u16 = [&](size_t at) { return static_cast<uint32_t>(bytes[at]) << 8 | bytes[at + 1]; };
    auto u32 = [&](size_t at) {
      return static_cast<uint32_t>(bytes[at]) << 24 | static_cast<uint32_t>(bytes[at + 1]) << 16 |
             static_cast<uint32_t>(bytes[at + 2]) << 8 | bytes[at + 3];
    };
    if (bytes.size() < 4)
      return make_error(ErrorCode::kCorrupt, "block of {} bytes has no header", bytes.size());
    const uint32_t mode = u16(0), dimensions = u16(2);
    if (mode == 2)
      return make_error(ErrorCode::kUnsupported, "N5 object blocks (mode 2) hold no image data");
    if (mode > 2) return make_error(ErrorCode::kCorrupt, "block header has unknown mode {}", mode);
    if (static_cast<int>(dimensions) != rank) {
      return make_error(ErrorCode::kCorrupt, "block header has {} dimensions, the dataset {}",
                        dimensions, rank);
    }
    size_t offset = 4 + 4 * static_cast<size_t>(rank) + (mode == 1 ? 4 : 0);
    if (bytes.size() < offset)
      return make_error(ErrorCode::kCorrupt, "block is shorter than its header");
    std::vector<int64_t> extents(rank);
    int64_t count = 1;
    for (int d = 0; d < rank; ++d) {
      // The header lists x first.
      extents[rank - 1 - d] = u32(4 + 4 * static_cast<size_t>(d));
    }
    for (int d = 0; d < rank; ++d) {
      if (extents[d] > l.chunk_shape[d]) {
        return make_error(ErrorCode::kCorrupt, "block header extent {} exceeds the block size {}",
                          extents[d], l.chunk_shape[d]);
      }
      count *= extents[d];
    }
    if (mode == 1 && u32(4 + 4 * static_cast<size_t>(rank)) != count) {
      return make_error(ErrorCode::kUnsupported,
                        "varlength block with {} elements for a block of {}",
                        u32(4 + 4 * static_cast<size_t>(rank)), count);
    }
    GROVE_ASSIGN_OR_RETURN(ChunkBuffer chunk,
                           make_chunk_buffer(extents, identity_order(rank), element_size));
    GROVE_RETURN_IF_ERROR(
        decompress(dataset_.compression.compressor,
                   std::span<const uint8_t>(bytes.data() + offset, bytes.size() - offset),
                   std::span<uint8_t>(chunk.data.get(), static_cast<size_t>(chunk.bytes))));
    swap_bytes(chunk.data.get(), count, element_size);
    return std::optional<ChunkBuffer>(std::move(chunk));
  }

  Result<ChunkBuffer> new_chunk(std::span<const int64_t> grid_index) const override {
    const ChunkedArrayLayout& l = layout();
    std::vector<int64_t> extents(l.rank());
    for (int d = 0; d < l.rank(); ++d) {
      extents[d] = std::min(l.chunk_shape[d], l.shape[d] - grid_index[d] * l.chunk_shape[d]);
    }
    return make_chunk_buffer(extents, identity_order(l.rank()), dtype_size(l.dtype));
  }

  Status write_chunk(std::span<const int64_t> grid_index, ChunkBuffer& chunk) const override {
    const ChunkedArrayLayout& l = layout();
    const int rank = l.rank();
    const size_t element_size = dtype_size(l.dtype);
    swap_bytes(chunk.data.get(), chunk.bytes / static_cast<int64_t>(element_size), element_size);
    std::vector<uint8_t> block;
    block.reserve(4 + 4 * static_cast<size_t>(rank));
    auto put16 = [&](uint32_t v) {
      block.push_back(static_cast<uint8_t>(v >> 8));
      block.push_back(static_cast<uint8_t>(v));
    };
    auto put32 = [&](uint32_t v) {
      for (int shift = 24; shift >= 0; shift -= 8)
        block.push_back(static_cast<uint8_t>(v >> shift));
    };
    put16(0);
    put16(static_cast<uint32_t>(rank));
    for (int d = rank - 1; d >= 0; --d) put32(static_cast<uint32_t>(chunk.extents[d]));
    const std::span<const uint8_t> raw(chunk.data.get(), static_cast<size_t>(chunk.bytes));
    if (dataset_.compression.compressor == Compressor::none) {
      block.insert(block.end(), raw.begin(), raw.end());
    } else {
      GROVE_ASSIGN_OR_RETURN(std::vector<uint8_t> compressed,
                             compress(dataset_.compression, raw, element_size));
      block.insert(block.end(), compressed.begin(), compressed.end());
    }
    return store_.write(key(grid_index), block);
  }

  bool chunk_exists(std::span<const int64_t> grid_index) const override {
    return store_.exists(key(grid_index));
  }

  std::string chunk_name(std::span<const int64_t> grid_index) const override {
    return display_ + "/" + key(grid_index);
  }

  Status commit() const override { return set_complete(dataset_.directory, true); }

  static Status set_complete(const fs::path& directory, bool complete) {
    GROVE_ASSIGN_OR_RETURN(json attributes, read_json(directory / kAttributes));
    attributes["grove"]["complete"] = complete;
    return write_file_atomically(directory / kAttributes, attributes.dump(4));
  }

  static std::vector<int> identity_order(int rank) {
    std::vector<int> order(rank);
    for (int d = 0; d < rank; ++d) order[d] = d;
    return order;
  }

 private:
  std::string key(std::span<const int64_t> grid_index) const {
    std::string out;
    for (size_t d = grid_index.size(); d-- > 0;) {
      if (!out.empty()) out += '/';
      out += std::to_string(grid_index[d]);
    }
    return out;
  }

  N5Dataset dataset_;
  DirectoryStore store_;
  std::string display_;
};

// ---- the hierarchy ----

json attributes_at(const fs::path& directory) {
  auto attributes = read_json(directory / kAttributes);
  if (attributes.ok() && attributes->is_object()) return *attributes;
  return json::object();
}

std::string join_path(const std::string& a, const std::string& b) {
  if (a.empty()) return b;
  if (b.empty()) return a;
  return a + "/" + b;
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
    if (!part.empty() && part != ".") out = join_path(out, part);
    start = slash + 1;
  }
  return out;
}

void collect_datasets(const fs::path& root, const std::string& start, int depth,
                      std::vector<std::string>& out) {
  if (depth > 16 || out.size() > 100000) return;
  std::error_code error;
  if (!fs::is_directory(root / start, error)) return;
  if (is_dataset_attributes(attributes_at(root / start))) {
    out.push_back(start);
    return;
  }
  std::vector<std::string> children;
  for (fs::directory_iterator it(root / start, error), end; !error && it != end;
       it.increment(error)) {
    const std::string name = it->path().filename().string();
    if (name.empty() || name[0] == '.') continue;
    if (it->is_directory(error)) children.push_back(name);
  }
  std::sort(children.begin(), children.end());
  for (const std::string& child : children)
    collect_datasets(root, join_path(start, child), depth + 1, out);
}

Result<std::string> resolve_dataset(const fs::path& root, const std::string& internal) {
  const fs::path directory = root / internal;
  const std::string shown = internal.empty() ? root.string() : directory.string();
  std::error_code error;
  if (!fs::is_directory(directory, error))
    return make_error(ErrorCode::kNotFound, "{}: no such N5 dataset or group", shown);
  if (is_dataset_attributes(attributes_at(directory))) return internal;
  // A multiscale group (n5-viewer, BigDataViewer) keeps its full resolution in "s0".
  if (is_dataset_attributes(attributes_at(directory / "s0"))) return join_path(internal, "s0");
  std::vector<std::string> datasets;
  collect_datasets(root, internal, 0, datasets);
  if (datasets.size() == 1) return datasets[0];
  if (datasets.empty())
    return make_error(ErrorCode::kNotFound, "{}: the N5 group holds no dataset", shown);
  std::string names;
  for (size_t i = 0; i < datasets.size() && i < 10; ++i) names += (i ? ", " : "") + datasets[i];
  if (datasets.size() > 10) names += ", ...";
  return make_error(ErrorCode::kInvalidArgument,
                    "{}: the N5 group holds {} datasets ({}); name one, as in {}/{}", shown,
                    datasets.size(), names, root.string(), datasets[0]);
}

struct OpenedDataset {
  ImageInfo info;
  std::shared_ptr<const N5Format> format;
  N5Dataset dataset;
};

Result<OpenedDataset> open_dataset(const ImagePath& path) {
  const fs::path root = path.file;
  std::error_code error;
  if (!fs::is_directory(root, error)) {
    return make_error(ErrorCode::kNotFound, "{}: no such N5 container (a directory)", path.file);
  }
  GROVE_ASSIGN_OR_RETURN(std::string internal, normalize_internal(path.internal));
  GROVE_ASSIGN_OR_RETURN(std::string dataset_path, resolve_dataset(root, internal));
  const fs::path directory = root / dataset_path;
  const std::string display = dataset_path.empty() ? root.string() : directory.string();
  GROVE_ASSIGN_OR_RETURN(json attributes, read_json(directory / kAttributes));
  GROVE_ASSIGN_OR_RETURN(N5Dataset dataset, parse_dataset(attributes, directory));
  const size_t rank = dataset.shape.size();

  std::vector<std::string> names = axis_names_of(attributes, rank);
  std::vector<int> axes;
  if (!names.empty()) {
    auto mapped = map_axis_names(names, dataset.shape, display);
    if (mapped.ok()) axes = std::move(*mapped);
  }
  if (axes.empty()) {
    GROVE_ASSIGN_OR_RETURN(names, default_axis_names(dataset.shape, display));
    GROVE_ASSIGN_OR_RETURN(axes, map_axis_names(names, dataset.shape, display));
  }

  ChunkedArrayLayout layout;
  layout.shape = dataset.shape;
  layout.chunk_shape = dataset.block_shape;
  layout.dtype = dataset.dtype;
  layout.axis_of_dimension = axes;
  if (!layout.shape5().valid())
    return make_error(ErrorCode::kCorrupt, "{}: the shape overflows", display);

  ImageInfo info;
  info.shape = layout.shape5();
  info.chunk_shape = layout.chunk_shape5();
  info.dtype = layout.dtype;
  info.axes = axes_string(axes);
  info.stored_shape = dataset.shape;
  info.internal_path = dataset_path;
  info.format = "n5";
  info.compression = compression_name(dataset.compression);

  // Pixel size: "resolution" + "units", or the older "pixelResolution".
  std::vector<json> resolution = reversed_list(attributes, "resolution", rank);
  std::vector<json> units = reversed_list(attributes, "units", rank);
  std::string common_unit;
  if (resolution.empty() && attributes.contains("pixelResolution") &&
      attributes["pixelResolution"].is_object()) {
    resolution = reversed_list(attributes["pixelResolution"], "dimensions", rank);
    const json unit = attributes["pixelResolution"].value("unit", json());
    if (unit.is_string()) common_unit = unit.get<std::string>();
  }
  if (!resolution.empty()) {
    for (size_t d = 0; d < rank; ++d) {
      const int axis = axes[d];
      if (axis < 0 || axis == kC || !resolution[d].is_number()) continue;
      const double value = resolution[d].get<double>();
      if (!(value > 0) || !std::isfinite(value)) continue;
      info.pixel_size[axis] = value;
      info.pixel_unit[axis] =
          !units.empty() && units[d].is_string() ? units[d].get<std::string>() : common_unit;
      info.has_pixel_size = true;
    }
  }
  auto format = std::make_shared<const N5Format>(std::move(layout), dataset, display);
  return OpenedDataset{std::move(info), std::move(format), std::move(dataset)};
}

// Makes the root and groups on the way, each with an attributes.json (the root's with the N5
// version, which also lets zarr's N5Store see the groups).
Status ensure_groups(const fs::path& root, const std::string& internal) {
  std::vector<std::string> levels{""};
  std::string path;
  for (size_t start = 0; start < internal.size();) {
    size_t slash = internal.find('/', start);
    if (slash == std::string::npos) slash = internal.size();
    path = join_path(path, internal.substr(start, slash - start));
    levels.push_back(path);
    start = slash + 1;
  }
  levels.pop_back();
  for (const std::string& level : levels) {
    const fs::path directory = root / level;
    GROVE_RETURN_IF_ERROR(make_directories(directory));
    json attributes = attributes_at(directory);
    if (is_dataset_attributes(attributes)) {
      return make_error(ErrorCode::kAlreadyExists, "{} is an N5 dataset, so it cannot hold {}",
                        directory.string(), internal);
    }
    if (attributes.contains("n5")) continue;
    attributes["n5"] = kN5Version;
    GROVE_RETURN_IF_ERROR(write_file_atomically(directory / kAttributes, attributes.dump(4)));
  }
  return ok_status();
}

}  // namespace

Result<std::unique_ptr<ImageReader>> open_n5(const ImagePath& path) {
  GROVE_ASSIGN_OR_RETURN(OpenedDataset opened, open_dataset(path));
  return std::unique_ptr<ImageReader>(
      std::make_unique<ChunkedImageReader>(std::move(opened.info), std::move(opened.format)));
}

Result<std::unique_ptr<ImageWriter>> open_n5_writer(const ImagePath& path) {
  GROVE_ASSIGN_OR_RETURN(OpenedDataset opened, open_dataset(path));
  return std::unique_ptr<ImageWriter>(
      std::make_unique<ChunkedImageWriter>(std::move(opened.format)));
}

Result<bool> n5_is_complete(const ImagePath& path) {
  GROVE_ASSIGN_OR_RETURN(OpenedDataset opened, open_dataset(path));
  const json grove = opened.dataset.attributes.value("grove", json());
  return grove.is_object() && grove.value("complete", json(false)) == true;
}

Result<std::unique_ptr<ImageWriter>> create_n5(const ImagePath& path, const Shape5& shape,
                                               DType dtype, const WriteOptions& options) {
  const fs::path root = path.file;
  const std::string shown = path.internal.empty() ? path.file : path.file + "/" + path.internal;
  if (!shape.valid())
    return make_error(ErrorCode::kInvalidArgument, "{}: invalid shape {}", shown,
                      shape.to_string());
  // N5 has no bool: store 0/1 bytes.
  const DType stored_dtype = dtype == DType::boolean ? DType::u8 : dtype;
  GROVE_ASSIGN_OR_RETURN(std::string internal, normalize_internal(path.internal));
  GROVE_ASSIGN_OR_RETURN(std::string axes, choose_storage_axes(options.axes, shape, false));
  Compression default_compression;
  default_compression.compressor = Compressor::gzip;
  GROVE_ASSIGN_OR_RETURN(
      Compression compression,
      parse_compression(options.compression, options.compression_level, default_compression));
  const Shape5 chunk5 = choose_chunk_shape(options.chunk_shape, shape, stored_dtype);
  // Slowest first here; N5 lists them reversed.
  std::vector<int64_t> dimensions, block_size;
  std::vector<std::string> names;
  json axistags = json::array();
  std::vector<double> resolution;
  std::vector<std::string> units;
  for (char letter : axes) {
    const int axis = static_cast<int>(std::strchr(kAxisNames, letter) - kAxisNames);
    dimensions.push_back(shape[axis]);
    block_size.push_back(chunk5[axis]);
    names.emplace_back(1, letter);
    const bool spatial = letter != 'c';
    resolution.push_back(spatial && options.has_pixel_size ? options.pixel_size[axis] : 1.0);
    units.push_back(spatial && options.has_pixel_size ? options.pixel_unit[axis] : "");
    axistags.push_back(
        {{"key", std::string(1, letter)},
         {"typeFlags", letter == 'c'   ? 1
                       : letter == 't' ? 8
                                       : 2},
         {"resolution", spatial && options.has_pixel_size ? options.pixel_size[axis] : 0.0},
         {"description", ""}});
  }
  GROVE_RETURN_IF_ERROR(validate_geometry(dimensions, block_size, stored_dtype, shown));
  std::reverse(dimensions.begin(), dimensions.end());
  std::reverse(block_size.begin(), block_size.end());
  std::reverse(names.begin(), names.end());
  std::reverse(resolution.begin(), resolution.end());
  std::reverse(units.begin(), units.end());

  const fs::path directory = root / internal;
  std::error_code error;
  if (fs::exists(directory, error)) {
    const bool empty_directory =
        fs::is_directory(directory, error) && fs::is_empty(directory, error);
    if (!empty_directory) {
      if (!options.overwrite) {
        return make_error(ErrorCode::kAlreadyExists, "{} exists (overwrite it with --overwrite)",
                          shown);
      }
      if (!fs::is_regular_file(directory / kAttributes, error)) {
        return make_error(ErrorCode::kAlreadyExists,
                          "{} exists and is no N5 dataset or group: grove will not replace it",
                          shown);
      }
      fs::remove_all(directory, error);
      if (error) return make_error(ErrorCode::kIo, "cannot remove {}: {}", shown, error.message());
    }
  }
  if (!internal.empty()) GROVE_RETURN_IF_ERROR(ensure_groups(root, internal));
  GROVE_RETURN_IF_ERROR(make_directories(directory));
  json attributes = {{"dimensions", dimensions},
                     {"blockSize", block_size},
                     {"dataType", std::string(dtype_name(stored_dtype))},
                     {"compression", n5_compression_json(compression)},
                     {"axes", names},
                     {"grove", {{"complete", false}}}};
  if (internal.empty()) attributes["n5"] = kN5Version;
  if (options.has_pixel_size) {
    attributes["resolution"] = resolution;
    attributes["units"] = units;
  }
  if (options.ilastik_axistags) attributes["axistags"] = json({{"axes", axistags}}).dump();
  GROVE_RETURN_IF_ERROR(write_file_atomically(directory / kAttributes, attributes.dump(4)));
  return open_n5_writer(ImagePath{path.file, internal});
}

Result<std::vector<DatasetEntry>> list_n5_datasets(const std::string& file) {
  std::error_code error;
  if (!fs::is_directory(file, error))
    return make_error(ErrorCode::kNotFound, "{}: no such N5 container (a directory)", file);
  std::vector<std::string> datasets;
  collect_datasets(file, "", 0, datasets);
  std::vector<DatasetEntry> entries;
  for (const std::string& dataset : datasets) {
    auto opened = open_dataset(ImagePath{file, dataset});
    if (!opened.ok()) continue;
    entries.push_back({dataset, opened->info.shape, opened->info.dtype, opened->info.axes,
                       opened->info.stored_shape, opened->info.compression});
  }
  return entries;
}

bool is_n5_container(const std::string& directory) {
  const json attributes = attributes_at(fs::path(directory));
  return attributes.contains("n5") || is_dataset_attributes(attributes);
}

}  // namespace grove
