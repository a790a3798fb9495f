// Model-level saving on top of the checkpoint format (layers/saving/checkpoint_io.cpp):
// what goes into the JSON header and which tensors, and how a model,
// its weights and its optimizer come back.
#include <cstdio>
#include <set>

#include "loom/layers/training/model.h"
#include "loom/layers/saving/saving.h"
#include "loom/layers/weights/weight_budget.h"
#include "loom/optim/optimizer.h"
#include "loom/version.h"

namespace loom {

namespace {

constexpr const char* kWeights = "weights";
constexpr const char* kOptimizer = "optimizer";

CheckpointFile checkpoint_of(const Model& model, const std::string& path, const std::string& content,
                             const CheckpointExtras& extras) {
  LOOM_CHECK(extras.metadata.is_object(), "save '{}': extras.metadata must be a JSON object, got {}",
             path, extras.metadata.type_name());
  CheckpointFile f;
  f.header["format"] = "loom-checkpoint";
  f.header["content"] = content;
  f.header["loom_version"] = version();
  if (content == "model") {
    f.header["model"] = model.to_architecture();
    if (model.compiled()) {
      const CompileOptions& co = model.compile_options();
      Json c = Json::object();
      c["loss"] = co.loss;
      c["metrics"] = Json(co.metrics);
      if (model.optimizer()) {
        c["optimizer"] = model.optimizer()->name();
        Json cfg = Json::object();
        for (const auto& [k, v] : model.optimizer()->config()) cfg[k] = v;
        c["optimizer_config"] = std::move(cfg);
      }
      f.header["compile"] = std::move(c);
    }
  }
  Json names = Json::array();
  std::set<std::string> seen;
  for (const auto& p : model.parameters()) {
    LOOM_CHECK(seen.insert(p->name).second,
               "save '{}': two parameters of model '{}' are named '{}'; weights are stored by name",
               path, model.name(), p->name);
    names.push_back(p->name);
    f.tensors.push_back({kWeights, p->name, p->value});
  }
  f.header["weights"] = std::move(names);
  if (content == "model" && model.optimizer())
    for (const auto& [name, t] : model.optimizer()->state()) f.tensors.push_back({kOptimizer, name, t});
  f.header["metadata"] = extras.metadata;
  f.blobs = extras.blobs;
  return f;
}

// The file's weights in the order of model.parameters(), after checking
// names, shapes and dtypes of all of them.
std::vector<Tensor> weights_for(const Model& model, const CheckpointFile& f,
                                const std::string& path) {
  std::map<std::string, const Tensor*> in_file;
  for (const auto* t : f.group(kWeights)) in_file[t->name] = &t->value;
  std::vector<ParameterPtr> params = model.parameters();
  std::vector<Tensor> values;
  std::vector<std::string> missing;
  std::set<std::string> used;
  for (const auto& p : params) {
    auto it = in_file.find(p->name);
    if (it == in_file.end()) {
      missing.push_back(p->name);
      continue;
    }
    const Tensor& v = *it->second;
    LOOM_CHECK(v.shape() == p->value.shape(),
               "load_weights '{}': parameter '{}' has shape {} in the model but {} in the file", path,
               p->name, shape_str(p->value.shape()), shape_str(v.shape()));
    LOOM_CHECK(v.dtype() == p->value.dtype(),
               "load_weights '{}': parameter '{}' is {} in the model but {} in the file", path, p->name,
               dtype_name(p->value.dtype()), dtype_name(v.dtype()));
    values.push_back(v);
    used.insert(p->name);
  }
  if (!missing.empty())
    fail("load_weights '{}': the file has no weights for parameter(s) {} of model '{}'{}", path,
         fmt::join(missing, ", "), model.name(),
         in_file.empty() ? " (it holds no weights)" : "");
  std::vector<std::string> extra;
  for (const auto& [name, t] : in_file)
    if (!used.count(name)) extra.push_back(name);
  if (!extra.empty())
    fail("load_weights '{}': the file has weights for {} that model '{}' does not have{}", path,
         fmt::join(extra, ", "), model.name(),
         params.empty() ? " (the model has no parameters yet: build it first)" : "");
  return values;
}

// Copies the file's weights into `model` by parameter name, after checking
// all of them, so a mismatch changes nothing.
void apply_weights(Model& model, const CheckpointFile& f, const std::string& path) {
  model.set_weights(weights_for(model, f, path));
}

CheckpointExtras extras_of(const CheckpointFile& f) {
  CheckpointExtras e;
  if (const Json* m = f.header.find("metadata")) e.metadata = *m;
  e.blobs = f.blobs;
  return e;
}

void check_loom_header(const CheckpointFile& f, const std::string& path) {
  LOOM_CHECK(f.header.value("format", std::string()) == "loom-checkpoint",
             "checkpoint '{}': the header's format is '{}', expected 'loom-checkpoint'", path,
             f.header.value("format", std::string()));
  if (const Json* v = f.header.find("loom_version"))
    check_loom_version(v->is_string() ? v->as_string() : v->dump(),
                       fmt::format("checkpoint '{}'", path));
}

}  // namespace

void check_loom_version(const std::string& written_by, const std::string& what) {
  int major = -1, minor = -1, patch = -1;
  char tail = 0;
  const int fields = std::sscanf(written_by.c_str(), "%d.%d.%d%c", &major, &minor, &patch, &tail);
  LOOM_CHECK(fields >= 3 && major >= 0 && minor >= 0 && patch >= 0,
             "{}: loom_version '{}' is not a version (expected MAJOR.MINOR.PATCH)", what,
             written_by);
  LOOM_CHECK(major <= LOOM_VERSION_MAJOR,
             "{} was written by Loom {}, a newer major version than this Loom {}: read it with "
             "Loom {}.x or later",
             what, written_by, version(), major);
}

// ---- free functions ----------------------------------------------------------------------------------

void save_model(const Model& model, const std::string& path, const CheckpointExtras& extras) {
  write_checkpoint(path, checkpoint_of(model, path, "model", extras));
}

void save_model_weights(const Model& model, const std::string& path, const CheckpointExtras& extras) {
  write_checkpoint(path, checkpoint_of(model, path, "weights", extras));
}

void load_model_weights(Model& model, const std::string& path) {
  CheckpointFile f = read_checkpoint(path);
  check_loom_header(f, path);
  apply_weights(model, f, path);
}

CheckpointExtras read_checkpoint_extras(const std::string& path) {
  CheckpointFile f = read_checkpoint(path);
  check_loom_header(f, path);
  return extras_of(f);
}

std::shared_ptr<Model> load_model(const std::string& path, CheckpointExtras* extras) {
  CheckpointFile f = read_checkpoint(path);
  check_loom_header(f, path);
  const std::string content = f.header.value("content", std::string());
  LOOM_CHECK(content == "model",
             "load_model '{}': the file holds {} only (saved with save_weights); build the model in "
             "code and call load_weights",
             path, content.empty() ? "no model" : content);
  LOOM_CHECK(f.header.contains("model"), "load_model '{}': the header has no model architecture", path);
  std::shared_ptr<Model> model;
  try {
    // Every weight the architecture creates must be in the file, so the
    // file's weights bound what building may allocate (twice that, plus
    // 1 MiB of slack): a small file cannot ask for gigabytes.
    uint64_t file_weight_bytes = 0;
    for (const auto* t : f.group(kWeights))
      file_weight_bytes += static_cast<uint64_t>(t->value.numel()) * dtype_size(t->value.dtype());
    WeightBudget budget(2 * file_weight_bytes + (uint64_t{1} << 20),
                        fmt::format("the architecture (the file holds {} bytes of weights)",
                                    file_weight_bytes));
    model = Model::from_architecture(f.header.at("model"));
  } catch (const Error& e) {
    fail("load_model '{}': cannot rebuild the model: {}", path, e.what());
  }
  apply_weights(*model, f, path);
  if (const Json* c = f.header.find("compile")) {
    // Names and settings written by another Loom (or edited by hand) are
    // errors naming this file, like the architecture's.
    try {
      CompileOptions co;
      co.loss = c->get_string("loss");
      co.metrics = c->at("metrics").to_string_vector();
      if (const Json* name = c->find("optimizer")) {
        OptimizerConfig cfg;
        if (const Json* j = c->find("optimizer_config"))
          for (const auto& [k, v] : j->items()) cfg[k] = v.as_string();
        co.optimizer_object = std::shared_ptr<Optimizer>(make_optimizer(name->as_string(), cfg));
      }
      model->compile(co);
    } catch (const Error& e) {
      fail("load_model '{}': cannot restore the compile settings: {}", path, e.what());
    }
    OptimizerState state;
    for (const auto* t : f.group(kOptimizer)) state[t->name] = t->value;
    if (!state.empty()) {
      try {
        model->optimizer()->load_state(state);
      } catch (const Error& e) {
        fail("load_model '{}': cannot restore the optimizer state: {}", path, e.what());
      }
    }
  }
  if (extras) *extras = extras_of(f);
  return model;
}

std::shared_ptr<Model> load_model(const std::string& path) { return load_model(path, nullptr); }

CheckpointFile model_checkpoint(const Model& model, const std::string& path,
                                const CheckpointExtras& extras) {
  return checkpoint_of(model, path, "model", extras);
}

void restore_model_state(Model& model, const CheckpointFile& f, const std::string& path) {
  check_loom_header(f, path);
  const std::vector<Tensor> weights = weights_for(model, f, path);
  OptimizerState state;
  for (const auto* t : f.group(kOptimizer)) state[t->name] = t->value;
  if (!state.empty()) {
    LOOM_CHECK(model.optimizer() != nullptr,
               "restore '{}': the file has optimizer state but model '{}' is not compiled", path,
               model.name());
    try {
      model.optimizer()->load_state(state);  // unchanged when it throws
    } catch (const Error& e) {
      fail("restore '{}': cannot restore the optimizer state: {}", path, e.what());
    }
  }
  model.set_weights(weights);
}

// ---- Model members ---------------------------------------------------------------------------------------------

void Model::save(const std::string& path) const { save_model(*this, path); }
void Model::save_weights(const std::string& path) const { save_model_weights(*this, path); }
void Model::load_weights(const std::string& path) { load_model_weights(*this, path); }

}  // namespace loom
