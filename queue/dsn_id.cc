// queue/dsn_id.cc — bounce ids; see queue/dsn_id.h.
#include "queue/dsn_id.h"

#include <cstring>

namespace ringmail {
namespace {
constexpr std::string_view kDsnSuffix = ".dsn";
}  // namespace

void make_dsn_id(char (&out)[kMessageIdMax]) {
  make_message_id(out);  // at most 48 characters: room for the suffix
  const size_t len = std::strlen(out);
  std::memcpy(out + len, kDsnSuffix.data(), kDsnSuffix.size());
  out[len + kDsnSuffix.size()] = '\0';
}

bool is_dsn_id(std::string_view id) { return id.size() > kDsnSuffix.size() && id.ends_with(kDsnSuffix); }

}  // namespace ringmail
