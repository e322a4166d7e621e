#include "engine/data/split.h"

#include <algorithm>
#include <cmath>

namespace ml {

TrainValSplit split_train_val(const Dataset& ds, double val_fraction, Generator& gen) {
  validate(ds);
  ML_CHECK(val_fraction >= 0.0 && val_fraction < 1.0, "split_train_val of '", ds.name,
           "': val_fraction must be in [0, 1), got ", val_fraction);
  const int64_t N = ds.size();
  const auto n_val = static_cast<int64_t>(std::llround(static_cast<double>(N) * val_fraction));
  const std::vector<int64_t> perm = gen.permutation(N);
  TrainValSplit s;
  s.val_index.assign(perm.begin(), perm.begin() + n_val);
  s.train_index.assign(perm.begin() + n_val, perm.end());
  std::sort(s.val_index.begin(), s.val_index.end());
  std::sort(s.train_index.begin(), s.train_index.end());
  s.train = subset(ds, s.train_index, ds.name + "-fit");
  s.val = subset(ds, s.val_index, ds.name + "-val");
  return s;
}

}  // namespace ml
