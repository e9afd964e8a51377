// Fuzz target (libFuzzer, fuzz/README.md) for the feature SPEC strings of the command line
// (`--features`, feature_selection.h) and the feature-selection JSON of projects and the HTTP
// API. The input is a SPEC. A SPEC that parses must print back to a SPEC that parses to the same
// selection, survive a JSON round trip and give a channel layout.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "grove/filters/feature_selection.h"

namespace {

[[noreturn]] void broken_promise(const char* what) {
  std::fprintf(stderr, "fuzz: broken promise: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace grove::filters;
  const std::string_view spec(reinterpret_cast<const char*>(data), size);
  auto selection = parse_feature_spec(spec);
  if (!selection.ok()) {
    // The JSON reader gets the same bytes: it must refuse or accept, never crash.
    auto json = nlohmann::json::parse(spec, nullptr, /*allow_exceptions=*/false);
    if (!json.is_discarded()) (void)feature_selection_from_json(json);
    return 0;
  }
  if (!selection->validate().ok()) broken_promise("a parsed SPEC gives an invalid selection");
  auto again = parse_feature_spec(to_feature_spec(*selection));
  if (!again.ok() || !(*again == *selection)) broken_promise("SPEC round trip");
  auto from_json = feature_selection_from_json(nlohmann::json(*selection));
  if (!from_json.ok() || !(*from_json == *selection)) broken_promise("JSON round trip");
  for (bool volume : {false, true}) {
    const int64_t channels = feature_channel_count(*selection, 2, volume);
    if (static_cast<int64_t>(feature_channel_names(*selection, 2, volume).size()) != channels) {
      broken_promise("channel names do not match the channel count");
    }
  }
  return 0;
}
