// A little C++ with templates, lambdas and small helpers: plenty of inlining decisions.
#include <algorithm>
#include <map>
#include <string>
#include <vector>

namespace demo {
struct Point { int x, y; };
static int manhattan(const Point &a, const Point &b) { return std::abs(a.x - b.x) + std::abs(a.y - b.y); }

template <typename T> T clamp_to(T v, T lo, T hi) { return v < lo ? lo : (v > hi ? hi : v); }

std::vector<int> distances(const std::vector<Point> &points) {
  std::vector<int> out;
  for (size_t i = 1; i < points.size(); ++i) out.push_back(clamp_to(manhattan(points[i - 1], points[i]), 0, 1000));
  std::sort(out.begin(), out.end(), [](int a, int b) { return a > b; });
  return out;
}

std::map<std::string, int> histogram(const std::vector<std::string> &words) {
  std::map<std::string, int> counts;
  for (const auto &w : words) counts[w] += static_cast<int>(w.size());
  return counts;
}
}  // namespace demo

int run_demo(int n) {
  std::vector<demo::Point> pts;
  for (int i = 0; i < n; ++i) pts.push_back({i * 3 % 7, i * 5 % 11});
  auto d = demo::distances(pts);
  std::vector<std::string> words{"alpha", "beta", "gamma", "beta"};
  auto h = demo::histogram(words);
  return static_cast<int>(d.size()) + h["beta"];
}
