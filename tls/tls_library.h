// tls/tls_library.h — which TLS library this build links, for the start-up
// log and `--version`. The TLS machinery itself is in the other files of
// tls/ (docs/tls.md lists them); the SMTP client uses it once relay.tls
// accepts levels other than "none".
// Must never pull OpenSSL 3 into the process: only BoringSSL headers.
#pragma once

#include <string>

namespace ringmail {

// tls_library_description names the linked TLS library and its API level,
// e.g. "BoringSSL (API 17)". It also proves at start-up that the process
// resolved BoringSSL's symbols, not another libssl's.
std::string tls_library_description();

}  // namespace ringmail
