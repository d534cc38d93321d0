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

#ifndef HBV_HD
#if defined(__CUDACC__) || defined(__HIPCC__)
#define HBV_HD __host__ __device__ __forceinline__
#else
#define HBV_HD inline __attribute__((always_inline))
#endif
#endif

namespace delta_hbv {

template <typename S>
struct PowLog {
  S value;  // x^b
  S log;    // log x
};

#if !defined(__CUDA_ARCH__) && !defined(__HIP_DEVICE_COMPILE__)

template <typename To, typename From>
HBV_HD To bit_cast(From from) {
  static_assert(sizeof(To) == sizeof(From));
  To to;
  std::memcpy(&to, &from, sizeof to);
  return to;
}

// a * b + c, fused where the target has FMA (more accurate, and one instruction).
template <typename T>
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

// Natural log of a positive finite number (subnormals included).
template <typename T>
HBV_HD T log_positive(T x) {
  using F = Fmt<T>;
  using Bits = typename F::Bits;
  using Int = typename F::Int;
  const bool tiny = x < F::kTiny;
  x = tiny ? x * F::kTinyScale : x;
  // x = 2^k z with z in [sqrt(1/2), sqrt(2)) (the offset trick of musl's log).
  const Bits ix = bit_cast<Bits>(x);
  const Bits tmp = ix - F::kSqrtHalf;
  const Int k = static_cast<Int>(tmp) >> F::kMantissa;
  const T z = bit_cast<T>(static_cast<Bits>(ix - (tmp & F::kExponentMask)));
  const T kd = static_cast<T>(k) - (tiny ? F::kTinyLog2 : T(0));
  // log z = log(1 + f) = 2 atanh(s) = f - s f + s R, R = 2 s^2/3 + 2 s^4/5 + ...;
  // evaluated as f - (f^2/2 - s (f^2/2 + R)) so that the exact f dominates (fdlibm's
  // arrangement; below one ulp).
  const T f = z - T(1);
  const T s = f / (T(2) + f);
  const T s2 = s * s;
  T poly = T(2) / T(2 * F::kLogTerms - 1);
#pragma GCC unroll 16
  for (int i = F::kLogTerms - 2; i >= 1; --i) poly = mul_add(poly, s2, T(2) / T(2 * i + 1));
  const T big_r = s2 * poly;
  const T hfsq = T(0.5) * f * f;
  const T lz = f - (hfsq - s * (hfsq + big_r));
  return mul_add(kd, F::kLn2Hi, mul_add(kd, F::kLn2Lo, lz));
}

// exp(y) for any y (inf or 0 beyond the range; NaN propagates).
template <typename T>
HBV_HD T exp_any(T y) {
  using F = Fmt<T>;
  using Bits = typename F::Bits;
  using Int = typename F::Int;
  const T yc = y > F::kExpClampHi ? F::kExpClampHi : (y < F::kExpClampLo ? F::kExpClampLo : y);
  const T jd = (yc * F::kInvLn2 + F::kRoundShift) - F::kRoundShift;  // round to nearest
  const T r = mul_add(-jd, F::kLn2Lo, mul_add(-jd, F::kLn2Hi, yc));
  // Horner form of sum_{i < kExpTerms} r^i / i!
  T poly = T(kInvFactorial[F::kExpTerms - 1]);
#pragma GCC unroll 16
  for (int i = F::kExpTerms - 2; i >= 0; --i) poly = mul_add(poly, r, T(kInvFactorial[i]));
  // 2^j in two factors so that subnormal results and j = max exponent + 1 stay representable.
  const Int j = static_cast<Int>(jd);
  const Int j1 = j >> 1;
  const Int j2 = j - j1;
  const T scale1 = bit_cast<T>(static_cast<Bits>(j1 + F::kBias) << F::kMantissa);
  const T scale2 = bit_cast<T>(static_cast<Bits>(j2 + F::kBias) << F::kMantissa);
  const T out = poly * scale1 * scale2;
  return y != y ? y : (y > F::kExpMax ? std::numeric_limits<T>::infinity() : out);
}

// x^b and log x for x >= 0 (see the header comment for accuracy and special values).
template <typename S>
HBV_HD PowLog<S> pow_log(S x, S b) {
  static_assert(std::is_same_v<S, float> || std::is_same_v<S, double>);
  constexpr S inf = std::numeric_limits<S>::infinity();
  const bool regular = (x > S(0)) & (x < inf);
  const S lx_reg = log_positive<S>(regular ? x : S(1));
  // log 0 = -inf, log inf = inf, log NaN = NaN (negative x: x itself; its power is NaN anyway)
  const S lx = regular ? lx_reg : (x == S(0) ? -inf : x);
  const S v_reg = exp_any<S>(b * lx_reg);
  // 0^b and inf^b (b != 0): 0 or inf; written with selects of values only (no
  // selects between comparisons), which vectorizers handle.
  const S e = x == S(0) ? -b : b;
  const S v_edge = e > S(0) ? inf : S(0);
  const S v_irregular = x >= S(0) ? v_edge : std::numeric_limits<S>::quiet_NaN();
  S v = regular ? v_reg : v_irregular;
  v = b == S(0) ? S(1) : v;
  v = b != b ? b : v;
  return {v, lx};
}

#else  // device code: the platform's pow and log

template <typename S>
HBV_HD PowLog<S> pow_log(S x, S b) {
  return {pow(x, b), log(x)};
}

#endif

}  // namespace delta_hbv
