// tools/operator_text.cc — see operator_text.h.
#include "tools/operator_text.h"

namespace ringmail {

std::string escape_for_operator(std::string_view text, size_t max_chars) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    const auto u = static_cast<unsigned char>(text[i]);
    char escaped[5] = {};
    switch (u) {
      case '\r':
        escaped[0] = '\\', escaped[1] = 'r';
        break;
      case '\n':
        escaped[0] = '\\', escaped[1] = 'n';
        break;
      case '\t':
        escaped[0] = '\\', escaped[1] = 't';
        break;
      case '\\':
        escaped[0] = '\\', escaped[1] = '\\';
        break;
      default:
        if (u >= 0x20 && u < 0x7f) {
          escaped[0] = static_cast<char>(u);
        } else {
          escaped[0] = '\\', escaped[1] = 'x', escaped[2] = kHex[u >> 4], escaped[3] = kHex[u & 15];
        }
    }
    const std::string_view piece(escaped);
    if (out.size() + piece.size() > max_chars) {
      out += "…(" + std::to_string(text.size()) + " bytes)";
      return out;
    }
    out += piece;
  }
  return out;
}

}  // namespace ringmail
