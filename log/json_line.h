// log/json_line.h — writes one JSON object as one line ("{...}\n") into a
// fixed buffer: no allocation, never more than the buffer, always valid
// JSON. A string that does not fit is cut (on a character boundary, see
// log/json_escape.h); a field that does not fit at all is left out; then
// truncated() says so and the line ends with "truncated":true. The closing
// always fits.
//
// Who uses it: log/delivery_event.cc (the delivery log's lines). Field
// names are the caller's literals and are written as given (not escaped).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ringmail {

class JsonLine {
 public:
  // JsonLine writes into out[0..cap); cap must be at least 32.
  JsonLine(char* out, size_t cap);

  void str(const char* name, std::string_view value);
  // str_or_null writes null for an empty value.
  void str_or_null(const char* name, std::string_view value);
  // str_max writes at most |max_in| bytes of |value| (a long server reply
  // must leave room for the fields after it).
  void str_max(const char* name, std::string_view value, size_t max_in);
  // str_list writes an array of strings; the ones that do not fit whole
  // are left out (and the line marked truncated). |count| strings from |items|.
  void str_list(const char* name, const std::string* items, size_t count);
  void num(const char* name, int64_t value);
  // millis writes |ms| as seconds with three decimals: 1234 → 1.234.
  void millis(const char* name, int64_t ms);
  void boolean(const char* name, bool value);
  void null(const char* name);
  // tls_fields writes the delivery log's "tls" and "tls_cipher" pair: the
  // protocol and cipher, or both null when |version| is null (no TLS).
  void tls_fields(const char* version, const char* cipher);
  // time_utc writes |unix_ms| as RFC 3339 UTC with milliseconds:
  // "2026-12-01T00:45:12.345Z".
  void time_utc(const char* name, int64_t unix_ms);

  // finish closes the object with "}\n" and returns the line's length.
  size_t finish();
  bool truncated() const { return truncated_; }

 private:
  bool open_field(const char* name, size_t value_min);
  bool put(std::string_view text);

  char* out_;
  size_t limit_;  // cap minus the room kept for "}\n"
  size_t used_ = 0;
  bool first_ = true;
  bool truncated_ = false;
};

// format_rfc3339_ms writes "YYYY-MM-DDTHH:MM:SS.mmmZ" (24 bytes, no NUL) into
// |out| and returns 24.
size_t format_rfc3339_ms(int64_t unix_ms, char* out);

}  // namespace ringmail
