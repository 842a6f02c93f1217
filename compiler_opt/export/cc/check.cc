// mlgo_aot_check: run an XLA AOT-compiled policy on recorded observations and print its decisions.
//
//   mlgo_aot_check OBSERVATIONS            one decision per line on stdout, in record order
//   mlgo_aot_check --list                  the model's arguments and results (name, bytes)
//   mlgo_aot_check --repeat N OBSERVATIONS also time N passes over all records; prints
//                                          "ns_per_decision <x>" on stderr
//
// OBSERVATIONS is the file compiler_opt/export/observations.py writes: a text header naming the
// advice and each feature (name, LLVM type, bytes), then the raw records. Arguments are looked up by
// name as LLVM's ReleaseModeModelRunner does (feed_<feature>, fetch_<advice>); argument order is not
// signature order. Features the compile pruned (unused by the model) are skipped; a model argument
// that no feature feeds is an error. Integer decisions print as integers, floating ones in C's
// exact hexadecimal form (%a), so the caller can compare them bit for bit.
//
// The model comes from mlgo_model.h (written by `mlgo export --aot`), which includes the generated
// header and names its class MlgoModel.

#include "mlgo_model.h"

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace {

struct Tensor {
  std::string name;
  std::string type;
  size_t bytes = 0;
};

struct Observations {
  Tensor advice;
  std::vector<Tensor> features;
  size_t records = 0;
  size_t record_bytes = 0;
  std::vector<char> data;
};

[[noreturn]] void fail(const std::string &message) {
  std::fprintf(stderr, "mlgo_aot_check: error: %s\n", message.c_str());
  std::exit(2);
}

Tensor parse_tensor(const std::string &line, const std::string &what) {
  std::istringstream in(line);
  Tensor tensor;
  if (!(in >> tensor.name >> tensor.type >> tensor.bytes) || tensor.bytes == 0)
    fail("malformed " + what + " line: '" + line + "'");
  return tensor;
}

std::string expect_line(std::istream &in, const std::string &path) {
  std::string line;
  if (!std::getline(in, line)) fail(path + ": the header ends early");
  return line;
}

Observations read_observations(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot open " + path);
  Observations obs;
  if (expect_line(in, path) != "mlgo-observations 1") fail(path + ": not an mlgo observations file");
  std::string line = expect_line(in, path);
  if (line.rfind("advice ", 0) != 0) fail(path + ": expected the advice line, got '" + line + "'");
  obs.advice = parse_tensor(line.substr(7), "advice");
  line = expect_line(in, path);
  size_t count = 0;
  if (std::sscanf(line.c_str(), "features %zu", &count) != 1) fail(path + ": expected 'features K'");
  for (size_t i = 0; i < count; ++i) {
    obs.features.push_back(parse_tensor(expect_line(in, path), "feature"));
    obs.record_bytes += obs.features.back().bytes;
  }
  line = expect_line(in, path);
  if (std::sscanf(line.c_str(), "records %zu", &obs.records) != 1) fail(path + ": expected 'records N'");
  obs.data.resize(obs.records * obs.record_bytes);
  in.read(obs.data.data(), static_cast<std::streamsize>(obs.data.size()));
  if (static_cast<size_t>(in.gcount()) != obs.data.size())
    fail(path + ": the records end early (" + std::to_string(in.gcount()) + " of " +
         std::to_string(obs.data.size()) + " bytes)");
  return obs;
}

void print_decision(const Tensor &advice, const void *value) {
  const std::string &t = advice.type;
  if (t == "int64_t") std::printf("%" PRId64 "\n", *static_cast<const int64_t *>(value));
  else if (t == "int32_t") std::printf("%" PRId32 "\n", *static_cast<const int32_t *>(value));
  else if (t == "uint64_t") std::printf("%" PRIu64 "\n", *static_cast<const uint64_t *>(value));
  else if (t == "uint32_t") std::printf("%" PRIu32 "\n", *static_cast<const uint32_t *>(value));
  else if (t == "float") std::printf("%a\n", static_cast<double>(*static_cast<const float *>(value)));
  else if (t == "double") std::printf("%a\n", *static_cast<const double *>(value));
  else fail("unsupported advice type " + t);
}

int list_model() {
  MlgoModel model;
  for (int i = 0; i < model.num_args(); ++i)
    std::printf("arg %s %d\n", model.GetArgName(i), model.arg_size(i));
  for (int i = 0; i < model.num_results(); ++i)
    std::printf("result %s\n", model.GetResultName(i));
  return 0;
}

}  // namespace

int main(int argc, char **argv) {
  long repeat = 0;
  std::string path;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--list") return list_model();
    if (arg == "--repeat" && i + 1 < argc) {
      repeat = std::strtol(argv[++i], nullptr, 10);
    } else if (!arg.empty() && arg[0] != '-' && path.empty()) {
      path = arg;
    } else {
      fail("usage: mlgo_aot_check [--list] [--repeat N] OBSERVATIONS");
    }
  }
  if (path.empty()) fail("usage: mlgo_aot_check [--list] [--repeat N] OBSERVATIONS");
  Observations obs = read_observations(path);

  MlgoModel model;
  // Where each feature's bytes go: (model argument, offset in the record, bytes); -1 = pruned.
  struct Feed { int arg; size_t offset; size_t bytes; };
  std::vector<Feed> feeds;
  std::vector<bool> fed(model.num_args(), false);
  size_t offset = 0;
  for (const Tensor &feature : obs.features) {
    int arg = model.LookupArgIndex("feed_" + feature.name);
    if (arg >= 0) {
      if (static_cast<size_t>(model.arg_size(arg)) != feature.bytes)
        fail("feature " + feature.name + " has " + std::to_string(feature.bytes) + " bytes, the model's argument " +
             std::to_string(model.arg_size(arg)));
      feeds.push_back({arg, offset, feature.bytes});
      fed[arg] = true;
    }
    offset += feature.bytes;
  }
  for (int i = 0; i < model.num_args(); ++i)
    if (!fed[i]) fail(std::string("no recorded feature feeds the model's argument ") + model.GetArgName(i));
  int result = model.LookupResultIndex("fetch_" + obs.advice.name);
  if (result < 0) fail("the model has no result fetch_" + obs.advice.name);

  auto run_record = [&](size_t record) {
    const char *base = obs.data.data() + record * obs.record_bytes;
    for (const Feed &feed : feeds) std::memcpy(model.arg_data(feed.arg), base + feed.offset, feed.bytes);
    if (!model.Run()) fail("the model failed on record " + std::to_string(record));
  };
  for (size_t r = 0; r < obs.records; ++r) {
    run_record(r);
    print_decision(obs.advice, model.result_data(result));
  }
  if (repeat > 0 && obs.records > 0) {
    auto start = std::chrono::steady_clock::now();
    for (long pass = 0; pass < repeat; ++pass)
      for (size_t r = 0; r < obs.records; ++r) run_record(r);
    auto ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count();
    std::fprintf(stderr, "ns_per_decision %.1f\n", ns / (static_cast<double>(repeat) * obs.records));
  }
  return 0;
}
