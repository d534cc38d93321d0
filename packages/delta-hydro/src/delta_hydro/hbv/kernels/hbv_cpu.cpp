// CPU implementation of the fused HBV time loop and its adjoint (torch operators
// delta_hbv::forward and delta_hbv::backward; the step itself is in hbv_step.h).
//
// Layout: element i = basin * nmul + component of a contiguous [basin * nmul] vector;
// static parameters are [N] vectors, dynamic ones [T, N]; forcing is [T, basin, 3].
// Each thread (at::parallel_for over basins) runs blocks of whole basins (about
// kBlock elements) through the whole window, keeping the block's storages in a small
// local buffer. The inner loop over the block's elements is branch-free SIMD code:
// the step (hbv_step.h) is instantiated on Vec lane types (hbv_simd.h), and the
// forward loop interleaves two native vectors per iteration, which the out-of-order
// core overlaps (the step is one long dependency chain; measured at 531 x 730 x 16,
// float32, one thread: forward 30 -> 21 ms without saving the trajectory). The backward
// loop keeps one vector per iteration: its adjoint holds about three times as many
// values, and with two vectors GCC spills so many of them that it runs slower (38 ->
// 65 ms).
//
// Memory for the backward pass: the forward pass saves, per step and element, the
// five storages at the start of the step and the two powers of the step with their
// bases' logs (recharge curve (SM/FC)^BETA; ET curve (SM/(LP FC))^BETAET when BETAET
// is given): a [T, R, N] trajectory, R = 7 or 9. The backward pass walks the window
// backwards, recomputes the step's other intermediates from these (cheap arithmetic;
// the powers are the expensive part, so they are stored rather than recomputed) and
// applies the step's adjoint.
//
// The operators are registered for the CPU dispatch key only. A GPU version registers
// the same two schemas for the CUDA key (TORCH_LIBRARY_IMPL(delta_hbv, CUDA, m)) from a
// .cu file that includes hbv_step.h and runs one thread per element; the Python side
// (delta_hydro.hbv.kernels) does not change.
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/copy.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/from_blob.h>
#include <ATen/ops/permute.h>
#include <c10/util/Exception.h>
#include <torch/library.h>
#include <sys/mman.h>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <mutex>
#include <tuple>
#include <type_traits>
#include <vector>

#include "hbv_step.h"

namespace delta_hbv {
namespace {

// Elements per block (whole basins, at least one basin). 256 float32 elements keep a
// block's working set (storages, parameters, fluxes, adjoints) in L1/L2.
constexpr int64_t kBlock = 256;

// Native vectors per iteration of the forward and backward step loops (see the header
// comment; -DHBV_INTERLEAVE_FWD=K or _BWD=K to measure other choices).
#ifndef HBV_INTERLEAVE_FWD
#define HBV_INTERLEAVE_FWD 2
#endif
#ifndef HBV_INTERLEAVE_BWD
#define HBV_INTERLEAVE_BWD 1
#endif

// Steps ahead (forward) or behind (backward) whose data is prefetched, and the
// prefetch locality hint (0: non-temporal; 1 to 3 were no faster here).
constexpr int64_t kPrefetchSteps = 2;
constexpr int kPrefetchLocality = 0;

// Reuses the large buffers of the operators (trajectory, flux outputs, gradients).
//
// torch's CPU allocator returns large blocks to the operating system when they are
// freed, so every training step would fault in (and have the kernel zero) a fresh
// trajectory of hundreds of MB: measured here, that costs more than the time loop
// itself. Buffers of at least kMinPooled bytes therefore come from this pool: 2 MiB
// aligned and advised as transparent huge pages, and kept for reuse when their
// tensor is freed. The pool never holds more than the largest amount the operators
// have had in use at once (so it never raises the peak): a freed buffer that does not
// fit under that bound evicts the buffers cached longest ago until it does. (Without
// eviction, buffers of sizes no longer asked for, e.g. from a smaller validation
// batch, would keep the current trajectory out of the cache, and every step would
// fault it in again: measured 10 ms a step at 531 x 730.) Smaller requests use
// at::empty. empty_cache() frees what is cached.
class BufferPool {
 public:
  static BufferPool& get() {
    static BufferPool* pool = new BufferPool();  // never destroyed: tensors may outlive statics
    return *pool;
  }

  at::Tensor empty(at::IntArrayRef sizes, const at::TensorOptions& opts) {
    int64_t numel = 1;
    for (int64_t s : sizes) numel *= s;
    const size_t want = static_cast<size_t>(numel) * opts.dtype().itemsize();
    if (want < kMinPooled) return at::empty(sizes, opts);
    const size_t bytes = (want + kAlign - 1) / kAlign * kAlign;
    void* ptr = nullptr;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = free_.lower_bound(bytes);
      if (it != free_.end() && it->first <= bytes + bytes / 4) {
        ptr = it->second.ptr;
        cached_ -= it->first;
        in_use_ += it->first;
        const size_t got = it->first;
        free_.erase(it);
        peak_ = std::max(peak_, in_use_);
        return wrap(ptr, got, sizes, opts);
      }
    }
    if (posix_memalign(&ptr, kAlign, bytes) != 0 || ptr == nullptr) return at::empty(sizes, opts);
    allocations_.fetch_add(1, std::memory_order_relaxed);
#ifdef MADV_HUGEPAGE
    madvise(ptr, bytes, MADV_HUGEPAGE);  // advice only; ignored where unsupported
#endif
    {
      std::lock_guard<std::mutex> lock(mu_);
      in_use_ += bytes;
      peak_ = std::max(peak_, in_use_);
    }
    return wrap(ptr, bytes, sizes, opts);
  }

  void empty_cache() {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& entry : free_) std::free(entry.second.ptr);
    free_.clear();
    cached_ = 0;
    peak_ = in_use_;
  }

  std::vector<int64_t> stats() {
    std::lock_guard<std::mutex> lock(mu_);
    return {static_cast<int64_t>(in_use_), static_cast<int64_t>(cached_), static_cast<int64_t>(peak_),
            static_cast<int64_t>(allocations_.load(std::memory_order_relaxed))};
  }

 private:
  static constexpr size_t kMinPooled = size_t(1) << 20;
  static constexpr size_t kAlign = size_t(2) << 20;

  at::Tensor wrap(void* ptr, size_t bytes, at::IntArrayRef sizes, const at::TensorOptions& opts) {
    return at::from_blob(ptr, sizes, [bytes](void* p) { BufferPool::get().give_back(p, bytes); }, opts);
  }

  void give_back(void* ptr, size_t bytes) {
    std::lock_guard<std::mutex> lock(mu_);
    in_use_ -= bytes;
    while (in_use_ + cached_ + bytes > peak_ && !free_.empty()) {
      auto oldest = free_.begin();
      for (auto it = free_.begin(); it != free_.end(); ++it)
        if (it->second.stamp < oldest->second.stamp) oldest = it;
      std::free(oldest->second.ptr);
      cached_ -= oldest->first;
      free_.erase(oldest);
    }
    if (in_use_ + cached_ + bytes <= peak_) {
      free_.emplace(bytes, Cached{ptr, ++stamp_});
      cached_ += bytes;
    } else {
      std::free(ptr);
    }
  }

  struct Cached {
    void* ptr;
    uint64_t stamp;  // order of caching (evicted oldest first)
  };

  std::mutex mu_;
  std::multimap<size_t, Cached> free_;
  size_t in_use_ = 0, cached_ = 0, peak_ = 0;
  uint64_t stamp_ = 0;
  std::atomic<int64_t> allocations_{0};  // fresh (not reused) buffers since the start
};

at::Tensor pooled_empty(at::IntArrayRef sizes, const at::TensorOptions& opts) {
  return BufferPool::get().empty(sizes, opts);
}

// Trajectory rows: the storages, then (SM/FC)^BETA and log(SM/FC), then with BETAET
// (SM/(LP FC))^BETAET and log(SM/(LP FC)).
enum TrajRow : int { R_W0 = N_STATES, R_LX1, R_R2, R_LX2, N_TRAJ_MAX };

constexpr int traj_rows(bool betaet) { return betaet ? N_TRAJ_MAX : R_R2; }

template <typename S>
struct ParamView {
  const S* base = nullptr;  // null: process absent
  int64_t stride = 0;       // 0: static [N]; N: dynamic [T, N]
};

template <typename S>
struct Problem {
  int64_t T = 0, E = 0, M = 0, N = 0;
  const S* forcing = nullptr;  // [T, E, 3]
  ParamView<S> p[N_PARAMS];
  int out_of_slot[N_FLUXES];  // flux slot -> row of the [K, T, E] output, -1 if absent
};

struct Variant {
  bool betaet, cap, leak;
};

// Calls fn.template operator()<BETAET, CAP, LEAK>() for the runtime flags.
template <typename Fn>
void with_variant(Variant v, Fn&& fn) {
  const int code = (v.betaet ? 4 : 0) | (v.cap ? 2 : 0) | (v.leak ? 1 : 0);
  switch (code) {
    case 0: fn.template operator()<false, false, false>(); break;
    case 1: fn.template operator()<false, false, true>(); break;
    case 2: fn.template operator()<false, true, false>(); break;
    case 3: fn.template operator()<false, true, true>(); break;
    case 4: fn.template operator()<true, false, false>(); break;
    case 5: fn.template operator()<true, false, true>(); break;
    case 6: fn.template operator()<true, true, false>(); break;
    default: fn.template operator()<true, true, true>(); break;
  }
}

// Parameters of step t for elements [i0, i0 + n): one pointer per slot (null: absent).
template <typename S>
struct StepParams {
  const S* q[N_PARAMS];
  StepParams(const Problem<S>& pb, int64_t t, int64_t i0) {
    for (int k = 0; k < N_PARAMS; ++k)
      q[k] = pb.p[k].base != nullptr ? pb.p[k].base + t * pb.p[k].stride + i0 : nullptr;
  }

  // The parameters of the lanes of L at element j, as an accessor: p[k] loads parameter
  // k where the step uses it (absent processes get their neutral values: ET exponent 1,
  // no capillary rise, no leakage). Loading every parameter up front would keep them
  // all live through the step; with interleaved vectors there are not enough
  // registers, and each would be spilled and reloaded.
  template <bool BETAET, bool CAP, bool LEAK, typename L>
  struct Lanes {
    const StepParams* sp;
    int64_t j;
    HBV_HD L operator[](int k) const {
      if (k == P_BETAET && !BETAET) return L(1);
      if (k == P_C && !CAP) return L(0);
      if (k == P_LF && !LEAK) return L(0);
      return delta_hbv::load<L>(sp->q[k] + j);
    }
  };
};

// Rows of per-element values (row k at base + k * stride) as an accessor: r[k] loads
// row k of the lanes at base where it is used (see StepParams::Lanes).
template <typename L>
struct RowLanes {
  const element_t<L>* base;
  int64_t stride;
  HBV_HD L operator[](int k) const { return load<L>(base + k * stride); }
};

constexpr int kInterleaveForward = HBV_INTERLEAVE_FWD;
constexpr int kInterleaveBackward = HBV_INTERLEAVE_BWD;

// Calls step.template operator()<L>(j) over [0, n) in lane groups: Vec<S, K>
// while whole ones fit, then single vectors, then scalars (the compiler may vectorize
// that last loop; with nmul a multiple of the vector width it has no iterations).
template <typename S, int K, typename Step>
inline void for_each_lane_group(int64_t n, Step& step) {
  using Wide = Vec<S, K>;
  using One = Vec<S, 1>;
  int64_t j = 0;
  for (; j + Wide::kSize <= n; j += Wide::kSize) step.template operator()<Wide>(j);
  for (; j + One::kSize <= n; j += One::kSize) step.template operator()<One>(j);
#pragma GCC ivdep
  for (; j < n; ++j) step.template operator()<S>(j);
}

// Software prefetch of [ptr, ptr + count) (read, or write when WRITE): every cache line
// the range touches, also where ptr is not at a line's start.
template <bool WRITE = false, int LOCALITY = kPrefetchLocality, typename S>
inline void prefetch(const S* ptr, int64_t count) {
  if (count <= 0) return;
  const uintptr_t first = reinterpret_cast<uintptr_t>(ptr) & ~uintptr_t(63);
  const uintptr_t last = reinterpret_cast<uintptr_t>(ptr + count - 1);
  for (uintptr_t a = first; a <= last; a += 64)
    __builtin_prefetch(reinterpret_cast<const void*>(a), WRITE ? 1 : 0, LOCALITY);
}

// Prefetches what step t reads for elements [i0, i0 + n) / basins [eb, eb + nb): its
// dynamic parameters and forcing. Dynamic parameters and the per-step rows of the
// trajectory and flux gradients lie T-strided in memory, so hardware prefetchers miss
// them; a miss per row and step would cost as much as the arithmetic.
template <typename S>
void prefetch_step(const Problem<S>& pb, int64_t t, int64_t i0, int64_t n, int64_t eb, int64_t nb) {
  for (int k = 0; k < N_PARAMS; ++k)
    if (pb.p[k].base != nullptr && pb.p[k].stride != 0) prefetch(pb.p[k].base + t * pb.p[k].stride + i0, n);
  prefetch<false, 3>(pb.forcing + (t * pb.E + eb) * 3, nb * 3);
}

#if defined(__AVX512F__)
// Row sums of a 16 x 16 float tile: out[b] = sum_m src[16 b + m], b < 16, by a
// transpose-and-add network (45 shuffles and additions instead of 16 dependent
// additions per row).
inline __m512 row_sums16(const float* src) {
  __m512 v[16];
  for (int b = 0; b < 16; ++b) v[b] = _mm512_loadu_ps(src + 16 * b);
  __m512 a[8];  // 128-bit lanes: rows 2i, 2i, 2i+1, 2i+1 (4 partial sums each)
  for (int i = 0; i < 8; ++i)
    a[i] = _mm512_add_ps(_mm512_shuffle_f32x4(v[2 * i], v[2 * i + 1], 0x44),
                         _mm512_shuffle_f32x4(v[2 * i], v[2 * i + 1], 0xEE));
  __m512 c[4];  // 128-bit lanes: rows 4i .. 4i+3 (4 partial sums each)
  for (int i = 0; i < 4; ++i)
    c[i] = _mm512_add_ps(_mm512_shuffle_f32x4(a[2 * i], a[2 * i + 1], 0x88),
                         _mm512_shuffle_f32x4(a[2 * i], a[2 * i + 1], 0xDD));
  __m512 d[2];  // 2 partial sums per row
  for (int i = 0; i < 2; ++i)
    d[i] = _mm512_add_ps(_mm512_shuffle_ps(c[2 * i], c[2 * i + 1], 0x44),
                         _mm512_shuffle_ps(c[2 * i], c[2 * i + 1], 0xEE));
  const __m512 r = _mm512_add_ps(_mm512_shuffle_ps(d[0], d[1], 0x88), _mm512_shuffle_ps(d[0], d[1], 0xDD));
  // r holds row 4 (i % 4) + i / 4 in lane i; put row b in lane b.
  return _mm512_permutexvar_ps(_mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15), r);
}
#endif

// dst[0, n) = src[0, n). Rows of the trajectory and of dynamic-parameter gradients are
// written once and read back only much later, so where dst is 64-byte aligned and n
// fills whole cache lines the copy uses non-temporal stores: no read-for-ownership of
// the destination lines (which would double the memory traffic) and no eviction of the
// working set. Callers finish with store_fence().
template <typename S>
inline void stream_copy(S* __restrict dst, const S* __restrict src, int64_t n) {
#if defined(__AVX512F__)
  const int64_t bytes = n * static_cast<int64_t>(sizeof(S));
  if (reinterpret_cast<uintptr_t>(dst) % 64 == 0 && bytes % 64 == 0) {
    const char* from = reinterpret_cast<const char*>(src);
    char* to = reinterpret_cast<char*>(dst);
    for (int64_t i = 0; i < bytes; i += 64)
      _mm512_stream_ps(reinterpret_cast<float*>(to + i), _mm512_loadu_ps(reinterpret_cast<const float*>(from + i)));
    return;
  }
#endif
  std::copy(src, src + n, dst);
}

// Orders the non-temporal stores of stream_copy before anything that follows.
inline void store_fence() {
#if defined(__AVX512F__)
  _mm_sfence();
#endif
}

// out[b] = scale * (sum of basin b's M component values), b < nb. The common float32
// case nmul = 16 on AVX-512 reduces 16 basins at a time (row_sums16); otherwise one
// running sum per basin, which as a chain of dependent additions costs about as much
// as the step itself when done for every flux.
template <typename S>
inline void basin_means(const S* src, int64_t nb, int64_t M, S scale, S* out) {
  int64_t b = 0;
#if defined(__AVX512F__)
  if constexpr (std::is_same_v<S, float>) {
    if (M == 16) {
      const __m512 factor = _mm512_set1_ps(scale);
      for (; b + 16 <= nb; b += 16) _mm512_storeu_ps(out + b, _mm512_mul_ps(row_sums16(src + 16 * b), factor));
    }
  }
#endif
  for (; b < nb; ++b) {
    S sum = S(0);
    for (int64_t m = 0; m < M; ++m) sum += src[b * M + m];
    out[b] = sum * scale;
  }
}

// dst[b * M + m] = src[b * stride] * scale for b < nb, m < M: one value per basin
// repeated over its components. nmul = 16 (the usual) is a compile-time width, so
// that each basin's run is a single vector store instead of a call to fill_n.
template <typename S>
inline void broadcast_basins(const S* src, int64_t stride, int64_t nb, int64_t M, S scale, S* __restrict dst) {
  if (M == 16) {
    for (int64_t b = 0; b < nb; ++b) {
      const S v = src[b * stride] * scale;
#pragma GCC unroll 16
      for (int m = 0; m < 16; ++m) dst[b * 16 + m] = v;
    }
    return;
  }
  for (int64_t b = 0; b < nb; ++b) std::fill_n(dst + b * M, M, src[b * stride] * scale);
}

// Copies the forcing of step t for basins [eb, eb + nb) into per-element rows P, T, PET.
template <typename S>
void broadcast_forcing(const Problem<S>& pb, int64_t t, int64_t eb, int64_t nb, S* frc, int64_t cap) {
  const S* f_t = pb.forcing + (t * pb.E + eb) * 3;
  for (int c = 0; c < 3; ++c) broadcast_basins(f_t + c, 3, nb, pb.M, S(1), frc + c * cap);
}

// The forcing of step t for a block's elements. Where nmul equals the native vector
// width (16 float32 components with AVX-512, the usual set-up), each native vector of
// a lane group is one basin, so its forcing is a broadcast of the basin's value, read
// straight from the [T, E, 3] forcing. Otherwise the forcing is first copied into
// per-element rows (broadcast_forcing) and read from there.
template <typename S>
struct ForcingLanes {
  const S* f_t;   // forcing of step t, block's first basin: [basin][3]
  const S* rows;  // per-element rows P, T, PET (row stride cap), when not direct
  int64_t cap;
  bool direct;

  // Basins [eb, eb + nb); frc: the block's forcing rows (row stride cap).
  ForcingLanes(const Problem<S>& pb, int64_t t, int64_t eb, int64_t nb, S* frc, int64_t cap_)
      : f_t(pb.forcing + (t * pb.E + eb) * 3), rows(frc), cap(cap_), direct(pb.M == Vec<S, 1>::kLanes) {
    if (!direct) broadcast_forcing(pb, t, eb, nb, frc, cap);
  }

  // Variable c (0: P, 1: T, 2: PET) of elements j .. j + L::kSize - 1 (one element for scalar L).
  template <typename L>
  HBV_HD L get(int64_t j, int c) const {
    if constexpr (is_vec_v<L>) {
      if (direct) {
        const S* f = f_t + (j / L::kLanes) * 3 + c;
        return L::make([&](auto q) HBV_LAMBDA_INLINE { return typename L::Native{} + f[q * 3]; });
      }
    }
    return load<L>(rows + c * cap + j);
  }
};

// forward_step's output sink in the forward loop: fluxes (RECORD) to the block's flux
// rows, powers and logs (SAVE) to the block's power rows (row stride cap), at the
// lanes' offset already applied to both pointers.
template <typename L, bool RECORD, bool SAVE>
struct Recorder {
  using S = element_t<L>;
  S* fl;
  S* pw;
  int64_t cap;
  HBV_HD void flux(Flux k, const L& v) const {
    if constexpr (RECORD) store(fl + k * cap, v);
  }
  HBV_HD void power(int which, const L& value, const L& log) const {
    if constexpr (SAVE) {
      store(pw + (2 * which) * cap, value);
      store(pw + (2 * which + 1) * cap, log);
    }
  }
};

// Forward over basins [e_begin, e_end). SAVE: write the trajectory; RECORD: the fluxes
// (component means, [K, T, E]).
template <typename S, bool BETAET, bool CAP, bool LEAK, bool RECORD, bool SAVE>
void forward_range(const Problem<S>& pb, const S* init, S* fluxes, S* final_states, S* traj, int64_t e_begin,
                   int64_t e_end) {
  constexpr int R = traj_rows(BETAET);
  const int64_t T = pb.T, E = pb.E, M = pb.M, N = pb.N;
  const int64_t basins_per_block = std::max<int64_t>(1, kBlock / M);
  const int64_t cap = basins_per_block * M;
  std::vector<S> st_buf(N_STATES * cap), frc_buf(3 * cap), fl_buf(RECORD ? N_FLUXES * cap : 0);
  std::vector<S> pw_buf(SAVE ? (R - N_STATES) * cap : 0);
  S* __restrict st = st_buf.data();
  S* __restrict pw = pw_buf.data();  // this step's powers and logs, before they go to the trajectory
  S* __restrict frc = frc_buf.data();
  S* __restrict fl = fl_buf.data();
  const S inv_m = S(1) / S(M);

  for (int64_t eb = e_begin; eb < e_end; eb += basins_per_block) {
    const int64_t nb = std::min(basins_per_block, e_end - eb);
    const int64_t n = nb * M, i0 = eb * M;
    for (int k = 0; k < N_STATES; ++k) std::copy(init + k * N + i0, init + k * N + i0 + n, st + k * cap);

    for (int64_t t = 0; t < T; ++t) {
      if (t + kPrefetchSteps < T) {
        prefetch_step(pb, t + kPrefetchSteps, i0, n, eb, nb);
        if constexpr (RECORD) {
          for (int k = 0; k < N_FLUXES; ++k)
            if (pb.out_of_slot[k] >= 0)
              prefetch<true>(fluxes + (pb.out_of_slot[k] * T + t + kPrefetchSteps) * E + eb, nb);
        }
      }
      const ForcingLanes<S> forcing(pb, t, eb, nb, frc, cap);
      const StepParams<S> sp(pb, t, i0);
      S* const tr = SAVE ? traj + t * R * N + i0 : nullptr;
      if constexpr (SAVE) {
        for (int k = 0; k < N_STATES; ++k) stream_copy(tr + k * N, st + k * cap, n);
      }

      // Elements j .. j + L::kSize - 1 (one element for scalar L) through one step.
      auto step = [&]<typename L>(int64_t j) HBV_LAMBDA_INLINE {
        const typename StepParams<S>::template Lanes<BETAET, CAP, LEAK, L> p{&sp, j};
        L s[N_STATES];
#pragma GCC unroll 16
        for (int k = 0; k < N_STATES; ++k) s[k] = load<L>(st + k * cap + j);
        StepWork<L> w;
        const Recorder<L, RECORD, SAVE> out{RECORD ? fl + j : nullptr, SAVE ? pw + j : nullptr, cap};
        forward_step<L, BETAET, CAP, LEAK>(p, forcing.template get<L>(j, 0), forcing.template get<L>(j, 1),
                                           forcing.template get<L>(j, 2), s, w, s, out);
#pragma GCC unroll 16
        for (int k = 0; k < N_STATES; ++k) store(st + k * cap + j, s[k]);
      };
      for_each_lane_group<S, kInterleaveForward>(n, step);

      if constexpr (SAVE) {
        for (int r = N_STATES; r < R; ++r) stream_copy(tr + r * N, pw + (r - N_STATES) * cap, n);
      }
      if constexpr (RECORD) {
        for (int k = 0; k < N_FLUXES; ++k) {
          const int row = pb.out_of_slot[k];
          if (row < 0) continue;
          S* out = fluxes + (row * T + t) * E + eb;
          const S* src = fl + k * cap;
          basin_means(src, nb, M, inv_m, out);
        }
      }
    }
    for (int k = 0; k < N_STATES; ++k) std::copy(st + k * cap, st + k * cap + n, final_states + k * N + i0);
  }
  store_fence();
}

// Backward over basins [e_begin, e_end). gflux: gradients of the fluxes that have any,
// as [T, E, K] with flux slot grad_slot[r] in column r, r < K (K = 0: none).
template <typename S, bool BETAET, bool CAP, bool LEAK>
void backward_range(const Problem<S>& pb, const S* traj, const S* gflux, const int* grad_slot, int64_t K,
                    const S* gfinal, S* gforcing, S* const* gparam, S* ginit, int64_t e_begin, int64_t e_end) {
  constexpr int R = traj_rows(BETAET);
  const int64_t T = pb.T, E = pb.E, M = pb.M, N = pb.N;
  const int64_t basins_per_block = std::max<int64_t>(1, kBlock / M);
  const int64_t cap = basins_per_block * M;
  std::vector<S> lam_buf(N_STATES * cap), frc_buf(3 * cap), gfe_buf(N_FLUXES * cap);
  std::vector<S> gstatic_buf(N_PARAMS * cap), gstep_buf(N_PARAMS * cap), gfrc_buf(3 * cap);
  S* __restrict lam = lam_buf.data();
  S* __restrict frc = frc_buf.data();
  S* __restrict gfe = gfe_buf.data();
  S* __restrict gstatic = gstatic_buf.data();
  S* __restrict gstep = gstep_buf.data();
  S* __restrict gfrc = gfrc_buf.data();
  const S inv_m = S(1) / S(M);
  bool is_dynamic[N_PARAMS], wanted[N_PARAMS];
  for (int k = 0; k < N_PARAMS; ++k) {
    wanted[k] = gparam[k] != nullptr;
    is_dynamic[k] = pb.p[k].stride != 0;
  }

  for (int64_t eb = e_begin; eb < e_end; eb += basins_per_block) {
    const int64_t nb = std::min(basins_per_block, e_end - eb);
    const int64_t n = nb * M, i0 = eb * M;
    for (int k = 0; k < N_STATES; ++k) {
      if (gfinal != nullptr)
        std::copy(gfinal + k * N + i0, gfinal + k * N + i0 + n, lam + k * cap);
      else
        std::fill_n(lam + k * cap, n, S(0));
    }
    std::fill_n(gstatic, N_PARAMS * cap, S(0));
    std::fill_n(gstep, N_PARAMS * cap, S(0));
    std::fill_n(gfe, N_FLUXES * cap, S(0));  // fluxes without a gradient stay 0

    for (int64_t t = T - 1; t >= 0; --t) {
      if (t >= kPrefetchSteps) {
        const int64_t ta = t - kPrefetchSteps;
        for (int r = 0; r < R; ++r) prefetch(traj + (ta * R + r) * N + i0, n);
        prefetch_step(pb, ta, i0, n, eb, nb);
        if (K > 0) prefetch(gflux + (ta * E + eb) * K, nb * K);
        if (gforcing != nullptr) prefetch<true>(gforcing + (ta * E + eb) * 3, nb * 3);
      }
      const ForcingLanes<S> forcing(pb, t, eb, nb, frc, cap);
      for (int64_t r = 0; r < K; ++r)
        broadcast_basins(gflux + (t * E + eb) * K + r, K, nb, M, inv_m, gfe + grad_slot[r] * cap);
      const StepParams<S> sp(pb, t, i0);
      const S* __restrict tr = traj + t * R * N + i0;

      // Elements j .. j + L::kSize - 1 (one element for scalar L) back through one step.
      auto step = [&]<typename L>(int64_t j) HBV_LAMBDA_INLINE {
        const typename StepParams<S>::template Lanes<BETAET, CAP, LEAK, L> p{&sp, j};
        L s[N_STATES], s_end[N_STATES], l[N_STATES], g[N_PARAMS], gfo[3];
#pragma GCC unroll 16
        for (int k = 0; k < N_STATES; ++k) s[k] = load<L>(tr + k * N + j);
        StepWork<L> w;
        w.w0 = load<L>(tr + R_W0 * N + j);
        w.lx1 = load<L>(tr + R_LX1 * N + j);
        if constexpr (BETAET) {
          w.r2 = load<L>(tr + R_R2 * N + j);
          w.lx2 = load<L>(tr + R_LX2 * N + j);
        }
        const L P = forcing.template get<L>(j, 0), Tair = forcing.template get<L>(j, 1),
                PET = forcing.template get<L>(j, 2);
        forward_step<L, BETAET, CAP, LEAK, true>(p, P, Tair, PET, s, w, s_end, NoOutput{});
        const RowLanes<L> gf{gfe + j, cap};  // rows of absent fluxes are zero
#pragma GCC unroll 16
        for (int k = 0; k < N_STATES; ++k) l[k] = load<L>(lam + k * cap + j);
#pragma GCC unroll 16
        for (int k = 0; k < N_PARAMS; ++k) g[k] = L(0);
        adjoint_step<L, BETAET, CAP, LEAK>(p, P, Tair, PET, s, w, gf, l, g, gfo);
#pragma GCC unroll 16
        for (int k = 0; k < N_STATES; ++k) store(lam + k * cap + j, l[k]);
#pragma GCC unroll 16
        for (int k = 0; k < N_PARAMS; ++k) {
          // Static parameters sum their gradient over the window here; dynamic ones keep
          // this step's (streamed out after the loop). The branch is the same for every
          // element, so it is always predicted.
          if (is_dynamic[k])
            store(gstep + k * cap + j, g[k]);
          else
            store(gstatic + k * cap + j, load<L>(gstatic + k * cap + j) + g[k]);
        }
#pragma GCC unroll 16
        for (int c = 0; c < 3; ++c) store(gfrc + c * cap + j, gfo[c]);
      };
      for_each_lane_group<S, kInterleaveBackward>(n, step);

      for (int k = 0; k < N_PARAMS; ++k)
        if (wanted[k] && is_dynamic[k]) stream_copy(gparam[k] + t * N + i0, gstep + k * cap, n);
      if (gforcing != nullptr) {
        S* dst = gforcing + (t * E + eb) * 3;
        for (int64_t b = 0; b < nb; ++b)
          for (int c = 0; c < 3; ++c) {
            S sum = S(0);
            const S* src = gfrc + c * cap + b * M;
            for (int64_t m = 0; m < M; ++m) sum += src[m];
            dst[b * 3 + c] = sum;
          }
      }
    }
    for (int k = 0; k < N_PARAMS; ++k)
      if (wanted[k] && !is_dynamic[k]) std::copy(gstatic + k * cap, gstatic + k * cap + n, gparam[k] + i0);
    if (ginit != nullptr)
      for (int k = 0; k < N_STATES; ++k) std::copy(lam + k * cap, lam + k * cap + n, ginit + k * N + i0);
  }
  store_fence();
}

// Validates the inputs and fills a Problem; returns the variant flags.
template <typename S>
Variant setup(Problem<S>& pb, const at::Tensor& forcing, at::TensorList params, int64_t nmul) {
  TORCH_CHECK(forcing.dim() == 3 && forcing.size(2) == 3, "delta_hbv: forcing must be [T, E, 3]");
  TORCH_CHECK(forcing.is_contiguous(), "delta_hbv: forcing must be contiguous");
  TORCH_CHECK(nmul >= 1, "delta_hbv: nmul must be >= 1");
  TORCH_CHECK(static_cast<int64_t>(params.size()) == N_PARAMS, "delta_hbv: expected ", N_PARAMS,
              " parameter tensors, got ", params.size());
  pb.T = forcing.size(0);
  pb.E = forcing.size(1);
  pb.M = nmul;
  pb.N = pb.E * pb.M;
  TORCH_CHECK(pb.N > 0, "delta_hbv: no basins or components");
  pb.forcing = forcing.data_ptr<S>();
  for (int k = 0; k < N_PARAMS; ++k) {
    const at::Tensor& v = params[k];
    if (v.dim() == 1 && v.size(0) == 0) {  // process absent
      TORCH_CHECK(k >= P_BETAET, "delta_hbv: required parameter ", k, " is missing");
      continue;
    }
    TORCH_CHECK(v.scalar_type() == forcing.scalar_type(), "delta_hbv: parameter ", k, " has dtype ",
                v.scalar_type(), ", forcing ", forcing.scalar_type());
    TORCH_CHECK(v.device() == forcing.device(), "delta_hbv: parameter ", k, " is on another device");
    TORCH_CHECK(v.is_contiguous(), "delta_hbv: parameter ", k, " must be contiguous");
    if (v.dim() == 1) {
      TORCH_CHECK(v.size(0) == pb.N, "delta_hbv: static parameter ", k, " must have E*nmul elements");
      pb.p[k].stride = 0;
    } else {
      TORCH_CHECK(v.dim() == 2 && v.size(0) == pb.T && v.size(1) == pb.N, "delta_hbv: dynamic parameter ",
                  k, " must be [T, E*nmul]");
      pb.p[k].stride = pb.N;
    }
    pb.p[k].base = v.data_ptr<S>();
  }
  Variant var{pb.p[P_BETAET].base != nullptr, pb.p[P_C].base != nullptr, pb.p[P_LF].base != nullptr};
  int row = 0;
  for (int k = 0; k < N_FLUXES; ++k) {
    const bool on = (k == F_CAPILLARY) ? var.cap : (k == F_LEAKAGE) ? var.leak : true;
    pb.out_of_slot[k] = on ? row++ : -1;
  }
  return var;
}

int64_t n_fluxes(const Variant& v) { return F_CAPILLARY + (v.cap ? 1 : 0) + (v.leak ? 1 : 0); }

// Minimum basins per task of at::parallel_for (about 1000 elements).
int64_t grain(int64_t nmul) { return std::max<int64_t>(1, 1024 / nmul); }

// forward(forcing [T,E,3], params (15; [N], [T,N] or [0] when absent), states [5,N], nmul, record, save)
//   -> (fluxes [K,T,E] (K = 11 + capillary + leakage; [0,0,E] unless record), final states [5,N],
//       trajectory [T,R,N] ([0,R,N] unless save))
std::tuple<at::Tensor, at::Tensor, at::Tensor> hbv_forward(const at::Tensor& forcing, at::TensorList params,
                                                           const at::Tensor& states, int64_t nmul, bool record,
                                                           bool save) {
  TORCH_CHECK(forcing.device().is_cpu(), "delta_hbv::forward (CPU) got a tensor on ", forcing.device());
  TORCH_CHECK(!save || record, "delta_hbv::forward: save implies record");
  at::Tensor fluxes, final_states, traj;
  AT_DISPATCH_FLOATING_TYPES(forcing.scalar_type(), "delta_hbv_forward", [&] {
    using S = scalar_t;
    Problem<S> pb;
    const Variant var = setup<S>(pb, forcing, params, nmul);
    TORCH_CHECK(states.scalar_type() == forcing.scalar_type() && states.is_contiguous() && states.dim() == 2 &&
                    states.size(0) == N_STATES && states.size(1) == pb.N,
                "delta_hbv: states must be a contiguous [5, E*nmul] tensor of the forcing's dtype");
    const auto opts = forcing.options();
    fluxes = pooled_empty({record ? n_fluxes(var) : 0, record ? pb.T : 0, pb.E}, opts);
    final_states = at::empty({N_STATES, pb.N}, opts);
    traj = pooled_empty({save ? pb.T : 0, traj_rows(var.betaet), pb.N}, opts);
    const S* init = states.data_ptr<S>();
    S* fl = record ? fluxes.data_ptr<S>() : nullptr;
    S* fin = final_states.data_ptr<S>();
    S* tr = save ? traj.data_ptr<S>() : nullptr;
    with_variant(var, [&]<bool B, bool C, bool L>() {
      at::parallel_for(0, pb.E, grain(nmul), [&](int64_t e0, int64_t e1) {
        if (save)
          forward_range<S, B, C, L, true, true>(pb, init, fl, fin, tr, e0, e1);
        else if (record)
          forward_range<S, B, C, L, true, false>(pb, init, fl, fin, tr, e0, e1);
        else
          forward_range<S, B, C, L, false, false>(pb, init, fl, fin, tr, e0, e1);
      });
    });
  });
  return {fluxes, final_states, traj};
}

// backward(forcing, params, trajectory, grad fluxes (K tensors [T,E], each [0] when absent; or no
//          tensor at all), grad final states [5,N] or [0],
//          nmul, needs: 17 flags (forcing, the 15 parameters, states))
//   -> (grad forcing [T,E,3] or [0], grad params (15, each shaped as given, or [0]), grad states [5,N] or [0])
std::tuple<at::Tensor, std::vector<at::Tensor>, at::Tensor> hbv_backward(
    const at::Tensor& forcing, at::TensorList params, const at::Tensor& traj, at::TensorList grad_fluxes,
    const at::Tensor& grad_states, int64_t nmul, at::IntArrayRef needs) {
  TORCH_CHECK(forcing.device().is_cpu(), "delta_hbv::backward (CPU) got a tensor on ", forcing.device());
  TORCH_CHECK(static_cast<int64_t>(needs.size()) == N_PARAMS + 2, "delta_hbv: needs must have 17 flags");
  at::Tensor gforcing, ginit;
  std::vector<at::Tensor> gparams(N_PARAMS);
  AT_DISPATCH_FLOATING_TYPES(forcing.scalar_type(), "delta_hbv_backward", [&] {
    using S = scalar_t;
    Problem<S> pb;
    const Variant var = setup<S>(pb, forcing, params, nmul);
    TORCH_CHECK(traj.scalar_type() == forcing.scalar_type() && traj.is_contiguous() && traj.dim() == 3 &&
                    traj.size(0) == pb.T && traj.size(1) == traj_rows(var.betaet) && traj.size(2) == pb.N,
                "delta_hbv: trajectory must be the [T, R, E*nmul] tensor saved by forward");
    const S* gfl = nullptr;
    at::Tensor gflux_tek;
    std::vector<at::Tensor> gflux_c;
    int grad_slot[N_FLUXES];
    int64_t n_grad = 0;
    TORCH_CHECK(grad_fluxes.empty() || static_cast<int64_t>(grad_fluxes.size()) == n_fluxes(var),
                "delta_hbv: grad_fluxes must hold one tensor per recorded flux (", n_fluxes(var), "), got ",
                grad_fluxes.size());
    // Usually only a few fluxes (streamflow) carry a gradient: autograd passes nothing
    // (an empty tensor here) for the others, or zeros, which are skipped as well; the
    // step loop then broadcasts only the rest.
    const int64_t plane = pb.T * pb.E;
    for (int k = 0; k < N_FLUXES && !grad_fluxes.empty(); ++k) {
      const int row = pb.out_of_slot[k];
      if (row < 0 || grad_fluxes[row].numel() == 0) continue;
      const at::Tensor& g = grad_fluxes[row];
      TORCH_CHECK(g.scalar_type() == forcing.scalar_type() && g.dim() == 2 && g.size(0) == pb.T &&
                      g.size(1) == pb.E,
                  "delta_hbv: the gradient of flux ", row, " must be a [T, E] tensor of the forcing's dtype");
      at::Tensor gc = g.contiguous();
      if (!any_nonzero(gc.data_ptr<S>(), plane)) continue;
      gflux_c.push_back(gc);
      grad_slot[n_grad++] = k;
    }
    if (n_grad == 1) {
      gfl = gflux_c[0].data_ptr<S>();  // [T, E] is already [T, E, 1]
    } else if (n_grad > 1) {
      // [K][T, E] -> [T, E, K]: a block's flux gradients of one step become one contiguous
      // run instead of K rows a whole [T, E] plane apart (a TLB and cache miss each).
      gflux_tek = pooled_empty({pb.T, pb.E, n_grad}, forcing.options());
      for (int64_t r = 0; r < n_grad; ++r) gflux_tek.select(2, r).copy_(gflux_c[r]);
      gfl = gflux_tek.data_ptr<S>();
    }
    const S* gfin = nullptr;
    if (grad_states.numel() > 0) {
      TORCH_CHECK(grad_states.scalar_type() == forcing.scalar_type() && grad_states.is_contiguous() &&
                      grad_states.dim() == 2 && grad_states.size(0) == N_STATES && grad_states.size(1) == pb.N,
                  "delta_hbv: grad_states must be a contiguous [5, E*nmul] tensor");
      gfin = grad_states.data_ptr<S>();
    }
    const auto opts = forcing.options();
    S* gfo = nullptr;
    if (needs[0]) {
      gforcing = pooled_empty({pb.T, pb.E, 3}, opts);
      gfo = gforcing.data_ptr<S>();
    } else {
      gforcing = at::empty({0}, opts);
    }
    S* gp[N_PARAMS];
    for (int k = 0; k < N_PARAMS; ++k) {
      gp[k] = nullptr;
      if (needs[1 + k] && pb.p[k].base != nullptr) {
        gparams[k] = pooled_empty(params[k].sizes(), opts);
        gp[k] = gparams[k].data_ptr<S>();
      } else {
        gparams[k] = at::empty({0}, opts);
      }
    }
    S* gin = nullptr;
    if (needs[1 + N_PARAMS]) {
      ginit = at::empty({N_STATES, pb.N}, opts);
      gin = ginit.data_ptr<S>();
    } else {
      ginit = at::empty({0}, opts);
    }
    const S* tr = traj.data_ptr<S>();
    with_variant(var, [&]<bool B, bool C, bool L>() {
      at::parallel_for(0, pb.E, grain(nmul), [&](int64_t e0, int64_t e1) {
        backward_range<S, B, C, L>(pb, tr, gfl, grad_slot, n_grad, gfin, gfo, gp, gin, e0, e1);
      });
    });
  });
  return {gforcing, gparams, ginit};
}

}  // namespace

// empty_cache(): free the buffers the pool keeps for reuse.
void hbv_empty_cache() { BufferPool::get().empty_cache(); }

// pool_stats() -> [bytes in use, bytes cached, peak bytes in use since the last empty_cache,
//                  buffers allocated fresh (not reused) since the library was loaded].
std::vector<int64_t> hbv_pool_stats() { return BufferPool::get().stats(); }

TORCH_LIBRARY(delta_hbv, m) {
  m.def(
      "forward(Tensor forcing, Tensor[] params, Tensor states, int nmul, bool record, bool save)"
      " -> (Tensor, Tensor, Tensor)");
  m.def(
      "backward(Tensor forcing, Tensor[] params, Tensor trajectory, Tensor[] grad_fluxes, Tensor grad_states,"
      " int nmul, int[] needs) -> (Tensor, Tensor[], Tensor)");
  m.def("empty_cache() -> ()", &hbv_empty_cache);
  m.def("pool_stats() -> int[]", &hbv_pool_stats);
}

TORCH_LIBRARY_IMPL(delta_hbv, CPU, m) {
  m.impl("forward", &hbv_forward);
  m.impl("backward", &hbv_backward);
}

}  // namespace delta_hbv
