// Cause hints computed from a report alone: non-finite inputs and kernel drift.
#include <gtest/gtest.h>

#include "diff/hints.h"

namespace qdrift {
namespace {

Report two_pairs() {
  Report r;
  r.pairs.resize(2);
  r.pairs[0].other.tensor = "a";
  r.pairs[1].other.tensor = "b";
  InputRecord in;
  in.name = "x";
  in.stats.count = 6;
  r.inputs.push_back(in);
  return r;
}

TEST(Hints, NoNonFiniteInputNoHint) {
  Report r = two_pairs();
  add_nonfinite_input_hint(r);
  EXPECT_TRUE(r.causes.empty());
}

TEST(Hints, NonFiniteInputPointsAtTheFirstPairItReaches) {
  Report r = two_pairs();
  r.inputs[0].stats.nan_count = 2;
  r.inputs[0].stats.inf_count = 1;
  r.pairs[1].drift.nan_other = 2;
  add_nonfinite_input_hint(r);
  ASSERT_EQ(r.causes.size(), 1u);
  EXPECT_EQ(r.causes[0].cause, "nonfinite_input");
  EXPECT_EQ(r.causes[0].pair, 1);
  EXPECT_NE(r.causes[0].message.find("'x' (2 NaN, 1 Inf of 6)"), std::string::npos) << r.causes[0].message;
}

TEST(Hints, KernelDriftNamesTheFirstPairAndTheWorstSteps) {
  for (bool vnni : {false, true}) {
    Report r = two_pairs();
    add_kernel_drift_hint(r, {"oneDNN 2.6.3", "avx2", vnni});
    EXPECT_TRUE(r.causes.empty());  // no pair was checked
    for (PairRecord& p : r.pairs) p.has_kernel_check = true;
    add_kernel_drift_hint(r, {"oneDNN 2.6.3", "avx2", vnni});
    EXPECT_TRUE(r.causes.empty());  // checked and equal
    r.pairs[1].kernel_differ = 48;
    r.pairs[1].kernel_max_steps = 8;
    add_kernel_drift_hint(r, {"oneDNN 2.6.3", "avx2", vnni});
    ASSERT_EQ(r.causes.size(), 1u);
    EXPECT_EQ(r.causes[0].cause, vnni ? "kernel_drift" : "non_vnni_saturation");
    EXPECT_EQ(r.causes[0].pair, 1);
    EXPECT_NE(r.causes[0].message.find("first 'b' (48 elements, up to 8 steps)"), std::string::npos)
        << r.causes[0].message;
  }
}

}  // namespace
}  // namespace qdrift
