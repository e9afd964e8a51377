// Throughput of the chunked stores against python zarr 2.13 (the peer, run in the same run by
// bench/chunked_io_peer.py): a 128 x 512 x 512 uint16 volume in 64³ chunks, written whole and
// read whole, as Zarr v2 (blosc lz4, python zarr's default) and as N5 (gzip, N5's default), one
// thread on both sides. Prints seconds and the ratio peer / grove (> 1: grove is faster).
//
//   build/bin/chunked_io_bench [--threads N] [--format zarr|n5]
//   (N > 1 also times grove writing and reading 64³ blocks from N threads)
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "grove/core/blocking.h"
#include "grove/io/n5.h"
#include "grove/io/zarr.h"

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string run(const std::string& command) {
  std::string output;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return output;
  char buffer[4096];
  while (size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) output.append(buffer, n);
  ::pclose(pipe);
  return output;
}

// A smooth volume with noise: compresses like microscopy data, not like zeros.
grove::AnyArray make_volume(const grove::Shape5& shape) {
  grove::AnyArray volume = grove::AnyArray::allocate(grove::DType::u16, shape).value();
  uint16_t* data = static_cast<uint16_t*>(volume.raw_data());
  uint32_t noise = 12345;
  int64_t i = 0;
  for (int64_t z = 0; z < shape.z(); ++z)
    for (int64_t y = 0; y < shape.y(); ++y)
      for (int64_t x = 0; x < shape.x(); ++x) {
        noise = noise * 1664525u + 1013904223u;
        data[i++] =
            static_cast<uint16_t>(1000 + 300 * ((x / 37 + y / 23 + z / 11) % 5) + (noise >> 28));
      }
  return volume;
}

void check(const grove::Status& status, const char* what) {
  if (!status.ok()) {
    std::fprintf(stderr, "%s: %s\n", what, status.error().to_string().c_str());
    std::exit(1);
  }
}

struct Timing {
  double write = 0, read = 0;
};

Timing time_grove(const std::string& kind, const std::string& file, const grove::AnyArray& volume,
                  int threads) {
  grove::WriteOptions options;
  options.chunk_shape = {1, 64, 64, 64, 1};
  options.axes = "zyx";
  options.compression = kind == "n5" ? "gzip" : "blosc";
  const grove::ImagePath path{file, kind == "n5" ? "volume" : ""};
  auto writer = kind == "n5" ? grove::create_n5(path, volume.shape(), volume.dtype(), options)
                             : grove::create_zarr(path, volume.shape(), volume.dtype(), options);
  check(writer.ok() ? grove::ok_status() : grove::Status(writer.error()), "create");
  const grove::Box5 all = grove::Box5::of(volume.shape());
  Timing timing;
  auto start = Clock::now();
  if (threads <= 1) {
    check((*writer)->write(all, volume), "write");
  } else {
    const auto blocks = grove::Blocking{all, {1, 64, 64, 64, 1}}.blocks();
    std::atomic<size_t> next{0};
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&] {
        for (size_t i = next++; i < blocks.size(); i = next++)
          check((*writer)->write(blocks[i], volume.crop(blocks[i])), "write");
      });
    }
    for (auto& thread : pool) thread.join();
  }
  check((*writer)->commit(), "commit");
  timing.write = seconds_since(start);
  auto reader = kind == "n5" ? grove::open_n5(path) : grove::open_zarr(path);
  check(reader.ok() ? grove::ok_status() : grove::Status(reader.error()), "open");
  start = Clock::now();
  if (threads <= 1) {
    auto read = (*reader)->read_all();
    check(read.ok() ? grove::ok_status() : grove::Status(read.error()), "read");
  } else {
    const auto blocks = grove::Blocking{all, {1, 64, 64, 64, 1}}.blocks();
    std::atomic<size_t> next{0};
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&] {
        for (size_t i = next++; i < blocks.size(); i = next++) {
          auto read = (*reader)->read(blocks[i]);
          check(read.ok() ? grove::ok_status() : grove::Status(read.error()), "read");
        }
      });
    }
    for (auto& thread : pool) thread.join();
  }
  timing.read = seconds_since(start);
  return timing;
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 1;
  std::vector<std::string> kinds = {"zarr", "n5"};
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--threads") threads = std::max(1, std::atoi(argv[i + 1]));
    if (flag == "--format") kinds = {argv[i + 1]};
  }
  const std::filesystem::path directory = std::filesystem::temp_directory_path() /
                                          ("grove_chunked_bench_" + std::to_string(::getpid()));
  std::filesystem::create_directories(directory);
  const grove::Shape5 shape{1, 128, 512, 512, 1};
  const grove::AnyArray volume = make_volume(shape);
  const std::string peer = std::string(GROVE_SOURCE_DIR) + "/bench/chunked_io_peer.py";
  std::printf("chunked stores, %s uint16 (%.0f MiB), 64^3 chunks, peer: python zarr %s\n",
              shape.to_string().c_str(), static_cast<double>(volume.bytes()) / (1 << 20),
              run("/usr/bin/python3 -c 'import zarr; print(zarr.__version__, end=\"\")'").c_str());
  for (const std::string& kind : kinds) {
    const std::string grove_file = (directory / ("grove." + kind)).string();
    const Timing grove = time_grove(kind, grove_file, volume, 1);
    const std::string output =
        run("/usr/bin/python3 " + peer + " " + kind + " " + grove_file + " " +
            (kind == "n5" ? "volume" : "0") + " " + (directory / ("peer." + kind)).string());
    const nlohmann::json measured = nlohmann::json::parse(output, nullptr, false);
    if (measured.is_discarded()) {
      std::fprintf(stderr, "the python peer failed: %s\n", output.c_str());
      return 1;
    }
    const double peer_write = measured["write"], peer_read = measured["read"];
    std::printf(
        "%-4s (%s)  write: grove %.3f s, python %.3f s, ratio %.2fx   read: grove %.3f s, python "
        "%.3f s, ratio %.2fx\n",
        kind.c_str(), kind == "n5" ? "gzip" : "blosc-lz4", grove.write, peer_write,
        peer_write / grove.write, grove.read, peer_read, peer_read / grove.read);
    if (threads > 1) {
      std::filesystem::remove_all(grove_file);
      const Timing parallel = time_grove(kind, grove_file, volume, threads);
      std::printf(
          "%-4s grove with %d threads writing/reading 64^3 blocks: write %.3f s (%.2fx python), "
          "read %.3f s (%.2fx python)\n",
          kind.c_str(), threads, parallel.write, peer_write / parallel.write, parallel.read,
          peer_read / parallel.read);
    }
  }
  std::filesystem::remove_all(directory);
  return 0;
}
