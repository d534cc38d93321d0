// pow(x, b) together with log(x), for x >= 0, written so that compilers vectorize it.
//
// The HBV step needs x^b twice per step (recharge curve, ET curve) and, in the
// adjoint, log x for the exponent's gradient. Library pow/log are opaque calls that
// stop a loop from being vectorized, so on the CPU both are computed here from
// straight-line arithmetic:
//
//   log x = k ln2 + 2 atanh(s),  x = 2^k z, z in [sqrt(1/2), sqrt(2)), s = (z-1)/(z+1)
//   exp y = 2^j exp(r),          j = round(y / ln2), |r| <= ln2 / 2,   x^b = exp(b log x)
//
// with the odd atanh series and the exp Taylor series truncated below the working
// precision. The range reduction follows Cody & Waite (1980, "Software Manual for the
// Elementary Functions", Prentice-Hall) and Tang (1989, ACM TOMS 15:144), with ln 2
// split into a high part, exact in products with small integers, and a low part.
//
// Accuracy (measured against long-double pow for x in [1e-8, 3], b in [0.3, 6]).
// double: every step in double; x^b within |b log x| * 1.1e-16 relative of the exact
// value (1.4e-14 worst case), log x within 2e-16. float: every step in float (twice
// the vector width, no conversions); log x within 1.4 ulp; x^b within about
// (1 + |b log x|) ulp, i.e. an absolute error below 7e-8 for results in [0, 1], the
// range HBV clamps them to (glibc's powf, which torch's reference loop uses, is
// within 1 ulp; the difference shows as float32 round-off in the model's outputs).
//
// Special values follow C's pow for x >= 0 (x^0 = 1; 0^b = 0 or inf for b > 0 or
// < 0; inf^b = inf or 0; NaN propagates). Negative x gives NaN (HBV's bases are
// storage ratios, >= 0 by construction). Device code (nvcc/hipcc) uses the
// platform's pow and log instead.
#pragma once

#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

#include "hbv_simd.h"

namespace delta_hbv {

template <typename S>
struct PowLog {
  S value;  // x^b
  S log;    // log x
};

#if !defined(__CUDA_ARCH__) && !defined(__HIP_DEVICE_COMPILE__)

// a * b + c, fused where the target has FMA (more accurate, and one instruction); the
// Vec overload is in hbv_simd.h.
template <typename T>
  requires std::is_arithmetic_v<T>
HBV_HD T mul_add(T a, T b, T c) {
#ifdef __FMA__
  if constexpr (std::is_same_v<T, float>) {
    return __builtin_fmaf(a, b, c);
  } else {
    return __builtin_fma(a, b, c);
  }
#else
  return a * b + c;
#endif
}

// Floating-point constants and bit layouts of float and double.
template <typename T>
struct Fmt;

template <>
struct Fmt<double> {
  using Bits = uint64_t;
  using Int = int64_t;
  static constexpr int kMantissa = 52;
  static constexpr Int kBias = 1023;
  static constexpr Bits kSqrtHalf = 0x3fe6a09e667f3bcdULL;  // bits of sqrt(1/2)
  static constexpr Bits kExponentMask = Bits(0xfff) << 52;
  static constexpr double kLn2Hi = 6.93147180369123816490e-01;  // low 32 bits zero
  static constexpr double kLn2Lo = 1.90821492927058770002e-10;
  static constexpr double kInvLn2 = 1.44269504088896338700e+00;
  static constexpr double kRoundShift = 0x1.8p52;  // adding it rounds to an integer
  static constexpr double kTiny = 0x1p-1000, kTinyScale = 0x1p200, kTinyLog2 = 200.0;
  static constexpr double kExpMax = 709.782712893384, kExpClampHi = 710.0, kExpClampLo = -746.0;
  static constexpr int kLogTerms = 10;  // atanh series: s^19 term, error ~1e-17
  static constexpr int kExpTerms = 14;  // Taylor series: r^13 / 13!, error ~4e-18
};

template <>
struct Fmt<float> {
  using Bits = uint32_t;
  using Int = int32_t;
  static constexpr int kMantissa = 23;
  static constexpr Int kBias = 127;
  static constexpr Bits kSqrtHalf = 0x3f3504f3u;
  static constexpr Bits kExponentMask = Bits(0x1ff) << 23;
  static constexpr float kLn2Hi = 0.693145751953125f;  // low 12 bits zero
  static constexpr float kLn2Lo = 1.428606765330187045e-06f;
  static constexpr float kInvLn2 = 1.44269504088896341f;
  static constexpr float kRoundShift = 0x1.8p23f;
  static constexpr float kTiny = 0x1p-100f, kTinyScale = 0x1p60f, kTinyLog2 = 60.0f;
  static constexpr float kExpMax = 88.72283905f, kExpClampHi = 89.0f, kExpClampLo = -104.0f;
  static constexpr int kLogTerms = 5;  // s^9 term, error ~6e-10
  static constexpr int kExpTerms = 8;  // r^7 / 7!, error ~3e-9
};

// 1 / i!, i = 0 .. 15
constexpr double kInvFactorial[16] = {
    1.0, 1.0, 1.0 / 2, 1.0 / 6, 1.0 / 24, 1.0 / 120, 1.0 / 720, 1.0 / 5040, 1.0 / 40320, 1.0 / 362880,
    1.0 / 3628800, 1.0 / 39916800, 1.0 / 479001600, 1.0 / 6227020800.0, 1.0 / 87178291200.0,
    1.0 / 1307674368000.0};

// Bit-level views used by log_positive and exp_any, for scalars and Vecs alike.
template <typename T>
HBV_HD auto bits_of(T x) {  // the bits of x as unsigned integers
  using Bits = typename Fmt<element_t<T>>::Bits;
  if constexpr (std::is_arithmetic_v<T>) {
    return bit_cast<Bits>(x);
  } else {
    return bits_as<Bits>(x);
  }
}

template <typename T, typename U>
HBV_HD T from_bits(U u) {  // the real number with bits u (signed or unsigned integers)
  if constexpr (std::is_arithmetic_v<T>) {
    return bit_cast<T>(static_cast<typename Fmt<T>::Bits>(u));
  } else {
    return bits_as<element_t<T>>(u);
  }
}

template <typename U>
HBV_HD auto as_signed(U u) {  // unsigned integers reinterpreted as signed
  if constexpr (std::is_arithmetic_v<U>) {
    return static_cast<std::make_signed_t<U>>(u);
  } else {
    return bits_as<std::make_signed_t<element_t<U>>>(u);
  }
}

template <typename T, typename I>
HBV_HD T to_real(I i) {  // integer to real, exactly for the small integers used here
  if constexpr (std::is_arithmetic_v<T>) {
    return static_cast<T>(i);
  } else {
    return convert<element_t<T>>(i);
  }
}

template <typename T>
HBV_HD auto to_int(T x) {  // real to integer, truncating (x holds integers here)
  using Int = typename Fmt<element_t<T>>::Int;
  if constexpr (std::is_arithmetic_v<T>) {
    return static_cast<Int>(x);
  } else {
    return convert<Int>(x);
  }
}

// sum_{i < N} c(i) x^i by Estrin's scheme (Estrin 1960; Knuth, TAOCP vol. 2, 4.6.4):
// pairs c(2i) + c(2i+1) x, then pairs of those with x^2, and so on. Its chain of
// dependent operations is about 2 log2(N) long instead of Horner's N - 1
// multiply-adds; the step loop is latency-bound, so the few extra multiplications
// cost nothing. c(i) returns the scalar coefficient.
template <typename T, int N, typename C>
HBV_HD T estrin(T x, C c) {
  T a[N];
#pragma GCC unroll 16
  for (int i = 0; i < N; ++i) a[i] = T(c(i));
  int n = N;
  T xp = x;
#pragma GCC unroll 8
  for (int level = 0; level < 5 && n > 1; ++level) {
#pragma GCC unroll 16
    for (int i = 0; i < n / 2; ++i) a[i] = mul_add(a[2 * i + 1], xp, a[2 * i]);
    if (n % 2) a[n / 2] = a[n - 1];
    n = (n + 1) / 2;
    xp = xp * xp;
  }
  return a[0];
}

// Natural log of a positive finite number (subnormals included).
template <typename T>
HBV_HD T log_positive(T x) {
  using E = element_t<T>;
  using F = Fmt<E>;
  const auto tiny = x < F::kTiny;
  x = select(tiny, x * F::kTinyScale, x);
  // x = 2^k z with z in [sqrt(1/2), sqrt(2)) (the offset trick of musl's log).
  const auto ix = bits_of(x);
  const auto tmp = ix - F::kSqrtHalf;
  const auto k = as_signed(tmp) >> F::kMantissa;
  const T z = from_bits<T>(ix - (tmp & F::kExponentMask));
  const T kd = to_real<T>(k) - select(tiny, T(F::kTinyLog2), T(0));
  // log z = log(1 + f) = 2 atanh(s) = f - s f + s R, R = 2 s^2/3 + 2 s^4/5 + ...;
  // evaluated as f - (f^2/2 - s (f^2/2 + R)) so that the exact f dominates (fdlibm's
  // arrangement; below one ulp).
  const T f = z - E(1);
  const T s = f / (E(2) + f);
  const T s2 = s * s;
  const T big_r = s2 * estrin<T, F::kLogTerms - 1>(s2, [](int i) { return E(2) / E(2 * i + 3); });
  const T hfsq = E(0.5) * f * f;
  const T lz = f - (hfsq - s * (hfsq + big_r));
  return mul_add(kd, T(F::kLn2Hi), mul_add(kd, T(F::kLn2Lo), lz));
}

// exp(y) for any y (inf or 0 beyond the range; NaN propagates).
template <typename T>
HBV_HD T exp_any(T y) {
  using E = element_t<T>;
  using F = Fmt<E>;
  const T yc = select(y > F::kExpClampHi, T(F::kExpClampHi), select(y < F::kExpClampLo, T(F::kExpClampLo), y));
  const T jd = (yc * F::kInvLn2 + F::kRoundShift) - F::kRoundShift;  // round to nearest
  const T r = mul_add(-jd, T(F::kLn2Lo), mul_add(-jd, T(F::kLn2Hi), yc));
  const T poly = estrin<T, F::kExpTerms>(r, [](int i) { return E(kInvFactorial[i]); });
  // 2^j in two factors so that subnormal results and j = max exponent + 1 stay representable.
  const auto j = to_int(jd);
  const auto j1 = j >> 1;
  const auto j2 = j - j1;
  const T scale1 = from_bits<T>((j1 + F::kBias) << F::kMantissa);
  const T scale2 = from_bits<T>((j2 + F::kBias) << F::kMantissa);
  const T out = poly * scale1 * scale2;
  return select(y != y, y, select(y > F::kExpMax, T(std::numeric_limits<E>::infinity()), out));
}

// x^b and log x for x >= 0 (see the header comment for accuracy and special values).
template <typename S>
HBV_HD PowLog<S> pow_log(S x, S b) {
  using E = element_t<S>;
  static_assert(std::is_same_v<E, float> || std::is_same_v<E, double>);
  constexpr E inf = std::numeric_limits<E>::infinity();
  const auto regular = (x > E(0)) & (x < inf);
  const S lx_reg = log_positive<S>(select(regular, x, S(1)));
  // log 0 = -inf, log inf = inf, log NaN = NaN (negative x: x itself; its power is NaN anyway)
  const S lx = select(regular, lx_reg, select(x == E(0), S(-inf), x));
  const S v_reg = exp_any<S>(b * lx_reg);
  // 0^b and inf^b (b != 0): 0 or inf; written with selects of values only (no
  // selects between comparisons), which vectorizers handle.
  const S e = select(x == E(0), -b, b);
  const S v_edge = select(e > E(0), S(inf), S(0));
  const S v_irregular = select(x >= E(0), v_edge, S(std::numeric_limits<E>::quiet_NaN()));
  S v = select(regular, v_reg, v_irregular);
  v = select(b == E(0), S(1), v);
  v = select(b != b, b, v);
  return {v, lx};
}

#else  // device code: the platform's pow and log

template <typename S>
HBV_HD PowLog<S> pow_log(S x, S b) {
  return {pow(x, b), log(x)};
}

#endif

}  // namespace delta_hbv
