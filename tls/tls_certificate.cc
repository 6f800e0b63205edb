// tls/tls_certificate.cc — see tls_certificate.h.
#include "tls/tls_certificate.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bytestring.h>
#include <openssl/ec.h>
#include <openssl/ec_key.h>
#include <openssl/evp.h>
#include <openssl/nid.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <ctime>

namespace ringmail {

namespace {

std::string bio_text(BIO* bio) {
  const uint8_t* data = nullptr;
  size_t len = 0;
  if (!BIO_mem_contents(bio, &data, &len)) return {};
  return std::string(reinterpret_cast<const char*>(data), len);
}

void name_to(const X509_NAME* name, TextOut& out) {
  if (name == nullptr || X509_NAME_entry_count(name) == 0) {
    out.append("(none)");
    return;
  }
  bssl::UniquePtr<BIO> bio(BIO_new(BIO_s_mem()));
  const uint8_t* data = nullptr;
  size_t len = 0;
  if (!bio || X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) < 0 ||
      !BIO_mem_contents(bio.get(), &data, &len)) {
    out.append("?");
    return;
  }
  out.append_printable(std::string_view(reinterpret_cast<const char*>(data), len));
}

// with_text runs |write| into a stack buffer and returns the text.
template <typename F>
std::string with_text(F&& write) {
  char buf[2048];
  TextOut out(buf, sizeof buf);
  write(out);
  return std::string(out.view());
}

}  // namespace

void TextOut::append(std::string_view text) {
  size_t room = capacity - 1 - size;
  size_t n = text.size() < room ? text.size() : room;
  text.copy(data + size, n);
  size += n;
  data[size] = '\0';
}

void TextOut::append_printable(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (unsigned char c : bytes) {
    if (c >= 0x20 && c < 0x7f) {
      char one = static_cast<char>(c);
      append(std::string_view(&one, 1));
    } else {
      const char escaped[4] = {'\\', 'x', kHex[c >> 4], kHex[c & 15]};
      append(std::string_view(escaped, 4));
    }
  }
}

std::string printable(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (unsigned char c : bytes) {
    if (c >= 0x20 && c < 0x7f) {
      out.push_back(static_cast<char>(c));
    } else {
      out += fmt::format("\\x{:02x}", c);
    }
  }
  return out;
}

void cert_subject_to(const X509* cert, TextOut& out) { name_to(X509_get_subject_name(cert), out); }

void cert_issuer_to(const X509* cert, TextOut& out) { name_to(X509_get_issuer_name(cert), out); }

std::string cert_subject_text(const X509* cert) {
  return with_text([cert](TextOut& out) { cert_subject_to(cert, out); });
}

std::string cert_issuer_text(const X509* cert) {
  return with_text([cert](TextOut& out) { cert_issuer_to(cert, out); });
}

std::string cert_common_name(const X509* cert) {
  const X509_NAME* name = X509_get_subject_name(cert);
  int index = -1;
  int last = -1;
  while ((index = X509_NAME_get_index_by_NID(name, NID_commonName, index)) >= 0) last = index;
  if (last < 0) return {};
  const ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, last));
  uint8_t* utf8 = nullptr;
  int len = ASN1_STRING_to_UTF8(&utf8, data);
  if (len < 0) return {};
  std::string out = printable(std::string_view(reinterpret_cast<char*>(utf8), static_cast<size_t>(len)));
  OPENSSL_free(utf8);
  return out;
}

void cert_names_to(const X509* cert, TextOut& out) {
  bssl::UniquePtr<GENERAL_NAMES> names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  size_t start = out.size;
  bool any = false;
  for (size_t i = 0; names && i < sk_GENERAL_NAME_num(names.get()); i++) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    const ASN1_STRING* s = nullptr;
    if (name->type == GEN_DNS) {
      s = name->d.dNSName;
    } else if (name->type == GEN_IPADD) {
      s = name->d.iPAddress;
    } else {
      continue;  // email, URI, directory names: not used for TLS server names
    }
    const unsigned char* p = ASN1_STRING_get0_data(s);
    int len = ASN1_STRING_length(s);
    char ip[INET6_ADDRSTRLEN] = "?";
    if (name->type == GEN_IPADD) {
      if (len == 4) {
        ::inet_ntop(AF_INET, p, ip, sizeof ip);
      } else if (len == 16) {
        ::inet_ntop(AF_INET6, p, ip, sizeof ip);
      }
    }
    if (any) out.append(", ");
    any = true;
    if (name->type == GEN_DNS) {
      out.append("DNS:");
      out.append_printable(std::string_view(reinterpret_cast<const char*>(p), static_cast<size_t>(len)));
    } else {
      out.append("IP:");
      out.append(ip);
    }
  }
  if (out.size > start) return;
  std::string cn = cert_common_name(cert);
  if (cn.empty()) {
    out.append("(no names)");
  } else {
    out.append("CN:");
    out.append(cn);
  }
}

std::string cert_names_text(const X509* cert) {
  return with_text([cert](TextOut& out) { cert_names_to(cert, out); });
}

void cert_time_to(const ASN1_TIME* time, TextOut& out) {
  // ASN1_TIME_diff from the epoch gives days and seconds; turn them into a
  // calendar date with gmtime_r (BoringSSL has no ASN1_TIME_to_tm here).
  bssl::UniquePtr<ASN1_TIME> epoch(ASN1_TIME_set(nullptr, 0));
  int days = 0;
  int seconds = 0;
  if (time == nullptr || !epoch || !ASN1_TIME_diff(&days, &seconds, epoch.get(), time)) {
    out.append("?");
    return;
  }
  time_t t = static_cast<time_t>(days) * 86400 + seconds;
  struct tm tm {};
  char buf[40];
  if (gmtime_r(&t, &tm) == nullptr || std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0) {
    out.append("?");
    return;
  }
  out.append(buf);
}

std::string cert_time_text(const ASN1_TIME* time) {
  return with_text([time](TextOut& out) { cert_time_to(time, out); });
}

std::string cert_key_text(const X509* cert) {
  bssl::UniquePtr<EVP_PKEY> key(X509_get_pubkey(const_cast<X509*>(cert)));
  if (!key) return "unreadable key";
  switch (EVP_PKEY_id(key.get())) {
    case EVP_PKEY_RSA:
      return fmt::format("RSA {} bits", EVP_PKEY_bits(key.get()));
    case EVP_PKEY_EC: {
      const EC_KEY* ec = EVP_PKEY_get0_EC_KEY(key.get());
      int nid = ec ? EC_GROUP_get_curve_name(EC_KEY_get0_group(ec)) : NID_undef;
      if (nid == NID_X9_62_prime256v1) return "ECDSA P-256";
      if (nid == NID_secp384r1) return "ECDSA P-384";
      if (nid == NID_secp521r1) return "ECDSA P-521";
      return fmt::format("ECDSA {} bits", EVP_PKEY_bits(key.get()));
    }
    case EVP_PKEY_ED25519:
      return "Ed25519";
    default:
      return fmt::format("key type {} ({} bits)", EVP_PKEY_id(key.get()), EVP_PKEY_bits(key.get()));
  }
}

bool cert_is_self_issued(const X509* cert) {
  return X509_NAME_cmp(X509_get_subject_name(cert), X509_get_issuer_name(cert)) == 0;
}

std::string cert_pem(const X509* cert) {
  bssl::UniquePtr<BIO> bio(BIO_new(BIO_s_mem()));
  if (!bio || !PEM_write_bio_X509(bio.get(), const_cast<X509*>(cert))) return {};
  return bio_text(bio.get());
}

std::string cert_file_stem(std::string_view common_name) {
  std::string out;
  for (char c : common_name) {
    if (out.size() >= 64) break;
    bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                c == '.' || c == '_';
    out.push_back(keep ? c : '_');
  }
  while (!out.empty() && out.front() == '.') out.erase(out.begin());
  if (out.empty()) out = "certificate";
  return out;
}

}  // namespace ringmail
