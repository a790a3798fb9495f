// SpatialDropout1D: Dropout with noise shape (B, 1, F).
#include "loom/layers/spatial_dropout1d.h"

#include "loom/layers/layer_factory.h"

namespace loom {

namespace {
Dropout::Options as_dropout(const SpatialDropout1D::Options& o) {
  Dropout::Options d;
  d.rate = o.rate;
  d.seed = o.seed;
  return d;
}
}  // namespace

SpatialDropout1D::SpatialDropout1D(Options options, std::string name)
    : Dropout("SpatialDropout1D", as_dropout(options), std::move(name)) {}

LayerHandle<SpatialDropout1D> SpatialDropout1D::make(Options options, std::string name) {
  return std::make_shared<SpatialDropout1D>(options, std::move(name));
}

Shape SpatialDropout1D::noise_shape_for(const Shape& x) const {
  // Neighbouring steps of one channel are strongly correlated, so dropping
  // single elements barely regularizes; dropping the channel does.
  LOOM_CHECK(x.size() == 3, "{}: expected an input of shape (B, T, F), got {}", describe(),
             shape_str(x));
  return {x[0], 1, x[2]};
}

Config SpatialDropout1D::config() const {
  Config c{{"rate", options().rate}};
  if (options().seed) c["seed"] = static_cast<int64_t>(*options().seed);
  return c;
}

LayerPtr SpatialDropout1D::from_config(const Config& config, const std::string& name) {
  ConfigReader r(config, "SpatialDropout1D", name);
  Options o;
  o.rate = r.get_double("rate", 0.0);
  if (r.has("seed")) o.seed = static_cast<uint64_t>(r.get_int("seed", 0));
  r.finish();
  return std::make_shared<SpatialDropout1D>(o, name);
}

}  // namespace loom
