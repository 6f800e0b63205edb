// tls/tls_trust_store.h — loads the trust store (tls.ca_file, tls.ca_dir)
// into an X509_STORE once, at start-up.
//
// Who calls it: TlsClientContext::create and `ringmail check-tls`. Reads
// files, so it must never run on a worker thread: every certificate is
// loaded into memory here, and verification later reads no file (unlike
// OpenSSL's hashed-directory lookup, which reads ca_dir during each
// handshake; that is also why ca_dir needs no c_rehash here).
#pragma once

#include <openssl/base.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace ringmail {

// load_trust_store adds every certificate of the PEM file |ca_file| (if not
// empty) and of every regular file in |ca_dir| (if not empty; files with no
// PEM certificate, such as a README, are skipped) to |store|. On success
// sets |certs_added| and returns true. On failure returns false and sets
// |error| to a sentence naming the file and what to do. Every certificate
// loaded is a trust anchor, root or not (X509_V_FLAG_PARTIAL_CHAIN): saving
// a server's own certificate into ca_dir pins that server. A |ca_file| that
// holds no certificate is an error; an empty |ca_dir| is an error too.
bool load_trust_store(X509_STORE* store, std::string_view ca_file, std::string_view ca_dir,
                      size_t& certs_added, std::string& error);

// trust_store_text names the store for messages: "ca_file /x.pem and
// ca_dir /etc/ssl/certs", "ca_dir /etc/ssl/certs", ...
std::string trust_store_text(std::string_view ca_file, std::string_view ca_dir);

}  // namespace ringmail
