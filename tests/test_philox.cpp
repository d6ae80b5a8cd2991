#include <gtest/gtest.h>

#include "kernels/philox.h"

namespace nsal {

// Known-answer vectors of the Random123 distribution (kat_vectors, philox4x32_10).
TEST(Philox, MatchesRandom123KnownAnswers) {
  using philox::Key;
  using philox::U32x4;
  {
    U32x4 r = philox::philox4x32_10(U32x4{{0, 0, 0, 0}}, Key{{0, 0}});
    EXPECT_EQ(r.v[0], 0x6627e8d5u);
    EXPECT_EQ(r.v[1], 0xe169c58du);
    EXPECT_EQ(r.v[2], 0xbc57ac4cu);
    EXPECT_EQ(r.v[3], 0x9b00dbd8u);
  }
  {
    U32x4 r = philox::philox4x32_10(U32x4{{0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}},
                                    Key{{0xffffffffu, 0xffffffffu}});
    EXPECT_EQ(r.v[0], 0x408f276du);
    EXPECT_EQ(r.v[1], 0x41c83b0eu);
    EXPECT_EQ(r.v[2], 0xa20bc7c6u);
    EXPECT_EQ(r.v[3], 0x6d5451fdu);
  }
  {
    U32x4 r = philox::philox4x32_10(U32x4{{0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}},
                                    Key{{0xa4093822u, 0x299f31d0u}});
    EXPECT_EQ(r.v[0], 0xd16cfe09u);
    EXPECT_EQ(r.v[1], 0x94fdccebu);
    EXPECT_EQ(r.v[2], 0x5001e420u);
    EXPECT_EQ(r.v[3], 0x24126ea1u);
  }
}

TEST(Philox, UnitFloatIsInHalfOpenInterval) {
  EXPECT_GT(philox::u32_to_unit_float(0), 0.0f);
  EXPECT_LE(philox::u32_to_unit_float(0xffffffffu), 1.0f);
  EXPECT_GT(philox::u64_to_unit_double(0, 0), 0.0);
  EXPECT_LE(philox::u64_to_unit_double(0xffffffffu, 0xffffffffu), 1.0);
}

}  // namespace nsal
