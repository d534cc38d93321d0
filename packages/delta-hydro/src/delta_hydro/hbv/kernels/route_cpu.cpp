// CPU implementation of the gamma unit-hydrograph routing of the δHBV models and of its
// adjoint (torch operators delta_hbv::route_forward and delta_hbv::route_backward).
//
// Routing (Feng et al. 2022, WRR 58:e2022WR032404; the weights come from
// delta_hydro.hbv.routing.gamma_unit_hydrograph) is a causal convolution of each
// entity's series with that entity's unit hydrograph w[0..L):
//
//   y[n, t, e] = sum_{k = 0}^{min(L - 1, t)} w[k, e] x[n, t - k, e]     (zeros before t = 0)
//
// and its adjoint, for an upstream gradient g = dLoss/dy:
//
//   dLoss/dx[n, t, e] = sum_{k = 0}^{min(L - 1, T - 1 - t)} w[k, e] g[n, t + k, e]
//   dLoss/dw[k, e]    = sum_n sum_{t = k}^{T - 1} g[n, t, e] x[n, t - k, e]
//
// Layout: series, output and gradients are contiguous [n, T, E], weights [L, E]; the
// entity is the fastest-varying index. torch's grouped conv1d (the reference,
// routing.py) wants [n, E, T], so it transposes, pads and runs a generic convolution
// whose backward pass alone costs several times what this file's does.
//
// Here the innermost operations are on a chunk of entities that fills one 64-byte
// vector (16 float32 or 8 float64 lanes; GCC vector extensions, so the compiler emits
// AVX-512, AVX2 or SSE as -march allows); there is no dependence between lanes.
// Memory loads, not arithmetic, limit a convolution this short, so both sums are
// register-blocked:
//   * y and dLoss/dx (one output row is a sum over lags): kSteps consecutive rows at
//     once, so that each weight vector is loaded once per kSteps multiply-adds; the
//     kSteps accumulators live in registers.
//   * dLoss/dw (one value is a sum over steps): kLagBlock lags at once, so that each
//     gradient row is loaded once per kLagBlock multiply-adds, accumulators in
//     registers; their sum over a time tile is then added to the running total, all
//     in double (see weight_grad_block: the routing parameters' gradients are
//     ill-conditioned in float32).
// For cache and TLB locality the work is done tile by tile: kTile steps of a group of
// up to kGroupChunks chunks (about 1 KiB of each row), so that the rows a tile reads
// (the tile and the L - 1 rows around it) stay in L1/L2 while every chunk of the
// group uses them.
//
// Threads: at::parallel_for over chunks (following torch.set_num_threads). Every value
// is summed in an order fixed by its chunk, step and lag (lag 0 first; dLoss/dw tile by
// tile), never by the split among threads, so results do not depend on the number of
// threads.
//
// Lags k >= T never meet a value inside the window: they contribute nothing forward and
// get zero gradient, so the loops run over min(L, T) lags.
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/zeros.h>
#include <c10/util/Exception.h>
#include <torch/library.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <tuple>
#include <vector>

#include "hbv_simd.h"

namespace delta_hbv {
namespace {

// Bytes of one chunk of entities: one AVX-512 vector (two AVX2 ones).
constexpr int64_t kVectorBytes = 64;
// Output rows per register block of the lag sums (y, dLoss/dx).
constexpr int64_t kSteps = 8;
// Lags per register block of dLoss/dw.
constexpr int64_t kLagBlock = 8;
// Steps per time tile, chunks per group (see above).
constexpr int64_t kTile = 64;
constexpr int64_t kGroupChunks = 16;
// Minimum multiply-adds per task of at::parallel_for (smaller problems run inline).
constexpr int64_t kMinWorkPerTask = 1 << 16;

template <typename S>
constexpr int64_t kLanes = kVectorBytes / static_cast<int64_t>(sizeof(S));

// One chunk of lanes as a GCC/Clang vector: element-wise arithmetic, unaligned loads
// and stores through memcpy (one vector move each). The vector_size attribute needs a
// concrete element type, hence one specialization per dtype.
template <typename S>
struct VecOf;
template <>
struct VecOf<float> {
  typedef float type __attribute__((vector_size(kVectorBytes)));
};
template <>
struct VecOf<double> {
  typedef double type __attribute__((vector_size(kVectorBytes)));
};
template <typename S>
using Vec = typename VecOf<S>::type;
static_assert(sizeof(Vec<float>) == kVectorBytes && sizeof(Vec<double>) == kVectorBytes);

template <typename S>
inline Vec<S> load(const S* p) {
  Vec<S> v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

template <typename S>
inline void store(S* p, const Vec<S>& v) {
  std::memcpy(p, &v, sizeof(v));
}

struct Dims {
  int64_t n;     // series
  int64_t T;     // time steps
  int64_t E;     // entities (row length)
  int64_t L;     // unit-hydrograph ordinates
  int64_t lags;  // min(L, T): the lags that meet the window
};

// ---- lag sums: out = sum_{k <= kmax} w[k] in[k * step], step = -E (forward) or +E (adjoint)

// One output row of one full chunk (w, in, out point at the chunk's first lane).
template <typename S>
inline void lag_sum_row(const S* w, const S* in, S* out, int64_t E, int64_t step, int64_t kmax) {
  Vec<S> acc = load(w) * load(in);
  for (int64_t k = 1; k <= kmax; ++k) acc += load(w + k * E) * load(in + k * step);
  store(out, acc);
}

// kSteps consecutive output rows of one full chunk, all lags (every row they read is
// inside the window).
template <typename S>
inline void lag_sum_rows(const S* w, const S* in, S* out, int64_t E, int64_t step, int64_t lags) {
  Vec<S> acc[kSteps];
  const Vec<S> w0 = load(w);
  for (int64_t r = 0; r < kSteps; ++r) acc[r] = w0 * load(in + r * E);
  for (int64_t k = 1; k < lags; ++k) {
    const Vec<S> wk = load(w + k * E);
    const S* in_k = in + k * step;
    for (int64_t r = 0; r < kSteps; ++r) acc[r] += wk * load(in_k + r * E);
  }
  for (int64_t r = 0; r < kSteps; ++r) store(out + r * E, acc[r]);
}

// One output row of a partial chunk (the last one, width < lanes); same order of sums.
template <typename S>
inline void lag_sum_row_partial(const S* w, const S* in, S* out, int64_t E, int64_t step, int64_t kmax,
                                int64_t width) {
  for (int64_t j = 0; j < width; ++j) {
    S acc = w[j] * in[j];
    for (int64_t k = 1; k <= kmax; ++k) acc += w[k * E + j] * in[k * step + j];
    out[j] = acc;
  }
}

// Rows [t0, t1) of y (CAUSAL: in = x, y[t] = sum_k w[k] x[t - k]) or of dLoss/dx
// (!CAUSAL: in = g, gx[t] = sum_k w[k] g[t + k]) for the chunk at lane offset e0 of
// series n. in and out point at series n's first row.
template <bool CAUSAL, typename S>
void lag_sum_tile(const S* w, const S* in, S* out, const Dims& d, int64_t e0, int64_t width, int64_t t0, int64_t t1) {
  const int64_t E = d.E, step = CAUSAL ? -E : E;
  // Rows whose sum has every lag inside the window: t >= lags - 1 (causal) or
  // t <= T - lags (adjoint).
  const int64_t full_begin = CAUSAL ? d.lags - 1 : 0;
  const int64_t full_end = CAUSAL ? d.T : d.T - d.lags + 1;
  const auto kmax = [&](int64_t t) { return std::min(d.lags - 1, CAUSAL ? t : d.T - 1 - t); };
  if (width < kLanes<S>) {
    for (int64_t t = t0; t < t1; ++t)
      lag_sum_row_partial(w + e0, in + t * E + e0, out + t * E + e0, E, step, kmax(t), width);
    return;
  }
  int64_t t = t0;
  for (; t < t1 && t < full_begin; ++t) lag_sum_row(w + e0, in + t * E + e0, out + t * E + e0, E, step, kmax(t));
  for (; t + kSteps <= std::min(t1, full_end); t += kSteps)
    lag_sum_rows(w + e0, in + t * E + e0, out + t * E + e0, E, step, d.lags);
  for (; t < t1; ++t) lag_sum_row(w + e0, in + t * E + e0, out + t * E + e0, E, step, kmax(t));
}

// ---- dLoss/dw: total[k] += sum_{t in [t0, t1), t >= k} g[t] x[t - k]

// The weight gradients are accumulated in double, also for float32 series: the unit
// hydrograph's softmax then subtracts nearly equal weight gradients from each other, so
// their rounding errors reach the gradients of route_a/route_b amplified a thousandfold
// (float32 sums gave about 1e-3 relative error there). A product of two floats is exact
// in double, so the only rounding left is the double sum's.

// A chunk's lanes in double: one vector for float64, two (low and high half) for float32.
template <typename S>
struct Wide {
  static constexpr int kParts = sizeof(S) == 4 ? 2 : 1;
  Vec<double> part[kParts];
};

template <typename S>
inline Wide<S> widen(const Vec<S>& v) {
  Wide<S> out;
  if constexpr (sizeof(S) == 4) {
    typedef float Half __attribute__((vector_size(kVectorBytes / 2)));
    Half lo, hi;
    std::memcpy(&lo, &v, sizeof(lo));
    std::memcpy(&hi, reinterpret_cast<const char*>(&v) + sizeof(lo), sizeof(hi));
    out.part[0] = __builtin_convertvector(lo, Vec<double>);
    out.part[1] = __builtin_convertvector(hi, Vec<double>);
  } else {
    out.part[0] = v;
  }
  return out;
}

// acc += a * b lane by lane, in double.
template <typename S>
inline void add_product(Wide<S>& acc, const Wide<S>& a, const Wide<S>& b) {
  for (int p = 0; p < Wide<S>::kParts; ++p) acc.part[p] += a.part[p] * b.part[p];
}

// Lags [k0, k0 + KB) of one full chunk; total is the chunk's [lags, lanes] double buffer.
template <int64_t KB, typename S>
void weight_grad_block(const S* g, const S* x, double* total, int64_t E, int64_t k0, int64_t t0, int64_t t1) {
  Wide<S> acc[KB];
  for (int64_t i = 0; i < KB; ++i)
    for (int p = 0; p < Wide<S>::kParts; ++p) acc[i].part[p] = Vec<double>{};
  int64_t t = std::max(t0, k0);
  // The first steps reach back before the window for the block's larger lags.
  for (; t < t1 && t < k0 + KB - 1; ++t) {
    const Wide<S> gt = widen<S>(load(g + t * E));
    for (int64_t i = 0; i < KB; ++i)
      if (t >= k0 + i) add_product(acc[i], gt, widen<S>(load(x + (t - k0 - i) * E)));
  }
  for (; t < t1; ++t) {
    const Wide<S> gt = widen<S>(load(g + t * E));
    const S* xt = x + (t - k0) * E;
    for (int64_t i = 0; i < KB; ++i) add_product(acc[i], gt, widen<S>(load(xt - i * E)));
  }
  constexpr int64_t kDoubleLanes = kLanes<double>;
  for (int64_t i = 0; i < KB; ++i)
    for (int p = 0; p < Wide<S>::kParts; ++p) {
      double* dst = total + (k0 + i) * kLanes<S> + p * kDoubleLanes;
      store(dst, load(dst) + acc[i].part[p]);
    }
}

// Calls weight_grad_block<kb> for a run-time kb in 1 .. kLagBlock (the accumulators
// stay in registers only when their number is a constant).
template <int64_t KB = kLagBlock, typename S>
void weight_grad_lags(int64_t kb, const S* g, const S* x, double* total, int64_t E, int64_t k0, int64_t t0,
                      int64_t t1) {
  if constexpr (KB >= 1) {
    if (kb == KB)
      weight_grad_block<KB>(g, x, total, E, k0, t0, t1);
    else
      weight_grad_lags<KB - 1>(kb, g, x, total, E, k0, t0, t1);
  }
}

// All lags of the chunk at lane offset e0 over steps [t0, t1) of one series (g and x
// point at its first row). Same order of sums for a partial chunk.
template <typename S>
void weight_grad_tile(const S* g, const S* x, double* total, const Dims& d, int64_t e0, int64_t width, int64_t t0,
                      int64_t t1) {
  const int64_t E = d.E;
  if (width < kLanes<S>) {
    for (int64_t k = 0; k < d.lags; ++k)
      for (int64_t j = 0; j < width; ++j) {
        double acc = 0.0;
        for (int64_t t = std::max(t0, k); t < t1; ++t)
          acc += static_cast<double>(g[t * E + e0 + j]) * static_cast<double>(x[(t - k) * E + e0 + j]);
        total[k * kLanes<S> + j] += acc;
      }
    return;
  }
  for (int64_t k0 = 0; k0 < d.lags; k0 += kLagBlock)
    weight_grad_lags(std::min(kLagBlock, d.lags - k0), g + e0, x + e0, total, E, k0, t0, t1);
}

// ---- drivers

// Forward for the entities of chunks [c0, c1).
template <typename S>
void forward_chunks(const S* x, const S* w, S* y, const Dims& d, int64_t c0, int64_t c1) {
  constexpr int64_t W = kLanes<S>;
  for (int64_t g0 = c0; g0 < c1; g0 += kGroupChunks) {
    const int64_t g1 = std::min(c1, g0 + kGroupChunks);
    for (int64_t n = 0; n < d.n; ++n) {
      const S* xn = x + n * d.T * d.E;
      S* yn = y + n * d.T * d.E;
      for (int64_t t0 = 0; t0 < d.T; t0 += kTile) {
        const int64_t t1 = std::min(d.T, t0 + kTile);
        for (int64_t c = g0; c < g1; ++c)
          lag_sum_tile<true>(w, xn, yn, d, c * W, std::min(W, d.E - c * W), t0, t1);
      }
    }
  }
}

// Adjoint for the entities of chunks [c0, c1); gx / gw null when not needed. Series n
// with active[n] == 0 have an all-zero upstream gradient: they are skipped (their gx
// rows are zeroed by the caller, and they add nothing to gw).
template <typename S>
void backward_chunks(const S* g, const S* x, const S* w, S* gx, S* gw, const char* active, const Dims& d,
                     int64_t c0, int64_t c1) {
  constexpr int64_t W = kLanes<S>;
  // Running totals of dLoss/dw of the group's chunks, [chunk, lag, lane], in double.
  std::vector<double> totals(gw != nullptr ? kGroupChunks * d.lags * W : 0);
  for (int64_t g0 = c0; g0 < c1; g0 += kGroupChunks) {
    const int64_t g1 = std::min(c1, g0 + kGroupChunks);
    std::fill(totals.begin(), totals.end(), S(0));
    for (int64_t n = 0; n < d.n; ++n) {
      if (!active[n]) continue;
      const int64_t offset = n * d.T * d.E;
      for (int64_t t0 = 0; t0 < d.T; t0 += kTile) {
        const int64_t t1 = std::min(d.T, t0 + kTile);
        for (int64_t c = g0; c < g1; ++c) {
          const int64_t e0 = c * W, width = std::min(W, d.E - e0);
          if (gx != nullptr) lag_sum_tile<false>(w, g + offset, gx + offset, d, e0, width, t0, t1);
          if (gw != nullptr)
            weight_grad_tile(g + offset, x + offset, totals.data() + (c - g0) * d.lags * W, d, e0, width, t0, t1);
        }
      }
    }
    if (gw != nullptr)
      for (int64_t c = g0; c < g1; ++c)
        for (int64_t k = 0; k < d.lags; ++k) {
          const double* src = totals.data() + ((c - g0) * d.lags + k) * W;
          S* dst = gw + k * d.E + c * W;
          for (int64_t j = 0; j < std::min(W, d.E - c * W); ++j) dst[j] = static_cast<S>(src[j]);
        }
  }
}

// Runs body(c0, c1) over ranges of chunks, threaded.
template <typename S, typename F>
void parallel_chunks(const Dims& d, F&& body) {
  constexpr int64_t W = kLanes<S>;
  const int64_t n_chunks = (d.E + W - 1) / W;
  const int64_t work = std::max<int64_t>(1, d.n * d.T * d.lags * W);
  at::parallel_for(0, n_chunks, std::max<int64_t>(1, kMinWorkPerTask / work), body);
}

Dims check_inputs(const char* op, const at::Tensor& series, const at::Tensor& weights) {
  TORCH_CHECK(series.device().is_cpu() && weights.device().is_cpu(), "delta_hbv::", op,
              " (CPU) needs CPU tensors, got series on ", series.device(), " and weights on ", weights.device());
  TORCH_CHECK(series.scalar_type() == at::kFloat || series.scalar_type() == at::kDouble, "delta_hbv::", op,
              ": series must be float32 or float64, got ", series.scalar_type());
  TORCH_CHECK(weights.scalar_type() == series.scalar_type(), "delta_hbv::", op, ": weights have dtype ",
              weights.scalar_type(), ", series ", series.scalar_type());
  TORCH_CHECK(series.dim() == 3, "delta_hbv::", op, ": series must be [n, T, E], got shape ", series.sizes());
  TORCH_CHECK(weights.dim() == 2, "delta_hbv::", op, ": weights must be [L, E], got shape ", weights.sizes());
  TORCH_CHECK(weights.size(1) == series.size(2), "delta_hbv::", op, ": weights [L, E] have E = ", weights.size(1),
              ", series [n, T, E] E = ", series.size(2));
  TORCH_CHECK(weights.size(0) >= 1, "delta_hbv::", op, ": weights need at least one ordinate (L >= 1)");
  TORCH_CHECK(series.is_contiguous() && weights.is_contiguous(), "delta_hbv::", op,
              ": series and weights must be contiguous");
  Dims d{series.size(0), series.size(1), series.size(2), weights.size(0), 0};
  d.lags = std::min(d.L, d.T);
  return d;
}

// route_forward(series [n, T, E], weights [L, E]) -> routed [n, T, E]
at::Tensor route_forward(const at::Tensor& series, const at::Tensor& weights) {
  const Dims d = check_inputs("route_forward", series, weights);
  at::Tensor out = at::empty(series.sizes(), series.options());
  if (out.numel() == 0) return out;
  AT_DISPATCH_FLOATING_TYPES(series.scalar_type(), "delta_hbv_route_forward", [&] {
    using S = scalar_t;
    const S* x = series.data_ptr<S>();
    const S* w = weights.data_ptr<S>();
    S* y = out.data_ptr<S>();
    parallel_chunks<S>(d, [&](int64_t c0, int64_t c1) { forward_chunks(x, w, y, d, c0, c1); });
  });
  return out;
}

// route_backward(grad [n, T, E], series, weights, need_series, need_weights)
//   -> (grad series [n, T, E] or [0], grad weights [L, E] or [0])
std::tuple<at::Tensor, at::Tensor> route_backward(const at::Tensor& grad, const at::Tensor& series,
                                                  const at::Tensor& weights, bool need_series, bool need_weights) {
  const Dims d = check_inputs("route_backward", series, weights);
  TORCH_CHECK(grad.device().is_cpu(), "delta_hbv::route_backward (CPU): grad is on ", grad.device());
  TORCH_CHECK(grad.scalar_type() == series.scalar_type(), "delta_hbv::route_backward: grad has dtype ",
              grad.scalar_type(), ", series ", series.scalar_type());
  TORCH_CHECK(grad.sizes() == series.sizes(), "delta_hbv::route_backward: grad has shape ", grad.sizes(),
              ", series ", series.sizes());
  TORCH_CHECK(grad.is_contiguous(), "delta_hbv::route_backward: grad must be contiguous");
  const auto opts = series.options();
  at::Tensor gx = need_series ? at::empty(series.sizes(), opts) : at::empty({0}, opts);
  // Zeros: lags k >= T get no gradient, and every entry stays zero when n*T == 0.
  at::Tensor gw = need_weights ? at::zeros(weights.sizes(), opts) : at::empty({0}, opts);
  if (series.numel() == 0 || !(need_series || need_weights)) return {gx, gw};
  AT_DISPATCH_FLOATING_TYPES(series.scalar_type(), "delta_hbv_route_backward", [&] {
    using S = scalar_t;
    const S* g = grad.data_ptr<S>();
    const S* x = series.data_ptr<S>();
    const S* w = weights.data_ptr<S>();
    S* gxp = need_series ? gx.data_ptr<S>() : nullptr;
    S* gwp = need_weights ? gw.data_ptr<S>() : nullptr;
    // HBV routes several flux series at once, and usually only streamflow reaches the
    // loss: the others arrive as all-zero gradients, whose adjoint is zero (skipped).
    const int64_t plane = d.T * d.E;
    std::vector<char> active(d.n);
    for (int64_t n = 0; n < d.n; ++n) {
      active[n] = any_nonzero(g + n * plane, plane);
      if (!active[n] && gxp != nullptr) std::fill_n(gxp + n * plane, plane, S(0));
    }
    parallel_chunks<S>(d, [&](int64_t c0, int64_t c1) {
      backward_chunks(g, x, w, gxp, gwp, active.data(), d, c0, c1);
    });
  });
  return {gx, gw};
}

}  // namespace

// A fragment: hbv_cpu.cpp holds the library's TORCH_LIBRARY block (one per namespace).
TORCH_LIBRARY_FRAGMENT(delta_hbv, m) {
  m.def("route_forward(Tensor series, Tensor weights) -> Tensor");
  m.def(
      "route_backward(Tensor grad, Tensor series, Tensor weights, bool need_series, bool need_weights)"
      " -> (Tensor, Tensor)");
}

TORCH_LIBRARY_IMPL(delta_hbv, CPU, m) {
  m.impl("route_forward", &route_forward);
  m.impl("route_backward", &route_backward);
}

}  // namespace delta_hbv
