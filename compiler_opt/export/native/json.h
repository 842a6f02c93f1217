// A small JSON reader for the interactive channel's header and record lines (objects, arrays, strings,
// numbers, true/false/null). Enough for what LLVM's interactive model runner writes; not a general library.
#pragma once

#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

namespace mlgo_json {

struct Value {
  enum Kind { Null, Bool, Number, String, Array, Object } kind = Null;
  bool boolean = false;
  double number = 0;
  std::string text;
  std::vector<Value> items;                            // Array
  std::vector<std::pair<std::string, Value>> members;  // Object, in order

  const Value *get(const std::string &key) const {
    if (kind != Object) return nullptr;
    for (const auto &member : members)
      if (member.first == key) return &member.second;
    return nullptr;
  }
};

class Parser {
 public:
  explicit Parser(const std::string &text) : s_(text) {}

  // Parses the whole text as one value; false (and `error` says why) when it is not JSON.
  bool parse(Value &out, std::string &error) {
    if (!value(out, 0) || (skip(), pos_ != s_.size())) {
      error = error_.empty() ? "trailing characters at offset " + std::to_string(pos_) : error_;
      return false;
    }
    return true;
  }

 private:
  const std::string &s_;
  size_t pos_ = 0;
  std::string error_;

  bool fail(const std::string &what) {
    if (error_.empty()) error_ = what + " at offset " + std::to_string(pos_);
    return false;
  }
  void skip() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }
  bool literal(const char *word) {
    size_t n = std::char_traits<char>::length(word);
    if (s_.compare(pos_, n, word) != 0) return fail("unexpected characters");
    pos_ += n;
    return true;
  }
  bool value(Value &out, int depth) {
    if (depth > 64) return fail("nesting too deep");
    skip();
    if (pos_ >= s_.size()) return fail("unexpected end");
    char c = s_[pos_];
    if (c == '{') return object(out, depth);
    if (c == '[') return array(out, depth);
    if (c == '"') return out.kind = Value::String, string(out.text);
    if (c == 't') return out.kind = Value::Bool, out.boolean = true, literal("true");
    if (c == 'f') return out.kind = Value::Bool, literal("false");
    if (c == 'n') return out.kind = Value::Null, literal("null");
    return number(out);
  }
  bool number(Value &out) {
    const char *begin = s_.c_str() + pos_;
    char *end = nullptr;
    out.number = std::strtod(begin, &end);
    if (end == begin) return fail("expected a value");
    out.kind = Value::Number;
    pos_ += static_cast<size_t>(end - begin);
    return true;
  }
  static void append_utf8(std::string &out, unsigned code) {
    if (code < 0x80) {
      out += static_cast<char>(code);
    } else if (code < 0x800) {
      out += static_cast<char>(0xC0 | (code >> 6));
      out += static_cast<char>(0x80 | (code & 0x3F));
    } else {
      out += static_cast<char>(0xE0 | (code >> 12));
      out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (code & 0x3F));
    }
  }
  bool string(std::string &out) {
    ++pos_;  // the opening quote
    while (pos_ < s_.size()) {
      char c = s_[pos_++];
      if (c == '"') return true;
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= s_.size()) break;
      char e = s_[pos_++];
      switch (e) {
        case 'n': out += '\n'; break;
        case 't': out += '\t'; break;
        case 'r': out += '\r'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'u': {
          if (pos_ + 4 > s_.size()) return fail("truncated \\u escape");
          append_utf8(out, static_cast<unsigned>(std::strtoul(s_.substr(pos_, 4).c_str(), nullptr, 16)));
          pos_ += 4;
          break;
        }
        default: out += e;  // \" \\ \/
      }
    }
    return fail("unterminated string");
  }
  bool array(Value &out, int depth) {
    out.kind = Value::Array;
    ++pos_;
    skip();
    if (pos_ < s_.size() && s_[pos_] == ']') return ++pos_, true;
    for (;;) {
      out.items.emplace_back();
      if (!value(out.items.back(), depth + 1)) return false;
      skip();
      if (pos_ < s_.size() && s_[pos_] == ',') { ++pos_; continue; }
      if (pos_ < s_.size() && s_[pos_] == ']') return ++pos_, true;
      return fail("expected ',' or ']'");
    }
  }
  bool object(Value &out, int depth) {
    out.kind = Value::Object;
    ++pos_;
    skip();
    if (pos_ < s_.size() && s_[pos_] == '}') return ++pos_, true;
    for (;;) {
      skip();
      if (pos_ >= s_.size() || s_[pos_] != '"') return fail("expected a member name");
      std::string key;
      if (!string(key)) return false;
      skip();
      if (pos_ >= s_.size() || s_[pos_] != ':') return fail("expected ':'");
      ++pos_;
      out.members.emplace_back(std::move(key), Value());
      if (!value(out.members.back().second, depth + 1)) return false;
      skip();
      if (pos_ < s_.size() && s_[pos_] == ',') { ++pos_; continue; }
      if (pos_ < s_.size() && s_[pos_] == '}') return ++pos_, true;
      return fail("expected ',' or '}'");
    }
  }
};

}  // namespace mlgo_json
