#include "grove/filters/pixel_features.h"

#include <algorithm>
#include <cstdint>

#if defined(__AVX__)
#include <immintrin.h>
#endif

#include "grove/filters/feature_pipeline.h"

namespace grove::filters {

namespace {

Region3 spatial_region(const Box5& box) {
  return {{box.begin[kZ], box.begin[kY], box.begin[kX]}, {box.end[kZ], box.end[kY], box.end[kX]}};
}

// Converts channel c of time point t of `in` (covering in_box) into a float volume over the
// spatial part of in_box.
template <class T>
void convert_channel(const View<const T>& in, int64_t t, int64_t c, FloatVolume& volume) {
  const Region3& r = volume.region();
  const int64_t width = r.extent(2);
  const int64_t x_stride = in.strides()[kX];
  for (int64_t z = 0; z < r.extent(0); ++z) {
    for (int64_t y = 0; y < r.extent(1); ++y) {
      const T* source = &in(t, z, y, 0, c);
      float* target = volume.row(r.begin[0] + z, r.begin[1] + y);
      for (int64_t x = 0; x < width; ++x) target[x] = static_cast<float>(source[x * x_stride]);
    }
  }
}

// Copies n floats to memory nobody will read soon (the pixel-major output, far larger than the
// caches): with streaming stores, which skip reading the target lines first.
void stream_copy(float* target, const float* source, int64_t n) {
  int64_t i = 0;
#if defined(__AVX__)
  for (; i < n && (reinterpret_cast<uintptr_t>(target + i) & 31) != 0; ++i) target[i] = source[i];
  for (; i + 8 <= n; i += 8) _mm256_stream_ps(target + i, _mm256_loadu_ps(source + i));
#endif
  for (; i < n; ++i) target[i] = source[i];
}

#if defined(__AVX__)
// Transposes 8 rows of 8 floats in place: afterwards r[j][i] is the former r[i][j].
inline void transpose_8x8(__m256* r) {
  const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  const __m256 s0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 s1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 s2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 s3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 s4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 s5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 s6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 s7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
  r[0] = _mm256_permute2f128_ps(s0, s4, 0x20);
  r[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
  r[2] = _mm256_permute2f128_ps(s2, s6, 0x20);
  r[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
  r[4] = _mm256_permute2f128_ps(s0, s4, 0x31);
  r[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
  r[6] = _mm256_permute2f128_ps(s2, s6, 0x31);
  r[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}
#endif

// Writes planar results into the pixel-major output of time point t: planes[k] (may be empty) goes
// to channel k. Chunks of a row are interleaved in a small buffer that stays in L1, then written
// out in one go, so every output cache line is written once instead of once per channel.
void interleave_channels(const std::vector<FloatVolume>& planes, const Region3& region,
                         const View<float>& out, int64_t t) {
  constexpr int64_t kChunk = 64;
  const int64_t width = region.extent(2);
  const int64_t channels = static_cast<int64_t>(planes.size());
  const int64_t x_stride = out.strides()[kX];
  const int64_t c_stride = out.strides()[kC];
  const bool dense_rows = c_stride == 1 && x_stride == channels;
  std::vector<float> staging(static_cast<size_t>(kChunk * channels));
  std::vector<const float*> rows(planes.size());
  for (int64_t z = 0; z < region.extent(0); ++z) {
    for (int64_t y = 0; y < region.extent(1); ++y) {
      for (size_t k = 0; k < planes.size(); ++k) {
        rows[k] = planes[k].data() == nullptr
                      ? nullptr
                      : planes[k].row(region.begin[0] + z, region.begin[1] + y);
      }
      float* target_row = &out(t, z, y, 0, 0);
      for (int64_t x0 = 0; x0 < width; x0 += kChunk) {
        const int64_t n = std::min(width, x0 + kChunk) - x0;
        int64_t k = 0;
#if defined(__AVX__)
        // Eight channels by eight pixels at a time, transposed in registers.
        for (; k + 8 <= channels; k += 8) {
          bool complete = true;
          for (int i = 0; i < 8; ++i) complete &= rows[static_cast<size_t>(k + i)] != nullptr;
          if (!complete) break;
          int64_t x = 0;
          for (; x + 8 <= n; x += 8) {
            __m256 r[8];
            for (int i = 0; i < 8; ++i)
              r[i] = _mm256_loadu_ps(rows[static_cast<size_t>(k + i)] + x0 + x);
            transpose_8x8(r);
            for (int j = 0; j < 8; ++j)
              _mm256_storeu_ps(&staging[static_cast<size_t>((x + j) * channels + k)], r[j]);
          }
          for (; x < n; ++x) {
            for (int i = 0; i < 8; ++i) {
              staging[static_cast<size_t>(x * channels + k + i)] =
                  rows[static_cast<size_t>(k + i)][x0 + x];
            }
          }
        }
#endif
        for (; k < channels; ++k) {
          const float* source = rows[static_cast<size_t>(k)];
          if (source == nullptr) continue;
          for (int64_t x = 0; x < n; ++x)
            staging[static_cast<size_t>(x * channels + k)] = source[x0 + x];
        }
        if (dense_rows) {
          stream_copy(target_row + x0 * channels, staging.data(), n * channels);
          continue;
        }
        for (int64_t x = 0; x < n; ++x) {
          for (int64_t k = 0; k < channels; ++k) {
            if (rows[static_cast<size_t>(k)] == nullptr) continue;
            target_row[(x0 + x) * x_stride + k * c_stride] =
                staging[static_cast<size_t>(x * channels + k)];
          }
        }
      }
    }
  }
#if defined(__AVX__)
  _mm_sfence();  // streaming stores are visible to other threads once this thread's work is done
#endif
}

}  // namespace

void to_json(nlohmann::json& json, const PixelFeatures& params) {
  json = nlohmann::json{{"selection", params.selection}};
}

void from_json(const nlohmann::json& json, PixelFeatures& params) {
  params.selection = json.at("selection").get<FeatureSelection>();
}

Shape5 pixel_features_halo(const FeatureSelection& selection, bool volume_is_3d) {
  Shape5 halo = Shape5::filled(0);
  for (size_t s = 0; s < selection.scales.size(); ++s) {
    if (!selection.scale_used(s)) continue;
    const int total = scale_halo(selection.scales[s], selection.selected[s]).total();
    halo[kY] = std::max<int64_t>(halo[kY], total);
    halo[kX] = std::max<int64_t>(halo[kX], total);
    if (scale_spatial_rank(selection, s, volume_is_3d) == 3)
      halo[kZ] = std::max<int64_t>(halo[kZ], total);
  }
  return halo;
}

std::optional<Shape5> block_hint(const PixelFeatures& params, const ArrayInfo& input) {
  const int64_t channels =
      feature_channel_count(params.selection, input.shape.c(), input.shape.z() > 1);
  // 3D: 64 x 64 x 128 costs the same CPU time as 128 x 64 x 128 with all features (measured on a
  // 128 x 256 x 256 volume, 2 threads) and 40% less peak memory (0.83 instead of 1.39 GB).
  if (input.shape.z() > 1) return Shape5(1, 64, 64, 128, channels);
  return Shape5(1, 1, 256, 512, channels);
}

int64_t scratch_bytes(const PixelFeatures& params, const Box5& out_box, const ArrayInfo& input) {
  const Box5 in_box = input_box(params, out_box, input).intersect(Box5::of(input.shape));
  // Up to about 24 float volumes of the input box are alive at once within one scale.
  constexpr int64_t kIntermediateVolumes = 24;
  const int64_t per_time_point = out_box.shape().size() / std::max<int64_t>(out_box.shape().t(), 1);
  return static_cast<int64_t>(sizeof(float)) *
         (per_time_point + kIntermediateVolumes * in_box.shape().pixels() /
                               std::max<int64_t>(in_box.shape().t(), 1));
}

Result<ArrayInfo> infer(const PixelFeatures& params, const ArrayInfo& input) {
  GROVE_RETURN_IF_ERROR(params.selection.validate());
  if (params.selection.empty()) {
    return make_error(ErrorCode::kInvalidArgument, "pixel features: no feature is selected");
  }
  if (!input.shape.valid() || input.shape.c() < 1) {
    return make_error(ErrorCode::kInvalidArgument, "pixel features: invalid input shape {}",
                      input.shape.to_string());
  }
  Shape5 shape = input.shape;
  shape[kC] = feature_channel_count(params.selection, input.shape.c(), input.shape.z() > 1);
  return ArrayInfo{shape, DType::f32};
}

Box5 input_box(const PixelFeatures& params, const Box5& out_box, const ArrayInfo& input) {
  const Shape5 halo = pixel_features_halo(params.selection, input.shape.z() > 1);
  Box5 box = out_box;
  for (int a : {kZ, kY, kX}) {
    box.begin[a] -= halo[a];
    box.end[a] += halo[a];
  }
  // Channels: every input channel (the output's channels interleave them).
  box.begin[kC] = 0;
  box.end[kC] = input.shape.c();
  return box;
}

Status compute(const PixelFeatures& params, const AnyArray& in, const Box5& in_box,
               const AnyArray& out, const Box5& out_box) {
  const FeatureSelection& selection = params.selection;
  GROVE_RETURN_IF_ERROR(selection.validate());
  if (out.dtype() != DType::f32) {
    return make_error(ErrorCode::kInvalidArgument, "pixel features: output must be float32, not {}",
                      dtype_name(out.dtype()));
  }
  if (in.shape() != in_box.shape() || out.shape() != out_box.shape()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "pixel features: array shapes {} and {} do not match boxes {} and {}",
                      in.shape().to_string(), out.shape().to_string(), in_box.to_string(),
                      out_box.to_string());
  }
  if (out_box.empty()) return ok_status();
  // The input box holds the z halo of every scale computed in 3D (at least one slice beyond the
  // output where the image has one), so a z extent above 1 means the image is a volume. Without
  // such scales the answer does not matter: every scale is computed in 2D.
  const bool volume_is_3d = in_box.shape()[kZ] > 1;
  const int64_t input_channels = in_box.end[kC];
  const std::vector<FeatureItem> layout = feature_layout(selection, input_channels, volume_is_3d);
  const int64_t channel_begin = out_box.begin[kC], channel_end = out_box.end[kC];
  if (channel_end > feature_channel_count(selection, input_channels, volume_is_3d) ||
      in_box.begin[kC] != 0) {
    return make_error(
        ErrorCode::kOutOfRange,
        "pixel features: output channels {}..{} need input channels 0..{}, got box {}",
        channel_begin, channel_end, input_channels, in_box.to_string());
  }
  const Box5 wanted = input_box(params, out_box, ArrayInfo{in_box.end, in.dtype()});
  for (int a : {kT, kZ, kY, kX}) {
    if (in_box.begin[a] > out_box.begin[a] || in_box.end[a] < out_box.end[a] ||
        in_box.begin[a] < wanted.begin[a] || in_box.end[a] > wanted.end[a]) {
      return make_error(
          ErrorCode::kOutOfRange,
          "pixel features: input box {} is not the clipped input box of output box {}",
          in_box.to_string(), out_box.to_string());
    }
  }

  const Region3 bounds = spatial_region(in_box);
  const Region3 out_region = spatial_region(out_box);
  const View<float> out_view = out.view<float>();
  ScaleFeatureResult result;
  // The results of one time point, by output channel (minus channel_begin).
  std::vector<FloatVolume> planes(static_cast<size_t>(channel_end - channel_begin));

  for (int64_t t = out_box.begin[kT]; t < out_box.end[kT]; ++t) {
    for (int64_t c = 0; c < input_channels; ++c) {
      // Which families of which scales have channels of this input channel in the output box.
      std::vector<ScaleFeatureRequest> requests(selection.scales.size());
      bool any = false;
      for (const FeatureItem& item : layout) {
        const int64_t first = item.first_channel + c * item.components;
        if (first + item.components <= channel_begin || first >= channel_end) continue;
        ScaleFeatureRequest& request = requests[item.scale_index];
        request.scale = selection.scales[item.scale_index];
        request.three_d = item.spatial_rank == 3;
        request.families[static_cast<int>(item.family)] = true;
        any = true;
      }
      if (!any) continue;

      GROVE_ASSIGN_OR_RETURN(FloatVolume source, FloatVolume::allocate(bounds));
      visit_dtype(in.dtype(), [&](auto sample) {
        using T = decltype(sample);
        convert_channel<T>(View<const T>(in.view<T>()), t - in_box.begin[kT], c - in_box.begin[kC],
                           source);
      });

      for (size_t s = 0; s < selection.scales.size(); ++s) {
        const ScaleFeatureRequest& request = requests[s];
        if (std::none_of(request.families.begin(), request.families.end(),
                         [](bool b) { return b; })) {
          continue;
        }
        GROVE_RETURN_IF_ERROR(
            compute_scale_features(source, bounds, out_region, request, result)
                .context(fmt::format("computing features at scale {}", request.scale)));
        for (const FeatureItem& item : layout) {
          if (item.scale_index != s || !request.families[static_cast<int>(item.family)]) continue;
          auto& components = result.components[static_cast<int>(item.family)];
          for (int k = 0; k < item.components; ++k) {
            const int64_t channel = item.first_channel + c * item.components + k;
            if (channel < channel_begin || channel >= channel_end) continue;
            planes[static_cast<size_t>(channel - channel_begin)] =
                std::move(components[static_cast<size_t>(k)]);
          }
        }
      }
    }
    interleave_channels(planes, out_region, out_view, t - out_box.begin[kT]);
    for (FloatVolume& plane : planes) plane = FloatVolume();
  }
  return ok_status();
}

}  // namespace grove::filters
