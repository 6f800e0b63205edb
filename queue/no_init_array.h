// queue/no_init_array.h — a fixed-size array whose elements are not written
// when it is made. For the big per-message tables (Envelope::recipients,
// MessageMeta::marks: 1,000 entries, 56 KiB together) that every engine
// message slot holds and that are only ever read below a count the parser
// sets: zero-filling them in the constructor made every slot's pages
// resident at once (~62 KiB a slot, 4 slots per connection), used or not;
// now only the pages actually written count (docs/performance.md,
// "Memory").
//
// Elements must be trivially copyable and destructible (string_view, plain
// structs of them): such objects begin to exist implicitly in the storage
// (C++20 implicit object creation). Reading an element before writing it is
// a caller bug, as reading past the count always was.
#pragma once

#include <cstddef>
#include <new>
#include <type_traits>

namespace ringmail {

template <class T, size_t N>
class NoInitArray {
  static_assert(std::is_trivially_copyable_v<T> && std::is_trivially_destructible_v<T>,
                "NoInitArray holds plain values only");

 public:
  NoInitArray() {}  // NOLINT: the storage is left unwritten on purpose

  T& operator[](size_t i) { return data()[i]; }
  const T& operator[](size_t i) const { return data()[i]; }
  static constexpr size_t size() { return N; }
  T* data() { return std::launder(reinterpret_cast<T*>(storage_)); }
  const T* data() const { return std::launder(reinterpret_cast<const T*>(storage_)); }

 private:
  alignas(T) unsigned char storage_[N * sizeof(T)];
};

}  // namespace ringmail
