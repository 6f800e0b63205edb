// tls/tls_library.cc — see tls_library.h.
#include "tls/tls_library.h"

#include <fmt/format.h>
#include <openssl/base.h>
#include <openssl/crypto.h>

#ifndef OPENSSL_IS_BORINGSSL
#error "ringmail must be built against BoringSSL (headers under /usr/include/android first)"
#endif

namespace ringmail {

std::string tls_library_description() {
  // OpenSSL_version is a BoringSSL compatibility shim that reports "BoringSSL".
  return fmt::format("{} (API {})", OpenSSL_version(OPENSSL_VERSION), BORINGSSL_API_VERSION);
}

}  // namespace ringmail
