// Lane types of the HBV step: a plain scalar, or Vec<E, K>, K native SIMD vectors of E
// processed together.
//
// Why Vec exists. One HBV step of one element is a single chain of about 150
// dependent operations (two powers, several divisions) and the time loop over a block
// of elements is latency-bound: when the compiler vectorizes the scalar loop, each
// iteration is one such chain per vector, and the out-of-order window holds little
// more than one iteration. Vec<E, K> applies every operation to K independent native
// vectors one after another (op(v0), op(v1), op(v2), ...), so that the instruction
// stream carries K chains side by side and the core overlaps their latencies
// (software interleaving; the same idea as unroll-and-jam, e.g. Allen & Kennedy 2001,
// "Optimizing Compilers for Modern Architectures", ch. 8).
//
// The step code (hbv_step.h, hbv_math.h) is written once for both kinds of lane type:
// it uses select(mask, a, b) instead of `?:`, masks combined with & and |, and the
// bit-level helpers below, which have a scalar and a Vec overload each. A comparison of
// scalars gives bool, of Vecs a Vec of same-sized signed integers (all ones / zero per
// lane), as GCC's vector extension does.
#pragma once

#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>
#include <utility>

#if !defined(__CUDACC__) && !defined(__HIPCC__) && (defined(__x86_64__) || defined(__i386__))
#include <immintrin.h>
#endif

#ifndef HBV_HD
#if defined(__CUDACC__) || defined(__HIPCC__)
#define HBV_HD __host__ __device__ __forceinline__
#else
#define HBV_HD inline __attribute__((always_inline))
#endif
#endif

// Lambdas are not always_inline by default; the step's lambdas must be inlined (a call
// per operation would put every value through memory).
#ifndef HBV_LAMBDA_INLINE
#define HBV_LAMBDA_INLINE __attribute__((always_inline))
#endif

namespace delta_hbv {

// ---------------------------------------------------------------- scalar helpers

template <typename To, typename From>
HBV_HD To bit_cast(From from) {
  static_assert(sizeof(To) == sizeof(From));
  To to;
  std::memcpy(&to, &from, sizeof to);
  return to;
}

// c ? a : b, lane by lane for Vecs.
template <typename S>
  requires std::is_arithmetic_v<S>
HBV_HD S select(bool c, S a, S b) {
  return c ? a : b;
}

// The scalar element type of a lane type (S itself for scalars).
template <typename S>
struct ElementOf {
  using type = S;
};
template <typename S>
using element_t = typename ElementOf<S>::type;

#if !defined(__CUDACC__) && !defined(__HIPCC__)

// ---------------------------------------------------------------- Vec

// Native SIMD register size in bytes for the target the code is compiled for.
#if defined(__AVX512F__)
constexpr int kVectorBytes = 64;
#elif defined(__AVX__)
constexpr int kVectorBytes = 32;
#else
constexpr int kVectorBytes = 16;
#endif

// Signed integer type of the same size as E (the lane type of a comparison's result).
template <typename E>
using MaskElem = std::conditional_t<sizeof(E) == 8, int64_t, std::conditional_t<sizeof(E) == 4, int32_t, void>>;

// K native vectors of E (kLanes * K lanes); lane i of the whole is lane i % kLanes of
// vector i / kLanes, so load/store map it to K consecutive runs of memory.
template <typename E, int K>
struct Vec {
  static_assert(K >= 1);
  static constexpr int kLanes = kVectorBytes / static_cast<int>(sizeof(E));
  static constexpr int kSize = kLanes * K;
  typedef E Native __attribute__((vector_size(kVectorBytes)));
  using Elem = E;

  Native v[K];

  Vec() = default;
  template <typename A>
    requires std::is_arithmetic_v<A>
  explicit HBV_HD Vec(A x) {
    const Native b = Native{} + static_cast<E>(x);
    each([&](auto q) HBV_LAMBDA_INLINE { v[q] = b; });
  }

  // Calls f(std::integral_constant<int, q>) for q = 0 .. K-1: constant indices, so that
  // the compiler keeps every v[q] in registers.
  template <typename F>
  static HBV_HD void each(F&& f) {
    [&]<int... Q>(std::integer_sequence<int, Q...>) HBV_LAMBDA_INLINE {
      (f(std::integral_constant<int, Q>{}), ...);
    }(std::make_integer_sequence<int, K>{});
  }

  // The Vec whose vector q is f(q).
  template <typename R = Vec, typename F>
  static HBV_HD R make(F&& f) {
    R r;
    each([&](auto q) HBV_LAMBDA_INLINE { r.v[q] = f(q); });
    return r;
  }

  static HBV_HD Vec load(const E* p) {
    return make([&](auto q) HBV_LAMBDA_INLINE {
      Native x;
      std::memcpy(&x, p + q * kLanes, sizeof x);
      return x;
    });
  }

  HBV_HD void store(E* p) const {
    each([&](auto q) HBV_LAMBDA_INLINE { std::memcpy(p + q * kLanes, &v[q], sizeof v[q]); });
  }
};

template <typename E, int K>
struct ElementOf<Vec<E, K>> {
  using type = E;
};

template <typename T>
inline constexpr bool is_vec_v = false;
template <typename E, int K>
inline constexpr bool is_vec_v<Vec<E, K>> = true;

// Vec op Vec, Vec op scalar and scalar op Vec (the scalar converted to E); arithmetic
// and bitwise operators give a Vec<E, K>, comparisons a Vec<MaskElem<E>, K>.
#define DELTA_HBV_VEC_BINARY(OP, R)                                                   \
  template <typename E, int K>                                                        \
  HBV_HD Vec<R, K> operator OP(const Vec<E, K>& a, const Vec<E, K>& b) {              \
    return Vec<R, K>::make([&](auto q) HBV_LAMBDA_INLINE { return a.v[q] OP b.v[q]; });                 \
  }                                                                                   \
  template <typename E, int K>                                                        \
  HBV_HD Vec<R, K> operator OP(const Vec<E, K>& a, std::type_identity_t<E> b) {       \
    return a OP Vec<E, K>(b);                                                         \
  }                                                                                   \
  template <typename E, int K>                                                        \
  HBV_HD Vec<R, K> operator OP(std::type_identity_t<E> a, const Vec<E, K>& b) {       \
    return Vec<E, K>(a) OP b;                                                         \
  }

DELTA_HBV_VEC_BINARY(+, E)
DELTA_HBV_VEC_BINARY(-, E)
DELTA_HBV_VEC_BINARY(*, E)
DELTA_HBV_VEC_BINARY(/, E)
DELTA_HBV_VEC_BINARY(&, E)
DELTA_HBV_VEC_BINARY(|, E)
DELTA_HBV_VEC_BINARY(<, MaskElem<E>)
DELTA_HBV_VEC_BINARY(<=, MaskElem<E>)
DELTA_HBV_VEC_BINARY(>, MaskElem<E>)
DELTA_HBV_VEC_BINARY(>=, MaskElem<E>)
DELTA_HBV_VEC_BINARY(==, MaskElem<E>)
DELTA_HBV_VEC_BINARY(!=, MaskElem<E>)
#undef DELTA_HBV_VEC_BINARY

template <typename E, int K>
HBV_HD Vec<E, K> operator-(const Vec<E, K>& a) {
  return Vec<E, K>::make([&](auto q) HBV_LAMBDA_INLINE { return -a.v[q]; });
}

template <typename E, int K>
HBV_HD Vec<E, K> operator>>(const Vec<E, K>& a, int n) {
  return Vec<E, K>::make([&](auto q) HBV_LAMBDA_INLINE { return a.v[q] >> n; });
}

template <typename E, int K>
HBV_HD Vec<E, K> operator<<(const Vec<E, K>& a, int n) {
  return Vec<E, K>::make([&](auto q) HBV_LAMBDA_INLINE { return a.v[q] << n; });
}

template <typename E, int K>
HBV_HD Vec<E, K>& operator+=(Vec<E, K>& a, const Vec<E, K>& b) {
  return a = a + b;
}

template <typename E, int K>
HBV_HD Vec<E, K>& operator-=(Vec<E, K>& a, const Vec<E, K>& b) {
  return a = a - b;
}

// mask ? a : b lane by lane (mask lanes all ones or zero, as comparisons give them).
template <typename E, int K>
HBV_HD Vec<E, K> select(const Vec<MaskElem<E>, K>& mask, const Vec<E, K>& a, const Vec<E, K>& b) {
  return Vec<E, K>::make([&](auto q) HBV_LAMBDA_INLINE { return mask.v[q] ? a.v[q] : b.v[q]; });
}

// The same bits seen as another element type of the same size.
template <typename To, typename E, int K>
HBV_HD Vec<To, K> bits_as(const Vec<E, K>& a) {
  static_assert(sizeof(To) == sizeof(E));
  return Vec<To, K>::make([&](auto q) HBV_LAMBDA_INLINE { return (typename Vec<To, K>::Native)a.v[q]; });
}

// Numeric conversion lane by lane (float to integer truncates, as static_cast does).
template <typename To, typename E, int K>
HBV_HD Vec<To, K> convert(const Vec<E, K>& a) {
  static_assert(sizeof(To) == sizeof(E));
  return Vec<To, K>::make([&](auto q) HBV_LAMBDA_INLINE { return __builtin_convertvector(a.v[q], typename Vec<To, K>::Native); });
}

// a * b + c with one rounding where the target has FMA.
template <typename E, int K>
HBV_HD Vec<E, K> mul_add(const Vec<E, K>& a, const Vec<E, K>& b, const Vec<E, K>& c) {
  using N = typename Vec<E, K>::Native;
  return Vec<E, K>::make([&](auto q) HBV_LAMBDA_INLINE -> N {
#if defined(__AVX512F__)
    if constexpr (sizeof(N) == 64 && std::is_same_v<E, float>)
      return (N)_mm512_fmadd_ps((__m512)a.v[q], (__m512)b.v[q], (__m512)c.v[q]);
    if constexpr (sizeof(N) == 64 && std::is_same_v<E, double>)
      return (N)_mm512_fmadd_pd((__m512d)a.v[q], (__m512d)b.v[q], (__m512d)c.v[q]);
#endif
#if defined(__FMA__)
    if constexpr (sizeof(N) == 32 && std::is_same_v<E, float>)
      return (N)_mm256_fmadd_ps((__m256)a.v[q], (__m256)b.v[q], (__m256)c.v[q]);
    if constexpr (sizeof(N) == 32 && std::is_same_v<E, double>)
      return (N)_mm256_fmadd_pd((__m256d)a.v[q], (__m256d)b.v[q], (__m256d)c.v[q]);
    if constexpr (sizeof(N) == 16 && std::is_same_v<E, float>)
      return (N)_mm_fmadd_ps((__m128)a.v[q], (__m128)b.v[q], (__m128)c.v[q]);
    if constexpr (sizeof(N) == 16 && std::is_same_v<E, double>)
      return (N)_mm_fmadd_pd((__m128d)a.v[q], (__m128d)b.v[q], (__m128d)c.v[q]);
#endif
    return a.v[q] * b.v[q] + c.v[q];
  });
}

#endif  // !__CUDACC__ && !__HIPCC__

// ---------------------------------------------------------------- loads and stores

// The lane value at p: *p for scalars, Vec::load for Vecs.
template <typename L, typename E>
HBV_HD L load(const E* p) {
  if constexpr (std::is_arithmetic_v<L>) {
    return *p;
  } else {
    return L::load(p);
  }
}

template <typename L, typename E>
HBV_HD void store(E* p, const L& x) {
  if constexpr (std::is_arithmetic_v<L>) {
    *p = x;
  } else {
    x.store(p);
  }
}

// Whether any of x[0, n) is non-zero (or NaN). Scans in chunks and stops at the first
// chunk that has one, so an array with a non-zero near its start costs a few cache lines.
template <typename S>
inline bool any_nonzero(const S* x, int64_t n) {
  constexpr int64_t kChunk = 1024;
  for (int64_t i = 0; i < n; i += kChunk) {
    const int64_t end = n < i + kChunk ? n : i + kChunk;
    bool found = false;
    for (int64_t j = i; j < end; ++j) found |= (x[j] != S(0));
    if (found) return true;
  }
  return false;
}

}  // namespace delta_hbv
