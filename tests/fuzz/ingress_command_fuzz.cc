// tests/fuzz/ingress_command_fuzz.cc — libFuzzer target for the SMTP server's
// command line parser (ingress/smtp_command.h) and AUTH decoding
// (ingress/sasl_decode.h), shared by the listener and the sink.
//
// The input is one command line (without CRLF). Invariants, any broken one
// aborts: every view a parser returns lies inside its input; an accepted
// address is at most kMaxPathBytes and holds no blank, control byte, '<'
// or '>' (it goes into a spool preamble); a bad SIZE reads as 0; the verb
// is kEmpty exactly for the empty line; a decoded base64 text is at most
// 3/4 of its input. ASan/UBSan check the reads.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "ingress/sasl_decode.h"
#include "ingress/smtp_command.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using namespace ringmail::ingress;

using ringmail_fuzz::check;

bool inside(std::string_view part, std::string_view whole) {
  return part.empty() ||
         (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  const SmtpCommand command = parse_command(line);
  check((command.verb == SmtpVerb::kEmpty) == line.empty(), "kEmpty only for the empty line");
  check(inside(command.arg, line), "arg inside the line");

  for (std::string_view prefix : {std::string_view("FROM:"), std::string_view("TO:")}) {
    std::string_view arg = command.arg;
    if (starts_with_ignore_case(arg, prefix)) arg.remove_prefix(prefix.size());
    std::string_view address, params;
    if (!parse_path(arg, address, params)) continue;
    check(inside(address, arg) && inside(params, arg), "path views inside the argument");
    check(address.size() <= kMaxPathBytes, "address bounded");
    for (char c : address) {
      const auto u = static_cast<unsigned char>(c);
      check(u > 0x20 && u != 0x7f && c != '<' && c != '>', "address bytes safe for the spool");
    }
    const MailParams mail = parse_mail_params(params);
    check(inside(mail.unknown, params), "unknown parameter inside the parameters");
    check(!mail.size_bad || mail.size == 0, "a bad SIZE reads as 0");
  }

  uint64_t chunk = 0;
  bool last = false;
  if (parse_bdat_args(command.arg, chunk, last)) {
    const std::string_view arg = trim_spaces(command.arg);
    check(!arg.empty() && arg.front() >= '0' && arg.front() <= '9', "BDAT count starts with a digit");
    check(!last || arg.size() >= 6, "LAST is there when read");
  }

  char decoded[1024];
  size_t decoded_size = 0;
  const std::string_view text = line.substr(0, 1000);
  if (base64_decode(text, decoded, sizeof(decoded), decoded_size)) {
    check(decoded_size <= text.size() / 4 * 3, "decoded within 3/4 of the text");
    PlainCredentials credentials;
    if (parse_plain(std::string_view(decoded, decoded_size), credentials)) {
      check(!credentials.user.empty(), "PLAIN user not empty");
      check(credentials.authzid.size() + credentials.user.size() + credentials.password.size() + 2 ==
                decoded_size,
            "PLAIN parts cover the response");
    }
  }
  return 0;
}
