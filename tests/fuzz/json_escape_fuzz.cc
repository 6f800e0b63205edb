// tests/fuzz/json_escape_fuzz.cc — any bytes into log/json_escape and
// log/json_line; the output must be valid JSON that decodes back to the
// input (invalid UTF-8 bytes as U+FFFD), and a cut output (any capacity)
// must be valid too and a prefix of the whole.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "log/json_escape.h"
#include "log/json_line.h"
#include "tests/support/json_check.h"

using namespace ringmail;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  std::string out(json_escaped_size(in), '\0');
  size_t consumed = 0;
  const size_t n = json_escape(in, out.data(), out.size(), &consumed);
  if (n != out.size() || consumed != in.size()) abort();
  std::string decoded;
  if (!testing::json_unescape(out, decoded)) abort();
  if (decoded != testing::expected_text(in)) abort();

  // A capacity too small: a valid prefix.
  const size_t cap = size > 0 ? data[0] % (out.size() + 1) : 0;
  std::string cut(cap, '\0');
  const size_t m = json_escape(in, cut.data(), cap, &consumed);
  if (m > cap || std::string_view(out).substr(0, m) != std::string_view(cut.data(), m)) abort();
  if (!testing::json_unescape(std::string_view(cut.data(), m), decoded)) abort();

  // A whole line with the bytes as a field, in a small buffer.
  char line[256];
  JsonLine writer(line, sizeof(line));
  writer.str("a", in);
  writer.num("n", static_cast<int64_t>(size));
  const size_t len = writer.finish();
  const std::string_view text(line, len);
  if (len > sizeof(line) || text.substr(0, 6) != "{\"a\":\"" || text.substr(len - 2) != "}\n") abort();
  const size_t close = text.find("\",\"n\":");
  const size_t close_cut = text.find("\",\"truncated\":true}");
  const size_t end = close != std::string_view::npos ? close : close_cut;
  if (end == std::string_view::npos) abort();
  if (!testing::json_unescape(text.substr(6, end - 6), decoded)) abort();
  return 0;
}
