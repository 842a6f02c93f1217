// mlgo-clang / mlgo-clang++: a stock clang whose ML advisor is answered by a policy compiled into this
// program (XLA AOT), with no Python at run time. The native counterpart of compiler_opt/export/dropin.py.
//
//   mlgo-clang ARGS              like `clang ARGS`; mlgo-clang++ (argv[0] ending in ++) like `clang++ ARGS`
//   mlgo-clang /path/clang ARGS  launcher mode (CMAKE_<LANG>_COMPILER_LAUNCHER): that clang is the compiler
//
// The compiler is $MLGO_CLANG if set, else the clang this program was built for (mlgo_native_config.h).
// The driver is asked for its jobs (`clang -### ARGS`, TMPDIR pointed at a private folder so that the
// intermediates it names land there). A command none of whose -cc1 jobs would start the advisor (-O0,
// -E, -fsyntax-only, assembling, linking, --version, a command the driver rejects) is handed to clang
// itself with execv: one process, clang's own output and exit status. Otherwise the jobs run one by
// one: each optimizing -cc1 job with the problem's advisor in interactive mode, its decisions answered
// over two FIFOs (BASE.out compiler -> here, BASE.in here -> compiler) by the model; other jobs as they
// are. The first failing job ends the command with exit status 1, as clang's driver does.
//
// Protocol (LLVM's interactive model runner): one JSON header line naming the features and the advice,
// then per decision an optional {"context": ...} line, {"observation": N}, the raw feature bytes in
// header order, and a newline; the answer is the advice's raw bytes. The header is checked against the
// features the policy was exported with: a compiler that sends other features gets one clear message.
//
// $MLGO_NATIVE_STATS, when set, names a file that gets one JSON line per answered -cc1 job: decisions,
// nanoseconds in the model, waiting for the compiler, in total, and of this process's CPU time.

#include "mlgo_model.h"
#include "mlgo_native_config.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "json.h"
#include "process.h"

extern char **environ;

namespace {

using mlgo_process::g_child;
using mlgo_process::g_private;

const char *const kTool = "mlgo-clang";

[[noreturn]] void die(const std::string &message) {
  std::fprintf(stderr, "%s: error: %s\n", kTool, message.c_str());
  pid_t child = g_child;
  if (child > 0) {
    kill(child, SIGKILL);
    mlgo_process::wait_child(child);
  }
  mlgo_process::remove_private_dir();
  std::exit(1);
}

std::string base_name(const std::string &path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

bool ends_with(const std::string &text, const std::string &suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// clang, clang++, clang-NN, clang++-NN (NN digits and dots).
bool is_clang_name(const std::string &path) {
  std::string name = base_name(path);
  if (name.rfind("clang", 0) != 0) return false;
  size_t at = 5;
  if (name.compare(at, 2, "++") == 0) at += 2;
  if (at == name.size()) return true;
  if (name[at] != '-' || at + 1 == name.size()) return false;
  for (size_t i = at + 1; i < name.size(); ++i)
    if (!(std::isdigit(static_cast<unsigned char>(name[i])) || name[i] == '.')) return false;
  return true;
}

// `name` found on PATH when it has no slash; `name` itself otherwise (or when not found).
std::string which(const std::string &name) {
  if (name.find('/') != std::string::npos) return name;
  const char *path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::string dir = dirs.substr(start, end - start);
    std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return name;
}

// ---------------------------------------------------------------------------------------------------
// The driver's jobs (`clang -###`), parsed as compiler_opt/llvm/driver.py does.

enum class Kind { Compile, Assemble, Tool };

struct Job {
  Kind kind;
  std::vector<std::string> argv;
};

// One `-###` line: each argument in double quotes, `"`, `\` and `$` escaped by a backslash. False when
// the line is not a job (version, target, "(in-process)").
bool parse_job_line(const std::string &line, std::vector<std::string> &args) {
  size_t i = line.find_first_not_of(" \t");
  if (i == std::string::npos || line[i] != '"') return false;
  while (i < line.size()) {
    if (line[i] == ' ' || line[i] == '\r') { ++i; continue; }
    if (line[i] != '"') return false;
    ++i;
    std::string current;
    while (i < line.size() && line[i] != '"') {
      if (line[i] == '\\' && i + 1 < line.size()) ++i;
      current += line[i++];
    }
    if (i >= line.size()) return false;  // unterminated quote
    args.push_back(std::move(current));
    ++i;
  }
  return !args.empty();
}

std::string read_all(int fd) {
  std::string out;
  char buffer[65536];
  for (;;) {
    ssize_t n = read(fd, buffer, sizeof buffer);
    if (n > 0) out.append(buffer, static_cast<size_t>(n));
    else if (n < 0 && errno == EINTR) continue;
    else break;
  }
  return out;
}

// The jobs `driver ARGS` would run (empty when -### fails or lists none), intermediates in the private dir.
std::vector<Job> plan_jobs(const std::vector<std::string> &driver, const std::vector<std::string> &args) {
  std::vector<std::string> command = driver;
  command.push_back("-###");
  command.insert(command.end(), args.begin(), args.end());
  std::vector<std::string> env_strings;
  for (char **e = environ; *e; ++e)
    if (std::strncmp(*e, "TMPDIR=", 7) != 0) env_strings.push_back(*e);
  env_strings.push_back(std::string("TMPDIR=") + g_private);
  std::vector<char *> env = mlgo_process::c_argv(env_strings);
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) die(std::string("pipe: ") + std::strerror(errno));
  int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
  pid_t pid = mlgo_process::spawn(command, env.data(), null_fd, null_fd, pipe_fds[1]);
  close(pipe_fds[1]);
  if (null_fd >= 0) close(null_fd);
  if (pid < 0) die(std::string("fork: ") + std::strerror(errno));
  std::string listing = read_all(pipe_fds[0]);
  close(pipe_fds[0]);
  int status = mlgo_process::wait_child(pid);
  std::vector<Job> jobs;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return jobs;
  size_t start = 0;
  while (start < listing.size()) {
    size_t end = listing.find('\n', start);
    if (end == std::string::npos) end = listing.size();
    std::vector<std::string> argv;
    if (parse_job_line(listing.substr(start, end - start), argv)) {
      Kind kind = argv.size() > 1 && argv[1] == "-cc1"     ? Kind::Compile
                  : argv.size() > 1 && argv[1] == "-cc1as" ? Kind::Assemble
                                                           : Kind::Tool;
      jobs.push_back({kind, std::move(argv)});
    }
    start = end + 1;
  }
  return jobs;
}

// Whether a job's pipeline would start the advisor: a -cc1 job optimizing (its last -O is not -O0) and
// generating code or IR. Guessing wrong one way costs only speed: such a job asks nothing.
bool makes_decisions(const Job &job) {
  if (job.kind != Kind::Compile) return false;
  bool optimizing = false;
  for (const std::string &arg : job.argv) {
    if (arg == "-E" || arg == "-fsyntax-only" || arg == "-emit-pch" || arg == "-emit-module" ||
        arg == "-emit-module-interface" || arg == "-emit-header-unit" || arg == "-Eonly" || arg == "-ast-dump" ||
        arg == "-ast-print" || arg == "-dump-tokens" || arg == "-rewrite-objc" || arg == "-analyze")
      return false;
    if (arg.rfind("-O", 0) == 0) optimizing = arg != "-O0";
  }
  return optimizing;
}

std::string option_value(const std::vector<std::string> &argv, const char *option, const char *fallback) {
  for (size_t i = 0; i + 1 < argv.size(); ++i)
    if (argv[i] == option) return argv[i + 1];
  return fallback;
}

// ---------------------------------------------------------------------------------------------------
// The interactive channel of one -cc1 job.

size_t type_size(const std::string &type) {
  if (type == "int64_t" || type == "uint64_t" || type == "double") return 8;
  if (type == "int32_t" || type == "uint32_t" || type == "float") return 4;
  if (type == "int16_t" || type == "uint16_t") return 2;
  if (type == "int8_t" || type == "uint8_t") return 1;
  return 0;
}

struct Tensor {
  std::string name;
  std::string type;
  size_t bytes = 0;
};

bool parse_tensor(const mlgo_json::Value &value, Tensor &out) {
  const mlgo_json::Value *name = value.get("name"), *type = value.get("type"), *shape = value.get("shape");
  if (!name || name->kind != mlgo_json::Value::String || !type || type->kind != mlgo_json::Value::String || !shape ||
      shape->kind != mlgo_json::Value::Array)
    return false;
  out.name = name->text;
  out.type = type->text;
  size_t elements = 1;
  for (const mlgo_json::Value &dim : shape->items) {
    if (dim.kind != mlgo_json::Value::Number || dim.number < 0) return false;
    elements *= static_cast<size_t>(dim.number);
  }
  out.bytes = elements * type_size(out.type);
  return type_size(out.type) != 0;
}

struct StatsRecord {
  long decisions = 0;
  std::chrono::nanoseconds model{0}, wait{0}, total{0};
  long long host_cpu_ns = 0;  // this process's user + system CPU time during the job
};

long long cpu_ns() {
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return (usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1000000000LL +
         (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) * 1000LL;
}

// Buffered reads of BASE.out, polled beside the compiler's pidfd: EOF = the compiler exited and the
// FIFO is drained (this side holds a write end too, so read() itself never says EOF).
class Reader {
 public:
  Reader(int fd, int pidfd, pid_t pid, StatsRecord &stats) : fd_(fd), pidfd_(pidfd), pid_(pid), stats_(stats) {}

  bool readline(std::string &line) {
    line.clear();
    for (;;) {
      char *begin = buffer_.data() + start_, *end = buffer_.data() + buffer_.size();
      char *newline = static_cast<char *>(std::memchr(begin, '\n', static_cast<size_t>(end - begin)));
      if (newline) {
        line.assign(begin, newline);
        start_ += static_cast<size_t>(newline - begin) + 1;
        return true;
      }
      if (!fill()) return false;  // the compiler exited (a line cut short too): its exit status tells
    }
  }

  // `size` bytes or false when the stream ends first; the bytes stay valid until the next read.
  const char *read_exact(size_t size) {
    while (buffer_.size() - start_ < size)
      if (!fill()) return nullptr;
    const char *data = buffer_.data() + start_;
    start_ += size;
    return data;
  }

 private:
  int fd_, pidfd_;
  pid_t pid_;
  StatsRecord &stats_;
  std::vector<char> buffer_;
  size_t start_ = 0;
  bool exited_ = false;

  bool child_exited_now() {
    siginfo_t info;
    info.si_pid = 0;
    return waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid != 0;
  }

  bool fill() {
    auto started = std::chrono::steady_clock::now();
    if (start_ > 0 && start_ == buffer_.size()) buffer_.clear(), start_ = 0;
    if (start_ > (1 << 16)) buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<long>(start_)), start_ = 0;
    bool got = false;
    for (;;) {
      if (!exited_) {
        struct pollfd fds[2] = {{fd_, POLLIN, 0}, {pidfd_, POLLIN, 0}};
        int n = poll(fds, pidfd_ >= 0 ? 2 : 1, pidfd_ >= 0 ? -1 : 20);
        if (n < 0 && errno != EINTR) die(std::string("poll: ") + std::strerror(errno));
        if (pidfd_ >= 0 ? (n > 0 && fds[1].revents) : child_exited_now()) exited_ = true;
      }
      char chunk[65536];
      ssize_t r = read(fd_, chunk, sizeof chunk);
      if (r > 0) {
        buffer_.insert(buffer_.end(), chunk, chunk + r);
        got = true;
        break;
      }
      if (r < 0 && errno != EAGAIN && errno != EINTR) die(std::string("reading the channel: ") + std::strerror(errno));
      if (exited_) break;
    }
    stats_.wait += std::chrono::steady_clock::now() - started;
    return got;
  }
};

struct Feed {
  size_t offset, bytes;
  int arg;
};

// What the policy reads, where each header feature goes; empty `problems` when the header fits.
struct Plan {
  std::vector<Feed> feeds;
  size_t record_bytes = 0;
  int result = -1;
  std::vector<std::string> problems;
};

bool in_list(const char *const *list, const std::string &name) {
  for (; *list; ++list)
    if (name == *list) return true;
  return false;
}

Plan plan_feeds(const std::vector<Tensor> &header, const Tensor &advice, MlgoModel &model) {
  Plan plan;
  std::vector<std::string> missing, retyped, extra;
  std::vector<bool> fed(static_cast<size_t>(model.num_args()), false);
  for (const Tensor &feature : header) {
    const mlgo_config::Tensor *policy = nullptr;
    for (const mlgo_config::Tensor *t = mlgo_config::kFeatures; t->name; ++t)
      if (feature.name == t->name) policy = t;
    if (policy == nullptr) {
      if (!in_list(mlgo_config::kExcluded, feature.name) && feature.name != mlgo_config::kAdvice.name)
        extra.push_back(feature.name);
    } else if (feature.type != policy->type || feature.bytes != policy->bytes) {
      retyped.push_back(feature.name + " (" + policy->type + ", " + std::to_string(policy->bytes) +
                        " bytes in the policy; " + feature.type + ", " + std::to_string(feature.bytes) +
                        " bytes from the compiler)");
    } else {
      int arg = model.LookupArgIndex(std::string("feed_") + feature.name);
      if (arg >= 0) {  // else the model does not read it (XLA pruned the input)
        if (static_cast<size_t>(model.arg_size(arg)) != feature.bytes)
          die("the model's argument feed_" + feature.name + " has " + std::to_string(model.arg_size(arg)) +
              " bytes, the feature " + std::to_string(feature.bytes));
        plan.feeds.push_back({plan.record_bytes, feature.bytes, arg});
        fed[static_cast<size_t>(arg)] = true;
      }
    }
    plan.record_bytes += feature.bytes;
  }
  for (const mlgo_config::Tensor *t = mlgo_config::kFeatures; t->name; ++t) {
    bool present = false;
    for (const Tensor &feature : header) present |= feature.name == t->name;
    if (!present) missing.push_back(t->name);
  }
  auto join = [](const std::vector<std::string> &names) {
    std::string out;
    for (const std::string &name : names) out += (out.empty() ? "" : ", ") + name;
    return out;
  };
  if (!missing.empty()) plan.problems.push_back("missing features: " + join(missing));
  if (!retyped.empty()) plan.problems.push_back("retyped features: " + join(retyped));
  if (!extra.empty()) plan.problems.push_back("extra features: " + join(extra));
  if (advice.name != mlgo_config::kAdvice.name || advice.type != mlgo_config::kAdvice.type ||
      advice.bytes != mlgo_config::kAdvice.bytes)
    plan.problems.push_back("the compiler asks for " + advice.name + " (" + advice.type + ", " +
                            std::to_string(advice.bytes) + " bytes), the policy answers " +
                            mlgo_config::kAdvice.name + " (" + mlgo_config::kAdvice.type + ", " +
                            std::to_string(mlgo_config::kAdvice.bytes) + " bytes)");
  if (!plan.problems.empty()) return plan;
  for (int i = 0; i < model.num_args(); ++i)
    if (!fed[static_cast<size_t>(i)])
      die(std::string("no feature of the compiler feeds the model's argument ") + model.GetArgName(i));
  plan.result = model.LookupResultIndex(std::string("fetch_") + mlgo_config::kAdvice.name);
  if (plan.result < 0) die(std::string("the model has no result fetch_") + mlgo_config::kAdvice.name);
  return plan;
}

std::string first_line_of_version(const std::string &clang) {
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) return "(unknown version)";
  int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
  pid_t pid = mlgo_process::spawn({clang, "--version"}, nullptr, null_fd, pipe_fds[1], null_fd);
  close(pipe_fds[1]);
  if (null_fd >= 0) close(null_fd);
  std::string out = pid > 0 ? read_all(pipe_fds[0]) : "";
  close(pipe_fds[0]);
  if (pid > 0) mlgo_process::wait_child(pid);
  return out.empty() ? "(unknown version)" : out.substr(0, out.find('\n'));
}

[[noreturn]] void refuse_header(const Plan &plan, const std::string &clang, const std::string &file) {
  pid_t child = g_child;
  if (child > 0) {
    kill(child, SIGKILL);
    mlgo_process::wait_child(child);
  }
  std::string why;
  for (const std::string &problem : plan.problems) why += (why.empty() ? "" : "; ") + problem;
  std::fprintf(stderr,
               "%s: error: compiling %s: the compiler's %s decisions do not fit the policy built into this "
               "program: %s.\n"
               "%s: note: the policy was exported for %s (%s); this compile ran %s (%s).\n"
               "%s: note: set MLGO_CLANG to the clang the policy was built for, or export a policy trained "
               "with this clang.\n",
               kTool, file.c_str(), mlgo_config::kProblem, why.c_str(), kTool, mlgo_config::kClangVersion,
               mlgo_config::kClang, clang.c_str(), first_line_of_version(clang).c_str(), kTool);
  mlgo_process::remove_private_dir();
  std::exit(1);
}

void append_stats(const std::string &file, const StatsRecord &stats) {
  const char *path = std::getenv("MLGO_NATIVE_STATS");
  if (path == nullptr || *path == '\0') return;
  std::string escaped;
  for (char c : file) {
    if (c == '"' || c == '\\') escaped += '\\';
    if (static_cast<unsigned char>(c) >= 0x20) escaped += c;
  }
  char line[1024];
  int n = std::snprintf(line, sizeof line,
                        "{\"file\": \"%s\", \"decisions\": %ld, \"model_ns\": %lld, \"wait_ns\": %lld, "
                        "\"total_ns\": %lld, \"host_cpu_ns\": %lld}\n",
                        escaped.substr(0, 700).c_str(), stats.decisions, static_cast<long long>(stats.model.count()),
                        static_cast<long long>(stats.wait.count()), static_cast<long long>(stats.total.count()),
                        stats.host_cpu_ns);
  int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return;
  if (write(fd, line, static_cast<size_t>(n)) < 0) {
  }
  close(fd);
}

MlgoModel &model() {
  static MlgoModel instance;  // made on the first decision only
  return instance;
}

// Runs one -cc1 job with the advisor answered by the model; 0 when it succeeded.
int run_with_policy(const Job &job, int index, const std::string &clang) {
  std::string file = option_value(job.argv, "-main-file-name", "compile");
  std::string base = std::string(g_private) + "/channel-" + std::to_string(index);
  std::string out_path = base + ".out", in_path = base + ".in";
  if (mkfifo(out_path.c_str(), 0600) != 0 || mkfifo(in_path.c_str(), 0600) != 0)
    die("cannot make the channel's FIFOs in " + std::string(g_private) + ": " + std::strerror(errno));
  // Both O_RDWR: neither open blocks, and a compiler that asks nothing cannot hang this side.
  int out_fd = open(out_path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
  int in_fd = open(in_path.c_str(), O_RDWR | O_CLOEXEC);
  if (out_fd < 0 || in_fd < 0) die("cannot open the channel's FIFOs: " + std::string(std::strerror(errno)));
  std::vector<std::string> command = job.argv;
  for (const char *const *option = mlgo_config::kAdvisorOptions; *option; ++option) {
    std::string text = *option;
    size_t at = text.find(mlgo_config::kChannelPlaceholder);
    if (at != std::string::npos) text.replace(at, std::strlen(mlgo_config::kChannelPlaceholder), base);
    command.push_back(text);
  }
  StatsRecord stats;
  auto started = std::chrono::steady_clock::now();
  long long cpu_started = cpu_ns();
  pid_t pid = mlgo_process::spawn(command);
  if (pid < 0) die(std::string("fork: ") + std::strerror(errno));
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));  // -1 on old kernels: polled instead
  Reader reader(out_fd, pidfd, pid, stats);
  std::string line;
  bool protocol_error = false;
  std::string error;
  if (reader.readline(line)) {
    mlgo_json::Value header;
    const mlgo_json::Value *features = nullptr, *advice_value = nullptr;
    if (!mlgo_json::Parser(line).parse(header, error) || !(features = header.get("features")) ||
        features->kind != mlgo_json::Value::Array || !(advice_value = header.get("advice"))) {
      protocol_error = true;
      if (error.empty()) error = "the log header names no features or no advice";
    }
    std::vector<Tensor> tensors;
    Tensor advice;
    if (!protocol_error) {
      for (const mlgo_json::Value &item : features->items) {
        tensors.emplace_back();
        if (!parse_tensor(item, tensors.back())) protocol_error = true, error = "malformed feature in the log header";
      }
      if (!parse_tensor(*advice_value, advice)) protocol_error = true, error = "malformed advice in the log header";
    }
    if (!protocol_error) {
      MlgoModel &policy = model();
      Plan plan = plan_feeds(tensors, advice, policy);
      if (!plan.problems.empty()) refuse_header(plan, clang, file);
      while (reader.readline(line)) {
        if (line.rfind("{\"context\"", 0) == 0) continue;  // a function starts (one may ask nothing)
        if (line.rfind("{\"observation\"", 0) != 0) {
          protocol_error = true, error = "expected an observation line, got '" + line.substr(0, 200) + "'";
          break;
        }
        const char *record = reader.read_exact(plan.record_bytes + 1);
        if (record == nullptr) break;  // the compiler died mid-record: its status tells
        if (record[plan.record_bytes] != '\n') {
          protocol_error = true, error = "a record does not end with a newline";
          break;
        }
        auto before = std::chrono::steady_clock::now();
        for (const Feed &feed : plan.feeds) std::memcpy(policy.arg_data(feed.arg), record + feed.offset, feed.bytes);
        if (!policy.Run()) die("the model failed on a decision compiling " + file);
        stats.model += std::chrono::steady_clock::now() - before;
        const char *bytes = static_cast<const char *>(policy.result_data(static_cast<size_t>(plan.result)));
        for (size_t done = 0; done < mlgo_config::kAdvice.bytes;) {
          ssize_t n = write(in_fd, bytes + done, mlgo_config::kAdvice.bytes - done);
          if (n < 0 && errno != EINTR) die(std::string("writing the advice: ") + std::strerror(errno));
          if (n > 0) done += static_cast<size_t>(n);
        }
        ++stats.decisions;
      }
    }
  }
  if (protocol_error) die("compiling " + file + ": the compiler's channel broke the protocol: " + error);
  int status = mlgo_process::wait_child(pid);
  stats.total = std::chrono::steady_clock::now() - started;
  stats.host_cpu_ns = cpu_ns() - cpu_started;
  if (pidfd >= 0) close(pidfd);
  close(out_fd);
  close(in_fd);
  unlink(out_path.c_str());
  unlink(in_path.c_str());
  append_stats(file, stats);
  if (WIFSIGNALED(status)) {
    std::fprintf(stderr, "%s: error: clang -cc1 crashed (signal %d) compiling %s\n", kTool, WTERMSIG(status),
                 file.c_str());
    return 1;
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;  // clang printed its diagnostics
}

int run_plain(const Job &job) {
  pid_t pid = mlgo_process::spawn(job.argv);
  if (pid < 0) die(std::string("fork: ") + std::strerror(errno));
  int status = mlgo_process::wait_child(pid);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return 0;
  std::string tool = base_name(job.argv[0]);
  if (job.kind == Kind::Compile && WIFEXITED(status)) return 1;  // clang printed its diagnostics
  if (WIFSIGNALED(status))
    std::fprintf(stderr, "%s: error: %s crashed (signal %d)\n", kTool, tool.c_str(), WTERMSIG(status));
  else
    std::fprintf(stderr, "%s: error: %s failed with exit code %d\n", kTool, tool.c_str(), WEXITSTATUS(status));
  return 1;
}

}  // namespace

int main(int argc, char **argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  const char *from_env = std::getenv("MLGO_CLANG");
  std::string clang = from_env && *from_env ? from_env : mlgo_config::kClang;
  bool cxx = ends_with(base_name(argv[0]), "++");
  if (!args.empty() && is_clang_name(args[0])) {  // launcher mode
    clang = args[0];
    cxx = base_name(clang).find("++") != std::string::npos;
    args.erase(args.begin());
  }
  clang = which(clang);
  std::vector<std::string> driver = {clang};
  if (cxx) driver.push_back("--driver-mode=g++");

  mlgo_process::install_handlers();
  if (!mlgo_process::make_private_dir())
    die(std::string("cannot make a private folder under $TMPDIR: ") + std::strerror(errno));
  std::vector<Job> jobs = plan_jobs(driver, args);
  bool answers = false;
  for (const Job &job : jobs) answers |= makes_decisions(job);
  if (!answers) {  // nothing to decide: clang itself, in this process
    mlgo_process::remove_private_dir();
    std::vector<std::string> command = driver;
    command.insert(command.end(), args.begin(), args.end());
    std::vector<char *> c_args = mlgo_process::c_argv(command);
    execv(clang.c_str(), c_args.data());
    std::fprintf(stderr, "%s: error: cannot run %s: %s\n", kTool, clang.c_str(), std::strerror(errno));
    return 1;
  }
  int status = 0;
  for (size_t i = 0; i < jobs.size() && status == 0; ++i)
    status = makes_decisions(jobs[i]) ? run_with_policy(jobs[i], static_cast<int>(i), clang) : run_plain(jobs[i]);
  mlgo_process::remove_private_dir();
  return status;
}
