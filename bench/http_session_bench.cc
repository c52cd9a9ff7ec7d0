// Load-independent cost of one HTTP request through a real HttpProxy/HttpSession on 127.0.0.1:
// allocations per request (operator new counted on the proxy's I/O thread only) and, run under
// callgrind, instructions per request (the measured loop is the only instrumented part).
//
//   http_session_bench keepalive|close [REQUESTS] [--access-log FILE]
//   valgrind --tool=callgrind --instr-atstart=no --separate-threads=yes
//       build/bench/http_session_bench keepalive 2000   (one command line)
//     -> callgrind.out.PID-02 is the proxy's I/O thread (the pool is started before the origin);
//        its "summary" divided by REQUESTS is instructions per request.
//
// The policy and the requests are bench/http's: GET on /public/.* with Host origin\.test, wrk's
// request (`GET /public/index.html HTTP/1.1`, `Host: origin.test`, plus `Connection: close` in
// close mode), a 100-byte body with nginx's response fields. The client and the origin use
// plain system calls on fixed buffers, so every allocation counted is the proxy's.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>
#include <valgrind/callgrind.h>

#include <atomic>
#include <boost/asio/post.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <future>
#include <new>
#include <string>
#include <string_view>
#include <thread>

#include "policy/compiled_policy.h"
#include "proxy/access_log.h"
#include "proxy/http_proxy.h"
#include "tests/proxy/http_loopback.h"

namespace {

// ------------------------------------------------------------------ counting operator new
thread_local bool t_counted = false;  // set on the proxy's I/O thread
std::atomic<uint64_t> g_allocations{0};
std::atomic<bool> g_counting{false};

void* allocate(size_t size, size_t align) {
  if (t_counted && g_counting.load(std::memory_order_relaxed)) {
    g_allocations.fetch_add(1, std::memory_order_relaxed);
  }
  void* p = align > alignof(std::max_align_t) ? std::aligned_alloc(align, (size + align - 1) / align * align)
                                              : std::malloc(size == 0 ? 1 : size);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

}  // namespace

void* operator new(size_t size) { return allocate(size, 0); }
void* operator new[](size_t size) { return allocate(size, 0); }
void* operator new(size_t size, std::align_val_t a) { return allocate(size, static_cast<size_t>(a)); }
void* operator new[](size_t size, std::align_val_t a) {
  return allocate(size, static_cast<size_t>(a));
}
void* operator new(size_t size, const std::nothrow_t&) noexcept {
  try {
    return allocate(size, 0);
  } catch (...) {
    return nullptr;
  }
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t, std::align_val_t) noexcept { std::free(p); }

namespace {

using namespace portcullis;
using proxy::Tcp;

[[noreturn]] void die(const char* what) {
  std::perror(what);
  std::exit(1);
}

constexpr std::string_view kBody =
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";

std::string originResponse(bool close) {
  std::string r =
      "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Fri, 27 Nov 2026 08:00:00 GMT\r\n"
      "Content-Type: text/html\r\nContent-Length: 100\r\n"
      "Last-Modified: Fri, 27 Nov 2026 07:00:00 GMT\r\n";
  r += close ? "Connection: close\r\n" : "Connection: keep-alive\r\n";
  r += "ETag: \"6566c0f0-64\"\r\nAccept-Ranges: bytes\r\n\r\n";
  r += kBody;
  return r;
}

int listenLoopback(uint16_t& port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) die("bind");
  if (::listen(fd, 1024) != 0) die("listen");
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  port = ntohs(a.sin_port);
  return fd;
}

std::atomic<int> g_origin_fd{-1};  // the connection the origin serves, shut down at the end

// Serves one connection at a time (the client is sequential): answers each request head, and
// closes after answering one that asked for it.
void originLoop(int listener, std::string keep_response, std::string close_response) {
  char buf[8192];
  for (;;) {
    const int fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) return;
    g_origin_fd = fd;
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    size_t have = 0;
    for (bool open = true; open;) {
      const ssize_t n = ::recv(fd, buf + have, sizeof buf - have, 0);
      if (n <= 0) break;
      have += static_cast<size_t>(n);
      for (;;) {
        const std::string_view in(buf, have);
        const size_t end = in.find("\r\n\r\n");
        if (end == std::string_view::npos) break;
        const bool close = in.substr(0, end).find("Connection: close") != std::string_view::npos;
        const std::string& r = close ? close_response : keep_response;
        if (::send(fd, r.data(), r.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(r.size())) {
          open = false;
          break;
        }
        std::memmove(buf, buf + end + 4, have - end - 4);
        have -= end + 4;
        if (close) {
          open = false;
          break;
        }
      }
    }
    g_origin_fd = -1;
    ::close(fd);
  }
}

int connectTo(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) die("connect");
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

// Sends one request and reads its response: through the 100-byte body, or (close) to EOF.
// Returns the status, or 0 on failure.
int exchange(int fd, std::string_view request, bool until_eof) {
  if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size())) {
    return 0;
  }
  char buf[4096];
  size_t have = 0;
  for (;;) {
    const ssize_t n = ::recv(fd, buf + have, sizeof buf - have, 0);
    if (n < 0) return 0;
    if (n == 0) break;
    have += static_cast<size_t>(n);
    const std::string_view in(buf, have);
    const size_t end = in.find("\r\n\r\n");
    if (!until_eof && end != std::string_view::npos && have >= end + 4 + kBody.size()) break;
    if (have == sizeof buf) return 0;
  }
  if (have < 12) return 0;
  return std::atoi(buf + 9);
}

std::shared_ptr<const policy::CompiledPolicy> benchPolicy(uint16_t port) {
  policy::HttpRule entry = proxy::http_testing::httpEntry("GET", "/public/.*");
  entry.host = "origin\\.test";
  auto compiled = proxy::http_testing::httpPolicy(port, {entry}, "web-egress");
  if (!compiled) die("policy");
  return compiled;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s keepalive|close [REQUESTS] [--access-log FILE]\n", argv[0]);
    return 2;
  }
  const std::string_view load = argv[1];
  if (load != "keepalive" && load != "close") return 2;
  const bool close = load == "close";
  const int requests = argc > 2 && argv[2][0] != '-' ? std::atoi(argv[2]) : 2000;
  std::string access_log_path;
  for (int i = 2; i + 1 < argc; ++i) {
    if (std::string_view(argv[i]) == "--access-log") access_log_path = argv[i + 1];
  }

  uint16_t origin_port = 0;
  const int origin_listener = listenLoopback(origin_port);
  const Tcp::endpoint origin(boost::asio::ip::make_address("127.0.0.1"), origin_port);

  proxy::PolicyStore store(benchPolicy(origin_port));
  proxy::IoPool pool(1, proxy::IoPool::Model::kContextPerThread);
  proxy::HttpProxyOptions options =
      proxy::http_testing::loopbackOptions(origin, "portcullis-http-egress");
  if (!access_log_path.empty()) {
    auto log = proxy::AccessLog::open({.path = access_log_path});
    if (!log) die("access log");
    options.access_log = std::shared_ptr<proxy::AccessLog>(std::move(log).value());
    options.access_log->start();  // the writer thread, as the daemon starts it
  }
  proxy::HttpProxy http(pool, std::move(options), store);
  if (!http.start()) die("proxy start");
  // The pool's thread is created before the origin's, so callgrind numbers it 02.
  pool.start();
  std::promise<void> marked;
  boost::asio::post(pool.context(0), [&marked] {
    t_counted = true;
    marked.set_value();
  });
  marked.get_future().wait();
  std::thread origin_thread(originLoop, origin_listener, originResponse(false),
                            originResponse(true));

  const std::string request = std::string("GET /public/index.html HTTP/1.1\r\nHost: origin.test\r\n") +
                              (close ? "Connection: close\r\n" : "") + "\r\n";
  const uint16_t proxy_port = http.port();
  int keep_fd = close ? -1 : connectTo(proxy_port);
  auto one = [&]() -> bool {
    if (!close) return exchange(keep_fd, request, false) == 200;
    const int fd = connectTo(proxy_port);
    const int status = exchange(fd, request, true);
    ::close(fd);
    return status == 200;
  };
  // Warm-up: the first requests allocate what later ones reuse (buffers, DFA states, the policy).
  for (int i = 0; i < 50; ++i) {
    if (!one()) die("warm-up request failed");
  }

  g_allocations = 0;
  g_counting = true;
  const auto t0 = std::chrono::steady_clock::now();
  CALLGRIND_START_INSTRUMENTATION;
  for (int i = 0; i < requests; ++i) {
    if (!one()) {
      std::fprintf(stderr, "request %d failed\n", i);
      return 1;
    }
  }
  CALLGRIND_STOP_INSTRUMENTATION;
  const auto t1 = std::chrono::steady_clock::now();
  g_counting = false;
  const uint64_t allocations = g_allocations.load();

  if (keep_fd >= 0) ::close(keep_fd);
  std::printf(
      "load=%s requests=%d allocations=%llu allocations_per_request=%.2f wall_us_per_request=%.1f\n",
      std::string(load).c_str(), requests, static_cast<unsigned long long>(allocations),
      static_cast<double>(allocations) / requests,
      std::chrono::duration<double, std::micro>(t1 - t0).count() / requests);
  http.stopAccepting();
  ::shutdown(origin_listener, SHUT_RDWR);
  if (const int fd = g_origin_fd.load(); fd >= 0) ::shutdown(fd, SHUT_RDWR);
  ::close(origin_listener);
  pool.stop();
  pool.join();
  origin_thread.join();
  return 0;
}
