// One HBV time step and its discrete adjoint, elementwise (one basin component).
//
// Shared by every compiled backend of delta_hydro.hbv: the CPU loops of hbv_cpu.cpp
// include it, and a CUDA (or HIP) translation unit can include it unchanged, since
// every function here is marked HBV_HD (__host__ __device__ under nvcc) and uses
// no library code beyond pow and log (hbv_math.h).
//
// The forward step is, operation by operation and in the same evaluation order, the
// step of delta_hydro/hbv/reference.py (HBV after Bergstrom 1976, 1992 and Seibert &
// Vis 2012; multi-component form of Feng et al. 2022, WRR 58:e2022WR032404; capillary
// rise and ET exponent of Song et al. 2024, HESS; leakage of Song et al. 2025, WRR,
// doi:10.1029/2024WR038928). The adjoint is reverse-mode differentiation of exactly
// these operations (the discrete adjoint, e.g. Griewank & Walther 2008, "Evaluating
// Derivatives", 2nd ed., SIAM), with PyTorch's subgradients at the kinks:
//
//   clamp(x, min=lo)        passes the gradient where x >= lo (inclusive)
//   clamp(x, max=hi)        passes it where x <= hi
//   clamp(x, lo, hi)        passes it where lo <= x <= hi
//   minimum(a, b)           a gets it where a < b, b where b < a, each half at a == b
//   (x >= TT) indicator     no gradient
//   pow(x, b)               d/dx = b x^(b-1) (0 where b == 0),
//                           d/db = x^b log x (0 where x == 0 and b >= 0)
//
// The adjoint evaluates a few derivatives in a cheaper but equivalent form (x^(b-1)
// as x^b / x; division by FC and LP FC as multiplication by their reciprocals), so
// its values agree with autograd's on the reference loop up to rounding.
#pragma once

#include <cmath>
#include <limits>

#include "hbv_math.h"

namespace delta_hbv {

// Parameter slots (the order of the op's parameter list).
enum Param : int {
  P_BETA, P_FC, P_K0, P_K1, P_K2, P_LP, P_PERC, P_UZL, P_TT, P_CFMAX, P_CFR, P_CWH,
  P_BETAET, P_C, P_LF, N_PARAMS
};

// State slots: SNOWPACK, MELTWATER, SM, SUZ, SLZ.
enum State : int { S_SNOW, S_MELT, S_SM, S_SUZ, S_SLZ, N_STATES };

// Flux slots (component values before averaging); CAPILLARY and LEAKAGE only exist
// when the process is on.
enum Flux : int {
  F_Q, F_Q0, F_Q1, F_Q2, F_AET, F_SWE, F_RECHARGE, F_EXCESS, F_EVAPFACTOR, F_TOSOIL,
  F_PERC, F_CAPILLARY, F_LEAKAGE, N_FLUXES
};

// Storage floor of SM and SLZ (mm), reference.NEARZERO.
template <typename S>
HBV_HD S nearzero() { return S(1e-5); }

// torch.clamp(x, min=lo); NaN propagates.
template <typename S>
HBV_HD S clamp_min(S x, S lo) { return select(x < lo, lo, x); }

// torch.clamp(x, max=hi); NaN propagates.
template <typename S>
HBV_HD S clamp_max(S x, S hi) { return select(x > hi, hi, x); }

// torch.clamp(x, 0, 1); NaN propagates.
template <typename S>
HBV_HD S clamp01(S x) { return select(x < S(0), S(0), select(x > S(1), S(1), x)); }

// torch.minimum(a, b); NaN in either propagates.
template <typename S>
HBV_HD S minimum(S a, S b) {
  S m = select(b < a, b, a);
  return select(a != a, a, m);
}

// The gradient g of minimum(a, b) split between a and b (torch: all to the smaller,
// half each at a tie).
template <typename S>
struct MinimumGrads {
  S a, b;
};

template <typename S>
HBV_HD MinimumGrads<S> minimum_grads(S a, S b, S g) {
  const S share = select(a < b, S(1), select(a == b, S(0.5), S(0)));
  return {share * g, (S(1) - share) * g};
}

// Gradient factor of pow(x, b) with respect to x, given r = x^b. torch: b x^(b-1),
// 0 where b == 0. For x > 0 the identity x^(b-1) = r / x saves a pow (the two differ
// by rounding only); at x == 0, x^(b-1) is 0, 1 or inf for b > 1, == 1, < 1.
template <typename S>
HBV_HD S pow_dbase(S x, S b, S r) {
  const S at_zero = select(b > S(1), S(0), select(b == S(1), S(1), b * std::numeric_limits<element_t<S>>::infinity()));
  return select(b == S(0), S(0), select(x == S(0), at_zero, b * (r / x)));
}

// Gradient factor of pow(x, b) with respect to b, given r = x^b and lx = log x:
// r log x, 0 where x == 0 and b >= 0 (torch).
template <typename S>
HBV_HD S pow_dexp(S x, S b, S r, S lx) {
  return select((x == S(0)) & (b >= S(0)), S(0), r * lx);
}

// Every intermediate of one step that the adjoint needs (names as in the adjoint).
template <typename S>
struct StepWork {
  S rain_on, rain, sp1, am, pm, melt, sp2, mw1, ar, pr, refr, sp3, mw2, at, tosoil;
  S x1, lx1, w0, wet, inflow, recharge, sm1, ae, excess, sm2, den, x2, lx2, r2, ef, pe, aet, dv, sm3;
  S x3, m3, om, ac, cap, su, sd;  // capillary rise
  S suz1, perc, suz2, aq, q0, suz3, q1, slz1, slz2, sl, slz3, leak, q2;
};

// Receives nothing: forward_step's output sink when only the storages are wanted.
struct NoOutput {
  template <typename S>
  HBV_HD void flux(Flux, const S&) const {}
  template <typename S>
  HBV_HD void power(int, const S&, const S&) const {}
};

// One step. p: parameters of this step (p[P_...]: an array, or an accessor that loads
// each parameter where it is used); P, T, E: precipitation, temperature, PET;
// s: storages at the start of the step; w: intermediates; s_out: storages at the end
// (may alias s). out receives, as soon as each is computed, the per-component value of
// every flux (out.flux(F_..., value)) and the two powers with their bases' logs
// (out.power(0, (SM/FC)^BETA, log(SM/FC)), out.power(1, (SM/(LP FC))^BETAET, log ...)
// with BETAET); handing them over at once keeps them out of registers for the rest of
// the step. POW_GIVEN: the two powers and logs (w.w0, w.lx1, w.r2, w.lx2) are already
// in w (saved by the forward pass), so the recomputation in the backward pass skips them.
template <typename S, bool BETAET, bool CAP, bool LEAK, bool POW_GIVEN = false, typename Params = const S*,
          typename Out = NoOutput>
HBV_HD void forward_step(const Params& p, S P, S T, S E, const S* s, StepWork<S>& w, S* s_out, Out&& out) {
  const S zero = S(0);
  const S nz = nearzero<S>();
  const S sp = s[S_SNOW], mw = s[S_MELT], sm = s[S_SM], suz = s[S_SUZ], slz = s[S_SLZ];
  const S tt = p[P_TT], cfmax = p[P_CFMAX], fc = p[P_FC];
  // 1. rain / snow
  w.rain_on = select(T >= tt, S(1), zero);
  w.rain = P * w.rain_on;
  const S snow = P - w.rain;
  w.sp1 = sp + snow;
  // 2. melt
  w.am = cfmax * (T - tt);
  w.pm = clamp_min(w.am, zero);
  w.melt = minimum(w.pm, w.sp1);
  w.sp2 = w.sp1 - w.melt;
  w.mw1 = mw + w.melt;
  // 3. refreezing
  w.ar = p[P_CFR] * cfmax * (tt - T);
  w.pr = clamp_min(w.ar, zero);
  w.refr = minimum(w.pr, w.mw1);
  w.sp3 = w.sp2 + w.refr;
  out.flux(F_SWE, w.sp3);
  w.mw2 = w.mw1 - w.refr;
  // 4. release to the soil
  w.at = w.mw2 - p[P_CWH] * w.sp3;
  w.tosoil = clamp_min(w.at, zero);
  out.flux(F_TOSOIL, w.tosoil);
  const S mw3 = w.mw2 - w.tosoil;
  // 5. recharge
  w.x1 = sm / fc;
  if constexpr (!POW_GIVEN) {
    const PowLog<S> pl = pow_log(w.x1, p[P_BETA]);
    w.w0 = pl.value;
    w.lx1 = pl.log;
    out.power(0, w.w0, w.lx1);
  }
  w.wet = clamp01(w.w0);
  w.inflow = w.rain + w.tosoil;
  w.recharge = w.inflow * w.wet;
  out.flux(F_RECHARGE, w.recharge);
  w.sm1 = sm + w.rain + w.tosoil - w.recharge;
  // 6. excess
  w.ae = w.sm1 - fc;
  w.excess = clamp_min(w.ae, zero);
  out.flux(F_EXCESS, w.excess);
  w.sm2 = w.sm1 - w.excess;
  // 7. evapotranspiration
  w.den = p[P_LP] * fc;
  w.x2 = w.sm2 / w.den;
  if constexpr (BETAET) {
    if constexpr (!POW_GIVEN) {
      const PowLog<S> pl = pow_log(w.x2, p[P_BETAET]);
      w.r2 = pl.value;
      w.lx2 = pl.log;
      out.power(1, w.r2, w.lx2);
    }
  } else {
    w.r2 = w.x2;
  }
  w.ef = clamp01(w.r2);
  out.flux(F_EVAPFACTOR, w.ef);
  w.pe = E * w.ef;
  w.aet = minimum(w.sm2, w.pe);
  out.flux(F_AET, w.aet);
  w.dv = w.sm2 - w.aet;
  w.sm3 = clamp_min(w.dv, nz);
  // 8. capillary rise
  S sm4, slz1;
  if constexpr (CAP) {
    w.x3 = w.sm3 / fc;
    w.m3 = clamp_max(w.x3, S(1));
    w.om = S(1) - w.m3;
    w.ac = p[P_C] * slz * w.om;
    w.cap = minimum(slz, w.ac);
    out.flux(F_CAPILLARY, w.cap);
    w.su = w.sm3 + w.cap;
    sm4 = clamp_min(w.su, nz);
    w.sd = slz - w.cap;
    slz1 = clamp_min(w.sd, nz);
  } else {
    sm4 = w.sm3;
    slz1 = slz;
  }
  w.slz1 = slz1;
  // 9. percolation
  w.suz1 = suz + w.recharge + w.excess;
  w.perc = minimum(w.suz1, p[P_PERC]);
  out.flux(F_PERC, w.perc);
  w.suz2 = w.suz1 - w.perc;
  // 10. surface flow
  w.aq = w.suz2 - p[P_UZL];
  w.q0 = p[P_K0] * clamp_min(w.aq, zero);
  out.flux(F_Q0, w.q0);
  w.suz3 = w.suz2 - w.q0;
  // 11. subsurface flow
  w.q1 = p[P_K1] * w.suz3;
  out.flux(F_Q1, w.q1);
  const S suz4 = w.suz3 - w.q1;
  w.slz2 = slz1 + w.perc;
  // 12. leakage
  if constexpr (LEAK) {
    w.sl = w.slz2 + p[P_LF];
    w.slz3 = clamp_min(w.sl, nz);
    w.leak = w.slz3 - w.slz2;
    out.flux(F_LEAKAGE, w.leak);
  } else {
    w.slz3 = w.slz2;
  }
  // 13. groundwater flow
  w.q2 = p[P_K2] * w.slz3;
  out.flux(F_Q2, w.q2);
  out.flux(F_Q, w.q0 + w.q1 + w.q2);
  const S slz4 = w.slz3 - w.q2;

  s_out[S_SNOW] = w.sp3;
  s_out[S_MELT] = mw3;
  s_out[S_SM] = sm4;
  s_out[S_SUZ] = suz4;
  s_out[S_SLZ] = slz4;
}

// Adjoint of forward_step. Given the storages s at the start of the step, its
// intermediates w (from forward_step), the gradient gf of every flux of this step
// (gf[F_...], per component; an array or an accessor, as p) and lam, the gradient of
// the storages at the end of the
// step, writes into lam the gradient of the storages at the start, into g the
// gradient of each parameter of this step (N_PARAMS; slots of absent processes are
// left untouched) and into gforce the gradient of P, T and PET.
template <typename S, bool BETAET, bool CAP, bool LEAK, typename Params = const S*, typename FluxGrads = const S*>
HBV_HD void adjoint_step(const Params& p, S P, S T, S E, const S* s, const StepWork<S>& w, const FluxGrads& gf,
                         S* lam, S* g, S* gforce) {
  (void)P;
  const S zero = S(0);
  const S nz = nearzero<S>();
  const S slz = s[S_SLZ];
  const S fc = p[P_FC], tt = p[P_TT], cfmax = p[P_CFMAX], cfr = p[P_CFR];
  // Divisions by FC and LP FC as products with reciprocals, and a / b^2 as (a / b) / b
  // with a / b from the forward pass (torch: -g a / (b b)): equal up to rounding, and
  // four divisions fewer per step.
  const S inv_fc = S(1) / fc;

  S bq0 = gf[F_Q0] + gf[F_Q];
  S bq1 = gf[F_Q1] + gf[F_Q];
  S bq2 = gf[F_Q2] + gf[F_Q];
  // 13. slz4 = slz3 - q2, q2 = K2 slz3
  S b_slz3 = lam[S_SLZ];
  bq2 -= lam[S_SLZ];
  g[P_K2] = bq2 * w.slz3;
  b_slz3 += bq2 * p[P_K2];
  // 12. slz3 = max(slz2 + LF, nz), leak = slz3 - slz2
  S b_slz2;
  if constexpr (LEAK) {
    b_slz3 += gf[F_LEAKAGE];
    b_slz2 = -gf[F_LEAKAGE];
    const S b_sl = select(w.sl >= nz, b_slz3, zero);
    b_slz2 += b_sl;
    g[P_LF] = b_sl;
  } else {
    b_slz2 = b_slz3;
  }
  // slz2 = slz1 + perc
  const S b_slz1 = b_slz2;
  S b_perc = gf[F_PERC] + b_slz2;
  // 11. suz4 = suz3 - q1, q1 = K1 suz3
  S b_suz3 = lam[S_SUZ];
  bq1 -= lam[S_SUZ];
  g[P_K1] = bq1 * w.suz3;
  b_suz3 += bq1 * p[P_K1];
  // 10. suz3 = suz2 - q0, q0 = K0 max(suz2 - UZL, 0)
  S b_suz2 = b_suz3;
  bq0 -= b_suz3;
  g[P_K0] = bq0 * clamp_min(w.aq, zero);
  const S b_aq = select(w.aq >= zero, bq0 * p[P_K0], zero);
  b_suz2 += b_aq;
  g[P_UZL] = -b_aq;
  // 9. suz2 = suz1 - perc, perc = minimum(suz1, PERC), suz1 = suz + recharge + excess
  S b_suz1 = b_suz2;
  b_perc -= b_suz2;
  {
    const MinimumGrads<S> split = minimum_grads(w.suz1, p[P_PERC], b_perc);
    b_suz1 += split.a;
    g[P_PERC] = split.b;
  }
  const S b_suz = b_suz1;
  S b_rech = gf[F_RECHARGE] + b_suz1;
  S b_exc = gf[F_EXCESS] + b_suz1;
  // 8. capillary rise
  S b_sm3, b_slz;
  S g_fc = zero;
  if constexpr (CAP) {
    const S b_sd = select(w.sd >= nz, b_slz1, zero);
    b_slz = b_sd;
    S b_cap = gf[F_CAPILLARY] - b_sd;
    const S b_su = select(w.su >= nz, lam[S_SM], zero);
    b_sm3 = b_su;
    b_cap += b_su;
    const MinimumGrads<S> split = minimum_grads(slz, w.ac, b_cap);
    b_slz += split.a;
    const S b_ac = split.b;
    const S cs = p[P_C] * slz;
    g[P_C] = b_ac * w.om * slz;
    b_slz += b_ac * w.om * p[P_C];
    const S b_m3 = -(b_ac * cs);
    const S b_x3 = select(w.x3 <= S(1), b_m3, zero);
    b_sm3 += b_x3 * inv_fc;
    g_fc -= b_x3 * w.x3 * inv_fc;
  } else {
    b_sm3 = lam[S_SM];
    b_slz = b_slz1;
  }
  // 7. sm3 = max(sm2 - aet, nz), aet = minimum(sm2, PET ef), ef = clamp(r2, 0, 1)
  const S b_dv = select(w.dv >= nz, b_sm3, zero);
  S b_sm2 = b_dv;
  const S b_aet = gf[F_AET] - b_dv;
  S b_pe;
  {
    const MinimumGrads<S> split = minimum_grads(w.sm2, w.pe, b_aet);
    b_sm2 += split.a;
    b_pe = split.b;
  }
  gforce[2] = b_pe * w.ef;
  const S b_ef = gf[F_EVAPFACTOR] + b_pe * E;
  const S b_r2 = select((w.r2 >= zero) & (w.r2 <= S(1)), b_ef, zero);
  S b_x2;
  if constexpr (BETAET) {
    const S be = p[P_BETAET];
    b_x2 = b_r2 * pow_dbase(w.x2, be, w.r2);
    g[P_BETAET] = b_r2 * pow_dexp(w.x2, be, w.r2, w.lx2);
  } else {
    b_x2 = b_r2;
  }
  // x2 = sm2 / (LP FC)
  const S inv_den = S(1) / w.den;
  b_sm2 += b_x2 * inv_den;
  const S b_den = -(b_x2 * w.x2 * inv_den);
  g[P_LP] = b_den * fc;
  g_fc += b_den * p[P_LP];
  // 6. sm2 = sm1 - excess, excess = max(sm1 - FC, 0)
  S b_sm1 = b_sm2;
  b_exc -= b_sm2;
  const S b_ae = select(w.ae >= zero, b_exc, zero);
  b_sm1 += b_ae;
  g_fc -= b_ae;
  // 5. sm1 = sm + rain + tosoil - recharge, recharge = (rain + tosoil) clamp((sm/FC)^BETA, 0, 1)
  S b_sm = b_sm1;
  S b_rain = b_sm1;
  S b_tos = gf[F_TOSOIL] + b_sm1;
  b_rech -= b_sm1;
  const S b_inflow = b_rech * w.wet;
  const S b_wet = b_rech * w.inflow;
  b_rain += b_inflow;
  b_tos += b_inflow;
  const S b_w0 = select((w.w0 >= zero) & (w.w0 <= S(1)), b_wet, zero);
  const S beta = p[P_BETA];
  const S b_x1 = b_w0 * pow_dbase(w.x1, beta, w.w0);
  g[P_BETA] = b_w0 * pow_dexp(w.x1, beta, w.w0, w.lx1);
  b_sm += b_x1 * inv_fc;
  g_fc -= b_x1 * w.x1 * inv_fc;
  g[P_FC] = g_fc;
  // 4. mw3 = mw2 - tosoil, tosoil = max(mw2 - CWH sp3, 0)
  S b_mw2 = lam[S_MELT];
  b_tos -= lam[S_MELT];
  const S b_at = select(w.at >= zero, b_tos, zero);
  b_mw2 += b_at;
  g[P_CWH] = -(b_at * w.sp3);
  const S b_sp3 = lam[S_SNOW] + gf[F_SWE] - b_at * p[P_CWH];
  // 3. sp3 = sp2 + refr, mw2 = mw1 - refr, refr = minimum(max(CFR CFMAX (TT - T), 0), mw1)
  S b_sp2 = b_sp3;
  S b_mw1 = b_mw2;
  const S b_refr = b_sp3 - b_mw2;
  S b_pr;
  {
    const MinimumGrads<S> split = minimum_grads(w.pr, w.mw1, b_refr);
    b_pr = split.a;
    b_mw1 += split.b;
  }
  const S b_ar = select(w.ar >= zero, b_pr, zero);
  const S dt_r = tt - T;
  g[P_CFR] = b_ar * dt_r * cfmax;
  S g_cfmax = b_ar * dt_r * cfr;
  const S b_dtr = b_ar * (cfr * cfmax);
  S g_tt = b_dtr;
  S g_temp = -b_dtr;
  // 2. sp2 = sp1 - melt, mw1 = mw + melt, melt = minimum(max(CFMAX (T - TT), 0), sp1)
  S b_sp1 = b_sp2;
  const S b_mw = b_mw1;
  const S b_melt = b_mw1 - b_sp2;
  S b_pm;
  {
    const MinimumGrads<S> split = minimum_grads(w.pm, w.sp1, b_melt);
    b_pm = split.a;
    b_sp1 += split.b;
  }
  const S b_am = select(w.am >= zero, b_pm, zero);
  g_cfmax += b_am * (T - tt);
  const S b_dtm = b_am * cfmax;
  g_temp += b_dtm;
  g_tt -= b_dtm;
  g[P_CFMAX] = g_cfmax;
  g[P_TT] = g_tt;
  // 1. sp1 = sp + snow, snow = P - rain, rain = P [T >= TT]
  const S b_sp = b_sp1;
  const S b_snow = b_sp1;
  b_rain -= b_snow;
  gforce[0] = b_snow + b_rain * w.rain_on;
  gforce[1] = g_temp;

  lam[S_SNOW] = b_sp;
  lam[S_MELT] = b_mw;
  lam[S_SM] = b_sm;
  lam[S_SUZ] = b_suz;
  lam[S_SLZ] = b_slz;
}

}  // namespace delta_hbv
