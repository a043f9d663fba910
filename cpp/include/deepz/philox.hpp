// deepz/philox.hpp -- the Philox-4x32-10 counter-based generator.
//
// Philox-4x32-10 (Salmon, Moraes, Dror & Shaw, "Parallel random numbers: as
// easy as 1, 2, 3", SC'11) maps a 128-bit counter and a 64-bit key to 128
// random bits with 10 rounds of a multiply-xor bijection. It keeps no state:
// draw number c of stream k is philox4x32_10(c, k), so any draw can be made
// by any thread on any device in any order, and gives the same bits. The
// constants are those of Random123 (philox.h); tests/test_add_noise.py checks the
// Random123 known-answer vectors.
//
// deepz keys Philox with the user's 64-bit seed, key = (lo32, hi32), and
// numbers its draws with the counter
//   (pixel block b, stream word w, spectrum index lo32, spectrum index hi32),
// where the spectrum index is the global one (offset + n) and block b covers
// pixels 4b..4b+3 (see add_noise.hpp for what each stream word is used for).
//
// Everything here is DEEPZ_HD integer code: the CUDA twin uses it unchanged.
#pragma once

#include <cstdint>

#include "grid.hpp"  // DEEPZ_HD

namespace deepz {

// Random123's Philox-4x32 multipliers and Weyl key increments.
constexpr std::uint32_t kPhiloxM0 = 0xD2511F53u;
constexpr std::uint32_t kPhiloxM1 = 0xCD9E8D57u;
constexpr std::uint32_t kPhiloxW0 = 0x9E3779B9u;
constexpr std::uint32_t kPhiloxW1 = 0xBB67AE85u;

// 128-bit counter / output block: four 32-bit words.
struct Philox4x32 {
  std::uint32_t v[4];
};

// One Philox round: two 32x32 -> 64-bit products, then a permutation and xor
// with the round key (Random123's _philox4x32round).
DEEPZ_HD Philox4x32 philox4x32_round(Philox4x32 c, std::uint32_t k0, std::uint32_t k1) {
  const std::uint64_t p0 = static_cast<std::uint64_t>(kPhiloxM0) * c.v[0];
  const std::uint64_t p1 = static_cast<std::uint64_t>(kPhiloxM1) * c.v[2];
  const std::uint32_t hi0 = static_cast<std::uint32_t>(p0 >> 32);
  const std::uint32_t lo0 = static_cast<std::uint32_t>(p0);
  const std::uint32_t hi1 = static_cast<std::uint32_t>(p1 >> 32);
  const std::uint32_t lo1 = static_cast<std::uint32_t>(p1);
  Philox4x32 out;
  out.v[0] = hi1 ^ c.v[1] ^ k0;
  out.v[1] = lo1;
  out.v[2] = hi0 ^ c.v[3] ^ k1;
  out.v[3] = lo0;
  return out;
}

// Philox-4x32-10: ten rounds, the key bumped by the Weyl increments between
// rounds (unsigned arithmetic wraps modulo 2^32, as intended).
DEEPZ_HD Philox4x32 philox4x32_10(Philox4x32 c, std::uint32_t k0, std::uint32_t k1) {
  c = philox4x32_round(c, k0, k1);
  for (int r = 1; r < 10; ++r) {
    k0 += kPhiloxW0;
    k1 += kPhiloxW1;
    c = philox4x32_round(c, k0, k1);
  }
  return c;
}

// Philox keyed by a 64-bit seed, counter (block, word, index lo32, index hi32).
DEEPZ_HD Philox4x32 philox_draw(std::uint64_t seed, std::uint32_t block, std::uint32_t word,
                                std::uint64_t index) {
  Philox4x32 c;
  c.v[0] = block;
  c.v[1] = word;
  c.v[2] = static_cast<std::uint32_t>(index);
  c.v[3] = static_cast<std::uint32_t>(index >> 32);
  return philox4x32_10(c, static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32));
}

// Uniform float in (0, 1) from the top 23 bits of x: ((x >> 9) + 0.5) * 2^-23.
// Both operations are exact in float32 (2 (x >> 9) + 1 < 2^24), so the value
// is the same on every IEEE machine: the grid k + 1/2, k = 0 .. 2^23 - 1, in
// units of 2^-23, which lies in [2^-24, 1 - 2^-24] and is symmetric about 1/2.
// (The 24-bit variant ((x >> 8) + 0.5) * 2^-24 is not exact in float32: its
// top value rounds to 1.0.)
DEEPZ_HD float uniform_f32(std::uint32_t x) {
  // (via int32: x >> 9 < 2^23, and signed conversion vectorises on SSE2)
  return (static_cast<float>(static_cast<std::int32_t>(x >> 9)) + 0.5f) * 0x1p-23f;
}

// Uniform double in (0, 1) from 52 bits of two words:
// ((hi << 20 | lo >> 12) + 0.5) * 2^-52, exact in float64; lies in
// [2^-53, 1 - 2^-53].
DEEPZ_HD double uniform_f64(std::uint32_t hi, std::uint32_t lo) {
  const std::uint64_t k = (static_cast<std::uint64_t>(hi) << 20) | (lo >> 12);
  return (static_cast<double>(k) + 0.5) * 0x1p-52;
}

}  // namespace deepz
