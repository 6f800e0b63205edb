// bench/smtp_codec_bench.cc — micro benchmarks of the SMTP text codecs:
// reply parsing (a pipelined MAIL/RCPT/RCPT/DATA burst), EHLO capability
// parsing, and DATA body encoding (CRLF + dot-stuffing) of 2 KB and 100 KB
// messages stored with CRLF or bare-LF line endings.
//
// Run: micro_bench --benchmark_filter='Smtp|Ehlo|Body'. Nothing here touches
// the network or the disk.
#include <benchmark/benchmark.h>

#include <cstring>
#include <string>
#include <vector>

#include "engine/body_encoder.h"
#include "engine/ehlo_capabilities.h"
#include "engine/smtp_reply.h"

namespace ringmail {
namespace {

void BM_SmtpReplyPipelinedBurst(benchmark::State& state) {
  const std::string burst =
      "250 2.1.0 Sender ok\r\n250 2.1.5 Recipient ok\r\n250 2.1.5 Recipient ok\r\n"
      "354 End data with <CR><LF>.<CR><LF>\r\n";
  int64_t replies = 0;
  for (auto _ : state) {
    size_t offset = 0;
    for (;;) {
      SmtpReply reply;
      size_t consumed = 0;
      const char* error = nullptr;
      if (parse_reply(burst.data() + offset, burst.size() - offset, reply, consumed, error) !=
          ReplyParse::kComplete) {
        break;
      }
      benchmark::DoNotOptimize(reply);
      offset += consumed;
      ++replies;
    }
  }
  state.SetItemsProcessed(replies);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * burst.size()));
}
BENCHMARK(BM_SmtpReplyPipelinedBurst);

void BM_EhloParse(benchmark::State& state) {
  const std::string ehlo =
      "250-mail.example.org\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-VRFY\r\n"
      "250-ETRN\r\n250-STARTTLS\r\n250-AUTH PLAIN LOGIN\r\n250-ENHANCEDSTATUSCODES\r\n"
      "250-8BITMIME\r\n250-DSN\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n";
  for (auto _ : state) {
    SmtpReply reply;
    size_t consumed = 0;
    const char* error = nullptr;
    parse_reply(ehlo.data(), ehlo.size(), reply, consumed, error);
    EhloCapabilities caps = parse_ehlo_capabilities(reply);
    benchmark::DoNotOptimize(caps);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EhloParse);

// make_message builds an alert-like message of about |size| bytes: headers,
// then 72-character text lines, one in 20 starting with '.'.
std::string make_message(size_t size, const char* eol) {
  std::string m = std::string("From: alerts@siem.example.org") + eol + "To: soc@example.org" + eol +
                  "Subject: [HIGH] 17 failed logins on db1" + eol +
                  "Content-Type: text/plain; charset=utf-8" + eol + eol;
  size_t line = 0;
  while (m.size() < size) {
    std::string text =
        "Event " + std::to_string(line) + ": user=svc_backup src=198.51.100.23 action=login result=failure";
    text.resize(72, '-');
    if (line % 20 == 19) text[0] = '.';
    m += text;
    m += eol;
    ++line;
  }
  m.resize(size);
  return m;
}

// BM_BodyEncode: args are message size and whether the file uses bare LF.
// The message is fed in 16 KB reads, the size of a spool read buffer.
void BM_BodyEncode(benchmark::State& state) {
  const size_t size = static_cast<size_t>(state.range(0));
  const bool bare_lf = state.range(1) != 0;
  const std::string message = make_message(size, bare_lf ? "\n" : "\r\n");
  constexpr size_t kChunk = 16384;
  std::vector<char> out(2 * kChunk + kMaxFinishBytes);
  BodyEncoder enc;
  for (auto _ : state) {
    enc.reset();
    size_t total = 0;
    for (size_t pos = 0; pos < message.size();) {
      const size_t n = std::min(kChunk, message.size() - pos);
      size_t in_used = 0;
      size_t out_used = 0;
      enc.encode(message.data() + pos, n, out.data(), out.size(), in_used, out_used);
      pos += in_used;
      total += out_used;
    }
    total += enc.finish(out.data(), out.size());
    benchmark::DoNotOptimize(total);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * size));
  state.SetLabel(bare_lf ? "LF input" : "CRLF input");
}
BENCHMARK(BM_BodyEncode)->ArgsProduct({{2048, 102400}, {0, 1}});

}  // namespace
}  // namespace ringmail
