// tests/tools/malloc_counter.cc — an LD_PRELOAD library for tests: counts
// malloc/calloc/realloc/aligned allocations made by threads whose name
// starts with "ringmail-w" (the engine's workers) and prints the total to
// stderr at exit as "malloc_counter: worker allocations N". Used by
// tests/e2e/worker_allocations_test.sh to prove that workers do not
// allocate per message. Not linked into ringmail.
#include <dlfcn.h>
#include <pthread.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

namespace {

std::atomic<unsigned long> g_worker_allocations{0};
thread_local bool t_is_worker = false;

void count() {
  // A worker names itself after it starts, so the name is checked until it
  // matches (a syscall per allocation: fine for a test tool).
  if (!t_is_worker) {
    char name[16] = {0};
    pthread_getname_np(pthread_self(), name, sizeof(name));
    t_is_worker = std::strncmp(name, "ringmail-w", 10) == 0;
  }
  if (t_is_worker) g_worker_allocations.fetch_add(1, std::memory_order_relaxed);
}

template <class F>
F next(const char* name) {
  return reinterpret_cast<F>(dlsym(RTLD_NEXT, name));
}

struct Reporter {
  ~Reporter() {
    std::fprintf(stderr, "malloc_counter: worker allocations %lu\n", g_worker_allocations.load());
  }
} g_reporter;

}  // namespace

extern "C" {

void* malloc(size_t size) {
  static auto real = next<void* (*)(size_t)>("malloc");
  count();
  return real(size);
}

void* calloc(size_t n, size_t size) {
  // dlsym itself may calloc while we look calloc up: serve that one call
  // from a zeroed static buffer.
  static void* (*real)(size_t, size_t) = nullptr;
  static bool looking_up = false;
  static char early[4096];
  if (real == nullptr) {
    if (looking_up) return early;
    looking_up = true;
    real = next<void* (*)(size_t, size_t)>("calloc");
    looking_up = false;
  }
  count();
  return real(n, size);
}

void* realloc(void* p, size_t size) {
  static auto real = next<void* (*)(void*, size_t)>("realloc");
  count();
  return real(p, size);
}

int posix_memalign(void** out, size_t alignment, size_t size) {
  static auto real = next<int (*)(void**, size_t, size_t)>("posix_memalign");
  count();
  return real(out, alignment, size);
}

void* aligned_alloc(size_t alignment, size_t size) {
  static auto real = next<void* (*)(size_t, size_t)>("aligned_alloc");
  count();
  return real(alignment, size);
}

}  // extern "C"

// The allocator the engine links (mimalloc) defines operator new itself, so
// new/delete are counted here too, forwarding to malloc/free.
void* operator new(size_t size) {
  void* p = malloc(size);
  if (p == nullptr) std::abort();
  return p;
}
void* operator new[](size_t size) { return operator new(size); }
void* operator new(size_t size, std::align_val_t alignment) {
  void* p = nullptr;
  if (posix_memalign(&p, static_cast<size_t>(alignment), size) != 0) std::abort();
  return p;
}
void* operator new[](size_t size, std::align_val_t alignment) { return operator new(size, alignment); }
void operator delete(void* p) noexcept { free(p); }
void operator delete[](void* p) noexcept { free(p); }
void operator delete(void* p, size_t) noexcept { free(p); }
void operator delete[](void* p, size_t) noexcept { free(p); }
void operator delete(void* p, std::align_val_t) noexcept { free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { free(p); }
void operator delete(void* p, size_t, std::align_val_t) noexcept { free(p); }
void operator delete[](void* p, size_t, std::align_val_t) noexcept { free(p); }
