// tests/unit/ehlo_capabilities_test.cc — EHLO reply → EhloCapabilities
// (engine/ehlo_capabilities.h), table-driven over replies as real servers
// send them (Postfix, Exchange/Office 365, AWS SES, Gmail, Exim) and odd ones.
#include "engine/ehlo_capabilities.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "engine/smtp_reply.h"

namespace ringmail {
namespace {

std::string describe(const EhloCapabilities& c) {
  std::string s;
  auto flag = [&](const char* name, bool v) {
    if (v) s += std::string(name) + " ";
  };
  flag("PIPELINING", c.pipelining);
  flag("SIZE", c.size);
  flag("8BITMIME", c.eight_bit_mime);
  flag("SMTPUTF8", c.smtputf8);
  flag("ENHANCEDSTATUSCODES", c.enhanced_status_codes);
  flag("STARTTLS", c.starttls);
  flag("CHUNKING", c.chunking);
  flag("DSN", c.dsn);
  flag("AUTH", c.auth);
  flag("AUTH-PLAIN", c.auth_plain);
  flag("AUTH-LOGIN", c.auth_login);
  flag("AUTH-XOAUTH2", c.auth_xoauth2);
  s += "size_limit=" + std::to_string(c.size_limit);
  return s;
}

struct EhloCase {
  const char* name;
  std::string reply;
  EhloCapabilities want;
};

// PrintTo names a case in gtest messages instead of dumping its bytes.
void PrintTo(const EhloCase& c, std::ostream* os) { *os << c.name; }

std::vector<EhloCase> cases() {
  return {
      {"postfix",
       "250-mail.example.org\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-VRFY\r\n"
       "250-ETRN\r\n250-STARTTLS\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n"
       "250-DSN\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n",
       {.pipelining = true,
        .size = true,
        .eight_bit_mime = true,
        .smtputf8 = true,
        .enhanced_status_codes = true,
        .starttls = true,
        .chunking = true,
        .dsn = true,
        .size_limit = 10240000}},
      {"postfix_after_starttls_with_auth",
       "250-mail.example.org\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n"
       "250-AUTH PLAIN LOGIN\r\n250-AUTH=PLAIN LOGIN\r\n250-ENHANCEDSTATUSCODES\r\n"
       "250-8BITMIME\r\n250 DSN\r\n",
       {.pipelining = true,
        .size = true,
        .eight_bit_mime = true,
        .enhanced_status_codes = true,
        .dsn = true,
        .size_limit = 10240000,
        .auth = true,
        .auth_plain = true,
        .auth_login = true}},
      {"office365",
       "250-AM0PR01CA0001.outlook.office365.com Hello [192.0.2.1]\r\n250-SIZE 157286400\r\n"
       "250-PIPELINING\r\n250-DSN\r\n250-ENHANCEDSTATUSCODES\r\n250-STARTTLS\r\n"
       "250-8BITMIME\r\n250-BINARYMIME\r\n250-CHUNKING\r\n250 SMTPUTF8\r\n",
       {.pipelining = true,
        .size = true,
        .eight_bit_mime = true,
        .smtputf8 = true,
        .enhanced_status_codes = true,
        .starttls = true,
        .chunking = true,
        .dsn = true,
        .size_limit = 157286400}},
      {"exchange_onprem_old_auth",
       "250-exch01.corp.example Hello [192.0.2.7]\r\n250-SIZE 37748736\r\n250-PIPELINING\r\n"
       "250-DSN\r\n250-ENHANCEDSTATUSCODES\r\n250-AUTH NTLM LOGIN\r\n250-AUTH=LOGIN\r\n"
       "250-X-EXPS GSSAPI NTLM\r\n250-8BITMIME\r\n250-BINARYMIME\r\n250-CHUNKING\r\n"
       "250 XRDST\r\n",
       {.pipelining = true,
        .size = true,
        .eight_bit_mime = true,
        .enhanced_status_codes = true,
        .chunking = true,
        .dsn = true,
        .size_limit = 37748736,
        .auth = true,
        .auth_login = true}},
      {"aws_ses_before_tls",
       "250-email-smtp.amazonaws.com\r\n250-8BITMIME\r\n250-STARTTLS\r\n"
       "250-AUTH PLAIN LOGIN\r\n250 Ok\r\n",
       {.eight_bit_mime = true, .starttls = true, .auth = true, .auth_plain = true, .auth_login = true}},
      {"aws_ses_after_tls",
       "250-email-smtp.amazonaws.com\n250-8BITMIME\n250-AUTH PLAIN LOGIN\n250 Ok\n",
       {.eight_bit_mime = true, .auth = true, .auth_plain = true, .auth_login = true}},
      {"gmail_mx",
       "250-mx.google.com at your service, [192.0.2.9]\r\n250-SIZE 157286400\r\n"
       "250-8BITMIME\r\n250-STARTTLS\r\n250-ENHANCEDSTATUSCODES\r\n250-PIPELINING\r\n"
       "250-CHUNKING\r\n250 SMTPUTF8\r\n",
       {.pipelining = true,
        .size = true,
        .eight_bit_mime = true,
        .smtputf8 = true,
        .enhanced_status_codes = true,
        .starttls = true,
        .chunking = true,
        .size_limit = 157286400}},
      {"gmail_submission_after_tls",
       "250-smtp.gmail.com at your service, [192.0.2.9]\r\n250-SIZE 35882577\r\n"
       "250-8BITMIME\r\n250-AUTH LOGIN PLAIN XOAUTH2 PLAIN-CLIENTTOKEN OAUTHBEARER XOAUTH\r\n"
       "250-ENHANCEDSTATUSCODES\r\n250-PIPELINING\r\n250-CHUNKING\r\n250 SMTPUTF8\r\n",
       {.pipelining = true,
        .size = true,
        .eight_bit_mime = true,
        .smtputf8 = true,
        .enhanced_status_codes = true,
        .chunking = true,
        .size_limit = 35882577,
        .auth = true,
        .auth_plain = true,
        .auth_login = true,
        .auth_xoauth2 = true}},
      {"exim_lowercase_and_spaces",
       "250-mx.exim.example Hello host [192.0.2.3]\r\n250-size 52428800\r\n"
       "250-  pipelining  \r\n250-Auth\tplain\tlogin\r\n250-starttls\r\n250 help\r\n",
       {.pipelining = true,
        .size = true,
        .starttls = true,
        .size_limit = 52428800,
        .auth = true,
        .auth_plain = true,
        .auth_login = true}},
      {"greeting_line_is_not_a_keyword",
       "250-PIPELINING STARTTLS\r\n250 8BITMIME\r\n",
       {.eight_bit_mime = true}},
      {"single_line_offers_nothing", "250 mx.example.org\r\n", {}},
      {"size_without_number", "250-mx\r\n250 SIZE\r\n", {.size = true}},
      {"size_zero_means_no_limit", "250-mx\r\n250 SIZE 0\r\n", {.size = true}},
      {"size_not_a_number", "250-mx\r\n250 SIZE 10MB\r\n", {.size = true}},
      {"size_saturates",
       "250-mx\r\n250 SIZE 99999999999999999999999\r\n",
       {.size = true, .size_limit = UINT64_MAX}},
      {"size_uint64_max",
       "250-mx\r\n250 SIZE 18446744073709551615\r\n",
       {.size = true, .size_limit = UINT64_MAX}},
      {"keywords_must_match_whole",
       "250-mx\r\n250-PIPELININGX\r\n250-XSTARTTLS\r\n250-AUTHENTICATE PLAIN\r\n"
       "250-AUTH PLAINX LOGIN2\r\n250-SIZEX 5\r\n250 DSNX\r\n",
       {.auth = true}},  // an AUTH line, with no mechanism ringmail knows
      {"auth_equals_empty", "250-mx\r\n250 AUTH=\r\n", {.auth = true}},
      {"auth_cram_md5_only", "250-mx\r\n250 AUTH CRAM-MD5 DIGEST-MD5\r\n", {.auth = true}},
      {"auth_equals_mechanism", "250-mx\r\n250 auth=xoauth2\r\n", {.auth = true, .auth_xoauth2 = true}},
      {"empty_lines", "250-mx\r\n250-\r\n250\r\n", {}},
      {"not_250_offers_nothing", "550-mx\r\n550-PIPELINING\r\n550 STARTTLS\r\n", {}},
      {"ehlo_not_supported", "502 5.5.1 EHLO not supported\r\n", {}},
  };
}

bool same(const EhloCapabilities& a, const EhloCapabilities& b) { return describe(a) == describe(b); }

class EhloCapabilitiesTableTest : public testing::TestWithParam<EhloCase> {};

TEST_P(EhloCapabilitiesTableTest, ParsesReply) {
  const EhloCase& c = GetParam();
  SmtpReply reply;
  size_t consumed = 0;
  const char* error = nullptr;
  ASSERT_EQ(parse_reply(c.reply.data(), c.reply.size(), reply, consumed, error), ReplyParse::kComplete)
      << (error != nullptr ? error : "");
  ASSERT_EQ(consumed, c.reply.size());
  const EhloCapabilities got = parse_ehlo_capabilities(reply);
  EXPECT_TRUE(same(got, c.want)) << "got  " << describe(got) << "\nwant " << describe(c.want);
}

INSTANTIATE_TEST_SUITE_P(Cases, EhloCapabilitiesTableTest, testing::ValuesIn(cases()),
                         [](const testing::TestParamInfo<EhloCase>& info) {
                           return std::string(info.param.name);
                         });

TEST(EhloCapabilitiesTest, DefaultReplyOffersNothing) {
  EXPECT_TRUE(same(parse_ehlo_capabilities(SmtpReply{}), EhloCapabilities{}));
}

}  // namespace
}  // namespace ringmail
