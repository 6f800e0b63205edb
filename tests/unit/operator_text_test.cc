// tests/unit/operator_text_test.cc — escape_for_operator
// (tools/operator_text.h): control bytes escaped, long input shortened.
#include "tools/operator_text.h"

#include <gtest/gtest.h>

#include <string>

namespace ringmail {
namespace {

TEST(OperatorText, Table) {
  struct Case {
    std::string in;
    size_t max;
    std::string want;
  };
  const Case table[] = {
      {"user@example.org", 100, "user@example.org"},
      {"", 100, ""},
      {"a\r\nb", 100, "a\\r\\nb"},
      {"tab\there", 100, "tab\\there"},
      {"back\\slash", 100, "back\\\\slash"},
      {std::string("nul\0x", 5), 100, "nul\\x00x"},
      {"\x1b[31m", 100, "\\x1b[31m"},
      {"\x7f\xc3\xa9", 100, "\\x7f\\xc3\\xa9"},
      {"abcdef", 6, "abcdef"},
      {"abcdefg", 6, "abcdef…(7 bytes)"},
      {"abcd\r\n", 5, "abcd…(6 bytes)"},  // never cut inside an escape
      {std::string(10240, 'x'), 100, std::string(100, 'x') + "…(10240 bytes)"},
  };
  for (const Case& tc : table) {
    EXPECT_EQ(escape_for_operator(tc.in, tc.max), tc.want) << tc.in;
  }
}

}  // namespace
}  // namespace ringmail
