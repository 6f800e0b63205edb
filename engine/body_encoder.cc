// engine/body_encoder.cc — CRLF canonicalisation, the 998-octet line limit
// and dot-stuffing for DATA and BDAT (see body_encoder.h).
//
// Hot path: every body byte passes through here. Runs of ordinary bytes are
// found with memchr and copied with memcpy; a well-formed "text\r\n" line is
// one memchr for '\n', one for '\r' and one memcpy. Never reads past
// in[in_size) nor writes past out[out_cap); never allocates.
#include "engine/body_encoder.h"

#include <cstdlib>
#include <cstring>

#include "queue/line_end.h"

namespace ringmail {

void BodyEncoder::encode(const char* in, size_t in_size, char* out, size_t out_cap, size_t& in_used,
                         size_t& out_used) {
  size_t i = 0;  // input position
  size_t o = 0;  // output position
  if (owed_len_ != 0) {
    // The last call wrote the first part of in[0]'s expansion; its effect on
    // the state is already applied. Write the rest, then consume the byte.
    if (in_size == 0 || out_cap == 0) {
      in_used = 0;
      out_used = 0;
      return;
    }
    const size_t n = owed_len_ < out_cap ? owed_len_ : out_cap;
    std::memcpy(out, owed_, n);
    std::memmove(owed_, owed_ + n, owed_len_ - n);
    owed_len_ -= n;
    o = n;
    if (owed_len_ != 0) {
      in_used = 0;
      out_used = o;
      return;
    }
    i = 1;
  }
  // The state in locals: stores through |out| (a char*) may alias any
  // member, which would make the compiler reload members after each one.
  bool at_line_start = at_line_start_;
  bool skip_lf = skip_lf_;
  bool in_header = in_header_;
  size_t line_bytes = line_bytes_;
  const bool dot_stuffing = dot_stuffing_;
  while (i < in_size) {
    const char c = in[i];
    if (skip_lf) {
      // The previous '\r' was already written as "\r\n": swallow its '\n'.
      skip_lf = false;
      if (c == '\n') {
        ++i;
        continue;
      }
    }
    if (o == out_cap) break;
    const bool line_end = is_line_end_byte(c);
    if (line_end && out_cap - o >= 2) {
      // The common expansion (a bare LF file has one per line), written
      // directly: "\r\n", and the next byte starts a line.
      if (at_line_start) in_header = false;  // an empty line ends the header section
      out[o++] = '\r';
      out[o++] = '\n';
      at_line_start = true;
      skip_lf = (c == '\r');
      line_bytes = 0;
      ++i;
      continue;
    }
    if (line_end || line_bytes >= kMaxLineBytes || (at_line_start && c == '.' && dot_stuffing)) {
      // One byte with an expansion: a line end, a line-start dot, or a byte
      // that needs a line break before it. Build it, apply its effect on
      // the state, write what fits and owe the rest.
      char x[kMaxExpansionBytes];
      size_t n = 0;
      if (line_end) {
        if (at_line_start) in_header = false;  // an empty line ends the header section
        x[n++] = '\r';
        x[n++] = '\n';
        at_line_start = true;
        skip_lf = (c == '\r');
        line_bytes = 0;
      } else {
        if (line_bytes >= kMaxLineBytes) {
          x[n++] = '\r';
          x[n++] = '\n';
          if (in_header) {
            x[n++] = ' ';  // fold: the rest is a continuation of the same field
            line_bytes = 1;
            at_line_start = false;
          } else {
            line_bytes = 0;
            at_line_start = true;
          }
        }
        if (at_line_start && c == '.' && dot_stuffing) {
          x[n++] = '.';
          ++line_bytes;
        }
        x[n++] = c;
        ++line_bytes;
        at_line_start = false;
      }
      const size_t room = out_cap - o;
      if (n > room) {
        std::memcpy(out + o, x, room);
        o += room;
        owed_len_ = n - room;
        std::memcpy(owed_, x + room, owed_len_);
        break;  // in[i] stays unconsumed until its expansion is all written
      }
      std::memcpy(out + o, x, n);
      o += n;
      ++i;
      continue;
    }
    // A run of ordinary bytes, bounded by the input, the output room and
    // what is left of the line.
    const size_t in_left = in_size - i;
    const size_t out_left = out_cap - o;
    const size_t window = in_left < out_left ? in_left : out_left;
    const size_t line_left = kMaxLineBytes - line_bytes;  // >= 1 here
    const char* run = in + i;
    const char* lf = static_cast<const char*>(std::memchr(run, '\n', window));
    const size_t until_lf = lf != nullptr ? static_cast<size_t>(lf - run) : window;
    const char* cr = static_cast<const char*>(std::memchr(run, '\r', until_lf));
    size_t n;
    if (cr != nullptr && cr + 1 == lf && static_cast<size_t>(cr - run) <= line_left) {
      // The common case: the line ends in CRLF with no bare CR before it
      // and fits the limit. Copy it whole; lf lies inside the window.
      n = until_lf + 1;
      at_line_start = true;
      line_bytes = 0;
    } else {
      n = cr != nullptr ? static_cast<size_t>(cr - run) : until_lf;
      if (n > line_left) n = line_left;
      at_line_start = false;  // n >= 1: run[0] is neither CR nor LF
      line_bytes += n;
    }
    std::memcpy(out + o, run, n);
    i += n;
    o += n;
  }
  at_line_start_ = at_line_start;
  skip_lf_ = skip_lf;
  in_header_ = in_header;
  line_bytes_ = line_bytes;
  in_used = i;
  out_used = o;
}

size_t BodyEncoder::finish(char* out, size_t out_cap) {
  // Caller bug, not an operating error: the output could not be completed.
  if (out_cap < kMaxFinishBytes) std::abort();
  // So is finishing with input not yet consumed (half of a byte written).
  if (owed_len_ != 0) std::abort();
  size_t o = 0;
  if (!at_line_start_) {
    out[o++] = '\r';
    out[o++] = '\n';
  }
  out[o++] = '.';
  out[o++] = '\r';
  out[o++] = '\n';
  reset();
  return o;
}

size_t BodyEncoder::finish_chunk(char* out, size_t out_cap) {
  if (out_cap < 2 || owed_len_ != 0) std::abort();  // caller bugs, as in finish()
  size_t o = 0;
  if (!at_line_start_) {
    out[o++] = '\r';
    out[o++] = '\n';
  }
  reset();
  return o;
}

}  // namespace ringmail
